"""What a column of a customer's export is, read from its values (names are hints at most), and which
columns were probably filled in after the outcome.

**Identifiers and personal data** are dropped before learning. Each is recognised by its values, so that
a column called ``col_17`` is judged like one called ``Email``:

* e-mail addresses, phone numbers, IP addresses and web addresses: most present values have the form;
* identifiers: a text value different on every row; whole numbers different on every row that run
  densely (a "Lead Number": ``max - min`` within a few times the row count) or all have the same
  number of digits (five or more); or, if the name says id/number/key/code, any unique whole numbers;
* people's names, postal addresses: the name says so *and* the values are text with more than two
  values.
A column with two values or fewer (a yes/no flag such as "Do Not Email") is never personal data nor
an identifier: it is a consent or status flag, and it stays.

**Leakage** is judged per source column (not per one-hot level, which a many-level column never gives
away):

* ``alone``: the column by itself, target-encoded out of fold (numbers binned by deciles first, missing
  its own level), ranks the outcome with ROC AUC ≥ ``ALONE_AUC``: almost as well as a whole model;
* ``hint``: the name suggests a field sales fills in while working a lead (status, stage, reason,
  quality, tag, score, owner, grade, outcome… — ``LEAK_HINT``) *and* alone it ranks at ≥ ``HINTED_AUC``;
* ``leaned_on``: the model loses ≥ ``DROP_LOSS`` ROC AUC without the column, and alone it ranks at
  ≥ ``LEANED_AUC`` (the drop-column test runs for the ``DROP_TESTS`` strongest columns);
* ``after_outcome``: for dated exports, a date column later than the outcome date in at least
  ``AFTER_SHARE`` of the converted rows — recorded once the outcome was known.
Each warning says why, with its figures. Names alone never raise one.
"""

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE = re.compile(r"^\+?[\d\s().\-/]{7,24}$")
IP = re.compile(r"^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-f:]{6,39}$", re.IGNORECASE)
URL = re.compile(r"^(https?://|www\.)\S+$", re.IGNORECASE)
PERSON_NAME = re.compile(
    r"^(first|last|full|middle|given|family|sur|contact|lead|person|customer)?[\s_-]?name$", re.IGNORECASE
)
ADDRESS = re.compile(r"(^|[^a-z])(address|street|postcode|zip)([^a-z]|$)", re.IGNORECASE)
ID_NAME = re.compile(r"(^|[^a-z])(id|number|no|key|code|uuid|guid)([^a-z]|$)|#", re.IGNORECASE)
LEAK_HINT = re.compile(
    r"(status|stage|reason|quality|tag|score|owner|grade|outcome|result|disposition|won|lost|closed|"
    r"converted|qualified|rating|assigned)",
    re.IGNORECASE,
)
MOSTLY = 0.8  # share of present values that must have a form (e-mail, phone …)
MIN_ROWS = 20  # fewer present values than this say nothing about uniqueness
ALONE_AUC = 0.90
HINTED_AUC = 0.70
LEANED_AUC = 0.85
DROP_LOSS = 0.03
DROP_TESTS = 5
AFTER_SHARE = 0.2
SMOOTHING = 10  # target encoding: a level's rate shrunk towards the overall rate by this many rows
SUSPICIOUS_MODEL_AUC = 0.97


def _share(present: pd.Series, pattern: re.Pattern) -> float:
    return float(present.str.match(pattern).mean()) if len(present) else 0.0


