"""The shipped weights in ``pretrained/``: what each file is, how it was made, and the demo that shows it.

Every file comes from one example's documented training command (``train``), cut down to what
inference loads by :func:`ppsci_ext.train.checkpoint.export_weights` (the larger networks in float16,
to stay under 5 MB each; loaded into float32 networks). ``pretrained/manifest.json`` records, per file, its size, SHA-256 and
the metrics its demo gives; ``tests/test_pretrained.py`` checks all three.

    python -m ppsci_ext.pretrained export [name ...]   # outputs/<run> checkpoints -> pretrained/<file>
    python -m ppsci_ext.pretrained demo [name ...]     # run the demos (README's quick start, scripts/demo.sh)
    python -m ppsci_ext.pretrained record [name ...]   # run the demos and write manifest.json
    python -m ppsci_ext.pretrained table               # README's table of the shipped weights, from manifest.json

A demo is the example's own ``eval`` (MD Diffusion: ``sample`` then ``eval``) on its built-in data with
the shipped weights (``EVAL.pretrained_model_path``), figures included; its output goes to
``outputs/demo/<name>``.
"""
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
import time
from dataclasses import dataclass
from dataclasses import field
from typing import Callable
from typing import Dict
from typing import Tuple

from ppsci_ext.atomic import write_json
from ppsci_ext.runtime import PROJECT_ROOT
from ppsci_ext.runtime import compose_config
from ppsci_ext.specs import GDRNN
from ppsci_ext.specs import MD_DIFFUSION
from ppsci_ext.specs import VELOCITYGAN
from ppsci_ext.specs import ExampleSpec

__all__ = ["Entry", "ENTRIES", "FOLDER", "MANIFEST", "MAX_BYTES", "table", "sha256", "demo_args", "demo_command", "demo_metrics",
           "missing_inputs", "export", "manifest"]

FOLDER = osp.join(PROJECT_ROOT, "pretrained")
MANIFEST = osp.join(FOLDER, "manifest.json")
MAX_BYTES = 5 * 1024 * 1024  # each shipped file
SHARED = "../shared/data"    # the real data some demos read (skipped without it)


@dataclass(frozen=True)
class Entry:
    """One shipped weights file and its demo. Paths are relative to the project root; what the example itself
    says (its script, training command, checkpoint, the weights inference loads) comes from its ``spec``."""
    name: str
    what: str                   # the network, in README's words
    file: str                   # under pretrained/ (a folder of <kind>.pdparams where the spec ships several)
    spec: ExampleSpec
    kind: str                   # the kind of network the file holds
    train_args: Tuple[str, ...]  # the training command's arguments beyond the kind's (--config-name first)
    half: bool                  # ship float16
    demo: Tuple[str, ...]       # Hydra arguments of the demo but the mode (--config-name first where one is used)
    metrics: Callable           # eval_metrics.json -> {name: value}, recorded and checked
    modes: Tuple[str, ...] = ("eval",)
    needs: Tuple[str, ...] = field(default=())   # inputs outside the project (the demo is skipped without them)
    trained_by: str = ""        # the documented command, where it is not the plain training command (a script)

    @property
    def example(self) -> str:
        return self.spec.name

    @property
    def script(self) -> str:
        return self.spec.script

    def _split(self):
        """(config name or None, the other training arguments)."""
        if self.train_args[:1] == ("--config-name",):
            return self.train_args[1], self.train_args[2:]
        return None, self.train_args

    @property
    def train(self) -> str:
        """The documented command that made the weights."""
        name, args = self._split()
        return self.trained_by or self.spec.train_command(self.kind, *args, config_name=name)

    @property
    def checkpoint(self) -> str:
        """The checkpoint the training command writes, which ``export`` cuts the file from."""
        name, args = self._split()
        cfg = compose_config(name or self.spec.name, [*args, *filter(None, [self.spec.kind_args[self.kind]])])
        return osp.relpath(self.spec.checkpoint(cfg.output_dir, self.kind), PROJECT_ROOT)

    @property
    def nets(self) -> Callable:
        return self.spec.weights[self.kind]


def _fwi(m):  # and the baseline: every map the training models' mean velocity at each depth
    return {**{k: m[k] for k in ("MAE", "RMSE", "SSIM", "MAE_mps", "data_misfit")},
            **{f"depth_mean_{k}": m["baseline_depth_mean"][k] for k in ("MAE", "SSIM")}}


def _ava(m):  # the network and the classical inversion of the same run length, away from the wells
    return {f"{method}_{k}": m["methods"][method][k] for method in ("gdrnn", "gd") for k in ("vp_PCC", "vp_MAE")}


