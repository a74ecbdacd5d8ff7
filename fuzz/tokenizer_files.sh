#!/usr/bin/env bash
# Builds fuzz/tokenizer_files.cpp with clang (libFuzzer + ASan + UBSan) and runs it for a bounded
# time over a freshly generated seed corpus. Usage: fuzz/tokenizer_files.sh [SECONDS] [WORK_DIR]
# Exit status non-zero when the fuzzer finds a crash (the reproducer is left in WORK_DIR).
set -euo pipefail
seconds=${1:-60}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${2:-$root/build-fuzz/tokenizer_files}
mkdir -p "$work/corpus"
# The tokenizers need only the atomic file writer from the rest of the library (nlohmann_json is
# header-only).
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/include" -I"$root/src" "$root/fuzz/tokenizer_files.cpp" "$root"/src/tokenizers/*.cpp \
  "$root/src/core/atomic_file.cpp" \
  -o "$work/fuzz_tokenizer_files"
python3 "$root/fuzz/make_tokenizer_corpus.py" "$work/corpus"
cd "$work"
./fuzz_tokenizer_files corpus -max_total_time="$seconds" -max_len=32768 -rss_limit_mb=2048 -print_final_stats=1
