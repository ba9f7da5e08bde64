"""Admin Portal: server-rendered pages with HTMX."""
