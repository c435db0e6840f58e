"""Cursor pagination: stable under inserts and no COUNT(*) over big tables."""

from rest_framework import pagination


class CursorPagination(pagination.CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
