from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        # imported here: the task module imports models, so it can only load once the apps
        # are ready. Loading it registers messaging's tasks in every process, not only in a
        # worker that discovers them: `messaging.enqueue` sends them by name.
        from messaging import hooks, tasks  # noqa: F401  (tasks: registered by loading)
        from messaging.outcome_log import status_changes_log

        def _on_status(sender, changes, **kwargs):
            status_changes_log(changes=changes)

        hooks.message_status_changed.connect(_on_status, weak=False, dispatch_uid="outcome_log")