def drop_reason(name: str, values: pd.Series, numbers: pd.Series | None) -> str | None:
    """Why the column must not be learnt from (it identifies a row or a person), or None.

    ``values`` are the cells as text (blank: ""), ``numbers`` the same as floats when every present cell
    is a number."""
    present = values[values != ""]
    distinct = present.nunique()
    if distinct <= 2:  # a flag ("Do Not Email": yes/no) or a constant: never an identifier
        return None
    if _share(present, EMAIL) >= MOSTLY:
        return "e-mail addresses identify a person"
    if numbers is None and _share(present, PHONE) >= MOSTLY and present.str.count(r"\d").min() >= 7:
        return "phone numbers identify a person"
    if _share(present, IP) >= MOSTLY and numbers is None:
        return "IP addresses identify a person"
    if _share(present, URL) >= MOSTLY and distinct > 0.5 * len(present):
        return "web addresses, different on most rows: they identify a person or a page"
    unique = distinct == len(present) and len(present) >= MIN_ROWS
    if numbers is not None:
        known = numbers.dropna().to_numpy()
        whole = bool(len(known)) and bool(np.all(np.mod(known, 1) == 0))
        if whole and unique:
            span = float(known.max() - known.min()) + 1
            digits = {len(str(int(abs(v)))) for v in known}
            if span <= 3 * len(known):
                low, high = int(known.min()), int(known.max())
                return f"an identifier: a running number, different on every row ({low}…{high})"
            if len(digits) == 1 and min(digits) >= 5:
                return f"an identifier: {min(digits)}-digit numbers, different on every row"
            if ID_NAME.search(name):
                return "an identifier: whole numbers, different on every row"
        return None
    if unique:
        return f"a different value on every row ({len(present)} rows): an identifier or free text"
    if PERSON_NAME.search(name):  # the name says so, and the values are text with more than two values
        return "people's names identify a person"
    if ADDRESS.search(name):
        return "postal addresses identify a person"
    return None


def is_date(values: pd.Series) -> pd.Series | None:
    """The column as dates when nine in ten present values parse as one (and none is a plain number)."""
    present = values[values != ""]
    if len(present) < MIN_ROWS or present.str.fullmatch(r"[-+]?\d+(\.\d+)?").any():
        return None
    parsed = pd.to_datetime(present, errors="coerce", utc=True, format="mixed")
    if parsed.notna().mean() < 0.9:
        return None
    return pd.to_datetime(values.replace("", None), errors="coerce", utc=True, format="mixed")


# --- leakage ---------------------------------------------------------------------------------------------
def levels(values: pd.Series) -> np.ndarray:
    """A column as integer levels: numbers by their deciles (missing: its own level), text by value."""
    numbers = pd.to_numeric(values.replace("", np.nan), errors="coerce")
    present = values != ""
    if present.any() and numbers[present].notna().all():
        edges = np.unique(np.nanquantile(numbers, np.linspace(0, 1, 11)[1:-1]))
        return np.where(numbers.isna(), -1, np.searchsorted(edges, numbers, side="right"))
    return pd.factorize(values)[0]


def alone_auc(values: pd.Series, y: np.ndarray, *, folds: int = 5, seed: int = 0) -> float:
    """How well the column alone ranks the outcome: each row's level encoded with the outcome rate of that
    level in the other folds (shrunk towards the overall rate), folded so that 0.5 is chance and 1 is
    perfect either way round."""
    coded = levels(values.reset_index(drop=True))
    encoded = np.zeros(len(y))
    prior = float(np.mean(y))
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=seed).split(coded, y):
        counts = (
            pd.DataFrame({"level": coded[train], "y": y[train]}).groupby("level")["y"].agg(["sum", "count"])
        )
        rate = (counts["sum"] + SMOOTHING * prior) / (counts["count"] + SMOOTHING)
        encoded[test] = pd.Series(coded[test]).map(rate).fillna(prior).to_numpy()
    auc = roc_auc_score(y, encoded)
    return round(float(max(auc, 1.0 - auc)), 4)


