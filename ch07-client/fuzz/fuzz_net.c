/* fuzz_net — mutated frames against a real mqnamesrv and mqbroker.
 *
 *   fuzz_net [--seed S] [--n N]      (make fuzz runs it)
 *
 * Starts mqnamesrv and mqbroker on free 127.0.0.1 ports in
 * build/chNN/fuzz/net-seedS/, creates the topic FuzzTopic, then sends N mutated frames
 * (rk/fuzzkit.h: ~40 request codes of both servers, flipped, inserted and
 * deleted bytes, bogus lengths, huge extFields, hostile JSON bodies for
 * register, snapshot and topic admin codes) over fresh or reused
 * connections. After each frame it asks the server that got it a normal
 * question on a clean connection (the name server: FuzzTopic's route; the
 * broker: its max offset) and fails when
 *   - the server died (its signal or exit status is reported),
 *   - it did not answer within 10 s (a stall: it is then given 120 s to
 *     come back, and later huge frames are skipped),
 *   - the name server no longer routes FuzzTopic (a stranger's request
 *     rewrote its route table).
 * A dead or stuck server is restarted and the run goes on (until 5
 * distinct failures; a repeat is one line). At the end both must still be alive, take a send and answer a
 * route query, and stop cleanly on SIGTERM. Each failure names the seed, the
 * frame number, the mutation and the process; the last frames sent to that
 * process are saved (replay one with `cat FILE > /dev/tcp/127.0.0.1/PORT`)
 * and the folder with the servers' logs is kept (without the store). Exit status 1 on failure. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rk/error.h"
#include "rk/fuzzkit.h"
#include "rk/log.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

#define PROBE_MS 10000
#define RECOVER_MS 120000
#define MAX_FAILURES 5       /* distinct ones */
#define MAX_REPEATS 40
#define RING 3
#define TOPIC "FuzzTopic"

typedef struct sent {
    long i;
    char desc[300];
    rk_buf_t frame;
} sent_t;

typedef struct proc {
    const char *name;
    char conf[300], log[300], addr[32];
    int port;
    pid_t pid;
    int fd;                 /* the fuzzing connection, -1 when closed */
    bool desynced;          /* the last frame left it mid-frame: the next one takes a new connection */
    sent_t ring[RING];      /* the last frames it was sent */
    long frames, opened, closed_by_peer;
} proc_t;

static char dir[256];
static proc_t procs[2];     /* RK_FZ_NAMESRV, RK_FZ_BROKER */
static rk_rclient_t *rc;
static uint64_t seed;
static long nframes, failures, distinct;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int start(proc_t *p)
{
    char bin[300];
    if (p == &procs[RK_FZ_NAMESRV])
        snprintf(bin, sizeof bin, "%s", RK_BIN_DIR "/../../ch06/bin/mqnamesrv");
    else
        snprintf(bin, sizeof bin, "%s", rk_tk_bin("mqbroker"));
    char *argv[] = {bin, "-c", p->conf, NULL};
    p->pid = rk_tk_spawn(argv, p->log);
    if (p->pid < 0 || !rk_tk_wait_port(p->port, 15000)) {
        printf("fuzz_net: %s did not start (see %s)\n", p->name, p->log);
        return -1;
    }
    return 0;
}

/* The answer's code, or -1 when there was none. */
static int ask(const char *addr, rk_cmd_t *req, int timeout_ms)
{
    rk_cmd_t *resp = NULL;
    if (rk_rclient_invoke_sync(rc, addr, req, timeout_ms, &resp) != RK_OK)
        return -1;
    int code = resp->code;
    rk_cmd_free(resp);
    return code;
}

static int route_query(int timeout_ms)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_ROUTEINFO_BY_TOPIC);
    rk_cmd_ext_set(req, "topic", TOPIC);
    return ask(procs[RK_FZ_NAMESRV].addr, req, timeout_ms);
}

static int max_offset(int timeout_ms)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_GET_MAX_OFFSET);
    rk_cmd_ext_set(req, "topic", TOPIC);
    rk_cmd_ext_set(req, "queueId", "0");
    return ask(procs[RK_FZ_BROKER].addr, req, timeout_ms);
}

static int send_one(void)
{
    rk_cmd_t *req = rk_cmd_new(RK_REQ_SEND_MESSAGE_V2);
    rk_cmd_ext_set(req, "a", "fuzz_check");
    rk_cmd_ext_set(req, "b", TOPIC);
    rk_cmd_ext_set(req, "c", "TBW102");
    rk_cmd_ext_set(req, "d", "4");
    rk_cmd_ext_set(req, "e", "0");
    rk_cmd_ext_set(req, "f", "0");
    rk_cmd_ext_set_i64(req, "g", (int64_t)time(NULL) * 1000);
    rk_cmd_ext_set(req, "h", "0");
    rk_cmd_ext_set(req, "j", "0");
    rk_cmd_ext_set(req, "k", "false");
    rk_cmd_set_body(req, "still alive", 11);
    return ask(procs[RK_FZ_BROKER].addr, req, PROBE_MS);
}

