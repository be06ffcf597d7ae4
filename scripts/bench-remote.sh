#!/usr/bin/env bash
# Benchmark the remote tier: machine B's cold install from a remote that machine A filled,
# against cairn's own cold install from a local index mirror and against uv's.
#
# Usage: scripts/bench-remote.sh [--runs N] [--rows LIST] [--cairn PATH] [--mirror DIR]
#                                [--requirements FILE] [--out FILE] [--keep]
#
#   --runs N             timed runs per case and set (default 3)
#   --rows LIST          the sets to run, comma-separated, among torch, large (default both)
#   --cairn PATH         the cairn binary to time (default target/release/cairn, honouring
#                        CARGO_TARGET_DIR); it is not built here (`cargo build --release -p
#                        cairn`), but copied at the start, so a rebuild during the run is not used
#   --mirror DIR         the local mirrors' recordings (scripts/bench/mirror.py): the large set's
#                        in DIR itself, as scripts/bench-large.sh records it (so its --mirror is
#                        reused as is), torch's in DIR/torch; each is reused when it records its
#                        requirements file, else recorded there from PyPI (default: in the
#                        scratch directory)
#   --requirements FILE  a hashed requirements file to use instead of benches/data/large.txt as
#                        the "large" set (a quick check of the plumbing: two small pins and
#                        --runs 1); no target ratio applies to it
#   --out FILE           where the markdown table goes (default: printed only)
#   --keep               keep the scratch directory (caches, targets, logs, the remote's state
#                        directory, and a default --mirror to pass next time)
#
# Sets:
#   - torch: the one line `torch==VERSION --hash=sha256:...` of the corpus list
#     ($CAIRN_CORPUS_TSV, or benches/data/corpus.tsv, as scripts/fetch-corpus.sh reads it); a
#     wheel already fetched into corpus/ is linked into the mirror's recording instead of
#     being downloaded again;
#   - large: benches/data/large.txt, 172 pins written by `uv pip compile --generate-hashes`.
# Both are hashed pins and neither tool resolves dependencies (cairn installs exactly the pins,
# uv gets --no-deps), so a pin found on the remote needs no index page.
#
# What it does:
#   1. records the local mirrors (untimed, needs PyPI unless reused) and serves each on
#      127.0.0.1 with a request log; installs uv $UV_NEW (default 0.13.9) into a throwaway venv;
#   2. starts a one-node Garage S3 store with scripts/remote-up.sh in the scratch directory
#      (stopped at exit) and makes a key pair with `cairn cache keygen`;
#   3. machine A (untimed): one cache, CAIRN_REMOTE_SIGNING_KEY set, installs each set from the
#      mirror with --remote, so it publishes what it unpacks (the command waits for its uploads);
#   4. times, interleaved run by run with the order rotated each round, each into an empty
#      cache and a new target (cairn: --link-mode hardlink; uv: the flags of
#      scripts/bench-large.sh):
#        - "cairn cold, local mirror": --index-url of the mirror, no remote;
#        - "cairn cold, from the remote": machine B, a new empty cache every run, only
#          CAIRN_REMOTE_TRUSTED_KEYS (it publishes nothing), --remote, and --index-url of the
#          mirror so that a miss still installs; its requests to the mirror are counted (0
#          expected: every pin is on the remote);
#        - "uv cold, local mirror": empty UV_CACHE_DIR, `uv pip install --index-url MIRROR`.
#      During timed runs a proxy that refuses every connection stands in for the internet
#      (NO_PROXY=127.0.0.1: the mirror and the store are reached directly). Every run must
#      leave one .dist-info per pin in its target.
#   5. prints a table: wall time and peak RSS (median and range), the ratio to cairn's cold
#      install from the mirror (of medians, and the median of the ratios of runs timed in the
#      same round), the mirror's requests per run, machine B's requests to the store per run
#      (from Garage's log), whether the targets are met (the remote ≤ 0.6× the mirror for
#      torch, ≤ 0.5× for the large set), and how many wheels machine A published (its cache is
#      deleted once it has, unless --keep). A request from machine B to the mirror is reported
#      as a warning.
#
# Wall time from `date +%s.%N` around each process, peak RSS from `/usr/bin/time`. The page
# cache is not dropped (that needs root): the mirror's files and the store's objects are read
# once before the timed runs, so every run reads them from memory, as from a server's hot
# files; the clients' caches and targets are new directories each run, after a `sync`. The
# mirror and the store run on the same machine, sharing its cores with the client they serve.
# The environment's CAIRN_*, UV_* and AWS_* variables are cleared (only CAIRN_CORPUS_TSV and
# UV_NEW are read first), so that nothing but the flags above reaches the tools.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
helpers="$repo_root/scripts/bench"
uv_version="${UV_NEW:-0.13.9}"
corpus_tsv="${CAIRN_CORPUS_TSV:-$repo_root/benches/data/corpus.tsv}"
large="$repo_root/benches/data/large.txt"
cairn="${CARGO_TARGET_DIR:-$repo_root/target}/release/cairn"
[[ "$cairn" == /* ]] || cairn="$repo_root/$cairn"
runs=3
rows_list="torch,large"
mirror=""
requirements=""
out=""
keep=0
invocation="scripts/bench-remote.sh${*:+ $*}"

while read -r name; do
    case "$name" in
        CAIRN_* | UV_* | AWS_*) unset "$name" ;;
    esac
done < <(compgen -e)

die() {
    echo "bench-remote: error: $*" >&2
    exit 1
}
note() { echo "bench-remote: $*" >&2; }

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
        --cairn)
            [[ -n "${2:-}" ]] || die "--cairn needs a path"
            cairn="$(realpath -m -- "$2")"
            shift 2
            ;;
        --mirror)
            [[ -n "${2:-}" ]] || die "--mirror needs a directory"
            mirror="$(realpath -m -- "$2")"
            shift 2
            ;;
        --requirements)
            [[ -n "${2:-}" ]] || die "--requirements needs a file"
            requirements="$(realpath -m -- "$2")"
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

for tool in python3 sync findmnt; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (Debian: apt-get install -y time)"
python3 -c 'import venv' 2>/dev/null || die "python3 cannot create venvs (Debian: apt-get install -y python3-venv)"
[[ -x "$cairn" ]] || die "no cairn binary at $cairn (build it: cargo build --release -p cairn, or pass --cairn)"
cairn_help="$("$cairn" --help)" || die "$cairn --help failed"
[[ "$cairn_help" == *"--remote <"* ]] || die "$cairn has no --remote option: rebuild it"
cairn_version="$("$cairn" --version)"

all_sets=(torch large)
declare -A selected=()
IFS=, read -r -a requested <<<"$rows_list"
for set in "${requested[@]}"; do
    [[ " ${all_sets[*]} " == *" $set "* ]] || die "unknown row '$set' (rows: ${all_sets[*]})"
    selected[$set]=1
done
sets=()
for set in "${all_sets[@]}"; do
    [[ -z "${selected[$set]:-}" ]] || sets+=("$set")
done
((${#sets[@]} > 0)) || die "--rows selects no row"
want() { [[ -n "${selected[$1]:-}" ]]; }
[[ -z "$requirements" ]] || want large || die "--requirements replaces the large set: add large to --rows"

# ---- scratch directory and cleanup ---------------------------------------------------------

# On a disk filesystem (hard links, no tmpfs flattering anyone).
scratch="$(mktemp -d "${TMPDIR:-/tmp}/bench-remote.XXXXXX")"
garage_dir="$scratch/garage"
declare -A server_pid=()
garage_started=0
cleanup() {
    local set
    for set in "${!server_pid[@]}"; do
        kill "${server_pid[$set]}" 2>/dev/null || true
        wait "${server_pid[$set]}" 2>/dev/null || true
    done
    if ((garage_started)); then
        "$repo_root/scripts/remote-up.sh" --stop "$garage_dir" 2>>"$scratch/garage-up.log" || true
    fi
    if ((keep)); then
        note "scratch directory kept: $scratch"
    else
        rm -rf -- "$scratch"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
[[ "$(findmnt -T "$scratch" -o FSTYPE -n)" != tmpfs ]] || die "$scratch is on tmpfs: set TMPDIR"
# A copy, so that a rebuild while the benchmark runs cannot give machine A one build and the
# timed runs another.
mkdir "$scratch/bin"
cp -- "$cairn" "$scratch/bin/cairn"
cairn_source="$cairn"
cairn="$scratch/bin/cairn"
python="$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')"

# ---- the sets' requirements files ----------------------------------------------------------

declare -A req=() label=() pins=() set_mirror=() target_ratio=()
if [[ -z "$mirror" ]]; then
    mirror="$scratch/mirror"
    ((!keep)) || note "the recordings stay in $mirror: pass --mirror $mirror next time"
fi
if want torch; then
    [[ -r "$corpus_tsv" ]] || die "cannot read the corpus list '$corpus_tsv' (set CAIRN_CORPUS_TSV)"
    read -r torch_version torch_file torch_sha < <(
        awk -F'\t' 'NR > 1 && $1 == "torch" { print $2, $3, $5; exit }' "$corpus_tsv"
    ) || die "no torch in $corpus_tsv"
    [[ "$torch_sha" =~ ^[0-9a-f]{64}$ ]] || die "no sha256 for torch in $corpus_tsv"
    req[torch]="$scratch/torch.txt"
    echo "torch==$torch_version --hash=sha256:$torch_sha" >"${req[torch]}"
    label[torch]="torch==$torch_version"
    set_mirror[torch]="$mirror/torch"
    target_ratio[torch]=0.6
    # The wheel fetched by scripts/fetch-corpus.sh, if any, saves mirror.py 0.5 GB of download
    # (it checks the digest of a file already in place).
    if [[ -f "$repo_root/corpus/$torch_file" && ! -e "${set_mirror[torch]}/files/$torch_file" ]]; then
        mkdir -p "${set_mirror[torch]}/files"
        ln -- "$repo_root/corpus/$torch_file" "${set_mirror[torch]}/files/$torch_file" 2>/dev/null ||
            cp -- "$repo_root/corpus/$torch_file" "${set_mirror[torch]}/files/$torch_file"
    fi
fi
if want large; then
    if [[ -n "$requirements" ]]; then
        req[large]="$requirements"
        label[large]="$(basename -- "$requirements")"
    else
        req[large]="$large"
        label[large]="large.txt"
        target_ratio[large]=0.5
    fi
    [[ -r "${req[large]}" ]] || die "cannot read ${req[large]}"
    set_mirror[large]="$mirror"
fi
for set in "${sets[@]}"; do
    pins[$set]="$(grep -c '^[A-Za-z0-9].*==' "${req[$set]}")" || die "${req[$set]} pins nothing"
    if ((pins[$set] == 1)); then
        label[$set]="${label[$set]} (1 pin)"
    else
        label[$set]="${label[$set]} (${pins[$set]} pins)"
    fi
done

# ---- uv, the mirrors ------------------------------------------------------------------------

note "installing uv==$uv_version into a throwaway venv"
python3 -m venv "$scratch/uv-venv"
"$scratch/uv-venv/bin/pip" install --quiet --disable-pip-version-check "uv==$uv_version" ||
    die "installing uv==$uv_version failed"
uv="$scratch/uv-venv/bin/uv"

declare -A mirror_url=() mirror_log=()
for set in "${sets[@]}"; do
    note "recording the $set mirror into ${set_mirror[$set]} (untimed; reused if complete)"
    # The benchmark's interpreter records: its tags choose the wheels the pins can use.
    "$python" "$helpers/mirror.py" record "${req[$set]}" "${set_mirror[$set]}" ||
        die "recording the $set mirror failed"
    mirror_log[$set]="$scratch/mirror-$set.log"
    python3 "$helpers/mirror.py" serve "${set_mirror[$set]}" --log "${mirror_log[$set]}" \
        >"$scratch/mirror-$set.out" 2>&1 </dev/null &
    server_pid[$set]=$!
    port=""
    for ((i = 0; i < 600; i++)); do
        if [[ -s "$scratch/mirror-$set.out" ]] && read -r ready port <"$scratch/mirror-$set.out" &&
            [[ "$ready" == ready ]]; then
            break
        fi
        port=""
        kill -0 "${server_pid[$set]}" 2>/dev/null || break
        sleep 0.05
    done
    [[ -n "$port" ]] || die "the $set mirror did not start: $(cat "$scratch/mirror-$set.out")"
    mirror_url[$set]="http://127.0.0.1:$port/simple"
    # Into the page cache, as a server's hot files are.
    find "${set_mirror[$set]}/files" -maxdepth 1 -type f -exec cat {} + >/dev/null
    note "serving the $set mirror at ${mirror_url[$set]}"
done

# ---- the remote -----------------------------------------------------------------------------

note "starting a one-node Garage store in $garage_dir"
garage_started=1
"$repo_root/scripts/remote-up.sh" --dir "$garage_dir" >/dev/null 2>>"$scratch/garage-up.log" ||
    die "scripts/remote-up.sh failed: $(tail -n 20 "$scratch/garage-up.log")"
# Its variables go to the remote runs only: CAIRN_REMOTE in the environment would give every
# cairn run the remote.
remote_env=()
while IFS= read -r -d '' assignment; do
    remote_env+=("$assignment")
done < <(
    bash -c 'source "$1" && for name in AWS_ENDPOINT_URL AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY \
        AWS_REGION AWS_DEFAULT_REGION AWS_ALLOW_HTTP; do printf "%s=%s\0" "$name" "${!name}"; done
        printf "%s\0" "$CAIRN_REMOTE"' _ "$garage_dir/env"
)
((${#remote_env[@]} == 7)) || die "unexpected $garage_dir/env"
remote_url="${remote_env[6]}/bench-remote"
unset 'remote_env[6]'

keys="$("$cairn" cache keygen bench-remote-a)" || die "cairn cache keygen failed"
signing_key="$(sed -n 's/^CAIRN_REMOTE_SIGNING_KEY=//p' <<<"$keys")"
trusted_keys="$(sed -n 's/^CAIRN_REMOTE_TRUSTED_KEYS=//p' <<<"$keys")"
[[ -n "$signing_key" && -n "$trusted_keys" ]] || die "unexpected output of cairn cache keygen"

# The internet out of reach: a proxy on the discard port refuses every connection that is not
# to 127.0.0.1 (the mirrors and the store), for machine A and the timed runs.
dead=http://127.0.0.1:9
offline_env=(HTTP_PROXY="$dead" HTTPS_PROXY="$dead" ALL_PROXY="$dead" http_proxy="$dead"
    https_proxy="$dead" all_proxy="$dead" NO_PROXY=127.0.0.1 no_proxy=127.0.0.1)

# Machine A publishes each set: one cache for all, the same flags as a timed run.
declare -A publish_seconds=() published=()
for set in "${sets[@]}"; do
    note "machine A: installing the $set set from the mirror and publishing it (untimed)"
    rm -rf "$scratch/target-a"
    start="$(date +%s.%N)"
    env "${offline_env[@]}" "${remote_env[@]}" CAIRN_REMOTE_SIGNING_KEY="$signing_key" \
        CAIRN_REMOTE_TRUSTED_KEYS="$trusted_keys" \
        "$cairn" --cache-dir "$scratch/machine-a" --remote "$remote_url" install \
        -r "${req[$set]}" --target "$scratch/target-a" --link-mode hardlink --python "$python" \
        --index-url "${mirror_url[$set]}" >"$scratch/machine-a-$set.log" 2>&1 ||
        die "machine A failed on the $set set (see $scratch/machine-a-$set.log)"
    publish_seconds[$set]="$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $start }")"
    # "Published N wheels to URL" (nothing when it published none).
    published[$set]="$(sed -n 's/^Published \([0-9]*\) wheels\{0,1\} to .*/\1/p' \
        "$scratch/machine-a-$set.log" | tail -n 1)"
    published[$set]="${published[$set]:-0}"
    if grep -i -E 'warn|error' "$scratch/machine-a-$set.log" >&2; then
        note "machine A printed the above on the $set set"
    fi
    ((published[$set] == pins[$set])) ||
        note "warning: machine A published ${published[$set]} wheels of the ${pins[$set]} pins of the $set set"
done
rm -rf "$scratch/target-a"
((keep)) || rm -rf "$scratch/machine-a"
# What the store holds, as Garage counts it (its counters may lag by a moment).
garage_bin="${GARAGE_BIN:-$(command -v garage || echo "${CARGO_HOME:-$HOME/.cargo}/bin/garage")}"
store_size="$("$garage_bin" -c "$garage_dir/node1.toml" bucket info cairn 2>/dev/null |
    awk '/^Size:/ { $1 = ""; size = $0 } /^Objects:/ { objects = $2 }
        END { if (size != "") printf "%s objects,%s", objects, size }')" || true
# The store's objects into the page cache too.
find "$garage_dir/node1" -type f -exec cat {} + >/dev/null

# ---- timed runs ------------------------------------------------------------------------------

# run SET CASE: one timed cold install into an empty cache and a new target; appends
# "SET CASE SECONDS KIB START END" to the results.
run() {
    local set="$1" case="$2" cache="$scratch/cache" target="$scratch/target" start end found
    local log="$scratch/$case.log"
    rm -rf -- "$cache" "$target"
    sync
    start="$(date +%s.%N)"
    case "$case" in
        mirror)
            env "${offline_env[@]}" /usr/bin/time -f "%M" -o "$scratch/rss" \
                "$cairn" --cache-dir "$cache" install -q -r "${req[$set]}" --target "$target" \
                --link-mode hardlink --python "$python" --index-url "${mirror_url[$set]}" \
                2>>"$log" || die "cairn failed on $set from the mirror (see $log)"
            ;;
        remote)
            env "${offline_env[@]}" "${remote_env[@]}" CAIRN_REMOTE_TRUSTED_KEYS="$trusted_keys" \
                /usr/bin/time -f "%M" -o "$scratch/rss" \
                "$cairn" --cache-dir "$cache" --remote "$remote_url" install -q \
                -r "${req[$set]}" --target "$target" --link-mode hardlink --python "$python" \
                --index-url "${mirror_url[$set]}" \
                2>>"$log" || die "cairn failed on $set from the remote (see $log)"
            ;;
        uv)
            env "${offline_env[@]}" UV_CACHE_DIR="$cache" /usr/bin/time -f "%M" -o "$scratch/rss" \
                "$uv" pip install -q -r "${req[$set]}" --target "$target" --link-mode hardlink \
                --python "$python" --no-deps --no-config --index-url "${mirror_url[$set]}" \
                2>>"$log" || die "uv failed on $set (see $log)"
            ;;
    esac
    end="$(date +%s.%N)"
    found="$(find "$target" -mindepth 1 -maxdepth 1 -name '*.dist-info' -type d | wc -l)"
    ((found == pins[$set])) ||
        die "$case run on $set left $found .dist-info directories in its target, not ${pins[$set]}"
    echo "$set $case $(awk "BEGIN { print $end - $start }") $(cat "$scratch/rss") $start $end" \
        >>"$scratch/results"
}

