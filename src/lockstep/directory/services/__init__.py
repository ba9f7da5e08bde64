"""Services: the only code that changes directory state.

Each is a typed, keyword-only function that validates, checks the caller's permission and
organization, writes the audit row and commits atomically; events go out after commit.
"""
