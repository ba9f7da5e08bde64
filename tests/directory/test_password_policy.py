"""Lockstep's password policy (pure Python: these tests need no Django and no database)."""

from __future__ import annotations

import string
import time

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lockstep.directory.password_policy import (
    ALLOWED_CHARACTERS,
    LOCKSTEP_SUBSTITUTIONS,
    MICROSOFT_SUBSTITUTIONS,
    SYMBOLS,
    PasswordPolicy,
    PolicyViolation,
    banned_score,
    builtin_banned_terms,
    check_password,
    describe_policy,
    normalize,
)

CODES = {
    "too_short",
    "too_long",
    "too_few_classes",
    "invalid_character",
    "edge_space",
    "contains_name",
    "banned",
}
STRONG = "Xk9#mPq2"  # no banned term, 4 classes, 8 characters
TERM = "zebracorn"  # not in the built-in list; used as an organization's custom term
CUSTOM = PasswordPolicy(extra_banned_terms=(TERM,))


def codes(password: str, **kwargs: object) -> list[str]:
    return [v.code for v in check_password(password, **kwargs)]  # type: ignore[arg-type]


# --- the policy object: stricter allowed, looser refused -------------------------------------------


def test_defaults_are_microsofts() -> None:
    policy = PasswordPolicy()
    assert (policy.min_length, policy.max_length, policy.min_classes, policy.extra_banned_terms) == (
        8,
        256,
        3,
        (),
    )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_length": 7},
        {"min_length": 0},
        {"max_length": 257},
        {"min_classes": 2},
        {"min_classes": 5},
        {"min_length": 20, "max_length": 19},
        {"extra_banned_terms": ("abc",)},
        {"extra_banned_terms": ("   abc  ",)},
        {"extra_banned_terms": ("x" * 65,)},
        {"extra_banned_terms": tuple(f"term{i:04d}" for i in range(1001))},
    ],
)
def test_looser_or_invalid_policy_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        PasswordPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_length": True},
        {"min_length": "8"},
        {"extra_banned_terms": "contoso"},
        {"extra_banned_terms": (1234,)},
    ],
)
def test_wrong_types_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(TypeError):
        PasswordPolicy(**kwargs)  # type: ignore[arg-type]


def test_stricter_policy_is_accepted_and_terms_are_cleaned() -> None:
    policy = PasswordPolicy(
        min_length=12,
        max_length=64,
        min_classes=4,
        extra_banned_terms=[" widget ", "x" * 64] + ["abcd"] * 998,
    )  # type: ignore[arg-type]
    assert policy.extra_banned_terms[:2] == ("widget", "x" * 64)
    assert isinstance(policy.extra_banned_terms, tuple)
    hash(policy)  # frozen and hashable, so it can key caches


@given(min_length=st.integers(-10, 300), max_length=st.integers(-10, 300), min_classes=st.integers(-2, 8))
def test_policy_can_never_be_looser_than_microsofts(
    min_length: int, max_length: int, min_classes: int
) -> None:
    try:
        policy = PasswordPolicy(min_length=min_length, max_length=max_length, min_classes=min_classes)
    except ValueError:
        assert min_length < 8 or max_length > 256 or min_length > max_length or not 3 <= min_classes <= 4
    else:
        assert 8 <= policy.min_length <= policy.max_length <= 256
        assert 3 <= policy.min_classes <= 4


# --- length -----------------------------------------------------------------------------------------


def test_length_limits() -> None:
    assert codes(STRONG) == []
    assert codes(STRONG[:7]) == ["too_short"]
    assert codes((STRONG * 32)[:256]) == []
    assert codes((STRONG * 33)[:257]) == ["too_long"]


def test_organization_length_limits() -> None:
    policy = PasswordPolicy(min_length=12, max_length=16)
    assert codes(STRONG + "Zw4!", policy=policy) == []
    assert codes(STRONG + "Zw4", policy=policy) == ["too_short"]
    assert codes(STRONG * 2 + "Z", policy=policy) == ["too_long"]
    message = check_password("Xk9#", policy=policy)[0].message
    assert "12" in message and "characters" in message


