#!/usr/bin/env bash
# The furthest demo so far (chapters 4-6): a store that two consumer groups read
# independently, then a pair of replicating name servers.
# Usage: demo.sh BIN_DIR   (make demo passes it)
set -euo pipefail
bin=${1:?usage: demo.sh BIN_DIR}
dir=$(mktemp -d "${TMPDIR:-/tmp}/rocklet-demo-XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$dir"; }
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# a free port, its socket closed before the number is printed (the caller
# starts a server there at once)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); p=s.getsockname()[1]; s.close(); print(p)'; }

step "chapter 4+5: 20000 messages over 4 queues, tagged a or b, keyed (16 MiB commitlog files)"
"$bin/rkstore" put "$dir/store" --topic Orders --count 20000 --size 200 --queues 4 --tags a,b --keys order- \
    --file-size 16m    # 6 MB of messages: a 16 MiB file, not the default 1 GiB one
"$bin/rkstore" queues "$dir/store"
step "group billing reads queue 0 (tag a only), 5 messages"
"$bin/rkstore" get "$dir/store" --group billing --topic Orders --queue 0 --tag a --max 5
step "group audit reads the same queue from its own offset"
"$bin/rkstore" get "$dir/store" --group audit --topic Orders --queue 0 --max 3
step "billing again: it continues where it stopped"
"$bin/rkstore" get "$dir/store" --group billing --topic Orders --queue 0 --tag a --max 3
step "find a message by key through the index"
"$bin/rkstore" query "$dir/store" --topic Orders --key order-42

step "chapter 6: a master name server replicating synchronously to a follower"
fp=$(free_port); mp=$(free_port)
secret=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')     # shared by both; the follower refuses others
printf 'listenPort=%s\nlistenHost=127.0.0.1\nkvConfigPath=%s/f.json\nclusterMode=master_slave\nreplicationUpstream=127.0.0.1:%s\nreplicationSecret=%s\n' "$fp" "$dir" "$mp" "$secret" > "$dir/f.conf"
printf 'listenPort=%s\nlistenHost=127.0.0.1\nkvConfigPath=%s/m.json\nclusterMode=master_slave\nreplicationAck=sync\nreplicationPeers=127.0.0.1:%s\nreplicationSecret=%s\n' "$mp" "$dir" "$fp" "$secret" > "$dir/m.conf"
"$bin/mqnamesrv" -c "$dir/f.conf" & pids+=($!)
"$bin/mqnamesrv" -c "$dir/m.conf" & pids+=($!)
sleep 1.5
echo "(brokers register with 127.0.0.1:$mp; chapter 7's broker and mqadmin talk to them)"
