"""Entra password policy for cloud accounts (graph-facts §1.2)."""

from __future__ import annotations

import string

SYMBOLS = set("@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<> ")
ALLOWED = set(string.ascii_letters) | set(string.digits) | SYMBOLS
SUBST = str.maketrans({"0": "o", "1": "l", "$": "s", "@": "a"})


def _within_one(a: str, b: str) -> bool:
    """Levenshtein distance(a, b) <= 1."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


def _mark(norm: str, covered: list[bool], term: str, fuzzy: bool) -> int:
    """Mark every non-overlapping occurrence of ``term`` (within edit distance 1 if fuzzy)."""
    found = 0
    sizes = (len(term), len(term) - 1, len(term) + 1) if fuzzy else (len(term),)
    i = 0
    while i < len(norm):
        for size in sizes:
            window = norm[i : i + size]
            if size <= 0 or len(window) < size or any(covered[i : i + size]):
                continue
            if window == term or (fuzzy and _within_one(window, term)):
                for j in range(i, i + size):
                    covered[j] = True
                found += 1
                i += size - 1
                break
        i += 1
    return found


def banned_score(password: str, banned: list[str], names: list[str]) -> int:
    """Entra Password Protection score: 1 point per banned term found, 1 per other character.

    The password is lower-cased and normalised (0->o 1->l $->s @->a); banned terms match within
    edit distance 1; the user's names and the tenant name (4+ chars) match as substrings.
    """
    norm = password.lower().translate(SUBST)
    covered = [False] * len(norm)
    found = 0
    for term in sorted({t.lower() for t in banned if len(t) >= 3}, key=len, reverse=True):
        found += _mark(norm, covered, term, fuzzy=True)
    for name in sorted(
        {n.lower().translate(SUBST) for n in names if n and len(n) >= 4}, key=len, reverse=True
    ):
        found += _mark(norm, covered, name, fuzzy=False)
    return found + covered.count(False)


def check(password: str, strong: bool, banned: list[str], names: list[str], username: str) -> str | None:
    """None if acceptable, else 'complexity' or 'username' (which error message to use)."""
    if any(ch not in ALLOWED for ch in password) or len(password) > 256:
        return "complexity"
    if len(password) < 8:
        return "complexity"
    if not strong:
        return None
    classes = sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(c in SYMBOLS for c in password),
        ]
    )
    if classes < 3:
        return "complexity"
    if username and len(username) >= 3 and username.lower() in password.lower():
        return "username"
    if banned_score(password, banned, names) < 5:
        return "complexity"
    return None
