"""Lockstep's password policy: Microsoft's cloud password policy, never looser.

Lockstep is the password authority for Microsoft 365 accounts, so a password it accepts must never be
refused by Microsoft 365. This module implements Microsoft Entra ID's policy for cloud accounts
(../shared/reference/graph-facts.md section 1.2) and is stricter wherever Microsoft's behaviour is not
documented precisely. It is pure Python: no Django, no I/O after the banned list is first read.

Rules (codes are stable; messages are plain words for people):

``too_short`` / ``too_long``
    8 to 256 characters (an organization may raise the minimum or lower the maximum).
``too_few_classes``
    At least 3 of: lowercase a-z, uppercase A-Z, digits 0-9, symbols. A space is allowed but is not
    counted as a symbol (stricter: Microsoft does not say whether it counts).
``invalid_character``
    Only A-Z, a-z, 0-9, the symbols in :data:`SYMBOLS` and space. Anything else (accented letters,
    other Unicode, tabs, control characters) is refused; the message names the characters.
``edge_space``
    Lockstep's own rule: no space at the beginning or end, because forms and clients commonly trim
    them and the password Microsoft 365 receives would then differ from the one the user typed.
``contains_name``
    The password contains the user's first name, last name, username or email name, or the
    organization's name (each word of 4 or more characters, compared after normalisation). The whole
    username and email name are checked from 3 characters, as Active Directory does for account
    names (stricter: Entra answers "Password cannot contain username" without saying how it decides).
``banned``
    Microsoft's banned-password evaluation (Entra Password Protection):

    1. Normalise: lower-case, then substitute characters. Microsoft's substitutions are
       :data:`MICROSOFT_SUBSTITUTIONS` (0->o, 1->l, $->s, @->a). Lockstep adds
       :data:`LOCKSTEP_SUBSTITUTIONS` (3->e, 4->a, 5->s, 7->t, 8->b, !->i, |->l). A character mapping
       applied to both sides can only shorten edit distances, so the extras find every match
       Microsoft's normalisation finds, and more. The password is also read a second time with 1->i
       (:data:`LOCKSTEP_ALTERNATIVE_SUBSTITUTIONS`); matches from either reading count.
    2. Fuzzy-match every banned term (Lockstep's list plus the organization's) within edit distance 1
       (one substitution, insertion or deletion) against every part of the normalised password.
    3. Substring-match the personal and organization names as above.
    4. Score: 1 point per banned term found, 1 point per other character. Fewer than 5 points is
       refused. Where Microsoft's counting is ambiguous Lockstep takes the lowest score any reading
       gives: matches may overlap, and a term found more than once is counted once (only its leftmost
       occurrence costs a point; later ones are free).

Performance: the term list is indexed once per distinct custom list. A term of length L can lie within
edit distance 1 of a window only if the window begins with the term's first L//2 characters or ends
with its other characters (one edit cannot touch both halves), so each password position costs a few
dictionary lookups per distinct half-length, and only candidates are compared, on windows of length
L-1, L and L+1. Passwords longer than the maximum length are refused without the word checks.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Final

__all__ = [
    "ALLOWED_CHARACTERS",
    "LOCKSTEP_ALTERNATIVE_SUBSTITUTIONS",
    "LOCKSTEP_SUBSTITUTIONS",
    "MICROSOFT_SUBSTITUTIONS",
    "SYMBOLS",
    "PasswordPolicy",
    "PolicyViolation",
    "banned_score",
    "builtin_banned_terms",
    "check_password",
    "describe_policy",
    "normalize",
]

# Microsoft's limits (graph-facts.md section 1.2). An organization may be stricter, never looser.
MICROSOFT_MIN_LENGTH: Final = 8
MICROSOFT_MAX_LENGTH: Final = 256
MICROSOFT_MIN_CLASSES: Final = 3
CHARACTER_CLASSES: Final = 4
MIN_SCORE: Final = 5
MAX_EXTRA_TERMS: Final = 1000
EXTRA_TERM_MIN_LENGTH: Final = 4
EXTRA_TERM_MAX_LENGTH: Final = 64
NAME_TERM_MIN_LENGTH: Final = 4
ACCOUNT_NAME_MIN_LENGTH: Final = 3

SYMBOLS: Final = "@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<>"
"""The symbols Microsoft allows, each counted in the "symbols" class. Space is allowed too."""

ALLOWED_CHARACTERS: Final = frozenset(string.ascii_letters + string.digits + SYMBOLS + " ")

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
_SHOWN_CHARACTERS: Final = 5


@dataclass(frozen=True)
class PolicyViolation:
    """One rule a password breaks."""

    code: str
    """Stable machine code: too_short, too_long, too_few_classes, invalid_character, edge_space,
    contains_name or banned."""
    message: str
    """The rule in plain words, for people."""


@dataclass(frozen=True)
class PasswordPolicy:
    """An organization's password policy. It can be made stricter than Microsoft's, never looser.

    Raises ValueError (or TypeError for a wrong type) naming the problem when constructed with values
    looser than Microsoft's or outside the limits.
    """

    min_length: int = MICROSOFT_MIN_LENGTH
    max_length: int = MICROSOFT_MAX_LENGTH
    min_classes: int = MICROSOFT_MIN_CLASSES
    extra_banned_terms: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for field in ("min_length", "max_length", "min_classes"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{field} must be a whole number.")
        if self.min_length < MICROSOFT_MIN_LENGTH:
            raise ValueError(
                f"The minimum length must be at least {MICROSOFT_MIN_LENGTH} (Microsoft's minimum)."
            )
        if self.max_length > MICROSOFT_MAX_LENGTH:
            raise ValueError(
                f"The maximum length must be at most {MICROSOFT_MAX_LENGTH} (Microsoft's maximum)."
            )
        if self.min_length > self.max_length:
            raise ValueError(
                f"The minimum length ({self.min_length}) must not be greater than the maximum ({self.max_length})."
            )
        if not MICROSOFT_MIN_CLASSES <= self.min_classes <= CHARACTER_CLASSES:
            raise ValueError(
                f"The number of required character kinds must be {MICROSOFT_MIN_CLASSES} (Microsoft's minimum) "
                f"or {CHARACTER_CLASSES}."
            )
        object.__setattr__(self, "extra_banned_terms", _validated_terms(self.extra_banned_terms))


def _validated_terms(terms: Iterable[str]) -> tuple[str, ...]:
    if isinstance(terms, str | bytes):
        raise TypeError("The banned terms must be a list of terms, not a single string.")
    cleaned: list[str] = []
    for term in terms:
        if not isinstance(term, str):
            raise TypeError("Each banned term must be text.")
        stripped = term.strip()
        if not EXTRA_TERM_MIN_LENGTH <= len(stripped) <= EXTRA_TERM_MAX_LENGTH:
            shown = stripped if len(stripped) <= 20 else stripped[:20] + "..."
            raise ValueError(
                f"Each banned term must be {EXTRA_TERM_MIN_LENGTH} to {EXTRA_TERM_MAX_LENGTH} characters long "
                f"({shown!r} has {len(stripped)})."
            )
        cleaned.append(stripped)
    if len(cleaned) > MAX_EXTRA_TERMS:
        raise ValueError(f"At most {MAX_EXTRA_TERMS} banned terms are allowed ({len(cleaned)} given).")
    return tuple(cleaned)


def normalize(text: str) -> str:
    """Lower-case, then substitute look-alike characters (Microsoft's and Lockstep's)."""
    return text.lower().translate(_TRANSLATION)


def _readings(password: str) -> tuple[str, ...]:
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


def _name_terms(
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


def _lowest_score(length: int, matches: Iterable[tuple[int, int, str]]) -> int:
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


def banned_score(
    password: str,
    *,
    policy: PasswordPolicy | None = None,
    first_name: str = "",
    last_name: str = "",
    username: str = "",
    email: str = "",
    organization_name: str = "",
) -> int:
    """Password Protection's score for the password (it needs at least 5 points)."""
    policy = policy or PasswordPolicy()
    readings = _readings(password)
    names = _name_terms(
        first_name=first_name,
        last_name=last_name,
        username=username,
        email=email,
        organization_name=organization_name,
    )
    return _lowest_score(len(readings[0]), _all_matches(readings, policy, names))


