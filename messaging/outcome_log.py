"""Log lines an operator can alert on, from the status moves themselves
(`hooks.message_status_changed`): a send whose outcome at the provider is unknown, or one
settled as failed because it could not be confirmed (a duplicate was possible), is an ERROR;
a reconciliation that found the message, or queued it again after the provider confirmed it
absent, is INFO or WARNING. A transient provider error's retry is logged where it happens
(`messaging.sending`), at WARNING."""

import logging

from messaging.models import MessageStatus

logger = logging.getLogger("messaging.outcomes")


def status_changes_log(*, changes) -> None:
    for message, old, new in changes:
        if new == MessageStatus.UNKNOWN:
            logger.error(
                "message %s of tenant %s: outcome at the provider unknown, not resent; "
                "reconciliation will ask the provider: %s",
                message.pk,
                message.tenant_id,
                message.error or "no detail",
            )
        elif new == MessageStatus.FAILED and old == MessageStatus.UNKNOWN:
            logger.error(
                "message %s of tenant %s: interrupted send not confirmed at the provider, "
                "marked failed to avoid a duplicate; a person should check: %s",
                message.pk,
                message.tenant_id,
                message.error or "no detail",
            )
        elif old == MessageStatus.UNKNOWN and new == MessageStatus.QUEUED:
            logger.warning(
                "message %s of tenant %s: absent at the provider, queued to be sent once more",
                message.pk,
                message.tenant_id,
            )
        elif old == MessageStatus.UNKNOWN and new == MessageStatus.SENT:
            logger.info(
                "message %s of tenant %s: found at the provider after an interrupted send",
                message.pk,
                message.tenant_id,
            )
