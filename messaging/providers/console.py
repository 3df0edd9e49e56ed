import json
import logging
import threading

from django.conf import settings
from django.utils import timezone

from messaging.providers.base import Lookup, OutgoingMessage, Provider, SendResult

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

    def lookup_many(
        self, messages: list[OutgoingMessage], *, known_ids: set[str] = frozenset()
    ) -> Lookup:
        """Scan the outbox once for all the given messages: a line carrying the message's
        console id means `send` got as far as writing it; the outbox is the whole record, so
        a message without a line was never sent."""
        wanted = {f"console-{message.ref}": message.ref for message in messages}
        result = Lookup()
        path = settings.MESSAGING_OUTBOX_PATH
        if wanted and path.exists():
            # No lock: lines are appended whole, and a stuck message is not being written now.
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        provider_id = json.loads(line).get("id")
                    except (ValueError, AttributeError):
                        # A line cut short by a crash mid-write is not a complete record.
                        continue
                    if provider_id in wanted:
                        result.found[wanted[provider_id]] = provider_id
        result.absent = {ref for ref in wanted.values() if ref not in result.found}
        return result
