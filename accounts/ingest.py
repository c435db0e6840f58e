"""Bulk ingestion of engagement and intent events: the fast path behind ``POST /api/events/batch/``.

A batch is validated as a whole in plain Python (no serializer per item) and written in one
transaction, set-based: on PostgreSQL the events are COPYed into a temporary staging table and one
statement inserts the new ones (``ON CONFLICT (message_id) DO NOTHING RETURNING``) and folds exactly
those into the daily rollups (``ON CONFLICT … DO UPDATE SET count = count + EXCLUDED.count``), so a
replayed batch, even two replays racing, counts every event once. SQLite, whose writers are
serialised, gets the same semantics with batched statements. Unknown account domains and contact
e-mails are created on the way, race-safely (``INSERT … ON CONFLICT DO NOTHING`` then re-select).
An event without a ``campaign_id`` is tied to the campaign whose key (``CampaignKey``) it carries: one
query per batch for every key value in it, none when no event carries one.
"""

from __future__ import annotations

import datetime
import json
import math
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any
from urllib.parse import unquote_plus

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from revops.audit import change_record_create
from revops.bulk import bulk_insert, is_postgres
from revops.choices import ChangeAction
from revops.instruments import EVENTS_INGESTED

from .choices import EventSource, EventType
from .freemail import FREE_MAIL_DOMAINS
from .models import (
    Account,
    AccountActivityDaily,
    Campaign,
    CampaignKey,
    Contact,
    ContactActivityDaily,
    EngagementEvent,
)
from .normalize import activity_key, email_domain, normalize_domain, normalize_email
from .routing import newcomers_route
from .signals import events_ingested

FIELDS = frozenset(
    {
        "message_id", "type", "occurred_at", "account_id", "account_domain", "contact_id", "contact_email",
        "source", "campaign_id", "url", "topic", "properties",
    }
)  # fmt: skip
EVENT_TYPES = frozenset(EventType.values)
SOURCES = frozenset(EventSource.values)
# Plain strings, not enum members: compared and COPYed once per event.
INTENT, FIRST_PARTY, THIRD_PARTY = (
    str(EventType.INTENT),
    str(EventSource.FIRST_PARTY),
    str(EventSource.THIRD_PARTY),
)
MAX_MESSAGE_ID = EngagementEvent._meta.get_field("message_id").max_length
MAX_TOPIC = EngagementEvent._meta.get_field("topic").max_length
MAX_URL = 2048
MAX_KEY = CampaignKey._meta.get_field("value").max_length
# Properties that name a campaign by one of its keys, most specific first: the first that matches wins,
# then the URL's utm_campaign.
KEY_PROPERTIES = (
    str(CampaignKey.Kind.EMAIL_ID),
    str(CampaignKey.Kind.AD_ID),
    str(CampaignKey.Kind.UTM_CAMPAIGN),
)
UTM_CAMPAIGN = str(CampaignKey.Kind.UTM_CAMPAIGN)
_UTM_IN_URL = UTM_CAMPAIGN + "="
MAX_FUTURE = datetime.timedelta(days=1)
MAX_ID = 2**63 - 1
UTC = datetime.UTC
REQUIRED = "This field is required."

STAGE_TABLE = "revops_ingest_stage"
STAGE_COLUMNS = (
    "message_id", "event_type", "occurred_at", "account_id", "contact_id", "source", "campaign_id",
    "url", "topic", "properties", "day", "key",
)  # fmt: skip
EVENT_COLUMNS = (
    "created", "updated", "message_id", "event_type", "occurred_at", "account_id", "contact_id", "source",
    "campaign_id", "url", "topic", "properties",
)  # fmt: skip


@dataclass
class ItemError:
    """What is wrong with one item of a batch (``index`` is ``None`` for the batch as a whole)."""

    index: int | None
    field: str
    message: str


class IngestValidationError(Exception):
    """The batch was refused before anything was written; ``errors`` lists every problem found."""

    def __init__(self, errors: list[ItemError]):
        self.errors = errors
        super().__init__(f"{len(errors)} error(s) in the event batch")


@dataclass
class IngestResult:
    """What one batch did: events received, newly written, already known, and records created."""

    received: int
    created: int
    duplicates: int
    accounts_created: int
    contacts_created: int


