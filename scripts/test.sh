#!/usr/bin/env bash
# Set everything up, then run the whole check: ruff, mypy and the test suite (real Xvfb,
# real bubblewrap, real apps). Fails if pytest collects no tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/ruff check src tests
.venv/bin/ruff format --check src tests
.venv/bin/mypy
# pytest exits 5 when it collected nothing: that must fail here, and it does (set -e).
.venv/bin/python -m pytest "$@"
