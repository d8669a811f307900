#!/usr/bin/env bash
# Chapter 7's demo: a name server and a broker on loopback; mqadmin creates a
# topic, sends, looks messages up; mqbench produces and consumes; the broker
# restarts and keeps everything.
# Usage: demo.sh BIN_DIR   (make demo passes it)
set -euo pipefail
bin=${1:?usage: demo.sh BIN_DIR}
dir=$(mktemp -d "${TMPDIR:-/tmp}/rocklet-demo-XXXXXX")
ns_pid=; br_pid=
stop() { [ -n "$1" ] && kill "$1" 2>/dev/null && wait "$1" 2>/dev/null || true; }
# The store goes at the end; the logs stay, where the first step says they are.
cleanup() {
    stop "$br_pid"; stop "$ns_pid"
    [ -n "${RK_DEMO_KEEP:-}" ] && cp "$dir/broker.log" "$RK_DEMO_KEEP"
    rm -rf "$dir/store" "$dir/kv.json"
    echo "logs kept: $dir/ns.log $dir/broker.log (rm -r $dir when done)"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
wait_port() { for _ in $(seq 100); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; return 1; }

# three free ports (conformance/lib.sh says why they are drawn as they are)
. "$(dirname "${BASH_SOURCE[0]}")/conformance/lib.sh"
read -r nsp brp hap < <(conf_free_ports 3)
ns=127.0.0.1:$nsp; br=127.0.0.1:$brp
printf 'listenPort=%s\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n' "$nsp" "$dir" > "$dir/ns.conf"
cat > "$dir/broker.conf" <<CONF
brokerClusterName=DemoCluster
brokerName=broker-a
brokerId=0
namesrvAddr=$ns
brokerIP1=127.0.0.1
listenHost=127.0.0.1
listenPort=$brp
# chapter 8's broker (build/bin has the newest) also listens for replicas
haListenPort=$hap
storePathRootDir=$dir/store
# small files: the demo stores a few MB, it need not reserve 1 GiB of disk
mappedFileSizeCommitLog=67108864
mappedFileSizeConsumeQueue=600000
maxHashSlotNum=50000
maxIndexNum=200000
CONF
start_broker() { ${RK_BROKER_WRAP:-} "$bin/mqbroker" -c "$dir/broker.conf" >> "$dir/broker.log" 2>&1 & br_pid=$!; wait_port "$brp"; sleep 0.3; }

step "a name server on $ns and a broker on $br (logs in $dir)"
"$bin/mqnamesrv" -c "$dir/ns.conf" > "$dir/ns.log" 2>&1 & ns_pid=$!
wait_port "$nsp"
start_broker
"$bin/mqadmin" clusterList -n "$ns"

step "mqadmin updateTopic: Orders with 4 queues"
"$bin/mqadmin" updateTopic -n "$ns" -c DemoCluster -t Orders -r 4 -w 4
sleep 0.5
"$bin/mqadmin" topicRoute -n "$ns" -t Orders

step "mqadmin sendMessage, three times"
for i in 1 2 3; do "$bin/mqadmin" sendMessage -n "$ns" -t Orders -p "order $i paid" -c paid -k "order-$i" | tail -1; done

step "mqadmin queryMsgByKey order-2, consumeMessage"
# The index is written by the dispatch thread just after a send is acknowledged: on a busy
# machine a lookup right after the send can miss it, so look again a moment later.
"$bin/mqadmin" queryMsgByKey -n "$ns" -t Orders -k order-2 ||
    { sleep 1; "$bin/mqadmin" queryMsgByKey -n "$ns" -t Orders -k order-2; }
"$bin/mqadmin" consumeMessage -n "$ns" -t Orders -c 10

step "mqbench: 2 s of 1 KiB sends, 16 senders, batches of 16 (a few hundred MB of log)"
"$bin/mqbench" -n "$ns" -t Bench -s 1024 -w 16 --batch 16 --duration 2 --mode produce
step "mqbench: a consumer group catches up"
"$bin/mqbench" -n "$ns" -t Bench --duration 3 --mode consume -g bench_group

step "what the broker says: topic offsets, group lag, runtime"
"$bin/mqadmin" topicStatus -n "$ns" -t Bench
"$bin/mqadmin" consumerProgress -n "$ns" -g bench_group | tail -4
"$bin/mqadmin" brokerStatus -n "$ns" -b "$br" | grep -E 'msgPutTotal|commitLogMaxOffset|runtime'

step "the broker restarts (SIGTERM: flush, remove abort); topics, offsets and messages stay"
stop "$br_pid"; br_pid=
start_broker
"$bin/mqadmin" consumerProgress -n "$ns" -g bench_group | tail -2
"$bin/mqadmin" queryMsgByKey -n "$ns" -t Orders -k order-3
echo
echo "done. Next: chapter 8 adds a slave broker that replicates the commitlog."