class _Event:
    """One validated item, with its identities resolved to ids as the batch goes along."""

    __slots__ = (
        "index", "message_id", "event_type", "occurred_at", "day", "key", "source", "url", "topic",
        "properties", "campaign_id", "account_id", "account_domain", "contact_id", "contact_email",
        "campaign_keys",
    )  # fmt: skip

    def __init__(self, index, message_id, event_type, occurred_at, source, url, topic, properties,
                 campaign_id, account_id, account_domain, contact_id, contact_email,
                 campaign_keys=None):  # fmt: skip
        self.index = index
        self.message_id: str = message_id
        self.event_type: str = event_type
        self.occurred_at: datetime.datetime = occurred_at
        self.day: datetime.date = occurred_at.date()
        self.key: str = _key(url, topic)
        self.source: str = source
        self.url: str = url
        self.topic: str = topic
        self.properties: str = properties  # as JSON text
        self.campaign_id: int | None = campaign_id
        self.account_id: int | None = account_id
        self.account_domain: str | None = account_domain
        self.contact_id: int | None = contact_id
        self.contact_email: str | None = contact_email
        # (kind, value) pairs that may name the campaign, in order of precedence; None: none given.
        self.campaign_keys: tuple[tuple[str, str], ...] | None = campaign_keys


_json_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

# Batches repeat the same domains, e-mails and pages: normalise each once per process.
_domain = lru_cache(maxsize=65_536)(normalize_domain)
_email = lru_cache(maxsize=65_536)(normalize_email)


@lru_cache(maxsize=65_536)
def _key(url: str, topic: str) -> str:
    return activity_key(event_type="", url=url, topic=topic)  # the key does not depend on the type


@lru_cache(maxsize=65_536)
def _email_ok(email: str) -> str:
    """The normalised e-mail, if its domain part is a valid domain too (it may found an account)."""
    email = _email(email)
    _domain(email_domain(email))
    return email


def _key_value(value: Any) -> str | None:
    """A property's value as ``CampaignKey`` stores it (lower-case text), or ``None`` if it cannot be one."""
    if type(value) is str:
        value = value.strip().lower()
    elif type(value) is int:  # not bool: True is no id
        value = str(value)
    elif type(value) is float and math.isfinite(value):
        value = str(int(value)) if value.is_integer() else repr(value)  # 123.0 from a tool's float ids
    else:
        return None
    # NUL: a URL's %00 decodes to one, and PostgreSQL refuses it in a query parameter.
    return value if value and len(value) <= MAX_KEY and "\x00" not in value else None


@lru_cache(maxsize=16_384)
def _utm_value(raw: str) -> str | None:
    """A query-string value decoded (``%20``, ``+``) and made a key value; campaigns repeat, URLs less."""
    return _key_value(unquote_plus(raw))


def _url_utm_campaign(url: str) -> str | None:
    """The first non-empty ``utm_campaign`` of the URL's query string, decoded and lower-cased.

    What ``parse_qsl(urlsplit(url).query)`` would find, at an eighth of its cost: a scan for the one
    parameter, and its value decoded once per process (URLs with click ids are all different).
    """
    query = url.partition("#")[0].partition("?")[2]
    start = query.find(_UTM_IN_URL)
    while start != -1:
        if start == 0 or query[start - 1] == "&":
            end = query.find("&", start)
            value = _utm_value(query[start + len(_UTM_IN_URL) : None if end == -1 else end])
            if value is not None:
                return value
        start = query.find(_UTM_IN_URL, start + 1)
    return None


def _campaign_keys(url: str, properties: Any) -> tuple[tuple[str, str], ...] | None:
    """The campaign keys an event carries, in order of precedence (properties, then the URL)."""
    keys = []
    if type(properties) is dict:
        for kind in KEY_PROPERTIES:
            if kind in properties and (value := _key_value(properties[kind])) is not None:
                keys.append((kind, value))
    if _UTM_IN_URL in url and (value := _url_utm_campaign(url)) is not None:
        keys.append((UTM_CAMPAIGN, value))
    return tuple(keys) or None


