"""CSV import through the Admin Portal over HTTP: upload, preview, confirm, error rows, roles."""

from __future__ import annotations

from collections.abc import Callable

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from lockstep.directory.models import User
from lockstep.directory.user_csv import MAX_BYTES

MakeUser = Callable[..., User]


def upload(client: Client, data: bytes, name: str = "people.csv") -> object:
    return client.post(reverse("console:users_import"), {"file": SimpleUploadedFile(name, data, "text/csv")})


def test_upload_preview_confirm(admin_client: Client, make_user: MakeUser) -> None:
    make_user("adele", job_title="Clerk")
    data = (
        "Username;Company email;Job title\n"
        "zoe;zoe@contoso.com;Engineer\n"
        "adele;;Manager\n"
        'bad;bad@@contoso.com;=HYPERLINK("http://x")\n'
    ).encode("utf-8-sig")
    response = upload(admin_client, data)
    assert response.status_code == 302 and response["Location"] == reverse("console:users_import_preview")  # type: ignore[attr-defined]
    assert not User.objects.filter(username="zoe").exists()  # nothing written before confirm
    preview = admin_client.get(reverse("console:users_import_preview")).content.decode()
    assert "read as UTF-8, separated by semicolons" in preview
    assert "will create" in preview and "will update: job_title" in preview
    assert "error: email: Must be an email address with exactly one @." in preview
    assert 'name="expected" value="2,3"' in preview
    assert "Import 2 users (leave out 1 with errors)" in preview

    errors = admin_client.get(reverse("console:users_import_errors"))
    body = b"".join(errors.streaming_content).decode()  # type: ignore[attr-defined]
    assert body.splitlines()[0] == "username,email,job_title,error"
    assert "'=HYPERLINK" in body  # formula neutralised in the export

    done = admin_client.post(reverse("console:users_import_confirm"), {"expected": "2,3"})
    assert (
        done.status_code == 200
        and "Imported: 1 user created, 1 updated, 1 row with errors left out." in done.content.decode()
    )
    assert User.objects.get(username="zoe").job_title == "Engineer"
    assert User.objects.get(username="adele").job_title == "Manager"
    # The draft is gone: the preview sends back to the upload.
    assert admin_client.get(reverse("console:users_import_preview"))["Location"] == reverse(
        "console:users_import"
    )


def test_confirm_refuses_when_users_changed_since_the_preview(
    admin_client: Client, make_user: MakeUser
) -> None:
    upload(admin_client, b"username,email\nzoe,zoe@contoso.com\n")
    make_user("zoe")
    response = admin_client.post(reverse("console:users_import_confirm"), {"expected": "2"})
    assert response.status_code == 302
    page = admin_client.get(response["Location"]).content.decode()
    assert "nothing was imported" in page
    assert User.objects.count() == 1


def test_file_problems_beside_the_field(admin_client: Client) -> None:
    too_big = upload(admin_client, b"username,email\n" + b"x" * MAX_BYTES)
    assert too_big.status_code == 422 and "at most 1,048,576 bytes" in too_big.content.decode()  # type: ignore[attr-defined]
    unknown = upload(admin_client, b"username,email,shoe size\n")
    assert "Unknown column: shoe size" in unknown.content.decode()  # type: ignore[attr-defined]
    none = admin_client.post(reverse("console:users_import"), {})
    assert "Choose a CSV file." in none.content.decode()


def test_template_is_downloadable(admin_client: Client) -> None:
    response = admin_client.get(reverse("console:users_import_template"))
    assert b"".join(response.streaming_content).startswith(b"username,email,")  # type: ignore[attr-defined]


def test_read_only_admin_cannot_import(read_only_client: Client) -> None:
    assert read_only_client.get(reverse("console:users_import")).status_code == 403
    assert upload(read_only_client, b"username,email\nzoe,zoe@contoso.com\n").status_code == 403  # type: ignore[attr-defined]
    assert (
        read_only_client.post(reverse("console:users_import_confirm"), {"expected": "2"}).status_code == 403
    )
    assert not User.objects.exists()
