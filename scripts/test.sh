#!/usr/bin/env bash
# scripts/test.sh — build and run the whole test suite twice:
#   1. build/       Release, everything (library, CLI, tests, benchmarks); ctest
#   2. build-asan/  RelWithDebInfo under AddressSanitizer + UndefinedBehaviorSanitizer; ctest
#   3. build-fuzz/  libFuzzer (clang): every target in fuzz/ (fuzz/run.sh), one file reader
#                   each and the chat-template interpreter, ATTEND_FUZZ_SECONDS in total (default
#                   90, wall clock; two targets at a time, ~16 s each) shared among them
# Prints CTest's summary of each and exits non-zero if anything failed to build or pass.
#
# Environment: ATTEND_JOBS (parallel jobs, default 2), ATTEND_SHARED_DATA (passed to CMake
# as -DATTEND_SHARED_DATA when set), ATTEND_BUILD_DIR / ATTEND_ASAN_BUILD_DIR (default build
# and build-asan), ATTEND_SKIP_ASAN=1 (Release only, for quick local runs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs=${ATTEND_JOBS:-2}
common=()
if [[ -n "${ATTEND_SHARED_DATA:-}" ]]; then
  common+=("-DATTEND_SHARED_DATA=${ATTEND_SHARED_DATA}")
fi

failed=()
logs=()

# run_suite NAME BUILD_DIR CMAKE_ARGS...: configure + build (a failure stops the script),
# then ctest (a failure is remembered, so the sanitizer pass still runs and reports).
run_suite() {
  local name=$1 dir=$2
  shift 2
  echo "==== ${name}: configure and build in ${dir} ===="
  cmake -S . -B "${dir}" "${common[@]}" "$@"
  cmake --build "${dir}" -j "${jobs}"
  echo "==== ${name}: ctest ===="
  local status=0
  ctest --test-dir "${dir}" --output-on-failure -j "${jobs}" 2>&1 | tee "${dir}/ctest.log" || status=$?
  ((status == 0)) || failed+=("${name}")
  logs+=("${name}:${dir}/ctest.log")
}

# Both builds compile the library as a unity build (CMakeLists.txt, ATTEND_UNITY_BUILD): each
# is compiled once from scratch here, and that takes ~40% off the library's compile time.
# The setting stays in the build folder's cache (-DATTEND_UNITY_BUILD=OFF turns it back).
run_suite release "${ATTEND_BUILD_DIR:-build}" -DCMAKE_BUILD_TYPE=Release -DATTEND_BUILD_BENCH=ON -DATTEND_UNITY_BUILD=ON

if [[ "${ATTEND_SKIP_ASAN:-0}" != 1 ]]; then
  # detect_leaks: LeakSanitizer is on by default on x86-64 Linux; said here so it stays on.
  # UBSan: the build already makes every report fatal (-fno-sanitize-recover); show where.
  export ASAN_OPTIONS="detect_leaks=1${ASAN_OPTIONS:+:${ASAN_OPTIONS}}"
  export UBSAN_OPTIONS="print_stacktrace=1${UBSAN_OPTIONS:+:${UBSAN_OPTIONS}}"
  # -g1 (line tables): a sanitizer's report needs file:line in its stacks, not variables and
  # types; full -g made this build the longest step of CI. -O1, not -O2: the build is still
  # CI's longest step (JSON and CLI11 templates instrumented in every file that uses them), and
  # -O1 took it from 1033 to 741 s on two cores while the suite ran no slower (385 s at -O2,
  # 346 s at -O1, one run each, 2026-12-05).
  run_suite sanitizers "${ATTEND_ASAN_BUILD_DIR:-build-asan}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" -DATTEND_SANITIZE=ON -DATTEND_BUILD_BENCH=OFF -DATTEND_UNITY_BUILD=ON
fi

if [[ "${ATTEND_SKIP_FUZZ:-0}" != 1 ]]; then
  fuzz_seconds=${ATTEND_FUZZ_SECONDS:-90}
  echo "==== fuzz: every target in fuzz/, ${fuzz_seconds} s in total ===="
  mkdir -p build-fuzz
  if bash fuzz/run.sh "${fuzz_seconds}" 2>&1 | tee build-fuzz/run.log | grep -E '^fuzz '; [[ ${PIPESTATUS[0]} == 0 ]]; then
    echo "fuzz: no finding"
  else
    tail -n 40 build-fuzz/run.log
    echo "fuzz: FAILED (log: build-fuzz/run.log)" >&2
    failed+=("fuzz")
  fi
fi

# Both summaries together at the end (the first one has scrolled away by now).
echo
echo "==== summary ===="
for entry in "${logs[@]}"; do
  echo "-- ${entry%%:*}:"
  sed -n '/tests passed, /,$p' "${entry#*:}"
done

if ((${#failed[@]})); then
  echo "test.sh: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "test.sh: all suites passed"