def account_name_from_domain(domain: str) -> str:
    """``acme-corp.co.uk`` → ``Acme Corp``: a readable placeholder until the account is enriched."""
    labels = domain.split(".")
    core = labels[-2]
    if len(labels) > 2 and len(labels[-1]) == 2 and core in {"co", "com", "org", "net", "ac", "gov", "edu"}:
        core = labels[-3]
    return core.replace("-", " ").title()[:200]


# --- validation -----------------------------------------------------------------------------------
def _optional_id(item: dict, field: str, index: int, errors: list[ItemError]) -> int | None:
    value = item.get(field)
    if value is None:
        return None
    if type(value) is not int or not 0 < value <= MAX_ID:
        errors.append(ItemError(index, field, "Must be a positive integer."))
        return None
    return value


def _optional_text(item: dict, field: str, index: int, errors: list[ItemError]) -> str:
    value = item.get(field)
    if value is None:
        return ""
    if type(value) is not str:
        errors.append(ItemError(index, field, "Must be a string."))
        return ""
    if "\x00" in value:
        errors.append(ItemError(index, field, "Must not contain NUL characters."))
        return ""
    return value


def _parse_item(index: int, item: Any, latest: datetime.datetime, errors: list[ItemError]) -> _Event | None:
    """Check one item; append its errors and return ``None``, or return the validated event."""
    if type(item) is not dict:
        errors.append(ItemError(index, "non_field_errors", "Each event must be a JSON object."))
        return None
    n_errors = len(errors)
    if not item.keys() <= FIELDS:
        for field in sorted(item.keys() - FIELDS):
            errors.append(ItemError(index, field, "Unknown field."))

    message_id = item.get("message_id")
    if message_id is None:
        errors.append(ItemError(index, "message_id", REQUIRED))
    elif type(message_id) is not str:
        errors.append(ItemError(index, "message_id", "Must be a string."))
    elif not message_id.strip() or len(message_id) > MAX_MESSAGE_ID or "\x00" in message_id:
        errors.append(ItemError(index, "message_id", f"Must be 1 to {MAX_MESSAGE_ID} characters."))

    event_type = item.get("type")
    if event_type is None:
        errors.append(ItemError(index, "type", REQUIRED))
    elif type(event_type) is not str or event_type not in EVENT_TYPES:
        errors.append(ItemError(index, "type", f"Must be one of: {', '.join(EventType.values)}."))

    occurred_at = item.get("occurred_at")
    if occurred_at is None:
        errors.append(ItemError(index, "occurred_at", REQUIRED))
    elif type(occurred_at) is not str:
        errors.append(ItemError(index, "occurred_at", "Must be an ISO 8601 date-time string."))
    else:
        try:
            parsed = datetime.datetime.fromisoformat(occurred_at)
        except ValueError:
            errors.append(ItemError(index, "occurred_at", "Not an ISO 8601 date-time."))
        else:
            if parsed.tzinfo is None or parsed.utcoffset() is None:
                errors.append(ItemError(index, "occurred_at", "Must include a time zone (e.g. Z or +02:00)."))
            else:
                try:
                    occurred_at = parsed.astimezone(UTC)
                except OverflowError:
                    errors.append(ItemError(index, "occurred_at", "Out of range."))
                else:
                    if occurred_at > latest:
                        errors.append(ItemError(index, "occurred_at", "Is more than a day in the future."))

    source = item.get("source")
    if source is not None and (type(source) is not str or source not in SOURCES):
        errors.append(ItemError(index, "source", f"Must be one of: {', '.join(EventSource.values)}."))

    url = _optional_text(item, "url", index, errors)
    if len(url) > MAX_URL:
        errors.append(ItemError(index, "url", f"Must be at most {MAX_URL} characters."))
    topic = _optional_text(item, "topic", index, errors).strip()
    if len(topic) > MAX_TOPIC:
        errors.append(ItemError(index, "topic", f"Must be at most {MAX_TOPIC} characters."))
    elif not topic and event_type == INTENT:
        errors.append(ItemError(index, "topic", "Intent events need a topic."))

    properties = fields = item.get("properties")
    if not properties:
        if properties is not None and type(properties) is not dict:
            errors.append(ItemError(index, "properties", "Must be a JSON object."))
        properties = "{}"
    elif type(properties) is not dict:
        errors.append(ItemError(index, "properties", "Must be a JSON object."))
    else:
        properties = _json_text(properties)
        if "\\u0000" in properties:
            errors.append(ItemError(index, "properties", "Must not contain NUL characters."))

    campaign_id = _optional_id(item, "campaign_id", index, errors)
    n_before_identity = len(errors)
    account_id = _optional_id(item, "account_id", index, errors)
    contact_id = _optional_id(item, "contact_id", index, errors)
    account_domain = _optional_text(item, "account_domain", index, errors) or None
    if account_domain is not None:
        try:
            account_domain = _domain(account_domain)
        except ValueError:
            errors.append(ItemError(index, "account_domain", "Not a valid domain."))
    contact_email = _optional_text(item, "contact_email", index, errors) or None
    if contact_email is not None:
        try:
            contact_email = _email_ok(contact_email)
        except ValueError:
            errors.append(ItemError(index, "contact_email", "Not a valid e-mail address."))
    if account_id is not None and account_domain is not None:
        errors.append(ItemError(index, "account_domain", "Give account_id or account_domain, not both."))
    if contact_id is not None and contact_email is not None:
        errors.append(ItemError(index, "contact_email", "Give contact_id or contact_email, not both."))
    if (
        account_id is None
        and account_domain is None
        and contact_id is None
        and contact_email is None
        and len(errors) == n_before_identity
    ):
        errors.append(
            ItemError(
                index,
                "account",
                "An event needs an account (account_id or account_domain) "
                "or a contact (contact_id or contact_email).",
            )
        )

    if len(errors) == n_errors and not (message_id + url + topic + properties).isascii():
        for field, value in (
            ("message_id", message_id),
            ("url", url),
            ("topic", topic),
            ("properties", properties),
        ):
            try:
                value.encode()
            except UnicodeEncodeError:  # a lone surrogate ("\\ud800"): PostgreSQL would refuse the batch
                errors.append(ItemError(index, field, "Must be valid Unicode text."))
    if len(errors) != n_errors:
        return None
    if source is None:
        source = THIRD_PARTY if event_type == INTENT else FIRST_PARTY
    keys = None
    # An explicit campaign wins; cheap tests spare the events that carry no key at all (plain `in`s
    # cost less than a set operation on the properties).
    if campaign_id is None and (
        _UTM_IN_URL in url
        or (fields and ("email_id" in fields or "ad_id" in fields or "utm_campaign" in fields))
    ):
        keys = _campaign_keys(url, fields)
    return _Event(
        index, message_id, event_type, occurred_at, source, url, topic, properties,
        campaign_id, account_id, account_domain, contact_id, contact_email, keys,
    )  # fmt: skip


