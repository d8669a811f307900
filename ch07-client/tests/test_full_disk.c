/* test_full_disk.c — issue 9 item 2: a broker whose disk fills up.
 *
 * The store lives on a small tmpfs (mount -t tmpfs -o size=16m, so these
 * tests need root; without it they are skipped and the ENOSPC seam tests of
 * ch05 (test_space.c) still cover the same paths). Another "process" (this
 * test) then fills the tmpfs. Before the fix, the first send that carried a
 * key killed the broker with SIGBUS (the index file was a sparse ftruncate
 * and its first store faulted); now every send gets an answer, the broker
 * turns read-only (SERVICE_NOT_AVAILABLE, remark naming
 * diskSpaceWarningLevelRatio) and writable again once space is freed, and a
 * SIGTERM on the full disk exits cleanly. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rk/clock.h"
#include "rk/error.h"
#include "rk/message.h"
#include "rk/remoting_client.h"
#include "rk/request_code.h"
#include "rk/testkit.h"
#include "rk/tk_send.h"

static char dir[256], mnt[300], conf[400], br_addr[32], filler[400];
static pid_t br_pid = -1;
static int br_port;
static bool mounted;
static rk_rclient_t *cl;

static void setup(void)
{
    cr_assert_eq(rk_tk_tmpdir(dir, sizeof dir, "fulldisk"), 0);
    snprintf(mnt, sizeof mnt, "%s/mnt", dir);
    cr_assert_eq(mkdir(mnt, 0755), 0);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=16m") != 0) {
        int e = errno;
        rk_tk_rmtree(dir);
        cr_skip_test("cannot mount a tmpfs here (%s): the ENOSPC seam tests cover this", strerror(e));
    }
    mounted = true;
    snprintf(filler, sizeof filler, "%s/filler", mnt);
    br_port = rk_tk_free_port();
    snprintf(br_addr, sizeof br_addr, "127.0.0.1:%d", br_port);
    snprintf(conf, sizeof conf, "%s/broker.conf", dir);
    FILE *f = fopen(conf, "w");
    cr_assert(f != NULL);
    /* standalone (no name server): the test talks to the broker itself */
    fprintf(f, "brokerClusterName=TestCluster\nbrokerName=broker-fd\nbrokerId=0\n"
               "brokerIP1=127.0.0.1\nlistenHost=127.0.0.1\nlistenPort=%d\nstorePathRootDir=%s/store\n"
               "mappedFileSizeCommitLog=1048576\nmaxHashSlotNum=1000\nmaxIndexNum=4000\n"
               "diskSpaceWarningLevelRatio=95\n",
            br_port, mnt);
    fclose(f);
    char log[300];
    snprintf(log, sizeof log, "%s/broker.log", dir);    /* not on the tmpfs */
    char *argv[] = {(char *)rk_tk_bin("mqbroker"), "-c", conf, NULL};
    br_pid = rk_tk_spawn(argv, log);
    cr_assert(br_pid > 0);
    cr_assert(rk_tk_wait_port(br_port, 10000), "mqbroker did not start (see %s)", log);
    cr_assert_eq(rk_rclient_new(&cl), 0);
}

static void teardown(void)
{
    if (cl)
        rk_rclient_free(cl);
    cl = NULL;
    if (br_pid > 0)
        rk_tk_stop(br_pid, 10000);
    br_pid = -1;
    if (mounted && umount2(mnt, MNT_DETACH) != 0)
        fprintf(stderr, "test_full_disk: umount %s: %s\n", mnt, strerror(errno));
    mounted = false;
    if (getenv("RK_KEEP_TMP") == NULL && dir[0])
        rk_tk_rmtree(dir);
}

TestSuite(full_disk, .init = setup, .fini = teardown, .timeout = 60);

