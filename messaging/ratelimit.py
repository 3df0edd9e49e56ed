"""Send rate limits: per tenant, and per provider account.

Token buckets: each send takes a token; tokens come back at `rate` per second up to `burst`.
A send that finds no token is not made: the message waits (stays queued, its task comes back
when a token will be there), so a large day goes out at the pace the provider accepts and no
tenant crowds out the others. With Redis (REDIS_URL) the buckets are shared by every worker,
in one atomic script timed by the Redis server's own clock (workers' clocks may differ); without
it (the embedded mode, one worker) they live in the process, timed by its monotonic clock. Wall
clock time is never used: a clock set back (NTP) would leave a bucket empty until it caught up.

Limits come from settings: MESSAGING_TENANT_RATE (sends per second per tenant) and
MESSAGING_PROVIDER_RATES (per provider kind, per account). MESSAGING_RATE_LIMITS = False lifts
them (the send benchmark does, to measure the path itself)."""

import threading
import time

import redis
from django.conf import settings

_LUA = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local tokens = tonumber(redis.call('HGET', KEYS[1], 't') or ARGV[2])
local stamp = tonumber(redis.call('HGET', KEYS[1], 's') or now)
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 't', tokens, 's', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""

_local: dict[str, tuple[float, float]] = {}
_local_lock = threading.Lock()
_script = None


def _redis_script():
    global _script
    if _script is None:
        _script = redis.Redis.from_url(settings.REDIS_URL).register_script(_LUA)
    return _script


def take(key: str, *, rate: float, burst: float) -> float:
    """Take a token from the bucket `key`: 0 if there was one, else the seconds until there
    will be (nothing is taken then)."""
    if settings.REDIS_URL:
        return float(_redis_script()(keys=[f"regua:rate:{key}"], args=[rate, burst]))
    now = time.monotonic()
    with _local_lock:
        tokens, stamp = _local.get(key, (burst, now))
        tokens = min(burst, tokens + max(0.0, now - stamp) * rate)
        if tokens >= 1:
            _local[key] = (tokens - 1, now)
            return 0.0
        _local[key] = (tokens, now)
        return (1 - tokens) / rate


def send_wait(*, tenant_id: int, provider_key: str, provider_kind: str) -> float:
    """Seconds a send must wait for the provider account's and the tenant's limits (0: go).
    A token taken from the first bucket when the second makes the send wait is not given
    back: the limits err on the slow side."""
    if not settings.MESSAGING_RATE_LIMITS or provider_kind == "console":
        return 0.0  # lifted, or nothing leaves the machine
    provider_rate = settings.MESSAGING_PROVIDER_RATES.get(provider_kind)
    if provider_rate:
        wait = take(f"provider:{provider_key}", rate=provider_rate, burst=provider_rate)
        if wait:
            return wait
    tenant_rate = settings.MESSAGING_TENANT_RATE
    if tenant_rate:
        return take(f"tenant:{tenant_id}", rate=tenant_rate, burst=tenant_rate)
    return 0.0
