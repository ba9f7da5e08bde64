from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "lockstep.mail"
    label = "mail"
    verbose_name = "Email"

    def ready(self) -> None:
        from lockstep.mail import metrics

        metrics.register_metrics()
