#!/usr/bin/env bash
# Installs what the benchmarks need beyond `make run`'s packages (bench/requirements.txt) into
# .venv, as scripts/bootstrap.sh installs the rest: skipped when its stamp is there.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=".venv/.installed-bench-$(sha256sum bench/requirements.txt | cut -c1-16)"
if [ ! -f "$stamp" ]; then
    printf '\033[1m==> %s\033[0m\n' "Installing the benchmarks' packages (bench/requirements.txt)"
    .venv/bin/python -m pip install --quiet --requirement bench/requirements.txt
    touch "$stamp"
fi
