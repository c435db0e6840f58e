"""``json_loads_strict``'s depth bound: the level-by-level check of a NUL-free body and the walk that
also looks for NULs refuse exactly the same documents, with the same error, at the bound and around it."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework import exceptions

from revops.api import parsers

TEXT = st.text(st.characters(exclude_characters="\x00"), max_size=3)  # a NUL: another refusal
LEAVES = st.none() | st.booleans() | st.integers(-5, 5) | TEXT
TREES = st.recursive(
    LEAVES,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=25,
)


def _depth(value) -> int:
    """Levels of containers: a scalar 0, ``[]`` 1, ``[[]]`` 2."""
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _outcome(raw: bytes):
    try:
        return ("ok", parsers.json_loads_strict(raw))
    except exceptions.ValidationError as error:
        return ("refused", error.detail)


@settings(max_examples=300, deadline=None)
@given(tree=TREES, bound=st.integers(0, 4))
def test_the_level_check_and_the_walk_agree(tree, bound):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(parsers, "MAX_DEPTH", bound)
        fast = _outcome(json.dumps(tree).encode())
        # The same document with a NUL-free escape that makes the parser walk the whole tree: "\\u0000"
        # as text (an escaped backslash, then "u0000"), which decodes to a backslash and five characters.
        walked = _outcome(json.dumps({"w": tree, "x": "\\u0000"}).encode())
    too_deep = _depth(tree) > bound
    assert fast[0] == ("refused" if too_deep else "ok")
    if fast[0] == "ok":
        assert fast[1] == tree
    # Wrapping adds a level: the walk refuses exactly when one more level is over the bound.
    assert walked[0] == ("refused" if _depth(tree) + 1 > bound else "ok")


@pytest.mark.parametrize("levels", [parsers.MAX_DEPTH - 1, parsers.MAX_DEPTH, parsers.MAX_DEPTH + 1])
def test_the_bound_itself(levels):
    raw = ("[" * levels + "]" * levels).encode()
    if levels <= parsers.MAX_DEPTH:
        assert parsers.json_loads_strict(raw) is not None
    else:
        with pytest.raises(exceptions.ValidationError, match="Nested more than"):
            parsers.json_loads_strict(raw)