static bool broker_alive(void)
{
    int status;
    pid_t r = waitpid(br_pid, &status, WNOHANG);
    if (r == br_pid) {
        cr_log_error("the broker died: %s %d", WIFSIGNALED(status) ? "signal" : "exit",
                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        br_pid = -1;
        return false;
    }
    return true;
}

/* SEND_MESSAGE_V2 with a KEYS property (so the index is written). Returns
 * the response (the broker must answer). */
static rk_cmd_t *send_keyed(const char *topic, const char *key)
{
    char props[128];
    snprintf(props, sizeof props, "KEYS\001%s\002", key);
    rk_cmd_t *req = rk_tk_send_request(&(rk_tk_send_spec_t){.topic = topic, .queues = 1, .props = key[0] ? props : "",
                                                             .body = "a message body"});
    cr_assert(req != NULL);
    rk_cmd_t *resp = NULL;
    int rc = rk_rclient_invoke_sync(cl, br_addr, req, 5000, &resp);
    cr_assert_eq(rc, 0, "no answer to a send (%s): is the broker alive? %s", rk_strerror(rc),
                 broker_alive() ? "yes" : "no, it died");
    return resp;
}

/* Takes every free block of the tmpfs, as another process would. */
static void fill_disk(void)
{
    int fd = open(filler, O_RDWR | O_CREAT | O_TRUNC, 0644);
    cr_assert(fd >= 0);
    off_t at = 0;
    for (off_t step = 1 << 20; step >= 4096; step /= 2)
        while (posix_fallocate(fd, at, step) == 0)
            at += step;
    static const char zero[4096];
    while (write(fd, zero, sizeof zero) > 0) {
    }
    close(fd);
}

/* Messages of topic/0 a consumer can pull from offset 0. */
static int pullable(const char *topic)
{
    int n = 0;
    int64_t offset = 0;
    for (int round = 0; round < 100; round++) {
        rk_cmd_t *req = rk_tk_pull_request(&(rk_tk_pull_spec_t){.topic = topic, .offset = offset});
        cr_assert(req != NULL);
        rk_cmd_t *resp = NULL;
        cr_assert_eq(rk_rclient_invoke_sync(cl, br_addr, req, 5000, &resp), 0);
        bool found = resp->code == RK_RESP_SUCCESS;
        if (found) {
            rk_record_t rec;
            for (size_t at = 0; at < resp->body_len; at += rec.total_size) {
                cr_assert_eq(rk_record_decode(resp->body + at, resp->body_len - at, true, &rec), 0);
                n++;
            }
            int64_t next = -1;
            rk_cmd_ext_i64(resp, "nextBeginOffset", &next);
            cr_assert_gt(next, offset);
            offset = next;
        }
        rk_cmd_free(resp);
        if (!found)
            break;
    }
    return n;
}

static bool file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

Test(full_disk, keyed_sends_get_an_error_and_the_broker_stays_up)
{
    rk_cmd_t *r = send_keyed("FD", "");
    cr_assert_eq(r->code, RK_RESP_SUCCESS, "first send: %s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    char cq[512];
    snprintf(cq, sizeof cq, "%s/store/consumequeue/FD/0/00000000000000000000", mnt);
    for (int i = 0; i < 500 && !file_exists(cq); i++)
        usleep(10000);
    cr_assert(file_exists(cq), "the message was never dispatched");

    int acked = 1;
    fill_disk();
    /* right away, before the periodic disk check: the index and consume
     * queue writers meet ENOSPC themselves */
    for (int i = 0; i < 20; i++) {
        char key[32];
        snprintf(key, sizeof key, "key-%d", i);
        r = send_keyed("FD", key);
        cr_assert(r->code == RK_RESP_SUCCESS || r->code == RK_RESP_SERVICE_NOT_AVAILABLE ||
                  r->code == RK_RESP_SYSTEM_ERROR, "send %d: code %d", i, r->code);
        acked += r->code == RK_RESP_SUCCESS;
        rk_cmd_free(r);
        cr_assert(broker_alive(), "the broker died on send %d to a full disk", i);
    }
    /* within a few seconds: read-only, and the producer is told why */
    bool read_only = false;
    for (int i = 0; i < 100 && !read_only; i++) {
        r = send_keyed("FD", "ro");
        read_only = r->code == RK_RESP_SERVICE_NOT_AVAILABLE && r->remark &&
                    strstr(r->remark, "diskSpaceWarningLevelRatio") && strstr(r->remark, "disk is full");
        acked += r->code == RK_RESP_SUCCESS;
        rk_cmd_free(r);
        if (!read_only)
            usleep(50000);
    }
    cr_assert(read_only, "a send to a full disk never got SERVICE_NOT_AVAILABLE with the reason");
    cr_assert(broker_alive());

    /* space freed: writable again */
    cr_assert_eq(unlink(filler), 0);
    bool ok = false;
    for (int i = 0; i < 100 && !ok; i++) {
        r = send_keyed("FD", "after");
        ok = r->code == RK_RESP_SUCCESS;
        rk_cmd_free(r);
        if (!ok)
            usleep(50000);
    }
    cr_assert(ok, "the broker stayed read-only after space was freed");
    acked++;
    /* every acknowledged message reaches consumers (none lost to the full disk) */
    int got = 0;
    for (int i = 0; i < 100 && (got = pullable("FD")) < acked; i++)
        usleep(50000);
    cr_assert_eq(got, acked, "%d messages were acknowledged, %d can be pulled", acked, got);
    int status = rk_tk_stop(br_pid, 10000);
    br_pid = -1;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the broker did not stop cleanly (status %#x)",
              status);
}

Test(full_disk, sigterm_on_a_full_disk_exits_cleanly)
{
    rk_cmd_t *r = send_keyed("FD", "before");
    cr_assert_eq(r->code, RK_RESP_SUCCESS, "first send: %s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    fill_disk();
    /* no more sends: what the shutdown itself writes (checkpoint, queues,
     * index, metadata) must not fault on the full disk */
    cr_assert(broker_alive());
    int status = rk_tk_stop(br_pid, 10000);
    br_pid = -1;
    cr_assert(!WIFSIGNALED(status), "the broker was killed by signal %d at shutdown on a full disk",
              WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
