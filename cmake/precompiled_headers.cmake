# cmake/precompiled_headers.cmake — the standard and third-party headers every translation
# unit of a target parses, compiled once per target (CMake's target_precompile_headers).
#
# Why: the two builds of scripts/test.sh (Release, then ASan+UBSan) are the longest part of
# CI, and parsing was 40-50% of a source's compile time (GCC 12, -std=c++20: <algorithm>
# brings the ranges algorithms, <immintrin.h> every intrinsic, CLI11 and nlohmann/json are
# large). Measured, it saves less than that suggests: the Release build's compile seconds went
# 1190 → 1136 (wall 10 m 30 s → 10 m 00 s, 2026-12-07), because most of the parsing is of
# attend's own headers and most of the rest is instantiation and code generation, which a
# precompiled header does not save. Only headers from outside the project go here: an edit to attend's own headers
# rebuilds what includes them and nothing else, and every source still includes what it uses
# (the fuzz build, clang without these, compiles the file readers as they are).
#
# -DATTEND_PRECOMPILE_HEADERS=OFF builds without them (to check that every file includes what
# it needs: `cmake -S . -B build-nopch -DATTEND_PRECOMPILE_HEADERS=OFF`).
option(ATTEND_PRECOMPILE_HEADERS "Precompile the standard and third-party headers per target" ON)

set(ATTEND_PCH_STANDARD
  <algorithm> <array> <atomic> <chrono> <cmath> <cstddef> <cstdint> <cstdio> <cstdlib>
  <cstring> <filesystem> <functional> <limits> <map> <memory> <mutex> <optional> <set>
  <span> <sstream> <string> <string_view> <unordered_map> <utility> <vector>)

# attend_precompile_headers(TARGET header...): the standard set plus the target's own.
function(attend_precompile_headers target)
  if(ATTEND_PRECOMPILE_HEADERS)
    target_precompile_headers(${target} PRIVATE ${ATTEND_PCH_STANDARD} ${ARGN})
  endif()
endfunction()
