"""Normalisation of natural keys, shared by the API, CSV import, event ingestion and the seeder."""

import re
import unicodedata
from urllib.parse import urlsplit

_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$")
_LOCAL_ASCII = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.!#$%&'*+/=?^_`{|}~-")


def _ascii_host(host: str) -> str:
    """A lower-case host name in its ASCII form (IDNA: ``bücher.de`` → ``xn--bcher-kva.de``), or ``""``."""
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return ""
    return host if _DOMAIN_RE.match(host) else ""


def normalize_domain(value: str) -> str:
    """``https://WWW.Acme.com/about`` → ``acme.com``. Raises ``ValueError`` if it is not a domain."""
    raw = (value or "").strip().lower()
    if "://" in raw:
        raw = urlsplit(raw).hostname or ""
    raw = raw.split("/", 1)[0].split(":", 1)[0].rstrip(".")
    if raw.startswith("www."):
        raw = raw[4:]
    host = _ascii_host(raw)
    if not host:
        raise ValueError(f"'{value}' is not a valid domain")
    return host


def _local_part_ok(local: str) -> bool:
    """RFC 5322 atoms, plus any letter, mark or digit beyond ASCII (RFC 6531: ``zoë.müller``)."""
    if not local or local.startswith(".") or local.endswith(".") or ".." in local:
        return False
    return all(ch in _LOCAL_ASCII or (ch > "\x7f" and unicodedata.category(ch)[0] in "LMN") for ch in local)


def normalize_email(value: str) -> str:
    """Trim and lower-case an e-mail address. Raises ``ValueError`` if it is not one.

    The local part may be non-ASCII (``zoë.müller@beispiel.de``); it is stored in Unicode NFC, so
    the same address typed on two systems is one key. The domain is stored as ``normalize_domain``
    stores domains, in its ASCII (IDNA) form: ``müller@bücher.de`` → ``müller@xn--bcher-kva.de``,
    whose ``email_domain`` is the domain of the account it belongs to.
    """
    email = unicodedata.normalize("NFC", (value or "").strip()).lower()
    local, at, host = email.rpartition("@")
    domain = _ascii_host(host) if at and "." in host else ""
    email = f"{local}@{domain}"
    if not domain or not _local_part_ok(local) or len(email) > 254:
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
