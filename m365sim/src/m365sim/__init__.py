"""m365sim: a local Microsoft 365 tenant (Graph v1.0 + Entra token endpoint) over HTTPS on loopback."""

__version__ = "0.1.0"