def _in(column: str, values: Iterable[Any]) -> tuple[str, list[Any]]:
    """``column IN (values)`` as one parameter: an array on PostgreSQL, a JSON list on SQLite."""
    values = sorted(values)
    if is_postgres():
        return f"{column} = ANY(%s)", [values]
    return f"{column} IN (SELECT value FROM json_each(%s))", [json.dumps(values)]


def _select(sql: str, column: str, values: Iterable[Any]) -> list[tuple]:
    values = list(values)
    if not values:
        return []
    condition, params = _in(column, values)
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} WHERE {condition}", params)
        return cursor.fetchall()


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


class _Resolved:
    """What the database already knows about the batch's identities (read before writing)."""

    def __init__(self, events: list[_Event]):
        account_ids = {e.account_id for e in events if e.account_id is not None}
        contact_ids = {e.contact_id for e in events if e.contact_id is not None}
        campaign_ids = {e.campaign_id for e in events if e.campaign_id is not None}
        emails = {e.contact_email for e in events if e.contact_email is not None}
        accounts, contacts, campaigns = _table(Account), _table(Contact), _table(Campaign)
        self.account_ids = {row[0] for row in _select(f"SELECT id FROM {accounts}", "id", account_ids)}
        self.campaign_ids = {row[0] for row in _select(f"SELECT id FROM {campaigns}", "id", campaign_ids)}
        # contact id -> its account id (or None), and e-mail -> (contact id, account id)
        self.contact_accounts: dict[int, int | None] = dict(
            _select(f"SELECT id, account_id FROM {contacts}", "id", contact_ids)
        )
        by_email = _select(f"SELECT id, email, account_id FROM {contacts}", "email", emails)
        self.emails: dict[str, tuple[int, int | None]] = {email: (pk, acc) for pk, email, acc in by_email}
        # A new contact belongs to the account of its first event: an id, a domain, or else the
        # domain of its e-mail (no account for free mail).
        domains = {e.account_domain for e in events if e.account_domain is not None}
        self.new_contacts: dict[str, tuple[int | None, str | None]] = {}
        for e in events:
            email = e.contact_email
            if email is None or email in self.emails or email in self.new_contacts:
                continue
            domain = e.account_domain
            if e.account_id is None and domain is None:
                domain = email_domain(email)
                if domain in FREE_MAIL_DOMAINS:
                    domain = None
                else:
                    domains.add(domain)
            self.new_contacts[email] = (e.account_id, domain)
        self.domains: dict[str, int] = {
            domain: pk for pk, domain in _select(f"SELECT id, domain FROM {accounts}", "domain", domains)
        }
        self.new_domains = sorted(domains - self.domains.keys())
        # The campaigns named by key: one query for every value in the batch, none if no event has one.
        self.keyed = [e for e in events if e.campaign_keys is not None]
        self.campaign_keys: dict[tuple[str, str], int] = {}
        if self.keyed:
            values = {value for e in self.keyed for _, value in e.campaign_keys}
            condition, params = _in("value", values)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT kind, value, campaign_id FROM {_table(CampaignKey)} "
                    f"WHERE kind IN ({', '.join(['%s'] * len(KEY_PROPERTIES))}) AND {condition}",
                    [*KEY_PROPERTIES, *params],
                )
                self.campaign_keys = {(kind, value): pk for kind, value, pk in cursor.fetchall()}

    def errors(self, events: list[_Event]) -> list[ItemError]:
        errors = []
        for e in events:
            if e.account_id is not None and e.account_id not in self.account_ids:
                errors.append(ItemError(e.index, "account_id", f"No account with id {e.account_id}."))
            if e.contact_id is not None and e.contact_id not in self.contact_accounts:
                errors.append(ItemError(e.index, "contact_id", f"No contact with id {e.contact_id}."))
            if e.campaign_id is not None and e.campaign_id not in self.campaign_ids:
                errors.append(ItemError(e.index, "campaign_id", f"No campaign with id {e.campaign_id}."))
            if e.account_domain in FREE_MAIL_DOMAINS and e.account_domain not in self.domains:
                errors.append(
                    ItemError(
                        e.index,
                        "account_domain",
                        f"{e.account_domain} is a free-mail provider, not a company: send the contact alone.",
                    )
                )
        return errors