def _all_matches(
    readings: tuple[str, ...], policy: PasswordPolicy, names: list[tuple[str, str]]
) -> set[tuple[int, int, str]]:
    index = _index_for(policy.extra_banned_terms)
    matches: set[tuple[int, int, str]] = set()
    for reading in readings:
        matches |= index.matches(reading)
        for term, _kind in names:
            # The "\0" prefix keeps a name apart from a banned term spelled the same way.
            matches.update((start, end, "\0" + term) for start, end in _find_all(reading, term))
    return matches


def _show_character(char: str) -> str:
    code = f"U+{ord(char):04X}"
    if char.isprintable() and not char.isspace():
        return f"'{char}' ({code})"
    name = unicodedata.name(char, "")
    return f"{name.lower()} ({code})" if name else code


def _class_count(password: str) -> int:
    return (
        any(c in string.ascii_lowercase for c in password)
        + any(c in string.ascii_uppercase for c in password)
        + any(c in string.digits for c in password)
        + any(c in SYMBOLS for c in password)
    )


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def check_password(
    password: str,
    *,
    policy: PasswordPolicy = PasswordPolicy(),
    first_name: str = "",
    last_name: str = "",
    username: str = "",
    email: str = "",
    organization_name: str = "",
) -> list[PolicyViolation]:
    """Every rule the password breaks (empty list = acceptable)."""
    violations: list[PolicyViolation] = []
    if len(password) < policy.min_length:
        violations.append(
            PolicyViolation("too_short", f"Must be at least {policy.min_length} characters long.")
        )
    if len(password) > policy.max_length:
        violations.append(
            PolicyViolation("too_long", f"Must be at most {policy.max_length} characters long.")
        )

    invalid = list(dict.fromkeys(c for c in password if c not in ALLOWED_CHARACTERS))
    if invalid:
        shown = ", ".join(_show_character(c) for c in invalid[:_SHOWN_CHARACTERS])
        if len(invalid) > _SHOWN_CHARACTERS:
            shown += f" and {len(invalid) - _SHOWN_CHARACTERS} more"
        violations.append(
            PolicyViolation(
                "invalid_character",
                "May contain only letters A-Z and a-z, digits, spaces and the symbols "
                f"{SYMBOLS}; not allowed: {shown}.",
            )
        )

    classes = _class_count(password)
    if classes < policy.min_classes:
        violations.append(
            PolicyViolation(
                "too_few_classes",
                f"Must contain at least {policy.min_classes} of these 4 kinds of character: lowercase letters, "
                f"uppercase letters, digits, symbols (it has {classes}).",
            )
        )

    if password[:1] == " " or password[-1:] == " ":
        violations.append(PolicyViolation("edge_space", "Must not begin or end with a space."))

    if len(password) > policy.max_length:
        return violations  # already refused; don't spend time on word checks of arbitrarily long input

    readings = _readings(password)
    names = _name_terms(
        first_name=first_name,
        last_name=last_name,
        username=username,
        email=email,
        organization_name=organization_name,
    )
    found_kinds = list(
        dict.fromkeys(kind for term, kind in names if any(term in reading for reading in readings))
    )
    if found_kinds:
        violations.append(PolicyViolation("contains_name", f"Must not contain your {_join(found_kinds)}."))

    if _lowest_score(len(readings[0]), _all_matches(readings, policy, names)) < MIN_SCORE:
        violations.append(
            PolicyViolation(
                "banned",
                "Must not be a common password or close to one, or built mostly from common words or names "
                "(swaps such as 0 for o or @ for a don't count); add more unrelated characters or words.",
            )
        )
    return violations


def describe_policy(policy: PasswordPolicy) -> list[str]:
    """The rules in plain words, for forms and API documentation."""
    organization_terms = " and the organization's own banned words" if policy.extra_banned_terms else ""
    return [
        f"Must be {policy.min_length} to {policy.max_length} characters long.",
        f"Must contain at least {policy.min_classes} of these 4 kinds of character: lowercase letters (a-z), "
        "uppercase letters (A-Z), digits (0-9), symbols.",
        f"May contain only letters A-Z and a-z, digits, spaces and the symbols {SYMBOLS}; no accented letters "
        "or other characters.",
        "Must not begin or end with a space.",
        "Must not contain your first name, last name, username or email name, or the organization's name.",
        "Must not be a common password or close to one, or built mostly from common words"
        f"{organization_terms}; swaps such as 0 for o or @ for a don't count.",
    ]
