"""Wilson intervals against published values; p-chart and funnel limits worked by hand."""

import math

import numpy as np
import pytest

from pipeline.audit.stats import binomial_limits, p_chart, wilson_interval, z_value

# Newcombe RG. Two-sided confidence intervals for the single proportion: comparison of seven
# methods. Stat Med 1998;17:857-72, Table I, method 3 (Wilson score interval without
# continuity correction), 95 % limits printed to four decimals.
NEWCOMBE_1998 = [
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0, 0.1611),
    (1, 29, 0.0061, 0.1718),
]


@pytest.mark.parametrize("k, n, low, high", NEWCOMBE_1998)
def test_wilson_matches_newcombe_1998_table(k, n, low, high):
    lo, hi = wilson_interval([k], [n])
    assert (round(float(lo[0]), 4), round(float(hi[0]), 4)) == (low, high)


def test_wilson_has_no_interval_without_a_denominator():
    lo, hi = wilson_interval([0, 3], [0, None])
    assert np.isnan(lo).all() and np.isnan(hi).all()


def test_wilson_all_successes_ends_exactly_at_one():
    lo, hi = wilson_interval([20], [20])
    assert hi[0] == 1.0 and 0.83 < lo[0] < 0.84  # mirror of 0/20: 1 - 0.1611


def test_z_value_for_95_and_99_8_percent():
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)
    assert z_value(0.998) == pytest.approx(3.090232, abs=1e-6)


def test_p_chart_centre_and_limits_worked_by_hand():
    # pooled p = 30/200 = 0.15; sigma at n=100: sqrt(0.15*0.85/100) = 0.0357071
    out = p_chart([10, 20], [100, 100], sigma=3)
    assert out.centre.tolist() == [0.15, 0.15]
    assert out.ucl[0] == pytest.approx(0.15 + 3 * math.sqrt(0.1275 / 100))
    assert out.lcl[0] == pytest.approx(0.15 - 3 * math.sqrt(0.1275 / 100))
    assert out.signal.tolist() == ["", ""]


def test_p_chart_limits_widen_when_the_denominator_is_small():
    out = p_chart([10, 10, 1], [100, 100, 10])
    assert out.ucl[2] - out.lcl[2] > out.ucl[0] - out.lcl[0]


def test_p_chart_flags_a_point_above_the_upper_limit():
    out = p_chart([10] * 6 + [60], [100] * 7)
    assert out.signal.tolist()[-1] == "above"
    assert set(out.signal.tolist()[:-1]) == {""}


def test_p_chart_lower_limit_is_clipped_at_zero():
    out = p_chart([1, 2], [10, 10])
    assert out.lcl.min() == 0.0


def test_run_of_eight_on_one_side_is_a_shift_but_seven_is_not():
    seven = p_chart([12] * 7 + [8] * 7, [100] * 14, run_length=8)
    assert set(seven.signal) == {""}
    eight = p_chart([12] * 8 + [8] * 8, [100] * 16, run_length=8)
    assert eight.signal.tolist() == ["shift"] * 16


def test_withheld_points_are_skipped_not_counted():
    out = p_chart([10, None, 30], [100, None, 100])
    assert out.centre[0] == pytest.approx(0.2) and math.isnan(out.rate[1]) and out.signal[1] == ""


def test_funnel_limits_at_two_denominators():
    low, high = binomial_limits(0.2, [25, 400], z_value(0.95))
    assert high[0] == pytest.approx(0.2 + 1.959964 * math.sqrt(0.16 / 25), abs=1e-6)
    assert high[1] == pytest.approx(0.2 + 1.959964 * math.sqrt(0.16 / 400), abs=1e-6)
    assert low[0] == pytest.approx(0.2 - 1.959964 * 0.08, abs=1e-6)


@pytest.mark.parametrize("name", ["pipeline.audit.stats", "pipeline.audit.disclosure", "pipeline.audit.measures"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
