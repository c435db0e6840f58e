"""The demo world as a pure NumPy simulation: no ORM, deterministic for a seed.

The hidden process, per account (one step a day, with a year of burn-in before the period so the
world starts in a steady state — historic deals and customers included):

* A latent ICP **fit** in (0, 1) comes from firmographics and technographics (industry, size band,
  modern data stack, CRM, served country) plus a hidden budget term.
* A dormant account **enters a buying cycle** with daily probability ``q`` (higher with fit, lifted
  while a campaign targets it). A cycle lasts ``D`` days; the first ``R`` are research only.
* The daily **opening hazard** is ``b`` (outbound/direct/partner deals that come with no visible
  research) + ``b_up`` for customers (upsell) + ``c`` while the cycle is past its research phase.
  An opening ends the cycle and blocks new cycles until 30 days after the deal's (pre-sampled)
  close; a cycle that ends without one is followed by 90 days of cooling.
* Observable signals follow the hidden state: third-party intent on the cycle's product topics and
  first-party research (pricing, comparisons, case studies, demo requests, trials) ramp up during
  the cycle across the buying team, on top of baseline noise; campaigns add their own engagement.

Because cooling lasts at least 90 days, at most one new cycle can start in any 90-day window, so the
probability of an opening in the window given the hidden state has a closed form (``_propensity``);
that exact number is the ground truth.

Campaigns (``catalogue.CAMPAIGN_TEMPLATES``) have their eligible accounts split, reproducibly from each
campaign's seed, into treated and a 10% holdout: only the treated get its events (at the campaign's own
daily rate) and its lift of the cycle entry rate. Its true engagement effect is the expected number of
extra first-party events per treated account-week while it runs: its own events (direct) plus the
research and sales meetings of the cycles its lift started (indirect, in closed form: ``_indirect``) —
what a measurement against the holdout should recover. Some campaigns still run on the last day.
"""

import calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field
from math import gcd

import numpy as np
import pandas as pd

from accounts.normalize import activity_key
from campaigns.stats import holdout_mask

from . import catalogue as cat

HORIZON = 90  # days of the ground-truth window
CHUNK = 2000  # accounts per chunk; part of the definition of the world (rng streams are per chunk)
BURN_IN = 365  # days simulated before the period (historic deals, existing customers)
COOL_AFTER_CYCLE = 91  # first day a new cycle may start = last cycle day + this (>= HORIZON + 1)
COOL_AFTER_CLOSE = 30
EPOCH = dt.date(1970, 1, 1)
NO_DAY = -(10**6)  # "no date" in day columns (days before the period are negative)

EVENT_TYPES = [
    "page_view",
    "form_fill",
    "demo_request",
    "free_trial",
    "webinar",
    "email_open",
    "email_click",
    "content_download",
    "ad_click",
    "meeting",
    "intent",
]
# Event types that identify the person (nobody fills a form anonymously).
IDENTIFYING = {"form_fill", "demo_request", "free_trial", "webinar", "email_open", "email_click", "meeting"}
CUSTOMER_PAGES = [
    ("email_open", "", 3),
    ("meeting", "", 1),
    ("page_view", "/docs/getting-started", 2),
    ("page_view", "/docs/api", 1),
    ("webinar", "/webinars/whats-new", 0.5),
]
CAUSE_BASE, CAUSE_UPSELL, CAUSE_CYCLE = 0, 1, 2


@dataclass(frozen=True)
class Spec:
    """What to generate. ``end`` is exclusive: the world is known up to the end of the day before."""

    accounts: int
    seed: int
    end: dt.date
    months: int = 18
    first_index: int = 0  # global index of the first account (non-zero when appending)

    @property
    def start(self) -> dt.date:
        month = self.end.month - 1 - self.months
        year = self.end.year + month // 12
        month = month % 12 + 1
        return dt.date(year, month, min(self.end.day, calendar.monthrange(year, month)[1]))

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def as_of_dates(self) -> list[dt.date]:
        """First of every month after the start, up to the end: the ground truth's dates."""
        dates, year, month = [], self.start.year, self.start.month
        while True:
            month += 1
            if month > 12:
                year, month = year + 1, 1
            date = dt.date(year, month, 1)
            if date > self.end:
                return dates
            dates.append(date)


@dataclass
class Plan:
    """The world's global part: campaigns, event templates and their rollup keys."""

    spec: Spec
    # name, channel, goal, team, description, start/end day, cost, reach, segment, mix
    campaigns: pd.DataFrame
    templates: pd.DataFrame  # event_type, url, topic, source, key, identifying
    groups: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # name → (template ids, p)
    campaign_mix: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    product_topics: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)


@dataclass
class Chunk:
    """One chunk of accounts and everything that hangs off them, with chunk-local indexes.

    ``first`` is the chunk's first account as an index into the whole generated world.
    """

    number: int
    first: int
    accounts: pd.DataFrame
    account_technologies: pd.DataFrame
    contacts: pd.DataFrame
    opportunities: pd.DataFrame
    events: pd.DataFrame
    account_daily: pd.DataFrame
    contact_daily: pd.DataFrame
    ground_truth: pd.DataFrame
    lifecycle_transitions: pd.DataFrame  # contact, from_stage, to_stage, day: how each got its stage
    audience: pd.DataFrame  # campaign, account, held: each campaign's eligible accounts, treated or held out
    # Per campaign: treated and held-out accounts, and the sum over the treated of the indirect effect
    # (extra engaged events per account-week from buying cycles its lift started while it ran).
    campaign_effects: pd.DataFrame


# --- the global plan --------------------------------------------------------------------------
def slug(text: str) -> str:
    """A campaign's ``utm_campaign`` value (and ``CampaignKey``): its name in lower case, hyphenated."""
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-").replace("--", "-")