def leakage_audit(
    raw: pd.DataFrame,
    y: np.ndarray,
    columns: list[str],
    *,
    model_auc: float | None = None,
    refit: Callable[[list[str]], float] | None = None,
    outcome_date: str | None = None,
    alone: dict[str, float] | None = None,
) -> list[dict]:
    """Leakage warnings for the source ``columns`` of ``raw`` (see the module's docstring), strongest first.
    ``refit(without)`` is the model's ROC AUC learnt without the columns ``without`` (the drop-column
    test; ``model_auc`` is the whole model's); ``alone`` the columns' ``alone_auc`` if known already."""
    alone = dict(alone) if alone is not None else {c: alone_auc(raw[c].astype(str), y) for c in columns}
    found: dict[str, dict] = {}

    def warn(column: str, why: str, figures: dict) -> None:
        entry = found.setdefault(column, {"column": column, "alone_auc": alone[column], "reasons": []})
        entry["reasons"].append(why)
        entry.update(figures)

    for column, auc in alone.items():
        if auc >= ALONE_AUC:
            why = f"on its own it ranks the outcome with ROC AUC {auc:.3f} (out of fold), as well as a model"
            warn(column, why, {})
        hint = LEAK_HINT.search(column)
        if hint and auc >= HINTED_AUC:
            why = f"its name (“{hint[0]}”) suggests a field filled in while working the lead"
            if auc < ALONE_AUC:
                why += f", and on its own it ranks the outcome with ROC AUC {auc:.3f}"
            warn(column, why, {"hint": hint[0].lower()})
    if refit is not None and model_auc is not None:
        strongest = sorted(columns, key=lambda c: -alone[c])[:DROP_TESTS]
        for column in strongest:
            loss = round(model_auc - refit([column]), 4)
            if column in found:
                found[column]["drop_loss"] = loss
            if loss >= DROP_LOSS and alone[column] >= LEANED_AUC:
                warn(column, f"the model loses {loss:.3f} ROC AUC without it, and on its own it ranks the "
                     f"outcome with {alone[column]:.3f}", {"drop_loss": loss})  # fmt: skip
    if outcome_date:
        dated = [c for c in raw.columns if c != outcome_date]  # learnt from or not: a date says when
        for column, share in after_outcome(raw, y, outcome_date, dated).items():
            alone.setdefault(column, alone_auc(raw[column].astype(str), y))
            warn(column, f"dated after the outcome ({outcome_date}) in {share:.0%} of the converted rows: "
                 "recorded once the outcome was known", {"after_outcome": share})  # fmt: skip
    out = sorted(found.values(), key=lambda w: -w["alone_auc"])
    for entry in out:
        entry["warning"] = f"{entry['column']!r}: " + "; ".join(entry["reasons"])
    return out


def after_outcome(
    raw: pd.DataFrame, y: np.ndarray, outcome_date: str, columns: list[str]
) -> dict[str, float]:
    """Date columns later than ``outcome_date`` in at least ``AFTER_SHARE`` of the positive rows."""
    outcome = is_date(raw[outcome_date].astype(str)) if outcome_date in raw.columns else None
    if outcome is None:
        return {}
    positive = (np.asarray(y) == 1) & outcome.notna().to_numpy()
    out = {}
    for column in columns:
        if column == outcome_date:
            continue
        dates = is_date(raw[column].astype(str))
        if dates is None or not positive.any():
            continue
        later = (dates > outcome).to_numpy() & positive
        share = float(later.sum() / positive.sum())
        if share >= AFTER_SHARE:
            out[column] = round(share, 4)
    return out


def model_warning(model_auc: float | None, strongest: list[tuple[str, float]]) -> dict | None:
    """A warning on the whole model when it ranks almost perfectly (lead outcomes rarely allow it)."""
    if model_auc is None or model_auc < SUSPICIOUS_MODEL_AUC:
        return None
    named = ", ".join(f"{c!r} ({a:.3f} alone)" for c, a in strongest[:3])
    return {
        "column": None,
        "model_auc": round(model_auc, 4),
        "warning": f"the model ranks the outcome with ROC AUC {model_auc:.3f}, better than lead data "
        f"usually allows: check when its strongest columns are filled in — {named}",
    }
