"""Job titles: the seniority a title says, and the persona it maps to (pure, no database)."""

import pytest

from accounts.normalize import seniority_from_title, title_words
from accounts.personas import PersonaMatcher, persona_rule
from demo.catalogue import JUNK_KINDS, PERSONAS


@pytest.mark.parametrize(
    ("title", "seniority"),
    [
        ("Head of RevOps", "director"),
        ("Head of Marketing", "director"),
        ("VP, Sales", "vp"),
        ("VP of Sales", "vp"),
        ("Senior Vice President, Marketing", "vp"),
        ("Sr. Director", "director"),
        ("Sr. Director, Demand Generation", "director"),
        ("CRO", "c_level"),
        ("Chief Revenue Officer", "c_level"),
        ("Co-Founder & CEO", "c_level"),
        ("Managing Director", "c_level"),
        ("Owner", "c_level"),
        ("RevOps Lead", "manager"),
        ("SDR Team Lead", "manager"),
        ("Sr. Manager, Sales Operations", "manager"),
        ("Lead Engineer", "individual"),  # "lead" before the work is a senior contributor, not a manager
        ("Executive Assistant to the CEO", "individual"),
        ("Business Development Representative", "individual"),
        ("Marketing Intern", "entry"),
        ("Jr. Analyst", "entry"),
        ("MBA Candidate", "entry"),
        # unicode and mixed case
        ("hEAD oF rEVoPS", "director"),
        ("Ｈｅａｄ ｏｆ ＲｅｖＯｐｓ", "director"),  # full-width letters, as some exports write them
        ("Diréctora de Marketing", "director"),
        ("Directeur Général", "c_level"),
        ("VİCE PRESIDENT SALES", "vp"),
        # says nothing about seniority
        ("Product Owner", "unknown"),
        ("Looking for new opportunities", "unknown"),
        ("", "unknown"),
        ("—", "unknown"),
    ],
)
def test_seniority_from_title(title, seniority):
    assert seniority_from_title(title) == seniority


def test_title_words_spell_out_abbreviations_and_drop_fillers():
    assert title_words("Sr. Director, RevOps") == ("senior", "director", "revenue", "operations")
    assert title_words("VP of Sales") == title_words("vp sales") == ("vice", "president", "sales")


def demo_matcher() -> PersonaMatcher:
    return PersonaMatcher(
        persona_rule(
            id=i,
            name=p["name"],
            priority=p["priority"],
            match_titles=p["match_titles"],
            match_seniorities=p["match_seniorities"],
            match_departments=p["match_departments"],
        )
        for i, p in enumerate(PERSONAS)
    )


DEMO_TITLES = [(i, *title) for i, p in enumerate(PERSONAS) for title in p["titles"]]


@pytest.mark.parametrize(("persona", "title", "seniority", "department"), DEMO_TITLES)
def test_every_demo_title_maps_to_its_persona_from_the_title_alone(persona, title, seniority, department):
    matcher = demo_matcher()
    # As a CSV with only a title gives it: the seniority read from the title, no department.
    assert matcher.match(title=title, seniority=seniority_from_title(title)).id == persona
    # And with the demo's own seniority and department.
    assert matcher.match(title=title, seniority=seniority, department=department).id == persona


@pytest.mark.parametrize(("persona", "title", "seniority", "department"), DEMO_TITLES)
def test_demo_titles_say_the_demo_seniority(persona, title, seniority, department):
    # (The demo's junk titles are left out: it gives "Founder" and "Owner" of free-mail sign-ups no
    # seniority, where their titles say C-level.)
    if title == "Campaign Manager":
        # The demo counts a campaign manager as an individual contributor; a title saying "manager"
        # is read as a manager (its persona, Dana, takes both).
        assert seniority_from_title(title) == "manager"
    else:
        assert seniority_from_title(title) == seniority


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("Head of RevOps", "Rita, the RevOps Champion"),
        ("Head of Revenue Operations", "Rita, the RevOps Champion"),
        ("RevOps Lead", "Rita, the RevOps Champion"),
        ("Sr. Director, Revenue Ops", "Rita, the RevOps Champion"),
        ("Head of Sales Operations", "Rita, the RevOps Champion"),  # also "head of sales": priority wins
        ("VP, Sales", "Sam, the Sales Leader"),
        ("VP of Sales", "Sam, the Sales Leader"),
        ("CRO", "Sam, the Sales Leader"),
        ("chief revenue officer", "Sam, the Sales Leader"),
        ("Head of Mktg", "Maya, the Marketing Leader"),
        ("IT Director, EMEA", "Ian, the IT and Data Gatekeeper"),
    ],
)
def test_titles_with_abbreviations_map_like_the_demo(title, name):
    assert demo_matcher().match(title=title, seniority=seniority_from_title(title)).name == name


@pytest.mark.parametrize(
    "title",
    [t for _kind, _share, titles, _dept in JUNK_KINDS for t, _s in titles]
    + ["Micro Focus Specialist", "Circus Director"],  # "cro" and "it" only as whole words
)
def test_junk_and_unrelated_titles_map_to_no_persona(title):
    assert demo_matcher().match(title=title, seniority=seniority_from_title(title)) is None


def test_a_known_seniority_or_department_outside_the_persona_rules_it_out():
    matcher = demo_matcher()
    assert matcher.match(title="Head of Marketing", seniority="entry") is None
    assert matcher.match(title="Head of Marketing", department="finance") is None
    # Unknown ones do not.
    assert matcher.match(title="Head of Marketing", seniority="unknown", department="other").name.startswith(
        "Maya"
    )


def test_a_persona_without_title_keywords_matches_by_seniority_and_department():
    matcher = PersonaMatcher(
        [
            persona_rule(
                id=1,
                name="Any exec",
                priority=5,
                match_seniorities=["c_level"],
                match_departments=["finance"],
            ),
            persona_rule(id=2, name="Nothing", priority=1),
        ]
    )
    assert matcher.match(title="Group Treasurer & CFO", seniority="c_level", department="finance").id == 1
    assert matcher.match(title="Treasurer", seniority="unknown", department="finance") is None
