"""Filters every app's FilterSets use: a search over several text fields, and ISO date-times read in UTC."""

import datetime
from collections.abc import Callable

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.choices import BaseChoiceIterator
from django_filters.fields import IsoDateTimeField

MAX_UTC_OFFSET = datetime.timedelta(hours=18)


# A search through a foreign key (``account__name``) first asks the related table for its matches (its
# own trigram indexes answer) and, when they are few, lists their ids: ``account_id IN (3, 8, …)`` is a
# condition PostgreSQL reads from an index beside those of the row's own columns, where the joined
# ``OR`` made it test every row of the list (~270 ms for a word no opportunity matches, issue 16). Past
# this many matches the search stays the join: a common word finds a page early in the list's order.
SEARCH_RELATED_IDS_INLINE = 1000


def _is_foreign_key(model, name: str) -> bool:
    """Whether ``name`` is a foreign key (or a one-to-one) of ``model``'s own rows."""
    field = model._meta.get_field(name)
    return field.is_relation and field.concrete and (field.many_to_one or field.one_to_one)


class SearchFilter(django_filters.CharFilter):
    """``q``: a case-insensitive search over several text fields (of the row, or of a foreign key's)."""

    def __init__(
        self, *args, fields: tuple[str, ...], stored_form: Callable[[str], str] | None = None, **kwargs
    ):
        """``stored_form``: what a typed value also looks like as stored (a unicode domain's ASCII form,
        ``bücher`` → ``xn--bcher-kva``), searched as well when it returns something else than ``""``."""
        self.search_fields = fields
        self.stored_form = stored_form
        kwargs.setdefault("label", "Search")
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        value = (value or "").strip()
        if not value:
            return qs
        values = [value]
        other = self.stored_form(value) if self.stored_form else ""
        if other and other != value:
            values.append(other)
        query, through = Q(), {}
        for field in self.search_fields:
            relation, _, column = field.rpartition("__")
            if relation and "__" not in relation and _is_foreign_key(qs.model, relation):
                through.setdefault(relation, []).append(column)
            else:
                for text in values:
                    query |= Q(**{f"{field}__icontains": text})
        for relation, columns in through.items():
            condition = Q()
            for column in columns:
                for text in values:
                    condition |= Q(**{f"{column}__icontains": text})
            related = qs.model._meta.get_field(relation).related_model
            matches = related._base_manager.filter(condition).values_list("pk", flat=True)
            ids = list(matches[: SEARCH_RELATED_IDS_INLINE + 1])
            if len(ids) <= SEARCH_RELATED_IDS_INLINE:
                query |= Q(**{f"{relation}__in": ids})
            else:
                for column in columns:
                    for text in values:
                        query |= Q(**{f"{relation}__{column}__icontains": text})
        return qs.filter(query)


class SharedChoices(BaseChoiceIterator):
    """``(value, label)`` choices, fixed when made, that every copy of a filter and of its form field
    shares: a FilterSet deep-copies its filters and its form its fields on every request, and copying
    the 249 countries cost ~4 ms of an accounts page (issue 16)."""

    def __init__(self, choices) -> None:
        self.choices = tuple((value, label) for value, label in choices)

    def __iter__(self):
        return iter(self.choices)

    def __len__(self) -> int:
        return len(self.choices)

    def __getitem__(self, index):
        return self.choices[index]

    def __copy__(self) -> "SharedChoices":
        return self

    def __deepcopy__(self, memo) -> "SharedChoices":
        return self


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


# --- FilterSets that apps above a model widen ---------------------------------------------------------
# The accounts list lives in the accounts app, but "accounts in the decision stage" or "accounts in the
# EMEA ICP segment" are filters of the apps above it (scoring, campaigns). As with detail-page panels
# (revops/panels.py), an app above registers, when it is ready, a subclass of the model's FilterSet
# with its own filters; the lists and API viewsets of the model ask for the widest one at request time.
# Each registration subclasses the one below it, so the last app ready (the top layer) wins.
_widened: dict[str, type[django_filters.FilterSet]] = {}


def filterset_widen(model_label: str, filterset_class: type[django_filters.FilterSet]) -> None:
    """Use ``filterset_class`` (a subclass of the model's own FilterSet) for ``model_label``'s lists."""
    _widened[model_label] = filterset_class


def filterset_for(
    model_label: str, default: type[django_filters.FilterSet]
) -> type[django_filters.FilterSet]:
    """The widest FilterSet registered for ``model_label`` ("accounts.account"), else ``default``."""
    return _widened.get(model_label, default)


class WidenedFilterSet:
    """``filterset_class = WidenedFilterSet("accounts.account", AccountFilterSet)`` on a list view or API
    viewset: reads, at request time, as the widest FilterSet registered for the model. Assigning on an
    instance still works (tools that swap a view's FilterSet, such as the schema generator)."""

    def __init__(self, model_label: str, default: type[django_filters.FilterSet]) -> None:
        self.model_label, self.default = model_label, default

    def __get__(self, instance, owner=None) -> type[django_filters.FilterSet]:
        return filterset_for(self.model_label, self.default)
