"""The example harness: everything the three example scripts do the same way.

- Paths: relative paths written in ``conf/*.yaml`` are wrapped in ``${root:...}``
  and resolve against the project root (the folder holding ``conf/``), so every
  documented command works from the repository root and from the example's own
  folder; a path given on the command line is relative to where you run.
- :func:`mode` marks an example's mode function: it sets the run up (seed,
  device, CPU threads, distributed init, output folder, log) before running it.
  :func:`dispatch` picks the mode named by ``cfg.mode``.
- :func:`data_parallel` runs a training function in CPU worker processes.
- :func:`run_config` is what a checkpoint records of the config; :func:`load_trained`
  loads a network from a checkpoint only where its network settings, parameter
  names and shapes are those of the config, with one error naming what differs
  (or that it is missing); :func:`predict_batches` runs a network over arrays in batches.

Outputs (metrics, arrays, checkpoints) are written through :mod:`ppsci_ext.atomic`.
"""
import functools
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from os import path as osp
from typing import Callable
from typing import Dict
from typing import NamedTuple
from typing import Optional
from typing import Tuple

import numpy as np
import paddle
from omegaconf import OmegaConf
from ppsci.utils import logger
from ppsci.utils import misc

from ppsci_ext import outputs
from ppsci_ext.atomic import write_text
from ppsci_ext.data import arrays
from ppsci_ext.specs import ExampleSpec
from ppsci_ext.config_checks import check_config
from ppsci_ext.threads import choose_threads
from ppsci_ext.threads import machine
from ppsci_ext.train.checkpoint import check_config as check_network_config
from ppsci_ext.train.checkpoint import load_checkpoint
from ppsci_ext.train.checkpoint import set_state_strict

__all__ = ["PROJECT_ROOT", "mode", "dispatch", "setup_run", "data_parallel", "inference_procs", "network_config",
           "run_config", "Files", "output_file", "path_checks", "check_weights", "load_trained", "load_network", "trained_kinds",
           "predict_batches", "read_npy", "set_threads", "required", "rank_zero_first", "compose_config"]


def _project_root() -> str:
    """The folder holding ``conf/``: two folders above the running example script (the checkout whose
    ``conf/`` Hydra reads, even where the package is installed from another one), else the package's parent
    in a checkout (also an editable install), else the current folder."""
    here = osp.dirname(osp.dirname(osp.abspath(__file__)))
    script = osp.dirname(osp.dirname(osp.dirname(osp.abspath(sys.argv[0])))) if sys.argv and sys.argv[0] else ""
    for cand in (script, here):
        if cand and osp.isdir(osp.join(cand, "conf")):
            return cand
    return os.getcwd()


PROJECT_ROOT = _project_root()


def _root_path(path: str) -> str:
    return path if osp.isabs(path) else osp.normpath(osp.join(PROJECT_ROOT, path))


def _register_resolvers():
    for name, fn in (("root", _root_path),                     # ${root:outputs/x}: a path under the project
                     ("len", lambda seq: len(seq)),              # ${len:${MODELLING.src_x}}
                     ("len_or", lambda seq, n: n if seq is None else len(seq))):  # len, or n when null
        if not OmegaConf.has_resolver(name):
            OmegaConf.register_new_resolver(name, fn)


_register_resolvers()


