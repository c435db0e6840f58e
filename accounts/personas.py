"""Mapping a contact to a persona by its title, seniority and department (pure: no database).

A persona's ``match_titles`` are keywords compared with the title as whole words, in the vocabulary of
``normalize.title_words`` (abbreviations spelled out, filler words dropped), so the keyword "revops"
or "revenue operations" maps "Head of RevOps", and "vp sales" maps "VP, Sales" and "VP of Sales". Its
``match_seniorities`` and ``match_departments`` narrow the match where the contact's are known; when
several personas match, the lowest ``priority`` (then the name) wins, as the persona list orders them.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from .normalize import title_key, title_words

UNKNOWN_SENIORITY = "unknown"
OTHER_DEPARTMENT = "other"


@dataclass(frozen=True)
class PersonaRule:
    """One persona's matching criteria, as stored on ``Persona``."""

    id: int
    name: str
    priority: int
    titles: tuple[str, ...] = ()  # title keywords as ``title_key``s (``persona_rule`` builds them)
    seniorities: frozenset[str] = frozenset()
    departments: frozenset[str] = frozenset()

    def matches(self, *, key: str, seniority: str, department: str) -> bool:
        """Whether a contact (its ``title_key``, seniority and department) is this persona."""
        if self.titles:
            if not any(keyword in key for keyword in self.titles):
                return False
        elif not (self.seniorities or self.departments):
            return False  # a persona with no criteria maps nobody by itself
        elif (self.seniorities and seniority == UNKNOWN_SENIORITY) or (
            self.departments and department == OTHER_DEPARTMENT
        ):
            return False  # without a title keyword, unknown values cannot be the persona
        if self.seniorities and seniority != UNKNOWN_SENIORITY and seniority not in self.seniorities:
            return False
        return not (
            self.departments and department != OTHER_DEPARTMENT and department not in self.departments
        )


def persona_rule(
    *,
    id: int,
    name: str,
    priority: int,
    match_titles: Iterable[str] = (),
    match_seniorities: Iterable[str] = (),
    match_departments: Iterable[str] = (),
) -> PersonaRule:
    """A ``PersonaRule`` from a persona's fields (keywords of no word, like "&", are left out)."""
    return PersonaRule(
        id=id,
        name=name,
        priority=priority,
        titles=tuple(title_key(t) for t in match_titles or () if isinstance(t, str) and title_words(t)),
        seniorities=frozenset(match_seniorities or ()),
        departments=frozenset(match_departments or ()),
    )


class PersonaMatcher:
    """The personas in their order of precedence, and the first that matches a contact."""

    def __init__(self, rules: Iterable[PersonaRule]):
        self.rules = sorted(rules, key=lambda r: (r.priority, r.name))
        self._cache: dict[tuple[str, str, str], PersonaRule | None] = {}

    def match(
        self, *, title: str, seniority: str | None = None, department: str | None = None
    ) -> PersonaRule | None:
        """The persona of a contact with this title (``None`` when no title or none matches); blank
        seniority and department count as unknown."""
        if not (title or "").strip():
            return None
        key = title_key(title)
        seniority = seniority or UNKNOWN_SENIORITY
        department = department or OTHER_DEPARTMENT
        cached = (key, seniority, department)
        if cached not in self._cache:
            found = next(
                (r for r in self.rules if r.matches(key=key, seniority=seniority, department=department)),
                None,
            )
            if len(self._cache) < 65_536:  # a large file repeats a few thousand titles
                self._cache[cached] = found
            return found
        return self._cache[cached]
