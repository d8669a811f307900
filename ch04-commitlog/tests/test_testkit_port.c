/* test_testkit_port.c — rk_tk_wait_port trusts only a listener this test started: a port that
 * another process took first (the test's own server then fails to bind and exits) must not
 * pass, or the test would go on talking to a stranger's server. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rk/testkit.h"

/* A socket listening on 127.0.0.1:port, or -1. */
static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

Test(testkit, wait_port_accepts_this_process_and_its_children)
{
    int port = rk_tk_free_port();
    int fd = listen_on(port);
    cr_assert_geq(fd, 0);
    cr_assert(rk_tk_wait_port(port, 2000), "a listener in the test process itself");
    close(fd);

    port = rk_tk_free_port();
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        int l = listen_on(port);
        char c = l >= 0 ? 'y' : 'n';
        (void)!write(go[1], &c, 1);
        pause();
        _exit(0);
    }
    char c = 0;
    cr_assert_eq(read(go[0], &c, 1), 1);
    cr_assert_eq(c, 'y');
    cr_expect(rk_tk_wait_port(port, 2000), "a listener in a child of the test");
    rk_tk_stop(child, 2000);
    close(go[0]);
    close(go[1]);
}

Test(testkit, wait_port_refuses_a_port_another_process_holds)
{
    int port = rk_tk_free_port();
    int go[2];
    cr_assert_eq(pipe(go), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        /* a grandchild that outlives its parent is nobody's child of ours: a stranger */
        pid_t g = fork();
        if (g == 0) {
            int l = listen_on(port);
            pid_t me = l >= 0 ? getpid() : -1;
            (void)!write(go[1], &me, sizeof me);
            alarm(30);              /* never outlives the test by much */
            pause();
            _exit(0);
        }
        _exit(g > 0 ? 0 : 1);
    }
    int st;
    cr_assert_eq(waitpid(child, &st, 0), child);
    pid_t stranger = -1;
    cr_assert_eq(read(go[0], &stranger, sizeof stranger), (ssize_t)sizeof stranger);
    cr_assert_gt(stranger, 0);
    bool ok = rk_tk_wait_port(port, 2000);
    kill(stranger, SIGKILL);
    close(go[0]);
    close(go[1]);
    cr_assert(!ok, "a listener that this test did not start passed for its own");
}

Test(testkit, proc_stat_gives_the_fields_after_the_name)
{
    char st[256];
    int ppid = 0;
    cr_assert(rk_tk_proc_stat(getpid(), st, sizeof st));
    cr_assert(st[0] == 'R' || st[0] == 'S', "this process runs: state %c", st[0]);
    cr_assert_eq(sscanf(st, "%*c %d", &ppid), 1);
    cr_assert_eq(ppid, (int)getppid());

    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        for (;;)
            pause();
    }
    cr_assert_eq(kill(child, SIGSTOP), 0);
    bool stopped = false;
    for (int i = 0; i < 500 && !stopped; i++) {
        stopped = rk_tk_proc_stat(child, st, sizeof st) && st[0] == 'T';
        if (!stopped)
            usleep(2000);
    }
    cr_assert(stopped, "a stopped child shows state T");
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    cr_assert_not(rk_tk_proc_stat(child, st, sizeof st), "a reaped process has no stat");
}
