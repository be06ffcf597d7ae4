#!/usr/bin/env bash
# Starts a throwaway Garage S3 object store (https://garagehq.deuxfleurs.fr) on 127.0.0.1 for
# the remote-cache tests and prints the environment to use, as `export NAME=value` lines on
# stdout; everything else goes to stderr. Typical use:
#
#   eval "$(scripts/remote-up.sh)"            # one node
#   eval "$(scripts/remote-up.sh --nodes 3)"  # three nodes, replication factor 3
#   ...
#   scripts/remote-up.sh --stop "$CAIRN_REMOTE_DIR"
#
# Usage: scripts/remote-up.sh [--dir DIR] [--nodes 1|3]
#        scripts/remote-up.sh --stop DIR [--purge]
#   --dir DIR     State directory (configs, metadata, data, nodeN.log, nodeN.pid, env).
#                 Default: a new `mktemp -d`. Must not already hold an instance.
#   --nodes N     1 (default): one node, replication factor 1.
#                 3: three garage processes on distinct ports, connected to each other,
#                 replication factor 3 (any one node can be killed; reads and writes still
#                 reach a quorum of two).
#   --stop DIR    Kill the garage processes started for DIR (from DIR/nodeN.pid), then exit.
#   --purge       With --stop: also delete DIR.
#
# Printed variables: CAIRN_REMOTE (s3://cairn/ci), AWS_ENDPOINT_URL (node 1's S3 API),
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_DEFAULT_REGION (garage),
# AWS_ALLOW_HTTP (true), CAIRN_REMOTE_DIR (the state dir), CAIRN_REMOTE_PIDS (comma-separated
# garage pids, node 1 first) and, with --nodes 3, CAIRN_REMOTE_ENDPOINTS (the three S3 URLs,
# node 1 first). The same lines are written to DIR/env.
#
# Needs python3 (free-port picking, JSON). The garage binary is taken from $GARAGE_BIN, PATH
# or ~/.cargo/bin; when missing it is installed with `cargo install` (a long build, once).
# Ports are chosen free at start-up, so several instances can run side by side.
set -euo pipefail

GARAGE_VERSION=2.5.0
BUCKET=cairn
KEY_NAME=cairn-ci
REGION=garage

log() { printf 'remote-up: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
usage() {
	sed -n '/^# Usage:/,/^#   --purge/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
	exit "${1:-2}"
}

# ---- arguments ----------------------------------------------------------------------------

dir=""
nodes=1
stop_dir=""
purge=0
while [ $# -gt 0 ]; do
	case "$1" in
	--dir) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
	--dir=*) dir=${1#--dir=}; shift ;;
	--nodes) [ $# -ge 2 ] || usage; nodes=$2; shift 2 ;;
	--nodes=*) nodes=${1#--nodes=}; shift ;;
	--stop) [ $# -ge 2 ] || usage; stop_dir=$2; shift 2 ;;
	--stop=*) stop_dir=${1#--stop=}; shift ;;
	--purge) purge=1; shift ;;
	-h | --help) usage 0 ;;
	*) log "unknown argument: $1"; usage ;;
	esac
done

# ---- --stop -------------------------------------------------------------------------------

# True when $1 is a live garage process started with a config inside directory $2 (guards
# against pid reuse and against killing someone else's garage).
is_our_garage() {
	local pid=$1 d=$2 cmdline
	[ -r "/proc/$pid/cmdline" ] || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	case "$cmdline" in
	*garage*"$d/node"*.toml*server*) return 0 ;;
	*) return 1 ;;
	esac
}

stop_instance() {
	local d pidfile pid pids=() i
	d=$(cd "$1" 2>/dev/null && pwd) || die "--stop: no such directory: $1"
	for pidfile in "$d"/node*.pid; do
		[ -e "$pidfile" ] || continue
		pid=$(cat "$pidfile")
		if [[ "$pid" =~ ^[0-9]+$ ]] && is_our_garage "$pid" "$d"; then
			kill -TERM "$pid" 2>/dev/null || true
			pids+=("$pid")
		fi
	done
	# Up to 5 s for a clean exit, then SIGKILL.
	for ((i = 0; i < 50; i++)); do
		local alive=0
		for pid in "${pids[@]+"${pids[@]}"}"; do
			is_our_garage "$pid" "$d" && alive=1
		done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
	for pid in "${pids[@]+"${pids[@]}"}"; do
		if is_our_garage "$pid" "$d"; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	rm -f "$d"/node*.pid
	log "stopped ${#pids[@]} garage process(es) for $d"
	if [ "$purge" = 1 ]; then
		if [ -e "$d/node1.toml" ]; then
			rm -rf "$d"
			log "removed $d"
		else
			log "not removing $d: it does not look like a remote-up.sh state dir"
		fi
	fi
}