# ------------------------------------------------------------------ set-up
def setup_run(cfg) -> None:
    """Seed (``cfg.seed``), device (``cfg.device``), distributed init under a launcher, CPU threads
    (``cfg.num_threads``), the output folder with the run's config (``config.yaml``), and ppsci's logger
    writing ``<output_dir>/<mode>.log``."""
    paddle.set_device(cfg.device)
    if paddle.distributed.get_world_size() > 1 and not paddle.distributed.is_initialized():
        paddle.distributed.init_parallel_env()  # started by paddle.distributed.launch
    os.makedirs(cfg.output_dir, exist_ok=True)
    logger.init_logger("ppsci", osp.join(cfg.output_dir, f"{cfg.mode}.log"), "info")
    if os.environ.get("PPSCI_EXT_MKL") and cfg.device == "cpu" and paddle.distributed.get_rank() == 0:
        logger.message(f"{os.environ['PPSCI_EXT_MKL']}: an AMD CPU with AVX2, on which Paddle's bundled MKL takes "
                       f"its slow path unless told (start with MKL_DEBUG_CPU_TYPE= to keep MKL's own choice)")
    set_threads(cfg, _DISPATCHED["probe"])  # before the seed: the probe draws random weights
    misc.set_random_seed(cfg.seed)
    if paddle.distributed.get_rank() == 0:
        write_text(osp.join(cfg.output_dir, "config.yaml"), OmegaConf.to_yaml(
            {k: v for k, v in OmegaConf.to_container(cfg).items() if k != "hydra"}))


def mode(fn: Callable) -> Callable:
    """Decorator of an example's mode ``fn(cfg)``: the run is set up (:func:`setup_run`) before it runs."""
    @functools.wraps(fn)
    def run(cfg):
        setup_run(cfg)
        return fn(cfg)
    return run


class Files(NamedTuple):
    """The config keys of the paths an example reads, for the checks of :mod:`ppsci_ext.outputs`.

    ``inputs``: keys of files a run reads (an output may never be one of them); ``data_folders``: keys of
    folders of data, only read unless the project generated them (no output may lie inside one);
    ``data_files``: keys of files whose folder is such a data folder (annotation files)."""
    inputs: Tuple[str, ...] = ()
    data_folders: Tuple[str, ...] = ()
    data_files: Tuple[str, ...] = ()


def _value(cfg, key: str):
    return OmegaConf.select(cfg, key, default=None)


def _as_paths(value) -> list:
    """A config value naming one path: [path], or [] when it is unset."""
    return [] if value is None or value == "" else [str(value)]


def path_checks(cfg, files: Files) -> dict:
    """``{"inputs": [(key, path)], "data_folders": [(key, folder)]}`` of ``cfg`` for the output checks."""
    inputs = [(k, p) for k in files.inputs + files.data_files for p in _as_paths(_value(cfg, k))]
    folders = [(k, p) for k in files.data_folders for p in _as_paths(_value(cfg, k))]
    folders += [(k, p if osp.isdir(p) else osp.dirname(osp.abspath(p)))
                for k in files.data_files for p in _as_paths(_value(cfg, k))]
    return {"inputs": inputs, "data_folders": folders}


def output_file(cfg, key: str, files: Files, overwrite_key: str = "INFER.overwrite") -> str:
    """The output file of the config ``key``, checked before any work (:func:`ppsci_ext.outputs.check_output_file`):
    set, not an input, not in a data folder, writable, new unless ``overwrite_key`` is true."""
    path = required(_value(cfg, key), key, "<file>")
    return outputs.check_output_file(path, key, overwrite=bool(_value(cfg, overwrite_key)),
                                     overwrite_key=overwrite_key, **path_checks(cfg, files))


_DISPATCHED = {"probe": None}  # the thread probe of the example :func:`dispatch` is running (None outside it)


def resolve_threads(cfg, probe: Optional[Callable] = None) -> None:
    """``num_threads: auto`` made a number, in ``cfg``: on the CPU the faster of 1 and all usable cores for one
    training step of the example's network (``probe(cfg)`` -> (name, step); :func:`ppsci_ext.threads.choose_threads`,
    cached per machine), logged with its timings; on a GPU null (the libraries' defaults)."""
    if cfg.num_threads != "auto":
        return
    if cfg.device != "cpu" or probe is None:
        cfg.num_threads = None
        if cfg.device == "cpu":
            logger.message("num_threads=auto: this example has no probe yet; the libraries' defaults are used")
        return
    name, step = probe(cfg)
    cfg.num_threads, why = choose_threads(name, step, paddle.base.core.set_num_threads)
    logger.message(f"num_threads=auto: {why}")


