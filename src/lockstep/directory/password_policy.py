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

The word checks (normalisation, the banned list, names, the score) are in `password_words`.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from lockstep.directory.password_words import (
    LOCKSTEP_ALTERNATIVE_SUBSTITUTIONS,
    LOCKSTEP_SUBSTITUTIONS,
    MICROSOFT_SUBSTITUTIONS,
    all_matches,
    builtin_banned_terms,
    lowest_score,
    name_terms,
    normalize,
    password_readings,
)

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

SYMBOLS: Final = "@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<>"
"""The symbols Microsoft allows, each counted in the "symbols" class. Space is allowed too."""

ALLOWED_CHARACTERS: Final = frozenset(string.ascii_letters + string.digits + SYMBOLS + " ")

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
    readings = password_readings(password)
    names = name_terms(
        first_name=first_name,
        last_name=last_name,
        username=username,
        email=email,
        organization_name=organization_name,
    )
    return lowest_score(len(readings[0]), all_matches(readings, policy.extra_banned_terms, names))


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

    readings = password_readings(password)
    names = name_terms(
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

    if lowest_score(len(readings[0]), all_matches(readings, policy.extra_banned_terms, names)) < MIN_SCORE:
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
