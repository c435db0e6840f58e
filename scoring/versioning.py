"""The versioned-document workflow of rules versions and qualification policies: one ETag per revision,
and an edit must name the revision it was based on (``If-Match`` in the API, a hidden field in forms):
missing → ``PreconditionRequired`` (428), stale → a ``StaleRevision`` (412), nothing changed either way.

A document has ``pk``, ``revision`` (bumped by every real change) and ``etag``:
``"<kind>-<pk>-r<revision>"``.
"""

from __future__ import annotations

import re

from .exceptions import PreconditionRequired, StaleRevision

_ETAG_RE = re.compile(r'^(?:W/)?"([a-z]+)-(\d+)-r(\d+)"$')


def if_match_revision(header: str | None, document) -> int | None:
    """The revision an ``If-Match`` header names for this document; None without one; 0 if none matches."""
    header = (header or "").strip()
    if not header or header == "*":  # "*" would skip the lost-update check, so it counts as missing
        return None
    kind = _ETAG_RE.match(document.etag)[1]
    revisions = []
    for tag in header.split(","):
        match = _ETAG_RE.match(tag.strip())
        if match and match[1] == kind and int(match[2]) == document.pk:
            revisions.append(int(match[3]))
    if document.revision in revisions:
        return document.revision
    return max(revisions, default=0)


def revision_check(
    *, locked, expected_revision: int | None, label: str, conflict: type[StaleRevision] = StaleRevision
) -> None:
    """Refuse an edit of ``locked`` (the row under lock) that names no revision or a stale one."""
    if expected_revision is None:
        raise PreconditionRequired(
            f"Say which revision of {label} you edited (it is at revision {locked.revision}), "
            "so that nobody's changes are overwritten."
        )
    if expected_revision != locked.revision:
        raise conflict(
            f"{label} was changed by someone else since you read it: you edited revision "
            f"{expected_revision}, it is now at revision {locked.revision}. "
            "Reload it and apply your changes again.",
            current=locked,
        )