def _batch_validate(items: list[dict], max_items: int | None) -> tuple[list[_Event], _Resolved]:
    if type(items) is not list:
        raise IngestValidationError([ItemError(None, "events", "Must be a list of event objects.")])
    if max_items is not None and len(items) > max_items:
        raise IngestValidationError(
            [ItemError(None, "events", f"At most {max_items} events per batch; got {len(items)}.")]
        )
    latest = timezone.now() + MAX_FUTURE
    errors: list[ItemError] = []
    events: list[_Event] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        event = _parse_item(index, item, latest, errors)
        if event is None:
            continue
        first = seen.setdefault(event.message_id, index)
        if first != index:
            errors.append(ItemError(index, "message_id", f"Duplicate of the message_id of event {first}."))
            continue
        events.append(event)
    resolved = _Resolved(events)
    errors.extend(resolved.errors(events))
    if errors:
        errors.sort(key=lambda e: -1 if e.index is None else e.index)
        raise IngestValidationError(errors)
    return events, resolved


def events_validate(*, items: list[dict], max_items: int | None = settings.EVENTS_BATCH_MAX) -> None:
    """Check a whole batch without writing (a dry run); raise ``IngestValidationError`` with every error."""
    _batch_validate(items, max_items)


# --- writing --------------------------------------------------------------------------------------
def _insert_new(
    model: type[models.Model],
    unique: str,
    varying: Sequence[str],
    rows: list[tuple],
    returning: Sequence[str],
) -> list[tuple]:
    """INSERT rows (values of the ``varying`` fields; the others take their defaults) in ``unique``
    order, skipping those whose ``unique`` value exists; return the ``returning`` columns of the
    rows really inserted. One statement, whatever the number of rows: the rows travel as arrays
    (PostgreSQL) or as one JSON list (SQLite).
    """
    template = model()
    quote = connection.ops.quote_name
    postgres = is_postgres()
    columns, select, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.name in varying:
            continue
        columns.append(quote(field.column))
        select.append(f"%s::{field.db_type(connection)}" if postgres else "%s")
        params.append(field.get_db_prep_save(field.pre_save(template, True), connection))
    fields = [model._meta.get_field(name) for name in varying]
    columns += [quote(f.column) for f in fields]
    rows = sorted(rows, key=lambda row: row[varying.index(unique)])
    if postgres:
        names = [f"c{n}" for n in range(len(fields))]
        select += [f"u.{name}" for name in names]
        arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)  # a FK's type is its target's
        source = f"unnest({arrays}) WITH ORDINALITY AS u({', '.join(names)}, n) ORDER BY n"
        params += [list(column) for column in zip(*rows, strict=True)]
    else:
        select += [f"json_extract(value, '$[{n}]')" for n in range(len(fields))]
        source = "json_each(%s) WHERE true"  # WHERE: SQLite's INSERT … SELECT … ON CONFLICT needs it
        params.append(json.dumps(rows))
    conflict = quote(model._meta.get_field(unique).column)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {_table(model)} ({', '.join(columns)}) SELECT {', '.join(select)} FROM {source} "
            f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {', '.join(returning)}",
            params,
        )
        return cursor.fetchall()


