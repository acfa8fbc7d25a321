"""Read a ``.pdparams`` checkpoint or weights file without running code from it.

``paddle.load`` unpickles, and a pickle names callables (``module.name``) that the reader imports and calls
while it reads: a crafted ``.pdparams`` runs ``os.system``, ``builtins.eval`` or anything else it names the
moment it is loaded. :func:`safe_load` reads the same files (the idea of PyTorch's
``torch.load(weights_only=True)``) with an unpickler that builds only what ``paddle.save`` writes for a
checkpoint of this package (:func:`ppsci_ext.train.checkpoint.save_checkpoint`,
:func:`~ppsci_ext.train.checkpoint.export_weights`):

==========================================  ==================================================================
admitted ``module.name``                    what it builds in a checkpoint
==========================================  ==================================================================
``collections.OrderedDict``                 a network's state_dict
``builtins.tuple``                          a tensor as ``paddle.save`` writes it, ``(name, ndarray)``
                                            (``__builtin__.tuple`` in pickle protocol 2)
``numpy.core.multiarray._reconstruct``,     a numpy array (also spelled ``numpy._core.multiarray...``, numpy 2)
``numpy.ndarray``, ``numpy.dtype``
``numpy.core.multiarray.scalar``            a numpy scalar, e.g. a float32 loss kept in the history
``paddle.base.libpaddle.GeneratorState``    paddle's random state, set by pybind from a tuple of ints
``_codecs.encode``                          bytes in pickle protocols 2 and 3, ``latin1`` only
==========================================  ==================================================================

Why these are trusted: each builds a container, an array or a number from the plain values next to it in the
file (ints, floats, strings, bytes, lists, dicts) and calls nothing else; none of them imports a module or
looks up an attribute by a name the file chooses. ``_codecs.encode`` could look up any codec by name, so it
is admitted for ``latin1`` alone. Every other name (``builtins.eval``, ``builtins.getattr``, ``os.system``,
``subprocess.Popen``, ``functools.partial``, ...) is refused with :class:`UntrustedPickleError` before it
is imported, and so is a persistent id (``paddle.save`` never writes one). After unpickling, a numpy array
or scalar of an object dtype anywhere in the tree is refused too: no checkpoint holds one (paddle cannot
make a tensor of it), and elsewhere it is how pickled code travels.

The result is then converted as ``paddle.load`` converts it (``load`` in paddle/framework/io.py, paddle
3.3), so every caller gets the objects it got before: a parameter split by ``paddle.save`` into
``name@@.k`` parts is joined; a dict holding the ``StructuredToParameterName@@`` name table (a lone
state_dict) turns the arrays it lists into tensors of those names and drops the table; otherwise every
``(name, ndarray)`` tuple in nested dicts, lists and tuples becomes a tensor of that name, or, in a file
with none, every ndarray becomes a tensor.
"""
import collections
import pickle
from typing import Any

import numpy as np
import paddle

__all__ = ["safe_load", "UntrustedPickleError"]

_NAME_TABLE = "StructuredToParameterName@@"  # paddle.save's table of a lone state_dict's parameter names
_SPLIT_PARAMS = "UnpackBigParamInfor@@"  # paddle.save's record of parameters split into parts (protocol 2, 3)


class UntrustedPickleError(pickle.UnpicklingError, ValueError):
    """A file asks to build something a checkpoint does not hold; it is refused, not run."""


