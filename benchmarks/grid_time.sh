#!/usr/bin/env bash
# `dvc repro` of one grid timed from a fresh clone of this checkout's HEAD (issue #22's grid budgets), alone on
# the machine:
#   DISTRACK_DATA_ROOT=../shared/data DISTRACK_MODELS_ROOT=../shared/models bash benchmarks/grid_time.sh grids/wave1.yaml
# The grid file's `grid` section replaces the clone's params.yaml one, and the clone's committed records of
# that profile are removed first: a fresh clone keeps them, and its repro would then only re-distil the sets
# (the runner skips cells whose records are current). The clone runs this checkout's virtual environment with
# its own code first on PYTHONPATH, so edits here during the run do not reach it.
# Prints the repro's seconds, its stage count and records; the clone is deleted afterwards unless KEEP=1.
set -euo pipefail
grid=${1:?usage: grid_time.sh GRID_FILE}
: "${DISTRACK_DATA_ROOT:?set DISTRACK_DATA_ROOT to the datasets root}"
here=$(cd "$(dirname "$0")/.." && pwd)
grid=$(cd "$(dirname "$grid")" && pwd)/$(basename "$grid")
export PATH="$here/.venv/bin:$PATH"
clone=$(mktemp -d)/grid-time
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$(dirname "$clone")"' EXIT
git clone -q "$here" "$clone"
cd "$clone"
export PYTHONPATH="$clone${PYTHONPATH:+:$PYTHONPATH}"
profile=$(python - "$grid" <<'PY'
import sys
import yaml
grid = yaml.safe_load(open(sys.argv[1]))["grid"]
params = yaml.safe_load(open("params.yaml"))
params["grid"] = grid
with open("params.yaml", "w") as handle:
    yaml.safe_dump(params, handle, sort_keys=False)
print(grid["profile"])
PY
)
rm -rf "leaderboard/results/$profile"
echo "grid $(basename "$grid") at $(git rev-parse --short HEAD), $(nproc) cores, clone $clone"
start=$(date +%s)
dvc repro --quiet
seconds=$(( $(date +%s) - start ))
stages=$(dvc stage list | wc -l)  # the grid's stages (dvc.lock also keeps the committed grid's)
records=$(find "leaderboard/results/$profile" -name '*.json' | wc -l)
echo "dvc repro: ${seconds} s ($(( seconds / 60 )) min $(( seconds % 60 )) s), ${stages} stages, ${records} records"
