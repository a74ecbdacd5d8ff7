#!/usr/bin/env bash
# scripts/setup.sh — install everything attend needs on a fresh Debian 12, as root,
# without questions. Safe to run again: when every package is already installed it only
# checks, and skips apt entirely (so CI re-runs are fast).
#
#   build-essential cmake        compiler (GCC 12) and CMake 3.25
#   libdnnl-dev                  oneDNN: the GEMM behind attend::matmul
#   ocl-icd-opencl-dev           oneDNN's CMake package calls find_package(OpenCL) (its GPU
#                                runtime); apt only recommends it, and we skip recommends
#   nlohmann-json3-dev           safetensors headers are JSON
#   libcli11-dev                 the attend command line
#   libgtest-dev libgmock-dev    the test suite
#   libbenchmark-dev             bench/ (Google Benchmark)
#   libpng-dev                   loss curves and attention heatmaps (PNG)
#   libcpp-httplib-dev           attend serve's HTTP server (cpp-httplib, found with pkg-config)
#   libpcre2-dev                 tokenizer.json's regex Split pre-tokenizers (\p{L}, lookaheads)
#   nodejs npm                   tests/serve: the official openai npm client against attend serve
#                                (npm only when no npm is on PATH: NodeSource's nodejs has its own)
#   chromium fonts-dejavu-core   the browser test of the attention page (headless)
#   clang libclang-rt-dev libomp-dev  libFuzzer targets under fuzz/ (run by scripts/test.sh)
#   libopenblas-dev libblis-dev  the other BLAS candidates, measured by bench/gemm_libraries
#   libopenblas0-openmp          OpenBLAS on OpenMP: `attend bench` points its PyTorch child (only
#                                it, through LD_LIBRARY_PATH) at it, so torch's BLAS shares torch's
#                                thread pool; the system default stays openblas-pthread
#   python3-torch python3-numpy  PyTorch 1.13: tests/reference/*.py compute expected values
#   python3-jinja2               tests/reference/chat_templates.py: the chat-template renderings
#   libopenmpi-dev openmpi-bin   MPI: data-parallel `attend train` (docs/distributed.md); its tests
#                                run mpirun on localhost
#   python3-dev pybind11-dev     the Python module (python/: import attend)
#   python3-pytest               its tests (python/tests, run by CTest)
#   python3-setuptools python3-pip  pip install . --no-build-isolation (pyproject.toml, offline)
#   git ca-certificates          cloning the repository
set -euo pipefail

packages=(
  build-essential cmake
  libdnnl-dev ocl-icd-opencl-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libpng-dev chromium fonts-dejavu-core
  libcpp-httplib-dev libpcre2-dev pkg-config nodejs
  clang libclang-rt-dev libomp-dev
  libopenblas-dev libblis-dev libopenblas0-openmp
  python3-torch python3-numpy python3-jinja2
  libopenmpi-dev openmpi-bin
  python3-dev pybind11-dev python3-pytest python3-setuptools python3-pip
  git ca-certificates
)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=()
  if ((EUID != 0)); then
    if command -v sudo >/dev/null; then
      sudo=(sudo)
    else
      echo "setup: run as root (apt-get needs it) to install: ${missing[*]}" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update
  "${sudo[@]}" apt-get install -y --no-install-recommends "${packages[@]}"
else
  echo "setup: all ${#packages[@]} packages already installed"
fi

# The reference scripts run with Debian's interpreter; fail here, not halfway through the tests.
/usr/bin/python3 -c 'import torch, numpy, pytest; print("setup: torch", torch.__version__, "numpy", numpy.__version__, "pytest", pytest.__version__)'
cmake --version | head -n 1
