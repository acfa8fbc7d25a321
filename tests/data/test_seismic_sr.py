import os

import numpy as np
import pytest

import ppsci
import ppsci_ext  # noqa: F401
from ppsci_ext.data.sr import degradations as dg
from ppsci_ext.data.sr.dataset import SeismicSRDataset
from ppsci_ext.data.sr.generator import degrade
from ppsci_ext.data.sr.generator import generate_pairs
from ppsci_ext.data.sr.reader import pair_files
from ppsci_ext.data.sr.reader import read_dat
from ppsci_ext.data.sr.split import read_split
from ppsci_ext.data.sr.split import split_files
from ppsci_ext.data.sr.generator import synthetic_section
from ppsci_ext.data.sr.dataset import upsample2
from ppsci_ext.data.sr.reader import write_dat
from ppsci_ext.data.sr.split import write_split
from tests.conftest import SHARED_DATA

LR, HR = (8, 8), (16, 16)


def make_pairs(root, n=3, lr_shape=LR, seed=0):
    """HR = a known pattern (scaled per pair); LR = its exact 2x decimation HR[::2, ::2]."""
    rng = np.random.default_rng(seed)
    n1, n2 = 2 * lr_shape[0], 2 * lr_shape[1]
    base = (100 * np.arange(n1)[:, None] + np.arange(n2)[None, :] + 1).astype(np.float32)
    for k in range(n):
        hr = base * rng.uniform(0.5, 3.0) * (k + 1)
        write_dat(os.path.join(root, "sx", f"s{k}.dat"), hr)
        write_dat(os.path.join(root, "nx2", f"s{k}.dat"), hr[::2, ::2])
    return [f"s{k}" for k in range(n)]


# ---------------------------------------------------------------- reader

def test_dat_round_trip_and_shape_from_name(tmp_path):
    a = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    p = write_dat(tmp_path / "line_6x4.dat", a)
    assert os.listdir(tmp_path) == ["line_6x4.dat"]
    assert os.path.getsize(p) == 6 * 4 * 4
    np.testing.assert_array_equal(np.fromfile(p, dtype="<f4"), a.ravel())  # raw, no header
    got = read_dat(p)
    assert got.dtype == np.float32 and got.shape == (6, 4)
    np.testing.assert_array_equal(got, a)
    np.testing.assert_array_equal(read_dat(p, (4, 6)), a.reshape(4, 6))


def test_dat_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope_2x2.dat"):
        read_dat(tmp_path / "nope_2x2.dat")
    p = write_dat(tmp_path / "x_3x3.dat", np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"x_3x3\.dat.*\(3, 3\).*36 bytes.*found 16 bytes"):
        read_dat(p)
    q = write_dat(tmp_path / "plain.dat", np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"plain\.dat.*no shape"):
        read_dat(q)
    assert read_dat(q, (2, 2)).shape == (2, 2)


# ---------------------------------------------------------------- pairing and split

def test_pair_files(tmp_path):
    stems = make_pairs(tmp_path, n=3)
    pairs = pair_files(tmp_path, lr_shape=LR, hr_shape=HR)
    assert [p[0] for p in pairs] == stems
    assert pairs[1][1].endswith(os.path.join("nx2", "s1.dat")) and pairs[1][2].endswith(os.path.join("sx", "s1.dat"))
    write_dat(tmp_path / "nx2" / "lonely.dat", np.zeros(LR))
    write_dat(tmp_path / "sx" / "orphan.dat", np.zeros(HR))
    with pytest.raises(ValueError, match=r"unpaired.*nx2 only: lonely\.dat.*sx only: orphan\.dat"):
        pair_files(tmp_path, lr_shape=LR, hr_shape=HR)
    os.remove(tmp_path / "nx2" / "lonely.dat")
    os.remove(tmp_path / "sx" / "orphan.dat")
    write_dat(tmp_path / "sx" / "s2.dat", np.zeros((16, 15)))
    with pytest.raises(ValueError, match=r"mis-sized.*s2\.dat \(expected \(16, 16\) = 1024 bytes, found 960\)"):
        pair_files(tmp_path, lr_shape=LR, hr_shape=HR)
    with pytest.raises(FileNotFoundError, match="nope"):
        pair_files(tmp_path, lr_dir="nope")


