"""The one normalisation of VelocityGAN's data: shot gathers and velocities to and from the network's [-1, 1].

Built from the config's DATA section (:meth:`FWINormalisation.from_config`) and used by the dataset, eval, infer,
the amplitude check and the metric, so that every place scales the same way. Its statistics (``data_min`` ...
``label_max``) come from the config group ``conf/fwi_stats/`` (this project's modelling, or one of OpenFWI's
named data sets), selected on the command line as ``fwi_stats=<name>``.

Conventions (OpenFWI's): gathers [..., nt, n_rec] are decimated in time by ``sample_ratio``, passed through the
signed log ``sign(x) log(1 + k |x|)`` and min-max scaled so that ``data_min`` -> -1 and ``data_max`` -> 1 (both
raw amplitudes, before the log); velocities (m/s) are min-max scaled so that ``label_min`` -> -1 and
``label_max`` -> 1.
"""
from typing import Dict
from typing import Optional
from typing import Tuple

import numpy as np
from ppsci.utils import logger

from ppsci_ext.physics.acoustic import CONVENTIONS
from ppsci_ext.physics.acoustic import convention_factor
from ppsci_ext.physics.acoustic import convert_convention

__all__ = ["FWINormalisation", "AMPLITUDE_CHECKS", "FAR_FACTOR", "KEYS", "conversion_of"]

AMPLITUDE_CHECKS = ("warn", "error", "off")
FAR_FACTOR = 3.0  # amplitudes whose peak is this many times larger or smaller than the statistics' are "far"
KEYS = ("data_min", "data_max", "label_min", "label_max", "log_k", "sample_ratio", "amplitude_check")  # DATA.*


def conversion_of(data_cfg, modelling) -> Optional[Dict]:
    """The conversion of ``DATA.file_convention`` (the files' modelling convention) to ``MODELLING.convention``
    (the network's), as :class:`FWINormalisation` takes it; None where the two are the same or the key is null."""
    source = data_cfg["file_convention"]
    if source is None or modelling is None or source == modelling["convention"]:
        return None
    return {"source": source, "target": modelling["convention"], "dx": float(modelling["dx"]),
            "dt": float(modelling["dt"]), "freq": float(modelling["freq"])}


def _check_range(lo, hi, key_lo, key_hi):
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"{key_lo} ({lo}) must be finite and below {key_hi} ({hi})")


