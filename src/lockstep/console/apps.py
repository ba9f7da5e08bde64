from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "lockstep.console"
    label = "console"
