"""API token authentication: ``Authorization: Token <key>`` (``Bearer`` accepted too)."""

import hashlib
from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from .api.throttles import BadTokenThrottle
from .middleware import audit_token_var
from .models import ApiToken

LAST_USED_RESOLUTION = timedelta(minutes=1)


def token_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keywords = ("token", "bearer")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Token <key>'.")
        # An address that sent too many bad tokens is not heard until its window has passed: the
        # token is not even looked up, so the rate bounds guessing (revops/api/throttles.py).
        brake = BadTokenThrottle(request)
        wait = brake.wait_needed()
        if wait is not None:
            raise exceptions.Throttled(wait=wait, detail="Too many invalid API tokens from this address.")
        key = header[1].decode(errors="replace")
        token = ApiToken.objects.select_related("user").filter(key_hash=token_hash(key)).first()
        now = timezone.now()
        refusal = None
        if token is None:
            refusal = "Invalid API token."
        elif token.revoked_at is not None:
            refusal = "This API token has been revoked."
        elif token.expires_at is not None and token.expires_at <= now:
            refusal = "This API token has expired."
        elif not token.user.is_active:
            refusal = "The user of this API token is inactive."
        if refusal:
            brake.failure()
            raise exceptions.AuthenticationFailed(refusal)
        # Touch last_used_at at most once a minute: no write on every ingestion request.
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        audit_token_var.set(token.pk)
        return token.user, token

    def authenticate_header(self, request):
        return "Token"
