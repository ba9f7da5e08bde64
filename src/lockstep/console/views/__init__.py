"""Admin Portal views, one module per area. Views check form shape and call services."""
