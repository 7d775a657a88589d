#!/usr/bin/env bash
# bench/gpu.sh: the GPU side of issue 6. Runs on a machine with an NVIDIA GPU, its driver and
# PyTorch, from the bundle that bench/cuda_build.sh makes (no Rust toolchain, no network):
#   1. the CUDA parity tests (tests/*: CPU and CUDA give the same outputs and gradients),
#   2. `xtask bench train --device cuda`, with bench/torch_reference.py on the same GPU beside
#      it, writing into results/bench/ of the bundle.
#
#   cd gpu-bundle && bash bench/gpu.sh [more bench train options, e.g. --passes 5]
#   PYTHON=/path/to/python bash bench/gpu.sh     # the Python that has torch (default python3)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
py=${PYTHON:-python3}
die() { echo "gpu.sh: ERROR: $*" >&2; exit 1; }

[ -x ./xtask ] || die "no ./xtask in $here: run this from the bundle made by bench/cuda_build.sh"
command -v nvidia-smi >/dev/null || die "nvidia-smi not found: this needs an NVIDIA GPU and driver"
gpu=$(nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader | head -n 1) ||
  die "nvidia-smi failed (no GPU visible?)"
echo "GPU: $gpu"
torch_dir=$("$py" -c 'import torch, os; print(os.path.dirname(torch.__file__))' 2>/dev/null) ||
  die "PyTorch does not import in '$py' (set PYTHON to the Python that has torch)"
torch_cuda=$("$py" -c 'import torch; print(torch.version.cuda or "")')
"$py" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' ||
  die "PyTorch ($torch_dir, CUDA '$torch_cuda') sees no GPU"
echo "PyTorch: $torch_dir (CUDA $torch_cuda)"

# The bundle's kernels are PTX from nvcc 13.0: the driver must support CUDA 13 (R580+).
driver=$(echo "$gpu" | cut -d, -f2 | tr -d ' ')
[ "${driver%%.*}" -ge 580 ] ||
  die "driver $driver is older than R580 and cannot load CUDA 13.0 PTX (see bench/README.md)"
# The binary links the CUDA libraries of one major version; PyTorch must ship the same.
libs=$(sed -n 's/^cuda_libs=//p' BUILD_INFO)
[ "${torch_cuda%%.*}" = "$libs" ] ||
  die "the bundle wants CUDA $libs libraries, PyTorch has CUDA $torch_cuda: rebuild with FER_CUDA_LIBS=${torch_cuda%%.*} bench/cuda_build.sh"

# cuBLAS, cuRAND, NVRTC and cudart come from PyTorch's pip packages (site-packages/nvidia/*/lib,
# or nvidia/cu13/lib), libcuda from the driver.
shopt -s nullglob
dirs=("$(dirname "$torch_dir")"/nvidia/*/lib "$torch_dir/lib")
LD_LIBRARY_PATH=$(IFS=:; echo "${dirs[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
missing=$(ldd ./xtask tests/* | grep 'not found' | sort -u || true)
[ -z "$missing" ] || die "shared libraries not found (LD_LIBRARY_PATH=$LD_LIBRARY_PATH):
$missing"

# xtask finds bench/, data-manifests/ and experiments/ here, not at its build path.
export FER_WORKSPACE_ROOT=$here FER_REQUIRE_GPU=1
echo "== GPU tests"
for t in tests/*; do
  echo "-- $t"
  "$t" --nocapture --test-threads 1
done
echo "== bench train on cuda"
mkdir -p results/bench
./xtask bench train --device cuda --python "$py" --out "$here/results/bench" "$@"
echo "== done: results in $here/results/bench"
