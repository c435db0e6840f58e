"""What each import kind reads: its fields, their header aliases, and how each cell is parsed.

Pure functions and tables (no database). Headers match case-, space- and punctuation-insensitively
(``Annual Revenue`` == ``annual_revenue`` == ``annualrevenue``). A parser returns the clean value,
``None`` for a blank cell, or a ``Corrected`` value when it had to fix a known misspelling (the
report lists those as warnings); it raises ``ValueError`` with the reason when the cell is wrong.
"""

import datetime
import difflib
import json
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django.utils.translation import override
from django_countries import countries

from accounts.choices import CampaignGoal, Department, LifecycleStage, OpportunityStage, Seniority
from accounts.normalize import normalize_domain, normalize_email, normalize_key

CUSTOM = "custom"  # keep the column in the record's ``custom`` JSON (events: in ``properties``)
IGNORE = "ignore"  # read nothing from the column


@dataclass(frozen=True)
class Corrected:
    """A parsed value that differs from what the cell said, with a note for the report."""

    value: Any
    note: str


# --- parsers -----------------------------------------------------------------------------------
def text(max_length: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        value = " ".join(value.split())
        if len(value) > max_length:
            raise ValueError(f"is {len(value)} characters long; at most {max_length} fit")
        return value

    return parse


_NUMBER_RE = re.compile(r"^[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?$")


def _number(value: str) -> Decimal:
    raw = value.strip().replace(" ", "").replace("\u00a0", "")
    for symbol in ("US$", "$", "€", "£", "USD", "EUR", "GBP"):
        raw = raw.replace(symbol, "")
    if not raw or not _NUMBER_RE.match(raw) or raw in {"-", "+", "."}:
        raise ValueError(f"'{value}' is not a number")
    return Decimal(raw.replace(",", ""))


def integer(*, minimum: int | None = 0, maximum: int | None = None) -> Callable[[str], int]:
    def parse(value: str) -> int:
        number = _number(value)
        if number != number.to_integral_value():
            raise ValueError(f"'{value}' is not a whole number")
        result = int(number)
        if minimum is not None and result < minimum:
            raise ValueError("must not be negative" if minimum == 0 else f"must be at least {minimum}")
        if maximum is not None and result > maximum:
            raise ValueError(f"must be at most {maximum}")
        return result

    return parse


def decimal(
    *, scale: Decimal = Decimal(1), max_digits: int = 18, places: int = 2
) -> Callable[[str], Decimal]:
    """A non-negative amount with ``places`` decimals, multiplied by ``scale`` (unit conversion)."""
    limit = Decimal(10) ** (max_digits - places)
    quantum = Decimal(1).scaleb(-places)

    def parse(value: str) -> Decimal:
        try:
            number = (_number(value) * scale).quantize(quantum)
        except InvalidOperation as exc:
            raise ValueError(f"'{value}' is too large") from exc
        if number < 0:
            raise ValueError("must not be negative")
        if number >= limit:
            raise ValueError(f"'{value}' is too large")
        return number

    return parse


def year(value: str) -> int:
    result = integer(minimum=1000)(value)
    if result > datetime.date.today().year + 1:
        raise ValueError(f"{result} is in the future")
    return result


def date(value: str) -> datetime.date:
    raw = value.strip()
    try:
        if len(raw) > 10 and raw[10] in "T ":
            return datetime.datetime.fromisoformat(raw.replace("Z", "+00:00")).date()
        return datetime.date.fromisoformat(raw.replace("/", "-"))
    except ValueError:
        raise ValueError(f"'{value}' is not a date; write dates as YYYY-MM-DD") from None


def email(value: str) -> str:
    return normalize_email(value)


def domain(value: str) -> str:
    return normalize_domain(value)


def reference(value: str) -> str:
    """A name, domain, e-mail or id naming another record; the importer resolves it."""
    return " ".join(value.split())


def json_object(value: str) -> dict:
    try:
        data = json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(data, dict):
        raise ValueError('must be a JSON object, e.g. {"plan": "pro"}')
    return data


def name_text(max_length: int) -> Callable[[str], str]:
    """``text``, in Unicode NFC: ``Café`` typed on a Mac and on Windows is one name."""
    parse_text = text(max_length)

    def parse(value: str) -> str:
        return parse_text(unicodedata.normalize("NFC", value))

    return parse


def share(value: str) -> float:
    """A share of 0 to 0.5: ``0.1``, ``10%`` or ``10 %``."""
    raw = value.strip()
    percent = raw.endswith("%")
    number = _number(raw.removesuffix("%")) / (100 if percent else 1)
    if not percent and number > 1:
        raise ValueError(f"'{value}' is not a share: write 0.1 or 10%")
    if not 0 <= number <= Decimal("0.5"):
        raise ValueError("must be between 0 and 0.5 (0% and 50%)")
    return float(number)


def key_list(max_length: int) -> Callable[[str], tuple[str, ...] | None]:
    """A cell of keys that tie events to a campaign: ``spring-webinar; spring_webinar_2``.

    Separated like technologies (``;``, ``|``, ``,`` or a line break); each is compared lower-case, as
    stored, and exactly otherwise (``spring-26`` and ``spring_26`` are two UTM values).
    """

    def parse(value: str) -> tuple[str, ...] | None:
        keys: dict[str, None] = {}
        for part in _LIST_SPLIT.split(value):
            key = " ".join(part.split()).lower()
            if not key:
                continue
            if len(key) > max_length:
                raise ValueError(f"'{key[:40]}…' is {len(key)} characters long; a key fits {max_length}")
            keys[key] = None
        return tuple(keys) or None

    return parse


# A month in a column header: 2026-01, 2026/1 (not part of a longer date or number).
_MONTH_RE = re.compile(r"(?<![\d/-])(\d{4})[-/](1[0-2]|0?[1-9])(?![-/]?\d)")
# What else a month's cost column may say about itself ("cost 2026-01", "2026-01 spend (USD)").
_COST_WORDS = {"cost", "costs", "spend", "spent", "amount", "actual", "actuals", "usd", "eur", "gbp", "in",
               "for", "of", "month", "monthly", "total"}  # fmt: skip


def cost_month(header: str) -> datetime.date | None:
    """The month a cost column's header names (``cost 2026-01``, ``2026-01 cost``, ``2026-01``), else None.

    The header holds one month as YYYY-MM (or YYYY/MM) and, besides it, at most words like cost,
    spend or amount: ``budget 2026-01`` or ``start 2026-01`` is not a cost column.
    """
    found = _MONTH_RE.findall(header)
    if len(found) != 1:
        return None
    rest = _MONTH_RE.sub(" ", header).casefold()
    if any(word not in _COST_WORDS for word in re.findall(r"[^\W\d_]+", rest)):
        return None
    year_text, month_text = found[0]
    return datetime.date(int(year_text), int(month_text), 1)


def loose_key(value: str) -> str:
    """``normalize_key``, or the case-folded text when the value has no ASCII letter or digit (``営業``)."""
    return normalize_key(value) or " ".join((value or "").split()).casefold()


class UnknownChoice(ValueError):
    """A cell outside a choice field's list; the importer words the message (it knows the column)."""

    def __init__(self, value: str, parser: "ChoiceParser"):
        super().__init__(f"'{value}' is not {parser.a_noun}; accepted: {', '.join(parser.values)}")
        self.value = value
        self.parser = parser


class ChoiceParser:
    """A ``TextChoices`` value, read loosely (case, spaces and punctuation do not matter).

    Its own values and labels are read silently; a synonym (``Closed Won`` → won, ``Intern`` →
    entry) or a prefix (``Chief …`` → c_level) is read with a note for the report; anything else
    raises ``UnknownChoice``, which the preview lists with a suggestion and ``--map-values`` maps.
    """

    def __init__(
        self,
        choices_cls,
        *,
        noun: str,
        synonyms: dict[str, str] | None = None,
        prefixes: tuple[tuple[str, str], ...] = (),
    ):
        self.noun = noun
        self.values: list[str] = list(choices_cls.values)
        self.labels: dict[str, str] = dict(choices_cls.choices)
        self.own = {loose_key(v): v for v in self.values}
        self.own.update((loose_key(label), v) for v, label in choices_cls.choices)
        self.synonyms = {loose_key(k): v for k, v in (synonyms or {}).items()}
        self.prefixes = tuple((loose_key(p), v) for p, v in prefixes)
        for target in [*self.synonyms.values(), *(v for _, v in self.prefixes)]:
            if target not in self.labels:  # a typo in the tables below: fail on import, not on a row
                raise ValueError(f"synonym target '{target}' is not a {noun}")
        self._cache: dict[str, tuple[str, bool]] = {}
        self._suggestions: dict[str, str] = {}

    @property
    def accepted(self) -> list[dict[str, str]]:
        """The accepted values with their labels, as pages and reports list them."""
        return [{"value": v, "label": self.labels[v]} for v in self.values]

    @property
    def a_noun(self) -> str:
        return f"{'an' if self.noun[0] in 'aeiou' else 'a'} {self.noun}"

    def target(self, value: str) -> str | None:
        """What a user names as a target (a value or a label, loosely), or None."""
        return self.own.get(loose_key(value))

    def read(self, value: str) -> str:
        """The accepted value ``value`` is read as (by value, label, synonym or prefix), or ""."""
        return self._lookup(loose_key(value))[0]

    def _lookup(self, key: str) -> tuple[str, bool]:
        """(value or "", read through a synonym), cached: a large file repeats a few values."""
        found = self._cache.get(key)
        if found is None:
            if key in self.own:
                found = (self.own[key], False)
            elif key in self.synonyms:
                found = (self.synonyms[key], True)
            else:
                value = next((v for prefix, v in self.prefixes if key.startswith(prefix)), "")
                found = (value, bool(value))
            if len(self._cache) < 4096:
                self._cache[key] = found
        return found

    def suggest(self, value: str) -> str:
        """The closest accepted value (by its values, labels and synonyms), or ""."""
        key = loose_key(value)
        found = self._lookup(key)[0] or self._suggestions.get(key)
        if found is None:
            names = {**self.synonyms, **self.own}
            close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.75)
            found = names[close[0]] if close else ""
            if len(self._suggestions) < 4096:  # every row of a large file may repeat the same value
                self._suggestions[key] = found
        return found

    def __call__(self, value: str) -> str | Corrected:
        raw = " ".join(value.split())
        found, synonym = self._lookup(loose_key(raw))
        if not found:
            raise UnknownChoice(raw, self)
        if synonym:
            return Corrected(found, f"'{raw}' read as {found} ({self.labels[found]})")
        return found


