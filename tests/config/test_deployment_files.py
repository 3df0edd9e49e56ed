"""The deployment files (docker-compose.yml, Dockerfile, .env.example, Makefile) name entry
points, URLs, settings and environment variables that live in the code. Nothing runs them in
the test suite (no Docker here), so these tests read them and fail as soon as they drift from
the code. No database and no Docker needed."""

import ast
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from celery import Celery
from celery.app.utils import find_app
from django.conf import settings
from django.urls import Resolver404, resolve
from packaging.specifiers import SpecifierSet

import config
from config.celery import app
from tests.paths import ROOT

SETTINGS_DIR = ROOT / "config" / "settings"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"

APP_SERVICES = ("web", "worker", "beat")
BACKING_SERVICES = ("postgres", "redis")
# Read by manage.py, config/wsgi.py and config/celery.py rather than by the settings: it picks
# which settings module is loaded at all.
ENV_OUTSIDE_SETTINGS = {"DJANGO_SETTINGS_MODULE"}
# The helpers in config/settings/base.py; each takes the variable name as first argument.
ENV_HELPERS = {"env", "env_bool", "env_list"}


# --- Helpers -----------------------------------------------------------------------------------


def settings_env_names() -> set[str]:
    """Every environment variable config/settings/*.py reads, found in the source (an import
    would only show the variables the active settings module happens to touch)."""
    names: set[str] = set()
    for path in sorted(SETTINGS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            key = None
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                if isinstance(func, ast.Name) and func.id in ENV_HELPERS:
                    key = node.args[0]
                elif isinstance(func, ast.Attribute) and (
                    # os.environ.get("X") / os.getenv("X")
                    (func.attr == "get" and ast.unparse(func.value) == "os.environ")
                    or ast.unparse(func) == "os.getenv"
                ):
                    key = node.args[0]
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                key = node.slice
            # Non-constant names are the helpers' own bodies (os.environ.get(name)).
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
    return names


def command_words(service: dict) -> list[str]:
    """A service's command as words, also splitting the script of a `sh -c "..."` command."""
    command = service.get("command") or []
    parts = [command] if isinstance(command, str) else command
    return [word for part in parts for word in shlex.split(str(part))]


def healthcheck_text(service: dict) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


def environment_of(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the "KEY=value" list form
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(key): str(value) for key, value in env.items()}


def celery_app_argument(words: list[str]) -> str | None:
    for index, word in enumerate(words):
        if word in ("-A", "--app") and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--app="):
            return word.split("=", 1)[1]
    return None


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, arguments = (pending + line).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def instruction_words(arguments: str) -> list[str]:
    """CMD/ENTRYPOINT arguments in exec (JSON) or shell form, as words."""
    return json.loads(arguments) if arguments.startswith("[") else shlex.split(arguments)


def env_example_names() -> dict[str, str | None]:
    """Variables documented in .env.example (commented out or not) -> their uncommented value,
    or None when only shown commented out."""
    names: dict[str, str | None] = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$", line.strip())
        if match:
            commented, name, value = match.groups()
            if commented is None or name not in names:
                names[name] = None if commented else value.strip()
    return names


def assert_module_defines(dotted: str) -> None:
    """`package.module:attribute` (gunicorn's syntax) names a source file that assigns the
    attribute at module level; checked without importing, since importing config.wsgi would
    load the production settings."""
    module, _, attribute = dotted.partition(":")
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, f"{module} is not an importable module"
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    assigned = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert attribute in assigned, f"{spec.origin} does not define {attribute!r}"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


# --- docker-compose.yml ------------------------------------------------------------------------


def test_settings_env_parser_finds_the_known_variables():
    # Guards the parser itself: an empty result would make the env checks below pass vacuously.
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "REGUA_VAR_DIR"} <= settings_env_names()


def test_all_services_exist(services):
    assert set(APP_SERVICES + BACKING_SERVICES) <= set(services)


def test_every_service_has_a_healthcheck(services):
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no health check"


