"""Sign-in lockouts, per account and per address (django-axes, attempts kept in the database).

Both sign-in forms — the UI's ``/login/`` and the admin's — go through ``django.contrib.auth``, where
axes counts failures. Failures are counted twice: for the username tried (from anywhere) and for the
client address (whatever username), each against its own limit within the cool-off window
(``LOGIN_FAILURES_PER_ACCOUNT``, ``LOGIN_FAILURES_PER_ADDRESS``, ``LOGIN_LOCKOUT_MINUTES``). Either
reached, sign-ins stop with 429 and "Too many failed sign-ins; try again in N minutes", even with the
right password; every attempt during a lockout starts the cool-off again, so N is exact when shown.
A successful sign-in forgets the account's failures (not the address's: one valid account must not
clear an address that guesses at others). An administrator unlocks by deleting the rows in admin
("Access attempts") or with ``manage.py axes_reset_username <name>`` / ``axes_reset_ip <address>``.

The attempts live in the database, not the cache, so a lockout outlives a Redis restart and an outage
of Redis does not stop anyone from signing in.
"""

import math

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_cool_off, get_lockout_parameters
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.db.models import Sum
from django.shortcuts import render


def _limits() -> dict[str, int]:
    return {
        "username": settings.LOGIN_FAILURES_PER_ACCOUNT,
        "ip_address": settings.LOGIN_FAILURES_PER_ADDRESS,
    }


class LoginLockHandler(AxesDatabaseHandler):
    """Axes' database handler with a limit per lockout parameter.

    Axes compares the largest count among its parameters with one ``AXES_FAILURE_LIMIT``. Here each
    count is scaled to that limit (the account's): ``count × account limit ÷ its own limit``, rounded
    down, which reaches the account limit exactly when the count reaches its own limit."""

    def get_failures(self, request, credentials=None) -> int:
        limits = _limits()
        parameters = get_lockout_parameters(request, credentials)
        scaled = [0]
        for parameter, attempts in zip(parameters, self.get_user_attempts(request, credentials), strict=True):
            count = attempts.aggregate(total=Sum("failures_since_start"))["total"] or 0
            own = limits.get(parameter, settings.AXES_FAILURE_LIMIT) if isinstance(parameter, str) else None
            own = own or settings.AXES_FAILURE_LIMIT
            scaled.append(count * settings.AXES_FAILURE_LIMIT // own)
        return max(scaled)

    def reset_user_attempts(self, request, credentials=None) -> int:
        """After a successful sign-in: the account's failures only (see the module docstring)."""
        username = (credentials or {}).get(settings.AXES_USERNAME_FORM_FIELD) or request.POST.get("username")
        if not username:
            return 0
        return self.reset_attempts(username=username)


def lockout_minutes(request=None) -> int:
    cool_off = get_cool_off(request)
    return max(1, math.ceil(cool_off.total_seconds() / 60)) if cool_off else 0


def lockout_message(request=None) -> str:
    minutes = lockout_minutes(request)
    unit = "minute" if minutes == 1 else "minutes"
    return f"Too many failed sign-ins; try again in {minutes} {unit}."


def lockout_response(request, original_response=None, credentials=None):
    """The sign-in page again, status 429, saying how long to wait (both the UI's and admin's form)."""
    form = AuthenticationForm(request, initial={"username": (credentials or {}).get("username", "")})
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    context = {"form": form, "lockout": lockout_message(request), "next": next_url}
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(lockout_minutes(request) * 60)
    return response