def choice(
    choices_cls,
    *,
    noun: str,
    synonyms: dict[str, str] | None = None,
    prefixes: tuple[tuple[str, str], ...] = (),
) -> ChoiceParser:
    """A choice field's parser: its values and labels, plus ``synonyms`` and ``prefixes`` with a note."""
    return ChoiceParser(choices_cls, noun=noun, synonyms=synonyms, prefixes=prefixes)


# What CRMs (Salesforce, HubSpot, Pipedrive, Dynamics) and enrichment tools call these values.
# Read with a note in the report; keys compare loosely (case, spaces, punctuation).
STAGE_SYNONYMS = {
    # Salesforce's default opportunity stages, in their order
    "Open": "prospecting",
    "New": "prospecting",
    "Lead": "prospecting",
    "Lead In": "prospecting",
    "Qualification": "prospecting",
    "Needs Analysis": "engaging",
    "Value Proposition": "engaging",
    "Id. Decision Makers": "engaging",
    "Identify Decision Makers": "engaging",
    "Perception Analysis": "engaging",
    "Proposal/Price Quote": "proposal",
    "Negotiation/Review": "negotiation",
    "Closed Won": "won",
    "Closed Lost": "lost",
    # HubSpot's default deal stages and other common names
    "Qualified": "engaging",
    "Discovery": "engaging",
    "Contact Made": "engaging",
    "Appointment Scheduled": "engaging",
    "Qualified to Buy": "engaging",
    "Presentation Scheduled": "engaging",
    "Demo": "engaging",
    "Demo Scheduled": "engaging",
    "Decision Maker Bought-In": "proposal",
    "Proposal Sent": "proposal",
    "Proposal Made": "proposal",
    "Quote": "proposal",
    "Quote Sent": "proposal",
    "Contract Sent": "negotiation",
    "Negotiating": "negotiation",
    "Negotiations Started": "negotiation",
    "Commit": "negotiation",
    "Won Deal": "won",
    "Lost Deal": "lost",
    "Disqualified": "lost",
}
SENIORITY_SYNONYMS = {
    "C-suite": "c_level",
    "CxO": "c_level",
    "C level": "c_level",
    "Executive": "c_level",
    "CEO": "c_level",
    "CFO": "c_level",
    "COO": "c_level",
    "CTO": "c_level",
    "CIO": "c_level",
    "CMO": "c_level",
    "CRO": "c_level",
    "CISO": "c_level",
    "CPO": "c_level",
    "CDO": "c_level",
    "Owner": "c_level",
    "Founder": "c_level",
    "Co-founder": "c_level",
    "Partner": "c_level",
    "President": "c_level",
    "Vice President": "vp",
    "SVP": "vp",
    "EVP": "vp",
    "AVP": "vp",
    "Head": "director",
    "Senior Director": "director",
    "Sr. Director": "director",
    "Mgr": "manager",
    "Senior Manager": "manager",
    "Sr. Manager": "manager",
    "Team Lead": "manager",
    "Team Leader": "manager",
    "Supervisor": "manager",
    "IC": "individual",
    "Individual": "individual",
    "Senior": "individual",
    "Staff": "individual",
    "Specialist": "individual",
    "Professional": "individual",
    "Mid-level": "individual",
    "Mid-senior level": "individual",
    "Non-manager": "individual",
    "Intern": "entry",
    "Internship": "entry",
    "Trainee": "entry",
    "Training": "entry",
    "Apprentice": "entry",
    "Junior": "entry",
    "Jr.": "entry",
    "Associate": "entry",
    "Entry": "entry",
    "Entry-level": "entry",
    "Graduate": "entry",
    "Student": "entry",
    "Unpaid": "entry",
    "Volunteer": "entry",
    "N/A": "unknown",
    "None": "unknown",
    "Other": "unknown",
    "Not specified": "unknown",
}
SENIORITY_PREFIXES = (
    ("Chief", "c_level"),
    ("Head of", "director"),
    ("Director of", "director"),
    ("Vice President", "vp"),
    ("VP of", "vp"),
    ("Senior Vice President", "vp"),
    ("Executive Vice President", "vp"),
)
# What CRMs and marketing automation call a person's status, read as our lifecycle stages: HubSpot's
# lifecycle stages and lead statuses, Salesforce's lead statuses, and common words.
LIFECYCLE_SYNONYMS = {
    "Subscriber": "lead",
    "New": "lead",
    "Open": "lead",
    "Open - Not Contacted": "lead",
    "Not Contacted": "lead",
    "Raw": "lead",
    "Prospect": "lead",
    "Marketing Qualified Lead": "mql",
    "Marketing Qualified": "mql",
    "Sales Accepted Lead": "sal",
    "Sales Accepted": "sal",
    "Accepted": "sal",
    "Working": "sal",
    "Working - Contacted": "sal",
    "Contacted": "sal",
    "In Progress": "sal",
    "Attempted to Contact": "sal",
    "Connected": "sal",
    "Sales Qualified Lead": "sql",
    "Sales Qualified": "sql",
    "Qualified": "sql",
    "Open Deal": "opportunity",
    "Closed - Converted": "opportunity",
    "Converted": "opportunity",
    "Evangelist": "customer",
    "Closed Won": "customer",
    "Won": "customer",
    "Nurture": "recycled",
    "Nurturing": "recycled",
    "Recycle": "recycled",
    "Bad Timing": "recycled",
    "Closed Lost": "recycled",
    "Unqualified": "disqualified",
    "Closed - Not Converted": "disqualified",
    "Not Converted": "disqualified",
    "Junk": "disqualified",
}
DEPARTMENT_SYNONYMS = {
    "C-suite": "executive",
    "Management": "executive",
    "General Management": "executive",
    "Executive Management": "executive",
    "Leadership": "executive",
    "Board": "executive",
    "Founder": "executive",
    "Demand Generation": "marketing",
    "Demand Gen": "marketing",
    "Growth": "marketing",
    "Product Marketing": "marketing",
    "Brand": "marketing",
    "Communications": "marketing",
    "Marketing Communications": "marketing",
    "Business Development": "sales",
    "BizDev": "sales",
    "Account Management": "sales",
    "Inside Sales": "sales",
    "Sales Development": "sales",
    "Information Technology": "it",
    "Information Systems": "it",
    "IT Operations": "it",
    "Infrastructure": "it",
    "Information Security": "it",
    "Security": "it",
    "R&D": "engineering",
    "Research and Development": "engineering",
    "Research & Development": "engineering",
    "Development": "engineering",
    "Software Development": "engineering",
    "Software Engineering": "engineering",
    "Product Development": "engineering",
    "Accounting": "finance",
    "Finance and Accounting": "finance",
    "FP&A": "finance",
    "Treasury": "finance",
    "Ops": "operations",
    "Supply Chain": "operations",
    "Logistics": "operations",
    "Facilities": "operations",
    "Revenue Operations": "operations",
    "RevOps": "operations",
    "Human Resources": "hr",
    "People": "hr",
    "People Operations": "hr",
    "Talent": "hr",
    "Talent Acquisition": "hr",
    "Recruiting": "hr",
    "Purchasing": "procurement",
    "Sourcing": "procurement",
    "Vendor Management": "procurement",
}


