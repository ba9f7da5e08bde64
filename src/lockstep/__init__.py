"""Lockstep: a self-hosted cloud directory that manages Microsoft 365 accounts."""

__version__ = "0.1.0"