def make_plan(spec: Spec) -> Plan:
    """Campaigns over the period and the table of event templates (pure, deterministic)."""
    rng = np.random.default_rng([spec.seed, 0x5EED])
    days = spec.days
    workday = workdays(spec)
    rows = []
    for tpl in cat.CAMPAIGN_TEMPLATES:
        runs = tpl["runs"]
        for run in range(runs):
            span = max(1, days - tpl["days"] - 7)
            u = rng.uniform(0.1, 0.9)
            start_day = int((run + u) / runs * span)
            if tpl.get("ongoing") and run == runs - 1:
                # Still running when the period ends: a quarter to most of its planned days are past.
                start_day = days - max(7, int(round(tpl["days"] * (0.2 + 0.75 * u))))
            end_day = start_day + tpl["days"] - 1  # planned; past the period's end while it still runs
            last_day = min(days - 1, end_day)  # the last day with data
            start = spec.start + dt.timedelta(days=start_day)
            quarter = f"Q{(start.month - 1) // 3 + 1} {start.year}"
            lo, hi = tpl["cost"]
            planned = int(round(rng.uniform(lo, hi), -2))
            run_days = last_day - start_day + 1
            rate = float(tpl["rate"])
            rows.append(
                {
                    "name": f"{tpl['name']} — {quarter}",
                    "channel": tpl["channel"],
                    "goal": tpl["goal"],
                    "team": tpl["team"],
                    "description": cat.CAMPAIGN_DESCRIPTIONS[tpl["goal"]],
                    "start_day": start_day,
                    "end_day": end_day,
                    "last_day": last_day,
                    # Spent so far (pro rata while it runs) and the budget (the plan, rounded up).
                    "cost": int(round(planned * run_days / tpl["days"], -2)),
                    "budget": -(-planned // 5000) * 5000,
                    "reach": tpl["reach"],
                    "segment": tpl["segment"],
                    "segment_name": tpl["segment_name"],
                    "mix": tpl["mix"],
                    "rate": rate,
                    "known": float(tpl.get("known", cat.CAMPAIGN_KNOWN)),
                    "cycle_lift": 1.0 if tpl["segment"].get("customers") else cat.CAMPAIGN_CYCLE_LIFT,
                    # The direct true effect: its events per treated account-week over the days it ran.
                    "direct_lift": rate * 7 * float(workday[start_day : last_day + 1].mean()),
                }
            )
    campaigns = pd.DataFrame(rows).sort_values(["start_day", "name"], kind="stable").reset_index(drop=True)
    dup = campaigns["name"].duplicated(keep=False)
    campaigns.loc[dup, "name"] = campaigns.loc[dup, "name"] + campaigns.loc[dup].groupby(
        "name"
    ).cumcount().map(lambda n: "" if n == 0 else f" ({n + 1})")
    campaigns["slug"] = [slug(name) for name in campaigns["name"]]
    # Each campaign holds out its own reproducible share of its accounts (``holdout_mask``).
    campaigns["holdout_seed"] = np.random.default_rng([spec.seed, 0x401D]).integers(0, 2**62, len(campaigns))

    templates: list[tuple[str, str, str, str]] = []
    index: dict[tuple[str, str, str, str], int] = {}

    def template(event_type: str, url: str = "", topic: str = "", source: str = "first_party") -> int:
        key = (event_type, url, topic, source)
        if key not in index:
            index[key] = len(templates)
            templates.append(key)
        return index[key]

    def group(entries) -> tuple[np.ndarray, np.ndarray]:
        ids = np.array([template(et, cat.SITE + path if path else "") for et, path, _ in entries])
        weights = np.array([w for _, _, w in entries], dtype=float)
        return ids, weights / weights.sum()

    plan = Plan(spec=spec, campaigns=campaigns, templates=pd.DataFrame())
    plan.groups = {
        "baseline": group(cat.BASELINE_PAGES),
        "cycle": group(cat.CYCLE_PAGES),
        "careers": group(cat.CAREERS_PAGES),
        "email": group(cat.EMAIL_PAGES),
        "sales": group(cat.SALES_PAGES),
        "customer": group(CUSTOMER_PAGES),
    }
    for kind, entries in cat.JUNK_PAGES.items():
        plan.groups[f"junk:{kind}"] = group(entries)
    generic = [template("intent", topic=t, source="third_party") for t in cat.GENERIC_TOPICS]
    product_topics = [t for p in cat.PRODUCTS for t in p[4]]
    noise = generic + [template("intent", topic=t, source="third_party") for t in product_topics]
    noise_p = np.array([6.0] * len(generic) + [1.0] * len(product_topics))
    plan.groups["intent_noise"] = (np.array(noise), noise_p / noise_p.sum())
    for product in cat.PRODUCTS:
        own = [template("intent", topic=t, source="third_party") for t in product[4]]
        # Buyers research the category and a few adjacent topics too.
        near = [
            template("intent", topic=t, source="third_party") for t in ("revenue operations", "lead scoring")
        ]
        ids = np.array(own + near)
        p = np.array([3.0] * len(own) + [1.0] * len(near))
        plan.product_topics.append((ids, p / p.sum()))
    for row in campaigns.itertuples():
        entries = []
        for event_type, path, _ in row.mix:
            url = ""
            if path:
                url = f"{cat.SITE}{path}"
                if event_type in {"email_click", "ad_click"}:
                    medium = "email" if event_type == "email_click" else "paid"
                    url += f"?utm_medium={medium}&utm_campaign={row.slug}"
            entries.append(template(event_type, url))
        shares = np.array([m[2] for m in row.mix], dtype=float)
        plan.campaign_mix.append((np.array(entries), shares / shares.sum()))

    frame = pd.DataFrame(templates, columns=["event_type", "url", "topic", "source"])
    frame["key"] = [activity_key(event_type=e, url=u, topic=t) for e, u, t, _ in templates]
    frame["type_code"] = frame["event_type"].map({t: i for i, t in enumerate(EVENT_TYPES)}).astype(np.int64)
    frame["identifying"] = frame["event_type"].isin(IDENTIFYING)
    keys = sorted(set(frame["key"]))
    frame["key_code"] = frame["key"].map({k: i for i, k in enumerate(keys)}).astype(np.int64)
    plan.templates = frame
    return plan


# --- helpers ----------------------------------------------------------------------------------
def workdays(spec: Spec) -> np.ndarray:
    """Each day of the period's activity weight: 1 on a weekday, 0.3 on a weekend day."""
    weekday = (np.datetime64(spec.start) + np.arange(spec.days)).astype("datetime64[D]").view("int64")
    return np.where(((weekday + 3) % 7) < 5, 1.0, 0.3)  # 1970-01-01 was a Thursday


def account_ids(spec: Spec, first: int, n: int) -> np.ndarray:
    """The ids the writer gives accounts ``first .. first + n - 1`` of the world: explicit and
    consecutive after the largest id before the run (``first_index``), so the holdout drawn here is
    the one ``campaigns.stats.holdout_mask`` draws from the stored ids and the campaign's seed."""
    return spec.first_index + first + np.arange(n, dtype=np.int64) + 1


def _choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) probability matrix."""
    cum = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None] * cum[:, -1:]
    return np.minimum((cum < u).sum(axis=1), probs.shape[1] - 1)


def _pick(rng: np.random.Generator, group: tuple[np.ndarray, np.ndarray], size: int) -> np.ndarray:
    ids, p = group
    return ids[rng.choice(len(ids), size=size, p=p)]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _names(spec: Spec, rng: np.random.Generator, global_index: np.ndarray, industry: np.ndarray):
    """Company names and unique domains: a seed-dependent bijection of the global account index."""
    n_p, n_r = len(cat.NAME_PREFIXES), len(cat.NAME_ROOTS)
    n_v, n_t = len(cat.DOMAIN_VARIANTS), len(cat.DOMAIN_TLDS)
    size = n_p * n_r * n_v * n_t
    mult = 7919
    while gcd(mult, size) != 1:
        mult += 2
    shift = (spec.seed * 104_729 + 12_345) % size
    cycle, slot = np.divmod(global_index, size)
    code = (slot * mult + shift) % size
    code, tld = np.divmod(code, n_t)
    code, variant = np.divmod(code, n_v)
    prefix, root = np.divmod(code, n_r)
    prefixes = np.array(cat.NAME_PREFIXES, dtype=object)[prefix]
    roots = np.array(cat.NAME_ROOTS, dtype=object)[root]
    base = prefixes + roots
    suffixes = np.empty(len(industry), dtype=object)
    for ind, (_, _, _, _, options) in enumerate(cat.INDUSTRIES):
        mask = industry == ind
        suffixes[mask] = np.array(options, dtype=object)[rng.integers(0, len(options), mask.sum())]
    names = base + suffixes
    numbers = np.where(cycle > 0, cycle.astype(str), "").astype(object)
    domains = (
        np.char.lower(base.astype(str)).astype(object)
        + np.array(cat.DOMAIN_VARIANTS, dtype=object)[variant]
        + numbers
        + "."
        + np.array(cat.DOMAIN_TLDS, dtype=object)[tld]
    )
    return names, domains


# --- one chunk --------------------------------------------------------------------------------
def generate_chunk(plan: Plan, number: int) -> Chunk:
    """Accounts ``number * CHUNK`` onwards and everything that hangs off them."""
    spec = plan.spec
    first = number * CHUNK
    n = min(CHUNK, spec.accounts - first)
    rng = np.random.default_rng([spec.seed, spec.first_index + first, 1])
    T = spec.days

    # Firmographics.
    ind_share = np.array([i[1] for i in cat.INDUSTRIES])
    industry = rng.choice(len(cat.INDUSTRIES), size=n, p=ind_share / ind_share.sum())
    employees = np.clip(np.exp(rng.normal(np.log(180), 1.45, n)), 3, 300_000).astype(np.int64)
    log_emp = np.log10(employees)
    c_share = np.array([c[1] for c in cat.COUNTRIES])
    country = rng.choice(len(cat.COUNTRIES), size=n, p=c_share / c_share.sum())
    served = np.array([c[2] for c in cat.COUNTRIES])[country]
    rev_per_emp = np.array([i[3] for i in cat.INDUSTRIES])[industry]
    revenue = np.round(employees * rev_per_emp * np.exp(rng.normal(0, 0.45, n)), -3).astype(np.int64)
    age = np.clip(np.round(np.exp(rng.normal(np.log(5 + 6 * log_emp), 0.6))), 1, 120).astype(np.int64)
    founded = spec.end.year - age

    # Technographics: one CRM (by size), then 1-7 more, the modern data stack more likely in
    # data-mature companies.
    techs = cat.TECHNOLOGIES
    crm_ids = np.array([i for i, t in enumerate(techs) if t[1] == "CRM"])
    big = np.clip((log_emp - 1.7) / 2.0, 0, 1)[:, None]
    small_p = np.array([0.15, 0.45, 0.05, 0.2, 0.15])
    large_p = np.array([0.6, 0.15, 0.25, 0.0, 0.0])
    crm = crm_ids[_choice_rows(rng, (1 - big) * small_p + big * large_p)]
    icp_industry = np.array([i[2] for i in cat.INDUSTRIES])[industry]
    maturity = rng.normal(0, 1, n) + 0.7 * icp_industry + 0.4 * (log_emp - 2.3)
    other_ids = np.array([i for i, t in enumerate(techs) if t[1] != "CRM"])
    modern = np.array([t[2] for t in techs])
    weight = np.ones((n, len(other_ids)))
    weight[:, modern[other_ids]] = np.exp(0.9 * maturity)[:, None] * 0.5
    n_tech = np.clip(np.round(2 + 1.3 * log_emp + rng.normal(0, 1, n)), 2, 8).astype(np.int64)
    gumbel = np.log(weight) - np.log(-np.log(rng.random(weight.shape)))
    order = np.argsort(-gumbel, axis=1, kind="stable")[:, :7]
    keep = np.arange(7)[None, :] < (n_tech - 1)[:, None]
    tech_acc = np.concatenate([np.arange(n), np.nonzero(keep)[0]])
    tech_idx = np.concatenate([crm, other_ids[order[keep]]])
    n_modern = np.bincount(tech_acc[modern[tech_idx]], minlength=n)

    # The latent ICP fit.
    size_term = np.select(
        [employees < 50, employees < 200, employees <= 5000], [-1.0, -0.2, 0.8], default=0.3
    )
    crm_term = np.array([cat.CRM_FIT.get(techs[i][0], -0.1) for i in crm])
    z = (
        icp_industry
        + size_term
        + 0.45 * np.minimum(n_modern, 3)
        + crm_term
        + np.where(served, 0.0, -2.0)
        + rng.normal(0, 0.5, n)  # budget, strategy: nothing the firmographics show
    )
    fit = _sigmoid(1.3 * (z - 1.6))

    # Parents: a few per cent of accounts belong to a larger account of the chunk.
    parent = np.full(n, -1)
    if n > 10:
        by_size = np.argsort(employees, kind="stable")
        rank = np.empty(n, dtype=np.int64)
        rank[by_size] = np.arange(n)
        child = np.nonzero((rng.random(n) < 0.03) & (rank < n - 1))[0]
        above = rank[child] + 1 + (rng.random(len(child)) * (n - 1 - rank[child])).astype(np.int64)
        parent[child] = by_size[np.minimum(above, n - 1)]
    global_index = spec.first_index + first + np.arange(n)
    names, domains = _names(spec, rng, global_index, industry)

    accounts = pd.DataFrame(
        {
            "name": names,
            "domain": domains,
            "industry": np.array([i[0] for i in cat.INDUSTRIES], dtype=object)[industry],
            "employee_count": employees,
            "annual_revenue": revenue,
            "founded_year": founded,
            "country": np.array([c[0] for c in cat.COUNTRIES], dtype=object)[country],
            "parent": parent,
            "fit": fit,
        }
    )
    account_technologies = pd.DataFrame({"account": tech_acc, "technology": tech_idx}).sort_values(
        ["account", "technology"], kind="stable", ignore_index=True
    )

    contacts, team_start, team_size, junk = _contacts(spec, rng, accounts, country, first)
    campaigns = plan.campaigns
    eligible = _targets(rng, campaigns, industry, employees, fit, tech_acc, tech_idx)
    held = _holdout(campaigns, account_ids(spec, first, n))
    sim = _simulate(plan, rng, n, employees, fit, country, eligible & ~held)
    # Customer programs: the accounts that are customers when one starts (a share of them, its reach).
    for c, row in enumerate(campaigns.itertuples()):
        if row.segment.get("customers"):
            eligible[:, c] = (sim["customer_since"] <= row.start_day) & (rng.random(n) < row.reach)
    treated = eligible & ~held
    opps = sim["opportunities"]
    events = _events(plan, rng, sim, accounts, contacts, team_start, team_size, junk, treated, fit, log_emp)
    audience, effects = _audience(campaigns, eligible, held, sim["indirect"])

    # A source campaign only counts when the account engaged with it before the deal opened.
    camp_ev = events[events["campaign"] >= 0]
    first_touch = camp_ev.groupby(["account", "campaign"])["day"].min()
    keys = pd.MultiIndex.from_arrays([opps["account"], opps["campaign"]])
    touched = first_touch.reindex(keys).to_numpy()
    ok = (opps["campaign"].to_numpy() >= 0) & (touched < opps["created_day"].to_numpy())
    opps.loc[~ok, "campaign"] = -1

    opps = _stages(T, opps)
    contacts["lifecycle_stage"] = _lifecycle(plan, contacts, opps, events)
    transitions, contacts["created_day"] = _lifecycle_history(plan, contacts, opps, events)
    account_daily, contact_daily = rollups(plan, events)
    return Chunk(
        number=number,
        first=first,
        accounts=accounts,
        account_technologies=account_technologies,
        contacts=contacts,
        opportunities=opps,
        events=events,
        account_daily=account_daily,
        contact_daily=contact_daily,
        ground_truth=sim["ground_truth"],
        lifecycle_transitions=transitions,
        audience=audience,
        campaign_effects=effects,
    )


def _contacts(spec: Spec, rng: np.random.Generator, accounts: pd.DataFrame, country: np.ndarray, first: int):
    """Buying teams of 6-10 persona-mapped contacts per account, then account-less junk."""
    n = len(accounts)
    personas = cat.PERSONAS
    core = [i for i, p in enumerate(personas) if p["core"]]
    optional = [i for i, p in enumerate(personas) if not p["core"]]
    opt_w = np.array([personas[i]["weight"] for i in optional])
    size = np.clip(
        np.round(
            6.3
            + 1.5 * np.log10(np.maximum(accounts["employee_count"].to_numpy(), 50) / 50)
            + rng.normal(0, 1.2, n)
        ),
        6,
        10,
    )
    slots = np.empty((n, 10), dtype=np.int64)
    slots[:, : len(core)] = core
    slots[:, len(core) :] = np.array(optional)[
        rng.choice(len(optional), size=(n, 10 - len(core)), p=opt_w / opt_w.sum())
    ]
    # Some teams miss a core persona: the platform shows which ones are missing.
    missing = rng.random(n) < 0.15
    slots[missing, rng.integers(0, len(core), missing.sum())] = -1
    valid = slots >= 0
    position = np.cumsum(valid, axis=1) - 1
    keep = valid & (position < size[:, None])
    rank = np.array([p["rank"] for p in personas])
    sort_key = np.where(keep, rank[np.maximum(slots, 0)] * 16 + np.arange(10), 10_000)
    order = np.argsort(sort_key, axis=1, kind="stable")
    slots = np.take_along_axis(slots, order, axis=1)
    keep = np.take_along_axis(keep, order, axis=1)
    team_size = keep.sum(axis=1)
    acc = np.repeat(np.arange(n), team_size)
    persona = slots[keep]
    team_start = np.concatenate([[0], np.cumsum(team_size)[:-1]])
    m = len(acc)

    titles = np.empty(m, dtype=object)
    seniority = np.empty(m, dtype=object)
    department = np.empty(m, dtype=object)
    for p_idx, p in enumerate(personas):
        mask = persona == p_idx
        pick = rng.integers(0, len(p["titles"]), mask.sum())
        options = np.array(p["titles"], dtype=object)
        titles[mask], seniority[mask], department[mask] = options[pick, 0], options[pick, 1], options[pick, 2]
    first_names = np.array(cat.FIRST_NAMES, dtype=object)[rng.integers(0, len(cat.FIRST_NAMES), m)]
    last_names = np.array(cat.LAST_NAMES, dtype=object)[rng.integers(0, len(cat.LAST_NAMES), m)]
    fl, ll = _lower(first_names), _lower(last_names)
    style = rng.choice(3, size=n, p=[0.6, 0.25, 0.15])[acc]
    local = np.where(
        style == 0, fl + "." + ll, np.where(style == 1, np.array([f[0] for f in fl], dtype=object) + ll, fl)
    )
    dup = pd.DataFrame({"a": acc, "l": local}).groupby(["a", "l"]).cumcount().to_numpy()
    local = np.where(dup > 0, local + (dup + 1).astype(str).astype(object), local)
    contact_country = np.array([c[0] for c in cat.COUNTRIES], dtype=object)[country][acc]
    served_codes = np.array([c[0] for c in cat.COUNTRIES if c[2]], dtype=object)
    abroad = rng.random(m) < 0.08
    contact_country[abroad] = served_codes[rng.integers(0, len(served_codes), abroad.sum())]
    team = pd.DataFrame(
        {
            "account": acc,
            "email": local + "@" + accounts["domain"].to_numpy()[acc],
            "first_name": first_names,
            "last_name": last_names,
            "title": titles,
            "seniority": seniority,
            "department": department,
            "country": contact_country,
            "persona": persona,
            "junk": "",
        }
    )

    # Junk: job seekers, students, free-mail sign-ups and consultants, with no account.
    n_junk = int(min(rng.poisson(2.4 * n), 4 * n))
    kinds = cat.JUNK_KINDS
    k_share = np.array([k[1] for k in kinds])
    kind = rng.choice(len(kinds), size=n_junk, p=k_share / k_share.sum())
    jf = np.array(cat.FIRST_NAMES, dtype=object)[rng.integers(0, len(cat.FIRST_NAMES), n_junk)]
    jl = np.array(cat.LAST_NAMES, dtype=object)[rng.integers(0, len(cat.LAST_NAMES), n_junk)]
    number = ((spec.first_index + first) * 4 + np.arange(n_junk)).astype(str).astype(object)
    free = np.array(cat.FREE_MAIL_DOMAINS, dtype=object)[rng.integers(0, len(cat.FREE_MAIL_DOMAINS), n_junk)]
    uni = np.array(cat.UNIVERSITY_DOMAINS, dtype=object)[rng.integers(0, len(cat.UNIVERSITY_DOMAINS), n_junk)]
    consult = _lower(jl) + np.where(rng.random(n_junk) < 0.5, "consulting.com", "-advisory.co").astype(object)
    names = np.array([k[0] for k in kinds], dtype=object)[kind]
    domain = np.where(
        names == "consultant", consult, np.where((names == "student") & (rng.random(n_junk) < 0.5), uni, free)
    )
    jtitle = np.empty(n_junk, dtype=object)
    jsen = np.empty(n_junk, dtype=object)
    for k_idx, (_, _, options, _) in enumerate(kinds):
        mask = kind == k_idx
        opts = np.array(options, dtype=object)
        pick = rng.integers(0, len(opts), mask.sum())
        jtitle[mask], jsen[mask] = opts[pick, 0], opts[pick, 1]
    all_codes = np.array([c[0] for c in cat.COUNTRIES], dtype=object)
    junk = pd.DataFrame(
        {
            "account": -1,
            "email": _lower(jf) + "." + _lower(jl) + number + "@" + domain,
            "first_name": jf,
            "last_name": jl,
            "title": jtitle,
            "seniority": jsen,
            "department": "other",
            "country": np.where(
                rng.random(n_junk) < 0.15, "", all_codes[rng.integers(0, len(all_codes), n_junk)]
            ),
            "persona": -1,
            "junk": names,
        }
    )
    contacts = pd.concat([team, junk], ignore_index=True)
    return contacts, team_start, team_size, junk.assign(index=np.arange(m, m + n_junk))


def _lower(values: np.ndarray) -> np.ndarray:
    return np.array([v.lower() for v in values], dtype=object)


def _targets(rng, campaigns, industry, employees, fit, tech_acc, tech_idx) -> np.ndarray:
    """Which accounts each campaign targets (customer programs are decided after the simulation)."""
    n = len(industry)
    ind_names = np.array([i[0] for i in cat.INDUSTRIES])[industry]
    categories = np.array([t[1] for t in cat.TECHNOLOGIES])
    targets = np.zeros((n, len(campaigns)), dtype=bool)
    for c, row in enumerate(campaigns.itertuples()):
        seg = row.segment
        if seg.get("customers"):
            continue
        match = np.ones(n, dtype=bool)
        if seg.get("industries"):
            match &= np.isin(ind_names, seg["industries"])
        match &= employees >= seg.get("min_emp", 0)
        match &= employees <= seg.get("max_emp", 10**9)
        if seg.get("tech"):
            uses = np.zeros(n, dtype=bool)
            uses[tech_acc[categories[tech_idx] == seg["tech"]]] = True
            match &= uses
        p = row.reach * (np.minimum(1.0, 0.2 + 1.6 * fit) if seg.get("fit") else 1.0)
        targets[:, c] = match & (rng.random(n) < p)
    return targets


def _holdout(campaigns: pd.DataFrame, ids: np.ndarray) -> np.ndarray:
    """Per campaign, the accounts (by their future ids) in its holdout, were they eligible: reproducible
    from the campaign's seed, whatever else the world holds (``campaigns.stats.holdout_mask``)."""
    held = np.zeros((len(ids), len(campaigns)), dtype=bool)
    for c, seed in enumerate(campaigns["holdout_seed"]):
        held[:, c] = holdout_mask(ids, seed=int(seed), share=cat.CAMPAIGN_HOLDOUT)
    return held


