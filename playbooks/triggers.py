"""Plays start when accounts enter buying stages: ``plays_trigger`` acts on the stage transitions it has
not seen yet (a cursor), set-based, a batch at a time, each batch in one transaction.

For each transition, in order:
1. **Stops.** The account's open runs whose stop condition now holds end (status stopped, their open tasks
   too): a fall back to an earlier stage stops plays that stop on regression (the default); leaving the
   stage either way stops those that stop on exit; an open opportunity stops those that stop on one.
2. **Starts.** The published playbook of the new stage applies — the one of a segment the account is in,
   else the stage's general one. Each play starts **once per stage entry** (a ``PlayRun`` unique per play
   and transition). An account that comes back within ``PLAYBOOK_REENTRY_DAYS`` of a run of the same play
   (a flapping stage) has that run resumed, not a second one; an open run is left alone. Customers and
   accounts with an open deal are suppressed unless the play says otherwise: the run is recorded as
   suppressed, with the reason, so nobody wonders why nothing happened.
3. **Work.** A started run gets its tasks: a cadence its touches (up to 21) spread over the due days, an
   enrichment its missing personas named, an audience play none (its audience is the accounts with open
   runs: exported or sent by webhook); a task goes to the account's owner when they are in the play's team,
   else to the owning team if it is of that kind, else to the first team of that kind.
Every start, suppression, stop and resumption is a ``PlayAction`` row. Transitions older than
``PLAYBOOK_MAX_AGE_DAYS`` (a backfill of history) are passed over, counted: plays are for now.
"""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.choices import OPEN_STAGES, OpportunityStage
from accounts.models import Account, Contact, Opportunity, Persona
from campaigns.models import SegmentMembership
from revops.choices import VersionStatus
from revops.models import Membership, Team
from scoring.choices import BUYING_STAGE_ORDER
from scoring.delivery.webhooks import EVENT_PLAY, event_envelope, team_events_deliver
from scoring.models import BuyingStageTransition

from .choices import AUDIENCE_KINDS, PlayKind, RunStatus, StopCondition, TaskStatus
from .models import Play, PlayAction, PlaybookCursor, PlayRun, PlayTask

CURSOR = "stage_transitions"
BATCH = 5000


@dataclass
class TriggerResult:
    transitions: int = 0
    too_old: int = 0
    started: int = 0
    suppressed: int = 0
    resumed: int = 0
    stopped: int = 0
    tasks: int = 0
    webhooks: int = 0
    by_reason: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def as_dict(self) -> dict[str, Any]:
        return {
            "transitions": self.transitions,
            "too_old": self.too_old,
            "started": self.started,
            "suppressed": self.suppressed,
            "resumed": self.resumed,
            "stopped": self.stopped,
            "tasks": self.tasks,
            "webhooks": self.webhooks,
        }


def _rank(stage: str) -> int:
    return BUYING_STAGE_ORDER.index(stage) if stage in BUYING_STAGE_ORDER else -1


def stops(play: Play, run_stage: str, to_stage: str, *, open_deal: bool) -> str | None:
    """Why a run of ``play`` (started in ``run_stage``) stops when its account moves to ``to_stage``, or
    None. Pure: the trigger and the tests share it."""
    fell_back = _rank(to_stage) < _rank(run_stage)
    if play.stop_on == StopCondition.NONE:
        return None
    if play.stop_on == StopCondition.STAGE_EXIT and to_stage != run_stage:
        return f"left {run_stage} for {to_stage}"
    if fell_back:
        return f"fell back from {run_stage} to {to_stage}"
    if play.stop_on == StopCondition.OPPORTUNITY and open_deal:
        return "an opportunity is open"
    return None


def suppression(play: Play, *, customer: bool, open_deal: bool) -> str | None:
    if customer and not play.include_customers:
        return "customer"
    if open_deal and not play.include_open_deals:
        return "open deal"
    return None


