"""Filters every app's FilterSets use: a search over several text fields, and ISO date-times read in UTC."""

import datetime

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q
from django_filters.fields import IsoDateTimeField

MAX_UTC_OFFSET = datetime.timedelta(hours=18)


class SearchFilter(django_filters.CharFilter):
    """``q``: a case-insensitive search over several text fields."""

    def __init__(self, *args, fields: tuple[str, ...], **kwargs):
        self.search_fields = fields
        kwargs.setdefault("label", "Search")
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        value = (value or "").strip()
        if not value:
            return qs
        query = Q()
        for field in self.search_fields:
            query |= Q(**{f"{field}__icontains": value})
        return qs.filter(query)


class UtcIsoDateTimeField(IsoDateTimeField):
    """ISO 8601 date-time whose offset is a real one (at most ±18:00, as ISO 8601 and RFC 3339 allow),
    read as UTC: PostgreSQL refuses offsets past ±15:59, Python only those past ±24:00."""

    def to_python(self, value):
        parsed = super().to_python(value)
        offset = parsed.utcoffset() if parsed is not None else None
        if offset is not None:
            if abs(offset) > MAX_UTC_OFFSET:
                raise ValidationError(self.error_messages["invalid"], code="invalid")
            parsed = parsed.astimezone(datetime.UTC)
        return parsed


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """``IsoDateTimeFilter`` that answers "Enter a valid date/time." for ``+19:51`` instead of a 500."""

    field_class = UtcIsoDateTimeField
