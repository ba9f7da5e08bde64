from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "lockstep.directory"
    label = "directory"
    verbose_name = "Directory"