def set_threads(cfg, probe: Optional[Callable] = None) -> None:
    """:func:`resolve_threads`, then Paddle's CPU thread count set to ``cfg.num_threads`` (a number, on the CPU)."""
    resolve_threads(cfg, probe)
    if cfg.num_threads and cfg.device == "cpu":
        paddle.base.core.set_num_threads(int(cfg.num_threads))


def inference_procs(cfg, key: str) -> int:
    """The CPU processes of one thread each that share a mode's independent inference work
    (:func:`ppsci_ext.parallel.fork_map`): the config's ``key``, a number, or ``auto``: every usable core (on
    2 AMD EPYC cores two processes beat one process with two threads, README). On a GPU: 1."""
    value = _value(cfg, key)
    if cfg.device != "cpu":
        return 1
    if value == "auto":
        return machine()["cores"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{key}: expected auto or an integer >= 1, found {value!r}")
    return value


def dispatch(cfg, modes: Dict[str, Callable], files: Files = Files(), checks: Optional[Callable] = None,
             checkpoint: Optional[Callable] = None, probe: Optional[Callable] = None):
    """Run ``modes[cfg.mode](cfg)``; any other mode is a ValueError listing the valid ones.

    First, before any data is built: the config's values (:func:`ppsci_ext.config_checks.check_config`, then the
    example's own ``checks(cfg)``, which may return the config to run with, e.g. with statistics read from a
    file) and the output folder (``output_dir``: not inside a data folder of ``files``,
    writable). An error the project raises about its input (a ValueError, a missing file, ...) ends the run with
    its message and exit status 1, without a traceback (``PPSCI_EXT_TRACEBACK=1`` shows it); errors from deeper
    down keep theirs. Ctrl-C ends with exit status 130 and one line naming the last checkpoint
    (``checkpoint(cfg)``, a path) or saying there is none. ``num_threads: auto`` is resolved when the mode sets
    the run up (:func:`setup_run`, :func:`resolve_threads` with ``probe``; a mode called without dispatch gets
    the libraries' defaults)."""
    _DISPATCHED["probe"] = probe
    try:
        if cfg.mode not in modes:
            raise ValueError(f"cfg.mode should be one of {sorted(modes)}, but got {cfg.mode!r}")
        check_config(cfg)
        if checks is not None:
            cfg = checks(cfg) or cfg
        outputs.check_output_folder(cfg.output_dir, "output_dir", **path_checks(cfg, files))
        return modes[cfg.mode](cfg)
    except KeyboardInterrupt:
        _end(130, f"interrupted (Ctrl-C) in mode={cfg.mode}; every file is written whole, none half-way. "
             + _last_checkpoint(cfg, checkpoint))
    except _INPUT_ERRORS as e:
        if os.environ.get("PPSCI_EXT_TRACEBACK") or not _raised_by_project(e):
            raise
        _end(1, f"{type(e).__name__}: {e}")
    finally:
        _DISPATCHED["probe"] = None


_INPUT_ERRORS = (ValueError, KeyError, OSError, RuntimeError)  # what the project raises about its input
_PROJECT_DIRS = (osp.dirname(osp.abspath(__file__)) + os.sep, osp.join(PROJECT_ROOT, "examples") + os.sep)


def _raised_by_project(e: BaseException) -> bool:
    """True when the innermost frame of ``e``'s traceback is the project's own code (a message written for the
    user), not paddle's, numpy's or another library's."""
    tb = e.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and osp.abspath(tb.tb_frame.f_code.co_filename).startswith(_PROJECT_DIRS)


def _last_checkpoint(cfg, checkpoint: Optional[Callable]) -> str:
    path = checkpoint(cfg) if checkpoint is not None else None
    if path and osp.isfile(path):
        saved = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(osp.getmtime(path)))
        return f"Last checkpoint: {path} (saved {saved}); run the same command to resume from it"
    return "No checkpoint of this run was written" + (f" ({path} does not exist)" if path else "")


