"""The import pages with marketing's files: campaigns and segment members, from upload to result."""

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from accounts.choices import CampaignGoal
from accounts.models import Campaign, CampaignCost, CampaignKey
from campaigns.choices import SegmentKind
from campaigns.models import Segment, SegmentMembership
from revops.choices import JobStatus
from revops.models import JobRun
from tests.accounts.factories import AccountFactory, CampaignFactory, ChannelFactory
from tests.campaigns.factories import SegmentFactory

pytestmark = pytest.mark.django_db

CAMPAIGNS = b"""\
name,channel,goal,start,end,budget,segment,holdout,utm campaign,cost 2026-01,2026-02 cost
Spring webinar,webinar,Partners,2026-01-05,2026-03-31,40000,Enterprise ICP,10%,spring-webinar,12000,800
Rip and replace,Paid social,World peace,2026-02-01,2026-04-30,25000,,,rip-replace,,5000
"""
AWKWARD = (
    CAMPAIGNS
    + (
        "Über — 東京,Carrier pigeon,awareness,2026-05-01,2026-04-01,-3,,,taken-utm,-10,\n"
        "Twice,webinar,awareness,,,,,,spring-webinar,,\n"
    ).encode()
)


@pytest.fixture(autouse=True)
def world(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    ChannelFactory(slug="webinar", name="Webinars")
    ChannelFactory(slug="paid-social", name="Paid social")
    SegmentFactory(name="Enterprise ICP", kind=SegmentKind.STATIC)
    existing = CampaignFactory(name="Existing campaign", channel=ChannelFactory(slug="webinar"))
    CampaignKey.objects.create(campaign=existing, kind="utm_campaign", value="taken-utm")
    return Path(settings.MEDIA_ROOT)


@pytest.fixture
def client(member):
    client = Client()
    client.force_login(member)
    return client


def upload(client, content, kind="campaigns", name="campaigns.csv", **fields):
    data = {"kind": kind, "file": SimpleUploadedFile(name, content), **fields}
    return client.post(reverse("imports:import_start"), data)


def form_post(response, **extra):
    """The preview form's fields as the browser sends them back."""
    form = response.context["form"]
    data = {name: field.initial for name, field in form.fields.items() if field.initial is not None}
    data["mode"] = "all_or_nothing"
    data.update(extra)
    return data


def test_the_start_page_says_how_campaign_files_are_read(client):
    html = client.get(reverse("imports:import_start")).content.decode()
    assert (
        'data-kind-help="campaigns"' in html and "&#x27;cost 2026-01&#x27;, &#x27;2026-01 cost&#x27;" in html
    )
    assert 'data-kind-help="segment_members"' in html and "Segment members only" in html


def test_campaigns_preview_maps_month_columns_and_offers_goal_values(client):
    upload(client, CAMPAIGNS)
    job = JobRun.objects.get()
    response = client.get(reverse("imports:import_preview", kwargs={"pk": job.pk}))
    html = response.content.decode()
    assert response.status_code == 200 and 'id="import-kind-help"' in html
    form = response.context["form"]
    assert [form[f"col_{i}"].initial for i in (9, 10)] == ["cost_month", "cost_month"]
    report = response.context["report"]
    assert report["error_count"] == 1 and "&#x27;World peace&#x27; is not a campaign goal" in html
    (group,) = response.context["value_groups"]
    assert group["field"] == "goal" and [v["value"] for v in group["values"]] == ["World peace"]
    assert Campaign.objects.count() == 1


def test_confirming_with_a_goal_mapped_imports_the_campaigns(client, django_capture_on_commit_callbacks):
    upload(client, CAMPAIGNS)
    job = JobRun.objects.get()
    url = reverse("imports:import_preview", kwargs={"pk": job.pk})
    data = form_post(client.get(url), vm_0="awareness", confirm="1")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, data)
    assert response.status_code == 302

    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.result["created"] == 2
    assert job.params["value_map"] == {"goal": {"World peace": "awareness"}}
    spring = Campaign.objects.get(name="Spring webinar")
    assert spring.cost == Decimal("12800") and spring.target.segment.name == "Enterprise ICP"
    assert Campaign.objects.get(name="Rip and replace").goal == CampaignGoal.AWARENESS
    html = client.get(reverse("imports:import_result", kwargs={"pk": job.pk})).content.decode()
    assert 'data-count="created">2<' in html and "Succeeded" in html


