#!/usr/bin/env bash
# cluster.sh — the local rocklet cluster: start it, show it, break it, stop it.
#
#   cluster.sh run                 start every process of the cluster in the background,
#                                  wait until each broker group has a master, print the status
#   cluster.sh status              one line per process: name, PID, state, role, epoch, address
#   cluster.sh stop                SIGTERM every process this cluster started (by PID), wait
#                                  for them; SIGKILL what is still there after 20 s
#   cluster.sh kill-master GROUP   kill -9 the master of broker group GROUP (broker-a, ...)
#   cluster.sh pause-master GROUP  kill -STOP it (a partition from the majority); `resume NAME`
#   cluster.sh start NAME          start one process again (after a kill), e.g. broker-a-n0
#
# The processes are the files of the configuration folder (final/conf/local): one
# namesrv-*.conf per name server, one broker-*.conf per broker replica, console.conf for
# the console. Each runs in its own folder under the cluster folder (build/cluster):
# its copy of the configuration, its store, its log (NAME.log) and its PID (NAME.pid).
# `make run`, `make status`, `make stop` and `make kill-master GROUP=...` call this script.
#
# Environment: RK_BIN (the programs, default build/bin), RK_CLUSTER_DIR (default
# build/cluster), RK_CLUSTER_CONF (default final/conf/local), RK_WAIT_SECONDS (how long
# `run` waits for masters, default 60), RK_CLUSTER_PORT_OFFSET (run: add this to every port
# of the configuration, to run a second cluster beside the first; the shifted files are kept
# in the cluster folder's conf/ and the other commands use them).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "${RK_BIN:-$ROOT/build/bin}" 2>/dev/null && pwd) || { echo "cluster: no programs in ${RK_BIN:-build/bin}: run make first" >&2; exit 1; }
DIR=${RK_CLUSTER_DIR:-$ROOT/build/cluster}
CONF=${RK_CLUSTER_CONF:-$ROOT/final/conf/local}
WAIT=${RK_WAIT_SECONDS:-60}

die() { echo "cluster: $*" >&2; exit 1; }

# A cluster started with a port offset keeps its shifted files; every command uses them.
if [ -d "$DIR/conf" ]; then
    CONF=$DIR/conf
