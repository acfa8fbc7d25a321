"""Weights of OpenFWI's PyTorch InversionNet (a ``.pth`` checkpoint or state dict) into a
:class:`~ppsci_ext.arch.VelocityGenerator` built with the same layout: ``dims`` as the checkpoint's widths,
``upsample: deconv``, ``head_norm: true``, ``sample_ratio: 1`` (5 x 1000 x 70 input) and 70 x 70 output, the
paper config's generator.

OpenFWI's blocks, in order, are ``convblock1, convblock2_1 ... convblock8, deconv1_1 ... deconv5_2, deconv6``,
each ``<block>.layers.0`` a (transposed) convolution and ``<block>.layers.1`` its BatchNorm (older
checkpoints name ``layers`` after the block's class, e.g. ``Conv2DwithBN``); ours are the convolutions and
BatchNorms of ``encoder``, ``decoder`` and ``head`` in the same order. Both frameworks store convolution
kernels as [out, in, kh, kw] and transposed ones as [in, out, kh, kw]; BatchNorm's running mean and variance
are Paddle's ``_mean`` and ``_variance``.

    python -m ppsci_ext.arch.openfwi_weights openfwi.pth generator.pdparams --dims 32 64 128 256 512

writes a checkpoint that ``EVAL.pretrained_model_path`` / ``INFER.pretrained_model_path`` of ``conf/velocitygan_paper.yaml`` load (its
generator settings are this layout; its data statistics are FlatVel-A's, OpenFWI's k = 1 log transform).
"""
import argparse
import re
from collections import OrderedDict
from typing import Dict

import numpy as np
import paddle

__all__ = ["openfwi_generator_state", "openfwi_critic_state", "load_openfwi_generator", "OPENFWI_GENERATOR_BLOCKS",
           "OPENFWI_CRITIC_BLOCKS"]

OPENFWI_GENERATOR_BLOCKS = (["convblock1"] + [f"convblock{k}_{j}" for k in range(2, 8) for j in (1, 2)]
                            + ["convblock8"] + [f"deconv{k}_{j}" for k in range(1, 6) for j in (1, 2)] + ["deconv6"])
OPENFWI_CRITIC_BLOCKS = [f"convblock{k}_{j}" for k in range(1, 5) for j in (1, 2)] + ["convblock5"]
_LEGACY = re.compile(r"\.(Conv2DwithBN_Tanh|Conv2DwithBN|Deconv2DwithBN|ResizeConv2DwithBN)\.")
_BN = {"weight": "weight", "bias": "bias", "running_mean": "_mean", "running_var": "_variance"}


def _numpy(v):
    return v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v)


def _ours_in_order(net):
    """(conv, batchnorm) pairs of our network, in forward order."""
    layers = [m for m in net.sublayers() if isinstance(m, (paddle.nn.Conv2D, paddle.nn.Conv2DTranspose,
                                                                 paddle.nn.BatchNorm2D))]
    pairs, k = [], 0
    while k < len(layers):
        conv, norm = layers[k], layers[k + 1] if k + 1 < len(layers) else None
        if not isinstance(norm, paddle.nn.BatchNorm2D):
            raise ValueError("the network has a convolution without BatchNorm: build the generator with "
                             "head_norm=true, the critic with norm=true")
        pairs.append((conv, norm))
        k += 2
    return pairs


def openfwi_generator_state(state: Dict, generator, source: str = "the checkpoint") -> Dict[str, np.ndarray]:
    """Our generator's state dict (name -> array of the parameter's dtype) from OpenFWI's InversionNet
    ``state``; every shape is checked and a mismatch names both keys."""
    return _convert(state, generator, OPENFWI_GENERATOR_BLOCKS, source,
                    "build it with upsample=deconv and 5 x 1000 x 70 input")


def openfwi_critic_state(state: Dict, critic, source: str = "the checkpoint") -> Dict[str, np.ndarray]:
    """Our critic's state dict from OpenFWI's Discriminator ``state`` (build the critic with norm=true)."""
    return _convert(state, critic, OPENFWI_CRITIC_BLOCKS, source, "build it with norm=true and 70 x 70 input")


def _convert(state, net, blocks, source, hint):
    state = {_LEGACY.sub(".layers.", k.replace("module.", "", 1)): v for k, v in state.items()}
    pairs = _ours_in_order(net)
    if len(pairs) != len(blocks):
        raise ValueError(f"the network has {len(pairs)} conv+BatchNorm blocks, OpenFWI's {len(blocks)}: {hint}")
    names = {id(p): n for n, p in net.named_parameters()}
    names.update({id(b): n for n, b in net.named_buffers()})
    out = OrderedDict()
    for block, (conv, norm) in zip(blocks, pairs):
        todo = [(f"{block}.layers.0.{a}", getattr(conv, a)) for a in ("weight", "bias")]
        todo += [(f"{block}.layers.1.{a}", getattr(norm, b)) for a, b in _BN.items()]
        for key, target in todo:
            if key not in state:
                raise KeyError(f"{source}: key {key!r} not found (OpenFWI's checkpoint of this network has "
                               f"{blocks[0]}.layers.0.weight ...)")
            value = _numpy(state[key]).astype(target.numpy().dtype)
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(f"{source}: {key} has shape {list(value.shape)}, our {names[id(target)]} "
                                 f"{list(target.shape)}: build the network with the checkpoint's widths")
            out[names[id(target)]] = value
    return out


def load_openfwi_generator(path: str, generator) -> None:
    """Load OpenFWI's ``.pth`` (a state dict, or a dict holding it under ``model``) into ``generator``.

    The file is read with PyTorch's restricted unpickler (``weights_only=True``; OpenFWI's checkpoints also
    hold their ``argparse.Namespace`` of arguments, admitted as plain data): a file that would build anything
    else is refused, naming it, instead of running code."""
    import pickle

    import torch

    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ValueError(f"{path}: not loaded, it asks to build objects beyond tensors and plain data, which could "
                         f"run code ({str(e).splitlines()[0]})") from None
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else ckpt
    generator.set_state_dict({k: paddle.to_tensor(v) for k, v in openfwi_generator_state(state, generator,
                                                                                          path).items()})


def main():
    from ppsci_ext.arch.velocitygan import VelocityGenerator

    ap = argparse.ArgumentParser(description="OpenFWI InversionNet .pth -> VelocityGenerator .pdparams")
    ap.add_argument("src"), ap.add_argument("dst")
    ap.add_argument("--dims", type=int, nargs=5, default=[32, 64, 128, 256, 512], help="the checkpoint's widths")
    args = ap.parse_args()
    gen = VelocityGenerator(("data",), ("velocity",), dims=args.dims, upsample="deconv", head_norm=True)
    load_openfwi_generator(args.src, gen)
    paddle.save({"nets": {"generator": gen.state_dict()}}, args.dst)  # the checkpoint layout eval/infer read
    print(f"wrote {args.dst}: the generator's {len(gen.state_dict())} tensors")


if __name__ == "__main__":
    main()