def test_split(tmp_path):
    stems = [f"{i:04d}" for i in range(50)]
    s = split_files(stems, seed=3)
    assert [len(s[k]) for k in ("train", "val", "test")] == [40, 5, 5]
    assert sorted(s["train"] + s["val"] + s["test"]) == stems  # complete, no repeats -> disjoint
    assert split_files(stems[::-1], seed=3) == s  # deterministic, order-independent
    assert split_files(stems, seed=4) != s
    p = write_split(tmp_path / "out" / "split.json", s)
    assert read_split(p) == s
    with pytest.raises(ValueError, match="both"):
        write_split(tmp_path / "bad.json", {"train": ["a"], "val": ["a"], "test": []})
    with pytest.raises(ValueError, match="summing to 1"):
        split_files(stems, (0.5, 0.1, 0.1))


# ---------------------------------------------------------------- upsampling

def test_upsample2_modes_keep_even_samples():
    lr = np.random.default_rng(0).standard_normal((2, 5, 6)).astype(np.float32)
    for mode in ("nearest", "bilinear", "bicubic"):
        up = upsample2(lr, mode)
        assert up.shape == (2, 10, 12) and up.dtype == np.float32
        np.testing.assert_allclose(up[..., ::2, ::2], lr, atol=1e-5, err_msg=mode)
    up = upsample2(lr, "nearest")
    np.testing.assert_array_equal(up[:, 1::2, 1::2], lr)
    bl = upsample2(lr, "bilinear")
    np.testing.assert_allclose(bl[:, 1, 0], 0.5 * (lr[:, 0, 0] + lr[:, 1, 0]), rtol=1e-6)
    np.testing.assert_allclose(bl[:, 1, 1], lr[:, :2, :2].mean(axis=(1, 2)), rtol=1e-5)
    ramp = np.add.outer(np.arange(5.0), 2 * np.arange(6.0))  # linear: bilinear/bicubic exact inside
    exact = np.add.outer(np.arange(10) / 2, np.arange(12.0))
    np.testing.assert_allclose(upsample2(ramp, "bilinear")[:-1, :-1], exact[:-1, :-1], atol=1e-5)
    np.testing.assert_allclose(upsample2(ramp, "bicubic")[2:-3, 2:-3], exact[2:-3, 2:-3], atol=1e-5)
    bc = upsample2(lr, "bicubic")
    np.testing.assert_allclose(bc[:, 3, 4], (9 * (lr[:, 1, 2] + lr[:, 2, 2]) - lr[:, 0, 2] - lr[:, 3, 2]) / 16,
                               rtol=1e-5)
    with pytest.raises(ValueError, match="unknown mode"):
        upsample2(lr, "lanczos")


# ---------------------------------------------------------------- dataset

def test_dataset_items_alignment_and_normalisation(tmp_path):
    stems = make_pairs(tmp_path)
    ds = SeismicSRDataset(str(tmp_path), stems, lr_shape=LR, hr_shape=HR, patch=6, augment=False,
                          interp="nearest", seed=0, samples_per_epoch=20)
    assert len(ds) == 20
    for k in range(20):
        inp, lab, w = ds[k]
        cond, hr, scale = inp["cond"], lab["hr"], float(inp["scale"][0])
        assert cond.shape == hr.shape == (1, 6, 6) and cond.dtype == hr.dtype == np.float32 and w == {}
        np.testing.assert_array_equal(cond[0, ::2, ::2], hr[0, ::2, ::2])  # LR (i//2, j//2) <-> HR (i, j)
        np.testing.assert_array_equal(cond[0, 1::2, 1::2], hr[0, ::2, ::2])
        lr_raw = read_dat(tmp_path / "nx2" / f"{stems[k % 3]}.dat", LR)
        assert scale == pytest.approx(np.abs(lr_raw).max())
        hr_raw = read_dat(tmp_path / "sx" / f"{stems[k % 3]}.dat", HR)
        # the patch is a window of the raw HR (even corner), recovered by de-normalising
        raw = ds.denormalise(hr[0], scale)
        hit = [(a, b) for a in range(0, 11, 2) for b in range(0, 11, 2)
               if np.allclose(hr_raw[a:a + 6, b:b + 6], raw, rtol=1e-6)]
        assert len(hit) == 1
    lr, hr, scale = ds.lr_hr(1)
    assert lr.shape == LR and hr.shape == HR and np.abs(lr).max() == pytest.approx(1.0)
    n, s2 = ds.normalise(read_dat(tmp_path / "nx2" / "s1.dat", LR))
    assert s2 == scale
    np.testing.assert_allclose(ds.denormalise(n, s2), read_dat(tmp_path / "nx2" / "s1.dat", LR), rtol=1e-6)
    whole = SeismicSRDataset(str(tmp_path), None, lr_shape=LR, hr_shape=HR, patch=None, augment=False,
                             interp="bilinear")
    inp, lab, _ = whole[0]
    assert len(whole) == 3 and inp["cond"].shape == lab["hr"].shape == (1, 16, 16)
    # the pattern is linear, so bilinear reproduces the HR exactly except the clamped last row/column
    np.testing.assert_allclose(inp["cond"][0, :-1, :-1], lab["hr"][0, :-1, :-1], rtol=1e-5)


