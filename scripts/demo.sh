#!/usr/bin/env bash
# A minute on a fresh clone: install, then run each example's eval with the shipped weights (pretrained/)
# on its built-in demo data (built by the project itself); metrics and figures land in outputs/demo/<name>/.
# The commands it runs are in README ("Pretrained weights"); `bash scripts/demo.sh velocitygan` runs one.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import paddle" 2>/dev/null || python -m pip install -q "paddlepaddle>=3.3,<3.4"
python -m pip install -q -e .
export GLOG_minloglevel=2
python -m ppsci_ext.pretrained demo "$@"
