"""``manage.py import_csv campaigns``: campaigns with costs by month, keys and a target, as marketing's
files hold them — and the awkward files, each a row error with nothing written."""

import datetime
import io
import unicodedata
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from accounts.choices import CampaignGoal
from accounts.models import Campaign, CampaignCost, CampaignKey
from campaigns.choices import SegmentKind
from campaigns.models import CampaignTarget
from revops.choices import ChangeAction, JobStatus
from revops.models import ChangeRecord, JobRun
from tests.accounts.factories import CampaignFactory, ChannelFactory
from tests.campaigns.factories import SegmentFactory
from tests.revops.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = (
    "Campaign Name,Channel,Goal,Team,Start,End,Budget,Target segment,Holdout,UTM campaign,E-mail ids,Ad ids,"
    "cost 2026-01,2026-02 cost\n"
)
GOOD = HEADER + (
    "Spring webinar,webinar,Partner co-selling,Marketing,2026-01-05,2026-03-31,40000,Enterprise ICP,10%,"
    '"spring-webinar; Spring_Webinar_2",em-881,,12000,8000.50\n'
    'Rip and replace,Paid social,Competitive takeout,marketing,2026-02-01,2026-04-30,"25,000",,0.2,'
    "rip-replace,,ad-1|AD-2,,5000\n"
)


@pytest.fixture(autouse=True)
def world(db):
    """Two channels, the marketing team, a static segment; and one campaign another file made."""
    ChannelFactory(slug="webinar", name="Webinars")
    ChannelFactory(slug="paid-social", name="Paid social")
    TeamFactory()  # Marketing, slug "marketing"
    SegmentFactory(name="Enterprise ICP", kind=SegmentKind.STATIC)
    existing = CampaignFactory(name="Existing campaign", channel=ChannelFactory(slug="webinar"))
    CampaignKey.objects.create(campaign=existing, kind="utm_campaign", value="taken-utm")
    return existing


@pytest.fixture
def csv_file(tmp_path):
    counter = iter(range(1000))

    def make(content: str | bytes) -> str:
        path = tmp_path / f"campaigns{next(counter)}.csv"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return str(path)

    return make


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_csv", *args, stdout=out, stderr=io.StringIO(), verbosity=1)
    return out.getvalue()


def stored() -> dict:
    """Everything a campaigns import may write, to check that a refused file wrote none of it."""
    return {
        "campaigns": sorted(Campaign.objects.values_list("name", "cost", "budget", "goal")),
        "costs": sorted(CampaignCost.objects.values_list("campaign_id", "month", "amount")),
        "keys": sorted(CampaignKey.objects.values_list("campaign_id", "kind", "value")),
        "targets": sorted(CampaignTarget.objects.values_list("campaign_id", "segment_id", "holdout_share")),
        "audit": ChangeRecord.objects.count(),
    }


def test_a_file_creates_campaigns_with_costs_by_month_keys_and_target(csv_file):
    UserFactory(username="marketer")
    output = run("campaigns", csv_file(GOOD), "--user", "marketer")

    assert "Rows: 2 · created 2 · updated 0 · unchanged 0 · rejected 0" in output
    assert "cost 2026-01 → cost_month, 2026-02 cost → cost_month" in output
    assert "'Competitive takeout' read as competitive (Competitive displacement)" in output
    spring = Campaign.objects.get(name="Spring webinar")
    assert spring.channel.slug == "webinar" and spring.goal == CampaignGoal.PARTNER
    assert spring.owner_team.slug == "marketing"
    assert (spring.start_date, spring.end_date) == (datetime.date(2026, 1, 5), datetime.date(2026, 3, 31))
    assert spring.budget == Decimal("40000") and spring.cost == Decimal("20000.50")  # the sum of its lines
    assert list(spring.cost_lines.values_list("month", "amount")) == [
        (datetime.date(2026, 1, 1), Decimal("12000.00")),
        (datetime.date(2026, 2, 1), Decimal("8000.50")),
    ]
    assert sorted(spring.keys.values_list("kind", "value")) == [
        ("email_id", "em-881"), ("utm_campaign", "spring-webinar"), ("utm_campaign", "spring_webinar_2"),
    ]  # fmt: skip
    assert (spring.target.segment.name, spring.target.holdout_share) == ("Enterprise ICP", 0.1)

    rip = Campaign.objects.get(name="Rip and replace")
    assert rip.channel.slug == "paid-social" and rip.goal == CampaignGoal.COMPETITIVE
    assert rip.budget == Decimal("25000") and rip.cost == Decimal("5000")
    assert sorted(rip.keys.values_list("value", flat=True)) == ["ad-1", "ad-2", "rip-replace"]
    assert rip.target.segment is None and rip.target.holdout_share == 0.2

    job = JobRun.objects.get()
    assert job.kind == "import:campaigns" and job.status == JobStatus.SUCCEEDED
    # One record for the import, and each campaign audited by the service that wrote it.
    assert ChangeRecord.objects.get(action=ChangeAction.IMPORT).actor.username == "marketer"
    created = ChangeRecord.objects.filter(action=ChangeAction.CREATE, object_type__model="campaign")
    assert sorted(created.values_list("object_repr", flat=True)) == ["Rip and replace", "Spring webinar"]