def test_dataset_draws_each_items_lr_from_its_hr_when_told_to_degrade(tmp_path):
    """DATA.degrade: the LR file is not used; the item's LR is the HR degraded by the operator drawn, and the
    condition puts it on that operator's grid. Items are a function of (seed, epoch, index)."""
    stems = make_pairs(tmp_path, n=2)
    kw = dict(lr_shape=LR, hr_shape=HR, patch=None, augment=False, seed=3)
    plain = {"max_phase": 0.0, "blur": [0.0, 0.0], "noise": [0.0, 0.0], "coloured": 0.0}
    for op in dg.OPERATORS:
        ds = SeismicSRDataset(str(tmp_path), stems, degrade={"operators": [op], **plain}, **kw)
        inp, lab, _ = ds[1]
        hr = read_dat(tmp_path / "sx" / "s1.dat", HR)
        lr = dg.apply(hr, op)
        scale = float(inp["scale"][0])
        assert scale == pytest.approx(np.abs(lr).max(), rel=1e-6)
        np.testing.assert_allclose(lab["hr"][0] * scale, hr, rtol=1e-5)
        np.testing.assert_allclose(inp["cond"][0], dg.upsample(lr / scale, dg.grid_offset(op)), atol=1e-5)
    ds = SeismicSRDataset(str(tmp_path), stems, degrade={"noise": [0.1, 0.3]}, **kw)
    np.testing.assert_array_equal(ds[0][0]["cond"], ds[0][0]["cond"])
    ds.set_epoch(1)
    assert not np.array_equal(ds[0][0]["cond"], SeismicSRDataset(str(tmp_path), stems, degrade={"noise": [0.1, 0.3]},
                                                                  **kw)[0][0]["cond"])
    with pytest.raises(ValueError, match=r"degrade: keys must be among .*found keys \['sigma'\]"):
        SeismicSRDataset(str(tmp_path), stems, degrade={"sigma": 1.0}, **kw)
    with pytest.raises(ValueError, match=r"degrade.operators: expected names among .*found \['cubic'\]"):
        SeismicSRDataset(str(tmp_path), stems, degrade={"operators": ["cubic"]}, **kw)


def test_dataset_augmentation_is_shared(tmp_path):
    stems = make_pairs(tmp_path, n=1)
    plain = SeismicSRDataset(str(tmp_path), stems, lr_shape=LR, hr_shape=HR, patch=None, augment=False,
                             interp="bilinear")
    c0, h0 = plain[0][0]["cond"][0], plain[0][1]["hr"][0]
    ds = SeismicSRDataset(str(tmp_path), stems, lr_shape=LR, hr_shape=HR, patch=None, augment=True,
                          interp="bilinear", seed=1, samples_per_epoch=40)
    seen = set()
    for k in range(40):
        inp, lab, _ = ds[k]  # one draw
        c, h = inp["cond"][0], lab["hr"][0]
        found = None
        for rot in range(4):
            for f0 in (False, True):
                for f1 in (False, True):
                    tc, th = SeismicSRDataset.transform(c0, h0, (rot, f0, f1))
                    if np.array_equal(th, h):
                        found = (tc, th)
                        seen.add(th.tobytes())
        assert found is not None
        np.testing.assert_array_equal(c, found[0])  # the condition got the same transform
    assert len(seen) == 8  # all flips/rotations of the (asymmetric) pattern occur


