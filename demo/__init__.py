"""The demo world: a realistic B2B market with a known ground truth (``seed_demo``).

``catalogue`` holds the reference data, ``generator`` simulates the world in pure NumPy and
``writer`` puts it in the database with set-based writes.
"""