def _audience(campaigns, eligible, held, indirect) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each campaign's eligible accounts (treated or held out), and per campaign the counts and the sum
    of the indirect effect over its treated accounts."""
    acc, camp = np.nonzero(eligible.T)[::-1]
    order = np.lexsort((acc, camp))
    acc, camp = acc[order], camp[order]
    audience = pd.DataFrame({"campaign": camp, "account": acc, "held": held[acc, camp]})
    treated = eligible & ~held
    effects = pd.DataFrame(
        {
            "campaign": np.arange(len(campaigns)),
            "treated": treated.sum(axis=0),
            "held": (eligible & held).sum(axis=0),
            "indirect_sum": np.where(treated, indirect, 0.0).sum(axis=0),
        }
    )
    return audience, effects


def _simulate(plan: Plan, rng, n, employees, fit, country, treated) -> dict:
    """The daily hidden process; returns opportunities, per-day cycle state, the ground truth, and per
    account and campaign the indirect effect of the campaign's lift (``_indirect``)."""
    spec = plan.spec
    T, B, H = spec.days, BURN_IN, HORIZON
    dates = np.datetime64(spec.start) + np.arange(-B, T + H)
    doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64)
    season = 1.0 + 0.2 * np.cos(2 * np.pi * (doy - 15) / 365.25)  # budgets open in January

    # Hidden per-account parameters.
    q_i = np.exp(3.0 * (fit - 0.5)) / 550.0
    c_i = 0.003 + 0.032 * fit
    b_i = 0.00008 + 0.00030 * fit
    up_i = 0.0008 + 0.0016 * fit
    R_i = rng.integers(10, 31, n)
    D_i = R_i + rng.integers(35, 111, n)
    campaigns = plan.campaigns
    c_start = campaigns["start_day"].to_numpy() + B
    c_end = campaigns["end_day"].to_numpy() + B
    c_upsell = (campaigns["channel"] == "upsell").to_numpy()
    c_lift = campaigns["cycle_lift"].to_numpy()
    channel_of = np.array([cat.CHANNELS.index(ch) for ch in campaigns["channel"]])
    q = np.outer(q_i, season)
    for c in range(len(campaigns)):
        if not c_upsell[c]:
            q[treated[:, c], c_start[c] : c_end[c] + 1] *= c_lift[c]
    b = np.outer(b_i, season)
    up = np.outer(up_i, season)

    band = np.select([employees < 200, employees <= 2000], [0, 1], default=2)
    band_p = np.array([[0.7, 0.25, 0.05], [0.15, 0.65, 0.2], [0.03, 0.32, 0.65]])
    list_price = np.array([p[3] for p in cat.PRODUCTS], dtype=float)
    median_days = np.array([45, 75, 120, 40, 40], dtype=float)
    win_base = np.array([cat.CHANNEL_WIN_RATES[c] for c in cat.CHANNELS])
    offices = [t[1] for t in cat.SALES_TEAMS]
    agents_of = {}
    position = 0
    for _, office, names in cat.SALES_TEAMS:
        agents_of[office] = np.arange(position, position + len(names))
        position += len(names)
    codes = np.array([c[0] for c in cat.COUNTRIES])[country]
    office = np.where(np.isin(codes, list(cat.EMEA)), offices.index("EMEA"), rng.integers(0, 3, n))
    agent = np.array([agents_of[offices[o]][rng.integers(0, len(agents_of[offices[o]]))] for o in office])

    active = np.zeros(n, dtype=bool)
    entry = np.full(n, -(10**6))
    product = np.zeros(n, dtype=np.int64)
    free_from = rng.integers(0, 240, n)
    customer_since = np.full(n, 10**9)
    age_rec = np.full((n, T), -1, dtype=np.int16)
    prod_rec = np.zeros((n, T), dtype=np.int8)
    snap_days = {(d - spec.start).days - 1 + B: d for d in spec.as_of_dates}
    snapshots = {}
    starts = set(c_start[~c_upsell].tolist())
    at_start = {}  # the state as a campaign starts (before that day's step)
    opened_rows = []
    for k in range(B + T):
        if k in starts:
            at_start[k] = (active.copy(), free_from.copy(), customer_since.copy())
        enter = ~active & (k >= free_from) & (rng.random(n) < q[:, k])
        if enter.any():
            idx = np.nonzero(enter)[0]
            active[idx], entry[idx] = True, k
            product[idx] = _choice_rows(rng, band_p[band[idx]])
        age = k - entry
        hc = np.where(active & (age >= R_i), c_i, 0.0)
        hu = np.where(k >= customer_since, up[:, k], 0.0)
        h = b[:, k] + hu + hc
        if k >= B:
            age_rec[:, k - B] = np.where(active, age, -1)
            prod_rec[:, k - B] = product
        opened = rng.random(n) < -np.expm1(-h)
        if opened.any():
            idx = np.nonzero(opened)[0]
            opened_rows.append(
                _open(
                    rng,
                    k,
                    idx,
                    h,
                    hc,
                    hu,
                    product,
                    band,
                    band_p,
                    fit,
                    treated,
                    c_start,
                    c_end,
                    c_upsell,
                    channel_of,
                    median_days,
                    win_base,
                    list_price,
                    employees,
                    agent,
                )
            )
            close = opened_rows[-1]["close"]
            won = opened_rows[-1]["won"]
            customer_since[idx] = np.where(won, np.minimum(customer_since[idx], close), customer_since[idx])
            free_from[idx] = np.maximum(free_from[idx], close + COOL_AFTER_CLOSE)
            active[idx] = False
        ending = active & (k - entry >= D_i - 1)
        active[ending] = False
        free_from[ending] = k + COOL_AFTER_CYCLE
        if k in snap_days:
            snapshots[snap_days[k]] = (
                k,
                active.copy(),
                entry.copy(),
                free_from.copy(),
                customer_since.copy(),
            )

    ground_truth = []
    for as_of, (k, s_active, s_entry, s_free, s_cust) in snapshots.items():
        p = _propensity(k, s_active, s_entry, s_free, s_cust, q, b, up, c_i, R_i, D_i)
        ground_truth.append(
            pd.DataFrame(
                {"account": np.arange(n), "as_of": as_of, "propensity": p, "fit": fit, "in_market": s_active}
            )
        )
    gt = (
        pd.concat(ground_truth, ignore_index=True)
        if ground_truth
        else pd.DataFrame(columns=["account", "as_of", "propensity", "fit", "in_market"])
    )

    if opened_rows:
        opps = pd.DataFrame({key: np.concatenate([r[key] for r in opened_rows]) for key in opened_rows[0]})
    else:
        opps = pd.DataFrame({key: np.zeros(0, dtype=np.int64) for key in _open_keys()})
    for col in ("day", "close", "engaged"):
        opps[col] -= B
    opps = opps.rename(columns={"day": "created_day", "close": "close_day", "engaged": "engaged_day"})
    opps = opps.sort_values(["created_day", "account"], kind="stable", ignore_index=True)

    indirect = np.zeros((n, len(campaigns)))
    workday = workdays(spec)
    for c, row in enumerate(campaigns.itertuples()):
        rows = np.nonzero(treated[:, c])[0]
        if c_upsell[c] or c_lift[c] == 1.0 or not len(rows):
            continue
        state = tuple(s[rows] for s in at_start[c_start[c]])
        days = np.arange(c_start[c], row.last_day + B + 1)
        indirect[rows, c] = _indirect(
            days,
            workday[days - B],
            c_lift[c],
            state,
            q[rows][:, days],
            b[rows][:, days],
            up[rows][:, days],
            fit[rows],
            c_i[rows],
            R_i[rows],
            D_i[rows],
        )
    return {
        "opportunities": opps,
        "ground_truth": gt,
        "age": age_rec,
        "product": prod_rec,
        "R": R_i,
        "customer_since": customer_since - B,
        "indirect": indirect,
    }


