#!/usr/bin/env bash
# Chapter 4 demo: append to a fresh store, look inside, crash a writer, recover.
# Usage: demo.sh BIN_DIR   (make demo passes it)
set -euo pipefail
bin=${1:?usage: demo.sh BIN_DIR}
dir=$(mktemp -d "${TMPDIR:-/tmp}/rocklet-demo-XXXXXX")
trap 'rm -rf "$dir"' EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "append 50000 messages of 256 bytes (files of 4 MiB, so the log rolls)"
"$bin/rkstore" put "$dir" --topic DemoTopic --count 50000 --size 256 --file-size 4m
step "what the store holds"
"$bin/rkstore" stat "$dir"
step "the first records"
"$bin/rkstore" scan "$dir" --limit 3
step "a writer killed with SIGKILL in the middle of a long put"
"$bin/rkstore" put "$dir" --topic DemoTopic --count 100000000 --size 256 >/dev/null &
pid=$!
sleep 1
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
step "check it, read-only: a kill leaves at most a torn tail, never damage before it"
"$bin/rkstore" verify "$dir"
step "and keep appending (opening the store recovers it, as a broker would)"
"$bin/rkstore" put "$dir" --topic DemoTopic --count 1000 --size 256 --flush sync
