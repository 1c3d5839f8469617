"""The rate-limit cache: Redis, failing over to the database while Redis is unreachable.

Rate limits (staff sign-in, activation) keep their counters in the Django cache. If Redis is down
or hung, answering 503 would lock every clinician out of signing in during an outage, and skipping
the limits would open the door to guessing. So this backend keeps enforcing them on a second
store, the database cache table (``manage.py createcachetable``, run by ``make run`` and the test
database setup): after a Redis error it uses the database for ``RETRY_PRIMARY_AFTER`` seconds
(so a hung Redis costs one short timeout per process per period, not one per request), then
tries Redis again. Counters do not move between the stores: at a switch an attacker gains at most
one window's worth of attempts, and the limits stay in force throughout.
"""

import logging
import time

from django.core.cache.backends.db import BaseDatabaseCache, DatabaseCache
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

RETRY_PRIMARY_AFTER = 30.0  # seconds on the database after a Redis failure
REDIS_TIMEOUT = 0.5  # seconds to connect, and per command
REDIS_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
FALLBACK_TABLE = "cache_entries"

_DELEGATED = (
    "add",
    "get",
    "set",
    "touch",
    "delete",
    "get_many",
    "has_key",
    "incr",
    "decr",
    "set_many",
    "delete_many",
    "clear",
)


class FailoverCache(BaseDatabaseCache):
    """Redis (``LOCATION``) first; the database cache while Redis fails.

    A ``BaseDatabaseCache`` by descent so that ``createcachetable`` (and the test database setup)
    creates the fallback's table.
    """

    def __init__(self, server, params):
        super().__init__(FALLBACK_TABLE, params)
        options = {
            "socket_connect_timeout": REDIS_TIMEOUT,
            "socket_timeout": REDIS_TIMEOUT,
            "retry_on_timeout": False,
            **params.get("OPTIONS", {}),
        }
        self.primary = RedisCache(server, {**params, "OPTIONS": options})
        self.fallback = DatabaseCache(
            FALLBACK_TABLE, {key: value for key, value in params.items() if key != "OPTIONS"}
        )
        self._primary_down_until = 0.0

    def _call(self, name, *args, **kwargs):
        if time.monotonic() >= self._primary_down_until:
            try:
                return getattr(self.primary, name)(*args, **kwargs)
            except REDIS_ERRORS as exc:
                self._primary_down_until = time.monotonic() + RETRY_PRIMARY_AFTER
                logger.error(
                    "rate-limit cache: Redis unreachable, using the database",
                    extra={"error": type(exc).__name__, "retry_after_s": RETRY_PRIMARY_AFTER},
                )
        return getattr(self.fallback, name)(*args, **kwargs)

    def close(self, **kwargs):
        self.primary.close(**kwargs)
        self.fallback.close(**kwargs)


def _delegate(name):
    def method(self, *args, **kwargs):
        return self._call(name, *args, **kwargs)

    method.__name__ = name
    return method


for _name in _DELEGATED:
    setattr(FailoverCache, _name, _delegate(_name))
