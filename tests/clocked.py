"""`python -m tests.clocked INSTANT MODULE ARGS…`: run a module (a Celery worker) with the clock
moved to INSTANT and ticking, so a process a test starts shares the test's clock."""

import runpy
import sys

import time_machine

from tests.clock import parse_instant

if __name__ == "__main__":
    instant, module, *args = sys.argv[1:]
    time_machine.travel(parse_instant(instant), tick=True).start()
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