def _accounts_create(resolved: _Resolved) -> list[int]:
    """Create the accounts of unknown domains (race-safe); fill ``resolved.domains``; return their ids."""
    if not resolved.new_domains:
        return []
    rows = [(account_name_from_domain(d), d) for d in resolved.new_domains]
    created = _insert_new(Account, "domain", ("name", "domain"), rows, ("id", "domain"))
    resolved.domains.update((domain, pk) for pk, domain in created)
    missing = [d for d in resolved.new_domains if d not in resolved.domains]
    if missing:  # created meanwhile by a concurrent batch
        again = _select(f"SELECT id, domain FROM {_table(Account)}", "domain", missing)
        resolved.domains.update((domain, pk) for pk, domain in again)
    return [pk for pk, _ in created]


def _contacts_create(resolved: _Resolved) -> list[int]:
    """Create the contacts of unknown e-mails at the account of their first event; return their ids."""
    if not resolved.new_contacts:
        return []
    rows = [
        (email, resolved.domains[domain] if domain else account_id)
        for email, (account_id, domain) in resolved.new_contacts.items()
    ]
    created = _insert_new(Contact, "email", ("email", "account"), rows, ("id", "email", "account_id"))
    resolved.emails.update((email, (pk, account_id)) for pk, email, account_id in created)
    missing = [email for email in resolved.new_contacts if email not in resolved.emails]
    if missing:  # created meanwhile by a concurrent batch: use that contact and its account
        again = _select(f"SELECT id, email, account_id FROM {_table(Contact)}", "email", missing)
        resolved.emails.update((email, (pk, account_id)) for pk, email, account_id in again)
    return [pk for pk, _, _ in created]


def _identities_resolve(resolved: _Resolved, events: list[_Event]) -> None:
    """Turn domains and e-mails into ids; an event with only a contact takes the contact's account."""
    for e in events:
        if e.account_domain is not None:
            e.account_id = resolved.domains[e.account_domain]
        if e.contact_email is not None:
            e.contact_id, contact_account = resolved.emails[e.contact_email]
        elif e.contact_id is not None:
            contact_account = resolved.contact_accounts[e.contact_id]
        else:
            continue
        if e.account_id is None:
            e.account_id = contact_account


def _campaigns_resolve(resolved: _Resolved) -> None:
    """Tie each event without a campaign_id to the campaign of its first known key (unknown: none)."""
    known = resolved.campaign_keys
    if not known:
        return
    for e in resolved.keyed:
        for key in e.campaign_keys:
            if (campaign_id := known.get(key)) is not None:
                e.campaign_id = campaign_id
                break


