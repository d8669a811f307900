#!/usr/bin/env bash
# Conformance of the ACL: ali-ons (an independent RocketMQ 4.x client in
# JavaScript) signing with accessKey/secretKey against a broker started with
# aclEnable=true, and rocklet's mqadmin signing with -a/-s.
#
#   mqadmin updateTopic (unsigned)        -> NO_PERMISSION (no AccessKey)
#   mqadmin -a App updateTopic            -> NO_PERMISSION (admin required)
#   mqadmin -a Admin updateTopic          -> created
#   mqadmin -a App sendMessage x5         -> SEND_OK
#   ali-ons Producer/Consumer as App      -> 50 sent, 55 received (roundtrip.js)
#   ali-ons Producer with a wrong secret  -> its send is refused (signature)
#   broker.log                            -> refusals logged, no secret in it
#
# Usage: acl.sh BIN_DIR BUILD_DIR (as run.sh). Everything on 127.0.0.1.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
conf_init conformance-acl "${1:?usage: acl.sh BIN_DIR BUILD_DIR}" "${2:?usage: acl.sh BIN_DIR BUILD_DIR}"
conf_install_client
cp "$conf_here/roundtrip.js" "$build/"

admin_secret=ons-admin-secret-8d1
app_secret=ons-app-secret-5c2
conf_before_broker() {
  # the default aclFile: plain_acl.yml beside broker.conf
  cat > "$dir/plain_acl.yml" <<YML
globalWhiteRemoteAddresses:
accounts:
  - accessKey: OnsAdmin
    secretKey: $admin_secret
    admin: true
  - accessKey: OnsApp
    secretKey: $app_secret
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - OnsAcl=PUB|SUB
YML
}
conf_start "aclEnable=true"
echo "conformance-acl: name server $ns, broker 127.0.0.1:$brp (aclEnable=true), ali-ons $ons_version"
topic=OnsAcl

expect_refused() {   # WHAT WANT-IN-OUTPUT CMD...
  local what=$1 want=$2
  shift 2
  if "$@" > "$dir/refused.out" 2>&1; then
    echo "conformance-acl: $what was accepted" >&2; exit 1
  fi
  grep -qF -- "$want" "$dir/refused.out" \
    || { cat "$dir/refused.out" >&2; echo "conformance-acl: $what: no \"$want\"" >&2; exit 1; }
}
expect_refused "unsigned updateTopic" "carries no AccessKey" \
  "$bin/mqadmin" updateTopic -n "$ns" -c "$cluster" -t "$topic" -r 4 -w 4
expect_refused "updateTopic by a non-admin" "needs an admin account" \
  "$bin/mqadmin" -a OnsApp -s "$app_secret" updateTopic -n "$ns" -c "$cluster" -t "$topic" -r 4 -w 4
"$bin/mqadmin" -a OnsAdmin -s "$admin_secret" updateTopic -n "$ns" -c "$cluster" -t "$topic" -r 4 -w 4 > /dev/null
sleep 0.5

c_count=5; c_prefix=rocklet-acl-c-
for i in $(seq "$c_count"); do
  ROCKETMQ_ACCESS_KEY=OnsApp ROCKETMQ_SECRET_KEY="$app_secret" \
    "$bin/mqadmin" sendMessage -n "$ns" -t "$topic" -p "$c_prefix$i" -c CTag -k "c-key-$i" > "$dir/send.out" \
    || { cat "$dir/send.out" >&2; echo "conformance-acl: signed mqadmin sendMessage #$i failed" >&2; exit 1; }
done
echo "conformance-acl: mqadmin -a/-s and ROCKETMQ_ACCESS_KEY: refused unsigned and non-admin, $c_count signed sends"

# --- ali-ons signing (AccessKey, OnsChannel, Signature) ----------------------
run_id=onsacl-$$-$(date +%s)
n=50
(cd "$build" && NODE_PATH="$build/node_modules" NAMESRV="$ns" TOPIC="$topic" RUN_ID="$run_id" N="$n" \
  C_PREFIX="$c_prefix" C_COUNT="$c_count" GROUP=ons_acl ACCESS_KEY=OnsApp SECRET_KEY="$app_secret" \
  timeout 90 node roundtrip.js)

# --- ali-ons with the wrong secret: its send is refused ----------------------
cat > "$build/acl_wrong.js" <<'JS'
'use strict';
const httpclient = require('urllib');
const { Producer, Message } = require('ali-ons');
const quiet = { info() {}, debug() {}, warn() {}, error() {} };
(async () => {
  const p = new Producer({ httpclient, nameSrv: process.env.NAMESRV, clientIP: '127.0.0.1', logger: quiet,
    accessKey: 'OnsApp', secretKey: 'not-the-secret', producerGroup: 'ons_acl_wrong',
    instanceName: `ons_acl_wrong_${process.pid}` });
  p.on('error', () => {});
  await p.ready();
  try {
    const r = await p.send(new Message(process.env.TOPIC, 'T', 'should-not-arrive'));
    console.log(`accepted: ${JSON.stringify(r)}`);
    process.exit(1);
  } catch (e) {
    console.log(`refused: ${e.message}`);
    process.exit(0);
  } finally {
    p.close().catch(() => {});
  }
})();
JS
(cd "$build" && NODE_PATH="$build/node_modules" NAMESRV="$ns" TOPIC="$topic" timeout 60 node acl_wrong.js) \
  > "$dir/wrong.out" 2>&1 || { cat "$dir/wrong.out" >&2; echo "conformance-acl: ali-ons with a wrong secret was not refused" >&2; exit 1; }
# (ali-ons reports only that the send failed; the broker's log says which rule refused it)
conf_wait 5 "the broker logging the bad signature" \
  grep -q "signature check failed for accessKey=OnsApp (request code 310)" "$dir/broker.log"

grep -q "refused" "$dir/broker.log" || { echo "conformance-acl: no refusal in broker.log" >&2; exit 1; }
for s in "$admin_secret" "$app_secret"; do
  if grep -qF -- "$s" "$dir/broker.log"; then echo "conformance-acl: a secret is in broker.log" >&2; exit 1; fi
done
echo "conformance-acl: OK (ali-ons $ons_version signed: $n sent, consumer received $n + $c_count; wrong secret refused: bad signature; no secret in broker.log)"