def test_reimport_updates_by_name_and_blank_cells_keep_what_is_stored(csv_file):
    run("campaigns", csv_file(GOOD))
    assert "created 0 · updated 0 · unchanged 2" in run("campaigns", csv_file(GOOD))

    # Another spelling of the name; a new month, January changed, February blank; only ad ids given.
    again = "name,2026-01,2026-02,2026-03 spend,ad ids,budget\nSPRING  WEBINAR,11000,,3000,ad-9,\n"
    output = run("campaigns", csv_file(again))
    assert "created 0 · updated 1 · unchanged 0" in output
    spring = Campaign.objects.get(name="SPRING WEBINAR")  # the file's spelling of the name wins
    assert list(spring.cost_lines.values_list("amount", flat=True)) == [
        Decimal("11000.00"), Decimal("8000.50"), Decimal("3000.00"),
    ]  # fmt: skip
    assert spring.cost == Decimal("22000.50") and spring.budget == Decimal("40000")
    assert sorted(spring.keys.values_list("kind", "value")) == [
        ("ad_id", "ad-9"), ("email_id", "em-881"), ("utm_campaign", "spring-webinar"),
        ("utm_campaign", "spring_webinar_2"),
    ]  # fmt: skip
    assert spring.target.segment.name == "Enterprise ICP"  # no target column: kept
    assert Campaign.objects.count() == 3


def test_a_cost_column_is_not_written_over_cost_lines(csv_file):
    run("campaigns", csv_file(GOOD))
    output = run("campaigns", csv_file("name,cost\nSpring webinar,99\nRip and replace,99\n"))
    assert "not written: the campaign has cost lines by month, and costs their sum" in output
    assert Campaign.objects.get(name="Spring webinar").cost == Decimal("20000.50")
    plain = run("campaigns", csv_file("name,channel,actual cost\nNewsletter,webinar,1200\n"))
    assert "created 1" in plain and Campaign.objects.get(name="Newsletter").cost == Decimal("1200")


def test_dry_run_writes_nothing(csv_file):
    before = stored()
    output = run("campaigns", csv_file(GOOD), "--dry-run")
    assert "would create 2" in output
    assert stored() == before and JobRun.objects.count() == 0


def test_unicode_names_are_one_name_however_they_are_composed(csv_file):
    name = "Kampagne Über — 東京 2026"
    decomposed = unicodedata.normalize("NFD", name)
    assert decomposed != name
    run("campaigns", csv_file(f"name,channel,goal\n{decomposed},webinar,awareness\n"))
    campaign = Campaign.objects.get(name=name)  # stored composed (NFC)
    output = run("campaigns", csv_file(f"name,goal\n{name},Deal velocity\n"))
    assert "updated 1" in output and Campaign.objects.filter(name__startswith="Kampagne").count() == 1
    campaign.refresh_from_db()
    assert campaign.goal == CampaignGoal.VELOCITY


def test_goals_outside_the_list_can_be_mapped(csv_file):
    path = csv_file("name,channel,goal\nPeace,webinar,World peace\n")
    with pytest.raises(CommandError):
        run("campaigns", path)
    output = run("campaigns", path, "--map-values", "goal:World peace=awareness")
    assert "created 1" in output
    assert Campaign.objects.get(name="Peace").goal == CampaignGoal.AWARENESS


def test_row_by_row_writes_the_good_campaigns(csv_file):
    bad = GOOD + "Broken,Carrier pigeon,awareness,,,,,,,,,,,\n"
    output = run("campaigns", csv_file(bad), "--row-by-row")
    assert "created 2" in output and "rejected 1" in output
    assert "row 4, Channel 'Carrier pigeon': unknown channel 'Carrier pigeon'" in output
    assert not Campaign.objects.filter(name="Broken").exists()