_CREATE_STAGE = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE_TABLE} (
    message_id text NOT NULL, event_type text NOT NULL, occurred_at timestamptz NOT NULL,
    account_id bigint, contact_id bigint, source text NOT NULL, campaign_id bigint,
    url text NOT NULL, topic text NOT NULL, properties jsonb NOT NULL, day date NOT NULL, key text NOT NULL
) ON COMMIT DELETE ROWS
"""


@cache
def _write_sql() -> str:
    """One statement: insert the new events, fold exactly those into both rollups (in key order)."""
    events, acc, con = _table(EngagementEvent), _table(AccountActivityDaily), _table(ContactActivityDaily)
    columns = ", ".join(EVENT_COLUMNS)
    return f"""
WITH inserted AS (
    INSERT INTO {events} ({columns})
    SELECT %(now)s, %(now)s, message_id, event_type, occurred_at, account_id, contact_id, source,
           campaign_id, url, topic, properties
    FROM {STAGE_TABLE} ORDER BY message_id
    ON CONFLICT (message_id) DO NOTHING
    RETURNING message_id
), fresh AS (
    SELECT s.account_id, s.contact_id, s.event_type, s.day, s.key
    FROM {STAGE_TABLE} s JOIN inserted i ON i.message_id = s.message_id
), account_rollup AS (
    INSERT INTO {acc} AS r (account_id, day, event_type, key, count, known_count)
    SELECT account_id, day, event_type, key, count(*), count(contact_id) FROM fresh
    WHERE account_id IS NOT NULL
    GROUP BY account_id, day, event_type, key ORDER BY account_id, day, event_type, key
    ON CONFLICT (account_id, day, event_type, key)
    DO UPDATE SET count = r.count + EXCLUDED.count, known_count = r.known_count + EXCLUDED.known_count
    RETURNING 1
), contact_rollup AS (
    INSERT INTO {con} AS r (contact_id, account_id, day, event_type, key, count)
    SELECT contact_id, max(account_id), day, event_type, key, count(*) FROM fresh
    WHERE contact_id IS NOT NULL
    GROUP BY contact_id, day, event_type, key ORDER BY contact_id, day, event_type, key
    ON CONFLICT (contact_id, day, event_type, key)
    DO UPDATE SET count = r.count + EXCLUDED.count, account_id = COALESCE(EXCLUDED.account_id, r.account_id)
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM account_rollup),
       (SELECT count(*) FROM contact_rollup)
"""


# Sessions (psycopg connections) whose staging table is known to exist: created once per session.
_staged: weakref.WeakSet = weakref.WeakSet()


def _events_write_postgres(events: list[_Event], now: datetime.datetime, nested: bool) -> int:
    """COPY into the session's staging table, then the one insert-and-fold statement."""
    session = connection.connection
    with connection.cursor() as cursor:
        if session not in _staged:
            cursor.execute(_CREATE_STAGE)
            # Only once committed: a rolled-back transaction takes the new table with it.
            transaction.on_commit(lambda: _staged.add(session))
        if nested:  # inside a caller's transaction the stage may still hold an earlier batch
            cursor.execute(f"DELETE FROM {STAGE_TABLE}")
        # Plain Python values: psycopg's C dumpers format them (what revops.bulk does, minus its
        # per-value conversion, which cost more than the COPY itself).
        with cursor.cursor.copy(f"COPY {STAGE_TABLE} ({', '.join(STAGE_COLUMNS)}) FROM STDIN") as copy:
            write = copy.write_row
            for e in events:
                write(
                    (
                        e.message_id, e.event_type, e.occurred_at, e.account_id, e.contact_id, e.source,
                        e.campaign_id, e.url, e.topic, e.properties, e.day, e.key,
                    )
                )  # fmt: skip
        cursor.execute(_write_sql(), {"now": now})
        return cursor.fetchone()[0]


_SQLITE_ACCOUNT_UPSERT = """
INSERT INTO accounts_accountactivitydaily (account_id, day, event_type, key, count, known_count)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (account_id, day, event_type, key)
DO UPDATE SET count = count + excluded.count, known_count = known_count + excluded.known_count
"""
_SQLITE_CONTACT_UPSERT = """
INSERT INTO accounts_contactactivitydaily (contact_id, day, event_type, key, account_id, count)
VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (contact_id, day, event_type, key)
DO UPDATE SET count = count + excluded.count, account_id = COALESCE(excluded.account_id, account_id)
"""