def _indirect(days, workday, lift, state, q, b, up, fit, c, R, D) -> np.ndarray:
    """Extra engaged (first-party) events per account-week, in expectation, that a campaign's lift of the
    chance to start a buying cycle adds while it runs (``days``), for treated accounts in ``state`` as it
    starts. Only a dormant account can start a cycle; one that does researches (the cycle's pages, ramping
    up over ``R`` days, until it ends or a deal opens) and, once a deal opens, meets sales. Sums over the
    day ``u`` a cycle starts of (P(start on u | lift) − P(start on u | none)) × E[events from u on].
    Leaves out what is smaller still: a second cycle after an early deal, customer-success events after a
    deal won within the run, and the season's change of the small baseline opening rate within the run."""
    active, free_from, customer_since = state
    L = len(days)
    base = b + up * (days[None, :] >= customer_since[:, None])  # baseline and upsell opening hazard
    free = ~active[:, None] & (days[None, :] >= free_from[:, None])

    def first_start(qq: np.ndarray) -> np.ndarray:
        """P(the first cycle starts on each day): not started, and no deal opened, on any day before."""
        qw = np.where(free, qq, 0.0)
        stay = np.cumsum(np.log1p(-qw) - np.where(free, base, 0.0), axis=1)
        return np.exp(np.concatenate([np.zeros((len(qw), 1)), stay[:, :-1]], axis=1)) * qw

    shift = first_start(q) - first_start(q / lift)
    # Expected events on the cycle's day ``age`` (before the weekday weight), with the opening hazard
    # taken at its mean over the run.
    age = np.arange(L)[None, :]
    in_cycle = age <= (D - 1)[:, None]
    hb = np.repeat(base.mean(axis=1, keepdims=True), L, axis=1)
    hc = np.where(in_cycle & (age >= R[:, None]), c[:, None], 0.0)
    opened_by = np.cumsum(hb + hc, axis=1)  # cumulative hazard through each day, that day included
    still = np.exp(-(opened_by - hb - hc)) * in_cycle  # in the cycle, no deal yet, at the day's start
    research = 0.12 * (0.6 + 0.8 * fit)[:, None] * np.minimum(1.0, (age + 3) / R[:, None])  # ``_events``
    sales = 0.07 * (np.exp(-np.cumsum(hb, axis=1)) - np.exp(-opened_by))  # a deal the cycle opened
    per_age = still * research + sales
    # A cycle started on run day j has age a on run day j + a: weigh by that day's weekday weight.
    j, a = np.meshgrid(np.arange(L), np.arange(L))
    weight = np.where(j + a < L, workday[np.minimum(j + a, L - 1)], 0.0)  # [age, start day]
    extra = (shift * (per_age @ weight)).sum(axis=1)
    return extra / (L / 7)


