from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "lockstep.portal"
    label = "portal"
    verbose_name = "User Portal"

    def ready(self) -> None:
        from lockstep.portal import subscribers

        subscribers.connect()
