"""Lead conversion from an imported CRM export: a CSV of leads with arbitrary custom attributes and a
converted flag, no dates.

Without dates there is no time to split on, so the proof is cross-validated (stratified K-fold):
XGBoost against logistic regression and naive Bayes, one report with ``backtest.metrics`` per model and
``backtest.leakage_warnings`` (attributes that predict the flag too well are probably filled in after
the conversion). Columns:

* numeric (every non-empty value parses as a number): used as they are, plus ``…__missing`` when
  some are empty;
* anything else is categorical: one-hot on the ``TOP_LEVELS`` most frequent values (seen at least
  ``MIN_LEVEL_COUNT`` times), ``…__other`` for the rest, ``…__blank`` for empty;
* dropped, and listed with the reason in the report: the id column, e-mail addresses, people's names,
  phone numbers, free text with mostly distinct values, numeric identifiers, constant columns.

The version is registered as kind ``lead_conversion`` through ``registry.model_register``; when it
becomes the champion, every contact whose e-mail is in the export gets ``ContactModelScore.conversion``
(the final model's probability for its row) and ``conversion_model``, set-based. Every check on the input
happens before anything is written: bad input raises ``LeadImportError`` and changes nothing.
"""

import datetime
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

from accounts.models import Account, Contact, ContactActivityDaily, Opportunity, Persona
from revops.bulk import is_postgres, rows_frame, table_sql
from scoring.choices import ColumnDecisionKind, ScoringModelKind, ScoringModelStatus
from scoring.learned import backtest as B
from scoring.learned import columns as C
from scoring.learned import decisions as D
from scoring.learned import families
from scoring.learned import lookalike as L
from scoring.learned import registry as R
from scoring.learned.words import slug
from scoring.models import ContactModelScore, ScoringModel

MIN_ROWS = 50
TOP_LEVELS = 20
MIN_LEVEL_COUNT = 3
MOSTLY_UNIQUE = 0.5  # text columns with more distinct values than this share of rows are free text
POSITIVE = frozenset({"1", "1.0", "true", "t", "yes", "y", "converted", "won"})
NEGATIVE = frozenset(
    {
        "0",
        "0.0",
        "false",
        "f",
        "no",
        "n",
        "not",
        "not converted",
        "not_converted",
        "unconverted",
        "non-converted",
        "lost",
    }
)


class LeadImportError(Exception):
    """The export cannot be used; nothing was written."""


@dataclass
class Prepared:
    """An export checked and encoded: the model frame (features + ``label``) and how it was built."""

    frame: pd.DataFrame
    columns: list[str]
    encoding: dict
    dropped: list[dict]
    email_column: str | None
    emails: pd.Series
    origin: dict[str, str] = field(default_factory=dict)  # feature → export column


