"""Production shape: PostgreSQL, Redis, gunicorn. Every secret comes from the environment.
`manage.py check --deploy` is clean with these settings (tests/config/test_deploy_check.py)."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import (
    DEVELOPMENT_SECRET_KEY,
    FIELD_ENCRYPTION_KEY,
    MIDDLEWARE,
    SECRET_KEY,
    STORAGES,
    env,
    env_bool,
)

DEBUG = False
# gunicorn serves /static/ itself (collected at build time): no CDN, no separate web server.
MIDDLEWARE = [MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]

if SECRET_KEY == DEVELOPMENT_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set in production, and not to the development default: generate "
        'one with python -c "import secrets; print(secrets.token_urlsafe(50))"'
    )
if not FIELD_ENCRYPTION_KEY:
    # Without its own FIELD_ENCRYPTION_KEY the credentials key would derive from SECRET_KEY,
    # and rotating SECRET_KEY would make every stored provider credential unreadable.
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEY must be set in production: generate one with python -c "
        '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    )

# --- HTTPS -------------------------------------------------------------------------------------
# A proxy in front that terminates TLS says so with X-Forwarded-Proto: https (it must set the
# header itself, overwriting what the client sent).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Plain-HTTP requests are redirected to HTTPS. Turn it off (SECURE_SSL_REDIRECT=false) only
# behind a proxy that already redirects HTTP itself; /healthz answers over HTTP for the health
# checks made inside the container or host.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Browsers remember for a year to use HTTPS only, for every subdomain too. The preload
# directive only makes the domain eligible for the browsers' built-in list: it is entered
# there only if its owner submits it.
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", str(365 * 24 * 60 * 60)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Uploaded files as the environment chose (base.py: the disk, or S3-compatible storage).
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
LOG_LEVEL = env("LOG_LEVEL", "INFO")