AWKWARD = [
    pytest.param(
        "name,channel\nPigeons,Carrier pigeon\n",
        "row 2, channel 'Carrier pigeon': unknown channel 'Carrier pigeon' (add it under Administration",
        id="unknown-channel",
    ),
    pytest.param(
        "name,channel,goal\nPeace,webinar,World peace\n",
        "row 2, goal 'World peace': 'World peace' is not a campaign goal; accepted: awareness, pipeline",
        id="goal-outside-the-list",
    ),
    pytest.param(
        "name,channel,cost 2026-01,cost 2026-02\nSpend,webinar,100,-500\n",
        "row 2, cost 2026-02 '-500': must not be negative",
        id="negative-month-cost",
    ),
    pytest.param(
        "name,channel,budget\nSpend,webinar,-1\n",
        "row 2, budget '-1': must not be negative",
        id="negative-budget",
    ),
    pytest.param(
        "name,channel,cost 2026-01,2026-01 cost\nTwice,webinar,100,200\n",
        "row 2, 2026-01 cost '200': 2026-01 appears twice: column 'cost 2026-01' gives it too",
        id="a-month-twice",
    ),
    pytest.param(
        "name,channel,start date,end date\nBackwards,webinar,2026-05-01,2026-04-30\n",
        "row 2, end date '2026-04-30': is before the start date 2026-05-01",
        id="end-before-start",
    ),
    pytest.param(
        "name,channel,utm campaign\nCopycat,webinar,Taken-UTM\n",
        "row 2, utm campaign 'taken-utm': UTM campaign 'taken-utm' already ties events to the campaign "
        "'Existing campaign'",
        id="key-of-another-campaign",
    ),
    pytest.param(
        "name,channel,ad ids\nOne,webinar,ad-7\nTwo,webinar,x; AD-7\n",
        "row 3, ad ids 'ad-7': row 2 gives the same Ad id: a key ties events to one campaign",
        id="key-twice-in-the-file",
    ),
    pytest.param(
        "name,channel,target segment,holdout\nAimed,webinar,Enterprise ICP,60%\n",
        "row 2, holdout '60%': must be between 0 and 0.5",
        id="holdout-too-large",
    ),
    pytest.param(
        "name,channel,target segment\nAimed,webinar,Nobody's list\n",
        "row 2, target segment 'Nobody's list': unknown segment 'Nobody's list'",
        id="unknown-segment",
    ),
    pytest.param(
        "name,goal\nOrphan,awareness\n",
        "row 2, channel: a new campaign needs a channel (its slug or name)",
        id="new-campaign-without-channel",
    ),
    pytest.param(
        "name,channel\nDup,webinar\ndup,webinar\n",
        "row 3, name 'dup': duplicate: row 2 has the same campaign name (ignoring case)",
        id="same-campaign-twice",
    ),
    pytest.param(
        "name,channel,start\nLate,webinar,31/12/2026\n",
        "row 2, start '31/12/2026': '31/12/2026' is not a date; write dates as YYYY-MM-DD",
        id="not-a-date",
    ),
]


def good_row(content: str) -> str:
    """A valid new campaign for the header of ``content`` (none without a channel column)."""
    header = content.split("\n")[0].split(",")
    cells = {"name": "Fine campaign", "channel": "webinar"}
    return ",".join(cells.get(h, "") for h in header) + "\n" if "channel" in header else ""


@pytest.mark.parametrize(("content", "message"), AWKWARD)
def test_awkward_rows_are_row_errors_and_nothing_is_written(csv_file, content, message):
    """Each file also holds a good campaign: all or nothing, it is not written either."""
    before = stored()
    out = io.StringIO()
    with pytest.raises(CommandError, match="Nothing imported: ") as excinfo:
        path = csv_file(content + good_row(content))
        call_command("import_csv", "campaigns", path, stdout=out, stderr=io.StringIO())
    assert excinfo.value.returncode == 1
    assert message in out.getvalue()
    assert stored() == before
    job = JobRun.objects.get()
    assert job.status == JobStatus.FAILED and job.result["rejected"] >= 1 and not job.result["written"]


