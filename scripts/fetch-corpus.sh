#!/usr/bin/env bash
# Fetch the pinned real wheels of the test corpus from PyPI, verifying size and sha256.
#
# Usage: scripts/fetch-corpus.sh [--dir DIR] [--max-bytes N] [--only NAME]...
#
#   --dir DIR        where the wheels go (default: corpus/ at the repository root, gitignored)
#   --max-bytes N    skip wheels larger than N bytes (CI uses this to leave out torch)
#   --only NAME      fetch only this project (repeatable)
#
# The corpus list is $CAIRN_CORPUS_TSV, or the repository's benches/data/corpus.tsv. Its
# columns are name, version, filename, bytes, sha256, ... with a header row first.
#
# A wheel already present with the pinned sha256 is left alone, so a second run fetches nothing.
# Downloads go to a temporary name in the target directory and are renamed into place only
# after their size and sha256 match; a mismatch deletes the download and fails the run.
# Prints one line per wheel: "fetched", "present" or "skipped".
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
corpus_tsv="${CAIRN_CORPUS_TSV:-$repo_root/benches/data/corpus.tsv}"
dest_dir="$repo_root/corpus"
max_bytes=""
only=()

die() {
    echo "fetch-corpus: error: $*" >&2
    exit 1
}

usage() {
    # The comment block at the top of this file, without the shebang and the "# ".
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"
}

while (($# > 0)); do
    case "$1" in
        --dir)
            (($# >= 2)) || die "--dir needs a directory"
            dest_dir="$2"
            shift 2
            ;;
        --max-bytes)
            (($# >= 2)) || die "--max-bytes needs a number of bytes"
            [[ "$2" =~ ^[0-9]+$ ]] || die "--max-bytes takes a whole number of bytes, not '$2'"
            max_bytes="$2"
            shift 2
            ;;
        --only)
            (($# >= 2)) || die "--only needs a project name"
            only+=("$2")
            shift 2
            ;;
        -h | --help)
            usage
            exit 0
            ;;
        *)
            usage >&2
            die "unknown argument '$1'"
            ;;
    esac
done

[[ -r "$corpus_tsv" ]] || die "cannot read the corpus list '$corpus_tsv' (set CAIRN_CORPUS_TSV to its path)"
command -v curl >/dev/null || die "curl is required"
command -v python3 >/dev/null || die "python3 is required (to read PyPI's JSON API)"
command -v sha256sum >/dev/null || die "sha256sum is required"

mkdir -p "$dest_dir"
tmp_file=""
cleanup() {
    if [[ -n "$tmp_file" ]]; then
        rm -f -- "$tmp_file"
    fi
}
trap cleanup EXIT

sha256_of() {
    sha256sum -- "$1" | cut -d' ' -f1
}

# Print the download URL of FILENAME in release NAME==VERSION, from PyPI's JSON API. The
# per-release endpoint is small; some PyPI front ends answer it with 404, so the project endpoint
# (all releases) is the fallback.
resolve_url() {
    local name="$1" version="$2" filename="$3" endpoint metadata
    endpoint="https://pypi.org/pypi/$name/$version/json"
    if ! metadata="$(curl --fail --silent --location --retry 3 "$endpoint")"; then
        endpoint="https://pypi.org/pypi/$name/json"
        metadata="$(curl --fail --silent --show-error --location --retry 3 "$endpoint")" || return 1
    fi
    # File URLs may be relative to the endpoint (mirrors do this), hence urljoin.
    python3 -c '
import json, sys, urllib.parse
endpoint, version, filename = sys.argv[1:4]
metadata = json.loads(sys.stdin.read())
files = metadata["urls"] if metadata["info"]["version"] == version else []
files = files + metadata.get("releases", {}).get(version, [])
for entry in files:
    if entry["filename"] == filename:
        print(urllib.parse.urljoin(endpoint, entry["url"]))
        sys.exit(0)
sys.exit("fetch-corpus: PyPI lists no file named %s in release %s" % (filename, version))
' "$endpoint" "$version" "$filename" <<<"$metadata"
}

wanted() {
    local name="$1"
    ((${#only[@]} == 0)) && return 0
    local candidate
    for candidate in "${only[@]}"; do
        [[ "$candidate" == "$name" ]] && return 0
    done
    return 1
}

matched_any=0
line_number=0
while IFS=$'\t' read -r name version filename bytes sha256 _rest || [[ -n "${name:-}" ]]; do
    line_number=$((line_number + 1))
    ((line_number == 1)) && continue # header row
    [[ -z "$name" ]] && continue
    wanted "$name" || continue
    matched_any=1
    [[ "$bytes" =~ ^[0-9]+$ ]] || die "$corpus_tsv:$line_number: size '$bytes' is not a number"
    [[ "$sha256" =~ ^[0-9a-f]{64}$ ]] || die "$corpus_tsv:$line_number: '$sha256' is not a sha256"
    [[ "$filename" != */* ]] || die "$corpus_tsv:$line_number: file name '$filename' has a slash"

    target="$dest_dir/$filename"
    if [[ -n "$max_bytes" ]] && ((bytes > max_bytes)); then
        echo "skipped $filename ($bytes bytes > --max-bytes $max_bytes)"
        continue
    fi
    # A size check first spares hashing a file that is plainly wrong (e.g. a partial copy).
    if [[ -f "$target" ]] && (($(stat -c %s -- "$target") == bytes)) &&
        [[ "$(sha256_of "$target")" == "$sha256" ]]; then
        echo "present $filename"
        continue
    fi

    url="$(resolve_url "$name" "$version" "$filename")" ||
        die "could not resolve $filename ($name $version) through PyPI's JSON API"
    tmp_file="$(mktemp -- "$dest_dir/.$filename.XXXXXX.part")"
    curl --fail --silent --show-error --location --retry 3 --output "$tmp_file" -- "$url" ||
        die "download of $url failed"

    actual_bytes="$(stat -c %s -- "$tmp_file")"
    if ((actual_bytes != bytes)); then
        die "$filename: downloaded $actual_bytes bytes, the corpus pins $bytes; deleted the download"
    fi
    actual_sha256="$(sha256_of "$tmp_file")"
    if [[ "$actual_sha256" != "$sha256" ]]; then
        die "$filename: sha256 is $actual_sha256, the corpus pins $sha256; deleted the download"
    fi
    chmod 0644 -- "$tmp_file" # mktemp makes it private; the corpus is shared read-only data
    mv -f -- "$tmp_file" "$target"
    tmp_file=""
    echo "fetched $filename ($bytes bytes)"
done <"$corpus_tsv"

if ((${#only[@]} > 0)) && ((matched_any == 0)); then
    die "no wheel in $corpus_tsv matches --only ${only[*]}"
fi