def _end(status: int, message: str) -> None:
    """Report ``message`` on stderr and in the run's log file (if one is open), then exit with ``status``."""
    sys.stderr.write(f"\n{message}\n")
    sys.stderr.flush()
    for handler in logging.getLogger("ppsci").handlers:
        if isinstance(handler, logging.FileHandler):
            handler.emit(logging.LogRecord("ppsci", logging.ERROR, "", 0, message, None, None))
            handler.flush()
    raise SystemExit(status)


# ------------------------------------------------------------ processes
def data_parallel(fn: Callable, cfg, nprocs: int):
    """``fn(cfg)`` here, or in ``nprocs`` data-parallel CPU processes of one thread each (gloo).

    Paddle's CPU convolutions at the examples' sizes gain little from a second
    thread, while two single-thread processes train nearly twice as many samples
    a second (measured on 2 cores). Under ``paddle.distributed.launch`` the
    launcher has started the processes already, and ``nprocs`` is ignored. ``nprocs`` is a CPU setting: on another
    device ``fn`` runs here, in one process, and the log says how to start several (paddle.distributed.launch).
    Returns ``fn``'s result, or None from the parent of spawned workers.
    """
    if nprocs <= 1 or paddle.distributed.get_world_size() > 1:
        return fn(cfg)
    if cfg.device != "cpu":
        batch = cfg.TRAIN.get("batch_size")
        logger.message(f"TRAIN.nprocs={nprocs} is a CPU setting: one process on device={cfg.device}"
                       + (f", {batch} items a step where the CPU's {nprocs} processes train on {nprocs * batch} (set "
                          f"TRAIN.batch_size={nprocs * batch} to keep that)" if batch else "")
                       + "; for several GPUs start the script with python -m paddle.distributed.launch --gpus 0,1,... "
                         "(README)")
        return fn(cfg)
    context = paddle.distributed.spawn(_worker, args=(fn, OmegaConf.to_container(cfg, resolve=True), os.getpid()),
                                       nprocs=nprocs, backend="gloo", join=False)
    try:
        while not context.join():
            pass
    except KeyboardInterrupt:  # the workers ignore Ctrl-C (_worker): they end here, with their parent; killed, as
        for process in context.processes:  # paddle answers SIGTERM with a C++ trace (every write is atomic, and
            process.kill()                 # the next start removes the temporary file of one cut short)
            process.join(timeout=10)
        raise
    except Exception as e:  # paddle passes a worker's error on as the text of its traceback: its last line says it
        error = next((ln for ln in reversed(str(e).strip().splitlines()) if ln.strip()), str(e))
        raise RuntimeError(f"a data-parallel worker stopped: {error}") from e
    return None


def rank_zero_first(fn: Callable, *args):
    """``fn(*args)`` on rank 0 first, then, after a barrier, on the other data-parallel processes (which find
    what rank 0 wrote, e.g. generated data, and only read it); one process: just ``fn(*args)``."""
    if paddle.distributed.get_world_size() <= 1:
        return fn(*args)
    if paddle.distributed.get_rank() == 0:
        out = fn(*args)
        paddle.distributed.barrier()
        return out
    paddle.distributed.barrier()
    return fn(*args)


def _worker(fn, cfg_dict, parent_pid):
    # Ctrl-C reaches every process of the terminal's group: the parent alone reports it (dispatch), and the
    # workers end with it (_exit_with_parent), so they print no trace of their own
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # ended by paddle when another worker fails: no C++ trace
    _exit_with_parent(parent_pid)
    cfg = OmegaConf.create(cfg_dict)
    setup_run(OmegaConf.merge(cfg, {"num_threads": 1}))  # initialises the process group too
    fn(cfg)


def _exit_with_parent(parent_pid):
    """Workers end when the process that spawned them dies (a killed run must not leave
    orphans that keep writing the checkpoint a resumed run reads)."""

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


