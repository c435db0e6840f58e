"""``manage.py import_csv segment_members``: a static segment's list from a file of domains."""

import io

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account
from campaigns.choices import SegmentKind
from campaigns.models import Segment, SegmentMembership
from revops.choices import ChangeAction, JobStatus
from revops.models import ChangeRecord, JobRun
from tests.accounts.factories import AccountFactory
from tests.campaigns.factories import SegmentFactory

pytestmark = pytest.mark.django_db

LIST = """\
Website,Company
https://www.Acme.com/about,Acme
bücher.de,Bücher GmbH
globex.io,Globex
nobody-has-this.example,Ghost
ACME.COM,Acme again
"""


@pytest.fixture(autouse=True)
def accounts(db):
    return {
        d: AccountFactory(domain=d, name=d)
        for d in ("acme.com", "xn--bcher-kva.de", "globex.io", "initech.com")
    }


@pytest.fixture
def csv_file(tmp_path):
    counter = iter(range(1000))

    def make(content: str | bytes) -> str:
        path = tmp_path / f"members{next(counter)}.csv"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return str(path)

    return make


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_csv", "segment_members", *args, stdout=out, stderr=io.StringIO(), verbosity=1)
    return out.getvalue()


def members(name: str) -> set[str]:
    return set(
        SegmentMembership.objects.filter(segment__name=name, left_at__isnull=True).values_list(
            "account__domain", flat=True
        )
    )


def test_a_file_of_domains_creates_the_static_segment_and_its_list(csv_file):
    output = run(csv_file(LIST), "--segment", "Q3 ABM list")

    segment = Segment.objects.get(name="Q3 ABM list")
    assert segment.kind == SegmentKind.STATIC and segment.member_count == 3
    assert members("Q3 ABM list") == {"acme.com", "xn--bcher-kva.de", "globex.io"}  # IDNA, like accounts
    assert "Settings: segment Q3 ABM list" in output
    assert "segment 'Q3 ABM list' does not exist: created as a static segment" in output
    assert "no account has the domain nobody-has-this.example: left out of the list — 1 row(s): 5" in output
    assert "listed more than once for the same segment: counted once — 1 row(s): 6" in output
    assert "domains without account 1" in output and "segments created 1" in output
    assert "accounts joined 3" in output and "members after 3" in output
    assert JobRun.objects.get().status == JobStatus.SUCCEEDED
    assert ChangeRecord.objects.filter(action=ChangeAction.IMPORT, object_type__model="segment").count() == 1
    assert ChangeRecord.objects.filter(action=ChangeAction.CREATE, object_type__model="segment").count() == 1

    again = run(csv_file(LIST), "--segment", "q3 abm LIST")  # the same segment, named loosely
    assert "created 0 · updated 0 · unchanged 5" in again
    assert Segment.objects.count() == 1


def test_replace_add_and_remove(csv_file):
    segment = SegmentFactory(name="Partners", kind=SegmentKind.STATIC)
    run(csv_file("domain\nacme.com\nglobex.io\n"), "--segment", "Partners")
    assert members("Partners") == {"acme.com", "globex.io"}

    run(csv_file("domain\ninitech.com\nglobex.io\n"), "--segment", "Partners")  # replace: the default
    assert members("Partners") == {"initech.com", "globex.io"}
    left = SegmentMembership.objects.get(segment=segment, account__domain="acme.com")
    assert left.left_at is not None  # who left keeps the dates

    output = run(csv_file("domain\nacme.com\n"), "--segment", "Partners", "--members", "add")
    assert "accounts joined 1" in output
    assert members("Partners") == {"initech.com", "globex.io", "acme.com"}

    output = run(csv_file("domain\nacme.com\nglobex.io\n"), "--segment", "Partners", "--members", "remove")
    assert "accounts left 2" in output and members("Partners") == {"initech.com"}
    segment.refresh_from_db()
    assert segment.member_count == 1


def test_a_segment_column_fills_several_segments(csv_file):
    content = "domain,segment\nacme.com,Gold\nglobex.io,Silver\ninitech.com,\n"
    run(csv_file(content), "--segment", "Bronze")
    assert members("Gold") == {"acme.com"} and members("Silver") == {"globex.io"}
    assert members("Bronze") == {"initech.com"}  # a blank cell takes the file's segment


def test_dry_run_writes_nothing(csv_file):
    output = run(csv_file(LIST), "--segment", "Q3 ABM list", "--dry-run")
    assert "would create 3" in output
    assert not Segment.objects.exists() and not ChangeRecord.objects.exists()


@pytest.mark.parametrize(
    ("content", "options", "message"),
    [
        pytest.param(
            "domain\nacme.com\nnot a domain\n",
            ["--segment", "List"],
            "row 3, domain 'not a domain': 'not a domain' is not a valid domain",
            id="not-a-domain",
        ),
        pytest.param(
            "domain\nacme.com\n",
            [],
            "row 2, segment: names no segment: fill the segment column, or name the segment for the whole "
            "file",
            id="no-segment",
        ),
        pytest.param(
            "domain,segment\nacme.com,Dynamic ICP\n",
            [],
            "row 2, segment 'Dynamic ICP': 'Dynamic ICP' is a dynamic segment (criteria): only a static "
            "segment has a list",
            id="dynamic-segment",
        ),
    ],
)
def test_bad_rows_are_row_errors_and_nothing_is_written(csv_file, content, options, message):
    SegmentFactory(name="Dynamic ICP", kind=SegmentKind.DYNAMIC)
    out = io.StringIO()
    with pytest.raises(CommandError, match="Nothing imported"):
        call_command(
            "import_csv", "segment_members", csv_file(content), *options, stdout=out, stderr=io.StringIO()
        )
    assert message in out.getvalue()
    assert list(Segment.objects.values_list("name", flat=True)) == ["Dynamic ICP"]
    assert not SegmentMembership.objects.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "The file is empty."), (b"domain,segment\n", "the file has a header row but no data rows")],
    ids=["empty-file", "only-headers"],
)
def test_files_without_domains_are_refused(csv_file, content, message):
    with pytest.raises(CommandError, match=message):
        run(csv_file(content), "--segment", "List")
    assert not Segment.objects.exists()


def test_settings_only_for_segment_members(csv_file):
    with pytest.raises(CommandError, match="an import of accounts takes no setting 'segment'"):
        call_command("import_csv", "accounts", csv_file("name\nAcme\n"), "--segment", "List")
    assert Account.objects.count() == 4