# What marketing plans call a campaign's goal.
GOAL_SYNONYMS = {
    "Awareness": "awareness",
    "Brand": "awareness",
    "Brand awareness": "awareness",
    "Engagement": "awareness",
    "Thought leadership": "awareness",
    "Pipeline generation": "pipeline",
    "New pipeline": "pipeline",
    "Demand generation": "pipeline",
    "Demand gen": "pipeline",
    "Lead generation": "pipeline",
    "Lead gen": "pipeline",
    "New business": "pipeline",
    "Acquisition": "pipeline",
    "Partners": "partner",
    "Partnership": "partner",
    "Partner marketing": "partner",
    "Co-selling": "partner",
    "Co-sell": "partner",
    "Partner co-sell": "partner",
    "Win rate": "win_rate",
    "Enterprise": "win_rate",
    "Enterprise deals": "win_rate",
    "Competitive": "competitive",
    "Displacement": "competitive",
    "Competitor displacement": "competitive",
    "Competitive takeout": "competitive",
    "Takeout": "competitive",
    "Rip and replace": "competitive",
    "Velocity": "velocity",
    "Acceleration": "velocity",
    "Pipeline acceleration": "velocity",
    "Deal acceleration": "velocity",
    "Sales velocity": "velocity",
    "New vertical": "new_industry",
    "Vertical": "new_industry",
    "New market": "new_industry",
    "Market entry": "new_industry",
    "Upsell": "expansion",
    "Up-sell": "expansion",
    "Cross-sell": "expansion",
    "Customer expansion": "expansion",
    "Expand": "expansion",
}


