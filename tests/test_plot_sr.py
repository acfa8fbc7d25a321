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
