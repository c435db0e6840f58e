"""Performance benchmarks: ``python -m bench`` (``make bench``) prints their figures as JSON.

Each section measures the fast path against a plain baseline in the same run, on a PostgreSQL
database of its own that it drops and recreates; see ``bench/__main__.py`` for the sections.
"""
