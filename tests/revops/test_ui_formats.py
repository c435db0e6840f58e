"""The one date format and the people's names of the web UI (issue 17): the ``when``/``day``/``person``
filters, Django's own formats (a datetime shown as is, the admin) and a page that uses them."""

import datetime

import pytest
from django.template import Context, Template
from django.utils import timezone

from revops.templatetags.revops_ui import day, person, when
from tests.revops.factories import UserFactory

MOMENT = datetime.datetime(2026, 12, 6, 4, 42, 17, tzinfo=datetime.UTC)


def render(text: str, **context) -> str:
    return Template("{% load revops_ui %}" + text).render(Context(context))


def test_when_writes_day_month_year_and_24_hour_time():
    assert when(MOMENT) == "6 Dec 2026 04:42"
    assert when(datetime.datetime(2026, 1, 9, 16, 5, tzinfo=datetime.UTC)) == "9 Jan 2026 16:05"
    assert when(datetime.date(2026, 12, 6)) == "6 Dec 2026"  # a date alone has no time


def test_when_and_day_of_nothing_are_empty_so_a_default_reads():
    assert when(None) == "" and day(None) == "" and when("") == "" and when("soon") == ""
    assert render('{{ value|when|default:"—" }}', value=None) == "—"


def test_day_drops_the_time():
    assert day(MOMENT) == "6 Dec 2026" and day(datetime.date(2027, 3, 1)) == "1 Mar 2027"


def test_templates_show_moments_in_the_current_time_zone():
    with timezone.override("Europe/Berlin"):
        assert render("{{ value|when }}", value=MOMENT) == "6 Dec 2026 05:42"


def test_django_formats_are_the_same_one():
    """A datetime printed as is (``{{ value }}``), ``|date`` without a format and the admin agree."""
    assert render("{{ value }}", value=MOMENT) == "6 Dec 2026 04:42"
    assert render("{{ value|date }}", value=MOMENT) == "6 Dec 2026"
    assert render('{{ value|date:"SHORT_DATETIME_FORMAT" }}', value=MOMENT) == "6 Dec 2026 04:42"


@pytest.mark.django_db
def test_person_is_the_full_name_else_the_username():
    ada = UserFactory(username="ada", first_name="Ada", last_name="Lovelace")
    bare = UserFactory(username="revops", first_name="", last_name="")
    assert person(ada) == "Ada Lovelace"
    assert person(bare) == "revops"
    assert person(None) == "" and person("Already A Name") == "Already A Name"
    assert render('by {{ u|person|default:"the command line" }}', u=None) == "by the command line"


@pytest.mark.django_db
def test_a_page_names_its_user_by_full_name(client, revops_admin):
    """The navigation bar names the signed-in user by the full name, not the username."""
    revops_admin.first_name, revops_admin.last_name = "Grace", "Hopper"
    revops_admin.save()
    client.force_login(revops_admin)
    html = client.get("/").content.decode()
    assert "Grace Hopper" in html and f">{revops_admin.username}<" not in html
