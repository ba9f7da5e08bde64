from django.apps import AppConfig


class M365Config(AppConfig):
    name = "lockstep.m365"
    label = "m365"
    verbose_name = "Microsoft 365"

    def ready(self) -> None:
        from lockstep.m365 import health, subscribers

        subscribers.connect()
        health.register_metrics()
