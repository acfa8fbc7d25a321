import os

import numpy as np

from ppsci_ext import plot


def test_sr_comparison(tmp_path):
    rng = np.random.default_rng(0)
    items = [(rng.normal(size=(8, 12)), rng.normal(size=(16, 24)), rng.normal(size=(16, 24))) for _ in range(2)]
    p = plot.sr_comparison(items, str(tmp_path / "sr.png"))
    assert p == str(tmp_path / "sr.png") and os.path.getsize(p) > 0


def test_field_panels_both_layouts(tmp_path):
    rng = np.random.default_rng(1)
    rows = []
    for k in range(4):
        tr = k < 3  # three field sections [traces, samples], one depth-down section
        o = rng.normal(size=(10, 32)) if tr else rng.normal(size=(32, 10))
        s = rng.normal(size=(10, 64)) if tr else rng.normal(size=(64, 10))
        rows.append(dict(name=f"section {k}", original=o, super=s, dt_original=0.004, dt_super=0.002,
                         transpose=tr))
    p = plot.field_panels(rows, str(tmp_path / "field.png"), fmax=60.0)
    assert os.path.getsize(p) > 0
    # same-grid super-resolved output, depth-down only
    rows = [dict(rows[3], super=rows[3]["original"] * 0.5, dt_super=0.004)]
    assert os.path.getsize(plot.field_panels(rows, str(tmp_path / "one.png"))) > 0


def test_spectra_comparison_and_uncertainty_panels(tmp_path):
    import pytest

    rng = np.random.default_rng(2)
    truth = [rng.normal(size=(16, 64)), rng.normal(size=(12, 40))]  # sections of different sizes
    curves = {"truth": truth, "bicubic": [0.5 * a for a in truth], "diffusion": [a + 0.1 for a in truth]}
    p = plot.spectra_comparison([("synthetic", curves), ("real", curves)], str(tmp_path / "s.png"), dt=0.002)
    assert os.path.getsize(p) > 0
    with pytest.raises(ValueError, match="no 'truth' curve"):
        plot.spectra_comparison([("x", {"bicubic": truth})], str(tmp_path / "t.png"), dt=0.002)
    rows = [("item 0", rng.normal(size=(8, 32)), truth[0] + 0.1, truth[0], np.full((16, 64), 0.1))]
    assert os.path.getsize(plot.uncertainty_panels(rows, str(tmp_path / "u.png"))) > 0
    with pytest.raises(ValueError, match="rows is empty"):
        plot.uncertainty_panels([], str(tmp_path / "v.png"))
