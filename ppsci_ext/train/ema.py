"""Exponential moving average of the weights, with a warm-up (sampled from, as DDPM and SR3 do)."""
from ppsci.utils.ema import AveragedModel

__all__ = ["WarmupEMA"]


class WarmupEMA(AveragedModel):
    """ppsci's weight average with the decay ``min(decay, (1 + k) / (10 + k))`` at update ``k = 1, 2, ...``.

    ppsci's ``ExponentialMovingAverage`` uses the fixed ``decay`` from the first
    update, so after 4000 steps at 0.999 it still holds 2% of the random
    initialisation; the warm-up forgets it within the first hundred steps.
    ``state_dict`` / ``set_state_dict`` (ppsci's) carry the averages and the update
    count through the checkpoint; ``apply_shadow`` / ``restore`` swap them in and out.
    """

    def __init__(self, model, decay: float):
        if not 0.0 < float(decay) < 1.0:
            raise ValueError(f"EMA decay must lie in (0, 1), found {decay!r}")
        super().__init__(model, float(decay))

    def _update_fn_(self, shadow_param, model_param, step):
        k = float(step) + 1.0  # ppsci passes the count of earlier updates
        d = min(self.decay, (1.0 + k) / (10.0 + k))
        shadow_param.set_value(d * shadow_param + (1.0 - d) * model_param.detach())
