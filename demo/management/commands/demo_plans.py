"""``manage.py demo_plans``: the demo's revenue plans (this quarter's published, next quarter's a draft),
computed from the demo opportunities' history and agreed by the demo leads (run ``demo_users`` first)."""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from demo.revenue_plans import DemoPlansRefused, demo_plans_seed
from plans.selectors import plan_figures


class Command(BaseCommand):
    help = (
        "Create the demo's revenue plans: this quarter's from the opportunity history (target 1.2 × the "
        "revenue won last quarter), proposed by 'marketing', approved by 'sales' and 'marketing2', "
        "published; and a draft for next quarter based on it. A quarter with a company plan already keeps it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--on",
            type=dt.date.fromisoformat,
            default=None,
            help="YYYY-MM-DD: plan the quarter of this day and the next one (default: today).",
        )

    def handle(self, *args, on, **options):
        try:
            result = demo_plans_seed(on=on or timezone.localdate())
        except DemoPlansRefused as exc:
            raise CommandError(str(exc)) from exc
        for note in result.notes:
            self.stdout.write(note)
        for plan in (result.current, result.next):
            if plan is None or plan not in result.created:
                continue
            figures = plan_figures(plan)
            line = f"{plan} ({plan.get_status_display().lower()}): target ${plan.revenue_target:,.0f}"
            if figures.ready:
                line += (
                    f", pipeline needed ${figures.pipeline:,.0f} at a win rate of {figures.win_rate:.0%}, "
                    f"{figures.opportunities:,.0f} opportunities of ${figures.deal_size:,.0f}"
                )
            self.stdout.write(self.style.SUCCESS(line) if figures.ready else self.style.WARNING(line))
            if figures.problems:
                self.stdout.write("  " + " ".join(figures.problems))
        self.stdout.write("See them at /plans/.")