def test_dataset_errors(tmp_path):
    stems = make_pairs(tmp_path, n=2)
    with pytest.raises(FileNotFoundError, match=r"'zz'.*zz\.dat"):
        SeismicSRDataset(str(tmp_path), ["s0", "zz"], lr_shape=LR, hr_shape=HR, patch=None)
    write_dat(tmp_path / "sx" / "s1.dat", np.zeros(LR))
    with pytest.raises(ValueError, match=r"s1\.dat.*\(16, 16\).*1024 bytes.*found 256"):
        SeismicSRDataset(str(tmp_path), stems, lr_shape=LR, hr_shape=HR, patch=None)
    with pytest.raises(ValueError, match="patch"):
        SeismicSRDataset(str(tmp_path), ["s0"], lr_shape=LR, hr_shape=HR, patch=7)
    with pytest.raises(ValueError, match="interp"):
        SeismicSRDataset(str(tmp_path), ["s0"], lr_shape=LR, hr_shape=HR, interp="cubic")


def test_supervised_constraint_by_name(tmp_path):
    stems = make_pairs(tmp_path, n=3)
    cfg = {"dataset": {"name": "SeismicSRDataset", "root": str(tmp_path), "stems": stems,
                       "lr_shape": list(LR), "hr_shape": list(HR), "patch": 8, "seed": 0,
                       "samples_per_epoch": 6, "input_keys": ["cond"], "label_keys": ["hr"]},
           "batch_size": 3, "sampler": {"name": "BatchSampler", "shuffle": False, "drop_last": False},
           "num_workers": 0}
    con = ppsci.constraint.SupervisedConstraint(cfg, ppsci.loss.MSELoss("mean"), name="sr")
    assert isinstance(con.data_loader.dataset, SeismicSRDataset)
    batches = list(con.data_loader)
    assert len(batches) == 2
    inp, lab, _ = batches[0]
    assert tuple(inp["cond"].shape) == (3, 1, 8, 8) and tuple(lab["hr"].shape) == (3, 1, 8, 8)
    assert tuple(inp["scale"].shape) == (3, 1)
    assert float(abs(inp["cond"]).max()) <= 1.0 + 1e-6


# ---------------------------------------------------------------- synthetic generator and degradation

def test_synthetic_section_deterministic_and_sized():
    a = synthetic_section(np.random.default_rng([5, 1]), size=64, n_faults_range=(2, 2))
    b = synthetic_section(np.random.default_rng([5, 1]), size=64, n_faults_range=(2, 2))
    c = synthetic_section(np.random.default_rng([5, 2]), size=64)
    assert a.shape == (64, 64) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.abs(a).max() == pytest.approx(1.0)
    assert synthetic_section(np.random.default_rng(0), size=32, n_traces=48).shape == (48, 32)


@pytest.mark.parametrize("freq", [20.0, 40.0])
def test_synthetic_spectrum_peak_at_ricker_frequency(freq):
    dt = 0.002
    spec = 0
    for k in range(4):
        s = synthetic_section(np.random.default_rng(k), size=128, freq_range=(freq, freq), dt=dt)
        spec = spec + np.abs(np.fft.rfft(s.astype(np.float64), axis=1)).mean(axis=0)
    f = np.fft.rfftfreq(128, dt)
    spec = np.convolve(spec, np.ones(3) / 3, mode="same")
    peak = f[np.argmax(spec)]
    assert 0.7 * freq <= peak <= 1.3 * freq, peak


