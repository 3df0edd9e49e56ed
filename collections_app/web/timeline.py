"""The timeline as the invoice and customer pages show it: each message once, with the text
it carried (subject and body as sent) and its delivery states folded under it, instead of one
row per status change; every other entry in words, never codes (`labels`)."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from collections_app.models import Customer, Interaction, InteractionKind, Invoice
from collections_app.web.labels import (
    channel_label,
    interaction_text,
    message_error_text,
    message_event_label,
    message_status_label,
    reason_label,
)
from messaging.models import Message, MessagePurpose, MessageStatus
from messaging.upkeep import STUCK_AFTER_SECONDS

FOLDED = {InteractionKind.MESSAGE, InteractionKind.MESSAGE_STATUS}
ENDED = {MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.CANCELLED}


@dataclass
class MessageState:
    status: str
    label: str
    at: datetime | None
    note: str = ""
    event: bool = False  # a retry, a reconciliation or a person's check, not a plain state


@dataclass
class TimelineEntry:
    occurred_at: datetime
    kind: str
    kind_label: str
    text: str = ""
    actor: Any = None
    interaction: Interaction | None = None
    message: Message | None = None
    channel: str = ""
    purpose: str = ""
    template: str = ""
    status: str = ""
    status_label: str = ""
    states: list[MessageState] = field(default_factory=list)

    @property
    def is_message(self) -> bool:
        return self.message is not None


def _events(message: Message, interactions: list[Interaction]) -> list[MessageState]:
    """The moves of the message told in words on their own: retries with their reason,
    reconciliations after an interrupted send, a person's check at the provider (with who)."""
    events = []
    for i in interactions:
        data = i.data or {}
        if i.kind != InteractionKind.MESSAGE_STATUS or not data.get("to"):
            continue
        old, new = data.get("from", ""), data["to"]
        late = (
            new == MessageStatus.SENT
            and message.sent_at is not None
            and (i.occurred_at - message.sent_at).total_seconds() >= STUCK_AFTER_SECONDS
        )
        label = message_event_label(
            old=old, new=new, by_person=bool(data.get("by_person")), late=late
        )
        if not label:
            continue
        if data.get("by_person"):
            note = str(i.actor) if i.actor_id else ""
        elif new == MessageStatus.QUEUED:
            note = message_error_text(data.get("error", ""))
        elif new == MessageStatus.UNKNOWN:
            note = message_error_text(data.get("error", "") or message.error)
        else:
            note = ""
        events.append(MessageState(new, label, i.occurred_at, note, event=True))
    return events


def _states(message: Message, interactions: list[Interaction] = ()) -> list[MessageState]:
    """Queued → sent → delivered → read, each with its time, then how it ended if it did; the
    retries and reconciliations (`_events`) in their place in time."""
    queued = MessageStatus.QUEUED
    states = [MessageState(queued, message_status_label(queued), message.created_at)]
    for status, at in (
        (MessageStatus.SENT, message.sent_at),
        (MessageStatus.DELIVERED, message.delivered_at),
        (MessageStatus.READ, message.read_at),
    ):
        if at is not None:
            states.append(MessageState(status, message_status_label(status), at))
    if message.status in ENDED:
        note = message_error_text(message.error)
        if message.status == MessageStatus.CANCELLED:
            note = reason_label(message.error)  # cancellations store a reason code
        states.append(
            MessageState(
                message.status,
                message_status_label(message.status),
                message.failed_at or message.updated_at,
                note,
            )
        )
    events = _events(message, list(interactions))
    if events:
        # Stable: at one time, the event (why) after the state it explains.
        states = sorted(states + events, key=lambda s: s.at or message.created_at)
    return states


def _message_entry(message: Message, interactions: list[Interaction]) -> TimelineEntry:
    first = min(interactions, key=lambda i: (i.occurred_at, i.pk or 0), default=None)
    # Who queued it by hand, if someone did (a person's later check shows in its states).
    actor = next(
        (i.actor for i in interactions if i.actor_id and i.kind == InteractionKind.MESSAGE), None
    )
    template = message.template
    return TimelineEntry(
        occurred_at=message.sent_at or (first.occurred_at if first else message.created_at),
        kind=InteractionKind.MESSAGE,
        kind_label=str(InteractionKind.MESSAGE.label),
        actor=actor,
        interaction=first,
        message=message,
        channel=channel_label(message.channel),
        purpose=str(MessagePurpose(message.purpose).label)
        if message.purpose in MessagePurpose.values
        else "",
        template=(template.name or template.key) if template is not None else "",
        status=message.status,
        status_label=message_status_label(message.status),
        states=_states(message, interactions),
    )


def _in_flight(owner) -> QuerySet[Message]:
    """The owner's (an invoice's or a customer's) messages still queued or being sent: they
    have no timeline row until they leave, yet the team should see what is about to go."""
    if isinstance(owner, Invoice):
        links = Q(invoice_links__invoice=owner)
    elif isinstance(owner, Customer):
        links = Q(invoice_links__invoice__customer=owner)
    else:
        return Message.objects.none()
    return (
        Message.objects.filter(links, status__in=[MessageStatus.QUEUED, MessageStatus.SENDING])
        .select_related("template")
        .distinct()
    )


def timeline_entries(interactions, owner=None) -> list[TimelineEntry]:
    """The entries for `interactions` (newest first): the message ones folded into one entry
    per message, read with its template in one query; with `owner` (the invoice or customer
    of the page), its messages not sent yet too. Must run inside the tenant's scope."""
    interactions = list(interactions)
    by_message: dict[int, list[Interaction]] = {}
    for i in interactions:
        if i.kind in FOLDED and i.message_id:
            by_message.setdefault(i.message_id, []).append(i)
    messages = {
        m.pk: m for m in Message.objects.filter(pk__in=by_message).select_related("template")
    }
    entries: list[TimelineEntry] = [
        _message_entry(m, []) for m in _in_flight(owner)[:50] if m.pk not in messages
    ]
    done: set[int] = set()
    for i in interactions:
        message = messages.get(i.message_id) if i.kind in FOLDED else None
        if message is not None:
            if message.pk not in done:
                done.add(message.pk)
                entries.append(_message_entry(message, by_message[message.pk]))
            continue
        entries.append(
            TimelineEntry(
                occurred_at=i.occurred_at,
                kind=i.kind,
                kind_label=i.get_kind_display(),
                text=interaction_text(i),
                actor=i.actor if i.actor_id else None,
                interaction=i,
            )
        )
    # A message sits at the time it was sent, which may differ from its first row's.
    entries.sort(key=lambda e: e.occurred_at, reverse=True)
    return entries