# ------------------------------------------------------- models and data
def _flat(value, prefix: str, out: Dict) -> Dict:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(v, f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix] = value
    return out


def network_config(cfg, keys) -> Dict:
    """The values of the config ``keys`` (sections or single keys, dotted), resolved, as flat
    ``{"MODEL.dims": [16, 32, 64], ...}``: the settings a checkpoint's weights depend on."""
    full, out = OmegaConf.to_container(cfg, resolve=True), {}
    for key in keys:
        value = full
        for part in key.split("."):
            value = value[part]
        _flat(value, key, out)
    return out


def run_config(cfg, network_keys) -> Dict:
    """What a training checkpoint records of the config: ``{"network": network_config(cfg, network_keys),
    "settings": every key of cfg, flat}``; the checkpoint resumes only with the same network settings and
    the log lists the other settings that changed."""
    return {"network": network_config(cfg, network_keys),
            "settings": _flat(OmegaConf.to_container(cfg, resolve=True), "", {})}


def check_weights(path: str, network: Dict, command: str = "", nets: Tuple[str, ...] = (), hint: str = "") -> Dict:
    """The checkpoint or weights file at ``path``, read (restricted unpickler) and checked before any work: it
    exists, holds the networks ``nets``, and was trained with the ``network`` settings (:func:`network_config`).
    Errors name the file and what it holds instead: a missing file (with ``command``, which makes it), a file of
    another example (its recorded settings share no key with this network's), another network config, or
    missing networks (a weights file holds only what inference loads, no critic; ``hint`` says what to do)."""
    state = load_checkpoint(path, required=("nets",))
    if state is None:
        raise FileNotFoundError(f"checkpoint not found: {path}" + (f"; train first: {command}" if command else ""))
    recorded = (state.get("config") or {}).get("network") or {}
    if network and recorded and not set(recorded) & set(network):
        raise ValueError(f"{path} holds weights of another example: it records the network settings "
                         f"{sorted(recorded)[:6]}, this example's are {sorted(network)}; give this example's weights")
    check_network_config(state, network or {}, path)
    absent = [n for n in nets if n not in state["nets"]]
    if absent:
        what = " (a weights file: only what inference loads)" if "exported" in state else ""
        raise ValueError(f"{path} holds the networks {sorted(state['nets'])}{what}, not {absent}"
                         + (f": {hint}" if hint else ""))
    return state


def load_trained(path: str, build: Callable[[], paddle.nn.Layer], command: str,
                 pick: Callable[[Dict], Dict] = lambda state: state["nets"]["model"],
                 network: Optional[Dict] = None, nets: Tuple[str, ...] = ()) -> paddle.nn.Layer:
    """A network built by ``build()`` with the weights ``pick(checkpoint)`` of the checkpoint at ``path``, in
    eval mode, after :func:`check_weights` (``network``, ``nets``: the settings and networks it must hold).
    The names and shapes of the weights must be those of the network, else a ValueError names the keys that
    differ."""
    state = check_weights(path, network or {}, command, nets)
    model = build()
    set_state_strict(model, pick(state), f"checkpoint {path}")
    model.eval()
    return model


def load_network(spec: ExampleSpec, cfg, kind: str, build: Callable[[], paddle.nn.Layer],
                 section: str = "EVAL") -> paddle.nn.Layer:
    """The trained network of ``kind`` of the example ``spec``, in eval mode: the weights inference loads
    (``spec.weights[kind]``) from where ``section`` says (``spec.weights_path``), checked against the config's
    ``spec.network_keys[kind]`` (:func:`load_trained`)."""
    (net,) = spec.nets[kind]  # the one network inference runs
    return load_trained(spec.weights_path(cfg, kind, section), build, spec.train_command(kind),
                        lambda state: spec.weights[kind](state)[net], network_config(cfg, spec.network_keys[kind]),
                        spec.nets[kind])