def test_degrade_size_antialias_and_noise_level():
    rng = np.random.default_rng(0)
    hr = synthetic_section(rng, size=64)
    lr = degrade(hr, np.random.default_rng(1), noise_std=0.1)
    assert lr.shape == (32, 32) and lr.dtype == np.float32
    # a checkerboard at the HR Nyquist would alias to a constant under plain decimation
    nyq = np.where(np.add.outer(np.arange(64), np.arange(64)) % 2 == 0, 1.0, -1.0)
    assert np.abs(nyq[::2, ::2]).mean() == 1.0
    assert np.abs(degrade(nyq, rng, noise_std=0.0)).max() < 0.02
    # a smooth pattern passes (away from the mirrored edges)
    smooth = np.sin(2 * np.pi * np.arange(64) / 32)[None, :] * np.ones((64, 1))
    assert np.abs(degrade(smooth, rng, noise_std=0.0) - smooth[::2, ::2])[:, 3:-3].max() < 0.05
    clean = degrade(hr, rng, noise_std=0.0)
    rms = np.sqrt(np.mean(clean.astype(np.float64) ** 2))
    big = synthetic_section(np.random.default_rng(3), size=256)
    clean_big = degrade(big, rng, noise_std=0.0)
    rms_big = np.sqrt(np.mean(clean_big.astype(np.float64) ** 2))
    for band in (False, True):
        for level in (0.05, 0.3):
            noisy, info = degrade(big, np.random.default_rng(7), noise_std=level, band_limited=band,
                                  return_info=True)
            rel = np.std(noisy.astype(np.float64) - clean_big) / rms_big
            assert abs(rel / level - 1) < 0.1, (band, level, rel)
            assert info["noise_std"] == level
    # a range draws the level per call
    _, info = degrade(hr, np.random.default_rng(2), noise_std=(0.1, 0.2), return_info=True)
    assert 0.1 <= info["noise_std"] <= 0.2
    assert rms > 0
    # band-limited noise is coloured: little energy near the LR Nyquist along time
    _, info = degrade(big, np.random.default_rng(7), noise_std=0.3, band_limited=True, noise_freq_range=(20, 20),
                      return_info=True)
    spec = np.abs(np.fft.rfft(info["noise"].astype(np.float64), axis=1)).mean(axis=0)
    assert spec[-10:].mean() < 0.1 * spec.max()


def test_generate_pairs_deterministic_and_resumable(tmp_path):
    stems = generate_pairs(str(tmp_path / "a"), 3, seed=11, size=32, progress=False, noise_std=0.1)
    assert stems == ["0000", "0001", "0002"]
    pairs = pair_files(str(tmp_path / "a"), lr_shape=(16, 16), hr_shape=(32, 32))
    assert [p[0] for p in pairs] == stems
    generate_pairs(str(tmp_path / "b"), 3, seed=11, size=32, progress=False, noise_std=0.1)
    for s in stems:
        for d, shp in (("nx2", (16, 16)), ("sx", (32, 32))):
            np.testing.assert_array_equal(read_dat(tmp_path / "a" / d / f"{s}.dat", shp),
                                          read_dat(tmp_path / "b" / d / f"{s}.dat", shp))
    # pair i depends only on (seed, i): a longer run keeps the first pairs
    hr1 = read_dat(tmp_path / "a" / "sx" / "0001.dat", (32, 32))
    os.remove(tmp_path / "a" / "nx2" / "0001.dat")  # incomplete pair -> regenerated
    marker = tmp_path / "a" / "sx" / "0000.dat"
    kept = np.arange(32 * 32, dtype=np.float32).reshape(32, 32)
    write_dat(marker, kept)  # complete pair -> kept as is
    generate_pairs(str(tmp_path / "a"), 4, seed=11, size=32, progress=False, noise_std=0.1)
    np.testing.assert_array_equal(read_dat(marker, (32, 32)), kept)
    np.testing.assert_array_equal(read_dat(tmp_path / "a" / "sx" / "0001.dat", (32, 32)), hr1)
    assert os.path.isfile(tmp_path / "a" / "nx2" / "0001.dat") and os.path.isfile(tmp_path / "a" / "sx" / "0003.dat")
    ds = SeismicSRDataset(str(tmp_path / "a"), None, lr_shape=(16, 16), hr_shape=(32, 32), patch=16, seed=0)
    assert len(ds) == 4 and ds[0][0]["cond"].shape == (1, 16, 16)
    with pytest.raises(TypeError, match="bogus"):
        generate_pairs(str(tmp_path / "c"), 1, seed=0, size=32, progress=False, bogus=1)


