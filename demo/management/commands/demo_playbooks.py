"""``manage.py demo_playbooks``: the demo's stage playbooks, published by the demo leads (run
``demo_users`` first), and the plays of the accounts that entered a stage lately."""

from django.core.management.base import BaseCommand, CommandError

from demo.playbooks import DemoPlaybooksRefused, demo_playbooks_seed
from scoring.engine.words import plural


class Command(BaseCommand):
    help = "Publish the demo's playbook for each buying stage and start the plays of recent stage entries."

    def handle(self, *args, **options):
        try:
            result = demo_playbooks_seed()
        except DemoPlaybooksRefused as exc:
            raise CommandError(str(exc)) from exc
        for note in result.notes:
            self.stdout.write(note)
        for book in result.created:
            self.stdout.write(self.style.SUCCESS(f"{book}: {plural(book.plays.count(), 'play')}, published"))
        counts = result.trigger
        recent = counts["transitions"] - counts["too_old"]
        self.stdout.write(
            f"Plays: {counts['started']} started, {counts['suppressed']} suppressed (customers, open deals), "
            f"{counts['tasks']} tasks, from {recent} recent stage entries. See /playbooks/tasks/."
        )