if [ -n "$stop_dir" ]; then
	stop_instance "$stop_dir"
	exit 0
fi

case "$nodes" in
1 | 3) ;;
*) die "--nodes must be 1 or 3 (got '$nodes')" ;;
esac
command -v python3 >/dev/null || die "python3 is required"

# ---- garage binary ------------------------------------------------------------------------

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
garage_bin=${GARAGE_BIN:-}
if [ -z "$garage_bin" ]; then
	if command -v garage >/dev/null; then
		garage_bin=$(command -v garage)
	elif [ -x "$cargo_bin/garage" ]; then
		garage_bin="$cargo_bin/garage"
	else
		command -v cargo >/dev/null ||
			die "garage not found (PATH, $cargo_bin, \$GARAGE_BIN) and no cargo to install it"
		log "garage not found; installing garage $GARAGE_VERSION with cargo (takes a while, once)"
		cargo install garage --version "$GARAGE_VERSION" --locked \
			--no-default-features --features bundled-libs,sqlite >&2
		garage_bin="$cargo_bin/garage"
	fi
fi
[ -x "$garage_bin" ] || die "garage binary not executable: $garage_bin"

# ---- state dir, ports, configs ------------------------------------------------------------

t_start=$(date +%s.%N)
if [ -z "$dir" ]; then
	dir=$(mktemp -d "${TMPDIR:-/tmp}/cairn-garage.XXXXXX")
else
	mkdir -p "$dir"
fi
dir=$(cd "$dir" && pwd)
[ ! -e "$dir/node1.toml" ] || die "$dir already holds an instance (stop it with --stop $dir and use a fresh --dir)"

# 3 ports per node (S3, RPC, admin), all bound at once so they are distinct.
read -r -a ports <<<"$(python3 - "$((nodes * 3))" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)"

rpc_secret=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
admin_token=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')

s3_port=() rpc_port=() admin_port=() conf=()
for ((n = 1; n <= nodes; n++)); do
	s3_port[n]=${ports[(n - 1) * 3]}
	rpc_port[n]=${ports[(n - 1) * 3 + 1]}
	admin_port[n]=${ports[(n - 1) * 3 + 2]}
	conf[n]="$dir/node$n.toml"
	mkdir -p "$dir/node$n/meta" "$dir/node$n/data"
	cat >"${conf[n]}" <<EOF
metadata_dir = "$dir/node$n/meta"
data_dir = "$dir/node$n/data"
db_engine = "sqlite"
replication_factor = $nodes
# cairn stores zstd packs and small records: compressing blocks again costs CPU and saves
# nothing, and larger blocks mean fewer per-block round trips for large packs.
compression_level = "none"
block_size = "8M"

rpc_bind_addr = "127.0.0.1:${rpc_port[n]}"
rpc_public_addr = "127.0.0.1:${rpc_port[n]}"
rpc_secret = "$rpc_secret"

[s3_api]
s3_region = "$REGION"
api_bind_addr = "127.0.0.1:${s3_port[n]}"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:${admin_port[n]}"
admin_token = "$admin_token"
EOF
done

failed_cmd=""
# garage CLI against node $1.
g() {
	local n=$1 rc=0
	shift
	"$garage_bin" -c "${conf[n]}" "$@" || rc=$?
	[ "$rc" = 0 ] || failed_cmd="garage -c ${conf[n]} $* (exit $rc)"
	return "$rc"
}

# On failure: stop what was started, show the end of the logs, keep the dir for inspection.
started=0
on_exit() {
	local rc=$?
	if [ "$rc" != 0 ] && [ "$started" = 1 ]; then
		[ -z "$failed_cmd" ] || log "last failed garage command: $failed_cmd"
		for ((n = 1; n <= nodes; n++)); do
			if [ -s "$dir/node$n.log" ]; then
				log "---- tail of $dir/node$n.log ----"
				tail -n 20 "$dir/node$n.log" >&2 || true
			fi
		done
		stop_instance "$dir" || true
		log "start-up failed; state kept in $dir"
	fi
}
trap on_exit EXIT

# Polls "$@" every 0.1 s until it succeeds, for at most $timeout seconds.
timeout=60
wait_for() {
	local what=$1 i
	shift
	for ((i = 0; i < timeout * 10; i++)); do
		if "$@" >/dev/null 2>&1; then
			failed_cmd=""
			return 0
		fi
		sleep 0.1
	done
	die "timed out after ${timeout}s waiting for $what"
}

# ---- start ---------------------------------------------------------------------------------

started=1
pids=()
for ((n = 1; n <= nodes; n++)); do
	# stdin/stdout/stderr away from the caller's pipe, so `eval "$(...)"` does not wait on us.
	NO_COLOR=1 RUST_LOG=${RUST_LOG:-garage=info,netapp=info} \
		nohup "$garage_bin" -c "${conf[n]}" server </dev/null >"$dir/node$n.log" 2>&1 &
	pids[n]=$!
	echo "${pids[n]}" >"$dir/node$n.pid"
