"""Graph v1.0 handlers. ``core`` holds the request/response types and the dispatcher."""
