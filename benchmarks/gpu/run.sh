#!/usr/bin/env bash
# The GPU acceptance run on a bare GPU machine whose Python already has torch (and torchvision,
# timm, pandas, scipy, scikit-image, pytest, pytest-benchmark): install the wheels carried in
# .whl/ (kornia, kornia-rs, platformdirs: see BENCHMARKS.md) and the project without
# dependencies, then run benchmarks/gpu/acceptance.py with --out "${OUT:-gpu-out}" and any
# arguments given here (e.g. --only throughput).
set -euo pipefail
cd "$(dirname "$0")/../.."
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
if compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/gibench-site .whl/*.whl
    export PYTHONPATH=/tmp/gibench-site${PYTHONPATH:+:$PYTHONPATH}
fi
"$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-cache-dir \
    -e . -e plugins/gibench-baselines
exec "$PY" benchmarks/gpu/acceptance.py --out "${OUT:-gpu-out}" "$@"
