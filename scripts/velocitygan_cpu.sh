#!/usr/bin/env bash
# The main job on a fresh machine: install, make the synthetic OpenFWI-style data
# by acoustic modelling, train VelocityGAN, evaluate it and draw the figures.
# Every setting is in conf/velocitygan.yaml; extra arguments are passed to every
# step as Hydra overrides (e.g. `bash scripts/velocitygan_cpu.sh output_dir=outputs/run2`).
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import paddle" 2>/dev/null || python -m pip install -q "paddlepaddle>=3.3,<3.4"
python -m pip install -q -e .
export GLOG_minloglevel=2
for mode in generate train eval; do
  python examples/velocitygan/VelocityGAN.py mode=$mode "$@"
done
