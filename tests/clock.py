"""The suite's clock: no test ever reads the real date or time.

Every test runs with the clock moved (by time-machine, ticking from there) to one instant:
- the instant its `@pytest.mark.clock("2026-12-02T09:00-03:00")` marker names, for a test whose
  data is pinned to a calendar position (a Wednesday with no holiday near, a Sunday due date…);
- otherwise the suite's instant, `$REGUA_TEST_NOW` (ISO 8601 with its offset) or SUITE_NOW.

A test without a marker must pass on any day: CI runs the date-sensitive files again with
`REGUA_TEST_NOW` set to hard days (a 31 December late at night, the Friday before Carnaval, a
29 February). Processes a test starts (the Celery worker) take the same clock through
`clocked_command()`.
"""

import os
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

ENV = "REGUA_TEST_NOW"
# A Wednesday at noon in São Paulo, with no holiday in the fortnight around it.
SUITE_NOW = datetime(2026, 12, 2, 12, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))


# For a test whose data is written for the suite's day (constants such as DAY = 2026-12-02), or
# whose scenario needs an ordinary business day (an invoice due today gets its D0 reminder today,
# which a 31 December or a Carnaval Monday never gives): it stays there on the hard days too.
on_the_suite_day = pytest.mark.clock(SUITE_NOW.isoformat())


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant; one without an offset is São Paulo time, like the tenants'."""
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=ZoneInfo("America/Sao_Paulo"))
    return when


def suite_now() -> datetime:
    text = os.environ.get(ENV, "").strip()
    return parse_instant(text) if text else SUITE_NOW


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "clock(instant): run the test with the clock at this ISO 8601 instant"
    )


def pytest_report_header(config):
    return f"clock: tests run at {suite_now().isoformat()} unless marked (${ENV})"


@pytest.fixture(autouse=True)
def frozen_clock(request):
    """The test's clock (see the module docstring); yields time-machine's traveller, whose
    `shift()` and `move_to()` move it on."""
    marker = request.node.get_closest_marker("clock")
    instant = parse_instant(marker.args[0]) if marker else suite_now()
    with time_machine.travel(instant, tick=True) as traveller:
        yield traveller


def clocked_command(module: str, *args: str) -> list[str]:
    """argv running `python -m module args…` with this process's clock as it is now."""
    now = datetime.now().astimezone().isoformat()
    return [sys.executable, "-m", "tests.clocked", now, module, *args]
