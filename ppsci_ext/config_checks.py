"""Config values checked when a run starts, before any data is built or any network trained.

One table (:data:`RULES`) of what a value must be, by the key's last name, wherever it appears in an
example's config (``TRAIN.batch_size`` and ``EVAL.batch_size`` follow the rule of ``batch_size``). An
example adds the checks only it needs (``vmin < vmax``, a plausible SNR ...) as a function of its own,
passed to :func:`ppsci_ext.runtime.dispatch`. Every failure is a ValueError naming the full key, the rule
and the value found; :func:`check_config` reports them all at once.
"""
import math
from typing import Callable
from typing import Dict
from typing import List
from typing import Tuple

from omegaconf import OmegaConf

__all__ = ["RULES", "ORDERED", "SNR_DB_MIN", "check_config", "config_values", "require"]


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and math.isfinite(v)


def _rule(test: Callable, says: str, nullable: bool = False) -> Tuple[Callable, str, bool]:
    return test, says, nullable


_POS_INT = _rule(lambda v: _is_int(v) and v >= 1, "a whole number >= 1")
_POS_INT_OR_NULL = _rule(lambda v: _is_int(v) and v >= 1, "null or a whole number >= 1", nullable=True)
_NONNEG_INT = _rule(lambda v: _is_int(v) and v >= 0, "a whole number >= 0")
_THREADS = _rule(lambda v: v == "auto" or (_is_int(v) and v >= 1), "auto, null or a whole number >= 1", nullable=True)
_POS = _rule(lambda v: _is_num(v) and v > 0, "a number > 0")
_POS_OR_NULL = _rule(lambda v: _is_num(v) and v > 0, "null or a number > 0", nullable=True)
_NONNEG = _rule(lambda v: _is_num(v) and v >= 0, "a number >= 0")
_FRACTION = _rule(lambda v: _is_num(v) and 0 <= v <= 1, "a number in [0, 1]")
_DECAY = _rule(lambda v: _is_num(v) and 0 <= v < 1, "null or a number in [0, 1)", nullable=True)
SNR_DB_MIN = -10.0  # dB: below, noise ten times the signal's power buries the reflections; nothing to invert
_SNR = _rule(lambda v: _is_num(v) and v >= SNR_DB_MIN, f"null (no noise) or a signal-to-noise ratio >= {SNR_DB_MIN:g} dB "
             f"(below, the noise buries the reflections)", nullable=True)

# key's last name (or, before it, the whole dotted key) -> (test, what it must be, null allowed)
RULES: Dict[str, Tuple[Callable, str, bool]] = {
    # sizes and counts of a run
    **{k: _POS_INT for k in ("batch_size", "well_batch_size", "epochs", "iters", "save_every", "log_freq",
                             "n_critic", "nprocs", "n_steps", "n_samples", "n_train", "n_test", "file_size",
                             "n_pairs", "n_train_steps", "n_figures", "n_aug", "n_sections", "base_channels",
                             "num_res_blocks", "nt", "nz", "nx")},
    **{k: _POS_INT_OR_NULL for k in ("n_items", "sample_steps")},
    "num_threads": _THREADS,
    **{k: _rule(lambda v: v == "auto" or (_is_int(v) and v >= 1), "auto or a whole number >= 1")
       for k in ("INFER.nprocs", "EVAL.nprocs")},
    **{k: _NONNEG_INT for k in ("num_workers", "warmup_steps", "overlap", "n_iter_long", "well_margin", "pad")},
    # step sizes and physical scales
    **{k: _POS for k in ("lr", "lr_g", "lr_d", "adam_lr", "gd_step0", "dt", "dx", "freq", "log_k",
                         "consistency_warning")},
    **{k: _NONNEG for k in ("lr_final", "weight_decay", "lambda1", "lambda3", "lambda_g1v", "lambda_g2v",
                            "lambda_adv", "lambda_gp", "aug_noise", "eta", "dropout", "std_scale",
                            "dls_damping", "min_contrast", "max_phase")},
    **{k: _POS_OR_NULL for k in ("clip", "lowpass_sigma")},
    **{k: _FRACTION for k in ("final_lr_ratio", "p_inversion", "coloured")},
    "ema_decay": _DECAY,
    "snr_db": _SNR,
}
# (lower, upper, strict) key names whose values must be ordered lower < upper (lower <= upper where not strict)
# where both sit in one section
ORDERED = (("vmin", "vmax", True), ("data_min", "data_max", True), ("label_min", "label_max", True),
           ("min_layers", "max_layers", False))


def config_values(cfg) -> Dict[str, object]:
    """Every leaf of ``cfg`` (hydra's own block left out), resolved, as ``{"TRAIN.batch_size": 8, ...}``."""
    out = {}

    def walk(node, prefix):
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict):
                walk(v, key)
            else:
                out[key] = v

    container = OmegaConf.to_container(cfg, resolve=True) if not isinstance(cfg, dict) else cfg
    walk({k: v for k, v in container.items() if k != "hydra"}, "")
    return out


def _problems(values: Dict[str, object]) -> List[str]:
    found = _disordered(values)
    for key, value in values.items():
        rule = RULES.get(key, RULES.get(key.rsplit(".", 1)[-1]))
        if rule is None:
            continue
        test, says, nullable = rule
        if value is None and nullable:
            continue
        if value is None or not test(value):
            found.append(f"{key} must be {says}, found {value!r}")
    return found


def _disordered(values: Dict[str, object]) -> List[str]:
    found = []
    for key, lo in values.items():
        section, _, name = key.rpartition(".")
        for low, high, strict in ORDERED:
            hi_key = f"{section}.{high}" if section else high
            hi = values.get(hi_key)
            if name != low or not (_is_num(lo) and _is_num(hi)):
                continue
            if lo > hi or (strict and lo == hi):
                found.append(f"{key} ({lo}) must be {'below' if strict else 'at most'} {hi_key} ({hi})")
    return found


def require(condition: bool, message: str) -> None:
    """A ValueError with ``message`` (naming the keys and values) unless ``condition`` holds."""
    if not condition:
        raise ValueError(message)


def check_config(cfg) -> None:
    """Check every value of ``cfg`` that :data:`RULES` knows; one ValueError listing all that fail."""
    found = _problems(config_values(cfg))
    if found:
        raise ValueError("config values out of range (set them on the command line, e.g. TRAIN.batch_size=8, "
                         "or in the YAML):\n  " + "\n  ".join(found))
