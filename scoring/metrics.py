"""The figures marketing and sales read, each defined once (reads only).

Every page, API answer and command that shows one of these figures calls the function here, and labels
it with the words below, so that two different figures are never shown under one name. The definitions:

Lifecycle, now (``contacts_by_stage``, ``contacts_in_stage``)
    **Currently <stage>**: contacts whose lifecycle stage is <stage> now. This is the contacts list (and
    ``/api/contacts/``) filtered by ``lifecycle_stage=<stage>``: the same FilterSet counts it.

Lifecycle, in a window (``stage_entries``, ``lifecycle_funnel``, ``funnel_conversion``)
    **Entered <stage> between since and until** (dates inclusive, days in the project's time zone):
    distinct contacts with at least one move into <stage> (a ``LifecycleTransition``) in the window, each
    counted once, at its first entry in the window. A move an import recorded (decision "import": the
    stage another system had, on the day of the import) is not an entry: it says nothing of when the
    contact got there, and it is not counted as an exit to Recycled or Disqualified either. *Lead* is
    entered by creation: **new leads** are the contacts created in the window (a contact reopened as a
    lead is counted under "reopened").
    A funnel step "A → B" takes the contacts that entered A in the window and counts those that reached B
    at or after that entry, at any time up to now (so a late conversion still counts for its cohort).
    The conversion chain MQL → SAL → SQL → opportunity → won is one cohort: the contacts that entered MQL
    in the window, and how many of them reached each later stage at or after their MQL entry, up to now.
    *Opportunity* and *won* are contact-level: a contact's move into the lifecycle stage Opportunity
    (an opportunity opened on its account after it became an SQL) and into Customer (an opportunity of
    its account was won after it became an SQL or Opportunity), as the lifecycle engine records them.

The rules scores (``MEETS_MQL_DEFINITION``)
    **Meets the MQL definition**: contacts whose rules score in a rescore met the version's MQL definition
    (required fields present, not excluded, fit and engagement at or above the thresholds), whatever their
    stage. Only Leads and Recycled contacts move to MQL because of it, so it is not "Currently MQL": the
    ``rescore`` command prints it under this name, beside "Currently MQL".

Accounts (``account_engagement``, ``persona_engagement``, ``accounts_in_market``, ``buying_stage_summary``)
    **Account engagement**: an account's stored rules engagement score (its contacts' engagement rolled
    up, with anonymous activity resolved to it), averaged and the median over the scored accounts.
    **Persona engagement**: per persona, the contacts mapped to it that have a stored rules score, those
    engaged (engagement score above zero), their average engagement and the accounts with at least one
    engaged contact of that persona.
    **Accounts in market**: accounts whose stored learned score is *qualified* (fits and is in market under
    the qualification policy that scored it): the in-market list filtered ``qualified=true``, the same
    queryset and FilterSet; and per buying stage.

Deals (``deal_velocity``)
    **Deal velocity**: per calendar month of the close date, the won opportunities closed that month and
    the median days from their start — ``coalesce(created_date, engaged_date)`` — to their close date.
    Won opportunities without a start or a close date are counted as ``undated`` and left out of the
    median.

Sizes: millions of contacts and transitions, so each figure is one or a few grouped queries; medians are
found by the database (``percentile_cont(0.5)`` in the same query on PostgreSQL, ``ORDER BY … LIMIT 2
OFFSET k`` elsewhere) except deal velocity's, over the won opportunities of a window (thousands), which
is computed here. The funnel's steps out of one stage are one query.
"""

from __future__ import annotations

import datetime
import statistics
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.choices import LifecycleStage, OpportunityStage
from accounts.filtersets import ContactFilterSet
from accounts.models import Account, Contact, Opportunity, Persona
from revops.safecache import cache_get, cache_set
from scoring.choices import BuyingStage, LifecycleDecision
from scoring.filtersets import AccountModelScoreFilterSet
from scoring.learned.selectors import account_model_scores
from scoring.models import AccountModelScore, AccountRuleScore, ContactScore, LifecycleTransition
from scoring.selectors import DAY, day_start

# Figures over millions of rows that a page may show a while after computing them (``figure_kept``).
FIGURES_GENERATION_KEY = "metrics:figures:generation"

STAGES = [value for value, _label in LifecycleStage.choices]
STAGE_LABELS = dict(LifecycleStage.choices)

