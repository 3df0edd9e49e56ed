import json
import logging
import threading

from django.conf import settings
from django.utils import timezone

from .base import OutgoingMessage, Provider, SendResult

logger = logging.getLogger("regua.outbox")
_lock = threading.Lock()


class ConsoleProvider(Provider):
    """Development and demo provider: nothing leaves the machine. Each message is logged and
    appended as one JSON line to the outbox file (MESSAGING_OUTBOX_PATH)."""

    kind = "console"

    def send(self, message: OutgoingMessage) -> SendResult:
        provider_id = f"console-{message.ref}"
        record = {
            "id": provider_id,
            "at": timezone.now().isoformat(),
            "channel": message.channel,
            "to": message.recipient,
            "from": message.sender,
            "subject": message.subject,
            "body": message.body,
        }
        logger.info("outbox %s to %s: %s", message.channel, message.recipient, message.subject)
        path = settings.MESSAGING_OUTBOX_PATH
        path.parent.mkdir(parents=True, exist_ok=True)
        with _lock, open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        return SendResult(provider_message_id=provider_id)