def _sr(m):
    return {f"{name}_{k}": m[name][k] for name in ("bicubic", "diffusion", "supervised") for k in ("PSNR", "SSIM")}


# a held-out FlatVel-like set of 50 samples (seed 2025: none of them is in the training set, seed 2024)
FLATVEL_DEMO = ("GENERATE.out_dir=data_gen/flatvel_demo", "GENERATE.seed=2025", "GENERATE.n_train=50",
                "GENERATE.n_test=50", "GENERATE.file_size=50")
GDRNN_DEMO = ("EVAL.n_iter_long=0",)  # the classical methods run as long as the network, not 30 iterations too
# every 4th Marmousi trace (200 of 800; the wells are the same traces 100, 300, 500, 700), a quarter of the time
MARMOUSI_DEMO = ("DATA.out_dir=data_gen/gdrnn_marmousi_demo", "DATA.marmousi.decimate_x=4", "DATA.wells=[25,75,125,175]",
                 "EVAL.blind_trace=100")
# the shipped GDRNN weights were trained in one process, before TRAIN.nprocs: 2 and its per-process batches
GDRNN_ONE_PROCESS = ("TRAIN.nprocs=1", "TRAIN.batch_size=16", "TRAIN.well_batch_size=8")
MD_DEMO = ("EVAL.n_items=4",)  # 4 of the 24 held-out test sections
MD_FINETUNED = ("output_dir=outputs/md_diffusion_finetuned",)  # where scripts/md_diffusion_finetune.sh trains

ENTRIES: Dict[str, Entry] = {e.name: e for e in (
    Entry("velocitygan", "VelocityGAN generator, default CPU config", "velocitygan.pdparams", VELOCITYGAN, "velocitygan",
          (), True, ("output_dir=outputs/demo/velocitygan", "EVAL.pretrained_model_path=pretrained/velocitygan.pdparams",
                     *FLATVEL_DEMO), _fwi, trained_by="bash scripts/velocitygan_cpu.sh"),
    Entry("inversionnet", "InversionNet baseline (VelocityGAN without critic)", "inversionnet.pdparams", VELOCITYGAN,
          "inversionnet", ("output_dir=outputs/inversionnet",), True,
          ("output_dir=outputs/demo/inversionnet", "EVAL.pretrained_model_path=pretrained/inversionnet.pdparams",
           *FLATVEL_DEMO), _fwi),
    Entry("gdrnn_family", "GDRNN trained on the family of random sections", "gdrnn_family/gdrnn.pdparams", GDRNN,
          "gdrnn", ("--config-name", "gdrnn_family", *GDRNN_ONE_PROCESS), False,
          ("output_dir=outputs/demo/gdrnn_family", "EVAL.pretrained_model_path=pretrained/gdrnn_family",
           *GDRNN_DEMO), _ava),
    Entry("gdrnn_marmousi", "GDRNN family model fine-tuned on Marmousi", "gdrnn_marmousi/gdrnn.pdparams", GDRNN, "gdrnn",
          ("--config-name", "gdrnn_marmousi", *GDRNN_ONE_PROCESS, "output_dir=outputs/gdrnn_marmousi_finetuned",
           "TRAIN.init_from=outputs/gdrnn_family/gdrnn/checkpoint.pdparams", "TRAIN.epochs=5",
           "TRAIN.schedule.start_steps=6", "TRAIN.schedule.grow_epochs=1"), False,
          ("--config-name", "gdrnn_marmousi", "output_dir=outputs/demo/gdrnn_marmousi",
           "EVAL.pretrained_model_path=pretrained/gdrnn_marmousi", *MARMOUSI_DEMO, *GDRNN_DEMO), _ava,
          needs=(f"{SHARED}/marmousi/poststack_model.npz",)),
    Entry("md_diffusion", "MD Diffusion, conditional diffusion (weight average)", "md_diffusion/diffusion.pdparams",
          MD_DIFFUSION, "diffusion", MD_FINETUNED, True,
          ("output_dir=outputs/demo/md_diffusion", "EVAL.pretrained_model_path=pretrained/md_diffusion", *MD_DEMO), _sr,
          modes=("sample", "eval"), trained_by="bash scripts/md_diffusion_finetune.sh"),
    Entry("md_supervised", "MD Diffusion's supervised UNet baseline (weight average)", "md_diffusion/supervised.pdparams",
          MD_DIFFUSION, "supervised", MD_FINETUNED, True,
          ("output_dir=outputs/demo/md_diffusion", "EVAL.pretrained_model_path=pretrained/md_diffusion", *MD_DEMO), _sr,
          modes=("sample", "eval"), trained_by="bash scripts/md_diffusion_finetune.sh"),
)}


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _output_dir(entry: Entry) -> str:
    return osp.join(PROJECT_ROOT, next(a.split("=", 1)[1] for a in entry.demo if a.startswith("output_dir=")))


