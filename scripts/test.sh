#!/usr/bin/env bash
# Install the package with its test dependencies and run the default test suite
# (checks marked `slow` are left out; run them with `python -m pytest -m slow`).
set -euo pipefail
cd "$(dirname "$0")/.."
# CPU paddle unless a paddle (e.g. paddlepaddle-gpu) is already installed
python -c "import paddle" 2>/dev/null || python -m pip install -q "paddlepaddle>=3.3,<3.4"
python -m pip install -q -e ".[test]"
export GLOG_minloglevel=2
python -m pytest -q "$@"
