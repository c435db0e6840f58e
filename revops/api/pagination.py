"""Cursor pagination: stable under inserts and no COUNT(*) over big tables."""

from rest_framework import exceptions, pagination


class CursorPagination(pagination.CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request):
        """``page_size`` must be a whole number from 1 to ``max_page_size``; anything else is a 400
        (DRF would quietly fall back to the default for ``page_size=false``)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.strip().isdecimal() or not 1 <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return int(raw)


class FixedOrderCursorPagination(CursorPagination):
    """For a list inside a detail action (a version's comments, its history): the order is the
    paginator's own, not the view's ``ordering`` (which is about the view's main rows)."""

    def get_ordering(self, request, queryset, view):
        return (self.ordering,) if isinstance(self.ordering, str) else tuple(self.ordering)