def _open_keys() -> list[str]:
    return [
        "account",
        "day",
        "cause",
        "product",
        "channel",
        "campaign",
        "close",
        "engaged",
        "won",
        "amount",
        "agent",
    ]


def _open(
    rng,
    k,
    idx,
    h,
    hc,
    hu,
    product,
    band,
    band_p,
    fit,
    treated,
    c_start,
    c_end,
    c_upsell,
    channel_of,
    median_days,
    win_base,
    list_price,
    employees,
    agent,
) -> dict:
    """The deals opened on day ``k``: cause, product, channel, source campaign, outcome and close."""
    m = len(idx)
    u = rng.random(m) * h[idx]
    cause = np.where(u < hc[idx], CAUSE_CYCLE, np.where(u < hc[idx] + hu[idx], CAUSE_UPSELL, CAUSE_BASE))
    prod = np.where(cause == CAUSE_CYCLE, product[idx], _choice_rows(rng, band_p[band[idx]]))
    upsell_prod = rng.choice([3, 4, 2], size=m, p=[0.45, 0.35, 0.2])
    prod = np.where(cause == CAUSE_UPSELL, upsell_prod, prod)

    # The latest campaign that targeted the account, running now or in the last 45 days.
    recent = treated[idx] & (c_start[None, :] <= k) & (k <= c_end[None, :] + 45) & ~c_upsell[None, :]
    latest = np.argmax(np.where(recent, c_start[None, :], -1), axis=1)
    has = recent.any(axis=1)
    take = has & (cause != CAUSE_UPSELL) & (rng.random(m) < np.where(cause == CAUSE_CYCLE, 0.7, 0.5))
    channels = cat.CHANNELS
    cycle_ch = np.array([channels.index(c) for c in ("inbound", "partners", "direct", "events")])
    base_ch = np.array([channels.index(c) for c in ("outbound", "direct", "partners")])
    own = np.where(
        cause == CAUSE_CYCLE,
        cycle_ch[rng.choice(4, size=m, p=[0.65, 0.12, 0.13, 0.1])],
        base_ch[rng.choice(3, size=m, p=[0.5, 0.3, 0.2])],
    )
    channel = np.where(
        cause == CAUSE_UPSELL, channels.index("upsell"), np.where(take, channel_of[latest], own)
    )
    campaign = np.where(take, latest, -1)

    length = np.clip(np.round(median_days[prod] * np.exp(rng.normal(0, 0.35, m))), 30, 180).astype(np.int64)
    p_win = np.clip(win_base[channel] * (0.55 + 0.9 * fit[idx]), 0.02, 0.7)
    won = rng.random(m) < p_win
    size = np.clip((employees[idx] / 500) ** 0.25, 0.5, 3.0)
    amount = np.round(list_price[prod] * size * np.exp(rng.normal(0, 0.3, m)), -2).astype(np.int64)
    engaged = k + np.minimum(rng.integers(0, 15, m), length)
    return {
        "account": idx,
        "day": np.full(m, k),
        "cause": cause,
        "product": prod,
        "channel": channel,
        "campaign": campaign,
        "close": k + length,
        "engaged": engaged,
        "won": won,
        "amount": amount,
        "agent": agent[idx],
    }


