"""CSV import of users: reading the file (limits, encodings, delimiters) and the per-row plan."""

from __future__ import annotations

import codecs

import pytest

from lockstep.directory.actors import Actor
from lockstep.directory.errors import Conflict, PermissionDenied, ValidationFailed
from lockstep.directory.models import AuditEvent, User
from lockstep.directory.services import user_import, users
from lockstep.directory.user_csv import MAX_BYTES, MAX_ROWS, parse

HEADER = "username,email,first_name,last_name,job_title\n"


def rows_csv(count: int) -> bytes:
    return (HEADER + "".join(f"u{n:05d},u{n:05d}@contoso.com,U,Ser,\n" for n in range(count))).encode()


def file_problem(data: bytes) -> str:
    with pytest.raises(ValidationFailed) as failed:
        parse(data)
    return failed.value.errors["file"][0]


def test_row_limit_at_the_limit_passes_one_beyond_is_refused() -> None:
    assert len(parse(rows_csv(MAX_ROWS)).rows) == MAX_ROWS
    assert f"more than {MAX_ROWS:,} users" in file_problem(rows_csv(MAX_ROWS + 1))


def test_byte_limit_at_the_limit_passes_one_beyond_is_refused() -> None:
    lines = [f"u{n},u{n}@contoso.com,U,Ser," for n in range(10)]
    room = MAX_BYTES - len(HEADER) - sum(len(line) + 1 for line in lines)
    pads = [room // 10 + (1 if n < room % 10 else 0) for n in range(10)]
    exact = (HEADER + "".join(f"{line}{'x' * pad}\n" for line, pad in zip(lines, pads, strict=True))).encode()
    assert len(exact) == MAX_BYTES
    assert len(parse(exact).rows) == 10
    assert "at most 1,048,576 bytes" in file_problem(exact + b"\n")


@pytest.mark.parametrize(
    ("data", "encoding", "delimiter"),
    [
        (codecs.BOM_UTF8 + "username;email;last_name\nzoe;zoe@contoso.com;Müller\n".encode(), "UTF-8", ";"),
        ("username\temail\tlast_name\nzoe\tzoe@contoso.com\tMüller\n".encode("utf-16"), "UTF-16", "\t"),
        ("username,email,last_name\r\nzoe,zoe@contoso.com,Müller\r\n".encode("cp1252"), "Windows-1252", ","),
    ],
)
def test_encodings_and_delimiters(data: bytes, encoding: str, delimiter: str) -> None:
    parsed = parse(data)
    assert (parsed.encoding, parsed.delimiter) == (encoding, delimiter)
    assert parsed.rows[0].values == {"username": "zoe", "email": "zoe@contoso.com", "last_name": "Müller"}


def test_labels_export_columns_and_protected_cells() -> None:
    data = b"Username,Company email,Job title,Business phone,immutable_id,created_at\nzoe,zoe@contoso.com,'=Boss,'+49 30 1,abc,2026\n"
    parsed = parse(data)
    assert parsed.ignored == ["immutable_id", "created_at"]
    assert parsed.rows[0].values == {
        "username": "zoe",
        "email": "zoe@contoso.com",
        "job_title": "=Boss",
        "business_phone": "+49 30 1",
    }


def test_whole_file_problems_are_named() -> None:
    assert "Unknown column: shoe size" in file_problem(b"username,email,shoe size\n")
    assert "needs the column email" in file_problem(b"username,first_name\nzoe,Zoe\n")
    assert "appears twice" in file_problem(b"username,email,Company email\n")
    assert "no users" in file_problem(b"username,email\n\n")
    assert "not a text file" in file_problem(b"username,email\n\x00\x01")
    assert "empty" in file_problem(b"  \n")


def test_plan_statuses_per_row(actor: Actor) -> None:
    users.create_user(
        actor=actor, fields={"username": "Adele", "email": "adele@contoso.com", "job_title": "Clerk"}
    )
    users.create_user(actor=actor, fields={"username": "megan", "email": "megan@contoso.com"})
    users.create_user(actor=actor, fields={"username": "lynne", "email": "lynne@contoso.com"})
    data = (
        "username,email,job_title,usage_location\n"
        "newbie,newbie@contoso.com,Engineer,US\n"  # line 2: create
        "adele,,Manager,\n"  # line 3: update (empty cells leave values)
        "megan,megan@contoso.com,,\n"  # line 4: unchanged
        "bad,bad@@contoso.com,,XX\n"  # line 5: two errors
        "thief,lynne@contoso.com,,\n"  # line 6: email of another user
        "NEWBIE,other@contoso.com,,\n"  # line 7: username again in the file
        "toolong,long@contoso.com," + "x" * 129 + ",\n"  # line 8: job title too long
    ).encode()
    plan = user_import.plan_import(actor=actor, rows=parse(data).rows)
    by_line = {row.line: row for row in plan.rows}
    assert by_line[2].status == "create" and by_line[2].changes["display_name"] == "newbie"
    assert by_line[3].status == "update" and by_line[3].changes == {"job_title": "Manager"}
    assert by_line[4].status == "unchanged"
    assert by_line[5].status == "error"
    assert any(e.startswith("email: Must be an email address with exactly one @") for e in by_line[5].errors)
    assert any(e.startswith("usage_location: 'XX' is not an ISO 3166-1") for e in by_line[5].errors)
    assert by_line[6].errors == ["email: A user with the company email 'lynne@contoso.com' already exists."]
    assert by_line[7].errors == ["username: Also in line 2 of this file."]
    assert by_line[8].errors == ["job_title: Must be at most 128 characters."]
    assert plan.written_lines == [2, 3]


def test_confirm_writes_the_valid_rows_with_audit_rows(actor: Actor) -> None:
    users.create_user(actor=actor, fields={"username": "adele", "email": "adele@contoso.com"})
    rows = parse(
        b"username,email,job_title,state\nzoe,zoe@contoso.com,Engineer,active\nadele,,Manager,\nbad,nope,,\n"
    ).rows
    result = user_import.apply_import(actor=actor, rows=rows, expected_lines=[2, 3])
    zoe = User.objects.get(username="zoe")
    assert (zoe.state, zoe.job_title, len(zoe.immutable_id)) == ("active", "Engineer", 32)
    assert User.objects.get(username="adele").job_title == "Manager"
    assert (len(result.created), len(result.updated), result.errors) == (1, 1, 1)
    assert AuditEvent.objects.filter(action="user.create", target_label="zoe").count() == 1
    assert AuditEvent.objects.filter(action="user.update", target_label="adele").get().after == {
        "job_title": "Manager"
    }
    assert not User.objects.filter(username="bad").exists()


def test_nothing_is_written_when_users_changed_since_the_preview(actor: Actor) -> None:
    rows = parse(b"username,email\nzoe,zoe@contoso.com\nyan,yan@contoso.com\n").rows
    preview = user_import.plan_import(actor=actor, rows=rows)
    users.create_user(actor=actor, fields={"username": "someone", "email": "yan@contoso.com"})
    with pytest.raises(Conflict):
        user_import.apply_import(actor=actor, rows=rows, expected_lines=preview.written_lines)
    assert not User.objects.filter(username__in=["zoe", "yan"]).exists()


def test_read_only_admin_cannot_import(read_only_actor: Actor) -> None:
    rows = parse(b"username,email\nzoe,zoe@contoso.com\n").rows
    with pytest.raises(PermissionDenied):
        user_import.apply_import(actor=read_only_actor, rows=rows, expected_lines=[2])
    assert not User.objects.exists()