def test_backing_services_keep_data_in_named_volumes(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, data_dir in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data")):
        mounts = [str(volume).split(":") for volume in services[name].get("volumes", [])]
        sources = [source for source, target, *_ in mounts if target == data_dir]
        assert sources and sources[0] in declared, f"{name} data is not in a named volume"
    assert "pg_isready" in healthcheck_text(services["postgres"])
    assert "redis-cli" in healthcheck_text(services["redis"])


def test_app_services_wait_for_healthy_backing_services(services):
    for name in APP_SERVICES:
        depends_on = services[name].get("depends_on")
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions"
        for backing in BACKING_SERVICES:
            condition = (depends_on.get(backing) or {}).get("condition")
            assert condition == "service_healthy", f"{name} does not wait for {backing}"


def test_web_runs_migrations_then_gunicorn_on_the_real_wsgi_application(services):
    words = command_words(services["web"])
    assert "gunicorn" in words
    # Words shaped like gunicorn's `module:attribute` (not host:port).
    targets = [word for word in words if re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", word)]
    assert targets == ["config.wsgi:application"]
    assert settings.WSGI_APPLICATION == "config.wsgi.application"
    assert_module_defines("config.wsgi:application")
    # Migrate first: worker and beat wait for web's health, i.e. for the schema.
    assert words.index("migrate") < words.index("gunicorn")
    assert "manage.py" in words
    assert "0.0.0.0:8000" in words
    assert "8000:8000" in [str(port) for port in services["web"].get("ports", [])]


def test_web_healthcheck_targets_a_real_url(services):
    match = re.search(r"https?://[^\s'\"]+", healthcheck_text(services["web"]))
    assert match, "web health check has no URL"
    url = urlsplit(match.group(0))
    assert url.hostname in ("127.0.0.1", "localhost") and url.port == 8000
    try:
        resolved = resolve(url.path)
    except Resolver404:
        pytest.fail(f"health check URL {url.path} does not resolve")
    assert resolved.url_name == "healthz"


def test_celery_services_use_the_project_celery_app(services):

    assert isinstance(app, Celery) and app.main == "regua"
    # The lookup the celery CLI itself does for `-A config`.
    assert find_app("config") is app is config.celery_app
    for name, subcommand in (("worker", "worker"), ("beat", "beat")):
        words = command_words(services[name])
        assert words[0] == "celery" and subcommand in words, name
        assert celery_app_argument(words) == "config", f"{name} must use -A config"


def test_worker_is_scalable(services):
    worker = services["worker"]
    # A fixed name, host port or hostname would make `docker compose up --scale worker=N`
    # fail or give every worker the same Celery node name.
    for key in ("container_name", "ports", "hostname"):
        assert key not in worker, f"worker must not set {key}"
    words = command_words(worker)
    assert "--pool=threads" in words
    # An embedded beat would run once per worker replica.
    assert "-B" not in words and "--beat" not in words
    check = healthcheck_text(worker)
    assert "inspect ping" in check and "HOSTNAME" in check
    assert celery_app_argument(shlex.split(check)) == "config"


def test_exactly_one_beat_using_the_database_scheduler(services):
    beats = [
        name
        for name, service in services.items()
        if (words := command_words(service))
        and words[0] == "celery"
        and ("beat" in words or "-B" in words or "--beat" in words)
    ]
    assert beats == ["beat"]
    beat = services["beat"]
    assert (beat.get("deploy") or {}).get("replicas", 1) == 1
    # The scheduler comes from the settings, not from the command line.
    words = command_words(beat)
    assert not any(
        word in ("-S", "--scheduler") or word.startswith("--scheduler=") for word in words
    )
    assert settings.CELERY_BEAT_SCHEDULER == "django_celery_beat.schedulers:DatabaseScheduler"


def test_app_services_share_one_environment(services):
    # web encrypts provider credentials that the worker decrypts: their keys must agree.
    environments = [environment_of(services[name]) for name in APP_SERVICES]
    assert environments[0] and all(env == environments[0] for env in environments)


def test_compose_environment_names_are_read_by_the_settings(services):
    known = settings_env_names() | ENV_OUTSIDE_SETTINGS
    for name in APP_SERVICES:
        unknown = set(environment_of(services[name])) - known
        assert not unknown, f"{name} sets variables nothing reads: {sorted(unknown)}"


def test_compose_environment_points_at_the_compose_services(services):
    env = environment_of(services["web"])
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert importlib.util.find_spec(env["DJANGO_SETTINGS_MODULE"]) is not None
    database, broker = urlsplit(env["DATABASE_URL"]), urlsplit(env["REDIS_URL"])
    assert database.scheme.startswith("postgres") and database.hostname == "postgres"
    assert broker.scheme == "redis" and broker.hostname == "redis"
    postgres_env = environment_of(services["postgres"])
    assert database.username == postgres_env["POSTGRES_USER"]
    assert database.password == postgres_env["POSTGRES_PASSWORD"]
    assert database.path.lstrip("/") == postgres_env["POSTGRES_DB"]
    # Secrets come from .env, never from the compose file itself.
    for secret in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY"):
        assert env[secret].startswith("${" + secret), f"{secret} must come from .env"


# --- .env.example ------------------------------------------------------------------------------


def test_env_example_documents_exactly_the_variables_read():
    read = settings_env_names() | ENV_OUTSIDE_SETTINGS
    documented = set(env_example_names())
    assert not read - documented, f"missing from .env.example: {sorted(read - documented)}"
    assert not documented - read, f"stale in .env.example: {sorted(documented - read)}"


def test_env_example_documents_every_compose_substitution():
    substituted = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE_FILE.read_text()))
    missing = substituted - set(env_example_names())
    assert not missing, f"docker-compose.yml substitutes undocumented {sorted(missing)}"


