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
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
conf_init conformance "${1:?usage: run.sh BIN_DIR BUILD_DIR}" "${2:?usage: run.sh BIN_DIR BUILD_DIR}"
conf_install_client
cp "$conf_here/roundtrip.js" "$build/"
conf_start
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