def name_list(max_length: int) -> Callable[[str], tuple[str, ...]]:
    """A cell listing names: ``Snowflake; Tableau``, ``Snowflake|Tableau`` or ``"Snowflake, Tableau"``.

    Names are separated by ``;``, ``|``, ``,`` or a line break (in a comma-separated file a cell with
    commas is quoted, as spreadsheets write it). ``/`` separates nothing: ``CI/CD`` is one name.
    Repeats (loosely: ``Power BI`` = ``PowerBI``) count once; a cell of separators only is blank.
    """

    def parse(value: str) -> tuple[str, ...] | None:
        names: dict[str, str] = {}
        for part in _LIST_SPLIT.split(value):
            name = " ".join(part.split())
            if not name:
                continue
            if len(name) > max_length:
                raise ValueError(f"'{name[:40]}…' is {len(name)} characters long; a name fits {max_length}")
            names.setdefault(loose_key(name), name)
        return tuple(names.values()) or None

    return parse


_LIST_SPLIT = re.compile(r"[;|,\r\n]")


# Known misspellings and short names. Corrections are listed in the report as warnings; plain
# synonyms of the official name ("United States") are read silently.
COUNTRY_SYNONYMS = {
    "united states": "US",
    "usa": "US",
    "u.s.": "US",
    "u.s.a.": "US",
    "america": "US",
    "united states of america": "US",
    "uk": "GB",
    "u.k.": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "south korea": "KR",
    "republic of korea": "KR",
    "north korea": "KP",
    "russia": "RU",
    "czech republic": "CZ",
    "holland": "NL",
    "the netherlands": "NL",
    "uae": "AE",
    "vietnam": "VN",
    "taiwan": "TW",
    "iran": "IR",
    "syria": "SY",
    "laos": "LA",
    "bolivia": "BO",
    "venezuela": "VE",
    "tanzania": "TZ",
    "moldova": "MD",
    "ivory coast": "CI",
    "turkey": "TR",
}
COUNTRY_CORRECTIONS = {
    "philipines": "PH",
    "phillipines": "PH",
    "phillippines": "PH",
    "korea": "KR",  # ambiguous: read as South Korea, and said so
    "columbia": "CO",
    "argentinia": "AR",
    "brasil": "BR",
    "deutschland": "DE",
    "espana": "ES",
    "españa": "ES",
    "sweeden": "SE",
    "swizerland": "CH",
    "switzerland ": "CH",
    "untied states": "US",
    "unites states": "US",
    "singapur": "SG",
    "luxemburg": "LU",
}


@lru_cache(maxsize=4096)
def _country_lookup(raw: str) -> tuple[str, str, str]:
    """(code, correction note, error) for a cell; cached because large files repeat few values."""
    key = raw.casefold().strip()
    if key in COUNTRY_CORRECTIONS:
        code = COUNTRY_CORRECTIONS[key]
        with override("en"):
            return code, f"'{raw}' read as {countries.name(code)} ({code})", ""
    if key in COUNTRY_SYNONYMS:
        return COUNTRY_SYNONYMS[key], "", ""
    if len(key) in (2, 3) and key.isalpha():
        code = countries.alpha2(key)
        if code:
            return code, "", ""
    code = countries.by_name(raw, language="en")
    if code:
        return code, "", ""
    with override("en"):
        names = {str(name).casefold(): str(name) for _, name in countries}
    guess = difflib.get_close_matches(key, list(names) + list(COUNTRY_SYNONYMS), n=1, cutoff=0.8)
    hint = f"; did you mean {names.get(guess[0], guess[0].title())}?" if guess else ""
    return "", "", f"'{raw}' is not a country we know (use a name or an ISO code like US){hint}"


def country(value: str) -> str | Corrected:
    raw = " ".join(value.split())
    code, note, error = _country_lookup(raw)
    if error:
        raise ValueError(error)
    return Corrected(code, note) if note else code


KNOWN_INDUSTRIES = [
    "agriculture",
    "automotive",
    "biotechnology",
    "construction",
    "consulting",
    "education",
    "employment",
    "energy",
    "entertainment",
    "finance",
    "government",
    "healthcare",
    "hospitality",
    "insurance",
    "logistics",
    "manufacturing",
    "marketing",
    "media",
    "medical",
    "non-profit",
    "pharmaceuticals",
    "real estate",
    "retail",
    "services",
    "software",
    "technology",
    "telecommunications",
    "transportation",
    "utilities",
]
INDUSTRY_CORRECTIONS = {
    "technolgy": "technology",
    "tecnology": "technology",
    "techology": "technology",
    "technlogy": "technology",
    "finanace": "finance",
    "healtcare": "healthcare",
    "helthcare": "healthcare",
    "telecomunications": "telecommunications",
    "manufacturng": "manufacturing",
    "sofware": "software",
    "enterainment": "entertainment",
}


