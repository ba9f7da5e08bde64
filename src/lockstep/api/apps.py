from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "lockstep.api"
    label = "api"
