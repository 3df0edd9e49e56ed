from django.apps import AppConfig


class CollectionsConfig(AppConfig):
    name = "collections_app"
    verbose_name = "Collections"

    def ready(self) -> None:
        # imported here: the app registry must be ready before modules that use models load.
        from collections_app import tasks  # noqa: F401  (registers the tasks enqueue.py names)
        from collections_app.activity.inbound import inbound_handle
        from collections_app.activity.messages import (
            contact_refused_record,
            message_check_task_create,
            messages_status_log,
        )
        from collections_app.activity.timeline import message_resolution_log
        from collections_app.engine import defaults  # noqa: F401  (connects tenant_created)
        from collections_app.engine.message_context import (
            VARIABLES,
            message_cancel_reason,
            message_claim_condition,
            message_context,
            messages_prefetch,
            preview_context,
        )
        from collections_app.payments.after_payment import PAYMENT_FOLLOW_UPS
        from collections_app.payments.services import payment_follow_ups_register
        from messaging import hooks

        # What follows a recorded payment, in order (see payments/after_payment.py).
        payment_follow_ups_register(PAYMENT_FOLLOW_UPS)

        hooks.register(
            context_provider=message_context,
            send_guard=message_cancel_reason,
            variables=VARIABLES,
            prefetch=messages_prefetch,
            preview_provider=preview_context,
            claim_condition=message_claim_condition,
        )

        def _on_status(sender, changes, **kwargs):
            messages_status_log(changes=changes)

        hooks.message_status_changed.connect(_on_status, weak=False, dispatch_uid="timeline")

        def _on_resolved(sender, message, actor, from_status, to_status, **kwargs):
            message_resolution_log(
                message=message, actor=actor, from_status=from_status, to_status=to_status
            )

        hooks.message_resolved.connect(_on_resolved, weak=False, dispatch_uid="timeline_resolved")

        def _on_refused(sender, message, reason, opt_out, **kwargs):
            contact_refused_record(message=message, reason=reason, opt_out=opt_out)

        hooks.contact_refused.connect(_on_refused, weak=False, dispatch_uid="contact_refused")

        def _on_needs_attention(sender, message, reason, **kwargs):
            message_check_task_create(message=message, reason=reason)

        hooks.message_needs_attention.connect(
            _on_needs_attention, weak=False, dispatch_uid="message_check_task"
        )

        def _on_inbound(sender, inbound, **kwargs):
            inbound_handle(inbound=inbound)

        hooks.inbound_received.connect(_on_inbound, weak=False, dispatch_uid="inbound")
