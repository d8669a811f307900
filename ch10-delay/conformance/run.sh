#!/usr/bin/env bash
# Conformance, chapter 10: ali-ons' producer sends delayed messages to rocklet's broker and ali-ons'
# push consumer gets them after their delay, not before (delay.js): a delay level (DELAY) always;
# ali-ons' setStartDeliverTime (__STARTDELIVERTIME, Alibaba Cloud ONS' delivery time) when
# chapter 10's broker, whose timer takes it, was built (BIN_DIR/../ch10/bin/mqbroker).
#
# Usage: run.sh BIN_DIR BUILD_DIR
#   BIN_DIR    rocklet binaries (mqnamesrv, the latest mqbroker, mqadmin)
#   BUILD_DIR  where ali-ons is installed (chapter 7's conformance run installs it there, from
#              ch07-client/conformance's lock file; this script does the same if it is missing)
# Everything listens on 127.0.0.1 only.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../ch07-client/conformance/lib.sh"
conf_init conformance-ch10 "${1:?usage: run.sh BIN_DIR BUILD_DIR}" "${2:?usage: run.sh BIN_DIR BUILD_DIR}"
conf_install_client
cp "$(dirname "${BASH_SOURCE[0]}")/delay.js" "$build/"
start=1     # chapter 10's timer takes setStartDeliverTime (__STARTDELIVERTIME)
# short levels: level 2 is 2 s
conf_start "messageDelayLevel=1s 2s 3s"
topic=OnsDelay
"$bin/mqadmin" updateTopic -n "$ns" -c ConformanceCluster -t "$topic" -r 2 -w 2 > /dev/null
sleep 0.5
(cd "$build" && NODE_PATH="$build/node_modules" NAMESRV="$ns" TOPIC="$topic" LEVEL=2 LEVEL_MS=2000 \
   START_DELIVER=$start START_MS=2500 TIMEOUT_MS=40000 timeout 90 node delay.js)