def _one_edit_apart(a: str, b: str) -> bool:
    """True if one insertion, deletion, substitution or adjacent swap turns ``a`` into ``b``."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diffs) == 1:
            return True
        return (
            len(diffs) == 2
            and diffs[1] == diffs[0] + 1
            and a[diffs[0]] == b[diffs[1]]
            and a[diffs[1]] == b[diffs[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1 :]


@lru_cache(maxsize=4096)
def _industry_lookup(raw: str) -> tuple[str, str]:
    key = raw.casefold()
    if key in INDUSTRY_CORRECTIONS:
        fixed = INDUSTRY_CORRECTIONS[key]
        return fixed, f"'{raw}' read as '{fixed}' (spelling)"
    if key in KNOWN_INDUSTRIES or len(key) < 6:
        return raw, ""
    # A single typo in a long known word is a misspelling, not a different industry.
    for known in KNOWN_INDUSTRIES:
        if _one_edit_apart(key, known):
            return known, f"'{raw}' read as '{known}' (spelling)"
    return raw, ""


def industry(value: str) -> str | Corrected:
    raw = text(100)(value)
    fixed, note = _industry_lookup(raw)
    return Corrected(fixed, note) if note else fixed


LIFECYCLE_HELP = (
    "Never written to a contact directly: a new contact starts as Lead and the lifecycle service records "
    'this stage as where it stood before (a move decided "import", by the importing user, audited), '
    "if the importer decides on leads (sales, BDR/SDR, revenue operations) or runs the command line; "
    "otherwise it is only reported. A stored contact keeps its stage: that moves only by decisions and "
    "the rules."
)


# --- fields per kind -----------------------------------------------------------------------
@dataclass(frozen=True)
class FieldSpec:
    """One importable field: its name, what headers mean it, how to parse it."""

    name: str
    label: str
    parse: Callable[[str], Any]
    aliases: tuple[str, ...] = ()
    required: bool = False
    help: str = ""
    # Fields that fill the same model field: at most one of a group may be mapped.
    group: str = ""
    # A field read from several columns, each naming in its header what it holds (a month's cost):
    # header → what it names, or None. Such columns are mapped by their header, not by alias.
    from_header: Callable[[str], Any] | None = None
    from_header_hint: str = ""

    @property
    def keys(self) -> list[str]:
        return [normalize_key(a) for a in (self.name, *self.aliases)]

    @property
    def choices(self) -> ChoiceParser | None:
        """The parser of a choice field (its accepted values, synonyms, suggestions), else None."""
        return self.parse if isinstance(self.parse, ChoiceParser) else None


@dataclass(frozen=True)
class KindSpec:
    """An import kind (accounts, contacts …): its fields and whether unknown columns are kept."""

    name: str
    label: str
    fields: tuple[FieldSpec, ...]
    keeps_custom: bool = False
    custom_label: str = "custom data"
    natural_key: str = ""
    help: str = ""  # how the kind reads a file, for the import page and the command's help
    options: tuple[str, ...] = ()  # settings for the whole file (``options_check``)

    def field(self, name: str) -> FieldSpec:
        return next(f for f in self.fields if f.name == name)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def choice_fields(self) -> list[str]:
        return [f.name for f in self.fields if f.choices]


KINDS: dict[str, KindSpec] = {
    "accounts": KindSpec(
        name="accounts",
        label="Accounts",
        keeps_custom=True,
        natural_key="domain, else name",
        fields=(
            FieldSpec(
                "name",
                "Name",
                text(200),
                ("account", "account_name", "company", "company_name", "organization", "organisation"),
                required=True,
            ),
            FieldSpec(
                "domain",
                "Domain",
                domain,
                ("website", "web_site", "web", "url", "company_domain", "company_website", "account_domain"),
            ),
            FieldSpec("industry", "Industry", industry, ("sector", "vertical")),
            FieldSpec(
                "employee_count",
                "Employees",
                integer(maximum=2_147_483_647),
                ("employees", "headcount", "number_of_employees", "num_employees", "employee_total"),
            ),
            FieldSpec(
                "annual_revenue",
                "Annual revenue (USD)",
                decimal(),
                ("revenue", "revenue_usd", "annual_revenue_usd"),
                group="annual_revenue",
            ),
            FieldSpec(
                "annual_revenue_millions",
                "Annual revenue (millions of USD)",
                decimal(scale=Decimal(1_000_000)),
                ("revenue_millions", "revenue_musd", "revenue_mm", "revenue_m", "annual_revenue_musd"),
                help="Multiplied by 1,000,000 into annual revenue.",
                group="annual_revenue",
            ),
            FieldSpec(
                "founded_year",
                "Founded (year)",
                year,
                ("year_established", "founded", "year_founded", "established", "founding_year"),
            ),
            FieldSpec(
                "country",
                "Country",
                country,
                (
                    "office_location",
                    "country_code",
                    "hq_country",
                    "headquarters_country",
                    "location",
                    "hq_location",
                ),
            ),
            FieldSpec(
                "parent",
                "Parent account (name or domain)",
                reference,
                ("subsidiary_of", "parent_account", "parent_company", "parent_domain", "parent_name"),
            ),
            FieldSpec(
                "technologies",
                "Technologies (list)",
                name_list(100),
                (
                    "technology",
                    "tech_stack",
                    "technology_stack",
                    "technographics",
                    "installed_technologies",
                    "technologies_used",
                ),
                help=(
                    "Names separated by ; | , or a line break, matched to the technology catalogue "
                    "ignoring case, spaces and punctuation; names not in it are added to it. The list "
                    "replaces the account's technologies; a blank cell keeps them."
                ),
            ),
            FieldSpec(
                "owner",
                "Owner (e-mail or username)",
                reference,
                (
                    "owner_email",
                    "owner_username",
                    "account_owner",
                    "contact_owner",
                    "assigned_to",
                    "sales_owner",
                ),
                help="An active user, by e-mail or username; blank: routed by territory if the row is new.",
            ),
            FieldSpec(
                "owner_team",
                "Owning team (name)",
                reference,
                ("owning_team", "owner_team_name", "team", "sales_team"),
                help="A team, by name; the owner, if given too, must be one of its members.",
            ),
        ),
    ),
    "contacts": KindSpec(
        name="contacts",
        label="Contacts",
        keeps_custom=True,
        natural_key="e-mail",
        fields=(
            FieldSpec(
                "email", "E-mail", email, ("e_mail", "email_address", "work_email", "mail"), required=True
            ),
            FieldSpec("first_name", "First name", text(100), ("firstname", "given_name", "first")),
            FieldSpec("last_name", "Last name", text(100), ("lastname", "surname", "family_name", "last")),
            FieldSpec(
                "full_name",
                "Full name",
                text(201),
                ("name", "contact_name", "contact"),
                help="Split into first and last name when those are blank.",
            ),
            FieldSpec("title", "Title", text(200), ("job_title", "jobtitle", "position")),
            FieldSpec(
                "seniority",
                "Seniority",
                choice(Seniority, noun="seniority", synonyms=SENIORITY_SYNONYMS, prefixes=SENIORITY_PREFIXES),
                ("seniority_level", "level"),
            ),
            FieldSpec(
                "department",
                "Department",
                choice(Department, noun="department", synonyms=DEPARTMENT_SYNONYMS),
                ("function", "dept"),
            ),
            FieldSpec("country", "Country", country, ("country_code", "location")),
            FieldSpec(
                "lifecycle_stage",
                "Lifecycle stage (recorded through the lifecycle service)",
                choice(LifecycleStage, noun="lifecycle stage", synonyms=LIFECYCLE_SYNONYMS),
                (
                    "lifecycle",
                    "stage",
                    "lead_stage",
                    "lead_status",
                    "status",
                    "contact_status",
                    "lifecycle_status",
                    "hs_lead_status",
                ),
                help=LIFECYCLE_HELP,
            ),
            FieldSpec("persona", "Persona (name)", reference, ("persona_name",)),
            FieldSpec(
                "account",
                "Account (name or domain)",
                reference,
                (
                    "account_name",
                    "company",
                    "company_name",
                    "organization",
                    "account_domain",
                    "company_domain",
                    "domain",
                    "website",
                ),
            ),
            FieldSpec(
                "owner",
                "Owner (e-mail or username)",
                reference,
                (
                    "owner_email",
                    "owner_username",
                    "account_owner",
                    "contact_owner",
                    "assigned_to",
                    "sales_owner",
                ),
                help="An active user, by e-mail or username; blank: routed by territory if the row is new.",
            ),
            FieldSpec(
                "owner_team",
                "Owning team (name)",
                reference,
                ("owning_team", "owner_team_name", "team", "sales_team"),
                help="A team, by name; the owner, if given too, must be one of its members.",
            ),
        ),
    ),
    "opportunities": KindSpec(
        name="opportunities",
        label="Opportunities",
        natural_key="external id",
        fields=(
            FieldSpec(
                "external_id",
                "External id",
                text(64),
                ("opportunity_id", "id", "deal_id", "crm_id", "opportunity_external_id"),
                required=True,
            ),
            FieldSpec("name", "Name", text(200), ("opportunity_name", "deal_name", "opportunity", "title")),
            FieldSpec(
                "account",
                "Account (name or domain)",
                reference,
                ("account_name", "company", "company_name", "account_domain", "domain"),
            ),
            FieldSpec("product", "Product (name)", reference, ("product_name",)),
            FieldSpec(
                "stage",
                "Stage",
                choice(OpportunityStage, noun="opportunity stage", synonyms=STAGE_SYNONYMS),
                ("deal_stage", "opportunity_stage", "status"),
            ),
            FieldSpec(
                "created_date",
                "Created date",
                date,
                ("created", "create_date", "created_at", "open_date", "opened_date"),
            ),
            FieldSpec("engaged_date", "Engaged date", date, ("engage_date", "engagement_date", "engaged")),
            FieldSpec("close_date", "Close date", date, ("closed_date", "closing_date", "closed", "close")),
            FieldSpec(
                "amount",
                "Amount",
                decimal(max_digits=16),
                ("close_value", "value", "deal_value", "deal_size", "revenue"),
            ),
            FieldSpec(
                "sales_agent",
                "Sales agent (name)",
                reference,
                ("agent", "sales_rep", "rep", "account_executive", "owner_name"),
            ),
            FieldSpec("channel", "Channel (slug or name)", reference, ("pipeline_channel", "source_channel")),
            FieldSpec("campaign", "Campaign (name)", reference, ("source_campaign", "campaign_name")),
        ),
    ),
    "products": KindSpec(
        name="products",
        label="Products",
        natural_key="name (loosely: 'GTX Pro' = 'GTXPro')",
        fields=(
            FieldSpec("name", "Name", text(100), ("product", "product_name"), required=True),
            FieldSpec("series", "Series", text(100), ("product_series", "product_line", "line", "family")),
            FieldSpec(
                "list_price", "List price", decimal(max_digits=14), ("sales_price", "price", "unit_price")
            ),
        ),
    ),
    "sales_agents": KindSpec(
        name="sales_agents",
        label="Sales agents",
        natural_key="name",
        fields=(
            FieldSpec(
                "name",
                "Name",
                text(100),
                ("sales_agent", "agent", "agent_name", "sales_rep", "rep"),
                required=True,
            ),
            FieldSpec("manager", "Manager", text(100), ("sales_manager", "manager_name")),
            FieldSpec("regional_office", "Regional office", text(100), ("office", "region", "regional_team")),
        ),
    ),
    "events": KindSpec(
        name="events",
        label="Engagement and intent events",
        keeps_custom=True,
        custom_label="event properties",
        natural_key="message id (duplicates are skipped)",
        fields=(
            FieldSpec("message_id", "Message id", text(200), ("event_id", "id", "messageid"), required=True),
            FieldSpec("type", "Event type", text(32), ("event_type", "event", "kind"), required=True),
            FieldSpec(
                "occurred_at",
                "Occurred at (ISO 8601 with time zone)",
                text(64),
                ("timestamp", "time", "occurred", "event_time", "datetime", "date"),
                required=True,
            ),
            FieldSpec("account_id", "Account id", text(32), ()),
            FieldSpec("account_domain", "Account domain", text(253), ("domain", "company_domain", "website")),
            FieldSpec("contact_id", "Contact id", text(32), ()),
            FieldSpec("contact_email", "Contact e-mail", text(254), ("email", "e_mail", "email_address")),
            FieldSpec("source", "Source", text(16), ("event_source",)),
            FieldSpec("campaign_id", "Campaign id", text(32), ("campaign",)),
            FieldSpec("url", "URL", text(10_000), ("page", "page_url")),
            FieldSpec("topic", "Topic", text(200), ("keyword", "intent_topic")),
            FieldSpec("properties", "Properties (JSON object)", json_object, ("props", "json")),
        ),
    ),
    "campaigns": KindSpec(
        name="campaigns",
        label="Campaigns",
        natural_key="name (ignoring case)",
        help=(
            "A name already imported updates that campaign; a new one needs a channel. Costs by month: one "
            "column per month, its header holding the month as YYYY-MM ('cost 2026-01', '2026-01 cost' "
            "or just '2026-01'); a month's cell sets that month's cost line, a blank cell keeps it, and a "
            "campaign with cost lines costs their sum. Keys (UTM campaigns, e-mail ids, ad ids) are "
            "separated by ; | , or a line break and replace the campaign's keys of that kind. The target "
            "segment must exist; the holdout is a share (0.1) or a percentage (10%), at most half."
        ),
        fields=(
            FieldSpec(
                "name",
                "Name",
                name_text(200),
                ("campaign", "campaign_name", "program", "program_name", "title"),
                required=True,
            ),
            FieldSpec(
                "channel",
                "Channel (slug or name)",
                reference,
                ("channel_name", "channel_slug", "campaign_channel", "type", "campaign_type"),
            ),
            FieldSpec(
                "goal",
                "Goal",
                choice(CampaignGoal, noun="campaign goal", synonyms=GOAL_SYNONYMS),
                ("campaign_goal", "objective", "purpose"),
            ),
            FieldSpec(
                "owner_team",
                "Owner team (name or slug)",
                reference,
                ("team", "owner", "owning_team", "team_name", "owner_team_name"),
            ),
            FieldSpec(
                "start_date", "Start date", date, ("start", "starts", "start_on", "launch_date", "from")
            ),
            FieldSpec("end_date", "End date", date, ("end", "ends", "end_on", "finish_date", "until", "to")),
            FieldSpec(
                "budget",
                "Budget",
                decimal(max_digits=14),
                ("planned_budget", "budgeted_cost", "budgeted_cost_in_campaign", "planned_cost"),
            ),
            FieldSpec(
                "cost",
                "Cost (total)",
                decimal(max_digits=14),
                ("actual_cost", "actual_cost_in_campaign", "total_cost", "spend", "spent"),
                help="Written only for a campaign without cost lines: with them, the cost is their sum.",
            ),
            FieldSpec("description", "Description", text(10_000), ("notes", "summary")),
            FieldSpec(
                "segment",
                "Target segment (name)",
                reference,
                ("target_segment", "segment_name", "audience", "target"),
            ),
            FieldSpec(
                "holdout_share",
                "Holdout (share or %)",
                share,
                ("holdout", "holdout_percent", "holdout_pct", "holdout_percentage", "control_share"),
            ),
            FieldSpec(
                "utm_campaigns",
                "UTM campaigns (list)",
                key_list(200),
                ("utm_campaign", "utm", "utms", "utm_campaign_values"),
            ),
            FieldSpec(
                "email_ids", "E-mail ids (list)", key_list(200), ("email_id", "e_mail_ids", "e_mail_id")
            ),
            FieldSpec("ad_ids", "Ad ids (list)", key_list(200), ("ad_id", "ads")),
            FieldSpec(
                "cost_month",
                "Cost of the month in the header (YYYY-MM)",
                decimal(max_digits=14),
                from_header=cost_month,
                from_header_hint="a month's cost column names the month in its header, like 'cost 2026-01'",
            ),
        ),
    ),
    "segment_members": KindSpec(
        name="segment_members",
        label="Segment members (a static segment's list of domains)",
        natural_key="domain, within its segment",
        options=("segment", "members"),
        help=(
            "One domain per row, normalised like account domains (https://www.Acme.com/ = acme.com, "
            "bücher.de = xn--bcher-kva.de). The segment is the file's segment column, else the one named "
            "for the whole file; a segment that does not exist is created as a static segment. The file "
            "replaces the segment's list (or adds to it, or removes from it). Domains no account has are "
            "listed in the report and left out."
        ),
        fields=(
            FieldSpec(
                "domain",
                "Domain",
                domain,
                ("website", "web_site", "url", "account_domain", "company_domain", "company_website"),
                required=True,
            ),
            FieldSpec("segment", "Segment (name)", name_text(200), ("segment_name", "list", "list_name")),
        ),
    ),
}
KIND_CHOICES = [(k.name, k.label) for k in KINDS.values()]


def normalize_header(header: str) -> str:
    return normalize_key(header)


# --- column mapping ------------------------------------------------------------------------
@dataclass
class Column:
    """What one CSV column feeds: a field, the custom data, or nothing."""

    index: int
    header: str
    target: str  # a field name, CUSTOM or IGNORE
    explicit: bool = False


@dataclass
class ColumnMapping:
    kind: KindSpec
    columns: list[Column]
    errors: list[tuple[str, str]] = field(default_factory=list)  # (column header, reason)
    notes: list[str] = field(default_factory=list)

    def header_for(self, field_name: str) -> str:
        for column in self.columns:
            if column.target == field_name:
                return column.header
        return field_name

    def index_for(self, field_name: str) -> int | None:
        for column in self.columns:
            if column.target == field_name:
                return column.index
        return None

    @property
    def mapped_fields(self) -> set[str]:
        return {c.target for c in self.columns if c.target not in (CUSTOM, IGNORE)}

    @property
    def unknown_headers(self) -> list[str]:
        return [c.header for c in self.columns if c.target in (CUSTOM, IGNORE) and not c.explicit]

    def as_dict(self) -> dict[str, str]:
        return {c.header: c.target for c in self.columns}


def target_for(kind: KindSpec, name: str) -> str | None:
    """The field a user-typed target means (a field name or an alias), CUSTOM, IGNORE or None."""
    key = normalize_key(name)
    if key in ("", IGNORE, "none", "skip"):
        return IGNORE
    if key == CUSTOM:
        return CUSTOM if kind.keeps_custom else None
    for spec in kind.fields:
        if key == normalize_key(spec.name):
            return spec.name
    for spec in kind.fields:
        if key in spec.keys:
            return spec.name
    return None


def explicit_mapping_parse(pairs: list[str]) -> dict[str, str]:
    """``["revenue=annual_revenue_millions", "Notes="]`` → ``{header: target}``; raises ValueError."""
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise ValueError(f"'{pair}': write --map HEADER=FIELD (FIELD may be '{CUSTOM}' or '{IGNORE}')")
        header, target = pair.split("=", 1)
        out[header.strip()] = target.strip() or IGNORE
    return out


ValueMap = dict[str, dict[str, str]]  # field → {value as the file spells it → accepted value}


def value_map_parse(specs: list[str]) -> ValueMap:
    """``["seniority:intern=entry,trainee=entry", "stage:Open=prospecting"]`` → ``{field: {value: target}}``.

    Checks only the syntax (raises ValueError); ``value_map_check`` checks fields and targets.
    """
    out: ValueMap = {}
    for spec in specs:
        name, colon, pairs = spec.partition(":")
        if not colon or not name.strip() or "=" not in pairs:
            raise ValueError(f"'{spec}': write --map-values FIELD:VALUE=ACCEPTED[,VALUE=ACCEPTED…]")
        values = out.setdefault(name.strip(), {})
        for pair in pairs.split(","):
            value, equals, target = pair.rpartition("=")
            if not equals or not value.strip() or not target.strip():
                raise ValueError(f"'{spec}': '{pair}' is not VALUE=ACCEPTED")
            values[" ".join(value.split())] = target.strip()
    return out


def value_map_check(kind_name: str, value_map: ValueMap | None) -> ValueMap:
    """The value mapping with each field by its name and each target as the accepted value it names.

    Raises ValueError listing every problem: a field that is not a choice field of the kind, or a
    target outside the field's accepted values.
    """
    kind = KINDS[kind_name]
    fields = kind.choice_fields
    out: ValueMap = {}
    problems = []
    for name, values in (value_map or {}).items():
        target_field = target_for(kind, name)
        if target_field not in fields:
            listed = ", ".join(fields) or "none"
            problems.append(f"'{name}' is not a choice field of {kind.name} (these are: {listed})")
            continue
        parser = kind.field(target_field).choices
        for value, target in values.items():
            accepted = parser.target(target)
            if accepted is None:
                problems.append(
                    f"{target_field}: '{value}' cannot become '{target}', which is not {parser.a_noun} "
                    f"(accepted: {', '.join(parser.values)})"
                )
                continue
            out.setdefault(target_field, {})[value] = accepted
    if problems:
        raise ValueError("; ".join(problems))
    return out


MEMBER_MODES = ("replace", "add", "remove")


def options_check(kind_name: str, options: dict[str, Any] | None) -> dict[str, str]:
    """The settings for a whole file, checked: only those the kind takes, blank ones left out.

    Segment members take ``segment`` (the segment's name, for rows that name none) and ``members``
    (replace, add or remove; replace when not given). Raises ValueError naming each problem.
    """
    kind = KINDS[kind_name]
    clean = {
        name: unicodedata.normalize("NFC", " ".join(str(value).split()))
        for name, value in (options or {}).items()
        if value is not None and str(value).strip()
    }
    problems = [
        f"an import of {kind.name} takes no setting '{name}'" for name in clean if name not in kind.options
    ]
    if clean.get("members", "replace") not in MEMBER_MODES:
        problems.append(f"members is one of {', '.join(MEMBER_MODES)}, not '{clean['members']}'")
    if len(clean.get("segment", "")) > 200:
        problems.append("a segment's name fits 200 characters")
    if problems:
        raise ValueError("; ".join(problems))
    return clean


def resolve_mapping(
    kind_name: str, headers: list[str], explicit: dict[str, str] | None = None
) -> ColumnMapping:
    """Map each header to a field: the explicit mapping first, then exact field names, then aliases."""
    kind = KINDS[kind_name]
    explicit = {normalize_header(h): t for h, t in (explicit or {}).items()}
    mapping = ColumnMapping(kind=kind, columns=[])
    leftover = CUSTOM if kind.keeps_custom else IGNORE
    taken: dict[str, str] = {}  # field → header
    groups: dict[str, str] = {}  # group → header

    def claim(column: Column, target: str) -> bool:
        spec = kind.field(target)
        if spec.from_header:  # read from several columns, each naming what it holds
            column.target = target
            return True
        if target in taken or (spec.group and spec.group in groups):
            return False
        taken[target] = column.header
        if spec.group:
            groups[spec.group] = column.header
        column.target = target
        return True

    columns = [Column(index=i, header=h, target=leftover) for i, h in enumerate(headers)]
    known_explicit: set[str] = set()
    for column in columns:
        key = normalize_header(column.header)
        if key not in explicit:
            continue
        known_explicit.add(key)
        target = target_for(kind, explicit[key])
        column.explicit = True
        if target is None:
            choices = ", ".join(kind.field_names + ([CUSTOM] if kind.keeps_custom else []) + [IGNORE])
            mapping.errors.append(
                (column.header, f"'{explicit[key]}' is not a field of {kind.name}; use one of {choices}")
            )
        elif target in (CUSTOM, IGNORE):
            column.target = target
        elif kind.field(target).from_header and kind.field(target).from_header(column.header) is None:
            mapping.errors.append(
                (
                    column.header,
                    f"'{column.header}' cannot be read as {target}: {kind.field(target).from_header_hint}",
                )
            )
        elif not claim(column, target):
            other = taken.get(target) or groups.get(kind.field(target).group)
            mapping.errors.append(
                (column.header, f"both '{other}' and '{column.header}' are mapped to {target}")
            )
    for key in set(explicit) - known_explicit:
        mapping.errors.append((key, f"--map names a column '{key}' that the file does not have"))
    # Exact field names win over aliases ("name" beats "company" for accounts.name).
    for exact in (True, False):
        for column in columns:
            if column.explicit or column.target not in (CUSTOM, IGNORE):
                continue
            key = normalize_header(column.header)
            for spec in kind.fields:
                keys = [normalize_key(spec.name)] if exact else spec.keys
                if key in keys and claim(column, spec.name):
                    break
    # Columns that name what they hold in their header (a month's cost): by header, not by alias.
    header_fields = [spec for spec in kind.fields if spec.from_header]
    named: dict[tuple[str, Any], str] = {}  # (field, what the header names) → the first such column
    for column in columns:
        for spec in header_fields:
            if column.target != spec.name and (column.explicit or column.target not in (CUSTOM, IGNORE)):
                continue
            what = spec.from_header(column.header)
            if what is None:
                continue
            column.target = spec.name
            first = named.setdefault((spec.name, what), column.header)
            if first != column.header:
                shown = what.strftime("%Y-%m") if isinstance(what, datetime.date) else what
                mapping.notes.append(
                    f"Columns '{first}' and '{column.header}' both hold {spec.name} {shown}: "
                    "a row may fill only one of them."
                )
            break
    for spec in kind.fields:
        if spec.required and spec.name not in taken:
            names = ", ".join(spec.keys[:6])
            mapping.errors.append(
                (
                    spec.name,
                    f"required column missing: no column is named like {names} (or map one with {spec.name})",
                )
            )
    for column in columns:
        if column.target in (CUSTOM, IGNORE) and not column.explicit:
            where = f"kept in {kind.custom_label}" if column.target == CUSTOM else "not imported"
            mapping.notes.append(f"Column '{column.header}' matches no field: {where}.")
    mapping.columns = columns
    return mapping
