"""Embedded development mode (`make run`)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import CONTENT_SECURITY_POLICY, env_bool

DEBUG = env_bool("DEBUG", True)
if DEBUG:
    # Django's debug pages carry inline scripts and styles: with debug on the policy only
    # reports (the browser console lists every violation) so that those pages stay readable.
    # The test and production settings enforce it.
    CONTENT_SECURITY_POLICY_REPORT_ONLY = CONTENT_SECURITY_POLICY
    CONTENT_SECURITY_POLICY = None
