#!/usr/bin/env bash
# scripts/fetch-test-data.sh — lay out the test data folder (what ../shared/data holds) for a
# clone that has none, from the public origins its PROVENANCE files name.
#
#   scripts/fetch-test-data.sh [--base-url URL] [DEST]
#
#   DEST            the data folder; default $ATTEND_SHARED_DATA, else ../shared/data beside the
#                   repository — the folder CMake's ATTEND_SHARED_DATA points at by default
#   --base-url URL  fetch every downloaded file from URL/<path> (a mirror laid out as DEST is)
#                   instead of its origin; also $ATTEND_TEST_DATA_URL
#
# scripts/test-data.sha256 lists each file with its sha256, size and origin. A file already
# in DEST with the right sha256 is left alone; any other is downloaded (curl) to a temporary
# file beside its destination, checked, and only then renamed into place, so DEST never holds
# a partial or wrong file. The chat-template renderings are made here, not downloaded: the
# script runs their generator (Debian's python3-jinja2) in a temporary folder and checks each
# result the same way. A file that fails prints one line (its path, the expected and the
# actual sha256) and the script exits 1 after trying the rest.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
manifest="$here/test-data.sha256"
base_url="${ATTEND_TEST_DATA_URL:-}"
dest=""

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
die() { echo "fetch-test-data: $*" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --base-url) [[ $# -ge 2 ]] || die "--base-url needs a URL"; base_url="$2"; shift 2 ;;
    --base-url=*) base_url="${1#--base-url=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [[ -z "$dest" ]] || die "one DEST only (got '$dest' and '$1')"; dest="$1"; shift ;;
  esac
done
dest="${dest:-${ATTEND_SHARED_DATA:-$repo/../shared/data}}"
base_url="${base_url%/}"

for tool in curl sha256sum; do
  command -v "$tool" >/dev/null || die "needs $tool (Debian: apt-get install $tool)"
done
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"

# Temporary files and folders made so far: removed however the script ends.
temps=()
cleanup() { [[ ${#temps[@]} -eq 0 ]] || rm -rf -- "${temps[@]}"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

sha_of() { sha256sum -- "$1" | cut -d' ' -f1; }

# ---- read the manifest: sha256, bytes, path, origin --------------------------------------
shas=(); sizes=(); paths=(); origins=()
line_no=0
while IFS= read -r line || [[ -n "$line" ]]; do
  line_no=$((line_no + 1))
  [[ -z "${line//[[:space:]]/}" || "$line" == \#* ]] && continue
  read -r sha size path origin extra <<<"$line"
  where="$manifest:$line_no"
  [[ -z "${extra:-}" && -n "${origin:-}" ]] || die "$where: want 'sha256 bytes path origin'"
  [[ "$sha" =~ ^[0-9a-f]{64}$ ]] || die "$where: '$sha' is not a sha256"
  [[ "$size" =~ ^[0-9]{1,10}$ ]] || die "$where: '$size' is not a size in bytes"
  # A path stays inside DEST: relative, no '..', plain characters.
  [[ "$path" =~ ^[A-Za-z0-9_][A-Za-z0-9._/-]*$ && "/$path/" != */../* ]] || die "$where: bad path '$path'"
  case "$origin" in
    https://*|http://*|repo:*|make:chat_templates) ;;
    *) die "$where: unknown origin '$origin'" ;;
  esac
  shas+=("$sha"); sizes+=("$size"); paths+=("$path"); origins+=("$origin")
done <"$manifest"
[[ ${#paths[@]} -gt 0 ]] || die "$manifest lists no files"

n_skipped=0; n_fetched=0; failed=()

# Move a checked temporary file into place; on a wrong sha256, say so and remove it.
install_checked() {  # tmp index from
  local tmp="$1" i="$2" from="$3" got
  got="$(sha_of "$tmp")"
  if [[ "$got" != "${shas[$i]}" ]]; then
    echo "fetch-test-data: ${paths[$i]}: sha256 mismatch: expected ${shas[$i]}, got $got (from $from)" >&2
    rm -f -- "$tmp"
    failed+=("${paths[$i]}")
    return 0
  fi
  chmod 644 -- "$tmp"
  mv -f -- "$tmp" "$dest/${paths[$i]}"
  n_fetched=$((n_fetched + 1))
}

# A temporary file beside the destination (same file system, so the rename is atomic).
temp_beside() {  # index -> prints the temporary path
  local target="$dest/${paths[$1]}"
  mkdir -p -- "$(dirname -- "$target")"
  mktemp -- "$(dirname -- "$target")/.$(basename -- "$target").XXXXXX.part"
}

is_good() { [[ -f "$dest/${paths[$1]}" && "$(sha_of "$dest/${paths[$1]}")" == "${shas[$1]}" ]]; }

# ---- downloads and repository files ------------------------------------------------------
make_wanted=()
for i in "${!paths[@]}"; do
  origin="${origins[$i]}"
  if is_good "$i"; then n_skipped=$((n_skipped + 1)); continue; fi
  if [[ -e "$dest/${paths[$i]}" ]]; then  # replaced only once a good copy is in hand
    echo "fetch-test-data: ${paths[$i]}: the file there is not the listed one (sha256 $(sha_of "$dest/${paths[$i]}")); fetching it again"
  fi
  case "$origin" in
    make:*) make_wanted+=("$i"); continue ;;
    repo:*)
      tmp="$(temp_beside "$i")"; temps+=("$tmp")
      src="$repo/${origin#repo:}"
      [[ -f "$src" ]] || { echo "fetch-test-data: ${paths[$i]}: $src is missing" >&2; failed+=("${paths[$i]}"); continue; }
      cp -- "$src" "$tmp"
      install_checked "$tmp" "$i" "$src" ;;
    *)
      url="$origin"
      [[ -z "$base_url" ]] || url="$base_url/${paths[$i]}"
      tmp="$(temp_beside "$i")"; temps+=("$tmp")
      echo "fetch-test-data: ${paths[$i]} <- $url"
      # Bounded: no more bytes than the manifest says (+1, so a longer file fails its check),
      # and no longer than 10 minutes a file.
      if ! err="$(curl --fail --silent --show-error --location --proto '=http,https' \
                       --connect-timeout 20 --max-time 600 --retry 2 \
                       --max-filesize $((sizes[i] + 1)) --output "$tmp" "$url" 2>&1)"; then
        echo "fetch-test-data: ${paths[$i]}: download failed from $url: ${err//$'\n'/ }" >&2
        rm -f -- "$tmp"; failed+=("${paths[$i]}"); continue
      fi
      install_checked "$tmp" "$i" "$url" ;;
  esac
done

# ---- made here: the chat-template renderings ---------------------------------------------
# make_expected.py renders every template in a folder against its cases/; it runs on a copy
# of the inputs (which must be in place and checked by now) in a temporary folder.
if [[ ${#make_wanted[@]} -gt 0 ]]; then
  stage="$(mktemp -d "$dest/.chat_templates.XXXXXX.part")"; temps+=("$stage")
  inputs_ok=1
  for i in "${!paths[@]}"; do
    p="${paths[$i]}"
    [[ "$p" == chat_templates/* && "${origins[$i]}" != make:* ]] || continue
    if ! is_good "$i"; then inputs_ok=0; continue; fi
    mkdir -p -- "$stage/$(dirname -- "${p#chat_templates/}")"
    cp -- "$dest/$p" "$stage/${p#chat_templates/}"
  done
  if [[ $inputs_ok -eq 0 ]]; then
    echo "fetch-test-data: chat_templates/expected: not made (its inputs above failed)" >&2
    for i in "${make_wanted[@]}"; do failed+=("${paths[$i]}"); done
  elif ! out="$(/usr/bin/python3 "$stage/make_expected.py" "$stage" 2>&1)"; then
    echo "fetch-test-data: chat_templates/expected: make_expected.py failed: ${out//$'\n'/ }" >&2
    for i in "${make_wanted[@]}"; do failed+=("${paths[$i]}"); done
  else
    for i in "${make_wanted[@]}"; do
      made="$stage/${paths[$i]#chat_templates/}"
      if [[ ! -f "$made" ]]; then
        echo "fetch-test-data: ${paths[$i]}: make_expected.py did not write it" >&2
        failed+=("${paths[$i]}"); continue
      fi
      tmp="$(temp_beside "$i")"; temps+=("$tmp")
      mv -f -- "$made" "$tmp"
      install_checked "$tmp" "$i" "make_expected.py"
    done
  fi
fi

echo "fetch-test-data: $dest: ${#paths[@]} files: $n_fetched fetched, $n_skipped already there, ${#failed[@]} failed"
[[ ${#failed[@]} -eq 0 ]] || exit 1
