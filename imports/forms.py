"""Forms of the import pages: the upload, and the column mapping with the import mode."""

from django import forms

from .mappings import (
    CUSTOM,
    IGNORE,
    KIND_CHOICES,
    KINDS,
    MEMBER_MODES,
    ValueMap,
    loose_key,
    options_check,
    resolve_mapping,
)
from .reader import SAMPLE_BYTES, CsvFileError, upload_check
from .services import MODE_ALL, MODE_ROWS

MAX_VALUE_ROWS = 1_000  # value-mapping rows read back from a post
LEAVE = ""  # a value left outside the list: its rows are rejected

MEMBER_MODE_CHOICES = list(
    zip(
        MEMBER_MODES,
        ["Replace the segment's list with the file", "Add the file's accounts to it", "Remove them from it"],
        strict=True,
    )
)
MODE_CHOICES = [
    (MODE_ALL, "All or nothing: import only if every row is valid"),
    (MODE_ROWS, "Row by row: import the valid rows, report the others"),
]


class ImportUploadForm(forms.Form):
    """Choose what the file holds, and the file."""

    kind = forms.ChoiceField(
        choices=KIND_CHOICES,
        label="The file holds",
        initial="accounts",
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 (or Excel's Windows-1252), comma, semicolon or tab separated, a header row first.",
        widget=forms.FileInput(
            attrs={"class": "form-control", "accept": ".csv,.tsv,.txt,text/csv,text/plain"}
        ),
    )

    segment = forms.CharField(
        required=False,
        max_length=200,
        label="Segment",
        help_text="Segment members: the static segment the domains belong to (created if it does not exist), "
        "for rows without a segment column.",
        widget=forms.TextInput(attrs={"class": "form-control", "placeholder": "e.g. Q3 ABM list"}),
    )
    members = forms.ChoiceField(
        choices=MEMBER_MODE_CHOICES,
        required=False,
        initial=MEMBER_MODES[0],
        label="Segment members: the file",
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    def options(self) -> dict[str, str]:
        """The settings for the whole file, for the kinds that take them."""
        kind = self.cleaned_data["kind"]
        given = {name: self.cleaned_data.get(name) for name in KINDS[kind].options}
        return options_check(kind, given)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.size:
            raise forms.ValidationError("The file is empty.")
        sample = upload.read(SAMPLE_BYTES)
        upload.seek(0)
        try:
            upload_check(sample)
        except CsvFileError as exc:
            raise forms.ValidationError(exc.reason) from exc
        return upload


def target_choices(kind: str) -> list[tuple[str, str]]:
    spec = KINDS[kind]
    choices = [(IGNORE, "— don't import —")]
    if spec.keeps_custom:
        choices.append((CUSTOM, f"keep in {spec.custom_label}"))
    choices += [(f.name, f.label + (" *" if f.required else "")) for f in spec.fields]
    return choices


class ImportMappingForm(forms.Form):
    """One choice per CSV column (``col_<index>``), the import mode, and what each value outside a
    choice column's list is read as (``vm_<n>``, with the field and the value in hidden inputs)."""

    mode = forms.ChoiceField(choices=MODE_CHOICES, widget=forms.RadioSelect, initial=MODE_ALL, label="Import")

    def __init__(
        self,
        *args,
        kind: str,
        headers: list[str],
        current: dict[str, str],
        value_map: ValueMap | None = None,
        unknown_values: list[dict] | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.kind, self.headers = kind, headers
        choices = target_choices(kind)
        for i, column in enumerate(resolve_mapping(kind, headers, current).columns):
            self.fields[f"col_{i}"] = forms.ChoiceField(
                choices=choices,
                required=False,
                initial=column.target,
                label=column.header,
                widget=forms.Select(
                    attrs={
                        "class": "form-select form-select-sm",
                        "aria-label": f"Field for column {column.header}",
                    }
                ),
            )

        self.value_rows = self._value_rows(value_map or {}, unknown_values or [])
        for row in self.value_rows:
            parser = KINDS[kind].field(row["field"]).choices
            n = row["n"]
            self.fields[f"vm_{n}_field"] = forms.CharField(widget=forms.HiddenInput, initial=row["field"])
            self.fields[f"vm_{n}_value"] = forms.CharField(widget=forms.HiddenInput, initial=row["value"])
            self.fields[f"vm_{n}"] = forms.ChoiceField(
                choices=[(LEAVE, "— leave it: its rows are rejected —")]
                + [(v, f"{v} ({parser.labels[v]})") for v in parser.values],
                required=False,
                initial=row["initial"],
                label=row["value"],
                widget=forms.Select(
                    attrs={
                        "class": "form-select form-select-sm",
                        "aria-label": f"Read {row['field']} '{row['value']}' as",
                    }
                ),
            )

    def _value_rows(self, value_map: ValueMap, unknown_values: list[dict]) -> list[dict]:
        """The values to offer a mapping for: from the post when bound, else from the dry run's
        values outside the lists (the mapped one, else the suggestion, preselected) and the mapping
        saved before."""
        choice_fields = KINDS[self.kind].choice_fields
        if self.is_bound:
            rows = []
            for n in range(MAX_VALUE_ROWS):
                name, value = self.data.get(f"vm_{n}_field"), self.data.get(f"vm_{n}_value")
                if name is None:
                    break
                if name in choice_fields and value and value.strip():
                    rows.append({"n": n, "field": name, "value": value, "initial": LEAVE})
            return rows
        rows, seen = [], set()
        for column in unknown_values:
            if column["field"] not in choice_fields:
                continue
            saved = {loose_key(v): t for v, t in value_map.get(column["field"], {}).items()}
            for entry in column["values"]:
                key = (column["field"], loose_key(entry["value"]))
                seen.add(key)
                initial = entry["mapped"] or saved.get(key[1]) or entry["suggestion"]
                rows.append({"field": column["field"], "value": entry["value"], "initial": initial})
        for name, values in value_map.items():  # mapped before, but not among the rows checked now
            for value, target in values.items():
                if name in choice_fields and (name, loose_key(value)) not in seen:
                    rows.append({"field": name, "value": value, "initial": target})
        for n, row in enumerate(rows):
            row["n"] = n
        return rows

    def value_map(self) -> ValueMap:
        """The values mapped to an accepted one: ``{field: {value: accepted value}}``."""
        out: ValueMap = {}
        for row in self.value_rows:
            target = self.cleaned_data.get(f"vm_{row['n']}")
            if target:
                out.setdefault(row["field"], {})[row["value"]] = target
        return out

    def value_groups(self, unknown_values: list[dict]) -> list[dict]:
        """The value rows by column, for the page: each value with its row count and suggestion."""
        spec = KINDS[self.kind]
        found = {(c["field"], loose_key(v["value"])): (c, v) for c in unknown_values for v in c["values"]}
        groups: dict[str, dict] = {}
        for row in self.value_rows:
            column, entry = found.get((row["field"], loose_key(row["value"])), (None, None))
            parser = spec.field(row["field"]).choices
            group = groups.setdefault(
                row["field"],
                {
                    "field": row["field"],
                    "column": column["column"] if column else spec.field(row["field"]).label,
                    "noun": parser.noun,
                    "accepted": parser.accepted,
                    "more_rows": column["more_rows"] if column else 0,
                    "values": [],
                },
            )
            group["values"].append(
                {
                    "value": row["value"],
                    "count": entry["count"] if entry else None,
                    "suggestion": entry["suggestion"] if entry else "",
                    "select": self[f"vm_{row['n']}"],
                    "hidden": [self[f"vm_{row['n']}_field"], self[f"vm_{row['n']}_value"]],
                }
            )
        return list(groups.values())

    def clean(self):
        cleaned = super().clean()
        spec = KINDS[self.kind]
        seen: dict[str, str] = {}
        for i, header in enumerate(self.headers):
            target = cleaned.get(f"col_{i}")
            if not target or target in (CUSTOM, IGNORE):
                continue
            field = spec.field(target)
            if field.from_header:  # several columns, each naming in its header what it holds
                if field.from_header(header) is None:
                    raise forms.ValidationError(
                        f"Column '{header}' cannot be read as {field.label}: {field.from_header_hint}."
                    )
                continue
            slot = field.group or target
            if slot in seen:
                raise forms.ValidationError(
                    f"Columns '{seen[slot]}' and '{header}' are both read as {field.label}: choose one."
                )
            seen[slot] = header
        return cleaned

    def column_fields(self):
        return [self[f"col_{i}"] for i in range(len(self.headers))]

    def mapping(self) -> dict[str, str]:
        """The columns whose choice differs from what the header alone would map to."""
        auto = {c.header: c.target for c in resolve_mapping(self.kind, self.headers, {}).columns}
        chosen = {h: self.cleaned_data.get(f"col_{i}") or IGNORE for i, h in enumerate(self.headers)}
        return {h: t for h, t in chosen.items() if auto.get(h) != t}