# The rescore command's figure, under its own name (see the module's docstring).
MEETS_MQL_DEFINITION = "meets_mql_definition"
MEETS_MQL_DEFINITION_LABEL = "Scored as meeting the MQL definition (any stage)"


# --- words --------------------------------------------------------------------------------------------
def stage_now_label(stage: str) -> str:
    """ "Currently MQL": the label of ``contacts_in_stage``."""
    return f"Currently {STAGE_LABELS[stage]}"


def stage_entries_label(stage: str, since: datetime.date, until: datetime.date) -> str:
    """ "Entered MQL between 1 Jan 2025 and 31 Jan 2025" (new leads: "Created as leads between …")."""
    period = f"between {since:%-d %b %Y} and {until:%-d %b %Y}"
    if stage == LifecycleStage.LEAD:
        return f"New leads (contacts created) {period}"
    return f"Entered {STAGE_LABELS[stage]} {period}"


def _stage_check(stage: str) -> str:
    if stage not in STAGE_LABELS:
        raise ValueError(f"unknown lifecycle stage {stage!r}: one of {', '.join(STAGES)}")
    return str(stage)


def _contacts(user) -> QuerySet[Contact]:
    return Contact.objects.all() if user is None else Contact.objects.for_user(user)


# --- figures kept a while ------------------------------------------------------------------------------
def figures_invalidate() -> None:
    """Forget every kept figure (``figure_kept``): a full rescore has rewritten the scores they count."""
    cache_set(FIGURES_GENERATION_KEY, uuid.uuid4().hex, None)


def figure_kept(
    name: str, compute: Callable[[], Any], *, user=None, version: Callable[[], str] | None = None
) -> tuple[Any, datetime.datetime]:
    """``compute()`` (one of the definitions here) as computed at most ``METRICS_KEEP_SECONDS`` ago, and
    when it was: ``(value, as_of)``. For pages whose figure aggregates millions of rows (persona
    engagement reads every contact's score): the figure is the definition's, only as of a moment ago.
    Forgotten after every full rescore (``figures_invalidate``, on ``rescore_finished``) and whenever
    ``version()`` changes (what the figure reads, e.g. ``lifecycle_version``); kept per database and per
    user (their scoping). ``METRICS_KEEP_SECONDS = 0`` computes it every time (and asks no version)."""
    seconds = settings.METRICS_KEEP_SECONDS
    if not seconds:
        return compute(), timezone.now()
    generation = cache_get(FIGURES_GENERATION_KEY) or "0"
    scope = "all" if user is None else f"user-{user.pk}"
    database = connection.settings_dict.get("NAME")
    key = f"metrics:figures:{database}:{generation}:{name}:{scope}:{version() if version else ''}"
    kept = cache_get(key)
    if kept is not None:
        return kept
    kept = (compute(), timezone.now())
    cache_set(key, kept, seconds)
    return kept