def published_playbooks() -> dict[str, dict[int | None, list[Play]]]:
    """stage → segment id (None: the stage's general playbook) → its plays, of the published versions."""
    result: dict[str, dict[int | None, list[Play]]] = defaultdict(dict)
    plays = Play.objects.filter(playbook__status=VersionStatus.PUBLISHED).select_related("playbook")
    for play in plays.order_by("playbook_id", "position", "id"):
        book = play.playbook
        result[book.stage].setdefault(book.segment_id, []).append(play)
    return result


def _task_titles(play: Play, missing_personas: list[str]) -> list[tuple[int, str, int]]:
    """(sequence, title, days from the start) of a run's tasks."""
    if play.kind in AUDIENCE_KINDS:
        return []
    if play.kind == PlayKind.CADENCE:
        touches = max(1, min(play.touches, 21))
        spread = play.due_days / (touches - 1) if touches > 1 else 0
        return [
            (i + 1, f"{play.name}: touch {i + 1} of {touches}", round(i * spread)) for i in range(touches)
        ]
    if play.kind == PlayKind.ENRICH:
        need = ", ".join(missing_personas) if missing_personas else "check the buying team is complete"
        return [(1, f"{play.name}: {need}", play.due_days)]
    return [(1, play.name, play.due_days)]


def plays_trigger(
    *, now: datetime.datetime | None = None, batch: int = BATCH, replay_days: int | None = None
) -> dict[str, Any]:
    """Act on every stage transition not acted on yet; returns the counts. Safe to run concurrently and
    again: the cursor row is locked per batch and a run is unique per play and stage entry.

    ``replay_days``: first move the cursor back to the transitions of the last N days (after publishing a
    first playbook, so that accounts that entered its stage lately get its plays); entries already acted
    on start nothing twice.
    """
    now = now or timezone.now()
    total = TriggerResult()
    if replay_days is not None:
        with transaction.atomic():
            cursor, _ = PlaybookCursor.objects.get_or_create(name=CURSOR)
            cursor = PlaybookCursor.objects.select_for_update().get(pk=cursor.pk)
            first = (
                BuyingStageTransition.objects.filter(at__gte=now - datetime.timedelta(days=replay_days))
                .order_by("id")
                .values_list("id", flat=True)
                .first()
            )
            if first is not None and first - 1 < cursor.last_transition_id:
                cursor.last_transition_id = first - 1
                cursor.save(update_fields=["last_transition_id", "updated"])
    while True:
        with transaction.atomic():
            cursor, _ = PlaybookCursor.objects.get_or_create(name=CURSOR)
            cursor = PlaybookCursor.objects.select_for_update().get(pk=cursor.pk)
            transitions = list(
                BuyingStageTransition.objects.filter(id__gt=cursor.last_transition_id)
                .order_by("id")
                .values("id", "account_id", "from_stage", "to_stage", "at")[:batch]
            )
            if not transitions:
                break
            _batch(transitions, now=now, result=total)
            cursor.last_transition_id = transitions[-1]["id"]
            cursor.save(update_fields=["last_transition_id", "updated"])
        if len(transitions) < batch:
            break
    return total.as_dict()