def _admitted():
    """``(module, name) -> object`` the unpickler may build, taken from the live numpy and paddle (so the
    numpy 1 and numpy 2 spellings of a name both give this numpy's function, and nothing is imported)."""
    reconstruct = np.empty(0).__reduce__()[0]
    scalar = np.float64(0).__reduce__()[0]
    out = {("collections", "OrderedDict"): collections.OrderedDict, ("builtins", "tuple"): tuple,
           ("__builtin__", "tuple"): tuple,  # the Python 2 name, which pickle protocol 2 writes
           ("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
           ("paddle.base.libpaddle", "GeneratorState"): paddle.base.libpaddle.GeneratorState}
    for core in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out[(core, "_reconstruct")] = reconstruct
        out[(core, "scalar")] = scalar
    return out


_ADMITTED = _admitted()
_ADMITTED_NAMES = ("collections.OrderedDict, builtins.tuple, numpy.ndarray, numpy.dtype, "
                   "numpy.core.multiarray._reconstruct and .scalar, paddle.base.libpaddle.GeneratorState, "
                   "_codecs.encode for latin1")


class _CheckpointUnpickler(pickle.Unpickler):
    """An unpickler that builds only ``_ADMITTED`` (and ``_codecs.encode`` for latin1); see the module."""

    def __init__(self, file, path: str):
        super().__init__(file, encoding="latin1")  # as paddle.load: numpy arrays pickled by Python 2
        self.path = path

    def _refuse(self, what: str):
        return UntrustedPickleError(
            f"{self.path}: refused to build {what}: the file is not loaded because unpickling it could run "
            f"code. A checkpoint or weights file holds only dicts, lists, tuples, numbers, strings, numpy "
            f"arrays and paddle's random state, and may build nothing else (admitted: {_ADMITTED_NAMES}); "
            f"load weights only from a source you trust, made by paddle.save of tensors, dicts and numbers")

    def find_class(self, module: str, name: str):
        if (module, name) == ("_codecs", "encode"):
            return self._latin1_encode
        try:
            return _ADMITTED[(module, name)]
        except KeyError:
            raise self._refuse(f"{module}.{name}") from None

    def _latin1_encode(self, text, encoding="utf-8", errors="strict"):
        """``_codecs.encode`` as protocols 2 and 3 store bytes: ``(text, "latin1")``; no other codec is
        looked up."""
        if not isinstance(text, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
            raise self._refuse(f"_codecs.encode with encoding {encoding!r}")
        return text.encode("latin1")

    def persistent_load(self, pid):
        raise self._refuse(f"a persistent id ({type(pid).__name__})")


def _refuse_object_arrays(obj, path: str, where: str = "") -> None:
    """An UntrustedPickleError naming ``path`` and the key path ``where`` of the first numpy array or
    scalar of an object dtype in ``obj`` (dicts, lists, tuples, sets)."""
    if isinstance(obj, (np.ndarray, np.generic)) and obj.dtype.hasobject:
        raise UntrustedPickleError(
            f"{path}: {where or 'the file'} is a numpy array of dtype {obj.dtype} (Python objects): not loaded, "
            f"a checkpoint holds numeric arrays only and an object array is how pickled code travels")
    if isinstance(obj, dict):
        for key, value in obj.items():
            _refuse_object_arrays(value, path, f"{where}[{key!r}]")
    elif isinstance(obj, (list, tuple, set, frozenset)):
        for i, value in enumerate(obj):
            _refuse_object_arrays(value, path, f"{where}[{i}]")


def _tensor(arr: np.ndarray, name=None) -> paddle.Tensor:
    t = paddle.to_tensor(arr)
    if name is not None:
        t.name = name
    return t


def _is_saved_tensor(obj) -> bool:
    """A tensor as ``paddle.save`` writes one inside a nested object: ``(name, ndarray)``."""
    return type(obj) is tuple and len(obj) == 2 and isinstance(obj[0], str) and isinstance(obj[1], np.ndarray)


def _contains(obj, test) -> bool:
    if test(obj):
        return True
    if type(obj) in (dict, collections.OrderedDict):
        return any(_contains(v, test) for v in obj.values())
    if type(obj) in (list, tuple):
        return any(_contains(v, test) for v in obj)
    return False


def _convert(obj, test, convert):
    """``obj`` with every part for which ``test`` holds replaced by ``convert(part)`` (paddle's
    ``_parse_every_object``: dicts and lists in place, tuples rebuilt)."""
    if test(obj):
        return convert(obj)
    if type(obj) in (dict, collections.OrderedDict):
        for key in list(obj):
            obj[key] = _convert(obj[key], test, convert)
    elif type(obj) is list:
        obj[:] = [_convert(v, test, convert) for v in obj]
    elif type(obj) is tuple:
        return tuple(_convert(v, test, convert) for v in obj)
    return obj


def _join_split_params(obj: dict) -> None:
    """Join the parts ``paddle.save`` split a big parameter into (pickle protocols 2 and 3)."""
    info = obj.pop(_SPLIT_PARAMS, None) or {}
    for key, value in info.items():
        obj[key] = np.concatenate([obj.pop(part) for part in value["slices"]]).reshape(value["OriginShape"])


def _as_paddle(obj):
    """What ``paddle.load`` returns for the unpickled ``obj`` (see the module docstring)."""
    if isinstance(obj, dict):
        _join_split_params(obj)
        if _NAME_TABLE in obj:
            for key, name in obj.pop(_NAME_TABLE).items():
                if isinstance(obj[key], np.ndarray):
                    obj[key] = _tensor(obj[key], name)
            return obj
    if _contains(obj, _is_saved_tensor):
        return _convert(obj, _is_saved_tensor, lambda t: _tensor(t[1], t[0]))
    return _convert(obj, lambda v: isinstance(v, np.ndarray), _tensor)


def safe_load(path: str) -> Any:
    """The object ``paddle.save`` wrote to ``path``, as ``paddle.load`` returns it, built without running
    code from the file.

    Raises:
        UntrustedPickleError (a ``pickle.UnpicklingError`` and a ``ValueError``): the file names something
            outside the admitted list, or holds an object array; the message names ``path`` and what was
            refused. A truncated or foreign file raises what the unpickler meets (EOFError,
            UnpicklingError, ...), as ``paddle.load`` does.
    """
    path = str(path)
    with open(path, "rb") as f:
        obj = _CheckpointUnpickler(f, path).load()
    _refuse_object_arrays(obj, path)
    return _as_paddle(obj)
