"""The versioned REST API; each resource's router lives in its own module."""

from ninja import NinjaAPI

api = NinjaAPI(title="Lockstep API", version="1", urls_namespace="api")