# --- reading and checking ----------------------------------------------------------------------------
def read_export(path) -> pd.DataFrame:
    """The CSV as text (nothing guessed yet), headers stripped; a clear error when unreadable."""
    path = Path(path)
    if not path.exists():
        raise LeadImportError(f"{path}: no such file")
    if not path.is_file():
        raise LeadImportError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise LeadImportError(f"{path}: the file is empty")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as exc:
        raise LeadImportError(f"{path}: the file is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise LeadImportError(f"{path}: not a readable CSV file ({exc})") from exc
    raw.columns = [str(c).strip() for c in raw.columns]
    if raw.empty:
        raise LeadImportError(f"{path}: the file has a header but no rows")
    duplicated = sorted({c for c in raw.columns if list(raw.columns).count(c) > 1})
    if duplicated:
        raise LeadImportError(f"{path}: duplicated column names: {', '.join(duplicated)}")
    return raw.apply(lambda column: column.str.strip())


def _column(raw: pd.DataFrame, name: str, what: str) -> str:
    """``name`` among the export's columns (exactly, else ignoring case), or a clear error."""
    if name in raw.columns:
        return name
    folded = [c for c in raw.columns if c.lower() == name.strip().lower()]
    if len(folded) == 1:
        return folded[0]
    raise LeadImportError(
        f"{what} column {name!r} is not in the file; its columns are: {', '.join(map(str, raw.columns))}"
    )


def parse_target(values: pd.Series, name: str) -> np.ndarray:
    """The converted flag as 0/1: 1/0, true/false, yes/no, converted/not (any case)."""
    folded = values.astype(str).str.strip().str.lower()
    blank = np.flatnonzero(folded.to_numpy() == "")
    if len(blank):
        rows = ", ".join(str(i + 2) for i in blank[:10])  # +2: the header is line 1
        raise LeadImportError(f"target {name!r} is empty on {len(blank)} line(s): {rows}")
    unknown = sorted(set(folded) - POSITIVE - NEGATIVE)
    if unknown:
        shown = ", ".join(repr(v) for v in unknown[:8]) + (" …" if len(unknown) > 8 else "")
        raise LeadImportError(
            f"target {name!r} is not a yes/no flag: {len(unknown)} other value(s) ({shown}); "
            "accepted: 1/0, true/false, yes/no, converted/not converted"
        )
    return folded.isin(POSITIVE).to_numpy().astype(np.int64)


def _numeric(values: pd.Series) -> pd.Series | None:
    """The column as numbers if every non-empty value is one, else None."""
    present = values[values != ""]
    if present.empty:
        return None
    parsed = pd.to_numeric(present, errors="coerce")
    if parsed.isna().any():
        return None
    return pd.to_numeric(values.replace("", np.nan), errors="coerce").astype(np.float64)


def _name(base: str, taken: set[str]) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def prepare(
    raw: pd.DataFrame, *, target: str, id_column: str | None = None, exclude: list[str] | tuple = (),
    outcome_date: str | None = None,
) -> Prepared:  # fmt: skip
    """Check the export and encode it (see the module docstring); columns in ``exclude`` (a person's
    decision) are left out with that reason. Raises ``LeadImportError``."""
    target = _column(raw, target, "target")
    id_column = _column(raw, id_column, "id") if id_column else None
    if id_column == target:
        raise LeadImportError("the id column cannot be the target")
    y = parse_target(raw[target], target)
    if len(raw) < MIN_ROWS:
        raise LeadImportError(f"too few rows to learn from: {len(raw)} (need at least {MIN_ROWS})")
    positives = int(y.sum())
    if positives == 0 or positives == len(y):
        only = "converted" if positives else "not converted"
        raise LeadImportError(f"target {target!r} has one class only: every lead is {only}")
    dropped: list[dict] = []
    email_column = None
    numeric_spec, categorical_spec = [], []
    cols: dict[str, np.ndarray] = {}
    origin: dict[str, str] = {}
    taken: set[str] = set()
    n = len(raw)
    for column in raw.columns:
        if column == target:
            continue
        values = raw[column].astype(str)
        present = values[values != ""]
        distinct = present.nunique()
        looks_like_email = len(present) > 0 and present.str.match(C.EMAIL).mean() >= C.MOSTLY
        if looks_like_email and email_column is None:
            email_column = column
        numbers = _numeric(values)
        reason = None
        if column == id_column:
            reason = "the id column"
        elif column in exclude:
            reason = "excluded from training by a person"
        elif column == outcome_date:
            reason = "the outcome's date: known only once the outcome is"
        elif values.nunique() <= 1:  # a value or blank is two values: "filled in or not" may matter
            reason = "constant: the same value on every row"
        else:
            reason = C.drop_reason(column, values, numbers)
        if reason is None and numbers is None and distinct > max(20, MOSTLY_UNIQUE * len(present)):
            reason = f"free text: {distinct} distinct values in {len(present)} rows"
        if reason is not None:
            dropped.append({"column": column, "reason": reason})
            continue
        if numbers is not None:
            name = _name(f"num__{slug(column)}", taken)
            cols[name], origin[name] = numbers.to_numpy(), column
            spec = {"column": column, "feature": name, "median": float(numbers.median()), "missing": None}
            if numbers.isna().any():
                missing = _name(f"{name}__missing", taken)
                cols[missing], origin[missing] = numbers.isna().to_numpy(dtype=float), column
                spec["missing"] = missing
            numeric_spec.append(spec)
            continue
        counts = present.value_counts()
        levels = [str(v) for v, c in counts.items() if c >= MIN_LEVEL_COUNT][:TOP_LEVELS]
        spec = {"column": column, "levels": {}, "other": None, "blank": None}
        array = values.to_numpy(dtype=object)
        for level in levels:
            name = _name(f"cat__{slug(column)}__{slug(level)}", taken)
            cols[name], origin[name] = (array == level).astype(float), column
            spec["levels"][level] = name
        rest = (array != "") & ~np.isin(array, levels)
        if rest.any():
            name = _name(f"cat__{slug(column)}__other", taken)
            cols[name], origin[name] = rest.astype(float), column
            spec["other"] = name
        if (array == "").any():
            name = _name(f"cat__{slug(column)}__blank", taken)
            cols[name], origin[name] = (array == "").astype(float), column
            spec["blank"] = name
        categorical_spec.append(spec)
    if not cols:
        raise LeadImportError(
            "no usable attribute is left once identifying and constant columns are dropped: "
            + "; ".join(f"{d['column']} ({d['reason']})" for d in dropped)
        )
    frame = pd.DataFrame(cols, index=pd.RangeIndex(n)).astype(np.float64)
    columns = list(frame.columns)
    frame["label"] = y
    by_email = id_column and raw[id_column].astype(str).str.match(C.EMAIL).mean() >= C.MOSTLY
    if email_column is None and by_email:
        email_column = id_column
    emails = (
        raw[email_column].astype(str).str.strip().str.lower() if email_column else pd.Series([], dtype=str)
    )
    encoding = {
        "target": target,
        "id_column": id_column,
        "email_column": email_column,
        "numeric": numeric_spec,
        "categorical": categorical_spec,
        "top_levels": TOP_LEVELS,
        "min_level_count": MIN_LEVEL_COUNT,
    }
    return Prepared(frame, columns, encoding, dropped, email_column, emails, origin)


# --- training ----------------------------------------------------------------------------------------
def lead_conversion_train(
    *,
    path,
    target: str,
    id_column: str | None = None,
    folds: int = 5,
    user=None,
    margin: float = 0.005,
    params: dict | None = None,
    progress=None,
    exclude: list[str] | tuple = (),
    confirm: list[str] | tuple = (),
    outcome_date: str | None = None,
) -> tuple[ScoringModel, dict]:
    """Check and encode the export, cross-validate, audit its columns for leakage, register a
    ``lead_conversion`` version and, if it is the champion, score the contacts whose e-mail is in the
    export. Returns the version and the report.

    ``exclude`` and ``confirm`` name columns a person decided on (excluded from training; known before
    the outcome): recorded, audited, with the version, and applied by every later training, as are the
    decisions taken before (in the UI or an earlier run). ``outcome_date`` names the column with the
    date of the outcome, for the check of dates recorded after it."""
    say = progress or (lambda message: None)
    started = time.monotonic()
    if folds < 2:
        raise LeadImportError("--folds must be at least 2")
    raw = read_export(path)
    kind = ScoringModelKind.LEAD_CONVERSION.value
    named = {name: _column(raw, name, option) for option, names in
             (("--exclude", exclude), ("--confirm", confirm)) for name in names}  # fmt: skip
    both = {named[c] for c in exclude} & {named[c] for c in confirm}
    if both:
        raise LeadImportError(f"a column cannot be both excluded and confirmed: {', '.join(sorted(both))}")
    if outcome_date:
        outcome_date = _column(raw, outcome_date, "--outcome-date")
    decided = D.column_decisions(kind)
    excluded = {
        c for c, d in decided.items() if d.decision == ColumnDecisionKind.EXCLUDED and c in raw.columns
    }
    excluded = (excluded - {named[c] for c in confirm}) | {named[c] for c in exclude}
    prepared = prepare(
        raw, target=target, id_column=id_column, exclude=sorted(excluded), outcome_date=outcome_date
    )
    frame, columns = prepared.frame, prepared.columns
    smaller = int(min(frame["label"].sum(), len(frame) - frame["label"].sum()))
    if smaller < folds:
        raise LeadImportError(
            f"the rarer class has {smaller} row(s): too few for {folds}-fold cross-validation (lower --folds)"
        )
    say(f"{len(frame):,} leads, {int(frame['label'].sum()):,} converted, {len(columns)} features")
    used = [spec["column"] for spec in prepared.encoding["numeric"] + prepared.encoding["categorical"]]
    categories = np.column_stack([C.levels(raw[c].astype(str)) for c in used])
    report, trees = L.cross_validate(
        frame, columns, folds=folds, params=params, progress=say, categories=categories
    )
    columns = report["features"]
    say("checking every column for leakage …")
    report["leakage_warnings"] = leakage_warnings(
        raw, frame, prepared, used, report, trees, params, outcome_date
    )
    say("training the final model …")
    model, used = L.fit_final(
        frame, columns, trees=trees, params=L.final_params(report, params), family=L.champion_family(report)
    )
    probability = model.predict_proba(frame[columns])[:, 1]
    report.update(
        kind=ScoringModelKind.LEAD_CONVERSION.value,
        source=Path(path).name,
        target=prepared.encoding["target"],
        dropped=prepared.dropped,
        columns_used={
            "numeric": [s["column"] for s in prepared.encoding["numeric"]],
            "categorical": [s["column"] for s in prepared.encoding["categorical"]],
        },
    )
    with transaction.atomic():
        for option, decision, flag in (
            (exclude, ColumnDecisionKind.EXCLUDED, "--exclude"),
            (confirm, ColumnDecisionKind.CONFIRMED, "--confirm"),
        ):
            for name in option:
                D.column_decision_set(
                    kind=kind, column=named[name], decision=decision, user=user, note=f"train_leads {flag}"
                )
        registered = R.model_register(
            kind=ScoringModelKind.LEAD_CONVERSION.value,
            artefact=R.artefact_bytes(model),
            features=columns,
            params={**used, "folds": folds, "encoding": prepared.encoding},
            metrics=report,
            train_start=None,
            train_end=None,
            horizon_days=0,  # no dates in an export: no horizon
            user=user,
            margin=margin,
        )
        contacts = {"email_column": prepared.email_column, "matched": 0, "written": 0}
        if registered.status != ScoringModelStatus.CHAMPION:
            contacts["note"] = "not written: the new version is a challenger (the champion's scores stand)"
        elif prepared.email_column is None:
            contacts["note"] = "no e-mail column: no contact to score"
        else:
            matched, written = conversion_scores_write(
                model=registered, emails=prepared.emails, probability=probability
            )
            contacts.update(matched=matched, written=written)
    report["leakage_warnings"] = registered.metrics["leakage_warnings"]  # with each one's status
    report["contacts"] = contacts
    report["seconds"] = round(time.monotonic() - started, 2)
    return registered, report


def leakage_warnings(raw, frame, prepared: Prepared, used: list[str], report: dict, trees: int, params,
                     outcome_date: str | None) -> list[dict]:  # fmt: skip
    """The source columns probably filled in after the outcome (``columns.leakage_audit``, with a drop-column
    test by cross-validated XGBoost), a feature that alone gives the outcome away (its column named), and
    a notice when the whole model ranks too well."""
    y = frame["label"].to_numpy()
    features = report["features"]

    def refit(without: list[str]) -> float:
        keep = [f for f in features if prepared.origin.get(f) not in set(without)]
        return cross_validated_auc(frame, keep, trees=trees, params=params)

    alone = {c: C.alone_auc(raw[c].astype(str), y) for c in used}
    warnings = C.leakage_audit(
        raw, y, used, model_auc=refit([]), refit=refit, outcome_date=outcome_date, alone=alone
    )
    named = {w["column"] for w in warnings}
    for feature_warning in report.get("leakage_warnings") or []:
        column = prepared.origin.get(feature_warning["feature"], feature_warning["feature"])
        feature, auc = feature_warning["feature"], feature_warning["auc"]
        why = f"one of its values ({feature}) alone ranks the outcome with ROC AUC {auc:.3f}"
        if column in named:
            entry = next(w for w in warnings if w["column"] == column)
            entry["reasons"].append(why)
            entry["warning"] = f"{column!r}: " + "; ".join(entry["reasons"])
        else:
            warnings.append({"column": column, "alone_auc": feature_warning["auc"], "reasons": [why],
                             "warning": f"{column!r}: {why}"})  # fmt: skip
    champion = (report.get("champion") or {}).get("roc_auc")
    strongest = sorted(alone.items(), key=lambda pair: -pair[1])
    notice = C.model_warning(champion, strongest)
    return warnings + ([notice] if notice else [])


def cross_validated_auc(
    frame: pd.DataFrame, columns: list[str], *, trees: int, params=None, folds: int = 5
) -> float:
    """ROC AUC of XGBoost with ``trees`` trees on ``columns``, pooled over stratified folds (the drop-column
    test: the same procedure with and without a column)."""
    y = frame["label"].to_numpy()
    if not columns:
        return 0.5
    settings = {**L.FIT_PARAMS, **(params or {}), "n_estimators": max(1, int(trees))}
    out = np.zeros(len(frame))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=1).split(np.zeros(len(y)), y):
        model = families.fit_xgboost(frame.iloc[train], None, columns, settings)
        out[test] = model.predict(frame.iloc[test][columns])
    return float(roc_auc_score(y, out))


