#!/usr/bin/env bash
# bench-vs.sh — `make bench-vs`: rocklet against Redis (no persistence; for latency also with its
# append-only file) and NATS JetStream (file storage) on this machine, in one interleaved run
# (issue 17; final/README.md "Against Redis and NATS" explains each row).
#
#   bash final/vs/bench-vs.sh BIN_DIR VS_BIN_DIR [--quick]
#
# BIN_DIR has mqnamesrv, mqbroker and mqbench (build/bin); VS_BIN_DIR has vs_redis and vs_nats
# (build/vs, built when pkg-config finds hiredis and libnats). rocklet is one broker
# (ASYNC_FLUSH, no replica) and one name server; Redis is redis-server --save '' --appendonly no,
# and a second one with --appendonly yes --appendfsync everysec for the last latency rows;
# NATS is nats-server -js with its store in a folder of its own. Two control rows say what the
# disk costs at 1 KiB: a second rocklet broker (and name server) with its store on tmpfs
# (/dev/shm, skipped with less than 4 GiB free there), and Redis beside vs_diskwrite, a program
# that only writes 100 MB/s to the disk. All on free 127.0.0.1 ports, data under one /tmp folder
# (and one /dev/shm folder) that is removed at the end; every process started is stopped by its
# PID at the end and on Ctrl-C. RK_VS_KEEP=FILE keeps a copy of every run's output.
#
# For each row: rocklet, peer, rocklet, peer, rocklet, peer (1 of each with --quick), the load
# average (1 min) at the start of each run, the medians and their ratio. Figures only: the
# machine is shared, so read the ratios of one run, not the absolute numbers.
set -uo pipefail

bin=${1:?usage: bench-vs.sh BIN_DIR VS_BIN_DIR [--quick]}
vsbin=${2:?usage: bench-vs.sh BIN_DIR VS_BIN_DIR [--quick]}
shift 2
rounds=3 secs=4
for a in "$@"; do
    case $a in
    --quick) rounds=1 secs=2 ;;
    *) echo "usage: bench-vs.sh BIN_DIR VS_BIN_DIR [--quick]" >&2; exit 2 ;;
    esac
done
for b in mqnamesrv mqbroker mqbench; do
    [ -x "$bin/$b" ] || { echo "bench-vs: $bin/$b missing (make all)" >&2; exit 1; }
done
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/../../ch07-client/conformance/lib.sh"     # conf_free_ports

install_note="apt-get install redis-server redis-tools nats-server libnats-dev libhiredis-dev (then make bench-vs again)"
have_redis=1 have_nats=1
for t in redis-server redis-benchmark redis-cli; do
    command -v $t >/dev/null || { echo "bench-vs: $t not found: the Redis rows are skipped; $install_note"; have_redis=0; }
done
[ -x "$vsbin/vs_redis" ] || { [ $have_redis = 1 ] && echo "bench-vs: $vsbin/vs_redis not built (no hiredis): the Redis rows are skipped; $install_note"; have_redis=0; }
command -v nats-server >/dev/null || { echo "bench-vs: nats-server not found: the NATS rows are skipped; $install_note"; have_nats=0; }
[ -x "$vsbin/vs_nats" ] || { [ $have_nats = 1 ] && echo "bench-vs: $vsbin/vs_nats not built (no libnats): the NATS rows are skipped; $install_note"; have_nats=0; }

dir=$(mktemp -d /tmp/rocklet-vs-XXXXXX)
shm_dir=
pids=()
cleanup() {
    local p
    for p in ${pids[@]+"${pids[@]}"}; do kill "$p" 2>/dev/null || true; done
    for p in ${pids[@]+"${pids[@]}"}; do wait "$p" 2>/dev/null || true; done
    rm -rf "$dir"
    [ -n "$shm_dir" ] && rm -rf "$shm_dir"
}
trap cleanup EXIT
trap 'echo; echo "bench-vs: interrupted"; exit 130' INT TERM

wait_port() {
    local i
    for i in $(seq 200); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done
    echo "bench-vs: nothing listens on port $1 after 20 s (logs in $dir)" >&2
    return 1
}

