"""num_threads=auto: the faster thread count by measurement, cached per machine (ppsci_ext.threads)."""
import json
import time

import pytest

from ppsci_ext.runtime import compose_config
from ppsci_ext.runtime import resolve_threads
from ppsci_ext.threads import choose_threads

FACTS = {"cpu": "Test CPU 1", "cores": 2, "paddle": "3.3", "numpy": "1.26"}


class Fake:
    """A step whose time depends on the thread count set: ``seconds[n]``."""

    def __init__(self, seconds):
        self.seconds, self.n, self.calls = seconds, None, 0

    def set(self, n):
        self.n = n

    def step(self):
        self.calls += 1
        time.sleep(self.seconds[self.n])


@pytest.mark.parametrize("seconds, chosen", [({1: 0.01, 2: 0.04}, 1), ({1: 0.04, 2: 0.01}, 2),
                                             ({1: 0.030, 2: 0.029}, 1)])
def test_the_faster_count_is_chosen_and_a_near_tie_keeps_fewer(tmp_path, seconds, chosen):
    fake = Fake(seconds)
    n, why = choose_threads("fake net", fake.step, fake.set, (1, 2), repeats=2, facts=FACTS,
                            path=str(tmp_path / "t.json"))
    assert n == chosen and fake.n == chosen and fake.calls == 6
    assert "measured now" in why and "1 thread(s)" in why and "Test CPU 1" in why


def test_the_cache_is_used_on_the_same_machine_and_keyed_so_another_probes_again(tmp_path):
    path = str(tmp_path / "cache" / "t.json")
    fake = Fake({1: 0.01, 2: 0.03})
    assert choose_threads("net", fake.step, fake.set, (1, 2), repeats=1, facts=FACTS, path=path)[0] == 1
    calls = fake.calls
    n, why = choose_threads("net", fake.step, fake.set, (1, 2), repeats=1, facts=FACTS, path=path)
    assert n == 1 and fake.calls == calls and "cached in" in why  # not measured again
    other = Fake({1: 0.03, 2: 0.01})
    for facts, name in (({**FACTS, "cpu": "Test CPU 2"}, "net"), ({**FACTS, "paddle": "3.4"}, "net"),
                        (FACTS, "another net")):
        before = other.calls
        assert choose_threads(name, other.step, other.set, (1, 2), repeats=1, facts=facts, path=path)[0] == 2
        assert other.calls > before
    assert len(json.load(open(path))) == 4


def test_an_unwritable_cache_only_costs_the_measurement(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    fake = Fake({1: 0.01, 2: 0.03})
    n, why = choose_threads("net", fake.step, fake.set, (1, 2), repeats=1, facts=FACTS, path=str(blocker / "t.json"))
    assert n == 1 and "not cached" in why


def test_auto_is_a_number_on_the_cpu_and_null_on_a_gpu(tmp_path):
    cfg = compose_config("velocitygan", [f"output_dir={tmp_path}/o"])
    assert cfg.num_threads == "auto"
    gpu = compose_config("velocitygan", [f"output_dir={tmp_path}/o", "device=gpu"])
    resolve_threads(gpu, lambda c: pytest.fail("no probe on a GPU"))
    assert gpu.num_threads is None
    calls = []
    resolve_threads(cfg, lambda c: ("fake, equally fast at any count", lambda: calls.append(time.sleep(0.005))))
    assert cfg.num_threads == 1 and calls  # a tie keeps the fewer threads


def test_inference_processes_auto_are_the_usable_cores(monkeypatch):
    """INFER.nprocs=auto: the usable cores; a number as given; always 1 on a GPU; anything else is an error naming
    the key."""
    from ppsci_ext import runtime

    monkeypatch.setattr(runtime, "machine", lambda: dict(FACTS, cores=4))
    cfg = compose_config("md_diffusion", ["num_threads=2"])
    assert runtime.inference_procs(cfg, "INFER.nprocs") == 4
    cfg.INFER.nprocs = 3
    assert runtime.inference_procs(cfg, "INFER.nprocs") == 3
    cfg.device = "gpu"
    assert runtime.inference_procs(cfg, "INFER.nprocs") == 1
    cfg.device, cfg.INFER.nprocs = "cpu", 0
    with pytest.raises(ValueError, match="INFER.nprocs: expected auto or an integer >= 1, found 0"):
        runtime.inference_procs(cfg, "INFER.nprocs")


@pytest.mark.parametrize("vendor, flags, environ, set_", [
    ("AuthenticAMD", "fpu sse2 avx avx2 fma", {}, True),              # AMD with AVX2: MKL told
    ("GenuineIntel", "fpu sse2 avx avx2 avx512f", {}, False),         # Intel: MKL's own dispatch
    ("AuthenticAMD", "fpu sse2 avx", {}, False),                      # no AVX2
    ("AuthenticAMD", "fpu avx2", {"MKL_DEBUG_CPU_TYPE": ""}, False),  # the user's setting, even empty, stays
])
def test_mkl_is_told_the_cpu_type_only_on_amd_with_avx2(vendor, flags, environ, set_):
    from ppsci_ext import mkl_cpu_type

    cpuinfo = f"processor\t: 0\nvendor_id\t: {vendor}\nmodel name\t: X\nflags\t\t: {flags}\n\nprocessor\t: 1\n"
    env = dict(environ)
    assert mkl_cpu_type(cpuinfo, env) is set_
    assert env == ({"MKL_DEBUG_CPU_TYPE": "5", "PPSCI_EXT_MKL": "MKL_DEBUG_CPU_TYPE=5 (set by ppsci_ext)"} if set_
                   else environ)
