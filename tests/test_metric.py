import numpy as np
import paddle
import pytest
from skimage.metrics import structural_similarity

import ppsci
from ppsci_ext import metric
from ppsci_ext.data.fwi import FWINormalisation


@pytest.mark.parametrize("noise", [0.02, 0.3])
def test_ssim_matches_skimage_through_functional_metric(rng, noise):
    true = rng.uniform(-1, 1, (4, 1, 70, 70)).astype(np.float32)
    true[:, :, 30:] = 0.5  # some structure
    pred = np.clip(true + noise * rng.standard_normal(true.shape), -1, 1).astype(np.float32)
    fm = ppsci.metric.FunctionalMetric(metric.fwi_metric_expr(FWINormalisation(-1.0, 1.0, 1500.0, 4500.0)))
    got = fm({"velocity": paddle.to_tensor(pred)}, {"velocity": paddle.to_tensor(true)})
    ref = np.mean([structural_similarity((p[0] + 1) / 2, (t[0] + 1) / 2, gaussian_weights=True, sigma=1.5,
                                         data_range=1.0) for p, t in zip(pred, true)])
    assert abs(float(got["SSIM"]) - ref) < 1e-4
    np.testing.assert_allclose(float(got["MAE"]), np.abs(pred - true).mean(), rtol=1e-5)
    np.testing.assert_allclose(float(got["RMSE"]), np.sqrt(((pred - true) ** 2).mean()), rtol=1e-5)
    np.testing.assert_allclose(float(got["MAE_mps"]), 1500 * np.abs(pred - true).mean(), rtol=1e-5)


def test_ssim_of_identical_images_is_one(rng):
    x = paddle.to_tensor(rng.random((2, 1, 30, 30)))
    assert abs(float(metric.ssim(x, x)) - 1.0) < 1e-12


def test_image_scores_volume_ssim_is_mean_of_slices():
    rng = np.random.default_rng(3)
    true = rng.standard_normal((4, 24, 20))
    pred = true + 0.3 * rng.standard_normal(true.shape)
    got = metric.image_scores(pred, true)
    lo, hi = true.min(), true.max()
    ref = np.mean([structural_similarity((p - lo) / (hi - lo), (t - lo) / (hi - lo), gaussian_weights=True,
                                         sigma=1.5, data_range=1.0) for p, t in zip(pred, true)])
    assert abs(got["SSIM"] - ref) < 1e-4
    assert abs(got["PSNR"] - 10 * np.log10((hi - lo) ** 2 / np.mean((pred - true) ** 2))) < 1e-9


def test_scaled_data_misfit_sees_through_an_amplitude_convention():
    rng = np.random.default_rng(0)
    synth = rng.standard_normal((4, 5, 50, 7))
    observed = synth * np.array([100.0, 100.0, -3.0, 0.5])[:, None, None, None]  # another scale; a polarity flip
    assert metric.relative_data_misfit(synth, observed) > 0.9
    misfit, factor, per_sample = metric.scaled_data_misfit(synth, observed)
    assert misfit < 1e-12 and np.allclose(per_sample, [100.0, 100.0, -3.0, 0.5]) and factor == pytest.approx(50.25)
    noisy = observed + 0.1 * np.abs(observed).max() * rng.standard_normal(observed.shape)
    assert 0.0 < metric.scaled_data_misfit(synth, noisy)[0] < metric.relative_data_misfit(synth, noisy)


def test_spearman_against_scipy_with_ties():
    from scipy.stats import spearmanr

    from ppsci_ext.metric import spearman

    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 200).astype(float)  # many ties
    b = a + rng.standard_normal(200)
    assert abs(spearman(a, b) - spearmanr(a, b).statistic) < 1e-12
    assert spearman(np.arange(5), np.arange(5) ** 3) == pytest.approx(1.0)
    assert spearman(np.arange(5), -np.arange(5.0)) == pytest.approx(-1.0)


def test_ensemble_scores_calibrated_and_overconfident():
    """Per-pixel truth and 50 draws from the same heteroscedastic Gaussian: coverage of mean +- 2 std near
    95% (the mean of 50 draws adds 1/50 to the error variance: 94.6% expected), spread tracks the error;
    an ensemble five times too narrow covers far less."""
    from ppsci_ext.metric import ensemble_scores

    rng = np.random.default_rng(0)
    mu, s = rng.standard_normal((100, 200)), rng.uniform(0.05, 1.0, (100, 200))
    true = mu + s * rng.standard_normal(mu.shape)
    draws = mu + s * rng.standard_normal((50,) + mu.shape)
    good = ensemble_scores(draws.mean(0), draws.std(0, ddof=1), true)
    assert 0.935 < good["coverage_2std"] < 0.955
    assert good["spearman_std_error"] > 0.3
    # a std that varies smoothly (over ~8 samples): per pixel still ~0.55, over 8 x 8 tiles the spread and the
    # error rank alike
    from scipy.ndimage import gaussian_filter

    g = np.abs(gaussian_filter(rng.standard_normal((96, 192)), 8))
    s2 = 0.05 + 0.95 * (g - g.min()) / (g.max() - g.min())
    true2 = mu[:96, :192] + s2 * rng.standard_normal(s2.shape)
    draws2 = mu[:96, :192] + s2 * rng.standard_normal((50,) + s2.shape)
    smooth = ensemble_scores(draws2.mean(0), draws2.std(0, ddof=1), true2)
    assert smooth["spearman_std_error"] < 0.65 < 0.9 < smooth["spearman_std_error_block"]
    # the tile score against its definition: RMS over 8 x 8 tiles, ranked
    from scipy.stats import spearmanr

    rms = lambda a: np.sqrt((a ** 2).reshape(12, 8, 24, 8).mean(axis=(1, 3)))  # noqa: E731
    want = spearmanr(rms(draws2.std(0, ddof=1)).ravel(), rms(draws2.mean(0) - true2).ravel())[0]
    assert abs(smooth["spearman_std_error_block"] - want) < 1e-12
    assert ensemble_scores(true[:4, :4], true[:4, :4], true[:4, :4])["spearman_std_error_block"] is None
    narrow = ensemble_scores(draws.mean(0), draws.std(0, ddof=1) / 5, true)
    assert narrow["coverage_2std"] < 0.5
    with pytest.raises(ValueError, match=r"mean \[100, 200\], std \[100\] and truth \[100, 200\] must have one"):
        ensemble_scores(true, true[:, 0], true)


def test_spread_scale_calibrates_an_overconfident_ensemble():
    """Errors of std 1 reported with std 0.5: the factor is the 95% point of |z| (1.96); once scaled, the
    coverage of mean +- 2 std is 95%, and the lists pool their samples."""
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(2, 300, 300))
    mean = truth + rng.normal(size=truth.shape)
    std = np.full(truth.shape, 0.5)
    s = metric.spread_scale(mean, std, truth)
    assert abs(s - 1.96) < 0.03
    assert abs(metric.ensemble_scores(mean, s * std, truth)["coverage_2std"] - 0.95) < 1e-3
    assert metric.spread_scale(list(mean), list(std), list(truth)) == pytest.approx(s)
    assert abs(metric.spread_scale(mean, 4 * std, truth) - s / 4) < 1e-9  # a wider spread needs less
    with pytest.raises(ValueError, match="sizes differ"):
        metric.spread_scale(mean, std[:1], truth)
    with pytest.raises(ValueError, match="coverage"):
        metric.spread_scale(mean, std, truth, coverage=1.0)