class FWINormalisation:
    """Gathers and velocities to and from the network's [-1, 1] (module docstring for the conventions).

    Args:
        data_min, data_max: raw amplitude range of the training data (``data_min < data_max``).
        label_min, label_max: velocity range, m/s (``label_min < label_max``).
        log_k: ``k`` of the signed log (> 0).
        sample_ratio: keep every ``sample_ratio``-th time sample (a whole number >= 1).
        amplitude_check: "warn", "error" or "off": what :meth:`check_amplitudes` does with data far from the
            statistics.
        conversion: None, or the gathers' modelling convention and the network's, ``{"source", "target", "dx",
            "dt", "freq"}``: gathers are converted to the network's convention
            (:func:`~ppsci_ext.physics.acoustic.convert_convention`) before anything else, so the network sees the
            input it would see had the files been modelled in its convention (``DATA.file_convention``).
    """

    def __init__(self, data_min: float, data_max: float, label_min: float, label_max: float, log_k: float = 1.0,
                 sample_ratio: int = 1, amplitude_check: str = "warn", conversion: Optional[Dict] = None):
        _check_range(float(data_min), float(data_max), "DATA.data_min", "DATA.data_max")
        _check_range(float(label_min), float(label_max), "DATA.label_min", "DATA.label_max")
        if not (np.isfinite(float(log_k)) and float(log_k) > 0):
            raise ValueError(f"DATA.log_k must be a positive number, found {log_k}")
        try:
            whole = float(sample_ratio) == int(sample_ratio) >= 1
        except (TypeError, ValueError, OverflowError):
            whole = False
        if not whole:
            raise ValueError(f"DATA.sample_ratio must be a whole number >= 1, found {sample_ratio}")
        if amplitude_check not in AMPLITUDE_CHECKS:
            raise ValueError(f"DATA.amplitude_check: expected one of {list(AMPLITUDE_CHECKS)}, found "
                             f"{amplitude_check!r}")
        if conversion is not None:
            bad = [conversion.get(k) for k in ("source", "target") if conversion.get(k) not in CONVENTIONS]
            if bad:
                raise ValueError(f"DATA.file_convention: expected one of {list(CONVENTIONS)} or null, found {bad[0]!r}")
            if conversion["source"] == conversion["target"]:
                conversion = None
        self.conversion = None if conversion is None else dict(conversion)
        self.data_min, self.data_max = float(data_min), float(data_max)
        self.label_min, self.label_max = float(label_min), float(label_max)
        self.log_k, self.sample_ratio, self.amplitude_check = float(log_k), int(sample_ratio), amplitude_check
        self._lo, self._hi = self.log(self.data_min), self.log(self.data_max)

    @classmethod
    def from_config(cls, data_cfg, modelling=None) -> "FWINormalisation":
        """From the DATA section of a config (its keys :data:`KEYS`) and, for ``DATA.file_convention``, its
        MODELLING section (the network's convention, dx, dt, freq)."""
        return cls(**{k: data_cfg[k] for k in KEYS}, conversion=conversion_of(data_cfg, modelling))

    def to_network(self, gathers: np.ndarray) -> np.ndarray:
        """Raw gathers as the network's modelling convention gives them (unchanged without a conversion)."""
        if self.conversion is None:
            return gathers
        return convert_convention(gathers, **self.conversion)

    @property
    def amplitude_factor(self) -> float:
        """How much larger the network's convention's amplitudes are than the files' (1 without a conversion)."""
        if self.conversion is None:
            return 1.0
        c = self.conversion
        return convention_factor(c["source"], c["target"], c["dx"])

    # --------------------------------------------------------------- gathers
    def log(self, x):
        return np.sign(x) * np.log1p(self.log_k * np.abs(x))

    def data(self, gathers: np.ndarray) -> np.ndarray:
        """Raw gathers [..., nt, n_rec] -> the network's input [..., nt / sample_ratio, n_rec], float32."""
        x = self.log(np.asarray(self.to_network(gathers)[..., :: self.sample_ratio, :], dtype=np.float32))
        return ((x - self._lo) / (self._hi - self._lo) * 2 - 1).astype(np.float32)

    def check_amplitudes(self, found: Tuple[float, float], where: str) -> bool:
        """Compare the amplitude range ``found`` = (min, max) of shot gathers with the statistics.

        Far outside (its peak |amplitude| over :data:`FAR_FACTOR` times larger or smaller than the statistics'),
        the data are in another amplitude convention or scale than the training data (OpenFWI's own files are
        about 100 times this project's modelling): ``amplitude_check`` "warn" logs it, "error" raises ValueError,
        both naming ``where``, the range found and the one expected; "off" does nothing. Returns True when the
        range is far outside. With a conversion, ``found`` is the files' range and is compared as converted."""
        found = tuple(f * self.amplitude_factor for f in found)
        peak, expected = max(abs(found[0]), abs(found[1])), max(abs(self.data_min), abs(self.data_max))
        ratio = peak / expected
        if self.amplitude_check == "off" or 1 / FAR_FACTOR <= ratio <= FAR_FACTOR:
            return False
        msg = (f"{where}: amplitudes span [{found[0]:.4g}, {found[1]:.4g}], {ratio:.3g} times the peak of the "
               f"training statistics DATA.data_min/DATA.data_max = [{self.data_min}, {self.data_max}]: these data "
               f"are in another amplitude convention or scale, and the network's input would be far from what it "
               f"was trained on. Rescale the data to the training data's convention, or train on data like them "
               f"(DATA.amplitude_check=off to go on)")
        if self.amplitude_check == "error":
            raise ValueError(msg)
        logger.warning(msg)
        return True

    def warn_outside(self, found: Tuple[float, float], where: str, velocity: bool = False) -> bool:
        """Warn (and return True) where the range ``found`` of gathers (or velocities, m/s) leaves the
        statistics: those values fall outside [-1, 1] after normalisation."""
        lo, hi = (self.label_min, self.label_max) if velocity else (self.data_min, self.data_max)
        if not velocity:  # the files' range, as converted to the network's convention
            found = tuple(f * self.amplitude_factor for f in found)
        keys = "DATA.label_min/DATA.label_max" if velocity else "DATA.data_min/DATA.data_max"
        if lo <= found[0] and found[1] <= hi:
            return False
        logger.warning(f"{where}: {'velocities (m/s)' if velocity else 'data amplitudes'} span [{found[0]:.4g}, "
                       f"{found[1]:.4g}], outside {keys} = [{lo}, {hi}]: they leave [-1, 1] after "
                       f"normalisation; choose statistics (fwi_stats=...) or set {keys} that cover them")
        return True

    # ------------------------------------------------------------ velocities
    @property
    def half_range(self) -> float:
        """m/s per unit of the normalised velocity (errors on [-1, 1] times this are errors in m/s)."""
        return (self.label_max - self.label_min) / 2.0

    def velocity(self, v) -> np.ndarray:
        """Velocities (m/s) -> normalised [-1, 1], float32."""
        return ((np.asarray(v, dtype=np.float32) - self.label_min) / (self.label_max - self.label_min) * 2 - 1
                ).astype(np.float32)

    def velocity_inverse(self, x):
        """Normalised velocities -> m/s."""
        return (x + 1) / 2 * (self.label_max - self.label_min) + self.label_min
