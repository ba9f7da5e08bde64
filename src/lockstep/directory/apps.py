from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def _repair_search_index(*, using: str = "default", **_: Any) -> None:
    from lockstep.directory import search_index

    search_index.install(connections[using])


class DirectoryConfig(AppConfig):
    name = "lockstep.directory"
    label = "directory"
    verbose_name = "Directory"

    def ready(self) -> None:
        # SQLite rebuilds a table to alter it and drops its triggers: put the search index's back.
        post_migrate.connect(_repair_search_index, sender=self, dispatch_uid="lockstep-search-index")