def _propensity(k, active, entry, free_from, customer_since, q, b, up, c_i, R_i, D_i) -> np.ndarray:
    """P(an opening on days k+1 .. k+H | hidden state at the end of day k), in closed form.

    Base and upsell hazards are known functions of time (customer status only changes after an
    opening, which no longer matters). The cycle part: an ongoing cycle has a known remaining
    hazard; otherwise at most one cycle can start in the window (cooling lasts longer than it), so
    sum over its start day ``u`` of P(first entry at u) × exp(−hazard of the cycle up to the end).
    """
    H = HORIZON
    days = np.arange(k + 1, k + H + 1)
    base = b[:, days].sum(axis=1) + (up[:, days] * (days[None, :] >= customer_since[:, None])).sum(axis=1)

    # Ongoing cycle: days with age in [R, D-1] within the window.
    age0 = k - entry
    lo = np.maximum(R_i, age0 + 1)
    hi = np.minimum(D_i - 1, age0 + H)
    ongoing = np.exp(-c_i * np.maximum(0, hi - lo + 1))

    # Dormant or cooling: a cycle may start on u in [max(free_from, k+1), k+H].
    can = days[None, :] >= free_from[:, None]
    qw = np.where(can, q[:, days], 0.0)
    log_stay = np.cumsum(np.log1p(-qw), axis=1)
    before = np.exp(np.concatenate([np.zeros((len(qw), 1)), log_stay[:, :-1]], axis=1))
    last_age = (k + H) - days  # age on the window's last day for a start on u
    cycle_days = np.maximum(0, np.minimum(D_i[:, None] - 1, last_age[None, :]) - R_i[:, None] + 1)
    no_open = (before * qw * np.exp(-c_i[:, None] * cycle_days)).sum(axis=1) + np.exp(log_stay[:, -1])
    cycle = np.where(active, ongoing, no_open)
    return 1.0 - np.exp(-base) * cycle


def _draw(rng, rate: np.ndarray):
    """Poisson counts of an (accounts, days) rate matrix, as one (account, day) pair per event."""
    counts = rng.poisson(rate)
    acc, day = np.nonzero(counts)
    reps = counts[acc, day]
    return np.repeat(acc, reps), np.repeat(day, reps)


