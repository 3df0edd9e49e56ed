# Régua — one image for every production process: web (gunicorn), Celery worker(s) and beat.
# docker-compose.yml picks the process per service; the default CMD is the web server.
#
#   docker build -t regua .
#   docker run --env-file .env -p 8000:8000 regua
FROM python:3.11-slim

# No .pyc files in the image (the code directory is read-only for the app user anyway);
# unbuffered output so logs reach `docker logs` immediately.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# The code runs from /app, never from a copy in site-packages (see the install step below).
ENV PYTHONPATH=/app
ENV DJANGO_SETTINGS_MODULE=config.settings.production
# Writable state of the embedded mode (outbox file, SQLite, filesystem broker). In the
# production shape only the console provider's outbox lands here.
ENV REGUA_VAR_DIR=/app/var
# Read by gunicorn itself as its default --workers: 3 suits a small instance; override per
# deployment (a common rule is 2-4 per CPU core).
ENV WEB_CONCURRENCY=3

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so this layer is rebuilt only when the
# dependencies change. With no package directories present `pip install .` installs the
# dependencies (no dev extras) plus an empty "regua" distribution; the code itself is copied
# below and imported from /app, so there is exactly one copy of it and templates/ and static/
# resolve relative to it (settings derive BASE_DIR from the location of config/).
COPY pyproject.toml ./
RUN pip install .

# An unprivileged user with a writable home: gunicorn puts its control socket in
# ~/.gunicorn, while the code in /app stays owned by root and read-only for this user.
RUN groupadd --system regua \
    && useradd --system --gid regua --create-home --shell /usr/sbin/nologin regua

COPY . .

# Static files are collected at build time so the container never needs write access to the
# code. Production settings refuse to load without SECRET_KEY and FIELD_ENCRYPTION_KEY, so
# throwaway values are passed to this command only; they are not stored in the image.
RUN SECRET_KEY=collectstatic-build-only-not-a-secret \
    FIELD_ENCRYPTION_KEY=Y29sbGVjdHN0YXRpYy1idWlsZC1vbmx5LW5vdC1hLWs= \
    python manage.py collectstatic --noinput \
    && rm -rf /app/var \
    && mkdir -p /app/var \
    && chown regua:regua /app/var

USER regua

EXPOSE 8000

# No HEALTHCHECK here: the same image runs the worker and beat, which have no HTTP server.
# docker-compose.yml declares a health check per service (web: GET /healthz).
# --worker-tmp-dir /dev/shm: gunicorn's worker heartbeat files on a tmpfs, as recommended for
# containers, where /tmp may be a slow overlay filesystem.
CMD ["gunicorn", "config.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--worker-tmp-dir", "/dev/shm", \
     "--timeout", "60", \
     "--access-logfile", "-"]
