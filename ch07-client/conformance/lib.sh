# lib.sh — what every chapter's conformance run shares (sourced, not run):
# ali-ons installed exactly as package-lock.json says, and a name server plus
# one broker on free 127.0.0.1 ports that are stopped, by PID, on exit.
#
#   . ch07-client/conformance/lib.sh
#   conf_init TAG BIN_DIR BUILD_DIR     checks the programs, sets $bin $build
#   conf_install_client                 npm ci into $build (skipped when current)
#   conf_start "extra broker.conf lines"
#       (a function conf_before_broker, when the caller defines one, runs once
#       $dir/broker.conf is written and before the broker starts: acl.sh puts
#       plain_acl.yml beside it)
#       sets $dir $ns $nsp $brp $ns_pid $br_pid $cluster; on exit the broker and the
#       name server are stopped and $dir removed (its broker.log tail shown on failure)
#   conf_start_namesrv                  only the name server (conf_start's first half):
#       sets $dir $ns $nsp $ns_pid and the exit trap; a caller starting brokers of its
#       own adds their PIDs to conf_pids (stopped on exit), logs as $dir/*.log (their
#       tails shown on failure) and stores under $dir/store (removed even on failure)
#   conf_wait SECONDS WHAT CMD...       runs CMD every 0.1 s until it succeeds; after
#       SECONDS says "WHAT never happened" and returns 1

conf_init() {
  conf_tag=$1
  bin=$(cd "$2" && pwd)
  mkdir -p "$3"
  build=$(cd "$3" && pwd)
  conf_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  for b in mqnamesrv mqbroker mqadmin; do
    [ -x "$bin/$b" ] || { echo "$conf_tag: $bin/$b missing (make all)" >&2; exit 1; }
  done
  command -v node >/dev/null || { echo "$conf_tag: node not found" >&2; exit 1; }
  command -v npm >/dev/null || { echo "$conf_tag: npm not found" >&2; exit 1; }
}

conf_install_client() {
  cp "$conf_here/package.json" "$conf_here/package-lock.json" "$build/"
  # npm ci wipes and reinstalls node_modules; skip it when the installed tree
  # was made from this very lock file.
  local lock_sum
  lock_sum=$(sha256sum "$build/package-lock.json" | cut -d' ' -f1)
  if [ -d "$build/node_modules" ] && [ "$(cat "$build/node_modules/.conformance-lock" 2>/dev/null)" = "$lock_sum" ]; then
    echo "$conf_tag: node_modules matches package-lock.json, skipping npm ci"
  else
    (cd "$build" && npm ci --no-audit --no-fund)
    echo "$lock_sum" > "$build/node_modules/.conformance-lock"
  fi
  ons_version=$(node -p "require('$build/node_modules/ali-ons/package.json').version")
}

# N distinct free ports on 127.0.0.1 (all held at once, so distinct; all
# closed before they are printed), drawn below the ephemeral range: a port
# bind(0) hands out may meanwhile become some outgoing connection's local
# port, and the server meant for it then cannot listen.
conf_free_ports() {
  python3 - "$1" <<'PY'
import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
ports, held = [], []
while len(ports) < int(sys.argv[1]):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", random.randrange(10000, low)))
    except OSError:
        s.close()
        continue
    held.append(s)
    ports.append(s.getsockname()[1])
for s in held:          # closed before the caller reads them: it starts
    s.close()           # servers there while this process may still be exiting
print(*ports, flush=True)
PY
}

conf_stop() { if [ -n "$1" ]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi; }
conf_cleanup() {
  local rc=$? p f
  for p in ${conf_pids[@]+"${conf_pids[@]}"}; do conf_stop "$p"; done
  conf_stop "${br_pid:-}"; conf_stop "${ns_pid:-}"
  if [ "$rc" -ne 0 ]; then
    echo "$conf_tag: FAILED (rc=$rc); log tails:" >&2
    for f in "$dir"/*.log; do
      [ -f "$f" ] || continue
      echo "--- $f" >&2
      tail -n 30 "$f" >&2 || true
    done
    rm -rf "$dir/store"
    echo "$conf_tag: logs kept in $dir" >&2
  else
    rm -rf "$dir"
  fi
}
conf_wait() {
  local secs=$1 what=$2 i
  shift 2
  for ((i = 0; i < secs * 10; i++)); do "$@" && return 0; sleep 0.1; done
  echo "$conf_tag: $what never happened within $secs s" >&2; return 1
}
conf_wait_port() {
  for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
  echo "$conf_tag: port $1 never opened" >&2; return 1
}

conf_start_namesrv() {
  dir=$(mktemp -d "${TMPDIR:-/tmp}/rocklet-$conf_tag-XXXXXX")
  ns_pid=; br_pid=; conf_pids=()
  trap conf_cleanup EXIT
  read -r nsp < <(conf_free_ports 1)
  ns=127.0.0.1:$nsp
  printf 'listenPort=%s\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n' "$nsp" "$dir" > "$dir/ns.conf"
  "$bin/mqnamesrv" -c "$dir/ns.conf" > "$dir/ns.log" 2>&1 & ns_pid=$!
  conf_wait_port "$nsp"
}

conf_start() {
  conf_start_namesrv
  # the broker of chapter 8 on also listens for replicas (haListenPort, by
  # default listenPort+1, which may be taken): give it a port of its own
  local hap
  read -r brp hap < <(conf_free_ports 2)
  cluster=ConformanceCluster
  cat > "$dir/broker.conf" <<CONF
brokerClusterName=$cluster
brokerName=broker-a
brokerId=0
namesrvAddr=$ns
brokerIP1=127.0.0.1
listenHost=127.0.0.1
listenPort=$brp
haListenPort=$hap
storePathRootDir=$dir/store
${1:-}
CONF
  if declare -F conf_before_broker > /dev/null; then conf_before_broker; fi
  "$bin/mqbroker" -c "$dir/broker.conf" > "$dir/broker.log" 2>&1 & br_pid=$!
  conf_wait_port "$brp"
  # the broker registers with the name server right after it starts listening
  for _ in $(seq 50); do
    "$bin/mqadmin" clusterList -n "$ns" 2>/dev/null | grep -q broker-a && break
    sleep 0.1
  done
}
