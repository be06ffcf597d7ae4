#!/usr/bin/env bash
# Benchmark `cairn install` against `uv pip install` on a real many-package requirements file:
# benches/data/large.txt, 172 packages written by `uv pip compile --generate-hashes` for
# Python 3.11 on manylinux_2_28 x86_64 (large.in beside it).
#
# Usage: scripts/bench-large.sh [--runs N] [--rows LIST] [--mirror DIR] [--out FILE] [--keep]
#
#   --runs N      timed runs per tool and row (default 5; the cold online row at most 3)
#   --rows LIST   the rows to run, comma-separated, among fl-cold, fl-warm, warm-offline,
#                 warm-online, cold-online, mirror (default: all); only what they need is
#                 prepared (`--rows mirror` downloads no wheel with pip and fills no cache)
#   --mirror DIR  the local mirror's recording: reused when it records this requirements file,
#                 else recorded there from PyPI (default: in the scratch directory)
#   --out FILE    where the markdown table goes (default: printed only); docs/benchmarks.md's
#                 "Many packages" section is written from such a file by hand, with the date
#   --keep        keep the scratch directory (and with it a default --mirror, to pass next time)
#
# Rows, each run into a new target with --link-mode hardlink, tools interleaved run by run:
#   - fl-cold, "find-links cold": empty cache, the 172 wheels in a local directory, offline;
#   - fl-warm, "find-links warm": the same with the cache filled;
#   - warm-offline, "index warm offline": the cache filled once from PyPI (untimed), then
#     --offline;
#   - warm-online, "index warm online": the same without --offline (every pin hashed: cairn
#     reads no page, uv revalidates its cached pages);
#   - mirror, "index cold against a local mirror": empty cache, `--index-url` of a local mirror
#     on 127.0.0.1 (scripts/bench/mirror.py): PyPI's pages of the 172 projects, in their JSON
#     and HTML forms, with every file they list, and the wheels the pins can use (the other
#     files answer 404), recorded once from PyPI (untimed); the index path timed without the
#     internet's noise. The mirror's request log is counted afterwards: each tool must have
#     fetched every page and wheel from it, and a proxy that refuses every connection stands
#     in for the internet during these runs;
#   - cold-online, "index cold online": empty cache, from PyPI (the network's noise included;
#     few runs).
# Needs the network for PyPI, except for `--rows mirror` with a recorded --mirror (the wheels
# for the find-links rows are downloaded once, with pip, into the scratch directory). Wall time
# from `date +%s.%N`, peak RSS from `/usr/bin/time`.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
requirements="$repo_root/benches/data/large.txt"
uv_version="${UV_NEW:-0.13.9}"
runs=5
out=""
keep=0
mirror=""
all_rows=(fl-cold fl-warm warm-offline warm-online mirror cold-online)
rows_list="$(
    IFS=,
    echo "${all_rows[*]}"
)"

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
        --rows)
            [[ -n "${2:-}" ]] || die "--rows needs a comma-separated list"
            rows_list="$2"
            shift 2
            ;;
        --mirror)
            [[ -n "${2:-}" ]] || die "--mirror needs a directory"
            mirror="$(realpath -m -- "$2")"
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

# The selected rows as a set; `want ROW` tests one.
declare -A selected=()
IFS=, read -r -a requested_rows <<<"$rows_list"
for row in "${requested_rows[@]}"; do
    [[ " ${all_rows[*]} " == *" $row "* ]] || die "unknown row '$row' (rows: ${all_rows[*]})"
    selected[$row]=1
