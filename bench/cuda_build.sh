#!/usr/bin/env bash
# bench/cuda_build.sh: builds the CUDA release binaries on a machine WITHOUT a GPU and packs
# them, with bench/gpu.sh and the PyTorch reference, into one folder (the GPU bundle) that
# runs on a GPU machine with PyTorch but no Rust toolchain (issue 6).
#
#   bench/cuda_build.sh            # cuda feature, links against the CUDA 12 libraries
#   FER_CUDA_FEATURES=cudnn bench/cuda_build.sh
#
# Settings (environment):
#   FER_CUDA_VENV      venv for the pip CUDA packages (default: <target dir>/cuda-venv)
#   FER_CUDA_LIBS      12 or 13 (default 12): the CUDA major version of the libraries the GPU
#                      machine's PyTorch ships (python3 -c 'import torch; print(torch.version.cuda)').
#                      The binary links libcublas.so.<major> etc. and finds them there.
#   FER_CUDA_FEATURES  cuda (default) or cudnn
#   FER_GPU_BUNDLE     output folder (default: <target dir>/gpu-bundle)
#   CUDA_COMPUTE_CAP   GPU architecture of the kernels (default 90: H100/H200)
#   CARGO_TARGET_DIR, CARGO_BUILD_JOBS as usual for cargo.
#
# Why it is built this way:
# - The only nvcc on the Python package index is CUDA 13's (the -cu12 nvcc wheels carry ptxas
#   but not the nvcc driver, cicc or cudafe++), so candle-kernels is always compiled by nvcc
#   13.0: its PTX needs a driver that supports CUDA 13.0 (R580 or newer).
# - cudarc (through candle) links the CUDA libraries at build time (`dynamic-linking`), so the
#   linker needs libcuda.so, libcublas.so, ... The pip wheels only have the versioned files
#   (libcublas.so.12), and no libcuda at all (that comes with the driver), so we make a link
#   folder: unversioned symlinks to the wheels' libraries and a stub libcuda.so built from
#   cuda.h's function names (what the toolkit's stubs/libcuda.so is). At run time the real
#   libraries are used: the driver's libcuda and PyTorch's cuBLAS/cuRAND/NVRTC/cudart.
# - CUDARC_CUDA_VERSION pins cudarc's bindings to the libraries' version (otherwise it asks
#   `nvcc --version`, which says 13.0).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$repo/target}
venv=${FER_CUDA_VENV:-$target/cuda-venv}
libs=${FER_CUDA_LIBS:-12}
features=${FER_CUDA_FEATURES:-cuda}
bundle=${FER_GPU_BUNDLE:-$target/gpu-bundle}
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}

# Pinned so that a rebuild gets the same toolchain. nvcc 13.0 (oldest CUDA 13: widest driver
# support); CUDA 12.4 libraries (PyTorch's cu12 wheels ship 12.4 or newer, and newer minor
# versions keep the 12.4 symbols).
compiler=(nvidia-cuda-nvcc==13.0.88 nvidia-nvvm==13.0.88 nvidia-cuda-crt==13.0.88
  nvidia-cuda-runtime==13.0.88 nvidia-cuda-cccl==13.0.85)
case $libs in
  12)
    lib_pkgs=(nvidia-cuda-runtime-cu12==12.4.127 nvidia-cuda-nvrtc-cu12==12.4.127
      nvidia-cublas-cu12==12.4.5.8 nvidia-curand-cu12==10.3.5.147)
    cudnn_pkg=nvidia-cudnn-cu12==9.10.2.21
    cudarc_version=12040
    ;;
  13)
    lib_pkgs=(nvidia-cuda-nvrtc==13.0.88 nvidia-cublas==13.0.2.14 nvidia-curand==10.4.0.35)
    cudnn_pkg=nvidia-cudnn-cu13==9.13.0.50
    cudarc_version=13000
    ;;
  *) echo "FER_CUDA_LIBS must be 12 or 13, not '$libs'" >&2; exit 2 ;;
esac
case $features in
  cuda) ;;
  cudnn) lib_pkgs+=("$cudnn_pkg") ;;
  *) echo "FER_CUDA_FEATURES must be cuda or cudnn, not '$features'" >&2; exit 2 ;;
esac

echo "== pip packages into $venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q "${compiler[@]}" "${lib_pkgs[@]}"
nv=$("$venv/bin/python" -c 'import nvidia; print(list(nvidia.__path__)[0])')
cu13=$nv/cu13

