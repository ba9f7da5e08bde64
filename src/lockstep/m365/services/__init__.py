"""Microsoft 365 services: the only code that changes integration state."""