def test_end_before_a_stored_start_is_a_row_error(csv_file, world):
    start = world.start_date
    content = f"name,end\nExisting campaign,{start - datetime.timedelta(days=1)}\n"
    before = stored()
    output = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_csv", "campaigns", csv_file(content), stdout=output, stderr=io.StringIO())
    assert f"is before the start date {start.isoformat()} (the stored one)" in output.getvalue()
    assert stored() == before


def test_a_launched_campaign_keeps_its_target(csv_file, world):
    segment = SegmentFactory(name="Other list", kind=SegmentKind.STATIC)
    CampaignTarget.objects.create(
        campaign=world, segment=SegmentFactory(name="Launched list", kind=SegmentKind.STATIC),
        holdout_share=0.1, launched_at=datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC),
    )  # fmt: skip
    output = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_csv", "campaigns", csv_file(f"name,segment\nExisting campaign,{segment.name}\n"),
            stdout=output, stderr=io.StringIO(),
        )  # fmt: skip
    assert "the campaign was launched on 2026-01-02: its target segment and holdout are recorded" in (
        output.getvalue()
    )
    assert CampaignTarget.objects.get().segment.name == "Launched list"


@pytest.mark.parametrize(
    ("content", "message", "returncode"),
    [
        (b"", "The file is empty.", 2),
        (b"name,channel,goal,cost 2026-01\n", "the file has a header row but no data rows", 2),
        (b"channel,goal\nwebinar,awareness\n", "required column missing", 2),
    ],
    ids=["empty-file", "only-headers", "no-name-column"],
)
def test_files_without_campaigns_are_refused(csv_file, content, message, returncode):
    before = stored()
    with pytest.raises(CommandError, match=message) as excinfo:
        run("campaigns", csv_file(content))
    assert excinfo.value.returncode == returncode
    assert stored() == before


def test_month_columns_are_those_whose_header_holds_a_month(csv_file):
    content = (
        "name,channel,Cost (2026-03),2026/4 spend USD,budget 2026-05,Kosten 2026-06\nMonths,webinar,1,2,3,4\n"
    )
    output = run("campaigns", csv_file(content))
    assert "Cost (2026-03) → cost_month, 2026/4 spend USD → cost_month, budget 2026-05 → ignore" in output
    assert "Column 'budget 2026-05' matches no field: not imported." in output
    lines = Campaign.objects.get(name="Months").cost_lines.values_list("month", "amount")
    assert list(lines) == [
        (datetime.date(2026, 3, 1), Decimal("1.00")),
        (datetime.date(2026, 4, 1), Decimal("2.00")),
    ]
    with pytest.raises(
        CommandError, match="'Kosten 2026-06' cannot be read as cost_month: a month's cost column"
    ):
        run("campaigns", csv_file(content), "--map", "Kosten 2026-06=cost_month")


def test_names_stored_in_two_spellings_are_not_guessed(csv_file, world):
    CampaignFactory(name="EXISTING CAMPAIGN", channel=world.channel)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_csv", "campaigns", csv_file("name,budget\nexisting campaign,10\n"), stdout=out,
            stderr=io.StringIO(),
        )  # fmt: skip
    assert "campaigns 'EXISTING CAMPAIGN', 'Existing campaign' differ only in case" in out.getvalue()


@pytest.mark.parametrize("row_by_row", [False, True])
def test_a_campaign_the_service_refuses_while_writing(csv_file, monkeypatch, row_by_row):
    """Pass 1 checks what the services check; a change made meanwhile is refused while writing."""
    from imports import marketing

    def refuse(**kwargs):
        if kwargs["data"]["name"] == "Rip and replace":
            raise ValidationError({"keys": ["utm_campaign 'rip-replace' already ties events to Elsewhere."]})
        return create(**kwargs)

    create = marketing.campaign_create
    monkeypatch.setattr(marketing, "campaign_create", refuse)
    before = stored()
    out = io.StringIO()
    args = ["import_csv", "campaigns", csv_file(GOOD), *(["--row-by-row"] if row_by_row else [])]
    if row_by_row:
        call_command(*args, stdout=out, stderr=io.StringIO())
        assert list(Campaign.objects.filter(name__in=["Spring webinar", "Rip and replace"])) == [
            Campaign.objects.get(name="Spring webinar")
        ]
    else:
        with pytest.raises(CommandError, match="Nothing imported"):
            call_command(*args, stdout=out, stderr=io.StringIO())
        assert stored() == before
    assert (
        "row 3, UTM campaign: utm_campaign 'rip-replace' already ties events to Elsewhere." in out.getvalue()
    )