done
log "started $nodes garage node(s) in $dir (pids ${pids[*]})"

node_alive() { kill -0 "${pids[$1]}" 2>/dev/null || die "garage node $1 exited (see $dir/node$1.log)"; }

node_id=() node_full=()
for ((n = 1; n <= nodes; n++)); do
	node_alive "$n"
	wait_for "node $n to answer 'garage status'" g "$n" status
	# `node id -q` prints "<64 hex>@127.0.0.1:<rpc port>".
	full=$(g "$n" node id -q 2>/dev/null | tail -n 1)
	[[ "$full" =~ ^([0-9a-f]{64})@ ]] || die "unexpected 'garage node id' output for node $n: $full"
	node_id[n]=${BASH_REMATCH[1]}
	node_full[n]=$full
done

cluster_connected() {
	# All $nodes nodes seen as up by node 1.
	g 1 json-api GetClusterStatus | python3 -c '
import json, sys
st = json.load(sys.stdin)
up = [n for n in st.get("nodes", []) if n.get("isUp")]
sys.exit(0 if len(up) >= int(sys.argv[1]) else 1)' "$nodes"
}
if [ "$nodes" -gt 1 ]; then
	for ((n = 2; n <= nodes; n++)); do
		g 1 node connect "${node_full[n]}" >/dev/null
	done
	wait_for "all nodes to see each other" cluster_connected
fi

g 1 layout assign -z dc1 -c 1G "${node_id[@]}" >/dev/null
g 1 layout apply --version 1 >/dev/null

cluster_healthy() {
	local n
	for ((n = 1; n <= nodes; n++)); do
		g "$n" json-api GetClusterHealth | python3 -c '
import json, sys
sys.exit(0 if json.load(sys.stdin).get("status") == "healthy" else 1)' || return 1
	done
}
wait_for "the layout to be applied on every node" cluster_healthy

g 1 bucket create "$BUCKET" >/dev/null
g 1 key create "$KEY_NAME" >/dev/null
key_id=$(g 1 key info "$KEY_NAME" --key-id | tr -d '[:space:]')
secret=$(g 1 key info "$KEY_NAME" --secret-key | tr -d '[:space:]')
[[ "$key_id" =~ ^GK[0-9a-f]{24}$ ]] || die "unexpected key id from 'garage key info --key-id': '$key_id'"
[[ "$secret" =~ ^[0-9a-f]{64}$ ]] || die "unexpected secret from 'garage key info --secret-key'"
g 1 bucket allow --read --write --owner "$BUCKET" --key "$key_id" >/dev/null

# The S3 API of every node accepts connections.
s3_up() {
	local n
	for ((n = 1; n <= nodes; n++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/${s3_port[n]}") 2>/dev/null || return 1
	done
}
wait_for "the S3 API" s3_up

# ---- environment ---------------------------------------------------------------------------

endpoints=()
for ((n = 1; n <= nodes; n++)); do
	endpoints+=("http://127.0.0.1:${s3_port[n]}")
done
pid_list=$(IFS=,; echo "${pids[*]}")
endpoint_list=$(IFS=,; echo "${endpoints[*]}")

# Plain values are printed bare (readable, and usable by non-shell consumers of DIR/env);
# anything else is single-quoted for the shell.
emit() {
	if [[ "$2" =~ ^[A-Za-z0-9_./:,@%+=-]*$ ]]; then
		printf 'export %s=%s\n' "$1" "$2"
	else
		printf "export %s='%s'\n" "$1" "${2//\'/\'\\\'\'}"
	fi
}
{
	emit CAIRN_REMOTE "s3://$BUCKET/ci"
	emit AWS_ENDPOINT_URL "${endpoints[0]}"
	emit AWS_ACCESS_KEY_ID "$key_id"
	emit AWS_SECRET_ACCESS_KEY "$secret"
	emit AWS_REGION "$REGION"
	emit AWS_DEFAULT_REGION "$REGION"
	emit AWS_ALLOW_HTTP true
	emit CAIRN_REMOTE_DIR "$dir"
	emit CAIRN_REMOTE_PIDS "$pid_list"
	if [ "$nodes" -gt 1 ]; then
		emit CAIRN_REMOTE_ENDPOINTS "$endpoint_list"
	fi
} >"$dir/env"
cat "$dir/env"

t_end=$(date +%s.%N)
log "garage ready: $nodes node(s), S3 at $endpoint_list, bucket '$BUCKET', in $(python3 -c "print(f'{$t_end - $t_start:.1f}')")s"
log "stop with: scripts/remote-up.sh --stop $dir [--purge]"