# ---------------------------------------------------------------- real field sections

FIELD = os.path.join(SHARED_DATA, "field")


@pytest.mark.skipif(not os.path.isdir(FIELD), reason=f"shared real data not found at {FIELD} "
                    "(only on developer machines and CI; see ../shared/data/README.md)")
@pytest.mark.parametrize("name,shape", [("kumano2_608x400.dat", (608, 400)), ("lulia_592x400.dat", (592, 400)),
                                        ("tp_352x240.dat", (352, 240))])
def test_field_sections(name, shape):
    x = read_dat(os.path.join(FIELD, name))
    assert x.shape == shape and x.dtype == np.float32
    assert np.isfinite(x).all() and np.abs(x).max() > 0
    n, scale = SeismicSRDataset.normalise(x[::2, ::2])
    assert np.abs(n).max() == pytest.approx(1.0)


# ---------------------------------------------------------------- 3-D volumes
def test_upsample2_volume_trilinear_and_nearest():
    rng = np.random.default_rng(0)
    lr = rng.standard_normal((2, 5, 6, 4)).astype(np.float32)
    for mode in ("nearest", "bilinear", "bicubic"):
        hr = upsample2(lr, mode, ndim=3)
        assert hr.shape == (2, 10, 12, 8)
        np.testing.assert_array_equal(hr[:, ::2, ::2, ::2], lr)
    np.testing.assert_array_equal(upsample2(lr, "nearest", 3)[:, 1::2, 1::2, 1::2], lr)
    # trilinear reproduces a linear function of (i, j, k) away from the clamped last sample
    i, j, k = np.meshgrid(np.arange(5), np.arange(6), np.arange(4), indexing="ij")
    f = lambda a, b, c: 2.0 * a - 0.5 * b + 3.0 * c + 1.0  # noqa: E731
    hr = upsample2(f(i, j, k).astype(np.float32), "bilinear", 3)
    I, J, K = np.meshgrid(np.arange(10) / 2, np.arange(12) / 2, np.arange(8) / 2, indexing="ij")
    np.testing.assert_allclose(hr[:-1, :-1, :-1], f(I, J, K)[:-1, :-1, :-1], atol=1e-5)
    with pytest.raises(ValueError, match="ndim"):
        upsample2(lr, "bilinear", ndim=4)


def test_volume_pairs_dataset_patches_and_shared_augmentation(tmp_path):
    generate_pairs(str(tmp_path / "gen"), 2, seed=5, size=16, ndim=3, progress=False)
    assert os.path.getsize(tmp_path / "gen" / "nx2" / "0000.dat") == 8 ** 3 * 4
    # HR constant on 2x2x2 cells and LR = HR[::2, ::2, ::2]: the nearest-upsampled condition equals
    # the HR exactly, so any crop or transform applied to both alike keeps cond == hr
    lr = np.random.default_rng(0).standard_normal((8, 8, 8)).astype(np.float32)
    write_dat(os.path.join(tmp_path, "sx", "v.dat"), upsample2(lr, "nearest", 3))
    write_dat(os.path.join(tmp_path, "nx2", "v.dat"), lr)
    ds = SeismicSRDataset(str(tmp_path), ["v"], lr_shape=(8, 8, 8), hr_shape=(16, 16, 16), patch=8, augment=True,
                          interp="nearest", seed=0, samples_per_epoch=30)
    seen = set()
    for k in range(30):
        inp, lab, _ = ds[k]
        c, h = inp["cond"][0], lab["hr"][0]
        assert c.shape == h.shape == (8, 8, 8)
        np.testing.assert_array_equal(c, h)
        seen.add(h.tobytes())
    assert len(seen) > 20  # patches and transforms vary
    t = ds.random_transform((8, 8, 8), np.random.default_rng(0))
    assert len(t) == 4 and 0 <= t[0] < 4
    c0 = np.arange(8 ** 3, dtype=np.float32).reshape(8, 8, 8)
    tc, th = SeismicSRDataset.transform(c0, c0 + 1, (1, True, False, True))
    np.testing.assert_array_equal(th, tc + 1)
    # the rotation turns the inline-crossline plane; time (the last axis) stays last
    np.testing.assert_array_equal(tc, np.rot90(np.flip(np.flip(c0, 0), 2), 1, (0, 1)))


