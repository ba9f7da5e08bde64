"""Admin Portal pages for Microsoft 365 directories, mounted at /directories/."""