def test_an_awkward_campaigns_file_lists_every_problem_and_writes_nothing(
    client, django_capture_on_commit_callbacks
):
    upload(client, AWKWARD)
    job = JobRun.objects.get()
    url = reverse("imports:import_preview", kwargs={"pk": job.pk})
    preview = client.get(url)
    errors = {(e["row"], e["column"]): e["reason"] for e in preview.context["report"]["errors"]}
    assert errors[(3, "goal")].startswith("'World peace' is not a campaign goal")
    assert errors[(4, "channel")].startswith("unknown channel 'Carrier pigeon'")
    assert errors[(4, "end")] == "is before the start date 2026-05-01"
    assert errors[(4, "budget")] == errors[(4, "cost 2026-01")] == "must not be negative"
    assert errors[(4, "utm campaign")].startswith("UTM campaign 'taken-utm' already ties events to")
    assert errors[(5, "utm campaign")] == (
        "row 2 gives the same UTM campaign: a key ties events to one campaign"
    )

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, form_post(preview, confirm="1"))
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "Nothing imported" in job.message
    assert list(Campaign.objects.values_list("name", flat=True)) == ["Existing campaign"]
    assert not CampaignCost.objects.exists() and CampaignKey.objects.count() == 1
    result = client.get(reverse("imports:import_result", kwargs={"pk": job.pk})).content.decode()
    assert "Download the rejected rows" in result and "Über — 東京" in result


@pytest.mark.parametrize(
    ("content", "message", "status"),
    [
        (b"", "The submitted file is empty.", 400),
        (b"name,channel,cost 2026-01\n", "the file has a header row but no data rows", 200),
    ],
    ids=["empty-file", "only-headers"],
)
def test_files_without_rows(client, content, message, status):
    response = upload(client, content)
    if status == 400:
        assert response.status_code == 400 and message in response.content.decode()
        assert not JobRun.objects.exists()
        return
    job = JobRun.objects.get()
    html = client.get(reverse("imports:import_preview", kwargs={"pk": job.pk})).content.decode()
    assert message in html


def test_segment_members_from_the_page(client, django_capture_on_commit_callbacks):
    for domain in ("acme.com", "xn--bcher-kva.de"):
        AccountFactory(domain=domain)
    content = "domain\nacme.com\nBÜCHER.de\nghost.example\n".encode()
    upload(client, content, kind="segment_members", name="list.csv", segment="Fair visitors", members="add")
    job = JobRun.objects.get()
    assert job.params["options"] == {"segment": "Fair visitors", "members": "add"}
    url = reverse("imports:import_preview", kwargs={"pk": job.pk})
    preview = client.get(url)
    html = preview.content.decode()
    assert 'id="import-options"' in html and "Fair visitors" in html
    assert "no account has the domain ghost.example" in html
    assert not Segment.objects.filter(name="Fair visitors").exists()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, form_post(preview, confirm="1"))
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED and job.result["extra"]["accounts_joined"] == 2
    segment = Segment.objects.get(name="Fair visitors")
    assert segment.kind == SegmentKind.STATIC
    assert set(SegmentMembership.objects.values_list("account__domain", flat=True)) == {
        "acme.com", "xn--bcher-kva.de",
    }  # fmt: skip
    result = client.get(reverse("imports:import_result", kwargs={"pk": job.pk})).content.decode()
    assert "segment Fair visitors" in result and "members add" in result


def test_the_upload_form_ignores_segment_settings_for_other_kinds(client):
    upload(client, CAMPAIGNS, segment="Fair visitors", members="remove")
    assert JobRun.objects.get().params["options"] == {}