/* Waits until the name server routes TOPIC (the broker registers every 2 s). */
static bool wait_routed(int ms)
{
    for (double end = now_s() + ms / 1000.0; now_s() < end; usleep(50000))
        if (route_query(PROBE_MS) == RK_RESP_SUCCESS)
            return true;
    return false;
}

/* Has p exited? Reaps it and describes how into how. */
static bool exited(proc_t *p, char *how, size_t hl)
{
    int st;
    if (p->pid <= 0 || waitpid(p->pid, &st, WNOHANG) != p->pid)
        return false;
    if (WIFSIGNALED(st))
        snprintf(how, hl, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(how, hl, "exited with status %d", WEXITSTATUS(st));
    p->pid = -1;
    return true;
}

static void print_tail(const char *path, int lines)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    char buf[64][400];
    long n = 0;
    while (fgets(buf[n % 64], sizeof buf[0], f) != NULL)
        n++;
    fclose(f);
    long from = n > lines ? n - lines : 0;
    printf("  last lines of %s:\n", path);
    for (long i = from; i < n; i++)
        printf("    %s%s", buf[i % 64], strchr(buf[i % 64], '\n') ? "" : "\n");
}

/* A failure seen before (same process, same kind: the same death, a stall,
 * a lost route) is one line; a new one gets the frames and the log. */
static bool seen_before(proc_t *p, const char *kind)
{
    static char seen[64][160];
    static int nseen;
    char key[160];
    snprintf(key, sizeof key, "%s|%s", p->name, kind);
    for (int k = 0; k < nseen; k++)
        if (strcmp(seen[k], key) == 0)
            return true;
    if (nseen < 64)
        snprintf(seen[nseen++], sizeof seen[0], "%s", key);
    distinct++;
    return false;
}