# --- scoring contacts --------------------------------------------------------------------------------
def _contact_ids(emails: list[str]) -> pd.DataFrame:
    """(email, contact_id) for the e-mails that are contacts (e-mails are stored lower-case)."""
    parts = []
    for start in range(0, len(emails), 5000):
        batch = emails[start : start + 5000]
        with connection.cursor() as cursor:
            if is_postgres():
                cursor.execute(f"SELECT email, id FROM {table_sql(Contact)} WHERE email = ANY(%s)", [batch])
            else:
                marks = ", ".join(["%s"] * len(batch))
                cursor.execute(f"SELECT email, id FROM {table_sql(Contact)} WHERE email IN ({marks})", batch)
            parts.extend(cursor.fetchall())
    return pd.DataFrame.from_records(parts, columns=["email", "contact_id"])


def conversion_scores_write(
    *, model: ScoringModel, emails: pd.Series, probability: np.ndarray
) -> tuple[int, int]:
    """Set ``conversion`` and ``conversion_model`` of the contacts with these e-mails (one statement;
    a contact without a score row gets one, its persona columns left for the persona scorer).
    Returns (contacts matched, rows written)."""
    scores = pd.DataFrame({"email": emails.to_numpy(), "conversion": np.round(probability, 6)})
    scores = scores[scores["email"] != ""].drop_duplicates("email", keep="last")
    if scores.empty:
        return 0, 0
    found = _contact_ids(scores["email"].tolist())
    if found.empty:
        return 0, 0
    rows = found.merge(scores, on="email")[["contact_id", "conversion"]]
    table = table_sql(ContactModelScore)
    now = timezone.now()
    columns = (
        "contact_id, model_id, persona_fit, engagement_vs_buyers, conversion_model_id, conversion, scored_at"
    )
    update = "conversion = EXCLUDED.conversion, conversion_model_id = EXCLUDED.conversion_model_id"
    with connection.cursor() as cursor:
        if is_postgres():
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "
                f"SELECT s.id, NULL, 0, 0, %s, s.p, %s FROM unnest(%s::bigint[], %s::float8[]) AS s(id, p) "
                f"ON CONFLICT (contact_id) DO UPDATE SET {update}",
                [
                    model.pk,
                    now,
                    rows["contact_id"].astype(int).tolist(),
                    rows["conversion"].astype(float).tolist(),
                ],
            )
        else:
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES (%s, NULL, 0, 0, %s, %s, %s) "
                f"ON CONFLICT (contact_id) DO UPDATE SET {update.replace('EXCLUDED.', 'excluded.')}",
                [
                    [int(c), model.pk, float(p), now.isoformat()]
                    for c, p in rows.itertuples(index=False, name=None)
                ],
            )
    return len(rows), len(rows)


