"""The Microsoft 365 integration: the Graph client (`graph`), reconciliation and sync."""