static void report(proc_t *p, long i, const char *kind, const char *what)
{
    failures++;
    if (seen_before(p, kind)) {
        printf("fuzz_net: FAIL again, frame %ld: %s %s (#%ld %s)\n", i, p->name, what,
               p->ring[(p->frames - 1) % RING].i, p->ring[(p->frames - 1) % RING].desc);
        fflush(stdout);
        return;
    }
    printf("fuzz_net: FAIL seed %llu frame %ld: %s %s\n", (unsigned long long)seed, i, p->name, what);
    printf("  the last frames it was sent (newest first; saved in %s):\n", dir);
    for (long k = 0; k < RING; k++) {
        sent_t *s = &p->ring[((p->frames - 1 - k) % RING + RING) % RING];
        if (s->i < 0 || k >= p->frames)
            continue;
        char path[400];
        snprintf(path, sizeof path, "%s/frame-%ld-%s.bin", dir, s->i, p == &procs[0] ? "namesrv" : "broker");
        rk_fz_save(path, s->frame.data, s->frame.len);
        printf("    #%ld %s (%zu bytes: frame-%ld-%s.bin)\n", s->i, s->desc, s->frame.len, s->i,
               p == &procs[0] ? "namesrv" : "broker");
    }
    print_tail(p->log, 12);
    fflush(stdout);
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void drop(proc_t *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

/* Reads and discards whatever came back; notices a connection the server closed. */
static void drain(proc_t *p)
{
    char junk[65536];
    while (p->fd >= 0) {
        ssize_t n = recv(p->fd, junk, sizeof junk, MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            p->closed_by_peer++;
            drop(p);
        }
        break;
    }
}

/* Sends the frame on the fuzzing connection (a new one a third of the time). */
static void send_frame(rk_fz_rng_t *r, proc_t *p, const rk_buf_t *f)
{
    bool fresh = rk_fz_below(r, 3) == 0;
    if (p->fd < 0 || fresh || p->desynced) {
        drop(p);
        p->fd = connect_to(p->port);
        p->opened++;
        if (p->fd < 0)
            return;
    }
    for (size_t off = 0; off < f->len;) {
        ssize_t w = send(p->fd, f->data + off, f->len - off, MSG_NOSIGNAL);
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            p->closed_by_peer++;
            drop(p);
            return;
        }
        off += (size_t)w;
    }
}

/* After a failure: a dead server is restarted, a stuck one is given time,
 * then killed and restarted. */
static int recover(proc_t *p)
{
    char how[96];
    if (p->pid > 0 && !exited(p, how, sizeof how)) {
        double end = now_s() + RECOVER_MS / 1000.0;
        bool back = false;
        while (!back && now_s() < end && p->pid > 0)
            back = (p == &procs[RK_FZ_NAMESRV] ? route_query(2000) : max_offset(2000)) >= 0;
        if (back) {
            printf("  %s answers again\n", p->name);
        } else if (p->pid > 0) {
            printf("  %s still does not answer after %d s: kill -9\n", p->name, RECOVER_MS / 1000);
            rk_tk_kill(p->pid, SIGKILL);
            rk_tk_wait(p->pid, 5000);
            p->pid = -1;
        }
    }
    drop(p);
    if (p->pid <= 0) {
        printf("  restarting %s\n", p->name);
        if (start(p) != 0)
            return -1;
    }
    if (!wait_routed(15000)) {
        printf("fuzz_net: the name server does not route %s again 15 s after the restart\n", TOPIC);
        return -1;
    }
    fflush(stdout);
    return 0;
}

static int setup(void)
{
    char name[64];
    snprintf(name, sizeof name, "net-seed%llu", (unsigned long long)seed);
    if (rk_fz_workdir(dir, sizeof dir, RK_BIN_DIR "/../fuzz", name) != RK_OK)
        return -1;
    proc_t *ns = &procs[RK_FZ_NAMESRV], *br = &procs[RK_FZ_BROKER];
    ns->name = "mqnamesrv";
    br->name = "mqbroker";
    for (int k = 0; k < 2; k++) {
        procs[k].port = rk_tk_free_port();
        procs[k].fd = -1;
        snprintf(procs[k].addr, sizeof procs[k].addr, "127.0.0.1:%d", procs[k].port);
        for (int j = 0; j < RING; j++) {
            procs[k].ring[j].i = -1;
            rk_buf_init(&procs[k].ring[j].frame);
        }
    }
    snprintf(ns->conf, sizeof ns->conf, "%s/ns.conf", dir);
    snprintf(ns->log, sizeof ns->log, "%s/ns.log", dir);
    snprintf(br->conf, sizeof br->conf, "%s/broker.conf", dir);
    snprintf(br->log, sizeof br->log, "%s/broker.log", dir);
    FILE *f = fopen(ns->conf, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "listenPort=%d\nlistenHost=127.0.0.1\nkvConfigPath=%s/kv.json\n", ns->port, dir);
    fclose(f);
    f = fopen(br->conf, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "brokerClusterName=FuzzCluster\nbrokerName=realbroker\nbrokerId=0\nnamesrvAddr=%s\n"
               "brokerIP1=127.0.0.1\nlistenHost=127.0.0.1\nlistenPort=%d\nstorePathRootDir=%s/store\n"
               "mappedFileSizeCommitLog=4194304\nregisterNameServerPeriod=2000\n",
            ns->addr, br->port, dir);
    fclose(f);
    if (rk_rclient_new(&rc) != RK_OK || start(ns) != 0 || start(br) != 0)
        return -1;
    rk_cmd_t *req = rk_cmd_new(RK_REQ_UPDATE_AND_CREATE_TOPIC);
    rk_cmd_ext_set(req, "topic", TOPIC);
    rk_cmd_ext_set(req, "defaultTopic", "TBW102");
    rk_cmd_ext_set(req, "readQueueNums", "2");
    rk_cmd_ext_set(req, "writeQueueNums", "2");
    rk_cmd_ext_set(req, "perm", "6");
    rk_cmd_ext_set(req, "topicFilterType", "SINGLE_TAG");
    int code = ask(br->addr, req, PROBE_MS);
    if (code != RK_RESP_SUCCESS || !wait_routed(15000)) {
        printf("fuzz_net: could not create %s (code %d) or the name server never routed it\n", TOPIC, code);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    rk_fz_opts_t o;
    if (rk_fz_parse_args(argc, argv, &o) != RK_OK)
        return 2;
    seed = o.seed;
    nframes = o.n;
    rk_log_init(RK_LOG_OFF, NULL);
    signal(SIGPIPE, SIG_IGN);
    rk_fz_rng_t r;
    rk_fz_seed(&r, o.seed);
    rk_fz_tpl_t *tpl;
    size_t ntpl;
    if (rk_fz_templates(&tpl, &ntpl) != RK_OK)
        return 1;
    double t0 = now_s();
    if (setup() != 0) {
        printf("fuzz_net: FAILED to set up (folder %s kept)\n", dir);
        return 1;
    }
    printf("fuzz_net: seed %llu, %ld mutated frames to mqnamesrv %s and mqbroker %s (%zu request codes; folder %s)\n",
           (unsigned long long)seed, nframes, procs[0].addr, procs[1].addr, ntpl, dir);
    fflush(stdout);
    bool skip_huge = false;
    long skipped = 0, i;
    rk_buf_t frame;
    rk_buf_init(&frame);
    for (i = 0; i < nframes && distinct < MAX_FAILURES && failures < MAX_REPEATS; i++) {
        const rk_fz_tpl_t *t = &tpl[rk_fz_below(&r, ntpl)];
        proc_t *p = &procs[t->target];
        char desc[300];
        if (rk_fz_mutate(&r, t, &frame, desc, sizeof desc) != RK_OK)
            break;
        if (skip_huge && strstr(desc, ": huge: ") != NULL) {
            skipped++;
            continue;
        }
        sent_t *s = &p->ring[p->frames % RING];
        s->i = i;
        snprintf(s->desc, sizeof s->desc, "%s", desc);
        rk_buf_reset(&s->frame);
        rk_buf_put(&s->frame, frame.data, frame.len);
        send_frame(&r, p, &frame);
        /* a frame whose length is off leaves the stream mid-frame: the next
         * frame would only complete it, so it goes on a new connection */
        p->desynced = strstr(desc, "frame length") || strstr(desc, "truncated") || strstr(desc, "header length") ||
                      ((strstr(desc, "inserted") || strstr(desc, "deleted")) && !strstr(desc, "(length fixed)"));
        p->frames++;
        int code = p == &procs[RK_FZ_NAMESRV] ? route_query(PROBE_MS) : max_offset(PROBE_MS);
        /* after the probe's answer the server has read the frame: if it closed
         * the connection for it, we see that now, not halfway through the next */
        drain(p);
        char how[96] = "";
        for (int k = 0; k < 2; k++) {
            if (exited(&procs[k], how, sizeof how)) {
                report(&procs[k], i, how, how);
                if (recover(&procs[k]) != 0)
                    goto out;
                code = 0;
            }
        }
        if (code < 0) {
            /* no answer: dead (give it a moment to be reaped) or stuck */
            for (int w = 0; w < 20 && !exited(p, how, sizeof how); w++)
                usleep(50000);
            if (how[0]) {
                report(p, i, how, how);
            } else {
                report(p, i, "stalled", "did not answer a normal request within 10 s (stalled)");
                skip_huge = true;
            }
            if (recover(p) != 0)
                goto out;
        } else if (p == &procs[RK_FZ_NAMESRV] && code != RK_RESP_SUCCESS) {
            char what[160];
            snprintf(what, sizeof what, "no longer routes %s (route query answered code %d): a stranger's request "
                     "rewrote its route table", TOPIC, code);
            report(p, i, "route lost", what);
            if (recover(p) != 0)
                goto out;
        }
    }
    /* the end: both alive, a send and a route query answered, clean stop */
    if (distinct < MAX_FAILURES && failures < MAX_REPEATS) {
        int sc = send_one(), rq = route_query(PROBE_MS);
        if (sc != RK_RESP_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "does not take a send after the fuzz (code %d)", sc);
            report(&procs[RK_FZ_BROKER], i, "final send", what);
        }
        if (rq != RK_RESP_SUCCESS) {
            char what[96];
            snprintf(what, sizeof what, "does not answer a route query after the fuzz (code %d)", rq);
            report(&procs[RK_FZ_NAMESRV], i, "final route", what);
        }
    }
out:
    rk_buf_free(&frame);
    rk_rclient_free(rc);
    for (int k = 1; k >= 0; k--) {
        drop(&procs[k]);
        if (procs[k].pid > 0) {
            int st = rk_tk_stop(procs[k].pid, 15000);
            procs[k].pid = -1;
            if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                char what[96];
                snprintf(what, sizeof what, "did not stop cleanly on SIGTERM (wait status %d)", st);
                report(&procs[k], i, "stop", what);
            }
        }
        for (int j = 0; j < RING; j++)
            rk_buf_free(&procs[k].ring[j].frame);
    }
    rk_fz_templates_free(tpl, ntpl);
    printf("fuzz_net: %ld frames in %.1f s: %ld to mqnamesrv, %ld to mqbroker over %ld connections (%ld closed by "
           "the server)%s\n",
           i - skipped, now_s() - t0, procs[0].frames, procs[1].frames, procs[0].opened + procs[1].opened,
           procs[0].closed_by_peer + procs[1].closed_by_peer, skipped ? "; huge frames skipped after a stall" : "");
    if (failures) {
        char store[300];
        snprintf(store, sizeof store, "%s/store", dir);
        rk_tk_rmtree(store);        /* the logs and frames tell the story; the store is big */
        printf("fuzz_net: FAILED: %ld failure%s, %ld distinct (reproduce: make fuzz-ch07 FUZZ_SEED=%llu FUZZ_N=%ld; "
               "logs and frames kept in %s)\n", failures, failures > 1 ? "s" : "", distinct, (unsigned long long)seed,
               nframes, dir);
        return 1;
    }
    rk_tk_rmtree(dir);
    printf("fuzz_net: OK (both servers alive, a send and a route query answered, clean stop)\n");
    return 0;
}