def test_huge_input_is_refused_quickly_without_word_checks() -> None:
    started = time.perf_counter()
    assert codes("Password1" * 100_000) == ["too_long"]
    assert time.perf_counter() - started < 1


# --- character classes and allowed characters -------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("xkqmpwzr", False),  # lowercase only
        ("xkqmPWZR", False),  # two classes
        ("xkqm9274", False),
        ("xkqm pwz r", False),  # a space is allowed but is not a symbol
        ("xkqmPWZ9", True),
        ("xkqm#wz9", True),
        ("XKQM#WZ9", True),
        ("xkqmPWZ#", True),
    ],
)
def test_three_of_four_classes(password: str, ok: bool) -> None:
    assert ("too_few_classes" not in codes(password)) is ok


def test_four_classes_when_the_organization_asks() -> None:
    policy = PasswordPolicy(min_classes=4)
    assert codes("xkqmPWZ9", policy=policy) == ["too_few_classes"]
    assert "4" in check_password("xkqmPWZ9", policy=policy)[0].message
    assert codes("xkqmPW#9", policy=policy) == []


@pytest.mark.parametrize("symbol", list(SYMBOLS))
def test_every_allowed_symbol_counts_as_a_symbol(symbol: str) -> None:
    assert codes(f"xkqm{symbol}wz9") == []


def test_symbol_set_is_exactly_microsofts() -> None:
    assert set(SYMBOLS) == set("@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<>")
    # letters, digits, space and those 32 symbols: exactly printable ASCII
    assert frozenset(chr(code) for code in range(0x20, 0x7F)) == ALLOWED_CHARACTERS


@pytest.mark.parametrize("bad", ["é", "\t", "\n", "\x00", "€", "😀", "ß", "\u00a0", "\uff21"])
def test_unicode_and_control_characters_are_refused(bad: str) -> None:
    violations = check_password(f"Xk9#m{bad}Pq2")
    assert [v.code for v in violations] == ["invalid_character"]
    assert f"U+{ord(bad):04X}" in violations[0].message


def test_invalid_character_message_names_each_character_once_and_not_the_password() -> None:
    message = check_password("Sécret-Pässwørd-é-ä")[0].message
    assert "'é' (U+00E9)" in message and "'ä' (U+00E4)" in message and "'ø' (U+00F8)" in message
    assert message.count("U+00E9") == 1
    assert "Pässwørd" not in message and "cret" not in message
    many = check_password("Xk9#" + "àáâãäåæç")[0].message
    assert "and 3 more" in many


def test_leading_or_trailing_space_is_refused_inner_space_is_fine() -> None:
    assert codes(" Xk9#mPq2w") == ["edge_space"]
    assert codes("Xk9#mPq2w ") == ["edge_space"]
    assert codes("Xk9# mPq2w") == []


# --- banned words: Microsoft's normalisation ---------------------------------------------------------


def test_normalisation_is_microsofts_plus_documented_extras() -> None:
    assert MICROSOFT_SUBSTITUTIONS == {"0": "o", "1": "l", "$": "s", "@": "a"}
    assert set(LOCKSTEP_SUBSTITUTIONS) >= {"3", "4", "5", "7", "!"}
    assert normalize("P@$$W0RD1") == "passwordl"
    assert normalize("3457!") == "easti"


@pytest.mark.parametrize(
    "password", ["P@ssw0rd", "Passw0rd!", "p@$$w0rd1", "PASSWORD12", "Welcome1", "Qwerty123"]
)
def test_common_passwords_are_banned(password: str) -> None:
    assert "banned" in codes(password)


@pytest.mark.parametrize(
    "password",
    [
        "Zebrac0rn#1",  # 0 -> o
        "Zebracorn!2",  # plain
        "Zebr@corn#1",  # @ -> a
        "Zebrac0rn$#",  # 0 -> o
        "ZEBRACORN-1",
    ],
)
def test_microsoft_substitutions_are_caught(password: str) -> None:
    assert "banned" in codes(password, policy=CUSTOM)
    assert "banned" not in codes(password)  # the custom term is what does it


