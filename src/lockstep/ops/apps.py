from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "lockstep.ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self) -> None:
        from django_tasks.signals import task_finished

        from lockstep.ops.logs import install_filters
        from lockstep.ops.metrics import count_finished_task

        install_filters()
        task_finished.connect(count_finished_task, dispatch_uid="lockstep.ops.count_finished_task")
