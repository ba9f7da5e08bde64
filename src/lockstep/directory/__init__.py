"""The core directory: organizations, administrators, users, groups, passwords, audit.

It never imports the Microsoft 365, SAML or portal packages; they subscribe to its events.
"""