done
((${#selected[@]} > 0)) || die "--rows selects no row"
want() { [[ -n "${selected[$1]:-}" ]]; }

note "building cairn (release)"
(cd "$repo_root" && cargo build --release --quiet -p cairn) || die "cargo build failed"
cairn="${CARGO_TARGET_DIR:-$repo_root/target}/release/cairn"
[[ "$cairn" == /* ]] || cairn="$repo_root/$cairn"

# On a disk filesystem (hard links, no tmpfs flattering anyone): beside the build's target.
scratch="$(mktemp -d "${TMPDIR:-/tmp}/bench-large.XXXXXX")"
[[ "$(findmnt -T "$scratch" -o FSTYPE -n)" != tmpfs ]] || die "$scratch is on tmpfs: set TMPDIR"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; fi
    if ((!keep)); then rm -rf -- "$scratch"; fi
}
trap cleanup EXIT
if ((keep)); then
    note "scratch directory $scratch (kept)"
fi
python="$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')"

note "installing uv==$uv_version into a throwaway venv"
python3 -m venv "$scratch/uv-venv"
"$scratch/uv-venv/bin/pip" install --quiet "uv==$uv_version"
uv="$scratch/uv-venv/bin/uv"

if want fl-cold || want fl-warm; then
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
fi

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

# run_mirror TOOL: one cold install from the local mirror, the internet out of reach: a proxy
# on the discard port refuses every connection that is not to 127.0.0.1.
run_mirror() {
    local tool="$1" dead=http://127.0.0.1:9
    rm -rf "$scratch/cold"
    HTTP_PROXY="$dead" HTTPS_PROXY="$dead" ALL_PROXY="$dead" \
        http_proxy="$dead" https_proxy="$dead" all_proxy="$dead" \
        NO_PROXY=127.0.0.1 no_proxy=127.0.0.1 \
        run "$tool" "index cold against a local mirror" "$scratch/cold" --index-url "$mirror_url"
}

fl=(--offline --find-links "$scratch/wheels")
uv_fl=(--offline --no-index --find-links "$scratch/wheels")

if want warm-offline || want warm-online; then
    note "filling the index caches from PyPI (untimed)"
    run cairn fill "$scratch/cairn-index"
    run uv fill "$scratch/uv-index"
fi
if want fl-warm; then
    note "filling the find-links caches (untimed)"
    run cairn fill "$scratch/cairn-fl" "${fl[@]}"
    run uv fill "$scratch/uv-fl" "${uv_fl[@]}"
fi

if want mirror; then
    if [[ -z "$mirror" ]]; then
        mirror="$scratch/mirror"
        ((!keep)) || note "the recording stays in $mirror: pass --mirror $mirror next time"
    fi
    note "recording the mirror from PyPI into $mirror (untimed; reused if complete)"
    # The benchmark's interpreter records: its tags choose the wheels the pins can use.
    "$python" "$repo_root/scripts/bench/mirror.py" record "$requirements" "$mirror" \
        || die "recording the mirror failed"
    mirror_log="$scratch/mirror-requests.log"
    coproc MIRROR {
        exec python3 "$repo_root/scripts/bench/mirror.py" serve "$mirror" --log "$mirror_log"
    }
    server_pid="$MIRROR_PID"
    read -r ready port <&"${MIRROR[0]}" || true
    [[ "${ready:-}" == ready ]] || die "the mirror did not start"
    mirror_url="http://127.0.0.1:$port/simple"
    # Into the page cache, as a server's hot files are: the first tool timed reads no wheel
    # from disk for the other.
    find "$mirror/files" -type f -exec cat {} + >/dev/null
    note "serving the mirror at $mirror_url"
fi

rounds=0
for row in fl-cold fl-warm warm-offline warm-online mirror; do
    ! want "$row" || rounds="$runs"
done
for ((i = 1; i <= rounds; i++)); do
    note "round $i of $runs"
    for tool in cairn uv; do
        if [[ "$tool" == cairn ]]; then
            flags=("${fl[@]}")
        else
            flags=("${uv_fl[@]}")
        fi
        if want fl-cold; then
            rm -rf "$scratch/cold"
            run "$tool" "find-links cold" "$scratch/cold" "${flags[@]}"
        fi
        ! want fl-warm || run "$tool" "find-links warm" "$scratch/$tool-fl" "${flags[@]}"
        ! want warm-offline || run "$tool" "index warm offline" "$scratch/$tool-index" --offline
        ! want warm-online || run "$tool" "index warm online" "$scratch/$tool-index"
        ! want mirror || run_mirror "$tool"
    done
done
if want cold-online; then
    for ((i = 1; i <= (runs < 3 ? runs : 3); i++)); do
        note "cold from PyPI, round $i"
        for tool in cairn uv; do
            rm -rf "$scratch/cold"
            run "$tool" "index cold online" "$scratch/cold"
        done
    done
fi

mirror_note=""
if want mirror; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    # Each run must have fetched every pin's page and a wheel for it from the mirror: the
    # server's log, by tool (the user agent's name), kind and status, per run.
    pins="$(grep -c '^[A-Za-z0-9].*==' "$requirements")"
    mirror_note="$(
        python3 - "$mirror_log" "$runs" "$pins" <<'EOF'
import collections, sys
log, runs, pins = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
counts = collections.defaultdict(collections.Counter)
for line in open(log):
    method, path, status, sent, agent, *_ = line.split()
    tool = agent.split("/", 1)[0]
    kind = {"simple": "page", "files": "file"}.get(path.split("/")[1], "other")
    counts[tool][f"{kind} {status}"] += 1
    counts[tool]["MB"] += int(sent) / 1e6
parts, short = [], []
for tool in ("cairn", "uv"):
    c = counts.get(tool, collections.Counter())
    if c["page 200"] < runs * pins or c["file 200"] < runs * pins:
        short.append(tool)
    detail = ", ".join(f"{c[k] / runs:g} {k}" for k in sorted(c) if k != "MB")
    parts.append(f"{tool} {detail}, {c['MB'] / runs:.0f} MB sent")
others = sorted(set(counts) - {"cairn", "uv"})
print("Requests to the mirror per run (kind and status): " + "; ".join(parts)
      + (f"; other clients: {', '.join(others)}" if others else "") + ".")
if short:
    print(f"bench-large: error: {' and '.join(short)} fetched fewer than {pins} pages or wheels "
          "per run from the mirror", file=sys.stderr)
    sys.exit(1)
EOF
    )" || die "the mirror's log does not show every page and wheel fetched from it ($mirror_log)"
    note "$mirror_note"
fi

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
    rows_arg=""
    [[ "$rows_list" == "$(
        IFS=,
        echo "${all_rows[*]}"
    )" ]] || rows_arg=" --rows $rows_list"
    {
        echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores with \`scripts/bench-large.sh --runs $runs$rows_arg\`:"
        echo
        echo "$table"
        [[ -z "$mirror_note" ]] || printf '\n%s\n' "$mirror_note"
    } >"$out"
    note "wrote $out"
fi