echo "== link folder (CUDA $libs libraries)"
root=$venv/fer-cuda-root-$libs
rm -rf "$root" && mkdir -p "$root/lib"
link() { # link NAME FILE: lib/NAME.so -> FILE of a wheel
  [ -e "$2" ] || { echo "no $2 in the pip packages" >&2; exit 1; }
  ln -s "$2" "$root/lib/$1.so"
}
if [ "$libs" = 12 ]; then
  link libcudart "$nv/cuda_runtime/lib/libcudart.so.12"
  link libnvrtc "$nv/cuda_nvrtc/lib/libnvrtc.so.12"
  link libcublas "$nv/cublas/lib/libcublas.so.12"
  link libcublasLt "$nv/cublas/lib/libcublasLt.so.12"
  link libcurand "$nv/curand/lib/libcurand.so.10"
  cuda_h=$nv/cuda_runtime/include/cuda.h
  [ "$features" = cudnn ] && link libcudnn "$nv/cudnn/lib/libcudnn.so.9"
else
  link libcudart "$cu13/lib/libcudart.so.13"
  link libnvrtc "$cu13/lib/libnvrtc.so.13"
  link libcublas "$cu13/lib/libcublas.so.13"
  link libcublasLt "$cu13/lib/libcublasLt.so.13"
  link libcurand "$cu13/lib/libcurand.so.10"
  cuda_h=$cu13/include/cuda.h
  [ "$features" = cudnn ] && link libcudnn "$nv/cudnn/lib/libcudnn.so.9"
fi
# Stub libcuda: every cu* name in cuda.h (the names its macros map to included), soname
# libcuda.so.1 so that the binary asks for the driver's library. Each returns 100,
# CUDA_ERROR_NO_DEVICE: put first on LD_LIBRARY_PATH here, it lets the binaries start and
# take their no-GPU paths (the parity tests skip).
grep -ohE '\bcu[A-Z][A-Za-z0-9_]*\b' "$cuda_h" | sort -u | sed 's/.*/int &(void) { return 100; }/' \
  > "$root/libcuda_stub.c"
cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$root/lib/libcuda.so" "$root/libcuda_stub.c"

export NVCC=$cu13/bin/nvcc PATH=$cu13/bin:$PATH
export CUDA_ROOT=$root CUDARC_CUDA_VERSION=$cudarc_version
export CUDAFORGE_THREADS=${CARGO_BUILD_JOBS:-$(nproc)}
# Other CUDA roots would be searched by cudarc before ours.
unset CUDA_HOME CUDA_PATH CUDA_TOOLKIT_ROOT_DIR CUDNN_LIB

echo "== cargo build (features $features)"
start=$SECONDS
cd "$repo"
cargo build --release -p xtask --features "$features"
# The GPU tests; --message-format gives the test binaries' paths.
# Built in the same package graph as xtask (-p xtask -p fer-models): for fer-models alone cargo
# unifies its dependencies' features differently and compiles candle and its kernels again.
cargo test --release -p xtask -p fer-models --features "xtask/$features,fer-models/$features" \
  --test cuda_parity --no-run --message-format=json \
  > "$target/gpu-tests.json"
echo "built in $((SECONDS - start)) s"

echo "== bundle in $bundle"
rm -rf "$bundle" && mkdir -p "$bundle/bench" "$bundle/tests"
cp "$target/release/xtask" "$bundle/"
"$venv/bin/python" - "$target/gpu-tests.json" "$bundle/tests" <<'EOF'
import json, shutil, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == ["test"]:
        shutil.copy(m["executable"], f"{sys.argv[2]}/{m['target']['name']}")
EOF
cp bench/gpu.sh bench/torch_reference.py "$bundle/bench/"
# xtask finds its workspace files (bench/*.py, data-manifests/, experiments/) under
# FER_WORKSPACE_ROOT, which gpu.sh sets to the bundle.
cp -r data-manifests experiments "$bundle/"
strip "$bundle/xtask" "$bundle"/tests/*
printf 'features=%s\ncuda_libs=%s\ncompute_cap=%s\ncommit=%s\n' "$features" "$libs" \
  "$CUDA_COMPUTE_CAP" "$(git rev-parse --short HEAD)" > "$bundle/BUILD_INFO"
echo "== shared libraries the binary needs (not found here: the GPU machine has them)"
ldd "$bundle/xtask" || true
# One compressed file to copy to the GPU machine (the binaries are mostly CUDA kernels and
# shrink about 8x).
tar -C "$(dirname "$bundle")" -cf - "$(basename "$bundle")" | xz -T0 -6 > "$bundle.tar.xz"
du -sh "$bundle" "$bundle.tar.xz"