@contextmanager
def without_jit() -> Iterator[None]:
    """Run the block with PostgreSQL's JIT compilation off (a transaction of its own, ``SET LOCAL``): the
    window figures' correlated subqueries are estimated costly enough to be compiled, and compiling them
    takes longer than running them (a funnel: 5.3 s with, 2.6 s without, at 100,000 accounts)."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        yield


def lifecycle_version() -> str:
    """What the window figures read, in two index probes: the newest lifecycle move and the newest
    contact. A new move or a new contact changes it (a deletion does not: kept figures then wait for
    their time to run out)."""
    moves = LifecycleTransition.objects.aggregate(n=Max("id"))["n"]
    contacts = Contact.objects.aggregate(n=Max("id"))["n"]
    return f"{moves or 0}-{contacts or 0}"


# --- lifecycle, now -----------------------------------------------------------------------------------
def contacts_in_stage(stage: str, *, user=None) -> int:
    """Currently <stage>: contacts (that ``user`` may see; all without one) whose lifecycle stage is
    ``stage`` now — the contacts list and ``/api/contacts/`` filtered by ``lifecycle_stage``, through the
    same FilterSet."""
    filterset = ContactFilterSet({"lifecycle_stage": [_stage_check(stage)]}, queryset=_contacts(user))
    return filterset.qs.order_by().count()


def contacts_by_stage(*, user=None) -> dict[str, int]:
    """Currently <stage> for every stage at once (one grouped query): ``{stage: contacts}``, every stage
    present (0 when none). Equal to ``contacts_in_stage`` stage by stage (a property test holds it)."""
    rows = dict(
        _contacts(user)
        .order_by()
        .values("lifecycle_stage")
        .annotate(n=Count("pk"))
        .values_list("lifecycle_stage", "n")
    )
    return {stage: rows.get(stage, 0) for stage in STAGES}


# --- lifecycle, in a window ---------------------------------------------------------------------------
FUNNEL_STEPS: list[tuple[str, str, bool]] = [
    # (from stage, to stage, only direct moves from the from-stage count)
    (LifecycleStage.LEAD, LifecycleStage.MQL, False),
    (LifecycleStage.MQL, LifecycleStage.SAL, False),
    (LifecycleStage.SAL, LifecycleStage.SQL, False),
    (LifecycleStage.MQL, LifecycleStage.SQL, True),  # teams that switched SAL off
    (LifecycleStage.SQL, LifecycleStage.OPPORTUNITY, False),
    (LifecycleStage.OPPORTUNITY, LifecycleStage.CUSTOMER, False),
]
# The conversion chain sales reads: one cohort (entered MQL in the window) and the stages it reached.
CONVERSION_CHAIN = [
    LifecycleStage.MQL,
    LifecycleStage.SAL,
    LifecycleStage.SQL,
    LifecycleStage.OPPORTUNITY,
    LifecycleStage.CUSTOMER,
]
CHAIN_LABELS = {LifecycleStage.OPPORTUNITY: "Opportunity", LifecycleStage.CUSTOMER: "Won (customer)"}
# Where the funnel's exits go: counted as moves into these stages in the window.
EXIT_STAGES = {
    "recycled": LifecycleStage.RECYCLED,
    "disqualified": LifecycleStage.DISQUALIFIED,
    "reopened": LifecycleStage.LEAD,
}


def window(since: datetime.date, until: datetime.date) -> tuple[datetime.datetime, datetime.datetime]:
    """``[start, end)`` of the days ``since`` … ``until`` (inclusive), in the project's time zone."""
    if since > until:
        raise ValueError(f"since ({since}) is after until ({until})")
    return day_start(since), day_start(until + DAY)


def stage_entry_rows(
    stage: str, start: datetime.datetime, end: datetime.datetime
) -> tuple[QuerySet, str, str]:
    """Each contact's first entry into ``stage`` in ``[start, end)``: (queryset with one row per contact,
    the name of its contact column, the name of its entry-time column).

    A contact enters *lead* when it is created; every other stage by a transition into it.
    """
    _stage_check(stage)
    if stage == LifecycleStage.LEAD:
        return Contact.objects.filter(created__gte=start, created__lt=end), "pk", "created"
    moves = LifecycleTransition.objects.exclude(decision=LifecycleDecision.IMPORT)
    in_period = moves.filter(to_stage=stage, at__gte=start, at__lt=end)
    earlier = moves.filter(contact=OuterRef("contact"), to_stage=stage, at__gte=start).filter(
        Q(at__lt=OuterRef("at")) | Q(at=OuterRef("at"), id__lt=OuterRef("id"))
    )
    return in_period.filter(~Exists(earlier)), "contact_id", "at"


def stage_entries(stage: str, *, since: datetime.date, until: datetime.date) -> int:
    """Entered <stage> between ``since`` and ``until`` (inclusive): distinct contacts with a move into
    ``stage`` in the window (for *lead*: contacts created in it). The funnel's "entered" of every step
    from ``stage`` is this figure."""
    start, end = window(since, until)
    rows, _contact, _at = stage_entry_rows(stage, start, end)
    return rows.order_by().count()


def _reached(contact_ref: str, entered_ref: str, to_stage: str, direct_from: str | None = None) -> Subquery:
    """The first move of the outer row's contact into ``to_stage`` at or after its entry."""
    moves = LifecycleTransition.objects.filter(
        contact=OuterRef(contact_ref), to_stage=to_stage, at__gte=OuterRef(entered_ref)
    )
    if direct_from is not None:
        moves = moves.filter(from_stage=direct_from)
    return Subquery(moves.order_by("at", "id").values("at")[:1])


def _as_days(value: datetime.timedelta | float | int) -> float:
    if isinstance(value, datetime.timedelta):
        return value.total_seconds() / 86400
    return float(value) / 86400e6  # microseconds, should a backend hand back a number