cases=(mirror remote uv)
for ((i = 1; i <= runs; i++)); do
    note "round $i of $runs"
    for set in "${sets[@]}"; do
        for ((k = 0; k < ${#cases[@]}; k++)); do
            run "$set" "${cases[(k + i - 1) % ${#cases[@]}]}"
        done
    done
done
rm -rf -- "$scratch/cache" "$scratch/target"

for set in "${sets[@]}"; do
    kill "${server_pid[$set]}" 2>/dev/null || true
    wait "${server_pid[$set]}" 2>/dev/null || true
    unset 'server_pid[$set]'
done
for log in "$scratch"/{mirror,remote,uv}.log; do
    if [[ -s "$log" ]]; then
        note "$(basename "$log" .log) runs printed on stderr:"
        sed 's/^/    /' "$log" >&2
    fi
done

# ---- the table -------------------------------------------------------------------------------

report_args=("$scratch/results" "$uv_version" "$garage_dir/node1.log")
for set in "${sets[@]}"; do
    report_args+=("$set" "${label[$set]}" "${pins[$set]}" "${mirror_log[$set]}"
        "${target_ratio[$set]:-}")
done
report="$(
    python3 - "${report_args[@]}" <<'EOF'
import collections, datetime, re, statistics, sys

results, uv_version, store_log = sys.argv[1], sys.argv[2], sys.argv[3]
sets = [sys.argv[i:i + 5] for i in range(4, len(sys.argv), 5)]
names = {
    "mirror": "cairn cold, local mirror",
    "remote": "cairn cold, from the remote",
    "uv": f"uv {uv_version} cold, local mirror",
}
order = ["mirror", "remote", "uv"]

runs_of = collections.defaultdict(list)  # (set, case) -> [(seconds, kib, start, end)]
for line in open(results):
    s, case, seconds, kib, start, end = line.split()
    runs_of[s, case].append((float(seconds), int(kib), float(start), float(end)))

def requests(log, windows):
    """Per run: Counter of "page STATUS"/"file STATUS" and MB of the requests it made."""
    lines = []
    try:
        with open(log) as file:
            for line in file:
                method, path, status, sent, agent, started, _ = line.split()
                kind = {"simple": "page", "files": "file"}.get(path.split("/")[1], "other")
                lines.append((float(started), f"{kind} {status}", int(sent)))
    except FileNotFoundError:
        pass
    per_run = []
    for start, end in windows:
        counts, sent = collections.Counter(), 0
        for started, key, size in lines:
            if start <= started <= end:
                counts[key] += 1
                sent += size
        per_run.append((counts, sent))
    return per_run

# Garage's log of S3 requests (remote-up.sh runs it at INFO): "TIME INFO ...: ADDR (key K) METHOD PATH".
store_requests = []
try:
    with open(store_log) as file:
        for line in file:
            m = re.match(r"(\S+?)Z?\s+INFO garage_api_common::generic_server: \S+ \(key \S+\) (\w+) (\S+)", line)
            if not m:
                continue
            when = datetime.datetime.fromisoformat(m.group(1)).replace(tzinfo=datetime.timezone.utc)
            method, path = m.group(2), m.group(3)
            kind = ("LIST" if "list-type=" in path else
                    f"{method} {'record' if '/index/' in path else 'pack' if '/packs/' in path else 'other'}")
            store_requests.append((when.timestamp(), kind))
except FileNotFoundError:
    pass

def fmt_s(x):
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"

def span(values, fmt, unit):
    m = statistics.median(values)
    if len(values) == 1:
        return f"{fmt(m)} {unit}"
    return f"{fmt(m)} {unit} ({fmt(min(values))}–{fmt(max(values))})"

print(f"| set | case | wall time, median (range) | peak RSS, median (range) "
      "| ÷ cairn from the mirror (paired) | requests to the mirror per run |")
print("|---|---|---:|---:|---:|---|")
verdicts, problems = [], []
for s, label, pins, log, target in sets:
    pins = int(pins)
    base = runs_of[s, "mirror"]
    for case in order:
        rs = runs_of[s, case]
        seconds = [r[0] for r in rs]
        mib = [r[1] / 1024 for r in rs]
        ratio = statistics.median(seconds) / statistics.median(r[0] for r in base)
        paired = statistics.median(a[0] / b[0] for a, b in zip(rs, base))
        ratio_text = "1" if case == "mirror" else f"{ratio:.2f}× ({paired:.2f}×)"
        per_run = requests(log, [(r[2], r[3]) for r in rs])
        keys = sorted({k for counts, _ in per_run for k in counts})
        if keys:
            parts = [f"{statistics.median(c[k] for c, _ in per_run):g} {k}" for k in keys]
            mb = statistics.median(sent for _, sent in per_run) / 1e6
            req_text = ", ".join(parts) + (f", {mb:.0f} MB" if mb >= 10 else f", {mb:.2g} MB")
        else:
            req_text = "0"
        print(f"| {label} | {names[case]} | {span(seconds, fmt_s, 's')} "
              f"| {span(mib, lambda x: f'{x:.0f}', 'MiB')} | {ratio_text} | {req_text} |")
        if case == "remote":
            total = sum(sum(c.values()) for c, _ in per_run)
            if total:
                problems.append(f"{label}: machine B made {total} request(s) to the mirror in "
                                f"{len(per_run)} run(s); every pin should have come from the remote")
            uv_ratio = statistics.median(seconds) / statistics.median(r[0] for r in runs_of[s, "uv"])
            verdict = (f"{label}: from the remote, {ratio:.2f}× cairn's cold install from the "
                       f"mirror (paired {paired:.2f}×) and {uv_ratio:.2f}× uv's")
            if target:
                met = "met" if ratio <= float(target) else "NOT met"
                verdict += f"; target ≤ {target}×: {met}"
            per_run_store = []
            for r in rs:
                per_run_store.append(collections.Counter(k for t, k in store_requests if r[2] <= t <= r[3]))
            kinds = sorted({k for c in per_run_store for k in c})
            if kinds:
                verdict += ("; its requests to the store per run: "
                            + ", ".join(f"{statistics.median(c[k] for c in per_run_store):g} {k}" for k in kinds))
            verdicts.append(verdict + ".")
        else:
            short = [c["file 200"] for c, _ in per_run if c["file 200"] < pins]
            if short:
                problems.append(f"{label}: a {names[case]} run fetched only {min(short)} wheel(s) "
                                f"from the mirror for {pins} pins")
print()
for line in verdicts:
    print(line)
for line in problems:
    print("Warning: " + line + ".")
EOF
)" || die "the report failed"

notes="Machine A's untimed installs that filled the remote (one cache, signing key set):"
for set in "${sets[@]}"; do
    notes+=" $set ${publish_seconds[$set]} s, ${published[$set]} wheels published;"
done
notes="${notes%;}."
[[ -z "$store_size" ]] || notes+=" The store then held $store_size (Garage's count)."

echo "$report"
echo
echo "$notes"
if [[ -n "$out" ]]; then
    {
        echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores with \`$invocation\`"
        echo "($cairn_version from $cairn_source, uv $uv_version, one Garage node and the mirrors on"
        echo "127.0.0.1;"
        echo "each run into an empty cache and a new target, warm page cache):"
        echo
        echo "$report"
        echo
        echo "$notes"
    } >"$out"
    note "wrote $out"
fi
