"""The plan's three numbers from a real CRM's history: the Maven CRM Sales Opportunities data set."""

import datetime

import pytest

from plans import selectors
from tests.imports.test_import_dataset import DATASET, import_all

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not DATASET.is_dir(), reason="data set not available"),
]


def test_win_rate_deal_size_and_cycle_of_the_maven_crm_history():
    import_all()
    history = selectors.history_compute(start=datetime.date(2016, 1, 1), end=datetime.date(2017, 12, 31))
    # won / (won + lost), the mean won amount, the median days from created (here: engaged) to close.
    assert (history["won"], history["lost"]) == (4238, 2473)
    assert round(history["win_rate"], 4) == 0.6315
    assert round(history["deal_size"], 1) == 2360.9
    assert history["cycle_days"] == 45
    assert history["cycles"] == 4238 + 2473
    # No opportunity names a channel: the whole history is unassigned pipeline, none of it lost.
    assert set(history["channels"]) == {selectors.UNASSIGNED}
    assert history["channels"][selectors.UNASSIGNED]["won"] == 4238


def test_a_window_without_closed_deals_computes_nothing_rather_than_zero():
    import_all()
    history = selectors.history_compute(start=datetime.date(2015, 1, 1), end=datetime.date(2015, 12, 31))
    assert history["won"] == history["lost"] == 0
    assert history["win_rate"] is None and history["deal_size"] is None and history["cycle_days"] is None
