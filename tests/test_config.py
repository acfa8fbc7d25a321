"""Every example config composes, and every key in conf/ says what it is (a comment on its line or just above)."""
import glob
import os
import re

import pytest

from ppsci_ext.runtime import PROJECT_ROOT
from ppsci_ext.testing.examples import compose_config

CONF = os.path.join(PROJECT_ROOT, "conf")
FILES = sorted(glob.glob(os.path.join(CONF, "**", "*.yaml"), recursive=True))
EXAMPLES = ["velocitygan", "velocitygan_paper", "velocitygan_openfwi", "velocitygan_cpu_long", "gdrnn",
            "gdrnn_marmousi", "gdrnn_family", "md_diffusion", "md_diffusion_paper"]


def uncommented_keys(path):
    lines = open(path, encoding="utf-8").read().splitlines()
    bad = []
    for i, line in enumerate(lines):
        if not re.match(r"^\s*[A-Za-z_][\w]*:", line) or line.lstrip().startswith("#"):
            continue
        above = lines[i - 1].strip() if i else ""
        if "#" not in line and not above.startswith("#"):
            bad.append(f"{os.path.relpath(path, PROJECT_ROOT)}:{i + 1}: {line.strip()}")
    return bad


@pytest.mark.parametrize("path", FILES, ids=lambda p: os.path.relpath(p, CONF))
def test_every_key_is_commented(path):
    assert uncommented_keys(path) == []


def test_the_check_finds_an_uncommented_key(tmp_path):
    (tmp_path / "x.yaml").write_text("# block\nA:\n  b: 1    # fine\n  c: 2\n")
    assert uncommented_keys(str(tmp_path / "x.yaml")) == [f"{os.path.relpath(tmp_path / 'x.yaml', PROJECT_ROOT)}:4: c: 2"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_configs_compose_with_the_shared_run_keys(name):
    cfg = compose_config(name)
    for key in ("mode", "seed", "device", "num_threads", "output_dir"):
        assert key in cfg
    assert os.path.isabs(cfg.output_dir)  # ${root:...}: the same folder whatever the current one


def test_velocitygan_network_sizes_follow_the_acquisition():
    cfg = compose_config("velocitygan", ["MODELLING.src_x=[0,35,69]", "GENERATE.models.nx=60", "GENERATE.models.nz=50"])
    g = cfg.MODEL.generator
    assert (g.n_sources, g.n_receivers, list(g.out_shape), list(cfg.MODEL.critic.in_shape)) == (3, 60, [50, 60], [50, 60])
    cfg = compose_config("velocitygan", ["MODELLING.rec_x=[0,10,20,30]"])
    assert cfg.MODEL.generator.n_receivers == 4
