#!/usr/bin/env bash
# Conformance, final: the RocketMQ 4.x JavaScript client ali-ons against the assembled local
# cluster (final/conf/local: two name servers, two groups of three electing replicas, the
# console), started by final/cluster.sh in a folder of its own with every port shifted, so a
# cluster a student runs is not touched. ali-ons' producer sends 50 messages (one compressed)
# and its consumer gets them and 5 from mqadmin (chapter 7's roundtrip.js); then the console's
# API lists the topic.
#
# Usage: run.sh BIN_DIR BUILD_DIR     (make test-conformance runs it)
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../ch07-client/conformance/lib.sh"
conf_init conformance-final "${1:?usage: run.sh BIN_DIR BUILD_DIR}" "${2:?usage: run.sh BIN_DIR BUILD_DIR}"
conf_install_client
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cp "$root/ch07-client/conformance/roundtrip.js" "$build/"
run=$(mktemp -d "${TMPDIR:-/tmp}/rk-conf-final-XXXXXX")
cleanup() {
    RK_CLUSTER_DIR=$run bash "$root/final/cluster.sh" stop >/dev/null 2>&1 || true
    if [ "${ok:-0}" != 1 ]; then
        for f in "$run"/*/*.log; do [ -e "$f" ] && { echo "---- $f" >&2; tail -n 20 "$f" >&2; }; done
    fi
    rm -rf "$run" "$run.out"
}
trap cleanup EXIT
# A random port offset; cluster.sh refuses one where a port is taken. The election ports
# (40911... + offset) lie in Linux's range for outgoing connections' own ports, so any client
# on the machine may hold one at the moment a replica binds it: then a replica exits, no
# master is elected, and the run is tried again with another offset (three times at most).
started=0
for attempt in 1 2 3; do
    off=$((1000 + RANDOM % 15000))
    if RK_BIN=$bin RK_CLUSTER_DIR=$run RK_CLUSTER_PORT_OFFSET=$off bash "$root/final/cluster.sh" run \
        > "$run.out" 2>&1; then
        started=1
        break
    fi
    echo "conformance-final: the cluster did not start with port offset $off (attempt $attempt):" >&2
    grep -h "cannot start\|is taken\|no master" "$run.out" "$run"/*/*.log >&2 2>/dev/null || true
    RK_CLUSTER_DIR=$run bash "$root/final/cluster.sh" stop > /dev/null 2>&1 || true
    [ $attempt = 3 ] && cat "$run.out" >&2
    [ $attempt = 3 ] || rm -rf "${run:?}"/*     # a fresh folder: the next offset's files
done
rm -f "$run.out"
[ $started = 1 ] || { echo "conformance-final: the cluster did not start" >&2; exit 1; }
ns="127.0.0.1:$((9876 + off));127.0.0.1:$((9877 + off))"
ns1="127.0.0.1:$((9876 + off))"
echo "conformance-final: local cluster up (name servers $ns), ali-ons $ons_version, node $(node --version)"

topic=OnsFinal
"$bin/mqadmin" updateTopic -n "$ns" -c DefaultCluster -t "$topic" -r 4 -w 4 > /dev/null
sleep 1
c_count=5; c_prefix=rocklet-final-c-
for i in $(seq "$c_count"); do
    "$bin/mqadmin" sendMessage -n "$ns" -t "$topic" -p "$c_prefix$i" -c CTag -k "c-key-$i" > /dev/null
done
run_id=final-$$-$(date +%s)
n=50
(cd "$build" && NODE_PATH="$build/node_modules" NAMESRV="$ns1" TOPIC="$topic" RUN_ID="$run_id" N="$n" \
    C_PREFIX="$c_prefix" C_COUNT="$c_count" JS_SENT_FILE="$run/js_sent.txt" GROUP=ons_final \
    timeout 120 node roundtrip.js)
# the same messages as rocklet's tools see them, across both broker groups
"$bin/mqadmin" consumeMessage -n "$ns" -t "$topic" -c 200 > "$run/consume.out"
missing=0
while IFS= read -r body; do
    [ -n "$body" ] && ! grep -qF -- "$body" "$run/consume.out" && missing=$((missing + 1))
done < "$run/js_sent.txt"
[ "$missing" -eq 0 ] || { echo "conformance-final: mqadmin misses $missing ali-ons bodies" >&2; exit 1; }
groups=$(grep -o 'broker-[ab] queue' "$run/consume.out" | sort -u | wc -l)
# the console (its port shifted too) lists the topic
cport=$((8080 + off))
console_lists() {       # GET /api/topics over bash's /dev/tcp (no curl on a fresh machine)
    local r
    r=$( (exec 3<>"/dev/tcp/127.0.0.1/$cport" && printf 'GET /api/topics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 &&
          timeout 5 cat <&3) 2>/dev/null) || return 1
    grep -q "$topic" <<<"$r"
}
conf_wait 10 "the console listing $topic" console_lists
ok=1
echo "conformance-final: OK (ali-ons $ons_version: $n sent and received plus $c_count from mqadmin, on $groups broker group(s) of the local cluster; mqadmin read every ali-ons body; the console lists $topic)"
