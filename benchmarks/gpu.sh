#!/usr/bin/env bash
# Every GPU check of the suite in one call (issue #22): at most ~8 minutes on a lent GPU, figures in one JSON.
#
#   DISTRACK_DATA_ROOT=../shared/data bash benchmarks/gpu.sh [OUT_DIR]     (default: $OUT, else gpu-out)
#
# 1. the CUDA tests (tests/test_cuda.py: GPU vs CPU training and distillation, vectorised vs sequential,
#    each opt-in speed-up, peak memory), JUnit XML in OUT_DIR;
# 2. the CUDA harness (benchmarks/run.py): quick and standard profiles, dm (and mtt on quick) seconds per outer
#    iteration and peak memory at IPC 1/10/50, evaluation seconds per seed sequential / vectorised / TF32 /
#    channels_last / bf16 / compile;
# 3. where training the seeds together stops paying (benchmarks/vectorise_crossover.py);
# 4. OUT_DIR/gpu.json: the device, versions, test counts and every figure together; OUT_DIR/gpu.log: the console.
# Each step has its own time limit, so a hung step still leaves the others' figures. Seven files in all.
# Measured on an H200 (2026-12-04): about 3.5 minutes.
set -uo pipefail
out=${1:-${OUT:-gpu-out}}
mkdir -p "$out"
exec > >(tee "$out/gpu.log") 2>&1
python=${PYTHON:-python}
: "${DISTRACK_DATA_ROOT:?point DISTRACK_DATA_ROOT at the datasets (FSDD is timed)}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$out/nvidia-smi.csv" 2>&1

timeout 180 "$python" -m pytest -q -p no:cacheprovider -m cuda tests/test_cuda.py --junitxml "$out/cuda-tests.xml"
echo "cuda tests: exit $?"

for profile in quick standard; do  # mtt's standard experts would not fit the call: dm alone there
    techniques=$([ "$profile" = quick ] && echo dm,mtt || echo dm)
    timeout 150 "$python" -m benchmarks.run --device cuda --profiles "$profile" --techniques "$techniques" \
        --ipc 1,10,50 --accelerate channels_last,bf16,compile --json "$out/harness-$profile.json"
    echo "harness $profile: exit $?"
done

timeout 120 "$python" -m benchmarks.vectorise_crossover --device cuda --ipc 1,2,3,5,10,20,50 --epochs 20 \
    --json "$out/vectorise.json"
echo "vectorise crossover: exit $?"

"$python" - "$out" <<'PY'
import json, sys, xml.etree.ElementTree as ET
from pathlib import Path
import torch
out = Path(sys.argv[1])
report = {"torch": torch.__version__, "cuda": torch.version.cuda,
          "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
tests = out / "cuda-tests.xml"
if tests.is_file():
    suite = ET.parse(tests).getroot()
    suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
    report["tests"] = {key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")}
report["harness"] = {}
for profile in ("quick", "standard"):
    harness = out / f"harness-{profile}.json"
    report["harness"][profile] = json.loads(harness.read_text()) if harness.is_file() else None
crossover = out / "vectorise.json"
report["vectorise_crossover"] = json.loads(crossover.read_text()) if crossover.is_file() else None
(out / "gpu.json").write_text(json.dumps(report, indent=2))
print(f"wrote {out / 'gpu.json'}")
PY
