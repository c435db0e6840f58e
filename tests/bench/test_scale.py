"""The scale benchmark's arithmetic (never its timings): the log-log growth exponent, the extrapolation
along it, and which figures of a run grow; and the load warning every section adds."""

import pytest

from bench import db as bench_db
from bench import scale
from bench.__main__ import SECTIONS
from bench.db import extrapolated, growth_exponent


def test_the_exponent_is_the_log_log_slope():
    sizes = [25_000, 50_000, 100_000]
    assert growth_exponent(sizes, [10.0, 20.0, 40.0]) == 1.0  # grows as the accounts
    assert growth_exponent(sizes, [3.0, 3.0, 3.0]) == 0.0  # flat
    assert growth_exponent(sizes, [1.0, 4.0, 16.0]) == 2.0  # as their square
    assert growth_exponent(sizes, [2.0, 2.0 * 2**0.5, 4.0]) == 0.5
    # Least squares through uneven points: the slope of the fitted line.
    assert growth_exponent([1, 2, 4], [1.0, 3.0, 4.0]) == pytest.approx(1.0, abs=0.01)


def test_no_exponent_without_two_sizes_or_with_a_value_that_is_not_positive():
    assert growth_exponent([100_000], [40.0]) is None
    assert growth_exponent([25_000, 50_000], [0.0, 1.0]) is None
    assert growth_exponent([25_000, 50_000], [1.0, None]) is None
    assert growth_exponent([25_000, 25_000], [1.0, 2.0]) is None


def test_the_extrapolation_carries_the_largest_size_along_the_exponent():
    assert extrapolated(100_000, 40.0, 1.0, 1_000_000) == pytest.approx(400.0)
    assert extrapolated(100_000, 3.0, 0.2, 1_000_000) == pytest.approx(3.0 * 10**0.2)
    assert extrapolated(100_000, 3.0, None, 1_000_000) is None


def test_growth_reports_every_timed_figure_with_its_exponent_and_value_at_a_million():
    def run(seconds: float, rss: float) -> dict:
        return {
            "as_of": "2026-12-06",
            "rules_rescore": {
                "processes": 2,
                "seconds": seconds,
                "phases_s": {"contacts": seconds / 2, "plan_and_other": 0.0},
                "counts": {"contacts_contacts": 1000},
                "peak_rss_mb_this_process": rss,
                "load_average_before": [1.0, 1.0, 1.0],
            },
        }

    out = scale.growth({25_000: run(10.0, 500.0), 50_000: run(20.0, 500.0), 100_000: run(40.0, 500.0)}, 10**6)
    assert set(out) == {
        "rules_rescore.seconds",
        "rules_rescore.phases_s.contacts",
        "rules_rescore.phases_s.plan_and_other",
        "rules_rescore.peak_rss_mb_this_process",
    }  # not the counts, the processes, the load averages
    assert out["rules_rescore.seconds"] == {
        "values": {"25000": 10.0, "50000": 20.0, "100000": 40.0},
        "exponent": 1.0,
        "extrapolated": 400.0,
    }
    assert out["rules_rescore.peak_rss_mb_this_process"]["exponent"] == 0.0
    assert out["rules_rescore.peak_rss_mb_this_process"]["extrapolated"] == 500.0
    assert out["rules_rescore.phases_s.plan_and_other"]["exponent"] is None


def test_the_section_is_registered_and_reads_its_sizes():
    assert SECTIONS["scale"] == "bench.scale"
    assert scale.sizes_of("100000, 25000,50000,25000") == [25_000, 50_000, 100_000]


def test_a_load_above_the_bound_is_flagged_in_the_json_and_one_below_is_not():
    assert bench_db.load_warning(bench_db.HIGH_LOAD, "before the measurement") == {}
    flagged = bench_db.load_warning(5.25, "before the measurement", what="times")
    assert flagged["load_warning"].startswith("load average 5.2 on ")
    assert "before the measurement" in flagged["load_warning"]
    assert "the times are pessimistic" in flagged["load_warning"]
