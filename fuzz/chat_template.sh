#!/usr/bin/env bash
# Builds fuzz/chat_template.cpp with clang (libFuzzer + ASan + UBSan) and runs it for a bounded
# time over the shared data's real chat templates. Usage: fuzz/chat_template.sh [SECONDS] [WORK_DIR]
# Exit status non-zero when the fuzzer finds a crash (the reproducer is left in WORK_DIR).
set -euo pipefail
seconds=${1:-60}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${2:-$root/build-fuzz/chat_template}
shared=${ATTEND_SHARED_DATA:-$root/../shared/data}
mkdir -p "$work/corpus"
# The interpreter needs only the Unicode tables of the tokenizers (nlohmann_json is header-only).
clang++ -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -I"$root/include" -I"$root/src" "$root/fuzz/chat_template.cpp" "$root"/src/chat/*.cpp \
  "$root/src/tokenizers/unicode.cpp" -o "$work/fuzz_chat_template"
cp "$shared"/chat_templates/*.jinja "$work/corpus/"
printf '%s' "{% macro m(a, b=2) %}{{ a ~ b }}{% endmacro %}{% set ns = namespace(n=0) %}{% for k, v in messages[1].items() if k != 'n' %}{{ m(k) }}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}" > "$work/corpus/seed_macro"
printf '%s' "{%- for x in messages | selectattr('role', 'equalto', 'user') | map(attribute='n') | first -%} {{ x | tojson(indent=2) }} {%+ if x is mapping %}{{ x | dictsort }}{% endif +%}{% endfor %}{# c #}{% raw %}{{ }}{% endraw %}" > "$work/corpus/seed_filters"
cd "$work"
./fuzz_chat_template corpus -max_total_time="$seconds" -max_len=8192 -rss_limit_mb=2048 -timeout=20 -print_final_stats=1
