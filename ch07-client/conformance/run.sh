#!/usr/bin/env bash
# Conformance: the pure-JavaScript RocketMQ 4.x client ali-ons (npm, pinned in
# package.json / package-lock.json) produces to and consumes from rocklet.
#
#   mqadmin sendMessage (C)  --5-->  broker  --> ali-ons Consumer (JS)
#   ali-ons Producer (JS)    --50->  broker  --> ali-ons Consumer (JS)
#                                            --> mqadmin consumeMessage (C)
#
# Usage: run.sh BIN_DIR BUILD_DIR
#   BIN_DIR    rocklet binaries (mqnamesrv, mqbroker, mqadmin)
#   BUILD_DIR  where node_modules is installed (npm ci); nothing is written
#              next to this script.
# Everything listens on 127.0.0.1 only.
set -euo pipefail
bin=${1:?usage: run.sh BIN_DIR BUILD_DIR}
build=${2:?usage: run.sh BIN_DIR BUILD_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$(cd "$bin" && pwd)
for b in mqnamesrv mqbroker mqadmin; do
  [ -x "$bin/$b" ] || { echo "conformance: $bin/$b missing (make all)" >&2; exit 1; }
done
command -v node >/dev/null || { echo "conformance: node not found" >&2; exit 1; }
command -v npm >/dev/null || { echo "conformance: npm not found" >&2; exit 1; }

# --- the JavaScript client, installed exactly as locked ---------------------
mkdir -p "$build"
build=$(cd "$build" && pwd)
cp "$here/package.json" "$here/package-lock.json" "$here/roundtrip.js" "$build/"
# npm ci wipes and reinstalls node_modules; skip it when the installed tree
# was made from this very lock file.
lock_sum=$(sha256sum "$build/package-lock.json" | cut -d' ' -f1)
if [ -d "$build/node_modules" ] && [ "$(cat "$build/node_modules/.conformance-lock" 2>/dev/null)" = "$lock_sum" ]; then
  echo "conformance: node_modules matches package-lock.json, skipping npm ci"
else
  (cd "$build" && npm ci --no-audit --no-fund)
  echo "$lock_sum" > "$build/node_modules/.conformance-lock"
fi
ons_version=$(node -p "require('$build/node_modules/ali-ons/package.json').version")

# --- a name server and a broker on free loopback ports ----------------------
dir=$(mktemp -d "${TMPDIR:-/tmp}/rocklet-conformance-XXXXXX")
ns_pid=; br_pid=
stop() { if [ -n "$1" ]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi; }
cleanup() {
  rc=$?
  stop "$br_pid"; stop "$ns_pid"
  if [ "$rc" -ne 0 ]; then
    echo "conformance: FAILED (rc=$rc); broker log tail:" >&2
    tail -n 30 "$dir/broker.log" >&2 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
wait_port() { for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "conformance: port $1 never opened" >&2; return 1; }

# three distinct ports at once (separate look-ups can return the same port);
# the broker of chapter 8 on also listens for replicas (haListenPort, by
# default listenPort+1, which may be taken): give it one of its own
read -r nsp brp hap < <(python3 -c 'import socket
ss=[socket.socket() for _ in range(3)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
ns=127.0.0.1:$nsp
cluster=ConformanceCluster
printf 'listenPort=%s\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n' "$nsp" "$dir" > "$dir/ns.conf"
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
CONF
"$bin/mqnamesrv" -c "$dir/ns.conf" > "$dir/ns.log" 2>&1 & ns_pid=$!
wait_port "$nsp"
"$bin/mqbroker" -c "$dir/broker.conf" > "$dir/broker.log" 2>&1 & br_pid=$!
wait_port "$brp"
# the broker registers with the name server right after it starts listening
for _ in $(seq 50); do
  "$bin/mqadmin" clusterList -n "$ns" 2>/dev/null | grep -q broker-a && break
  sleep 0.1
done
echo "conformance: name server $ns, broker 127.0.0.1:$brp, ali-ons $ons_version, node $(node --version)"

topic=OnsConformance
"$bin/mqadmin" updateTopic -n "$ns" -c "$cluster" -t "$topic" -r 4 -w 4 > /dev/null
sleep 0.5

# --- C producer: 5 messages for the JS consumer -----------------------------
c_count=5; c_prefix=rocklet-c-
for i in $(seq "$c_count"); do
  "$bin/mqadmin" sendMessage -n "$ns" -t "$topic" -p "$c_prefix$i" -c CTag -k "c-key-$i" > "$dir/send.out" \
    || { cat "$dir/send.out" >&2; echo "conformance: mqadmin sendMessage #$i failed" >&2; exit 1; }
done
echo "conformance: mqadmin sendMessage: $c_count messages"

# --- JS producer + JS consumer ----------------------------------------------
run_id=ons-$$-$(date +%s)
n=50
(cd "$build" && NODE_PATH="$build/node_modules" NAMESRV="$ns" TOPIC="$topic" RUN_ID="$run_id" N="$n" \
  C_PREFIX="$c_prefix" C_COUNT="$c_count" JS_SENT_FILE="$dir/js_sent.txt" \
  timeout 90 node roundtrip.js)

# --- C consumer: the JS-sent messages as rocklet's mqadmin sees them --------
"$bin/mqadmin" consumeMessage -n "$ns" -t "$topic" -c 100 > "$dir/consume.out"
seen=0; missing=()
while IFS= read -r body; do
  [ -n "$body" ] || continue
  if grep -qF -- "$body" "$dir/consume.out"; then seen=$((seen + 1)); else missing+=("$body"); fi
done < "$dir/js_sent.txt"
if [ "${#missing[@]}" -ne 0 ]; then
  echo "conformance: mqadmin consumeMessage misses ${#missing[@]} ali-ons bodies, e.g. ${missing[0]}" >&2
  head -n 5 "$dir/consume.out" >&2
  exit 1
fi
c_seen=$(grep -c -F -- "$c_prefix" "$dir/consume.out" || true)
# the broker kept ali-ons' tags and keys (properties) as mqadmin reads them
for i in 3 8; do
  tag=TagEven; [ $((i % 2)) -eq 1 ] && tag=TagOdd
  grep -qF -- "tags [$tag] keys [$run_id-key-$i]: $run_id-$i" "$dir/consume.out" \
    || { echo "conformance: mqadmin consumeMessage lacks tags [$tag] keys [$run_id-key-$i] for $run_id-$i" >&2; exit 1; }
done

# --- the offsets ali-ons committed (UPDATE_CONSUMER_OFFSET) ------------------
# (oneway requests on ali-ons' own connection: allow the broker a moment)
for _ in $(seq 20); do
  "$bin/mqadmin" consumerProgress -n "$ns" -g ons_conformance -t "$topic" > "$dir/progress.out" 2>&1 || true
  diff_total=$(sed -n 's/^Diff Total: //p' "$dir/progress.out")
  [ "$diff_total" = 0 ] && break
  sleep 0.1
done
if [ "$diff_total" != 0 ]; then
  cat "$dir/progress.out" >&2
  echo "conformance: group ons_conformance lags $diff_total after ali-ons closed (offsets not committed)" >&2
  exit 1
fi
echo "conformance: OK (ali-ons $ons_version: $n sent SEND_OK incl. one compressed >4 KiB body; ali-ons consumer received $n JS + $c_count mqadmin messages; mqadmin consumeMessage saw $seen/$n JS bodies and $c_seen mqadmin bodies; group ons_conformance committed, lag $diff_total)"