def _events_write_sqlite(events: list[_Event], now: datetime.datetime) -> int:
    """Writers are serialised on SQLite: skip known ids, batch-insert the rest, upsert summed rollups."""
    ops = connection.ops
    sql = f"SELECT message_id FROM {_table(EngagementEvent)}"
    existing = {row[0] for row in _select(sql, "message_id", (e.message_id for e in events))}
    fresh = [e for e in events if e.message_id not in existing]
    stamp = ops.adapt_datetimefield_value(now)
    bulk_insert(
        EngagementEvent._meta.db_table,
        EVENT_COLUMNS,
        (
            (
                stamp, stamp, e.message_id, e.event_type, ops.adapt_datetimefield_value(e.occurred_at),
                e.account_id, e.contact_id, e.source, e.campaign_id, e.url, e.topic, e.properties,
            )
            for e in fresh
        ),
    )  # fmt: skip
    account_rows: dict[tuple, list[int]] = {}
    contact_rows: dict[tuple, list] = {}
    for e in fresh:
        day = e.day.isoformat()
        if e.account_id is not None:
            counts = account_rows.setdefault((e.account_id, day, e.event_type, e.key), [0, 0])
            counts[0] += 1
            counts[1] += e.contact_id is not None
        if e.contact_id is not None:
            row = contact_rows.setdefault((e.contact_id, day, e.event_type, e.key), [None, 0])
            if e.account_id is not None and (row[0] is None or e.account_id > row[0]):
                row[0] = e.account_id  # max(account_id), as on PostgreSQL
            row[1] += 1
    with connection.cursor() as cursor:
        if account_rows:
            rows = [(*key, count, known) for key, (count, known) in sorted(account_rows.items())]
            cursor.executemany(_SQLITE_ACCOUNT_UPSERT, rows)
        if contact_rows:
            rows = [(*key, account_id, count) for key, (account_id, count) in sorted(contact_rows.items())]
            cursor.executemany(_SQLITE_CONTACT_UPSERT, rows)
    return len(fresh)


def _ingest_count(result: IngestResult) -> None:
    EVENTS_INGESTED.labels(result="created").inc(result.created)
    EVENTS_INGESTED.labels(result="duplicate").inc(result.duplicates)


def events_ingest(
    *, actor, items: list[dict], max_items: int | None = settings.EVENTS_BATCH_MAX
) -> IngestResult:
    """Validate a batch of events as a whole, then write it in one transaction, idempotently.

    Raises ``IngestValidationError`` (listing every error, by item index and field) before anything
    is written. Replayed message ids are counted as duplicates and change nothing.
    """
    events, resolved = _batch_validate(items, max_items)
    nested = connection.in_atomic_block
    now = timezone.now()
    with transaction.atomic():
        new_accounts = _accounts_create(resolved)
        new_contacts = _contacts_create(resolved)
        # Who owns the newcomers: set-based, a few queries per batch whatever its size.
        newcomers_route(account_ids=new_accounts, contact_ids=new_contacts, actor=actor, reason="ingested")
        _identities_resolve(resolved, events)
        _campaigns_resolve(resolved)
        if not events:
            created = 0
        elif is_postgres():
            created = _events_write_postgres(events, now, nested)
        else:
            created = _events_write_sqlite(events, now)
        if created:
            events_ingested.send(
                sender=EngagementEvent,
                contact_ids={e.contact_id for e in events if e.contact_id is not None},
                account_ids={e.account_id for e in events if e.account_id is not None},
            )
        result = IngestResult(
            received=len(items),
            created=created,
            duplicates=len(events) - created,
            accounts_created=len(new_accounts),
            contacts_created=len(new_contacts),
        )
        # Counted once the batch is committed (/metrics): a batch rolled back accepted nothing.
        transaction.on_commit(lambda: _ingest_count(result))
        change_record_create(
            actor=actor,
            action=ChangeAction.INGEST,
            model=EngagementEvent,
            object_repr=f"Batch of {len(items)} events",
            after=result.__dict__.copy(),
        )
    return result