def _batch(transitions: list[dict], *, now: datetime.datetime, result: TriggerResult) -> None:
    result.transitions += len(transitions)
    oldest = now - datetime.timedelta(days=getattr(settings, "PLAYBOOK_MAX_AGE_DAYS", 14))
    fresh = [t for t in transitions if t["at"] >= oldest]
    result.too_old += len(transitions) - len(fresh)
    books = published_playbooks()
    plays_by_id = {p.pk: p for segments in books.values() for plays in segments.values() for p in plays}
    account_ids = sorted({t["account_id"] for t in fresh})
    if not account_ids:
        return
    facts = {
        row["id"]: row
        for row in Account.objects.filter(id__in=account_ids)
        .annotate(
            open_deal=Exists(Opportunity.objects.filter(account_id=OuterRef("pk"), stage__in=OPEN_STAGES)),
            customer=Exists(
                Opportunity.objects.filter(account_id=OuterRef("pk"), stage=OpportunityStage.WON)
            ),
        )
        .values("id", "name", "domain", "owner_id", "owner_team_id", "open_deal", "customer")
    }
    segment_ids = {s for segments in books.values() for s in segments if s}
    member_of: dict[int, set[int]] = defaultdict(set)
    if segment_ids:
        for account_id, segment_id in SegmentMembership.objects.filter(
            segment_id__in=segment_ids, account_id__in=account_ids, left_at__isnull=True
        ).values_list("account_id", "segment_id"):
            member_of[account_id].add(segment_id)
    reentry = now - datetime.timedelta(days=getattr(settings, "PLAYBOOK_REENTRY_DAYS", 30))
    runs_of: dict[int, list[PlayRun]] = defaultdict(list)
    for run in (
        PlayRun.objects.filter(account_id__in=account_ids)
        .filter(Q(status=RunStatus.OPEN) | Q(started_at__gte=reentry))
        .select_related("play")
    ):
        runs_of[run.account_id].append(run)
    teams = _teams()
    kinds_of = _user_team_kinds({f["owner_id"] for f in facts.values() if f["owner_id"]})
    team_kind = dict(Team.objects.values_list("id", "kind"))
    missing = (
        _missing_personas(account_ids) if any(p.kind == PlayKind.ENRICH for p in plays_by_id.values()) else {}
    )

    new_runs: list[PlayRun] = []
    run_tasks: list[list[tuple[int, str, int]]] = []
    changed: dict[int, PlayRun] = {}
    log: list[tuple[PlayRun, str, dict]] = []
    for t in fresh:
        account = facts.get(t["account_id"])
        if account is None:
            continue
        stage = t["to_stage"]
        # 1. Stops.
        for run in runs_of[account["id"]]:
            if run.status != RunStatus.OPEN:
                continue
            play = plays_by_id.get(run.play_id) or run.play
            why = stops(play, run.stage, stage, open_deal=account["open_deal"])
            if why:
                run.status, run.ended_at, run.reason = RunStatus.STOPPED, now, why[:300]
                changed[id(run)] = run
                log.append((run, "stopped", {"reason": why, "transition": t["id"]}))
                result.stopped += 1
        # 2. Starts.
        segments = books.get(stage, {})
        chosen = next((segments[s] for s in sorted(member_of[account["id"]]) if s in segments), None)
        plays = chosen if chosen is not None else segments.get(None, [])
        for play in plays:
            earlier = [r for r in runs_of[account["id"]] if r.play_id == play.pk]
            if any(r.transition_id == t["id"] for r in earlier):
                continue  # this stage entry started it already (a replay): once per entry
            if any(r.status in (RunStatus.OPEN, RunStatus.DONE) for r in earlier):
                continue  # running, or done lately: a flapping stage does not start it twice
            recent = [r for r in earlier if r.status == RunStatus.STOPPED and r.started_at >= reentry]
            if recent:
                run = max(recent, key=lambda r: r.started_at)
                run.status, run.ended_at, run.reason = RunStatus.OPEN, None, ""
                changed[id(run)] = run
                log.append((run, "resumed", {"transition": t["id"]}))
                result.resumed += 1
                continue
            suppressed = suppression(play, customer=account["customer"], open_deal=account["open_deal"])
            owner, team = _assignee(play, account, kinds_of, team_kind, teams)
            run = PlayRun(
                play=play,
                account_id=account["id"],
                transition_id=t["id"],
                stage=stage,
                status=RunStatus.SUPPRESSED if suppressed else RunStatus.OPEN,
                started_at=now,
                ended_at=now if suppressed else None,
                reason=suppressed or "",
                owner_id=owner,
                team_id=team,
            )
            new_runs.append(run)
            runs_of[account["id"]].append(run)
            if suppressed:
                result.suppressed += 1
                result.by_reason[suppressed] += 1
                run_tasks.append([])
                log.append((run, "suppressed", {"reason": suppressed, "transition": t["id"]}))
            else:
                result.started += 1
                run_tasks.append(_task_titles(play, missing.get(account["id"], [])))
                log.append((run, "started", {"transition": t["id"], "stage": stage}))

    PlayRun.objects.bulk_create(new_runs, batch_size=1000, ignore_conflicts=False)
    updates = [r for r in changed.values() if r.pk]
    # Stops and resumptions share a few (status, end, reason) values: one UPDATE each, not a bulk_update's
    # CASE per row (docs/benchmarks.md, playbook triggering).
    groups: dict[tuple, list[int]] = defaultdict(list)
    for run in updates:
        groups[(run.status, run.ended_at, run.reason)].append(run.pk)
    for (status, ended_at, reason), ids in groups.items():
        for start in range(0, len(ids), 5000):
            PlayRun.objects.filter(pk__in=ids[start : start + 5000]).update(
                status=status, ended_at=ended_at, reason=reason
            )
    stopped_ids = [r.pk for r in updates if r.status == RunStatus.STOPPED]
    if stopped_ids:
        PlayTask.objects.filter(run_id__in=stopped_ids, status=TaskStatus.OPEN).update(
            status=TaskStatus.STOPPED
        )
    resumed_ids = [r.pk for r in updates if r.status == RunStatus.OPEN]
    if resumed_ids:
        PlayTask.objects.filter(run_id__in=resumed_ids, status=TaskStatus.STOPPED).update(
            status=TaskStatus.OPEN
        )
    today = timezone.localdate(now)
    tasks = [
        PlayTask(
            run=run,
            sequence=sequence,
            title=title[:300],
            due_on=today + datetime.timedelta(days=days),
            assignee_id=run.owner_id,
            team_id=run.team_id,
        )
        for run, titles in zip(new_runs, run_tasks, strict=True)
        for sequence, title, days in titles
    ]
    PlayTask.objects.bulk_create(tasks, batch_size=2000)
    result.tasks += len(tasks)
    PlayAction.objects.bulk_create(
        [PlayAction(run=run, at=now, action=action, detail=detail) for run, action, detail in log],
        batch_size=2000,
    )
    events = []
    for run in new_runs:
        if run.status != RunStatus.OPEN or not run.play.notify_webhook or not run.team_id:
            continue
        event_id, account = uuid.uuid4(), facts[run.account_id]
        data = {
            "account": {"id": run.account_id, "name": account["name"], "domain": account["domain"]},
            "play": {"id": run.play_id, "name": run.play.name, "kind": run.play.kind},
            "stage": run.stage,
            "run": run.pk,
        }
        payload = event_envelope(event_id=event_id, event_type=EVENT_PLAY, occurred_at=now, data=data)
        events.append((event_id, EVENT_PLAY, payload, [run.team_id]))
    result.webhooks += len(team_events_deliver(events=events))