@pytest.mark.parametrize(
    ("term", "password"),
    [("helium", "He1ium#9X"), ("castle", "Ca$tle#9X"), ("lagoon", "L@goon#9X"), ("lagoon", "Lag00n#9X")],
)
def test_each_microsoft_substitution(term: str, password: str) -> None:
    assert "banned" in codes(password, policy=PasswordPolicy(extra_banned_terms=(term,)))
    assert "banned" not in codes(password)


@pytest.mark.parametrize(
    "variant",
    [
        "zebrakorn",  # substitution
        "zebrcorn",  # deletion
        "zebraacorn",  # insertion
        "xebracorn",  # first character
        "zebracorx",  # last character
        "ebracorn",  # first character deleted
        "zebracor",  # last character deleted
    ],
)
def test_edit_distance_one_variants_are_caught(variant: str) -> None:
    password = variant.capitalize() + "#9"
    assert "banned" in codes(password, policy=CUSTOM)
    assert "banned" not in codes(password)


def test_edit_distance_two_is_not_a_match() -> None:
    assert banned_score("zebxakorn", policy=CUSTOM) == 9
    assert codes("Zebxakorn#9", policy=CUSTOM) == []


def test_score_needs_five_points() -> None:
    # 1 point for the term (a fuzzy match may take in one neighbouring character) + 1 per other character
    assert banned_score("zebracorn", policy=CUSTOM) == 1
    assert banned_score("zebracornXQ", policy=CUSTOM) == 2
    assert codes("Zebracorn#QXk", policy=CUSTOM) == ["banned"]  # 1 + "qxk" = 4
    assert codes("Zebracorn#QXkw", policy=CUSTOM) == []  # 1 + "qxkw" = 5
    assert banned_score("") == 0
    assert banned_score("xkqmpwzr") == 8


def test_a_repeated_term_counts_once() -> None:
    # Microsoft does not say whether a repeated term scores again; Lockstep takes the stricter reading.
    assert banned_score("zebracornzebracornzebracorn", policy=CUSTOM) == 1
    # term + "q w" (x taken in by the match) + term (free) + "j v" + term (free) = 3, not 5
    assert banned_score("zebracornxqwzebracornkjvzebracorn", policy=CUSTOM) == 3
    assert codes("Zebracorn#Q7Zebracorn#K9Zebracorn", policy=CUSTOM) == ["banned"]


def test_overlapping_fuzzy_matches_of_one_term_may_count_as_one() -> None:
    # "xzebracorny": both "xzebracorn" and "zebracorny" match; taken together they cost 1 point.
    assert banned_score("xzebracorny", policy=CUSTOM) == 1


def test_several_terms_each_score_one_point() -> None:
    policy = PasswordPolicy(extra_banned_terms=("blank",))
    # contoso (built in) + blank (custom) + a few characters
    assert codes("C0ntos0Blank12", policy=policy) == ["banned"]
    assert codes("C0ntos0Blank12", policy=PasswordPolicy()) == []


def test_banned_message_does_not_reveal_the_term() -> None:
    (violation,) = check_password("Zebracorn#1", policy=CUSTOM)
    assert violation.code == "banned"
    assert "zebracorn" not in violation.message.lower()
    assert "common" in violation.message


def test_custom_terms_are_matched_case_insensitively_and_normalised() -> None:
    policy = PasswordPolicy(extra_banned_terms=("Widg3t",))
    assert "banned" in codes("WIDGET#12", policy=policy)


# --- names ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "kwargs"),
    [
        ("Marie#2024x", {"first_name": "Marie"}),
        ("xQ9#CURIE!", {"last_name": "Curie"}),
        ("mcurie#9X", {"username": "mcurie"}),
        ("Mcurie#9X", {"username": "MCurie@contoso.com"}),
        ("9X#marie.curie", {"email": "marie.curie@example.org"}),
        ("Q9#Contoso!x", {"organization_name": "Contoso Ltd"}),
        ("Q9#Fabr1kam!x", {"organization_name": "Fabrikam, Inc."}),
        ("Q9#chloe!xz", {"first_name": "Chloé"}),
        ("Q9#Van-Der-Berg", {"last_name": "van der Berg"}),
        ("Q9#vanderberg", {"last_name": "van der Berg"}),
        ("Bob#9xQ2w", {"username": "bob"}),
    ],
)
def test_names_are_refused(password: str, kwargs: dict[str, str]) -> None:
    assert "contains_name" in codes(password, **kwargs)
    assert "contains_name" not in codes(password)


