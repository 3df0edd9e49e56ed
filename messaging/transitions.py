"""How a message's status moves: conditional UPDATEs that only one caller can win.

Every move names the status it starts from; a second worker, a redelivered task or a late
report finds the message elsewhere and moves nothing. The domain hears of every move through
`hooks.message_status_changed`, once per batch of moves."""

from django.db import connection
from django.utils import timezone

from messaging import hooks
from messaging.models import Message, MessageStatus

FINAL_STATUSES = {
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.READ,
    MessageStatus.FAILED,
    MessageStatus.UNDELIVERED,
    MessageStatus.CANCELLED,
}

_CHUNK = 200


def messages_transition(
    rows: list[tuple[Message, dict]], *, from_status: str, to_status: str
) -> list[Message]:
    """Conditional status change of several messages: each row is a message and the fields to
    set with its new status (the same field names on every row). Only the messages still in
    `from_status` move, in one UPDATE per chunk; returns those — the caller's win — updated in
    memory. The domain hears of every move in one `message_status_changed` signal."""
    if not rows:
        return []
    names = sorted(rows[0][1])
    fields = [Message._meta.get_field(name) for name in names]
    status_field = Message._meta.get_field("status")
    quote = connection.ops.quote_name
    aliases = [f"c{i}" for i in range(len(fields))]
    assignments = ", ".join(
        [f"{quote(status_field.column)} = %s"]
        + [f"{quote(f.column)} = v.{alias}" for f, alias in zip(fields, aliases, strict=True)]
    )
    moved_ids: set[int] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            params: list = []
            for message, values in chunk:
                params.append(message.pk)
                params.extend(
                    field.get_db_prep_save(values[field.name], connection) for field in fields
                )
            row_sql = "(" + ", ".join(["%s"] * (len(fields) + 1)) + ")"
            cursor.execute(
                f"WITH v(k, {', '.join(aliases)}) AS (VALUES {', '.join([row_sql] * len(chunk))}) "
                f"UPDATE {quote(Message._meta.db_table)} AS m SET {assignments} FROM v "
                f"WHERE m.id = v.k AND m.{quote(status_field.column)} = %s RETURNING id",
                [*params, to_status, from_status],
            )
            moved_ids.update(row[0] for row in cursor.fetchall())
    return _moved(rows, moved_ids, to_status)


def _moved(rows: list[tuple[Message, dict]], moved_ids: set[int], to_status: str) -> list[Message]:
    moved, changes = [], []
    for message, values in rows:
        if message.pk not in moved_ids:
            continue
        changes.append((message, message.status, to_status))
        message.status = to_status
        for name, value in values.items():
            setattr(message, name, value)
        moved.append(message)
    if changes:
        hooks.message_status_changed.send(sender=Message, changes=changes)
    return moved


def message_transition(message: Message, *, from_status: str, to_status: str, **fields) -> bool:
    """Conditional status change of one message: true only for the caller that moved it."""
    return bool(
        messages_transition([(message, fields)], from_status=from_status, to_status=to_status)
    )


def messages_claim(messages: list[Message]) -> list[Message]:
    """queued → sending, counting the attempt, for the messages no one else claimed first."""
    if not messages:
        return []
    now = timezone.now()
    meta, quote = Message._meta, connection.ops.quote_name
    status, sending_at, attempts = (
        quote(meta.get_field(name).column) for name in ("status", "sending_at", "attempts")
    )
    prepared_now = meta.get_field("sending_at").get_db_prep_save(now, connection)
    moved_ids: set[int] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(messages), _CHUNK):
            ids = [message.pk for message in messages[start : start + _CHUNK]]
            cursor.execute(
                f"UPDATE {quote(meta.db_table)} SET {status} = %s, {sending_at} = %s, "
                f"{attempts} = {attempts} + 1 "
                f"WHERE id IN ({', '.join(['%s'] * len(ids))}) AND {status} = %s RETURNING id",
                [MessageStatus.SENDING, prepared_now, *ids, MessageStatus.QUEUED],
            )
            moved_ids.update(row[0] for row in cursor.fetchall())
    for message in messages:
        if message.pk in moved_ids:
            message.attempts += 1
    return _moved(
        [(message, {"sending_at": now}) for message in messages], moved_ids, MessageStatus.SENDING
    )
