"""Normalisation of natural keys, shared by the API, CSV import, event ingestion and the seeder."""

import re
from urllib.parse import urlsplit

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
_EMAIL_RE = re.compile(r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@([a-z0-9-]+(\.[a-z0-9-]+)+)$")


def normalize_domain(value: str) -> str:
    """``https://WWW.Acme.com/about`` → ``acme.com``. Raises ``ValueError`` if it is not a domain."""
    raw = (value or "").strip().lower()
    if "://" in raw:
        raw = urlsplit(raw).hostname or ""
    raw = raw.split("/", 1)[0].split(":", 1)[0].rstrip(".")
    if raw.startswith("www."):
        raw = raw[4:]
    try:
        raw = raw.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"'{value}' is not a valid domain") from exc
    if not _DOMAIN_RE.match(raw):
        raise ValueError(f"'{value}' is not a valid domain")
    return raw


def normalize_email(value: str) -> str:
    """Trim and lower-case an e-mail address. Raises ``ValueError`` if it is not one."""
    email = (value or "").strip().lower()
    if len(email) > 254 or not _EMAIL_RE.match(email) or ".." in email:
        raise ValueError(f"'{value}' is not a valid e-mail address")
    return email


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[1]


def normalize_key(value: str) -> str:
    """Loose matching key for names spelled differently (``GTX Pro`` == ``GTXPro`` == ``gtx-pro``)."""
    return re.sub(r"[^a-z0-9]", "", (value or "").lower())


def activity_key(*, event_type: str, url: str = "", topic: str = "") -> str:
    """The rollup dimension of an event: its intent topic, else its URL path, else nothing."""
    if topic:
        return topic.strip().lower()[:200]
    if url:
        path = urlsplit(url.strip()).path if "://" in url else url.split("?", 1)[0].split("#", 1)[0]
        path = path.lower().rstrip("/") or "/"
        return path[:200]
    return ""
