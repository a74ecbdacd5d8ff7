#!/usr/bin/env bash
# fuzz/run.sh — builds every libFuzzer target in fuzz/ (fuzz/CMakeLists.txt, clang) and runs
# each over a freshly generated seed corpus, ATTEND_JOBS of them at a time (default 2, one
# thread each), within TOTAL_SECONDS of wall-clock time: each target gets TOTAL_SECONDS × lanes
# ÷ targets, lanes being ATTEND_JOBS or the number of targets if fewer.
# Usage: fuzz/run.sh [TOTAL_SECONDS] [TARGET...]   (default 240 s; all targets: fuzz/*.cpp)
# Builds into build-fuzz/ (ATTEND_FUZZ_BUILD_DIR), one work folder per target there; exit
# status non-zero when a target finds a crash (its reproducer stays in build-fuzz/<target>/).
set -euo pipefail
total=${1:-240}
shift || true
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${ATTEND_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${ATTEND_JOBS:-2}
targets=("$@")
if ((${#targets[@]} == 0)); then
  for f in "$root"/fuzz/*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi
mkdir -p "$build"
cmake -S "$root/fuzz" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=None > "$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j "$jobs" --target "${targets[@]/#/fuzz_}"

lanes=$((jobs < ${#targets[@]} ? jobs : ${#targets[@]}))
((lanes >= 1)) || lanes=1
seconds=$((total * lanes / ${#targets[@]}))
((seconds >= 1)) || seconds=1
corpora=$build/corpora
rm -rf "$corpora"
python3 "$root/fuzz/make_reader_corpus.py" "$corpora"
python3 "$root/fuzz/make_safetensors_corpus.py" "$corpora/safetensors"
python3 "$root/fuzz/make_tokenizer_corpus.py" "$corpora/tokenizer_files"

# run_target T: fuzz one target in build-fuzz/T; its verdict goes to build-fuzz/T/verdict.
run_target() {
  local t=$1 work=$build/$1
  rm -f "$work/verdict"
  mkdir -p "$work/corpus"
  cp -r "$corpora/$t/." "$work/corpus/" 2>/dev/null || true
  local max_len=4096
  [[ $t == tokenizer_files ]] && max_len=32768
  if [[ $t == chat_template ]]; then  # seeds: the real templates, and two that use most of the language
    max_len=8192
    cp "${ATTEND_SHARED_DATA:-$root/../shared/data}"/chat_templates/*.jinja "$work/corpus/"
    printf '%s' "{% macro m(a, b=2) %}{{ a ~ b }}{% endmacro %}{% set ns = namespace(n=0) %}{% for k, v in messages[1].items() if k != 'n' %}{{ m(k) }}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}" > "$work/corpus/seed_macro"
    printf '%s' "{%- for x in messages | selectattr('role', 'equalto', 'user') | map(attribute='n') | first -%} {{ x | tojson(indent=2) }} {%+ if x is mapping %}{{ x | dictsort }}{% endif +%}{% endfor %}{# c #}{% raw %}{{ }}{% endraw %}" > "$work/corpus/seed_filters"
  fi
  local dict=()  # the JSON readers start from JSON's tokens and the values that break checked readers
  case $t in hf_config|safetensors_index|train_options|checkpoint_metadata|safetensors) dict=(-dict="$root/fuzz/json.dict") ;; esac
  # One thread each (OpenMP): the lanes share the cores.
  if (cd "$work" && OMP_NUM_THREADS=1 "$build/fuzz_$t" corpus "${dict[@]}" -max_total_time="$seconds" -max_len="$max_len" \
        -rss_limit_mb=2048 -timeout=20 -print_final_stats=1 > "$work/log" 2>&1); then
    echo "fuzz $t: no finding in $seconds s ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$' || echo '?') inputs)"
    echo ok > "$work/verdict"
  else
    tail -n 40 "$work/log"
    echo "fuzz $t: FAILED (log: $work/log)" >&2
    echo failed > "$work/verdict"
  fi
}

# Lane l runs targets l, l + lanes, l + 2·lanes, ... one after the other.
for ((lane = 0; lane < lanes; ++lane)); do
  (for ((i = lane; i < ${#targets[@]}; i += lanes)); do run_target "${targets[i]}"; done) &
done
wait
failed=()
for t in "${targets[@]}"; do
  [[ "$(cat "$build/$t/verdict" 2>/dev/null)" == ok ]] || failed+=("$t")
done
if ((${#failed[@]})); then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
