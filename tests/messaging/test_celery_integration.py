"""A real Celery worker process on Redis follows a message from the daily evaluation task to
`sent`, calling the provider exactly once."""

import json
import re
import time
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_scopes import scopes_disabled

from bench.management.commands.bench_import import csv_rows
from collections_app import tasks
from collections_app.models import Dispatch, ImportJob, ImportStatus, Invoice
from collections_app.tasks import ladders_evaluate_batch
from messaging.models import Message, MessageStatus
from messaging.tasks import send_message
from tenants.models import Role
from tests.collections_app.factories import InvoiceFactory
from tests.tenants.factories import MembershipFactory, TenantFactory
from tests.workers import (
    Publisher,
    new_queue,
    require_worker_services,
    start_worker,
    wait_for,
)

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DAY = date(2026, 12, 2)


@pytest.fixture
def worker(tmp_path):
    require_worker_services()
    queue = new_queue()
    outbox = tmp_path / "outbox.jsonl"
    proc = start_worker(queue=queue, log_dir=tmp_path, env={"MESSAGING_OUTBOX_PATH": str(outbox)})
    publish = Publisher(queue=queue)
    try:
        yield {"proc": proc.proc, "outbox": outbox, "log": proc, "publish": publish}
    finally:
        proc.stop()
        publish.close()


def test_worker_on_redis_takes_a_message_from_evaluation_to_sent(worker):

    tenant = TenantFactory(slug="integration")
    invoice = InvoiceFactory(tenant=tenant, due_date=DAY, amount="321.00")
    # The daily evaluation task, as beat's tick queues it, runs in the worker and queues the
    # send through the fan-out task.
    worker["publish"](ladders_evaluate_batch, tenant_ids=[tenant.pk], day=DAY.isoformat())

    def sent():
        with scopes_disabled():
            return Message.objects.filter(tenant=tenant, status=MessageStatus.SENT).exists()

    if not wait_for(sent):
        pytest.fail(f"message not sent within 60 s; worker log:\n{worker['log'].log()}")
    with scopes_disabled():
        [message] = Message.objects.filter(tenant=tenant)
        assert Dispatch.objects.get(invoice=invoice).status == "queued"
    assert message.channel == "whatsapp"
    assert "R$ 321,00" in message.body
    lines = [json.loads(line) for line in worker["outbox"].read_text().splitlines()]
    assert [line["id"] for line in lines] == [f"console-{message.ref}"]  # provider called once

    # Redelivering the same send task changes nothing and calls no provider again.

    worker["publish"](send_message, message_id=message.pk, tenant_id=tenant.pk)
    worker["publish"](ladders_evaluate_batch, tenant_ids=[tenant.pk], day=DAY.isoformat())
    time.sleep(3)
    assert len(worker["outbox"].read_text().splitlines()) == 1
    with scopes_disabled():
        assert Message.objects.filter(tenant=tenant).count() == 1


def test_an_import_runs_in_the_worker_and_its_progress_bar_moves(worker, monkeypatch):
    """The dashboard's import, queued to a real worker: the page's polled status shows the
    bar advancing while the worker's transaction is open, then the outcome."""

    tenant = TenantFactory(slug="integration-import")
    client = Client()
    client.force_login(MembershipFactory(tenant=tenant, role=Role.AGENT).user)
    monkeypatch.setattr(
        tasks.import_run, "delay", lambda **kw: worker["publish"](tasks.import_run, **kw)
    )
    rows = 8000
    answer = client.post("/imports/", {"file": SimpleUploadedFile("erp.csv", csv_rows(rows))})
    assert answer.status_code == 302
    with scopes_disabled():
        job = ImportJob.objects.get(tenant=tenant)
    form = {f"map_{name}": str(index) for name, index in job.mapping.items()}
    assert client.post(f"/imports/{job.pk}/", {**form, "mode": "all"}).status_code == 302

    seen: list[int] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        part = client.get(f"/imports/{job.pk}/status/").content.decode()
        if "hx-trigger" not in part:
            break
        seen.append(int(re.search(r'data-percent="(\d+)"', part)[1]))
        time.sleep(0.1)
    else:
        pytest.fail(f"import not finished; worker log:\n{worker['log'].log()}")
    with scopes_disabled():
        job.refresh_from_db()
        assert job.status == ImportStatus.DONE, job.failure
        assert job.imported == rows
        assert Invoice.objects.filter(tenant=tenant).count() == rows
    moving = sorted(set(p for p in seen if 0 < p < 100))
    assert seen == sorted(seen), seen  # never goes back
    assert len(moving) >= 3, seen  # it moved while the job ran
    assert any(p > 50 for p in moving), seen  # …through the writing half too
