"""Test settings. SQLite unless DATABASE_URL is set (CI sets PostgreSQL)."""

from pathlib import Path

from config.settings.base import *  # noqa: F403
from config.settings.base import CACHES, DATABASES, VAR_DIR, env, env_bool

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", True)
CELERY_TASK_EAGER_PROPAGATES = True
MESSAGING_OUTBOX_PATH = Path(env("MESSAGING_OUTBOX_PATH", str(VAR_DIR / "test-outbox.jsonl")))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory, so a real worker process in the integration tests sees the same data.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-regua.sqlite3")}
# Rate-limit counters per test process, cleared between tests (tests/conftest.py).
CACHES = {**CACHES, "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Webhook tests deliver to receivers on 127.0.0.1.
WEBHOOKS_ALLOW_PRIVATE = True
