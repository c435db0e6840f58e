"""``manage.py import_csv KIND PATH``: the CSV import from the command line, with a progress bar."""

import shlex
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from imports.mappings import (
    KINDS,
    MEMBER_MODES,
    explicit_mapping_parse,
    options_check,
    value_map_check,
    value_map_parse,
)
from imports.services import JOB_KIND_PREFIX, MODE_ALL, MODE_ROWS, csv_import, report_errors_csv
from revops.services import job_run_create, job_run_finish, job_run_start


class Command(BaseCommand):
    help = (
        "Import a CSV file of accounts, contacts, opportunities, events, products, sales agents, campaigns "
        "or segment members. "
        "All or nothing by default: every row is validated first and nothing is written if one is bad. "
        "Re-importing a file updates what it imported before. "
        "Accounts: a technologies cell lists names separated by ';', '|', ',' or a line break (in a "
        "comma-separated file, quote a cell that holds commas; '/' separates nothing, so 'CI/CD' is one "
        "name); names match the technology catalogue ignoring case, spaces and punctuation, names not in "
        "it are added to it (the report lists each one), and the list replaces the account's "
        "technologies (a blank cell keeps them). "
        "Contacts: a company that is not an account yet is created with the domain of the contact's "
        "e-mail (the account with that domain is used if there is one); a free-mail address (gmail.com "
        "…) founds no account: the contact comes in without one, with a warning. A title gives the "
        "seniority and persona where the file gives none. A stage column (Lead Status, Lifecycle Stage, "
        "Status) is never written to contacts: a new contact starts as Lead and the lifecycle service "
        "records the file's stage as an imported move (the command line records every stage; --user "
        "records Lead and MQL only unless the user decides on leads); a stored contact keeps its stage. "
        "Choice columns (seniority, department, stage …) read their values and labels, and common CRM "
        "names (Closed Won, Needs Analysis, Intern, Head of …) with a note in the report; map other "
        "values with --map-values. "
        "Campaigns: a name already imported updates that campaign; costs by month come from the columns "
        "whose header holds the month as YYYY-MM ('cost 2026-01', '2026-01 cost' or '2026-01'), a blank "
        "cell keeps the month's cost; UTM campaigns, e-mail ids and ad ids are lists like technologies and "
        "replace the campaign's keys of their kind; the target segment must exist; the holdout is 0.1 or "
        "10%. "
        "Segment members: a file of domains (and optionally a segment column); the segment named by "
        "--segment (or the column) is created as a static segment if it does not exist, and its list is "
        "replaced (--members add or remove to change it instead); domains no account has are listed."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=list(KINDS))
        parser.add_argument("path", help="the CSV file (UTF-8; comma, semicolon or tab separated)")
        parser.add_argument("--dry-run", action="store_true", help="validate and report, write nothing")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="HEADER=FIELD",
            help="map a column explicitly, e.g. --map revenue=annual_revenue_millions; FIELD may be "
            "'custom' (keep in the custom data) or 'ignore'. Repeat for several columns.",
        )
        parser.add_argument(
            "--map-values",
            action="append",
            default=[],
            metavar="FIELD:VALUE=ACCEPTED[,VALUE=ACCEPTED…]",
            help="read values of a choice field as one of its accepted values, e.g. --map-values "
            "seniority:intern=entry or --map-values 'stage:Open=prospecting,On hold=engaging'. FIELD is "
            "a field name (seniority, department, lifecycle_stage, stage, goal); values match ignoring case, "
            "spaces and punctuation. Repeat for several fields.",
        )
        parser.add_argument(
            "--row-by-row", action="store_true", help="import the good rows and report the bad ones"
        )
        parser.add_argument(
            "--segment",
            help="segment members: the segment of the rows whose segment column is blank (or of every row)",
        )
        parser.add_argument(
            "--members",
            choices=MEMBER_MODES,
            help="segment members: replace the segment's list (the default), add to it or remove from it",
        )
        parser.add_argument("--user", help="username recorded as the one who imported (audit log)")
        parser.add_argument("--errors-csv", help="write the rejected rows, with reasons, to this CSV file")
        parser.add_argument("--max-errors", type=int, default=50, help="errors to print (default 50)")

    def handle(self, *args, **options):
        kind, path = options["kind"], Path(options["path"])
        try:
            mapping = explicit_mapping_parse(options["map"])
            value_map = value_map_check(kind, value_map_parse(options["map_values"]))
            settings = options_check(kind, {"segment": options["segment"], "members": options["members"]})
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(f"No user named '{options['user']}'")
        row_by_row, dry_run = options["row_by_row"], options["dry_run"]

        job = None
        if not dry_run:
            job = job_run_create(
                kind=f"{JOB_KIND_PREFIX}{kind}",
                actor=actor,
                params={
                    "kind": kind,
                    "filename": path.name,
                    "path": str(path.resolve()),
                    "mapping": mapping,
                    "value_map": value_map,
                    "mode": MODE_ROWS if row_by_row else MODE_ALL,
                    "source": "cli",
                    "confirmed": True,
                    "options": settings,
                },
            )
            job_run_start(job=job)

        # tqdm redraws with "\r": give it the raw stream, not Django's line-ending OutputWrapper.
        stream = getattr(self.stderr, "_out", sys.stderr)
        bar = tqdm(
            total=0, unit="row", desc="reading", disable=options["verbosity"] == 0, leave=False, file=stream
        )

        def progress(done: int, total: int, phase: str) -> None:
            bar.total = total
            bar.n = done
            bar.set_description(phase, refresh=False)
            bar.refresh()

        try:
            report = csv_import(
                kind=kind,
                path=path,
                actor=actor,
                mapping=mapping,
                value_map=value_map,
                row_by_row=row_by_row,
                dry_run=dry_run,
                progress=progress,
                job=job,
                options=settings,
            )
        except Exception as exc:
            if job:
                job_run_finish(job=job, ok=False, message=f"The import failed and nothing was written: {exc}")
            raise
        finally:
            bar.close()
        if job:
            job.total = report.rows
            job.save(update_fields=["total", "updated"])
            job_run_finish(job=job, ok=report.ok, message=report.summary(), result=report.as_dict())

        self._print(report, options["max_errors"])
        if options["errors_csv"] and report.errors:
            with open(options["errors_csv"], "w", newline="", encoding="utf-8") as handle:
                count = report_errors_csv(report, handle)
            self.stdout.write(f"Rejected rows written to {options['errors_csv']} ({count} errors).")
        if not report.ok or (report.error_count and not row_by_row):
            raise CommandError(report.summary(), returncode=2 if report.fatal else 1)

    def _print(self, report, max_errors: int) -> None:
        data = report.as_dict(max_errors=max_errors)
        out = self.stdout
        mode = "row by row" if data["mode"] == MODE_ROWS else "all or nothing"
        out.write(
            f"Import of {data['kind']} from {data['file']} ({mode}{', dry run' if data['dry_run'] else ''})"
        )
        if data["options"]:
            out.write("Settings: " + ", ".join(f"{k} {v}" for k, v in data["options"].items()))
        if data["mapping"]:
            mapped = ", ".join(f"{h} → {t}" for h, t in data["mapping"].items())
            out.write(f"Columns: {mapped}")
        for note in data["notes"]:
            out.write(f"Note: {note}")
        if not data["fatal"]:
            extra = "".join(f" · {k.replace('_', ' ')} {v:,}" for k, v in data["extra"].items())
            out.write(
                f"Rows: {data['rows']:,} · created {data['created']:,} · updated {data['updated']:,} · "
                f"unchanged {data['unchanged']:,} · rejected {data['rejected']:,}{extra}"
            )
        self._print_lifecycle(data["lifecycle"], data["fatal"])
        if data["long_rows_text"]:
            out.write(self.style.WARNING(f"Long rows: {data['long_rows_text']}"))
        if data["warnings"]:
            out.write(self.style.WARNING("Warnings (corrections and additions):"))
            for warning in data["warnings"]:
                rows = ", ".join(str(r) for r in warning["rows"]) + (
                    " …" if warning["count"] > len(warning["rows"]) else ""
                )
                out.write(f"  {warning['column']}: {warning['message']} — {warning['count']} row(s): {rows}")
        if data["errors"]:
            listed = len(data["errors"])
            more = f" (first {listed} of {data['error_count']:,})" if data["error_count"] > listed else ""
            out.write(self.style.ERROR(f"Errors{more}:"))
            for error in data["errors"]:
                where = f"row {error['row']}, " if error["row"] else ""
                value = f" '{error['value']}'" if error["value"] else ""
                out.write(f"  {where}{error['column']}{value}: {error['reason']}")
        self._print_unknown_values(data["unknown_values"])
        style = self.style.SUCCESS if report.ok and not report.error_count else self.style.WARNING
        out.write(style(report.summary()))

    def _print_lifecycle(self, lifecycle: dict, fatal: str) -> None:
        """What the import does with a contacts file's stage column: the policy, then the counts."""
        if not lifecycle:
            return
        out = self.stdout
        out.write(f"Lifecycle stage column '{lifecycle['column']}': {lifecycle['policy']}")
        if lifecycle["values"]:
            values = ", ".join(f"'{e['value']}' → {e['stage']} ({e['count']:,})" for e in lifecycle["values"])
            out.write(f"  Values: {values}")
        if not fatal:
            out.write(
                f"  New contacts with a stage to record: {lifecycle['new']:,} · "
                f"at Lead: {lifecycle['lead']:,} · stored contacts keeping theirs: {lifecycle['stored']:,} · "
                "reported, not recorded: "
                f"{lifecycle['not_recorded']:,}"
            )

    def _print_unknown_values(self, columns: list[dict]) -> None:
        """Each choice column's values outside its list, and the --map-values that would read them."""
        unmapped = [(c, [v for v in c["values"] if not v["mapped"]]) for c in columns]
        unmapped = [(c, values) for c, values in unmapped if values]
        if not unmapped:
            return
        out = self.stdout
        out.write(self.style.WARNING("Values outside the accepted lists:"))
        for column, values in unmapped:
            listed = ", ".join(
                f"'{v['value']}' ({v['count']:,} row(s)"
                + (f", closest: {v['suggestion']}" if v["suggestion"] else "")
                + ")"
                for v in values
            )
            accepted = ", ".join(a["value"] for a in column["accepted"])
            out.write(f"  {column['column']} ({column['field']}): {listed}; accepted: {accepted}")
            pairs = ",".join(f"{v['value']}={v['suggestion'] or '<value>'}" for v in values)
            option = shlex.quote(f"{column['field']}:{pairs}")
            out.write(f"    map them with: --map-values {option}")
