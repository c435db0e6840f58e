"""The cache, for what can do without it: live import progress, names looked up for explanations, the
debounce of a drain. When the cache (Redis) is down these log a warning and fall back — the value is
recomputed, the progress is read from the job row — so a page or an import never fails because of it."""

import logging
from collections.abc import Callable
from typing import Any

from django.core.cache import cache

log = logging.getLogger(__name__)


def cache_get(key: str, default: Any = None) -> Any:
    try:
        return cache.get(key, default)
    except Exception:
        log.warning("cache unavailable: get %s", key, exc_info=True)
        return default


def cache_set(key: str, value: Any, timeout: int) -> None:
    try:
        cache.set(key, value, timeout)
    except Exception:
        log.warning("cache unavailable: set %s", key, exc_info=True)


def cache_delete(key: str) -> None:
    try:
        cache.delete(key)
    except Exception:
        log.warning("cache unavailable: delete %s", key, exc_info=True)


def cache_get_or_set(key: str, compute: Callable[[], Any], timeout: int) -> Any:
    """The cached value, else ``compute()`` (stored if the cache works)."""
    try:
        return cache.get_or_set(key, compute, timeout)
    except Exception:
        log.warning("cache unavailable: get_or_set %s", key, exc_info=True)
        return compute()