def test_env_example_holds_no_secret_values():
    names = env_example_names()
    for secret in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY"):
        assert not names.get(secret), f"{secret} must not have a value in .env.example"


def test_env_example_comments_every_variable():
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^#?\s*[A-Z][A-Z0-9_]*=", line.strip()):
            previous = lines[index - 1].strip() if index else ""
            assert previous.startswith("#"), f"no comment above {line!r}"


# --- Dockerfile and Makefile -------------------------------------------------------------------


def test_dockerfile_runs_gunicorn_on_the_real_wsgi_application():
    instructions = dockerfile_instructions()
    launch = [args for keyword, args in instructions if keyword in ("CMD", "ENTRYPOINT")]
    assert launch, "Dockerfile has no CMD"
    words = [word for args in launch for word in instruction_words(args)]
    assert "gunicorn" in words and "config.wsgi:application" in words
    assert "0.0.0.0:8000" in words
    assert_module_defines("config.wsgi:application")
    assert ("EXPOSE", "8000") in instructions


def test_dockerfile_builds_the_production_image():
    instructions = dockerfile_instructions()
    base = next(args for keyword, args in instructions if keyword == "FROM")
    version = re.fullmatch(r"python:(\d+\.\d+)(?:\.\d+)?-slim\S*", base)
    assert version, f"unexpected base image {base}"
    requires = re.search(r'requires-python\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert version.group(1) in SpecifierSet(requires.group(1)), "base image Python mismatch"
    runs = " ".join(args for keyword, args in instructions if keyword == "RUN")
    assert re.search(r"pip install (--\S+ )*\.(\s|$)", runs), "project not installed with pip"
    assert "[dev]" not in runs
    assert "collectstatic" in runs
    envs = " ".join(args for keyword, args in instructions if keyword == "ENV")
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in envs
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0"), "image runs as root"


def test_makefile_has_run_and_test_targets():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("run", "test"):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), f"no `make {target}`"


def _stub(directory: Path, name: str, works: bool) -> None:
    stub = directory / name
    stub.write_text(f"#!/bin/sh\nexit {0 if works else 1}\n")
    stub.chmod(0o755)


def test_makefile_takes_the_newest_python_that_runs(tmp_path):
    # A pyenv shim for a version that is installed but not selected fails when run: skipped.
    _stub(tmp_path, "python3.13", works=False)
    _stub(tmp_path, "python3.12", works=True)
    _stub(tmp_path, "python3.11", works=True)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path)}
    found = subprocess.run(
        ["make", "-s", "print-python"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert found.stdout.strip() == "python3.12", found.stderr
    requires = re.search(r'requires-python\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert all(v in SpecifierSet(requires.group(1)) for v in ("3.11", "3.12", "3.13"))


def test_makefile_run_serves_on_the_port_given():
    dry = subprocess.run(
        ["make", "-n", "run", "PORT=8123"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "runserver 127.0.0.1:8123" in dry and "http://127.0.0.1:8123/" in dry


def test_the_embedded_broker_names_its_host():
    """kombu warns "No hostname was supplied" on every connection to a host-less URL."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "REDIS_", "CELERY_", "DATABASE_"))
    }
    code = (
        "import logging; logging.basicConfig(level=logging.WARNING);"
        "from config.celery import app; c = app.connection_for_write(); c.info(); print(c.as_uri())"
    )
    ran = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("filesystem://"), ran.stdout
    assert "No hostname" not in ran.stderr, ran.stderr
