"""The word checks of the password policy (`password_policy`): normalisation, the banned-term
index, the names worth looking for, and Password Protection's score.

Performance: the term list is indexed once per distinct custom list. A term of length L can lie within
edit distance 1 of a window only if the window begins with the term's first L//2 characters or ends
with its other characters (one edit cannot touch both halves), so each password position costs a few
dictionary lookups per distinct half-length, and only candidates are compared, on windows of length
L-1, L and L+1. Passwords longer than the maximum length are refused without the word checks.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from types import MappingProxyType
from typing import Final

NAME_TERM_MIN_LENGTH: Final = 4
ACCOUNT_NAME_MIN_LENGTH: Final = 3

MICROSOFT_SUBSTITUTIONS: Final = MappingProxyType({"0": "o", "1": "l", "$": "s", "@": "a"})
"""Documented by Microsoft for Password Protection's normalisation step."""

LOCKSTEP_SUBSTITUTIONS: Final = MappingProxyType(
    {"3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "!": "i", "|": "l"}
)
"""Lockstep's additional look-alike substitutions: stricter than Microsoft, never looser."""

LOCKSTEP_ALTERNATIVE_SUBSTITUTIONS: Final = MappingProxyType({"1": "i"})
"""Lockstep also reads the password a second time with these (1 is as often an i as an l)."""

_TRANSLATION: Final = str.maketrans({**MICROSOFT_SUBSTITUTIONS, **LOCKSTEP_SUBSTITUTIONS})
_ALTERNATIVE_TRANSLATION: Final = str.maketrans(
    {**MICROSOFT_SUBSTITUTIONS, **LOCKSTEP_SUBSTITUTIONS, **LOCKSTEP_ALTERNATIVE_SUBSTITUTIONS}
)
_BANNED_LIST_PATH: Final = Path(__file__).with_name("data") / "banned_passwords.txt"
_NAME_SEPARATORS: Final = re.compile(r"[^0-9a-z]+")


def normalize(text: str) -> str:
    """Lower-case, then substitute look-alike characters (Microsoft's and Lockstep's)."""
    return text.lower().translate(_TRANSLATION)


def password_readings(password: str) -> tuple[str, ...]:
    """The normalised password, and its alternative reading when that differs (same length)."""
    lowered = password.lower()
    first, second = lowered.translate(_TRANSLATION), lowered.translate(_ALTERNATIVE_TRANSLATION)
    return (first,) if first == second else (first, second)


@functools.cache
def builtin_banned_terms() -> frozenset[str]:
    """Lockstep's global banned list (data/banned_passwords.txt), as written (lowercase)."""
    terms = set()
    for line in _BANNED_LIST_PATH.read_text(encoding="utf-8").splitlines():
        term = line.strip()
        if term and not term.startswith("#"):
            terms.add(term)
    return frozenset(terms)


def _within_one_edit(window: str, term: str) -> bool:
    """True when the Levenshtein distance between window and term is at most 1."""
    lw, lt = len(window), len(term)
    if lw == lt:
        for i in range(lw):
            if window[i] != term[i]:
                return window[i + 1 :] == term[i + 1 :]
        return True
    if lw == lt + 1:
        longer, shorter = window, term
    elif lt == lw + 1:
        longer, shorter = term, window
    else:
        return False
    for i in range(len(shorter)):
        if longer[i] != shorter[i]:
            return longer[i + 1 :] == shorter[i:]
    return True


class _TermIndex:
    """Banned terms indexed by their first half and by their other half."""

    __slots__ = ("prefixes", "suffixes")

    def __init__(self, terms: Iterable[str]) -> None:
        prefixes: dict[int, dict[str, list[str]]] = {}
        suffixes: dict[int, dict[str, list[str]]] = {}
        for term in terms:
            half = len(term) // 2
            prefixes.setdefault(half, {}).setdefault(term[:half], []).append(term)
            suffixes.setdefault(len(term) - half, {}).setdefault(term[half:], []).append(term)
        self.prefixes = tuple(
            (size, {k: tuple(v) for k, v in table.items()}) for size, table in prefixes.items()
        )
        self.suffixes = tuple(
            (size, {k: tuple(v) for k, v in table.items()}) for size, table in suffixes.items()
        )

    def matches(self, text: str) -> set[tuple[int, int, str]]:
        """Every (start, end, term) where text[start:end] is within edit distance 1 of a term."""
        n = len(text)
        found: set[tuple[int, int, str]] = set()
        for size, table in self.prefixes:
            for start in range(n - size + 1):
                for term in table.get(text[start : start + size], ()):
                    for length in (len(term) - 1, len(term), len(term) + 1):
                        end = start + length
                        if end <= n and _within_one_edit(text[start:end], term):
                            found.add((start, end, term))
        for size, table in self.suffixes:
            for end in range(size, n + 1):
                for term in table.get(text[end - size : end], ()):
                    for length in (len(term) - 1, len(term), len(term) + 1):
                        start = end - length
                        if start >= 0 and _within_one_edit(text[start:end], term):
                            found.add((start, end, term))
        return found


@functools.lru_cache(maxsize=64)
def _index_for(extra_terms: tuple[str, ...]) -> _TermIndex:
    terms = {normalize(term) for term in builtin_banned_terms()}
    terms.update(normalize(term) for term in extra_terms)
    return _TermIndex(terms)


def _fold(text: str) -> str:
    """Case-fold and drop accents, so "Zoë" is looked for as "zoe"."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _local_part(value: str) -> str:
    return value.rpartition("@")[0] if "@" in value else value


def name_terms(
    *, first_name: str, last_name: str, username: str, email: str, organization_name: str
) -> list[tuple[str, str]]:
    """(normalised term, what it is) for every personal or organization name worth looking for."""
    sources = (
        ("first name", first_name, NAME_TERM_MIN_LENGTH),
        ("last name", last_name, NAME_TERM_MIN_LENGTH),
        ("username", _local_part(username), ACCOUNT_NAME_MIN_LENGTH),
        ("email address", _local_part(email), ACCOUNT_NAME_MIN_LENGTH),
        ("organization's name", organization_name, NAME_TERM_MIN_LENGTH),
    )
    terms: list[tuple[str, str]] = []
    for kind, value, whole_minimum in sources:
        folded = _fold(value or "").strip()
        if not folded:
            continue
        words = [w for w in _NAME_SEPARATORS.split(folded) if w]
        candidates = {(folded, whole_minimum), ("".join(words), whole_minimum)}
        candidates.update((word, NAME_TERM_MIN_LENGTH) for word in words)
        for candidate, minimum in candidates:
            if len(candidate) >= minimum:
                terms.append((normalize(candidate), kind))
    return terms


def _find_all(text: str, term: str) -> list[tuple[int, int]]:
    spans = []
    start = text.find(term)
    while start != -1:
        spans.append((start, start + len(term)))
        start = text.find(term, start + 1)
    return spans


def lowest_score(length: int, matches: Iterable[tuple[int, int, str]]) -> int:
    """The lowest score any reading of Microsoft's rule gives (1 point per term, 1 per other character).

    Readings differ on which of a term's overlapping fuzzy matches count and whether a repeated term
    counts again, so: a term's overlapping matches may also be taken together as one (their union);
    the term's first such group costs 1 point, any later group that starts after it ends costs 0; matches
    of different terms may overlap. best[i] is the lowest score of text[:i]; a match [start, end)
    extends any prefix that ends inside it: best[end] <= cost + min(best[start:end]).
    """
    by_term: dict[str, list[tuple[int, int]]] = {}
    for start, end, term in matches:
        by_term.setdefault(term, []).append((start, end))
    ending_at: dict[int, list[tuple[int, int]]] = {}
    for spans in by_term.values():
        spans.sort()
        groups: list[list[int]] = []
        for start, end in spans:
            if groups and start < groups[-1][1]:
                groups[-1][1] = max(groups[-1][1], end)
            else:
                groups.append([start, end])
        first_end = groups[0][1]
        for start, end in spans + [(g[0], g[1]) for g in groups]:
            ending_at.setdefault(end, []).append((start, 0 if start >= first_end else 1))
    best = [0] * (length + 1)
    for end in range(1, length + 1):
        score = best[end - 1] + 1
        for start, cost in ending_at.get(end, ()):
            score = min(score, cost + min(best[start:end]))
        best[end] = score
    return best[length]


def all_matches(
    readings: tuple[str, ...], extra_terms: tuple[str, ...], names: list[tuple[str, str]]
) -> set[tuple[int, int, str]]:
    """Every (start, end, term) where a banned term (fuzzily) or a name (exactly) lies in a reading."""
    index = _index_for(extra_terms)
    matches: set[tuple[int, int, str]] = set()
    for reading in readings:
        matches |= index.matches(reading)
        for term, _kind in names:
            # The "\0" prefix keeps a name apart from a banned term spelled the same way.
            matches.update((start, end, "\0" + term) for start, end in _find_all(reading, term))
    return matches
