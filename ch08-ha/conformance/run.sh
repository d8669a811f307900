#!/usr/bin/env bash
# Conformance, chapter 8: the RocketMQ 4.x client ali-ons keeps producing across a failover.
#
#   name server + broker group of three replicas (election mode, majority acks)
#   ali-ons Producer: 1 message every 20 ms for ~15 s   (failover.js)
#   a few seconds in: kill -9 of the elected master
#   passes when sends are SEND_OK again within RECOVER_MS of the kill (failures in
#   between are counted) and an ali-ons Consumer gets every SEND_OK message afterwards.
#
# Usage: run.sh BIN_DIR BUILD_DIR
#   BIN_DIR    rocklet binaries (mqnamesrv, chapter 8's or a later mqbroker, mqadmin)
#   BUILD_DIR  where ali-ons is installed (npm ci from ch07-client/conformance's lock
#              file, skipped when current). Nothing is written next to this script.
# Environment: RECOVER_MS (bound on kill -> first SEND_OK, default 10000); POLL_MS
#   (ali-ons' route refresh, default 1000; ali-ons' own default, 30000, misses the bound).
# Everything listens on 127.0.0.1 only, on free ports; the processes are stopped by
# PID on exit and the temp dir is removed (kept, without the stores, on failure).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../ch07-client/conformance/lib.sh"
conf_init conformance-ch08 "${1:?usage: run.sh BIN_DIR BUILD_DIR}" "${2:?usage: run.sh BIN_DIR BUILD_DIR}"
conf_install_client
cp "$(dirname "${BASH_SOURCE[0]}")/failover.js" "$build/"
conf_start_namesrv
cluster=FailoverCluster
group=broker-fo
topic=OnsFailover
recover_ms=${RECOVER_MS:-10000}

# --- three replicas: listen, HA and election port each ----------------------
read -r -a ports < <(conf_free_ports 9)
peers="n0-127.0.0.1:${ports[6]};n1-127.0.0.1:${ports[7]};n2-127.0.0.1:${ports[8]}"
pid=(); addr=()
for i in 0 1 2; do
  addr[i]=127.0.0.1:${ports[i]}
  cat > "$dir/n$i.conf" <<CONF
brokerClusterName=$cluster
brokerName=$group
namesrvAddr=$ns
brokerIP1=127.0.0.1
listenHost=127.0.0.1
listenPort=${ports[i]}
haListenPort=${ports[i + 3]}
storePathRootDir=$dir/store/n$i
mappedFileSizeCommitLog=262144
mappedFileSizeConsumeQueue=60000
maxIndexNum=40000
maxHashSlotNum=10000
slaveSyncMetaInterval=500
enableDLegerCommitLog=true
dLegerGroup=$group
dLegerPeers=$peers
dLegerSelfId=n$i
dLegerElectionTimeoutMillis=1000
dLegerHeartbeatIntervalMillis=100
syncFlushTimeout=3000
CONF
done
for i in 0 1 2; do
  "$bin/mqbroker" -c "$dir/n$i.conf" > "$dir/n$i.log" 2>&1 & pid[i]=$!
  conf_pids+=("${pid[i]}")
done
for i in 0 1 2; do conf_wait_port "${ports[i]}"; done

# the master's address as the name server has it (brokerId 0 of $group), or nothing
master_addr() {
  "$bin/mqadmin" clusterList -n "$ns" 2>/dev/null | awk -v g="$group" '$2 == g && $3 == 0 { print $4 }'
}
replicas_listed() { [ "$("$bin/mqadmin" clusterList -n "$ns" 2>/dev/null | awk -v g="$group" '$2 == g' | wc -l)" -eq 3 ]; }
has_master() { [ -n "$(master_addr)" ]; }
conf_wait 30 "an elected master registered (brokerId 0)" has_master
conf_wait 30 "all three replicas registered" replicas_listed
# on every replica, not only the master (-c): the next master must know the topic
# without waiting for its next copy of the master's topics (slaveSyncMetaInterval)
for a in "${addr[@]}"; do
  "$bin/mqadmin" updateTopic -n "$ns" -b "$a" -t "$topic" -r 4 -w 4 > "$dir/update.out" 2>&1 \
    || { cat "$dir/update.out" >&2; echo "conformance-ch08: updateTopic on $a failed" >&2; exit 1; }
done
echo "conformance-ch08: name server $ns, replicas ${addr[*]} (master $(master_addr)), ali-ons $ons_version, node $(node --version)"

# --- ali-ons produces; kill -9 the master a few seconds in ------------------
sends=$dir/sends.txt; kill_file=$dir/kill.txt
: > "$sends"
(cd "$build" && NODE_PATH="$build/node_modules" NAMESRV="$ns" TOPIC="$topic" SENDS_FILE="$sends" \
  KILL_FILE="$kill_file" RECOVER_MS="$recover_ms" ONS_LOG="$dir/ali-ons.log" POLL_MS="${POLL_MS:-1000}" \
  exec timeout 150 node failover.js > "$dir/failover.out" 2> "$dir/failover.err") &
node_pid=$!
conf_pids+=("$node_pid")
node_done() {
  local rc=0; wait "$node_pid" || rc=$?
  if [ "$rc" -ne 0 ]; then
    # (ali-ons may print many errors of its own there: its verdict and the last lines)
    grep -A3 '^failover: FAIL' "$dir/failover.err" >&2 || tail -n 20 "$dir/failover.err" >&2
    echo "conformance-ch08: failover.js exited $rc; its output: $dir/failover.err, ali-ons' log: $dir/ali-ons.log, sends: $sends" >&2
    grep -h 'elect: n' "$dir"/n?.log | sort >&2 || true
    exit 1
  fi
}
# ~3 s at one send per 20 ms (or failover.js gave up: its reason is shown)
ok_before() { [ "$(grep -c '^OK ' "$sends")" -ge 150 ] || ! kill -0 "$node_pid" 2>/dev/null; }
conf_wait 40 "150 SEND_OK from ali-ons before the kill" ok_before || { tail -n 20 "$dir/failover.err" >&2; exit 1; }
kill -0 "$node_pid" 2>/dev/null || { node_done; echo "conformance-ch08: failover.js ended before the kill" >&2; exit 1; }
m=$(master_addr)
victim=
for i in 0 1 2; do [ "${addr[i]}" = "$m" ] && victim=$i; done
[ -n "$victim" ] || { echo "conformance-ch08: master address '$m' is none of ${addr[*]}" >&2; exit 1; }
# bash reports the job's death ("Killed") at its next command: not an error, not shown
exec 3>&2 2>/dev/null
kill_rc=0; kill -9 "${pid[victim]}" || kill_rc=$?
date +%s%3N > "$kill_file"
wait "${pid[victim]}" || true
exec 2>&3 3>&-
[ "$kill_rc" -eq 0 ] || { echo "conformance-ch08: the master n$victim (pid ${pid[victim]}) was already gone" >&2; exit 1; }

node_done
new=$(master_addr); new_id=?
for i in 0 1 2; do [ "${addr[i]}" = "$new" ] && new_id=n$i; done
[ "$new" != "${addr[victim]}" ] || { echo "conformance-ch08: the killed n$victim is still the name server's master" >&2; exit 1; }
leader=$(grep -h 'elect: n.: LEADER' "$dir"/n?.log | sort | tail -n 1 | sed -n 's/.*\(term [0-9]*\).*/\1/p')
echo "conformance-ch08: OK (kill -9 of master n$victim, new master $new_id, $leader) $(sed 's/^failover: //' "$dir/failover.out")"
