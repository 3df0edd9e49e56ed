"""The production settings refuse to start with the development SECRET_KEY or without
FIELD_ENCRYPTION_KEY, force HTTPS (HSTS for a year with subdomains, redirect unless turned off
explicitly) and pass `manage.py check --deploy` without a warning. Each case is a fresh
process: the settings module decides at import."""

import json
import os
import secrets
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from tests.paths import ROOT

SHOW = (
    "import json, django; from django.conf import settings; django.setup(); print(json.dumps("
    "{k: getattr(settings, k) for k in ('SECURE_SSL_REDIRECT', 'SECURE_HSTS_SECONDS', "
    "'SECURE_HSTS_INCLUDE_SUBDOMAINS', 'SESSION_COOKIE_SECURE', 'CSRF_COOKIE_SECURE', "
    "'SECURE_PROXY_SSL_HEADER')}))"
)


def deployment_env(tmp_path, **overrides) -> dict[str, str]:
    """What a real deployment sets (docs/operations.md), in a clean environment."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_", "REGUA_", "SECURE_"))
        and k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DEBUG", "ALLOWED_HOSTS")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        ALLOWED_HOSTS="regua.example.com",
        PUBLIC_BASE_URL="https://regua.example.com",
        REGUA_VAR_DIR=str(tmp_path),
    )
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def run(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean(tmp_path):
    done = run(deployment_env(tmp_path), "manage.py", "check", "--deploy", "--fail-level", "DEBUG")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)" in done.stdout


@pytest.mark.parametrize("secret_key", [None, "", "insecure-development-key-change-me"])
def test_refuses_the_development_secret_key(tmp_path, secret_key):
    done = run(deployment_env(tmp_path, SECRET_KEY=secret_key), "manage.py", "check")
    assert done.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY must be set in production" in done.stderr


@pytest.mark.parametrize("key", [None, ""])
def test_refuses_to_start_without_field_encryption_key(tmp_path, key):
    done = run(deployment_env(tmp_path, FIELD_ENCRYPTION_KEY=key), "manage.py", "check")
    assert done.returncode != 0
    assert "ImproperlyConfigured: FIELD_ENCRYPTION_KEY must be set in production" in done.stderr


def test_https_is_forced_by_default(tmp_path):
    done = run(deployment_env(tmp_path), "-c", SHOW)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 365 * 24 * 60 * 60,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


def test_ssl_redirect_is_turned_off_only_explicitly(tmp_path):
    done = run(deployment_env(tmp_path, SECURE_SSL_REDIRECT="false"), "-c", SHOW)
    assert json.loads(done.stdout.strip().splitlines()[-1])["SECURE_SSL_REDIRECT"] is False
    done = run(deployment_env(tmp_path, SECURE_SSL_REDIRECT=""), "-c", SHOW)
    assert json.loads(done.stdout.strip().splitlines()[-1])["SECURE_SSL_REDIRECT"] is True
