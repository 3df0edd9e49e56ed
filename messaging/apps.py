from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        # imported here: the task module imports models, so it can only load once the apps
        # are ready. Loading it registers messaging's tasks in every process, not only in a
        # worker that discovers them: `messaging.enqueue` sends them by name.
        from messaging import tasks  # noqa: F401