def _events(
    plan, rng, sim, accounts, contacts, team_start, team_size, junk, treated, fit, log_emp
) -> pd.DataFrame:
    """Engagement and intent events from the hidden state, baseline noise, campaigns and junk."""
    spec = plan.spec
    T = spec.days
    n = len(accounts)
    tpl = plan.templates
    identifying = tpl["identifying"].to_numpy()
    workday = workdays(spec)
    s_i = np.clip(log_emp / 2.5, 0.35, 1.6)
    parts: list[tuple] = []

    def add(acc, day, tmpl, known_share, gamma, campaign=None):
        m = len(acc)
        known = identifying[tmpl] | (rng.random(m) < known_share)
        known &= tpl["source"].to_numpy()[tmpl] == "first_party"
        pos = np.floor(team_size[acc] * rng.random(m) ** gamma).astype(np.int64)
        con = np.where(known, team_start[acc] + pos, -1)
        camp = np.full(m, -1) if campaign is None else campaign
        parts.append((acc, con, day, tmpl, camp))

    age = sim["age"]
    in_cycle = age >= 0
    ramp = np.where(in_cycle, np.minimum(1.0, (age + 3) / sim["R"][:, None]), 0.0)

    acc, day = _draw(rng, (0.085 * s_i * (0.7 + 0.6 * fit))[:, None] * workday[None, :])
    add(acc, day, _pick(rng, plan.groups["baseline"], len(acc)), 0.25, 2.0)
    acc, day = _draw(rng, (0.05 * team_size / 8)[:, None] * workday[None, :])
    add(acc, day, _pick(rng, plan.groups["email"], len(acc)), 1.0, 1.0)
    acc, day = _draw(rng, np.repeat((0.025 * s_i)[:, None], T, axis=1))
    add(acc, day, _pick(rng, plan.groups["intent_noise"], len(acc)), 0.0, 1.0)
    acc, day = _draw(rng, 0.25 * ramp)
    prod = sim["product"][acc, day]
    tmpl = np.empty(len(acc), dtype=np.int64)
    for p, group in enumerate(plan.product_topics):
        mask = prod == p
        tmpl[mask] = _pick(rng, group, mask.sum())
    add(acc, day, tmpl, 0.0, 1.0)
    acc, day = _draw(rng, (0.12 * (0.6 + 0.8 * fit))[:, None] * ramp * workday[None, :])
    add(acc, day, _pick(rng, plan.groups["cycle"], len(acc)), 0.55, 1.2)
    acc, day = _draw(rng, np.repeat((0.008 * s_i)[:, None], T, axis=1))
    add(acc, day, _pick(rng, plan.groups["careers"], len(acc)), 0.0, 1.0)

    # The sales process while a deal is open, customer success once a customer.
    opps = sim["opportunities"]
    open_days = np.zeros((n, T + 1), dtype=np.int64)
    start = np.clip(opps["created_day"].to_numpy(), 0, T)
    stop = np.clip(opps["close_day"].to_numpy(), 0, T)
    np.add.at(open_days, (opps["account"].to_numpy(), start), 1)
    np.add.at(open_days, (opps["account"].to_numpy(), stop), -1)
    is_open = np.cumsum(open_days, axis=1)[:, :T] > 0
    acc, day = _draw(rng, 0.07 * is_open * workday[None, :])
    add(acc, day, _pick(rng, plan.groups["sales"], len(acc)), 0.9, 1.3)
    customer = np.arange(T)[None, :] >= sim["customer_since"][:, None]
    acc, day = _draw(rng, 0.02 * customer * workday[None, :])
    add(acc, day, _pick(rng, plan.groups["customer"], len(acc)), 0.8, 1.5)

    # Campaigns: their treated accounts engage while they run, at the campaign's rate (the holdout does
    # not); customer programs target the accounts that are customers when they start.
    campaigns = plan.campaigns
    for c, row in enumerate(campaigns.itertuples()):
        idx = np.nonzero(treated[:, c])[0]
        if not len(idx):
            continue
        span = row.last_day - row.start_day + 1
        rate = np.full((len(idx), span), row.rate) * workday[None, row.start_day : row.last_day + 1]
        a, d = _draw(rng, rate)
        acc, day = idx[a], d + row.start_day
        add(acc, day, _pick(rng, plan.campaign_mix[c], len(acc)), row.known, 1.5, np.full(len(acc), c))

    frames = [
        pd.DataFrame({"account": a, "contact": co, "day": d, "template": t, "campaign": ca})
        for a, co, d, t, ca in parts
    ]
    # Junk contacts: a burst of activity around one day each; no account.
    if len(junk):
        counts = 1 + rng.poisson(2.0, len(junk))
        jidx = np.repeat(np.arange(len(junk)), counts)
        centre = rng.integers(0, T, len(junk))
        jday = np.clip(centre[jidx] + rng.integers(-20, 21, len(jidx)), 0, T - 1)
        jt = np.empty(len(jidx), dtype=np.int64)
        kinds = junk["junk"].to_numpy()[jidx]
        for kind in np.unique(kinds):
            mask = kinds == kind
            jt[mask] = _pick(rng, plan.groups[f"junk:{kind}"], mask.sum())
        frames.append(
            pd.DataFrame(
                {
                    "account": -1,
                    "contact": junk["index"].to_numpy()[jidx],
                    "day": jday,
                    "template": jt,
                    "campaign": -1,
                }
            )
        )
    events = pd.concat(frames, ignore_index=True)
    seconds = np.clip(rng.normal(14.5 * 3600, 2.6 * 3600, len(events)), 0, 86_399).astype(np.int64)
    epoch = (spec.start - EPOCH).days * 86_400
    events["ts"] = epoch + events["day"].to_numpy() * 86_400 + seconds
    # Clustered by account, then time: ids stay local to an account, which keeps index writes sequential.
    events["junk"] = events["account"] < 0
    events = events.sort_values(["junk", "account", "ts", "contact"], kind="stable", ignore_index=True)
    events = events.drop(columns="junk")
    return events


