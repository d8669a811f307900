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
# ali-ons, its install and the cluster fixture are chapter 7's (lib.sh)
. "$(dirname "${BASH_SOURCE[0]}")/../../ch07-client/conformance/lib.sh"
conf_init conformance-ch09 "${1:?usage: run.sh BIN_DIR BUILD_DIR}" "${2:?usage: run.sh BIN_DIR BUILD_DIR}"
conf_install_client
cp "$(dirname "${BASH_SOURCE[0]}")/retry.js" "$build/"
# level 3 (a first retry) is 1 s here instead of 10 s
conf_start "messageDelayLevel=1s 1s 1s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s 2s"
topic=OnsRetry
"$bin/mqadmin" updateTopic -n "$ns" -c ConformanceCluster -t "$topic" -r 2 -w 2 > /dev/null
sleep 0.5
# ali-ons re-reads routes every second here (retry.js); 70 s is a generous bound
(cd "$build" && NODE_PATH="$build/node_modules" NAMESRV="$ns" TOPIC="$topic" DELAY_MS=1000 TIMEOUT_MS=70000 \
   timeout 120 node retry.js)
