from django.apps import AppConfig


class M365Config(AppConfig):
    name = "lockstep.m365"
    label = "m365"
    verbose_name = "Microsoft 365"

    def ready(self) -> None:
        from lockstep.m365 import health, subscribers, sync_loop
        from lockstep.ops import background

        subscribers.connect()
        health.register_metrics()
        # Every worker process (and `lockstep run`'s embedded worker) runs the sync loop.
        background.register_service(
            "m365-sync", lambda worker_id, stop: sync_loop.SyncLoop(worker=worker_id, stop=stop)
        )