def trained_kinds(spec: ExampleSpec, cfg, kinds, section: str = "EVAL") -> list:
    """Those of ``kinds`` that have weights where ``section`` looks (``spec.weights_path``), each checked against the
    config before any data is built (a kind without weights is left out, and the log says so). None at all is a
    FileNotFoundError saying where they were looked for and how to get some."""
    paths = {k: spec.weights_path(cfg, k, section) for k in kinds}
    found = [k for k in kinds if osp.isfile(paths[k])]
    if not found:
        given = cfg[section].get("pretrained_model_path")
        where = (f"the folder {section}.pretrained_model_path={given} holds no "
                 f"{' or '.join(f'{k}.pdparams' for k in kinds)} (it holds: "
                 f"{', '.join(sorted(os.listdir(given))) or 'nothing'})" if given and osp.isdir(given)
                 else f"{', '.join(paths.values())} not found")
        raise FileNotFoundError(f"no trained {' or '.join(kinds)} network: {where}. Train first "
                                f"({spec.train_command(kinds[0])}), or pass {section}.pretrained_model_path="
                                f"{spec.shipped} (the shipped weights)")
    for kind in set(kinds) - set(found):
        logger.warning(f"{kind}: no weights at {paths[kind]}; left out")
    for kind in found:
        check_weights(paths[kind], network_config(cfg, spec.network_keys[kind]), nets=spec.nets[kind])
    return found


def predict_batches(model, inputs: Dict[str, np.ndarray], out_key: str, batch_size: int) -> np.ndarray:
    """``model`` (dict in, dict out) over arrays of equal length, ``batch_size`` rows at a time, without
    gradients -> ``out_key`` of every row, concatenated (numpy)."""
    n = len(next(iter(inputs.values())))
    outs = []
    with paddle.no_grad():
        for i in range(0, n, int(batch_size)):
            batch = {k: paddle.to_tensor(np.ascontiguousarray(v[i:i + batch_size], dtype=np.float32))
                     for k, v in inputs.items()}
            outs.append(model(batch)[out_key].numpy())
    return np.concatenate(outs)


def read_npy(path: Optional[str], key: str) -> np.ndarray:
    """The finite, non-empty array of real numbers in ``path`` (a ``.npy``, read by
    :func:`ppsci_ext.data.arrays.read_npy`), set by the config key ``key``; clear errors otherwise."""
    required(path, key, "<file.npy>")
    arr = arrays.read_npy(path, key)
    if arr.size == 0:
        raise ValueError(f"{path} ({key}): holds no values (shape {list(arr.shape)})")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{path} ({key}): expected real numbers, found dtype {arr.dtype}"
                         + (" (pass np.real(a) or np.abs(a))" if np.iscomplexobj(arr) else ""))
    if not np.isfinite(arr).all():
        raise ValueError(f"{path} ({key}) contains NaN or Inf")
    return arr


def required(value, key: str, example: str):
    """``value`` of the config key ``key``, or a ValueError saying how to set it."""
    if value is None or value == "":
        raise ValueError(f"{key} is not set: pass {key}={example}")
    return value


def drawn_each_epoch(build: Callable[[str, int], object], read: Callable[[str], object]) -> Callable[[int], object]:
    """A trainer's ``redraw`` hook: epoch ``e``'s data is written by ``build(folder, e)`` into a temporary folder
    and returned as ``read(folder)`` (which must load it into memory: the folder is deleted afterwards)."""
    def draw(epoch: int):
        with tempfile.TemporaryDirectory(prefix=f"epoch{epoch}_") as folder:
            build(folder, epoch)
            return read(folder)
    return draw


def compose_config(name: str, overrides=()):
    """``conf/<name>.yaml`` with Hydra overrides applied, as the example script would see it."""
    from hydra import compose
    from hydra import initialize_config_dir

    with initialize_config_dir(version_base=None, config_dir=osp.join(PROJECT_ROOT, "conf")):
        return compose(name, overrides=list(overrides))