elif [ "${1:-}" = run ] && [ -n "${RK_CLUSTER_PORT_OFFSET:-}" ] && [ "${RK_CLUSTER_PORT_OFFSET}" != 0 ]; then
    off=$RK_CLUSTER_PORT_OFFSET
    [[ $off =~ ^[0-9]+$ ]] && [ "$off" -le 23000 ] || die "RK_CLUSTER_PORT_OFFSET must be 0..23000"
    mkdir -p "$DIR/conf"
    for f in "$CONF"/*.conf; do
        # listenPort=N, haListenPort=N and every :N of namesrvAddr / dLegerPeers, shifted
        awk -v off="$off" -F= '
            /^[[:space:]]*(listenPort|haListenPort)[[:space:]]*=/ { printf "%s=%d\n", $1, $2 + off; next }
            /^[[:space:]]*(namesrvAddr|dLegerPeers)[[:space:]]*=/ {
                v = substr($0, index($0, "=") + 1); out = ""
                while (match(v, /:[0-9]+/)) {
                    out = out substr(v, 1, RSTART) (substr(v, RSTART + 1, RLENGTH - 1) + off)
                    v = substr(v, RSTART + RLENGTH)
                }
                print $1 "=" out v; next }
            { print }' "$f" >"$DIR/conf/$(basename "$f")"
    done
    CONF=$DIR/conf
fi

# The processes, name servers first (brokers register with them), then brokers, then the
# console (it reads the cluster through the name servers).
names() {
    local f
    for f in "$CONF"/namesrv-*.conf "$CONF"/broker-*.conf "$CONF"/console.conf; do
        [ -e "$f" ] && basename "$f" .conf
    done
}

conf_get() {        # conf_get FILE KEY: the value of KEY in a key=value file
    sed -n "s/^[[:space:]]*$2[[:space:]]*=[[:space:]]*\(.*[^[:space:]]\)[[:space:]]*$/\1/p" "$1" | tail -1
}

program() {
    case $1 in
    namesrv-*) echo mqnamesrv ;;
    broker-*) echo mqbroker ;;
    console) echo mqconsole ;;
    esac
}

pid_of() {          # the PID of NAME if that process is alive and is ours, else nothing
    local f="$DIR/$1/$1.pid" pid
    [ -r "$f" ] || return 1
    pid=$(cat "$f")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # A PID can be reused after a reboot: check that it is still our program.
    grep -q "$(program "$1")" "/proc/$pid/cmdline" 2>/dev/null || return 1
    echo "$pid"
}

listen_port() {
    local c="$CONF/$1.conf"
    case $1 in
    console) conf_get "$c" listenPort ;;
    *) conf_get "$c" listenPort ;;
    esac
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Every port n binds: listenPort, a broker's haListenPort and its own election port (its
# dLegerSelfId's entry in dLegerPeers).
bound_ports() {
    local c="$CONF/$1.conf" self
    conf_get "$c" listenPort
    conf_get "$c" haListenPort
    self=$(conf_get "$c" dLegerSelfId)
    [ -n "$self" ] && conf_get "$c" dLegerPeers | tr ';' '\n' | sed -n "s/^$self-.*:\([0-9]*\)$/\1/p"
}

namesrv_addr() {
    local n addrs=""
    for n in $(names); do
        case $n in namesrv-*) addrs="$addrs${addrs:+;}127.0.0.1:$(listen_port "$n")" ;; esac
    done
    echo "$addrs"
}

start_one() {
    local n=$1 prog pid
    prog=$(program "$n")
    [ -x "$BIN/$prog" ] || { echo "cluster: $n: no $BIN/$prog (chapter 12 builds mqconsole): skipped" >&2; return 0; }
    if pid=$(pid_of "$n"); then
        echo "cluster: $n is already running (PID $pid)"
        return 0
    fi
    local port p
    port=$(listen_port "$n")
    for p in $(bound_ports "$n"); do
        port_busy "$p" && die "$n: port $p is taken by another process (stop it, or change the port in $CONF/$n.conf)"
    done
    mkdir -p "$DIR/$n"
    cp "$CONF/$n.conf" "$DIR/$n/$n.conf"
    # setsid: the process outlives this script and the make that ran it; its own session,
    # so a ^C in the terminal does not reach it. PID file written by us, not by the program.
    (cd "$DIR/$n" && exec setsid "$BIN/$prog" -c "$n.conf" >>"$n.log" 2>&1 </dev/null) &
    echo $! >"$DIR/$n/$n.pid"
    echo "cluster: started $n (PID $!, port $port, log $DIR/$n/$n.log)"
}

# clusterList rows: "brokerName brokerId address role epoch" per registered broker.
cluster_rows() {
    "$BIN/mqadmin" clusterList -n "$(namesrv_addr)" 2>/dev/null |
        sed '1s/#Cluster Name/#Cluster_Name/; 1s/#Broker Name/#Broker_Name/' | awk '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        { printf "%s %s %s %s %s\n", $(col["#Broker_Name"]), $(col["#BID"]), $(col["#Addr"]),
                 (col["#Role"] ? $(col["#Role"]) : "-"), (col["#Epoch"] ? $(col["#Epoch"]) : "-") }'
}

groups() {
    local f
    for f in "$CONF"/broker-*.conf; do [ -e "$f" ] && conf_get "$f" brokerName; done | sort -u
}

ready() {           # every broker registered, every group with a master
    local rows n want=0 g
    rows=$(cluster_rows)
    for n in $(names); do case $n in broker-*) want=$((want + 1)) ;; esac; done
    [ "$(echo "$rows" | grep -c .)" -ge "$want" ] || return 1
    for g in $(groups); do
        echo "$rows" | awk -v g="$g" '$1 == g && $2 == 0 { ok = 1 } END { exit !ok }' || return 1
    done
}

status() {
    local rows n pid state port role epoch addr
    rows=$(cluster_rows)
    printf '%-14s %-8s %-9s %-14s %-6s %s\n' PROCESS PID STATE ROLE EPOCH ADDRESS
    for n in $(names); do
        [ -x "$BIN/$(program "$n")" ] || continue
        port=$(listen_port "$n")
        addr="127.0.0.1:$port"
        role="-" epoch="-"
        if pid=$(pid_of "$n"); then
            state=running
            [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = T ] && state=paused
        else
            pid="-" state=stopped
        fi
        case $n in
        namesrv-*) role="namesrv" ;;
        console) role="console" ;;
        broker-*)
            local row
            row=$(echo "$rows" | awk -v a="$addr" '$3 == a' | head -1)
            if [ -n "$row" ]; then
                epoch=$(echo "$row" | awk '{print $5}')
                if [ "$(echo "$row" | awk '{print $2}')" = 0 ]; then role=master; else role=slave; fi
            else
                role="unregistered"
            fi
            ;;
        esac
        printf '%-14s %-8s %-9s %-14s %-6s %s\n' "$n" "$pid" "$state" "$role" "$epoch" "$addr"
    done
    echo "name servers: $(namesrv_addr)"
    echo "cluster folder: $DIR (logs, stores, PIDs)"
    if [ -e "$CONF/console.conf" ] && [ -x "$BIN/mqconsole" ]; then
        echo "console: http://127.0.0.1:$(listen_port console)/"
    fi
}

cmd_run() {
    local n any=0
    for n in $(names); do pid_of "$n" >/dev/null && any=1; done
    if [ $any -eq 1 ]; then
        echo "cluster: already running (make stop to stop it); starting any process that is not"
    fi
    mkdir -p "$DIR"
    for n in $(names); do start_one "$n"; done
    printf 'cluster: waiting for every broker to register and every group to elect a master'
    local t=0
    until ready; do
        if [ $t -ge $((WAIT * 2)) ]; then
            echo
            status
            die "no master in every group after $WAIT s: see the logs under $DIR"
        fi
        printf '.'
        sleep 0.5
        t=$((t + 1))
    done
    echo " ready after $((t / 2)) s"
    status
    echo "try:  export PATH=$BIN:\$PATH NAMESRV_ADDR='$(namesrv_addr)'"
    echo "      mqadmin clusterList; mqbench -t Bench -s 1024 --duration 10"
    echo "      make kill-master GROUP=broker-a; make status; make stop"
}

cmd_stop() {
    local n pid pids=() left
    for n in $(names | tac); do     # the console and brokers first, name servers last
        if pid=$(pid_of "$n"); then
            kill -CONT "$pid" 2>/dev/null   # a paused process cannot act on SIGTERM
            kill -TERM "$pid" 2>/dev/null && pids+=("$pid") && echo "cluster: stopping $n (PID $pid)"
        fi
    done
    [ ${#pids[@]} -eq 0 ] && { echo "cluster: nothing running"; return 0; }
    for _ in $(seq 1 200); do
        left=()
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left+=("$pid"); done
        [ ${#left[@]} -eq 0 ] && { echo "cluster: stopped"; return 0; }
        sleep 0.1
    done
    echo "cluster: still running after 20 s, killing: ${left[*]}" >&2
    kill -KILL "${left[@]}" 2>/dev/null
    return 0
}

master_of() {       # the process name of GROUP's master
    local g=$1 addr n
    addr=$(cluster_rows | awk -v g="$g" '$1 == g && $2 == 0 {print $3}' | head -1)
    [ -n "$addr" ] || die "group $g has no master now (make status)"
    for n in $(names); do
        case $n in broker-*) [ "127.0.0.1:$(listen_port "$n")" = "$addr" ] && { echo "$n"; return 0; } ;; esac
    done
    die "the master of $g ($addr) is not a process of this cluster"
}

signal_master() {
    local sig=$1 g=${2:-} n pid
    [ -n "$g" ] || die "which group? (GROUP=broker-a)"
    n=$(master_of "$g") || exit 1
    pid=$(pid_of "$n") || die "$n is not running"
    kill "-$sig" "$pid" && echo "cluster: kill -$sig $n (PID $pid), master of $g; the other replicas elect a new one within seconds (make status)"
}

case ${1:-} in
run) cmd_run ;;
status) status ;;
stop) cmd_stop ;;
kill-master) signal_master KILL "${2:-}" ;;
pause-master) signal_master STOP "${2:-}" ;;
resume)
    [ -n "${2:-}" ] || die "resume NAME"
    pid=$(pid_of "$2") || die "$2 is not running"
    kill -CONT "$pid" && echo "cluster: resumed $2 (PID $pid)" ;;
start)
    [ -n "${2:-}" ] && [ -e "$CONF/$2.conf" ] || die "start NAME (one of: $(names | tr '\n' ' '))"
    start_one "$2" ;;
-h | --help | help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' ;;
*) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
