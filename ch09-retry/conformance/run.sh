#!/usr/bin/env bash
# Conformance, chapter 9: ali-ons' push consumer fails a message once against rocklet's broker
# and gets it again through CONSUMER_SEND_MSG_BACK, the delay levels and %RETRY%<group>.
#
# Usage: run.sh BIN_DIR BUILD_DIR
#   BIN_DIR    rocklet binaries (mqnamesrv, chapter 9's mqbroker, mqadmin)
#   BUILD_DIR  where ali-ons is installed: chapter 7's conformance run installs it there
#              (npm ci from ch07-client/conformance's lock file); this script does the same if
#              it is missing. Nothing is written next to this script.
# Everything listens on 127.0.0.1 only.
set -euo pipefail
bin=${1:?usage: run.sh BIN_DIR BUILD_DIR}
build=${2:?usage: run.sh BIN_DIR BUILD_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=$(cd "$bin" && pwd)
for b in mqnamesrv mqbroker mqadmin; do
  [ -x "$bin/$b" ] || { echo "conformance-ch09: $bin/$b missing (make all)" >&2; exit 1; }
done
command -v node >/dev/null || { echo "conformance-ch09: node not found" >&2; exit 1; }
mkdir -p "$build"
build=$(cd "$build" && pwd)
if [ ! -d "$build/node_modules/ali-ons" ]; then
  cp "$here/../../ch07-client/conformance/package.json" "$here/../../ch07-client/conformance/package-lock.json" "$build/"
  (cd "$build" && npm ci --no-audit --no-fund)
fi
cp "$here/retry.js" "$build/"

dir=$(mktemp -d "${TMPDIR:-/tmp}/rocklet-conformance9-XXXXXX")
ns_pid=; br_pid=
stop() { if [ -n "$1" ]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi; }
cleanup() {
  rc=$?
  stop "$br_pid"; stop "$ns_pid"
  if [ "$rc" -ne 0 ]; then
    echo "conformance-ch09: FAILED (rc=$rc); broker log tail:" >&2
    tail -n 30 "$dir/broker.log" >&2 2>/dev/null || true
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "conformance-ch09: port $1 never opened" >&2; return 1; }

nsp=$(free_port); brp=$(free_port)
while [ "$brp" = "$nsp" ]; do brp=$(free_port); done
ns=127.0.0.1:$nsp
printf 'listenPort=%s\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n' "$nsp" "$dir" > "$dir/ns.conf"
# level 3 (a first retry) is 1 s here instead of 10 s
cat > "$dir/broker.conf" <<CONF
brokerClusterName=ConformanceCluster
brokerName=broker-a
brokerId=0
namesrvAddr=$ns
brokerIP1=127.0.0.1
listenHost=127.0.0.1
listenPort=$brp
storePathRootDir=$dir/store
messageDelayLevel=1s 1s 1s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s
CONF
"$bin/mqnamesrv" -c "$dir/ns.conf" > "$dir/ns.log" 2>&1 & ns_pid=$!
wait_port "$nsp"
"$bin/mqbroker" -c "$dir/broker.conf" > "$dir/broker.log" 2>&1 & br_pid=$!
wait_port "$brp"
for _ in $(seq 50); do
  "$bin/mqadmin" clusterList -n "$ns" 2>/dev/null | grep -q broker-a && break
  sleep 0.1
done
topic=OnsRetry
"$bin/mqadmin" updateTopic -n "$ns" -c ConformanceCluster -t "$topic" -r 2 -w 2 > /dev/null
sleep 0.5
(cd "$build" && NODE_PATH="$build/node_modules" NAMESRV="$ns" TOPIC="$topic" DELAY_MS=1000 timeout 90 node retry.js)
