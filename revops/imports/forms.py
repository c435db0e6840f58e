"""Forms of the import pages: the upload, and the column mapping with the import mode."""

from django import forms

from .mappings import CUSTOM, IGNORE, KIND_CHOICES, KINDS, resolve_mapping
from .reader import SAMPLE_BYTES, CsvFileError, upload_check
from .services import MODE_ALL, MODE_ROWS

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
    """One choice per CSV column (``col_<index>``), and the import mode."""

    mode = forms.ChoiceField(choices=MODE_CHOICES, widget=forms.RadioSelect, initial=MODE_ALL, label="Import")

    def __init__(self, *args, kind: str, headers: list[str], current: dict[str, str], **kwargs):
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

    def clean(self):
        cleaned = super().clean()
        spec = KINDS[self.kind]
        seen: dict[str, str] = {}
        for i, header in enumerate(self.headers):
            target = cleaned.get(f"col_{i}")
            if not target or target in (CUSTOM, IGNORE):
                continue
            field = spec.field(target)
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