def test_name_substitutions_are_caught() -> None:
    assert "contains_name" in codes("Q9#P@u1a!x", first_name="Paula")


def test_short_names_are_ignored_but_short_usernames_are_not() -> None:
    assert "contains_name" not in codes("Bob#9xQ2wkz", first_name="Bob")
    assert "contains_name" not in codes("Q9#Ltd!xkw", organization_name="Ltd")
    assert "contains_name" in codes("Bob#9xQ2wkz", username="bob")
    assert "contains_name" not in codes("Bo#9xQ2wkz", username="bo")


def test_name_message_says_which_name() -> None:
    (violation,) = [
        v for v in check_password("Marie#Curie9", first_name="Marie", last_name="Curie") if v.code != "banned"
    ]
    assert violation == PolicyViolation("contains_name", "Must not contain your first name or last name.")
    (org,) = [
        v for v in check_password("Q9#Contoso!x", organization_name="Contoso") if v.code == "contains_name"
    ]
    assert "organization" in org.message


def test_names_count_as_terms_in_the_score() -> None:
    assert banned_score("xkqmarie", first_name="Marie") == 4
    assert banned_score("xkqmarie") == 8


@given(
    name=st.text(alphabet=string.ascii_letters, min_size=4, max_size=12),
    suffix=st.sampled_from(["#9Xq", "!7Zw2", "-42Kk"]),
    data=st.data(),
)
def test_name_check_is_case_insensitive(name: str, suffix: str, data: st.DataObject) -> None:
    cased = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in name)
    assert "contains_name" in codes(cased + suffix, first_name=name)
    assert "contains_name" in codes(suffix + cased, last_name=name.upper())


# --- properties ----------------------------------------------------------------------------------------

allowed = st.sampled_from(sorted(ALLOWED_CHARACTERS))
some_text = st.text(alphabet=st.one_of(allowed, st.characters()), max_size=300)


@st.composite
def likely_strong(draw: st.DrawFn) -> str:
    """8 to 60 allowed characters with at least one of each class, shuffled: mostly accepted."""
    required = [draw(st.sampled_from(chars)) for chars in (string.ascii_lowercase, string.ascii_uppercase)]
    required += [draw(st.sampled_from(string.digits)), draw(st.sampled_from(SYMBOLS))]
    rest = draw(st.lists(allowed, min_size=4, max_size=56))
    return "".join(draw(st.permutations(required + rest)))


# Accepted passwords, near misses (edge lengths, three or two classes, edge spaces) and anything at all.
passwords = st.one_of(
    likely_strong(),
    st.text(alphabet=allowed, min_size=6, max_size=12),
    likely_strong().map(lambda p: p[:7]),
    likely_strong().map(lambda p: (p * 8)[:257]),
    some_text,
)


def test_any_accepted_password_meets_microsofts_rules() -> None:
    seen = {"accepted": 0, "refused": 0}

    @given(passwords)
    @settings(max_examples=300, database=None)
    def check(password: str) -> None:
        violations = check_password(password)
        assert all(isinstance(v, PolicyViolation) and v.code in CODES and v.message for v in violations)
        if violations:
            seen["refused"] += 1
            return
        seen["accepted"] += 1
        assert 8 <= len(password) <= 256
        assert set(password) <= ALLOWED_CHARACTERS
        classes = [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(c in SYMBOLS for c in password),
        ]
        assert sum(classes) >= 3
        assert banned_score(password) >= 5
        assert password == password.strip(" ")

    check()
    # The assertions above must have run: a strategy whose passwords are never accepted tests nothing.
    assert seen["accepted"] >= 30, seen
    assert seen["refused"] >= 30, seen


