#!/usr/bin/env bash
# Benchmark `cairn install` against `uv pip install` on a real many-package requirements file:
# benches/data/large.txt, 172 packages written by `uv pip compile --generate-hashes` for
# Python 3.11 on manylinux_2_28 x86_64 (large.in beside it).
#
# Usage: scripts/bench-large.sh [--runs N] [--out FILE] [--keep]
#
#   --runs N    timed runs per tool and row (default 5)
#   --out FILE  where the markdown table goes (default: printed only); docs/benchmarks.md's
#               "Many packages" section is written from such a file by hand, with the date
#   --keep      keep the scratch directory
#
# Rows, each run into a new target with --link-mode hardlink, tools interleaved run by run:
#   - find-links cold: empty cache, the 172 wheels in a local directory, offline;
#   - find-links warm: the same with the cache filled;
#   - index warm offline: the cache filled once from PyPI (untimed), then --offline;
#   - index warm online: the same without --offline (every pin hashed: cairn reads no page,
#     uv revalidates its cached pages);
#   - index cold online: empty cache, from PyPI (the network's noise included; few runs).
# Needs the network for PyPI (the wheels are downloaded once, with pip, into the scratch
# directory). Wall time from `date +%s.%N`, peak RSS from `/usr/bin/time`.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="$repo_root/benches/data/large.txt"
uv_version="${UV_NEW:-0.13.9}"
runs=5
out=""
keep=0

die() {
    echo "bench-large: error: $*" >&2
    exit 1
}
note() { echo "bench-large: $*" >&2; }

while (($# > 0)); do
    case "$1" in
        --runs)
            [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || die "--runs takes a whole number"
            runs="$2"
            shift 2
            ;;
        --out)
            [[ -n "${2:-}" ]] || die "--out needs a file"
            out="$(realpath -m -- "$2")"
            shift 2
            ;;
        --keep)
            keep=1
            shift
            ;;
        -h | --help)
            awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *) die "unknown argument '$1'" ;;
    esac
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (Debian: apt-get install -y time)"
[[ -r "$requirements" ]] || die "cannot read $requirements"

note "building cairn (release)"
(cd "$repo_root" && cargo build --release --quiet -p cairn) || die "cargo build failed"
cairn="${CARGO_TARGET_DIR:-$repo_root/target}/release/cairn"
[[ "$cairn" == /* ]] || cairn="$repo_root/$cairn"

# On a disk filesystem (hard links, no tmpfs flattering anyone): beside the build's target.
scratch="$(mktemp -d "${TMPDIR:-/tmp}/bench-large.XXXXXX")"
[[ "$(findmnt -T "$scratch" -o FSTYPE -n)" != tmpfs ]] || die "$scratch is on tmpfs: set TMPDIR"
if ((keep)); then
    note "scratch directory $scratch (kept)"
else
    trap 'rm -rf "$scratch"' EXIT
fi
python="$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')"

note "installing uv==$uv_version into a throwaway venv"
python3 -m venv "$scratch/uv-venv"
"$scratch/uv-venv/bin/pip" install --quiet "uv==$uv_version"
uv="$scratch/uv-venv/bin/uv"

note "downloading the wheels once with pip into $scratch/wheels"
# pip matches --platform tags exactly: name every manylinux level a 2.28 machine loads.
platforms=()
for glibc in 28 27 26 25 24 17 12 5; do
    platforms+=(--platform "manylinux_2_${glibc}_x86_64")
done
platforms+=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
    "${platforms[@]}" --implementation cp --require-hashes \
    -r "$requirements" -d "$scratch/wheels"

# run TOOL ROW CACHE [ARGS...]: one timed install into a new target; prints "seconds kib".
run() {
    local tool="$1" row="$2" cache="$3"
    shift 3
    local target="$scratch/target"
    rm -rf "$target"
    sync
    local start end
    start="$(date +%s.%N)"
    case "$tool" in
        cairn)
            /usr/bin/time -f "%M" -o "$scratch/rss" "$cairn" --cache-dir "$cache" install -q \
                -r "$requirements" --target "$target" --link-mode hardlink --python "$python" "$@" \
                2>>"$scratch/cairn.log" || die "cairn failed on $row (see $scratch/cairn.log)"
            ;;
        uv)
            UV_CACHE_DIR="$cache" /usr/bin/time -f "%M" -o "$scratch/rss" "$uv" pip install -q \
                -r "$requirements" --target "$target" --link-mode hardlink --python "$python" \
                --no-deps --no-config "$@" \
                2>>"$scratch/uv.log" || die "uv failed on $row (see $scratch/uv.log)"
            ;;
    esac
    end="$(date +%s.%N)"
    echo "$tool $row $(awk "BEGIN { print $end - $start }") $(cat "$scratch/rss")" >>"$scratch/results"
}

fl=(--offline --find-links "$scratch/wheels")
uv_fl=(--offline --no-index --find-links "$scratch/wheels")

note "filling the index caches from PyPI (untimed)"
run cairn fill "$scratch/cairn-index"
run uv fill "$scratch/uv-index"
note "filling the find-links caches (untimed)"
run cairn fill "$scratch/cairn-fl" "${fl[@]}"
run uv fill "$scratch/uv-fl" "${uv_fl[@]}"

for ((i = 1; i <= runs; i++)); do
    note "round $i of $runs"
    for tool in cairn uv; do
        if [[ "$tool" == cairn ]]; then
            rm -rf "$scratch/cold"
            run cairn "find-links cold" "$scratch/cold" "${fl[@]}"
            run cairn "find-links warm" "$scratch/cairn-fl" "${fl[@]}"
            run cairn "index warm offline" "$scratch/cairn-index" --offline
            run cairn "index warm online" "$scratch/cairn-index"
        else
            rm -rf "$scratch/cold"
            run uv "find-links cold" "$scratch/cold" "${uv_fl[@]}"
            run uv "find-links warm" "$scratch/uv-fl" "${uv_fl[@]}"
            run uv "index warm offline" "$scratch/uv-index" --offline
            run uv "index warm online" "$scratch/uv-index"
        fi
    done
done
for ((i = 1; i <= (runs < 3 ? runs : 3); i++)); do
    note "cold from PyPI, round $i"
    for tool in cairn uv; do
        rm -rf "$scratch/cold"
        run "$tool" "index cold online" "$scratch/cold"
    done
done

table="$(python3 - "$scratch/results" "$uv_version" <<'EOF'
import collections, statistics, sys
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    tool, rest = line.split(" ", 1)
    *row, seconds, kib = rest.split()
    row = " ".join(row)
    if row == "fill":
        continue
    rows.setdefault(row, {}).setdefault(tool, []).append((float(seconds), int(kib)))
print(f"| case (172 packages, hardlink, new target) | cairn | uv {sys.argv[2]} | cairn / uv | peak RSS cairn / uv |")
print("|---|---:|---:|---:|---:|")
for row, tools in rows.items():
    c = statistics.median(s for s, _ in tools["cairn"])
    u = statistics.median(s for s, _ in tools["uv"])
    cm = max(k for _, k in tools["cairn"]) / 1024
    um = max(k for _, k in tools["uv"]) / 1024
    n = len(tools["cairn"])
    print(f"| {row} ({n} runs) | {c:.2f} s | {u:.2f} s | {c / u:.2f}× | {cm:.0f} / {um:.0f} MiB |")
EOF
)"
echo "$table"
if [[ -n "$out" ]]; then
    {
        echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores with \`scripts/bench-large.sh --runs $runs\`:"
        echo
        echo "$table"
    } >"$out"
    note "wrote $out"
fi
