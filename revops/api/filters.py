"""Filter backends that refuse what they would otherwise ignore.

DRF and django-filter drop query parameters they do not know and orderings they do not allow: an
integrator's ``employee_count_min=200`` (the filter is ``employees_min``) silently returned every
account. In the API a list answers 400 instead, naming the unknown parameters and listing the accepted
ones: the filterset's filters, ``ordering``, ``search``, the paginator's ``cursor``/``page_size``,
``format``, and what a view declares in ``extra_query_params``. The HTML lists use the same filtersets
directly and are not affected.
"""

from django.db.models import Model
from django_filters import NumberFilter, utils
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import exceptions, filters
from rest_framework.settings import api_settings

# The largest id or count the database holds (64-bit); past it SQLite raises OverflowError.
_INT_LIMIT = 2**63 - 1


def accepted_query_params(request, queryset, view) -> set[str]:
    """Every query parameter the view understands for this request."""
    names = {api_settings.URL_FORMAT_OVERRIDE, *getattr(view, "extra_query_params", ())}
    paginator = getattr(view, "paginator", None)
    for attribute in ("cursor_query_param", "page_size_query_param", "page_query_param", "limit_query_param",
                      "offset_query_param"):  # fmt: skip
        if getattr(paginator, attribute, None):
            names.add(getattr(paginator, attribute))
    for backend_class in getattr(view, "filter_backends", ()):
        backend = backend_class()
        if isinstance(backend, DjangoFilterBackend):
            filterset_class = backend.get_filterset_class(view, queryset)
            for name, filter_ in filterset_class.base_filters.items() if filterset_class else ():
                suffixes = getattr(filter_.field.widget, "suffixes", None)
                names.update(f"{name}_{suffix}" if suffix else name for suffix in suffixes or [""])
        elif isinstance(backend, filters.OrderingFilter):
            names.add(backend.ordering_param)
        elif isinstance(backend, filters.SearchFilter):
            names.add(backend.search_param)
    return {name for name in names if name}


class ApiFilterBackend(DjangoFilterBackend):
    """The shared FilterSets, plus: unknown query parameters and out-of-range numbers are 400s."""

    def filter_queryset(self, request, queryset, view):
        if getattr(view, "action", "list") == "list":
            unknown = sorted(set(request.query_params) - accepted_query_params(request, queryset, view))
            if unknown:
                accepted = ", ".join(sorted(accepted_query_params(request, queryset, view)))
                raise exceptions.ValidationError(
                    {name: [f"Unknown query parameter. Accepted: {accepted}."] for name in unknown}
                )
        # One FilterSet a request: building one (copies of every filter, a form of their fields) costs
        # ~10 ms for the accounts' ~45 filters, and django-filter's own filter_queryset would build a
        # second (issue 16).
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        if not filterset.is_valid() and self.raise_exception:
            raise utils.translate_validation(filterset.errors)
        too_large = [
            name
            for name, value in filterset.form.cleaned_data.items()
            if isinstance(filterset.filters.get(name), NumberFilter)
            and value is not None
            and not isinstance(value, Model)
            # an "in" filter (``?id=1,2``) holds a list of numbers
            and any(abs(v) > _INT_LIMIT for v in (value if isinstance(value, list) else [value]))
        ]
        if too_large:
            raise exceptions.ValidationError({name: ["Out of range."] for name in too_large})
        return filterset.qs


class StrictOrderingFilter(filters.OrderingFilter):
    """``ordering=bogus`` is a 400 listing the fields one may order by, not the default order."""

    def remove_invalid_fields(self, queryset, fields, view, request):
        valid = super().remove_invalid_fields(queryset, fields, view, request)
        invalid = [term for term in fields if term not in valid]
        if invalid:
            allowed = sorted(item[0] for item in self.get_valid_fields(queryset, view, {"request": request}))
            raise exceptions.ValidationError(
                {
                    self.ordering_param: [
                        f"Cannot order by {', '.join(invalid)}. Allowed: {', '.join(allowed)}."
                    ]
                }
            )
        return valid