@given(st.text(alphabet=allowed, min_size=8, max_size=40), st.characters(min_codepoint=128), st.data())
def test_any_non_ascii_character_is_refused(password: str, bad: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(password)))
    assert "invalid_character" in codes(password[:at] + bad + password[at:])


def _disguise(term: str, data: st.DataObject) -> str:
    reverse = {"o": "0", "l": "1", "s": "$", "a": "@"}
    out = []
    for c in term:
        choices = [c, c.upper()] + ([reverse[c]] if c in reverse else [])
        out.append(data.draw(st.sampled_from(choices)))
    return "".join(out)


terms = st.text(alphabet=string.ascii_lowercase, min_size=5, max_size=16)
few_chars = st.text(alphabet=allowed, max_size=3)


@given(term=terms, before=few_chars, after=few_chars, data=st.data())
def test_a_banned_term_with_few_other_characters_is_refused(
    term: str, before: str, after: str, data: st.DataObject
) -> None:
    assume(len(before) + len(after) <= 3)
    policy = PasswordPolicy(extra_banned_terms=(term,))
    password = before + _disguise(term, data) + after
    assert banned_score(password, policy=policy) <= 4
    assert "banned" in codes(password, policy=policy)


@given(term=terms, extra=st.text(alphabet=allowed, max_size=2), data=st.data())
def test_any_single_edit_of_a_banned_term_is_refused(term: str, extra: str, data: st.DataObject) -> None:
    at = data.draw(st.integers(0, len(term) - 1))
    letter = data.draw(st.sampled_from(string.ascii_lowercase))
    variant = data.draw(
        st.sampled_from(
            [term[:at] + term[at + 1 :], term[:at] + letter + term[at + 1 :], term[:at] + letter + term[at:]]
        )
    )
    policy = PasswordPolicy(extra_banned_terms=(term,))
    assert "banned" in codes(variant + extra, policy=policy)


@given(some_text)
@settings(max_examples=100)
def test_checking_never_fails_and_is_deterministic(password: str) -> None:
    assert check_password(
        password, first_name=password[:6], organization_name=password[-5:]
    ) == check_password(password, first_name=password[:6], organization_name=password[-5:])


# --- the built-in list, descriptions, speed -----------------------------------------------------------------


def test_builtin_list_is_well_formed() -> None:
    terms = builtin_banned_terms()
    assert len(terms) >= 150
    assert {"password", "welcome", "qwerty", "letmein", "summer", "microsoft", "iloveyou"} <= terms
    for term in terms:
        assert term == term.strip().lower() and 4 <= len(term) <= 64 and not term.startswith("#"), term
        assert set(term) <= set(string.ascii_lowercase + string.digits), term


@pytest.mark.parametrize(
    "term", ["password", "welcome", "qwerty", "letmein", "summer", "winter", "microsoft"]
)
def test_builtin_terms_are_banned(term: str) -> None:
    assert "banned" in codes(term.capitalize() + "1!")


def test_describe_policy() -> None:
    lines = describe_policy(PasswordPolicy(min_length=10, max_length=128, min_classes=4))
    text = "\n".join(lines)
    assert all(isinstance(line, str) and line.endswith(".") for line in lines)
    assert "10 to 128 characters" in text and "at least 4 of these 4" in text
    assert SYMBOLS in text and "name" in text and "common password" in text
    custom = "\n".join(describe_policy(PasswordPolicy(extra_banned_terms=("widget",))))
    assert "8 to 256" in custom and "organization's own banned words" in custom and "widget" not in custom


def test_fast_on_long_passwords_with_a_full_custom_list() -> None:
    policy = PasswordPolicy(extra_banned_terms=tuple(f"{w}{i:03d}" for i, w in enumerate(["term"] * 1000)))
    password = ("Gr33n-Tea&Sunshine42" * 13)[:256]
    check_password(password, policy=policy)  # builds the index once
    started = time.perf_counter()
    for _ in range(10):
        check_password(password, policy=policy, first_name="Marie", organization_name="Contoso Ltd")
    assert (time.perf_counter() - started) / 10 < 0.05
