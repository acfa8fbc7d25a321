"""Tests of ppsci_ext.physics.wavelets: the centred Ricker against the former zero-phase formula
(bit-identical, as data already generated depends on it), lengths, and argument checks."""

import math

import numpy as np
import pytest

from ppsci_ext.physics import ricker
from ppsci_ext.physics import ricker_length
from ppsci_ext.physics import ricker_wavelet_matrix
from ppsci_ext.physics import wavelet_matrix


def _old_zero_phase_ricker(freq, dt, half_length=None):
    """The zero-phase Ricker formerly in ppsci_ext.data.seismic_sections, verbatim."""
    if half_length is None:
        half_length = 1.5 / freq
    n = int(np.ceil(half_length / dt))
    t = np.arange(-n, n + 1) * dt
    a = (np.pi * freq * t) ** 2
    return ((1 - 2 * a) * np.exp(-a)).astype(np.float64)


@pytest.mark.parametrize("freq", [10.0, 20.0, 25.0, 31.7, 45.0, 60.0])
@pytest.mark.parametrize("dt", [0.0005, 0.001, 0.002, 0.004])
def test_centred_is_bit_identical_to_the_old_zero_phase_ricker(freq, dt):
    old = _old_zero_phase_ricker(freq, dt)
    new = ricker(freq, ricker_length(freq, dt), dt, centred=True, dtype=np.float64)
    assert new.dtype == np.float64 and new.shape == old.shape
    np.testing.assert_array_equal(new, old)
    half = 0.8 / freq
    np.testing.assert_array_equal(
        ricker(freq, ricker_length(freq, dt, half), dt, centred=True, dtype=np.float64),
        _old_zero_phase_ricker(freq, dt, half))


def test_centred_peak_and_symmetry():
    n = ricker_length(30.0, 0.002)
    assert n == 2 * math.ceil(1.5 / 30.0 / 0.002) + 1 and n % 2 == 1
    w = ricker(30.0, n, 0.002, centred=True)
    assert w.dtype == np.float32 and np.argmax(w) == n // 2 and w[n // 2] == 1.0
    np.testing.assert_array_equal(w, w[::-1])
    assert np.argmax(ricker(30.0, 10, 0.002, centred=True)) == 5  # even length: peak on nt // 2


def test_t0_and_centred_together_rejected():
    with pytest.raises(ValueError, match="t0.*centred"):
        ricker(30.0, 51, 0.002, t0=0.05, centred=True)


def test_ricker_length_rejects_bad_arguments():
    for args in ((0.0, 0.002), (30.0, 0.0), (30.0, 0.002, -1.0)):
        with pytest.raises(ValueError):
            ricker_length(*args)


def test_ricker_wavelet_matrix_unchanged():
    # the causal ricker with t0 at the middle sample, as ricker_wavelet_matrix has always built it
    n = 2 * int(math.ceil(1.5 / (30.0 * 0.002) - 1e-9)) + 1
    t = np.arange(n) * 0.002 - (n // 2) * 0.002
    arg = (np.pi * 30.0 * t) ** 2
    w = ((1.0 - 2.0 * arg) * np.exp(-arg)).astype(np.float32)
    np.testing.assert_array_equal(ricker_wavelet_matrix(30.0, 0.002, 40), wavelet_matrix(w, 40))
