"""API rates: per token and scope, and a brake on bad tokens per address.

Every API request is counted against one scope — ``read`` (GET, HEAD, OPTIONS), ``write`` (other
methods), ``ingest`` (views whose token scope is ingestion: the events batch), ``jobs`` (POSTs to views
that start long work and say so with ``throttle_scope = "jobs"``), or ``anon`` (no credentials) — and one
identity: the API token, else the signed-in user, else the client address (``revops.clientip``).
Rates come from ``settings.API_THROTTLE_RATES`` (env ``API_THROTTLE_<SCOPE>``, e.g. ``"600/min"``),
read on every request. Over the rate the answer is DRF's 429, as JSON, with ``Retry-After``.

Bad tokens: every failed token authentication counts against the client address; once an address has
``bad_token`` failures in the window, any ``Authorization: Token …`` from it is answered 429 before
the token is even looked up (so the rate bounds guessing), until the window has passed.

The counters live in the cache (Redis in production, local memory embedded). If the cache cannot be
reached, requests go through (logged): a throttle must not turn a cache outage into 500s.
"""

import logging

from django.conf import settings
from rest_framework import permissions, throttling

from revops.clientip import client_ip
from revops.permissions import is_api_token

logger = logging.getLogger(__name__)

ANON = "anon"
BAD_TOKEN = "bad_token"


def request_scope(request, view) -> str:
    """The scope a request is counted in (see the module docstring)."""
    user = getattr(request, "user", None)
    if not (user and user.is_authenticated):
        return ANON
    unsafe = request.method not in permissions.SAFE_METHODS
    explicit = getattr(view, "throttle_scope", None)
    if explicit and unsafe:  # e.g. "jobs": starting one, not reading them
        return explicit
    token_scope = getattr(view, "token_scope", None)
    if token_scope:
        return str(token_scope)
    return "write" if unsafe else "read"


class _Rated(throttling.SimpleRateThrottle):
    """DRF's sliding-window throttle with its rate read from settings on each use and a cache that
    fails open."""

    def __init__(self):  # the scope, hence the rate, is known only per request
        self.rate = None
        self.num_requests = self.duration = None

    def rate_set(self, scope: str) -> bool:
        """Use ``scope``'s rate; False when that scope is not throttled."""
        self.scope = scope
        self.rate = settings.API_THROTTLE_RATES.get(scope)
        if not self.rate:
            return False
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return True

    def key(self, scope: str, ident: str) -> str:
        return f"{settings.API_THROTTLE_CACHE_PREFIX}:{scope}:{ident}"

    def get_ident(self, request) -> str:
        return client_ip(request)


class ScopedRateThrottle(_Rated):
    """The API's default throttle: one rate per scope, counted per token, user or address."""

    def allow_request(self, request, view) -> bool:
        if not self.rate_set(request_scope(request, view)):
            return True
        try:
            return super().allow_request(request, view)
        except Exception:
            logger.warning("API throttle skipped: the cache cannot be reached", exc_info=True)
            return True

    def get_cache_key(self, request, view) -> str:
        if is_api_token(request.auth):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"ip-{self.get_ident(request)}"
        return self.key(self.scope, ident)


class BadTokenThrottle(_Rated):
    """Failed token authentications per client address (used by ``revops.authentication``)."""

    def __init__(self, request):
        super().__init__()
        self.request = request
        self.enabled = self.rate_set(BAD_TOKEN)

    def get_cache_key(self, request, view=None) -> str:
        return self.key(BAD_TOKEN, self.get_ident(request))

    def _history(self) -> list[float]:
        self.now = self.timer()
        history = self.cache.get(self.get_cache_key(self.request)) or []
        self.history = [moment for moment in history if moment > self.now - self.duration]
        return self.history

    def wait_needed(self) -> float | None:
        """Seconds until this address may try tokens again; None when it may now."""
        if not self.enabled:
            return None
        try:
            if len(self._history()) >= self.num_requests:
                return self.wait()
        except Exception:
            logger.warning("Bad-token throttle skipped: the cache cannot be reached", exc_info=True)
        return None

    def failure(self) -> None:
        """Count one failed token authentication from this address."""
        if not self.enabled:
            return
        try:
            history = self._history()
            history.insert(0, self.now)
            self.cache.set(self.get_cache_key(self.request), history, self.duration)
        except Exception:
            logger.warning("Bad-token throttle skipped: the cache cannot be reached", exc_info=True)
