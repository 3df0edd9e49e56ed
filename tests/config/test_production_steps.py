"""The production steps without Docker in docs/operations.md, run as written (only the database
name, the Redis database and the port are changed, so they cannot touch a real install): migrate,
collectstatic, a tenant, then gunicorn, a Celery worker and beat. A user logs in to the dashboard,
an integrator creates an invoice through the API, and its payment page loads."""

import os
import re
import signal
import socket
import subprocess
import time
import uuid

import pytest
import requests

from tests.conftest import require_service
from tests.paths import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.integration]

STEPS_HEADING = "Without Docker, the same processes run by hand"


def readme_production_steps() -> list[str]:
    text = (ROOT / "docs" / "operations.md").read_text()
    start = text.index("```bash\n", text.index(STEPS_HEADING)) + len("```bash\n")
    block = text[start : text.index("```", start)]
    return [line for line in block.splitlines() if line.strip()]


def reachable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql: str) -> None:
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql, "postgres"],
        check=True,
        capture_output=True,
    )


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return False


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def production(tmp_path):
    require_service(reachable(5432), "PostgreSQL is not reachable at 127.0.0.1:5432")
    require_service(reachable(6379), "Redis is not reachable at 127.0.0.1:6379")
    require_service((ROOT / ".venv/bin/gunicorn").exists(), ".venv has no gunicorn (make setup)")
    database, port = f"regua_steps_{uuid.uuid4().hex[:8]}", free_port()
    script = "\n".join(
        line.replace("127.0.0.1:5432/regua ", f"127.0.0.1:5432/{database} ")
        .replace("127.0.0.1:6379/0", "127.0.0.1:6379/14")
        .replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        for line in readme_production_steps()
    )
    assert f"/{database} " in script and f":{port}" in script, script
    # Afterwards, what the steps exported (the random secrets too) for the commands run later.
    script += f"\nenv -0 > {tmp_path / 'env'}"
    psql(f"CREATE DATABASE {database}")
    # The steps set everything they need; nothing of the test settings may leak into them.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "REGUA_"))
    }
    log = open(tmp_path / "steps.log", "w+")
    steps = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # one process group: the servers it leaves running included
    )

    def output() -> str:
        log.seek(0)
        return log.read()[-6000:]

    try:
        assert steps.wait(timeout=240) == 0, output()
        base = f"http://127.0.0.1:{port}"
        assert wait_for(lambda: answers(f"{base}/healthz"), 60), output()
        exported = (tmp_path / "env").read_text().split("\0")
        yield {
            "base": base,
            "env": dict(line.split("=", 1) for line in exported if "=" in line),
            "output": output,
        }
    finally:
        os.killpg(steps.pid, signal.SIGTERM)
        time.sleep(2)
        try:
            os.killpg(steps.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        log.close()
        psql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def manage(production, *args: str) -> str:
    return subprocess.run(
        [str(ROOT / ".venv/bin/python"), "manage.py", *args],
        cwd=ROOT,
        env=production["env"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_the_readme_production_steps_serve_the_dashboard_and_a_payment_page(production):
    base = production["base"]
    web = requests.Session()
    login = web.get(f"{base}/accounts/login/", timeout=10)
    assert login.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    home = web.post(
        f"{base}/accounts/login/",
        data={
            "csrfmiddlewaretoken": token,
            "username": "ana@acme.com.br",
            "password": "a-strong-password",
        },
        headers={"Referer": f"{base}/accounts/login/"},
        timeout=30,
    )
    assert home.status_code == 200 and home.url == f"{base}/", production["output"]()
    assert "Acme Ltda" in home.text
    css = re.search(r'href="(/static/css/app\.[0-9a-f]+\.css)"', home.text)
    assert css, "the dashboard links the hashed stylesheet collectstatic made"
    assert web.get(base + css.group(1), timeout=10).status_code == 200
    assert web.get(f"{base}/invoices/", timeout=30).status_code == 200

    raw_key = manage(production, "create_api_key", "acme").strip().splitlines()[-1]
    created = requests.post(
        f"{base}/api/v1/invoices/",
        json={
            "external_id": "NF-1001",
            "number": "1001",
            "amount": "1234.50",
            "issue_date": "2026-11-01",
            "due_date": "2026-12-10",
            "customer": {"external_id": "C-1", "name": "Maria Souza", "email": "m@example.com"},
        },
        headers={"Authorization": f"Api-Key {raw_key}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    payment_page = requests.get(created.json()["payment_url"], timeout=30)
    assert payment_page.status_code == 200
    assert "Acme Ltda" in payment_page.text and "1001" in payment_page.text

    # The worker answers on the Redis broker, and beat has written its schedule.
    ping = subprocess.run(
        [str(ROOT / ".venv/bin/celery"), "-A", "config", "inspect", "ping", "--timeout", "10"],
        cwd=ROOT,
        env=production["env"],
        capture_output=True,
        text=True,
    )
    assert ping.returncode == 0 and "pong" in ping.stdout, ping.stdout + ping.stderr
    assert wait_for(
        lambda: "ladders-tick" in manage(production, "shell", "-c", BEAT_SCHEDULE_QUERY), 30
    ), production["output"]()


BEAT_SCHEDULE_QUERY = (
    "from django_celery_beat.models import PeriodicTask; "
    "print(list(PeriodicTask.objects.values_list('name', flat=True)))"
)