read -r nsp brp hap rp np rpa nsp2 brp2 hap2 < <(conf_free_ports 9)
ns=127.0.0.1:$nsp ns2=127.0.0.1:$nsp2
start_rocklet() {   # NAME NS_PORT BROKER_PORT HA_PORT STORE
    printf 'listenPort=%s\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv-%s.json\n' "$2" "$dir" "$1" > "$dir/ns-$1.conf"
    cat > "$dir/broker-$1.conf" <<CONF
brokerClusterName=VsCluster
brokerName=broker-$1
brokerId=0
namesrvAddr=127.0.0.1:$2
brokerIP1=127.0.0.1
listenHost=127.0.0.1
listenPort=$3
haListenPort=$4
storePathRootDir=$5
flushDiskType=ASYNC_FLUSH
CONF
    "$bin/mqnamesrv" -c "$dir/ns-$1.conf" > "$dir/ns-$1.log" 2>&1 & pids+=($!)
    wait_port "$2" || return 1
    "$bin/mqbroker" -c "$dir/broker-$1.conf" > "$dir/broker-$1.log" 2>&1 & pids+=($!)
    wait_port "$3" || return 1
    sleep 0.5                                       # registration with the name server
}
start_rocklet vs "$nsp" "$brp" "$hap" "$dir/store" || exit 1
# the tmpfs broker: room for two commitlog files of 1 GiB and what its row writes (~1.5 GB)
have_shm=0
if [ -d /dev/shm ] && [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 {print $4}')" -ge $((4 * 1024 * 1024)) ] 2>/dev/null &&
    shm_dir=$(mktemp -d /dev/shm/rocklet-vs-XXXXXX); then
    start_rocklet shm "$nsp2" "$brp2" "$hap2" "$shm_dir/store" || exit 1
    have_shm=1
else
    echo "bench-vs: /dev/shm is missing or has less than 4 GiB free: the tmpfs row is skipped"
fi

redis_ver=- nats_ver=-
if [ $have_redis = 1 ]; then
    mkdir -p "$dir/redis"
    redis-server --port "$rp" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir/redis" \
        > "$dir/redis.log" 2>&1 & pids+=($!)
    wait_port "$rp" || exit 1
    # a second Redis that writes to disk as rocklet's ASYNC_FLUSH broker does: its append-only
    # file, fsynced once a second (Redis's recommended persistence), for the latency rows
    mkdir -p "$dir/redis-aof"
    redis-server --port "$rpa" --bind 127.0.0.1 --save '' --appendonly yes --appendfsync everysec \
        --dir "$dir/redis-aof" > "$dir/redis-aof.log" 2>&1 & pids+=($!)
    wait_port "$rpa" || exit 1
    redis_ver=$(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')
fi
if [ $have_nats = 1 ]; then
    mkdir -p "$dir/nats"
    nats-server -js -sd "$dir/nats" -p "$np" -a 127.0.0.1 > "$dir/nats.log" 2>&1 & pids+=($!)
    wait_port "$np" || exit 1
    nats_ver=$(nats-server --version | sed 's/.*v//')
fi

load() { cut -d' ' -f1 /proc/loadavg; }
body() { head -c "$1" /dev/zero | tr '\0' x; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print NR ? v[int((NR+1)/2)] : 0}'; }
# the figure after "= " in a SUMMARY line (msgs/s), or the p999 of one
summary_rate() { sed -n 's/^SUMMARY.* = \([0-9.]*\) msgs\/s.*/\1/p' | head -1; }
summary_p999() { sed -n 's/^SUMMARY.*p999 \([0-9.]*\).*/\1/p' | head -1; }
run_log=$dir/run.log

# ---------------------------------------------------------------- one run of each side

rk_send() {     # SIZE BATCH IN_FLIGHT TOPIC -> msgs/s
    "$bin/mqbench" -n "$ns" -t "$4" -s "$1" --batch "$2" -w "$3" --async --duration "$secs" \
        2>&1 | tee -a "$run_log" | summary_rate
}
# Beside each paced run, vs_jitter measures how late the machine wakes a sleeping thread (1 000
# times a second): its p999 goes to $dir/jitter-{rk,peer}-SIZE, the floor under that run's p999.
jitter_pid=
jitter_start() { # SIDE SIZE
    [ -x "$vsbin/vs_jitter" ] || return 0
    "$vsbin/vs_jitter" -r 1000 -d "$secs" 2>&1 | tee -a "$run_log" |
        sed -n 's/^SUMMARY jitter:.* p999 \([0-9]*\) .*steal \(-*[0-9]*\) ms.*/\1 \2/p' >> "$dir/jitter-$1-$2" &
    jitter_pid=$!
}
jitter_end() { [ -n "$jitter_pid" ] && wait "$jitter_pid"; jitter_pid=; }
# the paced rows print p999; the rate each run reached goes to $dir/reached-{rk,peer}-SIZE
rk_paced() {    # SIZE BATCH THREADS RATE TOPIC [SIDE NAMESRV] -> p999 ms
    local out side=${6:-rk}
    jitter_start "$side" "$1"
    out=$("$bin/mqbench" -n "${7:-$ns}" -t "$5" -s "$1" --batch "$2" -w "$3" --rate "$4" --duration "$secs" 2>&1)
    jitter_end
    printf '%s\n' "$out" >> "$run_log"
    summary_rate <<< "$out" >> "$dir/reached-$side-$1"
    summary_p999 <<< "$out"
}
rk_consume() {  # TOPIC GROUP -> MB/s of 1 KiB bodies
    local r
    r=$("$bin/mqbench" -n "$ns" -t "$1" -g "$2" --mode consume --idle 2 --duration 120 2>&1 | tee -a "$run_log" | summary_rate)
    awk -v r="${r:-0}" 'BEGIN {printf "%.1f", r * 1024 / 1e6}'
}
# redis-benchmark runs a number of requests, not a time: each row's first run is preceded by a
# short one that measures the rate, and every run then asks for rate x seconds requests (kept in
# a file: each run is a subshell).
redis_bench() { # SIZE PIPELINE CLIENTS N -> requests/s (XADDs of one entry each)
    local r
    r=$(redis-benchmark -p "$rp" -P "$2" -c "$3" -n "$4" --csv XADD vs '*' f "$(body "$1")" 2>&1 |
        tee -a "$run_log" | sed -n 's/^"XADD[^,]*,"\([0-9.]*\)".*/\1/p' | head -1)
    redis-cli -p "$rp" FLUSHALL > /dev/null
    echo "${r:-0}"
}
redis_send() {  # SIZE PIPELINE CLIENTS -> msgs/s
    local f="$dir/redis-n-$1-$2-$3" least=$(( $2 * $3 * 20 > 100000 ? $2 * $3 * 20 : 100000 )) r
    if [ ! -s "$f" ]; then
        r=$(redis_bench "$1" "$2" "$3" "$least")
        awk -v r="$r" -v s="$secs" -v m="$least" 'BEGIN {n = int(r * s); print (n > m ? n : m)}' > "$f"
    fi
    redis_bench "$1" "$2" "$3" "$(cat "$f")"
}
redis_paced() { # SIZE PIPELINE CONNS RATE [aof|disk-writer] -> p999 ms
    local r port=$rp side=peer wp=
    [ "${5:-}" = aof ] && port=$rpa side=aof
    if [ "${5:-}" = disk-writer ]; then
        side=writer
        "$vsbin/vs_diskwrite" -f "$dir/diskwrite.dat" -r 100 -d "$secs" 2>&1 | tee -a "$run_log" |
            sed -n 's/^SUMMARY diskwrite:.*(\([0-9]*\) MB\/s).*/\1/p' >> "$dir/diskwrite-mbs" &
        wp=$!
    fi
    jitter_start $side "$1"
    r=$("$vsbin/vs_redis" paced -p "$port" -k vsp -s "$1" -b "$2" -w "$3" -r "$4" -d "$secs" 2>&1)
    jitter_end
    [ -n "$wp" ] && wait "$wp"
    printf '%s\n' "$r" >> "$run_log"
    summary_rate <<< "$r" >> "$dir/reached-$side-$1"
    redis-cli -p "$port" FLUSHALL > /dev/null
    r=$(summary_p999 <<< "$r")
    echo "${r:-0}"
}
redis_xrange() { # KEY -> MB/s
    "$vsbin/vs_redis" xrange -p "$rp" -k "$1" 2>&1 | tee -a "$run_log" |
        sed -n 's/^SUMMARY xrange.*(\([0-9.]*\) MB\/s).*/\1/p' | head -1
}
nats_send() {   # SIZE IN_FLIGHT -> msgs/s
    "$vsbin/vs_nats" -p "$np" -s "$1" -w "$2" -d "$secs" 2>&1 | tee -a "$run_log" | summary_rate
}

# ---------------------------------------------------------------- rows

table=()
# ROW_NAME UNIT BETTER(higher|lower) PEER_OK RK_CMD... -- PEER_CMD...
row() {
    local name=$1 unit=$2 better=$3 ok=$4
    shift 4
    local rk=() peer=() side=rk a
    for a in "$@"; do
        if [ "$a" = -- ]; then side=peer; elif [ $side = rk ]; then rk+=("$a"); else peer+=("$a"); fi
    done
    if [ "$ok" != 1 ]; then
        table+=("$(printf '%-58s %10s %10s %8s  %s' "$name" - skipped - "(see the note above)")")
        return
    fi
    local rv=() pv=() loads=() k v
    printf '%s\n' "$name" | tee -a "$run_log"
    for k in $(seq "$rounds"); do
        loads+=("$(load)")
        v=$("${rk[@]}"); rv+=("${v:-0}")
        printf '  round %d: rocklet %-10.10s (load %s)' "$k" "${v:-failed}" "${loads[-1]}"
        loads+=("$(load)")
        v=$("${peer[@]}"); pv+=("${v:-0}")
        printf '  peer %-10.10s (load %s)\n' "${v:-failed}" "${loads[-1]}"
    done
    local rm pm ratio
    local fmt=%.0f
    [ "$unit" = msgs/s ] || fmt=%.4g
    rm=$(printf "$fmt" "$(median "${rv[@]}")")
    pm=$(printf "$fmt" "$(median "${pv[@]}")")
    ratio=$(awk -v a="$rm" -v b="$pm" 'BEGIN {printf (b > 0 ? "%.2f" : "-"), a / b}')
    table+=("$(printf '%-58s %10s %10s %8s  %-7s %s' "$name" "$rm" "$pm" "$ratio" "$unit" "${loads[*]}")")
}

echo "bench-vs: rocklet (1 broker, ASYNC_FLUSH) vs Redis $redis_ver (no persistence; the AOF rows: fsync every second; the last two rows are controls) and NATS $nats_ver JetStream (file)"
echo "  on 127.0.0.1, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC'), $rounds round(s) of $secs s per side, load $(load)"
echo

if [ -x "$vsbin/vs_jitter" ]; then
    echo "  idle floor: $("$vsbin/vs_jitter" -r 1000 -d 2 | sed 's/^SUMMARY jitter: //') (a sleeping thread, nothing else running)"
    echo
fi
t0=$SECONDS
for s in 100 1024; do
    row "async batch 64 x 16 in flight vs pipeline 64 x 16, $s B" msgs/s higher $have_redis \
        rk_send $s 64 16 VsBest$s -- redis_send $s 64 16
done
for s in 100 1024; do
    row "async batch 16 x 64 in flight vs pipeline 16 x 64, $s B" msgs/s higher $have_redis \
        rk_send $s 16 64 VsB16$s -- redis_send $s 16 64
done
for s in 100 1024; do
    row "async unbatched, 256 in flight vs pipeline 1 x 256, $s B" msgs/s higher $have_redis \
        rk_send $s 1 256 VsOne$s -- redis_send $s 1 256
done
for s in 100 1024; do
    row "async batch 16 x 64 vs JetStream 1024 in flight, $s B" msgs/s higher $have_nats \
        rk_send $s 16 64 VsJs$s -- nats_send $s 1024
done

# consumption catch-up: the same number of 1 KiB messages on both sides (what rocklet takes in
# 3 x secs of batch-16 sends), read back from the start
if [ $have_redis = 1 ]; then
    printf 'consume catch-up: filling\n' | tee -a "$run_log"
    filled=$("$bin/mqbench" -n "$ns" -t VsConsume -s 1024 --batch 16 -w 64 --async --duration $((3 * secs)) 2>&1 |
             tee -a "$run_log" | sed -n 's/^SUMMARY produce: \([0-9]*\) msgs.*/\1/p')
    redis-benchmark -p "$rp" -P 64 -c 16 -n "${filled:-0}" --csv XADD vsc '*' f "$(body 1024)" >> "$run_log" 2>&1
    entries=$(redis-cli -p "$rp" XLEN vsc)
    echo "  $filled messages of 1 KiB in rocklet's topic, $entries entries in Redis's stream"
    rk_cons() { rk_consume VsConsume "VsCatchUp$(date +%s%N)"; }   # a new group: from offset 0
    row "consume catch-up 1 KiB: push consumer vs XRANGE" MB/s higher 1 rk_cons -- redis_xrange vsc
    redis-cli -p "$rp" FLUSHALL > /dev/null
else
    row "consume catch-up 1 KiB: push consumer vs XRANGE" MB/s higher 0
fi

# latency at 100 000 msgs/s: 4 senders each paced to 25 000 msgs/s in sends of 16 (rocklet: sync
# sends of a batch of 16; Redis: a pipeline of 16 XADDs)
for s in 100 1024; do
    row "p999 at 100k msgs/s paced, 4 x batch/pipeline 16, $s B" "ms" lower $have_redis \
        rk_paced $s 16 4 100000 VsPaced$s -- redis_paced $s 16 4 100000
done
# the same against the Redis that persists (AOF, fsync every second): both sides write to disk
for s in 100 1024; do
    row "p999 at 100k msgs/s paced vs Redis AOF everysec, $s B" "ms" lower $have_redis \
        rk_paced $s 16 4 100000 VsPaced$s -- redis_paced $s 16 4 100000 aof
done
# what the disk costs at 1 KiB (about 120 MB/s of commitlog): rocklet with its store on tmpfs,
# so that neither side writes to the disk; and Redis (no persistence) beside vs_diskwrite, a
# program that only writes 100 MB/s to the disk (fdatasync 20 times a second), so that both do
have_vsdw=$have_redis
[ -x "$vsbin/vs_diskwrite" ] || have_vsdw=0
row "p999 at 100k paced, 1024 B, rocklet's store on tmpfs" "ms" lower $(( have_redis && have_shm )) \
    rk_paced 1024 16 4 100000 VsShm1024 shm "$ns2" -- redis_paced 1024 16 4 100000
row "p999 at 100k paced, 1024 B, vs Redis beside a disk writer" "ms" lower $have_vsdw \
    rk_paced 1024 16 4 100000 VsPaced1024 rk-b -- redis_paced 1024 16 4 100000 disk-writer

echo
printf '%-58s %10s %10s %8s  %-7s %s\n' "row (medians of $rounds)" rocklet peer "rk/peer" unit "load at each run's start (rk peer ...)"
printf '%s\n' "${table[@]}"
for s in 100 1024; do
    [ -s "$dir/reached-rk-$s" ] && [ -s "$dir/reached-peer-$s" ] && [ -s "$dir/reached-aof-$s" ] &&
        printf '  the p999 rows, %s B, reached (median msgs/s): rocklet %.0f, Redis %.0f, Redis AOF %.0f\n' "$s" \
            "$(median $(cat "$dir/reached-rk-$s"))" "$(median $(cat "$dir/reached-peer-$s"))" \
            "$(median $(cat "$dir/reached-aof-$s"))"
    # how late a sleeping thread woke up beside each side's runs (p999, median of the runs),
    # and the CPU the host took from this machine during each run (ms)
    late=
    for side in rk:rocklet peer:Redis aof:"Redis AOF" shm:"rocklet on tmpfs" rk-b:"rocklet (disk-writer row)" \
                writer:"Redis beside the disk writer"; do
        f=$dir/jitter-${side%%:*}-$s
        [ -s "$f" ] || continue
        late+=$(printf '\n    %-30s %5.2f ms late; stolen: %s ms' "${side#*:}" "$(median $(awk '{print $1 / 1000}' "$f"))" \
                "$(awk '{printf "%s%s", (NR > 1 ? "," : ""), $2}' "$f")")
    done
    [ -n "$late" ] && printf '  the p999 rows, %s B, a sleeping thread (p999, median; CPU stolen by the host per run):%s\n' "$s" "$late"
done
[ -s "$dir/diskwrite-mbs" ] &&
    printf '  the disk writer wrote %s MB/s (median)\n' "$(median $(cat "$dir/diskwrite-mbs"))"
[ -s "$dir/reached-shm-1024" ] &&
    printf '  rocklet on tmpfs reached %.0f msgs/s (median)\n' "$(median $(cat "$dir/reached-shm-1024"))"

echo
echo "bench-vs: $((SECONDS - t0)) s"
if [ -n "${RK_VS_KEEP:-}" ]; then cp "$run_log" "$RK_VS_KEEP" && echo "  every run's output: $RK_VS_KEEP"; fi
exit 0
