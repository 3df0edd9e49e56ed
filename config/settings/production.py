"""Production shape: PostgreSQL, Redis, gunicorn. Every secret comes from the environment."""

import os

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import MIDDLEWARE, env, env_bool

DEBUG = False
# gunicorn serves /static/ itself (collected at build time): no CDN, no separate web server.
MIDDLEWARE = [MIDDLEWARE[0], "whitenoise.middleware.WhiteNoiseMiddleware", *MIDDLEWARE[1:]]
for required in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY"):
    # Without its own FIELD_ENCRYPTION_KEY the credentials key would derive from SECRET_KEY,
    # and rotating SECRET_KEY would make every stored provider credential unreadable.
    if not os.environ.get(required):
        raise ImproperlyConfigured(f"{required} must be set in production")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
LOG_LEVEL = env("LOG_LEVEL", "INFO")
