from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "lockstep.ops"
    label = "ops"
