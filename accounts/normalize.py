"""Normalisation of natural keys, shared by the API, CSV import, event ingestion and the seeder."""

import re
import unicodedata
from functools import lru_cache
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


def display_domain(domain: str | None) -> str:
    """A stored (ASCII) domain as people write it: ``xn--bcher-kva.de`` → ``bücher.de``. The stored form
    stays the key; this is for pages and the API's ``domain_display``. Not IDNA → as it is."""
    if not domain:
        return domain or ""
    if "xn--" not in domain:
        return domain
    try:
        return domain.encode("ascii").decode("idna")
    except UnicodeError:
        return domain


def display_email(email: str | None) -> str:
    """A stored e-mail address with its domain as people write it: ``anna@xn--bcher-kva.de`` →
    ``anna@bücher.de``."""
    if not email or "@" not in email:
        return email or ""
    local, _, host = email.rpartition("@")
    return f"{local}@{display_domain(host)}"


def search_domain_form(value: str) -> str:
    """What a search typed with a unicode domain (``bücher``, ``bücher.de``, ``anna@bücher.de``) looks
    like in the stored ASCII form (``xn--bcher-kva``…), label by label; ``""`` if it is ASCII already or
    cannot be encoded."""
    if not value or value.isascii():
        return ""
    local, at, host = value.strip().lower().rpartition("@")
    try:
        labels = [label.encode("idna").decode("ascii") if label else "" for label in host.split(".")]
    except UnicodeError:
        return ""
    return f"{local}{at}{'.'.join(labels)}"


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


# --- job titles ---------------------------------------------------------------------------------
# Abbreviations spelled out, so a title and a persona's title keywords compare in one vocabulary:
# "Head of RevOps" and the keyword "revenue operations" (or "VP, Sales" and "vp sales") meet.
TITLE_ABBREVIATIONS = {
    "revops": "revenue operations",
    "salesops": "sales operations",
    "mops": "marketing operations",
    "mktg": "marketing",
    "mkt": "marketing",
    "vp": "vice president",
    "svp": "senior vice president",
    "evp": "executive vice president",
    "avp": "assistant vice president",
    "sr": "senior",
    "snr": "senior",
    "jr": "junior",
    "jnr": "junior",
    "mgr": "manager",
    "dir": "director",
    "exec": "executive",
    "ops": "operations",
    "dev": "development",
    "biz": "business",
    "bizdev": "business development",
    "hr": "human resources",
}
# Words that join a title and say nothing: "Head of Sales" = "Head, Sales"; "VP of Sales" = "VP Sales".
TITLE_FILLERS = frozenset({"of", "the", "and", "for", "in", "de", "du", "des", "la", "le", "y", "et", "und"})
_C_LEVEL_WORDS = frozenset(
    {"ceo", "cfo", "coo", "cto", "cio", "cmo", "cro", "ciso", "cpo", "cdo", "cco", "chro", "cso", "cxo",
     "chief", "founder", "cofounder", "president", "geschaftsfuhrer", "pdg", "clevel"}
)  # fmt: skip
# Owners run their company; a "Product Owner" does not.
_C_LEVEL_TITLES = frozenset({("owner",), ("coowner",), ("business", "owner"), ("company", "owner")})
_DIRECTOR_WORDS = frozenset({"director", "directora", "directeur", "directrice", "direktor", "head"})
_MANAGER_WORDS = frozenset({"manager", "supervisor", "gerente", "responsable"})
_ENTRY_WORDS = frozenset(
    {"intern", "internship", "trainee", "apprentice", "student", "candidate", "junior", "werkstudent"}
)
_INDIVIDUAL_WORDS = frozenset(
    {"specialist", "analyst", "engineer", "developer", "representative", "rep", "coordinator", "consultant",
     "associate", "administrator", "architect", "designer", "scientist", "advisor", "strategist", "writer",
     "sdr", "bdr", "ae", "executive", "officer", "staff", "senior", "principal", "expert", "assistant"}
)  # fmt: skip


@lru_cache(maxsize=65_536)  # a large file repeats a few thousand titles, read twice per import
def title_words(title: str) -> tuple[str, ...]:
    """A job title as comparable words: Unicode-folded (``Ｈｅａｄ`` = ``Head``, ``Diréctor`` = ``director``),
    lower-case, punctuation as spaces, abbreviations spelled out, filler words dropped.

    ``"Sr. Director, RevOps"`` → ``("senior", "director", "revenue", "operations")``.
    """
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", title or "").casefold())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    # "co-founder" and "c-level" are one word each; other punctuation separates words.
    text = re.sub(r"\b(co|c)-(?=\w)", r"\1", text)
    words: list[str] = []
    for word in re.findall(r"[^\W_]+", text):
        words.extend(TITLE_ABBREVIATIONS.get(word, word).split())
    return tuple(w for w in words if w not in TITLE_FILLERS)


def title_key(title: str) -> str:
    """``title_words`` joined by single spaces and padded with one on each side, so that one key holds
    another as whole words: ``" it director "`` is in "IT Director, EMEA" but ``" cro "`` is not in
    "Micro Focus"."""
    return f" {' '.join(title_words(title))} "


def seniority_from_title(title: str) -> str:
    """The seniority a job title says (a ``Seniority`` value), ``"unknown"`` when it says none.

    The highest level a title names wins: C-level (chief …, CEO/CRO/…, founder, president), VP (vice
    president), director (director, head of), then entry level (intern, junior), manager (manager,
    supervisor; "lead" after a function, not "Lead Engineer") and individual contributor (specialist,
    engineer, senior …). "Sr. Director" is a director, "Head of RevOps" a director, "VP, Sales" a VP,
    "RevOps Lead" a manager, "Executive Assistant to the CEO" an individual contributor.
    """
    words = title_words(title)
    if not words:
        return "unknown"
    joined = f" {' '.join(words)} "
    found = set(words)
    if " assistant to " in joined:
        return "individual"
    if " vice president " in joined:
        return "vp"
    if (
        found & _C_LEVEL_WORDS
        or words in _C_LEVEL_TITLES
        or any(
            phrase in joined
            for phrase in (" managing director ", " director general ", " directeur general ")
        )
    ):
        return "c_level"
    if found & _DIRECTOR_WORDS:
        return "director"
    if found & _ENTRY_WORDS:
        return "entry"
    if found & _MANAGER_WORDS or any(w in ("lead", "leader") for w in words[1:]):
        return "manager"
    if found & _INDIVIDUAL_WORDS:
        return "individual"
    return "unknown"
