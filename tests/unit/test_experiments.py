"""The experiment statistics against a hand computation."""

import math

import pytest

from orchestration.defs.segments.experiments import two_proportion_test


def test_two_proportion_test_matches_the_hand_computation():
    # test 120 of 1000 converted, control 100 of 1000
    result = two_proportion_test(1000, 120, 1000, 100)
    pooled = 220 / 2000  # 0.11
    se_pooled = math.sqrt(0.11 * 0.89 * (2 / 1000))  # 0.0139929
    se = math.sqrt(0.12 * 0.88 / 1000 + 0.10 * 0.90 / 1000)  # 0.0139857
    assert result.rate_test == 0.12 and result.rate_control == 0.10
    assert result.lift == pytest.approx(0.2)
    assert result.difference == pytest.approx(0.02)
    assert pooled == pytest.approx(0.11)
    assert result.z == pytest.approx(0.02 / se_pooled) == pytest.approx(1.42930, abs=1e-5)
    assert result.p_value == pytest.approx(0.15292, abs=1e-5)
    assert (result.ci_low, result.ci_high) == (
        pytest.approx(0.02 - 1.959964 * se),
        pytest.approx(0.02 + 1.959964 * se),
    )
    assert result.ci_low == pytest.approx(-0.007412, abs=1e-6)


def test_no_conversions_in_control_gives_no_lift_and_equal_groups_no_difference():
    assert two_proportion_test(50, 5, 50, 0).lift is None
    same = two_proportion_test(200, 20, 200, 20)
    assert same.difference == 0 and same.z == 0 and same.p_value == pytest.approx(1.0)
    assert two_proportion_test(10, 0, 10, 0).z is None
