"""User Portal services: emailed links, invitations, sign-in readiness, the emails they send."""