def _median_days(qs: QuerySet, field: str, n: int) -> float | None:
    """The median of ``field`` (a duration) over the ``n`` rows of ``qs``: the middle one or two values,
    found by the database with ORDER BY … LIMIT 2 OFFSET k."""
    if not n:
        return None
    middle = list(qs.order_by(field).values_list(field, flat=True)[(n - 1) // 2 : n // 2 + 1])
    return sum((_as_days(d) for d in middle), 0.0) / len(middle)


class _Median(Aggregate):
    """The median of a duration on PostgreSQL: ``percentile_cont(0.5)``, the mean of the middle one or two
    values — ``_median_days``'s figure, found in the same pass as the counts."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()


def _steps_from(
    from_stage: str, targets: list[tuple[str, bool]], start: datetime.datetime, end: datetime.datetime
) -> list[dict[str, Any]]:
    """The funnel's steps out of ``from_stage`` (``targets``: (to stage, direct only)) in one query: the
    entries once, each target's first move after them, their counts, means and (PostgreSQL) medians."""
    entries, contact_ref, entered_ref = stage_entry_rows(from_stage, start, end)
    qs = entries.annotate(
        **{
            f"reached_{n}": _reached(contact_ref, entered_ref, to, from_stage if direct else None)
            for n, (to, direct) in enumerate(targets)
        }
    )
    in_db_median = connection.vendor == "postgresql"
    aggregates: dict[str, Any] = {"entered": Count("pk")}
    for n in range(len(targets)):
        days = ExpressionWrapper(F(f"reached_{n}") - F(entered_ref), output_field=DurationField())
        aggregates[f"converted_{n}"] = Count(f"reached_{n}")
        aggregates[f"mean_{n}"] = Avg(days, filter=Q(**{f"reached_{n}__isnull": False}))
        if in_db_median:
            aggregates[f"median_{n}"] = _Median(days)
    totals = qs.aggregate(**aggregates)
    entered, steps = totals["entered"], []
    for n, (to_stage, direct) in enumerate(targets):
        converted, mean = totals[f"converted_{n}"], totals[f"mean_{n}"]
        if in_db_median:
            median = _as_days(totals[f"median_{n}"]) if totals[f"median_{n}"] is not None else None
        else:
            days = ExpressionWrapper(F(f"reached_{n}") - F(entered_ref), output_field=DurationField())
            reached = qs.annotate(days=days).filter(**{f"reached_{n}__isnull": False})
            median = _median_days(reached, "days", converted)
        steps.append(
            {
                "from": from_stage,
                "to": to_stage,
                "label": f"{STAGE_LABELS[from_stage]} → {STAGE_LABELS[to_stage]}"
                + (" (SAL skipped)" if direct else ""),
                "direct_only": direct,
                "entered": entered,
                "converted": converted,
                "rate": round(converted / entered, 4) if entered else None,
                "median_days": round(median, 2) if median is not None else None,
                "mean_days": round(_as_days(mean), 2) if mean is not None else None,
            }
        )
    return steps


def lifecycle_funnel(*, since: datetime.date, until: datetime.date) -> dict[str, Any]:
    """Conversion and velocity between consecutive stages for contacts entering a stage in the window.

    For each step: ``entered`` (``stage_entries`` of the from-stage), ``converted`` (of those, the ones
    that reached the to-stage at or after that entry, at any time up to now), ``rate``, and the median
    and mean days from entry to the to-stage; ``entered_label`` and ``converted_label`` say so in words.
    The ``mql → sql`` step counts direct moves only (SAL switched off). ``exits``: the moves to recycled,
    disqualified and back to lead (reopened) in the window (moves and distinct contacts); ``entries``:
    ``stage_entries`` of lead and of every stage of the conversion chain, ``{stage: contacts}``.
    """
    start, end = window(since, until)
    # The steps out of one stage share their entries: one query per from-stage (MQL has two steps).
    targets: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for a, b, direct in FUNNEL_STEPS:
        targets[a].append((b, direct))
    computed = {
        (step["from"], step["to"], step["direct_only"]): step
        for a, those in targets.items()
        for step in _steps_from(a, those, start, end)
    }
    steps = []
    for a, b, direct in FUNNEL_STEPS:
        step = computed[(a, b, direct)]
        step["entered_label"] = stage_entries_label(a, since, until)
        step["converted_label"] = f"of them, reached {STAGE_LABELS[b]} by now" + (
            f" straight from {STAGE_LABELS[a]}" if direct else ""
        )
        steps.append(step)
    exits = {
        row["to_stage"]: row
        for row in LifecycleTransition.objects.filter(
            at__gte=start, at__lt=end, to_stage__in=list(EXIT_STAGES.values())
        )
        .exclude(decision=LifecycleDecision.IMPORT)
        .values("to_stage")
        .annotate(transitions=Count("id"), contacts=Count("contact", distinct=True))
        .order_by()
    }

    def _exit(stage: str) -> dict[str, int]:
        row = exits.get(stage, {})
        return {"transitions": row.get("transitions", 0), "contacts": row.get("contacts", 0)}

    # Entered <stage> in the window, for each stage of the chain: the steps' cohorts, and Customer.
    entries = {step["from"]: step["entered"] for step in steps}
    customer, _contact, _at = stage_entry_rows(LifecycleStage.CUSTOMER, start, end)
    entries[LifecycleStage.CUSTOMER] = customer.order_by().count()
    return {
        "since": since,
        "until": until,
        "steps": steps,
        "entries": {str(stage): entries[stage] for stage in (LifecycleStage.LEAD, *CONVERSION_CHAIN)},
        **{name: _exit(stage) for name, stage in EXIT_STAGES.items()},
    }


def funnel_conversion(*, since: datetime.date, until: datetime.date) -> dict[str, Any]:
    """The conversion chain MQL → SAL → SQL → opportunity → won, as one cohort.

    The cohort: contacts that entered MQL between ``since`` and ``until`` (``stage_entries(MQL)``), each
    at its first entry in the window. For each later stage: how many of the cohort moved into it at or
    after their MQL entry, up to now (a contact that skipped SAL still counts as reaching SQL).
    Opportunity and won are the contact's lifecycle moves into Opportunity and Customer (see the module
    docstring). Returns ``{"since", "until", "cohort", "stages": [{stage, label, contacts,
    rate_of_cohort, rate_of_previous}]}``.
    """
    start, end = window(since, until)
    entries, contact_ref, entered_ref = stage_entry_rows(LifecycleStage.MQL, start, end)
    later = CONVERSION_CHAIN[1:]
    annotated = entries.annotate(
        **{f"reached_{stage}": _reached(contact_ref, entered_ref, stage) for stage in later}
    )
    totals = annotated.aggregate(cohort=Count("pk"), **{stage: Count(f"reached_{stage}") for stage in later})
    cohort = totals["cohort"]
    stages, previous = [], cohort
    for stage in CONVERSION_CHAIN:
        n = cohort if stage == LifecycleStage.MQL else totals[stage]
        stages.append(
            {
                "stage": str(stage),
                "label": CHAIN_LABELS.get(stage, STAGE_LABELS[stage]),
                "contacts": n,
                "rate_of_cohort": round(n / cohort, 4) if cohort else None,
                "rate_of_previous": round(n / previous, 4) if previous else None,
            }
        )
        previous = n
    return {"since": since, "until": until, "cohort": cohort, "stages": stages}


# --- accounts -----------------------------------------------------------------------------------------
def _median_value(qs: QuerySet, field: str, n: int) -> float | None:
    if not n:
        return None
    middle = list(qs.order_by(field).values_list(field, flat=True)[(n - 1) // 2 : n // 2 + 1])
    return sum(float(v) for v in middle) / len(middle)


def account_engagement(*, user=None) -> dict[str, Any]:
    """Account engagement: over the accounts with a stored rules score (that ``user`` may see), how many,
    the average and the median of their engagement score (contacts' engagement rolled up with anonymous
    activity), and how many are engaged at all (score above zero)."""
    scores = AccountRuleScore.objects.all()
    if user is not None:
        scores = scores.filter(account__in=Account.objects.for_user(user).values("pk"))
    totals = scores.aggregate(
        accounts=Count("pk"), average=Avg("engagement"), engaged=Count("pk", filter=Q(engagement__gt=0))
    )
    median = _median_value(scores, "engagement", totals["accounts"])
    return {
        "accounts": totals["accounts"],
        "engaged": totals["engaged"],
        "average": round(totals["average"], 2) if totals["average"] is not None else None,
        "median": round(median, 2) if median is not None else None,
    }


def persona_engagement(*, user=None) -> list[dict[str, Any]]:
    """Persona engagement, per persona (by priority, then name): ``contacts`` mapped to it with a stored
    rules score, ``engaged`` (engagement score above zero), their ``average_engagement`` and
    ``accounts_engaged`` (accounts with at least one engaged contact of the persona). One grouped query."""
    scores = ContactScore.objects.filter(contact__persona__isnull=False)
    if user is not None:
        scores = scores.filter(contact__in=_contacts(user).values("pk"))
    rows = {
        row["contact__persona"]: row
        for row in scores.order_by()
        .values("contact__persona")
        .annotate(
            contacts=Count("pk"),
            engaged=Count("pk", filter=Q(engagement__gt=0)),
            average=Avg("engagement"),
            accounts_engaged=Count("contact__account", filter=Q(engagement__gt=0), distinct=True),
        )
    }
    out = []
    for persona in Persona.objects.order_by("priority", "name").only("id", "name"):
        row = rows.get(persona.pk, {})
        out.append(
            {
                "persona": persona.pk,
                "name": persona.name,
                "contacts": row.get("contacts", 0),
                "engaged": row.get("engaged", 0),
                "average_engagement": round(row["average"], 2) if row.get("average") is not None else None,
                "accounts_engaged": row.get("accounts_engaged", 0),
            }
        )
    return out


def _account_scores(user) -> QuerySet[AccountModelScore]:
    """The in-market list's rows (its own selector) for ``user``; every stored score without one."""
    return AccountModelScore.objects.all() if user is None else account_model_scores(user=user)


def in_market_queryset(*, user=None, stage: list[str] | None = None) -> QuerySet:
    """Accounts in market: the in-market list's rows (its selector) under its own FilterSet with
    ``qualified=true`` (and ``stage`` when given)."""
    data: dict[str, Any] = {"qualified": "true"}
    if stage:
        data["stage"] = stage
    filterset = AccountModelScoreFilterSet(data, queryset=_account_scores(user))
    if not filterset.is_valid():
        raise ValueError(f"in-market filters: {filterset.errors.as_json()}")
    return filterset.qs


def accounts_in_market(*, user=None) -> int:
    """Accounts in market: accounts whose stored learned score is qualified (fits and is in market under the
    policy that scored it) — the in-market list filtered ``qualified=true``."""
    return in_market_queryset(user=user).order_by().count()


def buying_stage_summary(*, user=None) -> dict[str, Any]:
    """Scored accounts per buying stage (in the stages' order) and how many of each are in market
    (qualified): one grouped query over the in-market list's rows. ``qualified`` (the total) is
    ``accounts_in_market``."""
    rows = {
        row["stage"]: row
        for row in _account_scores(user)
        .order_by()
        .values("stage")
        .annotate(accounts=Count("pk"), qualified=Count("pk", filter=Q(qualified=True)))
    }
    stages = [
        {"value": value, "label": label, "accounts": rows.get(value, {}).get("accounts", 0),
         "qualified": rows.get(value, {}).get("qualified", 0)}
        for value, label in BuyingStage.choices
    ]  # fmt: skip
    return {
        "stages": stages,
        "accounts": sum(s["accounts"] for s in stages),
        "qualified": sum(s["qualified"] for s in stages),
    }


# --- deals --------------------------------------------------------------------------------------------
def deal_velocity(*, since: datetime.date, until: datetime.date, user=None) -> list[dict[str, Any]]:
    """Deal velocity: per month of the close date (``month``: its first day), the won opportunities closed
    between ``since`` and ``until`` (inclusive) that month, the median and mean days from their start,
    ``coalesce(created_date, engaged_date)``, to the close date, and ``undated`` (won without a start).
    Every month of the window is present, oldest first (``median_days`` None when none closed)."""
    if since > until:
        raise ValueError(f"since ({since}) is after until ({until})")
    opportunities = Opportunity.objects.all() if user is None else Opportunity.objects.for_user(user)
    rows = (
        opportunities.filter(stage=OpportunityStage.WON, close_date__gte=since, close_date__lte=until)
        .annotate(start=Coalesce("created_date", "engaged_date"))
        .order_by()
        .values_list("close_date", "start")
    )
    days: dict[datetime.date, list[int]] = defaultdict(list)
    undated: dict[datetime.date, int] = defaultdict(int)
    for close, start in rows:
        month = close.replace(day=1)
        if start is None:
            undated[month] += 1
        else:
            days[month].append((close - start).days)
    out, month = [], since.replace(day=1)
    while month <= until:
        values = days.get(month, [])
        out.append(
            {
                "month": month,
                "won": len(values) + undated.get(month, 0),
                "undated": undated.get(month, 0),
                "median_days": float(statistics.median(values)) if values else None,
                "mean_days": round(statistics.fmean(values), 2) if values else None,
            }
        )
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return out
