"""Signed-in admins for tests: a session past both sign-in steps, and TOTP codes."""

from __future__ import annotations

import time

import pyotp
from django.test import Client

from lockstep.directory.models import Administrator
from lockstep.directory.services import admins


def signed_in_client(admin: Administrator) -> Client:
    """A Django test client signed in as `admin` with the second step (MFA) passed."""
    client = Client()
    client.force_login(admin)
    session = client.session
    session["mfa_passed"] = True
    session.save()
    return client


def enrol_totp(admin: Administrator) -> str:
    """Enrol `admin` in TOTP through the service; returns the secret an authenticator app holds."""
    secret = admins.begin_totp_enrolment(admin)
    admins.confirm_totp_enrolment(admin=admin, secret=secret, code=pyotp.TOTP(secret).now())
    admin.refresh_from_db()
    return secret


def next_totp_code(secret: str, admin: Administrator) -> str:
    """The current code, or the next step's when the current one was already used (replay protection)."""
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(max(int(time.time()) // totp.interval, admin.totp_last_counter + 1))
