"""``manage.py demo_users``: two demo leads per revenue team (so that one proposes a version and
another approves it: four eyes) and a read-only viewer, each with a role that grants permissions."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from revops import services
from revops.choices import Role, TeamKind
from revops.models import Team

DEMO_PASSWORD = "revops-demo"
DEMO_URL = "http://127.0.0.1:8000/"
# (username, first name, team kind, team name if it must be created, role). Two leads per team: a
# version proposed by one lead is approved by another (never its proposer), one of marketing and one of
# sales; "viewer" reads everything and is offered no workflow step.
DEMO_USERS = [
    ("marketing", "Maya", TeamKind.MARKETING, "Marketing", Role.LEAD),
    ("marketing2", "Marco", TeamKind.MARKETING, "Marketing", Role.LEAD),
    ("sales", "Sam", TeamKind.SALES, "Sales", Role.LEAD),
    ("sales2", "Sara", TeamKind.SALES, "Sales", Role.LEAD),
    ("bdr", "Ben", TeamKind.BDR, "BDR/SDR", Role.LEAD),
    ("bdr2", "Bianca", TeamKind.BDR, "BDR/SDR", Role.LEAD),
    ("success", "Sofia", TeamKind.CUSTOMER_SUCCESS, "Customer Success", Role.LEAD),
    ("success2", "Simon", TeamKind.CUSTOMER_SUCCESS, "Customer Success", Role.LEAD),
    ("revops", "Rita", TeamKind.REVENUE_OPERATIONS, "Revenue Operations", Role.LEAD),
    ("revops2", "Raj", TeamKind.REVENUE_OPERATIONS, "Revenue Operations", Role.LEAD),
    ("viewer", "Vic", TeamKind.MARKETING, "Marketing", Role.VIEWER),
]


class Command(BaseCommand):
    help = (
        "Create (idempotently) two demo leads per team (marketing and marketing2, sales and sales2, bdr "
        "and bdr2, success and success2, revops and revops2) and a read-only viewer, with a known password "
        f"({DEMO_PASSWORD!r} unless --password), and print the logins. Propose a version as one lead and "
        "approve it as another (four eyes: marketing and sales each approve, never the proposer). The "
        "revops leads get Django admin."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--password", default=DEMO_PASSWORD, help=f"Password to set (default {DEMO_PASSWORD!r})."
        )
        parser.add_argument(
            "--url", default=DEMO_URL, help=f"Where the demo is served, to print (default {DEMO_URL})."
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Allow it with DJANGO_DEBUG off: known passwords do not belong in production.",
        )

    def handle(self, *args, password: str, force: bool, url: str, **options):
        if not settings.DEBUG and not force:
            raise CommandError(
                "DJANGO_DEBUG is off: this looks like production, and demo users have a published password. "
                "Pass --force if you really want them."
            )
        rows = demo_users_ensure(password=password)
        self._table(rows, password, url if url.endswith("/") else url + "/")

    def _table(self, rows: list[tuple[str, str, str, bool]], password: str, url: str) -> None:
        header = ("username", "password", "team", "role")
        table = [header] + [(u, password, team, role) for u, team, role, _ in rows]
        widths = [max(len(r[i]) for r in table) for i in range(4)]
        line = "  ".join("-" * w for w in widths)
        self.stdout.write(self.style.SUCCESS("Demo logins:"))
        for i, row in enumerate(table):
            self.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
            if i == 0:
                self.stdout.write(line)
        created = [u for u, _, _, new in rows if new]
        if created:
            self.stdout.write(f"Created: {', '.join(created)}.")
        self.stdout.write(
            f"Open {url} and sign in; 'revops' and 'revops2' also have the Django admin at {url}admin/."
        )
        self.stdout.write(
            "Four eyes: propose a rules version as 'marketing', then approve it as 'marketing2' and 'sales' "
            "(the proposer is never offered Approve); a marketing or sales lead publishes it."
        )


@transaction.atomic
def demo_users_ensure(*, password: str = DEMO_PASSWORD) -> list[tuple[str, str, str, bool]]:
    """Each demo user exists in its team, with its role and ``password``.

    Returns (username, team name, role, created) per user.
    """
    User = get_user_model()
    rows = []
    for username, first_name, kind, team_name, role in DEMO_USERS:
        team = Team.objects.filter(kind=kind).order_by("id").first()
        if team is None:
            team = services.team_create(actor=None, name=team_name, kind=kind)
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"first_name": first_name, "last_name": "Demo", "email": f"{username}@demo.example.com"},
        )
        if created or not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
        services.membership_set(actor=None, user=user, team=team, role=role)
        rows.append((username, team.name, Role(role).label.lower(), created))
    return rows
