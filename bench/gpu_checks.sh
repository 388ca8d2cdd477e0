#!/usr/bin/env bash
# The GPU checks of issue 12, as one run on a lent GPU machine (nvidia-h200, at most about 8.5 minutes):
#   1. autograde doctor   2. the GPU tests (tests/test_gpus.py, test_doctor.py: no skips on a GPU)
#   3. the run tolerance measured on the GPU (bench/run_tolerance.py)
#   4. the grading benchmark (bench/gpu_bench.py): s per submission with 1 and with 4 submissions per
#      GPU, and the cell scores' agreement with the CPU's and between two GPU gradings.
# Everything lands in $OUT (the device tool's folder), or out/gpu: gpu_checks.log, gpu_bench.md, ...
# From the session, after `bash bench/gpu_wheels.sh` here:
#   run(command="bash bench/gpu_checks.sh", carry=[".whl"], timeout_s=600)
# Record the device, the times and the agreement in BENCHMARKS.md.
set -uo pipefail
cd "$(dirname "$0")/.."
DEST=${OUT:-out/gpu}
mkdir -p "$DEST"
exec > >(tee "$DEST/gpu_checks.log") 2>&1
export PYTHONUNBUFFERED=1 HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
PY=$(command -v python3)
if [ -d .whl ]; then  # the image lacks nbgrader & co: install the carried wheels where sandboxed kernels see them too
  SITE=/opt/autograde-site
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" .whl/*.whl || exit 3
  PURELIB=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  printf '%s\n%s\n' "$SITE" "$PWD" > "$PURELIB/autograde-device.pth"  # like `pip install -e .`
  export PATH="$SITE/bin:$PATH"
fi
step() { echo; echo "== $1 ($SECONDS s)"; }
step "0. the machine"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PY" -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0))"
nproc; command -v bwrap || echo "no bwrap: kernels run unsandboxed here (the doctor says so)"
for gib in 8 32 256; do  # the sandbox caps a kernel's address space (Limits.memory_bytes, 8 GiB): does CUDA start under it?
  "$PY" -c "import resource; resource.setrlimit(resource.RLIMIT_AS, ($gib << 30, $gib << 30)); import torch; torch.zeros(1, device='cuda'); print('CUDA starts under RLIMIT_AS $gib GiB')" 2>&1 | tail -1
done
step "1. autograde doctor"
timeout 150 "$PY" -m autograde.cli doctor; echo "doctor exit status: $?"
step "2. GPU tests"
timeout 240 "$PY" -m pytest -q -p no:cacheprovider -rs tests/test_gpus.py tests/test_doctor.py; echo "tests exit status: $?"
step "3. run tolerance on the GPU"
CUBLAS_WORKSPACE_CONFIG=:4096:8 timeout 90 "$PY" bench/run_tolerance.py | tee "$DEST/run_tolerance_gpu.txt"
step "4. grading benchmark"
WORK=$(mktemp -d)  # the graded classes stay here: only the figures and the logs go to $DEST
timeout $((500 - SECONDS)) "$PY" bench/gpu_bench.py --out "$WORK" --budget-s $((480 - SECONDS))
cp "$WORK"/gpu_bench.md "$WORK"/gpu_bench.json "$DEST/" 2>/dev/null
tar -czf "$DEST/grading_logs.tar.gz" -C "$WORK" $(cd "$WORK" && ls *.log 2>/dev/null)
step "done"
