from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "lockstep.mail"
    label = "mail"
    verbose_name = "Email"