# --- the demo export -----------------------------------------------------------------------------------
def demo_leads_frame(
    *, seed: int = 0, limit: int | None = None, window_days: int = 90, end: datetime.date | None = None
) -> pd.DataFrame:
    """A CRM-style lead export from the data in the database (meant for the demo world): one row per
    contact whose first activity is at least ``window_days`` before the data's end, with its attributes,
    its account's firmographics, its custom fields (``custom_<key>``, ``account_custom_<key>``), the event
    type of its first activity (``first_touch``), a made-up ``lead_id`` and ``converted``: its account
    opened an opportunity in the ``window_days`` after that first activity (contacts with no account
    never convert). Everything but the flag is known on the day of the first activity. ``seed`` draws
    the lead ids, the row order and the ``limit`` sample; ``end`` is the data's last day (default: as
    ``backtest.data_end``)."""
    t = table_sql
    contacts = rows_frame(
        f"""
        SELECT c.id, c.email, c.first_name, c.last_name, c.title, c.seniority, c.department, c.country,
               p.name, c.custom, c.account_id, a.name, a.industry, a.employee_count, a.annual_revenue,
               a.country, a.custom, f.first_day
        FROM {t(Contact)} c
        JOIN (SELECT contact_id, MIN(day) AS first_day FROM {t(ContactActivityDaily)} GROUP BY contact_id) f
             ON f.contact_id = c.id
        LEFT JOIN {t(Account)} a ON a.id = c.account_id
        LEFT JOIN {t(Persona)} p ON p.id = c.persona_id
        ORDER BY c.id
        """,
        [],
        [
            "contact_id",
            "email",
            "first_name",
            "last_name",
            "title",
            "seniority",
            "department",
            "country",
            "persona",
            "custom",
            "account_id",
            "company",
            "industry",
            "employees",
            "annual_revenue",
            "company_country",
            "account_custom",
            "first_day",
        ],
    )
    if contacts.empty:
        return contacts
    end = end or B.data_end()
    contacts["first_day"] = pd.to_datetime(contacts["first_day"].astype(str)).dt.date
    contacts = contacts[contacts["first_day"] <= end - datetime.timedelta(days=window_days)].copy()
    touches = rows_frame(
        f"""
        SELECT r.contact_id, r.event_type, SUM(r.count)
        FROM {t(ContactActivityDaily)} r
        JOIN (SELECT contact_id, MIN(day) AS first_day FROM {t(ContactActivityDaily)} GROUP BY contact_id) f
             ON f.contact_id = r.contact_id AND r.day = f.first_day
        GROUP BY r.contact_id, r.event_type
        """,
        [],
        ["contact_id", "event_type", "n"],
    )
    touches = touches.sort_values(["contact_id", "n", "event_type"], ascending=[True, False, True])
    first_touch = touches.drop_duplicates("contact_id").set_index("contact_id")["event_type"]
    contacts["first_touch"] = contacts["contact_id"].map(first_touch).fillna("")
    opps = rows_frame(
        f"SELECT account_id, created_date FROM {t(Opportunity)} "
        f"WHERE account_id IS NOT NULL AND created_date IS NOT NULL",
        [],
        ["account_id", "created"],
    )
    opps["created"] = pd.to_datetime(opps["created"].astype(str)).dt.date
    pairs = contacts[["contact_id", "account_id", "first_day"]].dropna(subset=["account_id"])
    pairs = pairs.astype({"account_id": np.int64}).merge(opps, on="account_id")
    opened = pairs[
        (pairs["created"] > pairs["first_day"])
        & (pairs["created"] <= pairs["first_day"] + datetime.timedelta(days=window_days))
    ]
    contacts["converted"] = np.where(contacts["contact_id"].isin(opened["contact_id"]), "true", "false")
    for source, prefix in (("custom", "custom_"), ("account_custom", "account_custom_")):
        values = [_json_dict(v) for v in contacts[source]]
        keys = sorted({k for v in values for k in v})
        for key in keys:
            contacts[f"{prefix}{slug(key)}"] = ["" if v.get(key) is None else str(v.get(key)) for v in values]
    rng = np.random.default_rng(seed)
    if limit is not None and limit < len(contacts):
        contacts = contacts.iloc[np.sort(rng.choice(len(contacts), size=limit, replace=False))]
    contacts = contacts.iloc[rng.permutation(len(contacts))].reset_index(drop=True)
    contacts.insert(
        0, "lead_id", [f"L-{n:07d}" for n in rng.choice(10_000_000, size=len(contacts), replace=False)]
    )
    contacts["employees"] = pd.to_numeric(contacts["employees"], errors="coerce").astype("Int64")
    contacts["annual_revenue"] = pd.to_numeric(contacts["annual_revenue"].astype(object), errors="coerce")
    return contacts.drop(columns=["contact_id", "account_id", "custom", "account_custom", "first_day"])


def _json_dict(value) -> dict:
    """A JSON column's value as a dict (SQLite gives text, PostgreSQL a dict)."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, str | bytes) or not value:
        return {}  # no account (NULL, read as NaN)
    loaded = json.loads(value)
    return loaded if isinstance(loaded, dict) else {}
