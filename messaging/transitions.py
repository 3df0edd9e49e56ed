"""How a message's status moves: conditional UPDATEs that only one caller can win.

Every move names the status it starts from; a second worker, a redelivered task or a late
report finds the message elsewhere and moves nothing. The domain hears of every move through
`hooks.message_status_changed`, once per batch of moves."""

from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

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
        + [
            f"{quote(f.column)} = {_typed(f, f'v.{alias}')}"
            for f, alias in zip(fields, aliases, strict=True)
        ]
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


def _typed(field, expression: str) -> str:
    """A VALUES column as the field's type: PostgreSQL types a column of only NULLs as text."""
    if connection.vendor == "postgresql":
        return f"CAST({expression} AS {field.db_type(connection)})"
    return expression


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


def messages_claim(
    messages: list[Message],
    *,
    tenant=None,
    accounts: dict[int, tuple[str, int | None, str]] | None = None,
) -> list[Message]:
    """queued → sending, counting the attempt, for the messages no one else claimed first and
    that the domain still lets leave.

    One conditional UPDATE per chunk: the message must still be `queued` and, when the domain
    registered one (`hooks.claim_condition`), match its condition (invoice still open, not
    disputed or paused, the customer still on the channel…) — read by the same statement, so a
    payment committed before the claim stops the message even if the pre-check missed it.
    `accounts` gives each message's provider kind, the tenant's account id it is claimed for
    and the credentials' `account_key` (recorded on the message, for reconciliation)."""
    if not messages:
        return []
    accounts = accounts or {}
    now = timezone.now()
    meta, quote = Message._meta, connection.ops.quote_name
    status, sending_at, attempts, provider, account, key = (
        quote(meta.get_field(name).column)
        for name in (
            "status",
            "sending_at",
            "attempts",
            "provider",
            "provider_account",
            "provider_account_key",
        )
    )
    not_before = quote(meta.get_field("retry_not_before").column)
    prepared_now = meta.get_field("sending_at").get_db_prep_save(now, connection)
    moved_ids: set[int] = set()
    with connection.cursor() as cursor:
        for start in range(0, len(messages), _CHUNK):
            chunk = messages[start : start + _CHUNK]
            params: list = []
            for message in chunk:
                kind, account_id, account_key = accounts.get(message.pk, ("", None, ""))
                params.extend([message.pk, kind or message.provider or "", account_id, account_key])
            values = ", ".join(["(%s, %s, %s, %s)"] * len(chunk))
            condition_sql, condition_params = _claim_condition_sql(tenant, [m.pk for m in chunk])
            cursor.execute(
                f"WITH v(k, p, a, h) AS (VALUES {values}) "
                f"UPDATE {quote(meta.db_table)} AS m SET {status} = %s, {sending_at} = %s, "
                f"{attempts} = {attempts} + 1, {provider} = v.p, "
                f"{account} = CAST(v.a AS BIGINT), {key} = v.h "
                f"FROM v WHERE m.id = v.k AND m.{status} = %s "
                f"AND (m.{not_before} IS NULL OR m.{not_before} <= %s){condition_sql} "
                "RETURNING id",
                [
                    *params,
                    MessageStatus.SENDING,
                    prepared_now,
                    MessageStatus.QUEUED,
                    prepared_now,
                    *condition_params,
                ],
            )
            moved_ids.update(row[0] for row in cursor.fetchall())
    rows = []
    for message in messages:
        kind, account_id, account_key = accounts.get(message.pk, ("", None, ""))
        if message.pk in moved_ids:
            message.attempts += 1
        rows.append(
            (
                message,
                {
                    "sending_at": now,
                    "provider": kind or message.provider,
                    "provider_account_id": account_id,
                    "provider_account_key": account_key,
                },
            )
        )
    return _moved(rows, moved_ids, MessageStatus.SENDING)


def _claim_condition_sql(tenant, ids: list[int]) -> tuple[str, list]:
    """` AND m.id IN (<those of `ids` the domain lets leave>)`, or nothing."""
    if tenant is None:
        return "", []
    with scopes_disabled():
        condition = hooks.claim_condition(tenant)
        if condition is None:
            return "", []
        allowed = Message.objects.filter(pk__in=ids).filter(condition).values("pk")
        sql, params = allowed.query.get_compiler(connection=connection).as_sql()
    return f" AND m.id IN ({sql})", list(params)


def messages_keep_rendered(rows: list[tuple[Message, str, str]]) -> None:
    """Write each claimed message's rendered subject and body before its provider call (one
    UPDATE per chunk, no status change): a send interrupted by a crash is reconciled with the
    text the provider got, not one rendered later with other amounts."""
    meta, quote = Message._meta, connection.ops.quote_name
    subject, body, status = (quote(meta.get_field(n).column) for n in ("subject", "body", "status"))
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            params = [value for row in chunk for value in (row[0].pk, row[1], row[2])]
            values = ", ".join(["(%s, %s, %s)"] * len(chunk))
            cursor.execute(
                f"WITH v(k, s, b) AS (VALUES {values}) "
                f"UPDATE {quote(meta.db_table)} AS m SET {subject} = v.s, {body} = v.b "
                f"FROM v WHERE m.id = v.k AND m.{status} = %s",
                [*params, MessageStatus.SENDING],
            )