def _event_kinds(plan: Plan, events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each event's type, and whether it is a valuable action (what makes a lead an MQL)."""
    tpl, tmpl = plan.templates, events["template"].to_numpy()
    etype = tpl["event_type"].to_numpy()[tmpl]
    valuable = np.isin(etype, ["form_fill", "content_download", "webinar", "demo_request", "free_trial"]) | (
        tpl["key"].to_numpy()[tmpl] == "/pricing"
    )
    return etype, valuable


def _lifecycle(plan: Plan, contacts: pd.DataFrame, opps: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    """Plausible lifecycle stages at the end of the period, from the deals and the contact's activity."""
    T = plan.spec.days
    m = len(contacts)
    acc = contacts["account"].to_numpy()
    n = int(acc.max()) + 1 if m else 0
    closed = opps["close_day"].to_numpy() < T
    won = opps["won"].to_numpy().astype(bool)
    opp_acc = opps["account"].to_numpy()
    won_acc = np.zeros(n + 1, dtype=bool)
    lost_acc = np.zeros(n + 1, dtype=bool)
    open_acc = np.zeros(n + 1, dtype=bool)
    won_acc[opp_acc[closed & won]] = True
    lost_acc[opp_acc[closed & ~won]] = True
    open_acc[opp_acc[~closed]] = True

    etype, valuable = _event_kinds(plan, events)
    con = events["contact"].to_numpy()
    day = events["day"].to_numpy()
    known = con >= 0
    recent = known & (day >= T - 90)

    def per_contact(mask: np.ndarray) -> np.ndarray:
        return np.bincount(con[mask], minlength=m)

    engaged = per_contact(known & (day >= T - 120)) > 0
    value = per_contact(recent & valuable)
    hand_raise = per_contact(recent & np.isin(etype, ["demo_request", "free_trial"])) > 0
    meeting = per_contact(recent & (etype == "meeting")) > 0

    a = np.where(acc >= 0, acc, n)
    stage = np.full(m, "lead", dtype=object)
    stage[lost_acc[a] & ~open_acc[a] & ~won_acc[a] & engaged] = "recycled"
    stage[value >= 2] = "mql"
    stage[hand_raise] = "sal"
    stage[meeting] = "sql"
    stage[open_acc[a] & engaged] = "opportunity"
    stage[won_acc[a]] = "customer"
    stage[contacts["junk"].to_numpy() != ""] = "disqualified"
    stage[acc < 0] = "disqualified"
    return stage


FUNNEL = ["lead", "mql", "sal", "sql", "opportunity", "customer"]


def _lifecycle_history(
    plan: Plan, contacts: pd.DataFrame, opps: pd.DataFrame, events: pd.DataFrame
) -> tuple[pd.DataFrame, np.ndarray]:
    """The dated moves that brought each contact to its final stage, so the funnel has a past: up the
    funnel one stage at a time (the evidence's day where the data has one — a second valuable action for
    MQL, a demo request or trial for SAL, a meeting for SQL, the deal's opening and win — else a few days
    after the previous move); recycled after a lost deal, disqualified at the first activity. Also the day
    each contact became known (its first sign: it enters the funnel as a lead then)."""
    T = plan.spec.days
    m = len(contacts)
    stage = contacts["lifecycle_stage"].to_numpy()
    etype, valuable = _event_kinds(plan, events)
    con, day = events["contact"].to_numpy(), events["day"].to_numpy()
    known = con >= 0
    none = np.full(m, T, dtype=np.int64)

    def first(mask: np.ndarray, nth: int = 1) -> np.ndarray:
        """Per contact, the day of its ``nth`` event in ``mask`` (``T`` if it has fewer)."""
        out = none.copy()
        c, d = con[mask & known], day[mask & known]
        order = np.lexsort((d, c))
        c, d = c[order], d[order]
        rank = np.arange(len(c)) - np.searchsorted(c, c)  # position within the contact's events
        pick = rank == nth - 1
        out[c[pick]] = d[pick]
        return out

    acc = contacts["account"].to_numpy()
    n = int(max(acc.max(initial=-1), opps["account"].max() if len(opps) else -1)) + 2
    a = np.where(acc >= 0, acc, n - 1)
    opp_acc, created, close = (opps[k].to_numpy() for k in ("account", "created_day", "close_day"))
    won = opps["won"].to_numpy().astype(bool) & (close < T)
    lost = ~opps["won"].to_numpy().astype(bool) & (close < T)
    opened, won_day, lost_day = np.full(n, T), np.full(n, T), np.full(n, T)
    np.minimum.at(opened, opp_acc, np.maximum(created, 0))  # deals opened before the period: its first day
    np.minimum.at(won_day, opp_acc[won], close[won])
    np.minimum.at(lost_day, opp_acc[lost], close[lost])
    evidence = {
        "mql": first(valuable, 2),
        "sal": first(np.isin(etype, ["demo_request", "free_trial"])),
        "sql": first(etype == "meeting"),
        "opportunity": opened[a],
        "customer": won_day[a],
    }
    gap = 1 + np.arange(m) % 6  # a few days between moves where the data has no day for one
    # The first sign of the contact: its first activity or the first evidence of any stage.
    start = np.minimum.reduce([first(np.ones(len(con), dtype=bool)), *evidence.values(), lost_day[a]])
    start = np.where(start < T, start, np.maximum(T - 1 - 7 * gap, 0))
    rows: list[tuple[np.ndarray, str, str, np.ndarray]] = []
    previous = start.copy()
    level = pd.Series(stage).map({s: k for k, s in enumerate(FUNNEL)}).fillna(0).to_numpy(dtype=np.int64)
    for k, to in enumerate(FUNNEL[1:], start=1):
        who = level >= k
        seen = evidence[to]
        when = np.where((seen < T) & (seen > previous), seen, previous + gap)
        when = np.minimum(when, T - 1)
        rows.append((np.flatnonzero(who), FUNNEL[k - 1], to, when[who]))
        previous = np.where(who, when, previous)
    recycled = stage == "recycled"
    rows.append((np.flatnonzero(recycled), "lead", "recycled", np.minimum(lost_day[a], T - 1)[recycled]))
    disqualified = stage == "disqualified"
    rows.append((np.flatnonzero(disqualified), "lead", "disqualified", start[disqualified]))
    moves = pd.DataFrame(
        {
            "contact": np.concatenate([r[0] for r in rows]),
            "from_stage": np.concatenate([np.full(len(r[0]), r[1], dtype=object) for r in rows]),
            "to_stage": np.concatenate([np.full(len(r[0]), r[2], dtype=object) for r in rows]),
            # Deals won or lost in the burn-in year date their moves to the period's first day (the
            # contacts exist from then on).
            "day": np.maximum(np.concatenate([r[3] for r in rows]), 0).astype(np.int64),
        }
    ).sort_values(["contact", "day"], kind="stable", ignore_index=True)
    return moves, np.maximum(start, 0).astype(np.int64)


def _stages(T: int, opps: pd.DataFrame) -> pd.DataFrame:
    """Closed deals are won or lost; open ones sit in the stage their elapsed share of the cycle implies."""
    created = opps["created_day"].to_numpy()
    close = opps["close_day"].to_numpy()
    engaged = opps["engaged_day"].to_numpy()
    closed = close < T
    frac = (T - created) / np.maximum(1, close - created)
    stage = np.where(
        closed,
        np.where(opps["won"].to_numpy().astype(bool), "won", "lost"),
        np.where(
            engaged >= T,
            "prospecting",
            np.where(frac < 0.5, "engaging", np.where(frac < 0.8, "proposal", "negotiation")),
        ),
    )
    opps["stage"] = stage.astype(object)
    opps["engaged_day"] = np.where(~closed & (engaged >= T), NO_DAY, engaged)
    return opps


def rollups(plan: Plan, events: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily rollups with the ingestion's semantics: per account (and per contact), UTC day, type, key."""
    tpl = plan.templates
    type_code = tpl["type_code"].to_numpy()[events["template"].to_numpy()]
    key_code = tpl["key_code"].to_numpy()[events["template"].to_numpy()]
    day = events["ts"].to_numpy() // 86_400
    n_type, n_key = len(EVENT_TYPES), int(tpl["key_code"].max()) + 1
    acc = events["account"].to_numpy()
    con = events["contact"].to_numpy()

    has_acc = acc >= 0
    combo = ((acc[has_acc] * 100_000 + day[has_acc]) * n_type + type_code[has_acc]) * n_key + key_code[
        has_acc
    ]
    uniq, inverse, count = np.unique(combo, return_inverse=True, return_counts=True)
    known = np.bincount(inverse, weights=(con[has_acc] >= 0).astype(float), minlength=len(uniq)).astype(
        np.int64
    )
    rest, key = np.divmod(uniq, n_key)
    rest, etype = np.divmod(rest, n_type)
    a, d = np.divmod(rest, 100_000)
    account_daily = pd.DataFrame(
        {"account": a, "day": d, "type": etype, "key": key, "count": count, "known": known}
    )

    has_con = con >= 0
    combo = ((con[has_con] * 100_000 + day[has_con]) * n_type + type_code[has_con]) * n_key + key_code[
        has_con
    ]
    uniq, first, count = np.unique(combo, return_index=True, return_counts=True)
    rest, key = np.divmod(uniq, n_key)
    rest, etype = np.divmod(rest, n_type)
    c, d = np.divmod(rest, 100_000)
    contact_daily = pd.DataFrame(
        {"contact": c, "account": acc[has_con][first], "day": d, "type": etype, "key": key, "count": count}
    )
    return account_daily, contact_daily


def generate(spec: Spec, plan: Plan | None = None) -> Iterator[Chunk]:
    """The whole world, chunk by chunk (memory stays bounded by one chunk)."""
    plan = plan or make_plan(spec)
    for number in range((spec.accounts + CHUNK - 1) // CHUNK):
        yield generate_chunk(plan, number)