def demo_args(entry: Entry, mode: str):
    """The script's arguments for one demo step: ``[--config-name X] mode=<mode> <overrides>``."""
    head = list(entry.demo[:2]) if entry.demo[0] == "--config-name" else []
    return [*head, f"mode={mode}", *entry.demo[len(head):]]


def demo_command(entry: Entry, mode: str) -> str:
    """The shell command of one demo step, as README writes it (run from the project root)."""
    return " ".join(["python", f"examples/{entry.example}/{entry.script}.py", *demo_args(entry, mode)])


def demo_metrics(entry: Entry, output_dir: str) -> Dict[str, float]:
    return {k: float(v) for k, v in entry.metrics(json.load(open(osp.join(output_dir, "eval_metrics.json")))).items()}


def missing_inputs(entry: Entry):
    return [p for p in entry.needs if not osp.exists(osp.join(PROJECT_ROOT, p))]


def export(names) -> None:
    from ppsci_ext.train.checkpoint import export_weights

    for name in names:
        e = ENTRIES[name]
        out = osp.join(FOLDER, e.file)
        export_weights(e.checkpoint, out, e.nets, e.half)
        print(f"{e.checkpoint} -> {osp.relpath(out, PROJECT_ROOT)} ({os.path.getsize(out) / 1e6:.2f} MB)")


def run_demo(entry: Entry) -> Tuple[Dict[str, float], float]:
    """Run the demo's commands (a subprocess each, as a user would) -> (its metrics, seconds)."""
    t0 = time.perf_counter()
    for mode in entry.modes:
        cmd = [sys.executable, osp.join(PROJECT_ROOT, "examples", entry.example, f"{entry.script}.py"),
               *demo_args(entry, mode)]
        subprocess.run(cmd, check=True, cwd=PROJECT_ROOT)
    return demo_metrics(entry, _output_dir(entry)), time.perf_counter() - t0


def manifest() -> Dict:
    return json.load(open(MANIFEST)) if osp.isfile(MANIFEST) else {}


def table() -> str:
    """README's markdown table of the shipped weights, from the manifest (tests/test_pretrained.py compares)."""
    rec = manifest()
    rows = ["| weights | network | size | trained by | demo (`python -m ppsci_ext.pretrained demo <name>`) |",
            "|---|---|---|---|---|"]
    for e in ENTRIES.values():
        r = rec.get(e.file)
        if r is None:
            raise KeyError(f"{e.file} is not in {MANIFEST}: python -m ppsci_ext.pretrained record {e.name}")
        shown = ", ".join(f"{k} {v:.4g}" for k, v in r["demo_metrics"].items())
        rows.append(f"| [`pretrained/{e.file}`](pretrained/{e.file}) | {e.what} | {r['bytes'] / 1e6:.2f} MB, "
                    f"{r['dtype']} | `{e.train}` | `{e.name}`: {shown} |")
    return "\n".join(rows)


def main(argv) -> None:
    if argv == ["table"]:
        return print(table())
    if not argv or argv[0] not in ("export", "demo", "record"):
        raise SystemExit(__doc__)
    names = argv[1:] or list(ENTRIES)
    unknown = [n for n in names if n not in ENTRIES]
    if unknown:
        raise SystemExit(f"unknown weights {unknown}; known: {list(ENTRIES)}")
    if argv[0] == "export":
        return export(names)
    record, done, rows = manifest(), set(), []
    for name in names:
        e = ENTRIES[name]
        if missing_inputs(e):
            rows.append(f"{name:15s} skipped: {', '.join(missing_inputs(e))} not found")
            continue
        key = (e.example, e.demo)  # one run serves entries that share a demo (MD Diffusion's two kinds)
        metrics, seconds = run_demo(e) if key not in done else (demo_metrics(e, _output_dir(e)), 0.0)
        done.add(key)
        shown = "  ".join(f"{k} {v:.4g}" for k, v in metrics.items())
        rows.append(f"{name:15s} {seconds:5.0f} s  {osp.relpath(_output_dir(e), PROJECT_ROOT)}  {shown}")
        if argv[0] == "record":
            path = osp.join(FOLDER, e.file)
            record[e.file] = {"trained_by": e.train, "exported_from": e.checkpoint,
                              "dtype": "float16" if e.half else "float32", "bytes": os.path.getsize(path),
                              "sha256": sha256(path), "demo": [demo_command(e, m) for m in e.modes],
                              "demo_metrics": metrics}
            write_json(MANIFEST, record)
    print("\nshipped weights, demo results (seconds; outputs: eval_metrics.json, figures):")
    print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