def test_degrade_grid_conventions():
    """aligned: LR [i, j] = smoothed HR [2i, 2j]; centred: the mean of the smoothed 2 x 2 block, i.e. a linear
    ramp sampled half an HR sample later on each axis (and an odd last sample averaged with itself)."""
    from scipy import ndimage

    hr = synthetic_section(np.random.default_rng(0), size=64)
    smooth = ndimage.gaussian_filter(hr.astype(np.float64), 1.0, mode="mirror")
    aligned = degrade(hr, np.random.default_rng(1), noise_std=0.0)
    np.testing.assert_allclose(aligned, smooth[::2, ::2], atol=1e-6)
    centred = degrade(hr, np.random.default_rng(1), noise_std=0.0, grid="centred")
    blocks = smooth.reshape(32, 2, 32, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(centred, blocks, atol=1e-6)
    ramp = np.add.outer(np.arange(10.0), 3 * np.arange(9.0))  # linear: smoothing leaves it (mirror edges aside)
    got = degrade(ramp, np.random.default_rng(1), noise_std=0.0, sigma=0, grid="centred")
    want = np.add.outer(np.arange(0, 10, 2) + 0.5, 3 * (np.arange(0, 9, 2) + 0.5))
    want[:, -1] = np.arange(0, 10, 2) + 0.5 + 3 * 8  # the odd last column is its own block
    np.testing.assert_allclose(got, want, atol=1e-5)
    with pytest.raises(ValueError, match="grid must be 'aligned', 'centred' or 'mixed', found 'cell'"):
        degrade(hr, np.random.default_rng(1), grid="cell")


def test_degrade_mixed_draws_either_grid_and_noise_colour_per_call():
    """grid / band_limited "mixed": each call is one of the two, as that option alone gives with the same draws."""
    hr = synthetic_section(np.random.default_rng(0), size=32)
    seen = set()
    for k in range(12):
        lr, info = degrade(hr, np.random.default_rng(k), noise_std=0.1, grid="mixed", band_limited="mixed",
                           return_info=True)
        seen.add((info["grid"], info["band_limited"]))
        rng = np.random.default_rng(k)
        rng.integers(2), rng.integers(2)  # the two choices
        np.testing.assert_array_equal(lr, degrade(hr, rng, noise_std=0.1, grid=info["grid"],
                                                  band_limited=info["band_limited"]))
    assert seen == {("aligned", False), ("aligned", True), ("centred", False), ("centred", True)}
    with pytest.raises(ValueError, match="band_limited must be true, false or 'mixed', found 'pink'"):
        degrade(hr, np.random.default_rng(1), band_limited="pink")


def test_synthetic_volume_and_degrade_3d():
    v = synthetic_section(np.random.default_rng(1), size=24, ndim=3)
    assert v.shape == (24, 24, 24) and np.isclose(np.abs(v).max(), 1.0)
    assert not np.allclose(v[:, 0], v[:, -1])  # varies along the crossline too
    lr = degrade(v, np.random.default_rng(2), noise_std=0.1, band_limited=True)
    assert lr.shape == (12, 12, 12) and np.isfinite(lr).all()
    with pytest.raises(ValueError, match="ndim"):
        synthetic_section(np.random.default_rng(1), size=8, ndim=4)


def test_items_depend_on_seed_pass_and_index_only(tmp_path):
    """A loader thread fetching ahead, or a resumed run, gets the items an uninterrupted run gets."""
    stems = make_pairs(tmp_path, n=3)
    ds = SeismicSRDataset(str(tmp_path), stems, lr_shape=LR, hr_shape=HR, patch=6, augment=True,
                          interp="random", seed=5, samples_per_epoch=6)
    forward = [ds[k][1]["hr"] for k in range(6)]
    backward = [ds[k][1]["hr"] for k in reversed(range(6))][::-1]
    assert all(np.array_equal(a, b) for a, b in zip(forward, backward))
    ds.set_epoch(1)
    assert not all(np.array_equal(a, ds[k][1]["hr"]) for k, a in enumerate(forward))
