"""harness.algebra.spectral: the one spectral-gap rule (rank at the largest ratio over a floor, clearness)."""

import math

import numpy as np

from harness.algebra.spectral import GAP_THRESHOLD, ROUNDING_FLOOR, Gap, SpectralGap


def test_noise_below_epsilon_is_ignored():
    assert SpectralGap.of(np.array([5.0, 1e-15, 1e-20, 1e-33])).rank == 1
    assert SpectralGap.of(np.array([3.0, 2.0, 1.0])).rank == 3
    gap = SpectralGap.of(np.array([1.0, 0.5, 0.2, 0.1]))
    assert gap.ratio > 1e12 and gap.rank == 4 and gap.clear


def test_empty_and_zero_spectra_have_rank_zero_and_an_infinite_gap():
    for values in ((), np.zeros(3)):
        gap = SpectralGap.of(values)
        assert (gap.rank, gap.ratio, gap.clear) == (0, math.inf, True)


def test_a_smooth_decay_is_not_clear():
    gap = SpectralGap.of(10.0 ** -np.arange(17))  # tenfold steps down to the floor
    assert gap.ratio < GAP_THRESHOLD and not gap.clear and "no spectral gap" in gap.reason


def test_order_and_sign_of_the_input_do_not_matter():
    values = np.array([1.0, 1e-9, 0.3, 2.0])
    assert SpectralGap.of(values) == SpectralGap.of(-values[::-1])
    assert SpectralGap.of(values).rank == 3


def test_the_floor_decides_what_is_noise():
    values = np.array([1.0, 1e-3, 1e-5])
    assert SpectralGap.of(values, threshold=1e3, floor=1e-4).rank == 1  # 1e-5 is noise at this floor
    assert SpectralGap.of(values, threshold=1e3).rank == 3  # at epsilon it is a value


def test_a_unique_gap_refuses_two_gaps():
    values = np.array([1.0, 1e-4, 1e-8])
    plain = SpectralGap.of(values, threshold=1e3, floor=1e-12)
    unique = SpectralGap.of(values, threshold=1e3, floor=1e-12, unique=True)
    assert plain.clear and plain.runner_up >= 1e3
    assert not unique.clear and "two spectral gaps" in unique.reason


def test_ties_take_the_first_k():
    gap = SpectralGap.of(np.array([1.0, 0.5, 0.25]), floor=0.125)  # ratios 2, 2, 2
    assert gap.rank == 1 and gap.ratio == 2.0


def test_the_evidence_record():
    gap = SpectralGap.of(np.array([1.0, 1e-14]))
    assert gap.as_gap() == Gap(1, gap.ratio, GAP_THRESHOLD)
    assert gap.floor == ROUNDING_FLOOR
    assert gap.as_gap().to_dict() == {"index": 1, "ratio": gap.ratio, "threshold": GAP_THRESHOLD}
