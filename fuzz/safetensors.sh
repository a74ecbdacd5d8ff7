#!/usr/bin/env bash
# Builds fuzz/safetensors.cpp with clang (libFuzzer + ASan + UBSan) and runs it for a bounded
# time over a freshly generated seed corpus. Usage: fuzz/safetensors.sh [SECONDS] [WORK_DIR]
# Exit status non-zero when the fuzzer finds a crash (the reproducer is left in WORK_DIR).
set -euo pipefail
seconds=${1:-60}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${2:-$root/build-fuzz/safetensors}
mkdir -p "$work/corpus"
src=$root/src
# The reader and what a Tensor needs, no oneDNN: the target links in seconds.
clang++ -std=c++20 -O1 -g -fopenmp -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/include" -I"$src" "$root/fuzz/safetensors.cpp" \
  "$src/io/safetensors.cpp" "$src/io/mapped_file.cpp" "$src/io/config_json.cpp" "$src/models/config.cpp" \
  "$src/core/tensor.cpp" "$src/core/atomic_file.cpp" "$src/core/random.cpp" "$src/core/parallel.cpp" "$src/autograd/tape.cpp" \
  "$src/core/low_precision.cpp" "$src/core/profile.cpp" \
  "$src/ops/elementwise.cpp" -o "$work/fuzz_safetensors"
python3 "$root/fuzz/make_safetensors_corpus.py" "$work/corpus"
cd "$work"
OMP_NUM_THREADS=1 ./fuzz_safetensors corpus -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 \
  -print_final_stats=1