def _teams() -> dict[str, int]:
    """Team kind → the first team of that kind (by name): where a task goes without an owner in it."""
    first: dict[str, int] = {}
    for team_id, kind in Team.objects.order_by("name").values_list("id", "kind"):
        first.setdefault(kind, team_id)
    return first


def _user_team_kinds(user_ids: set[int]) -> dict[int, set[str]]:
    kinds: dict[int, set[str]] = defaultdict(set)
    for user_id, kind in Membership.objects.filter(user_id__in=user_ids).values_list("user_id", "team__kind"):
        kinds[user_id].add(kind)
    return kinds


def _assignee(play, account, kinds_of, team_kind, teams) -> tuple[int | None, int | None]:
    owner = (
        account["owner_id"]
        if account["owner_id"] and play.team_kind in kinds_of.get(account["owner_id"], ())
        else None
    )
    if account["owner_team_id"] and team_kind.get(account["owner_team_id"]) == play.team_kind:
        return owner, account["owner_team_id"]
    return owner, teams.get(play.team_kind)


def _missing_personas(account_ids: list[int]) -> dict[int, list[str]]:
    """Account → the names of the required buying-team personas none of its contacts has."""
    required = dict(Persona.objects.filter(required_in_buying_team=True).values_list("id", "name"))
    if not required:
        return {}
    have: dict[int, set[int]] = defaultdict(set)
    for account_id, persona_id in Contact.objects.filter(
        account_id__in=account_ids, persona_id__in=list(required)
    ).values_list("account_id", "persona_id"):
        have[account_id].add(persona_id)
    return {a: [name for pk, name in sorted(required.items()) if pk not in have[a]] for a in account_ids}
