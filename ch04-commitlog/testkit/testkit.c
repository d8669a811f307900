/* testkit.c — temp folders, free ports and child processes for tests (see rk/testkit.h). */
#include "rk/testkit.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int rk_tk_tmpdir(char *out, size_t outlen, const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || *base == '\0')
        base = "/tmp";
    if (snprintf(out, outlen, "%s/rk-%s-XXXXXX", base, tag) >= (int)outlen)
        return -ENAMETOOLONG;
    return mkdtemp(out) ? 0 : -errno;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Copies src to dst (best effort: a failure only loses a copy). */
static void copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return;
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out >= 0) {
        char buf[65536];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n)
                break;
        close(out);
    }
    close(in);
}

/* Copies every *.log under dir (depth <= 4) into keep, as
 * keep/<path below dir with '/' turned into '_'>. */
static void keep_logs(const char *dir, const char *rel, const char *keep, int depth)
{
    DIR *d = opendir(dir);
    if (d == NULL || depth > 4) {
        if (d)
            closedir(d);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char path[1024], name[512];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path ||
            snprintf(name, sizeof name, "%s%s%s", rel, *rel ? "_" : "", e->d_name) >= (int)sizeof name ||
            lstat(path, &st) != 0)
            continue;
        size_t len = strlen(e->d_name);
        if (S_ISDIR(st.st_mode)) {
            keep_logs(path, name, keep, depth + 1);
        } else if (S_ISREG(st.st_mode) && len > 4 && strcmp(e->d_name + len - 4, ".log") == 0) {
            char dst[1024];
            if (mkdir(keep, 0755) == 0 || errno == EEXIST)
                if (snprintf(dst, sizeof dst, "%s/%s", keep, name) < (int)sizeof dst)
                    copy_file(path, dst);
        }
    }
    closedir(d);
}

int rk_tk_rmtree(const char *path)
{
    /* make test sets RK_TEST_LOG_DIR: the logs of the processes a test
     * started outlive its folder, for the report of a failing run */
    const char *logs = getenv("RK_TEST_LOG_DIR");
    if (logs != NULL && *logs) {
        const char *base = strrchr(path, '/');
        char keep[1024];
        if (snprintf(keep, sizeof keep, "%s/%s", logs, base ? base + 1 : path) < (int)sizeof keep)
            keep_logs(path, "", keep, 0);
    }
    if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        return -errno;
    return 0;
}

/* Binds 127.0.0.1:port (0: any); returns the port bound or -errno. */
static int try_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int got = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        got = ntohs(a.sin_port);
    else
        got = -errno;
    close(fd);
    return got;
}

/* The ports this process handed out lately: a free port stays free until the test binds it,
 * so two calls could return the same one (a broker's listen and election ports once did). The
 * one piece of state of this file (rk/testkit.h says so). */
static pthread_mutex_t given_mu = PTHREAD_MUTEX_INITIALIZER;
static int given[1024];
static unsigned ngiven;

static bool given_before(int port)
{
    for (unsigned i = 0; i < ngiven && i < sizeof given / sizeof given[0]; i++)
        if (given[i] == port)
            return true;
    return false;
}

static int give(int port)
{
    if (port > 0)
        given[ngiven++ % (sizeof given / sizeof given[0])] = port;
    return port;
}

static int free_port_locked(void);

int rk_tk_free_port(void)
{
    pthread_mutex_lock(&given_mu);
    int port = free_port_locked();
    pthread_mutex_unlock(&given_mu);
    return port;
}

static int free_port_locked(void)
{
    int low = 32768;                    /* the ephemeral range's start, Linux's default */
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f != NULL) {
        if (fscanf(f, "%d", &low) != 1)
            low = 32768;
        fclose(f);
    }
    const int from = 10000;
    if (low - from >= 1000) {
        /* each test process its own sequence: pid and time */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        unsigned seed = (unsigned)getpid() * 2654435761u ^ (unsigned)ts.tv_nsec;
        for (int i = 0; i < 200; i++) {
            seed = seed * 1103515245u + 12345u;
            int port = from + (int)((seed >> 8) % (unsigned)(low - from));
            if (!given_before(port) && try_port(port) == port)
                return give(port);
        }
    }
    for (int i = 0; i < 20; i++) {
        int port = try_port(0);
        if (port <= 0 || !given_before(port))
            return give(port);
    }
    return try_port(0);
}

pid_t rk_tk_spawn(char *const argv[], const char *logpath)
{
    int fd = open(logpath ? logpath : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (pid == 0) {
        /* If the test process dies (a crash skips its teardown), take the
         * child with it: tests must never leave processes behind. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() == 1)
            _exit(127);
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, STDIN_FILENO);
        execv(argv[0], argv);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fd);
    return pid;
}

int rk_tk_kill(pid_t pid, int sig)
{
    if (pid <= 0)
        return -EINVAL;
    return kill(pid, sig) == 0 || errno == ESRCH ? 0 : -errno;
}

int rk_tk_wait(pid_t pid, int timeout_ms)
{
    for (int waited = 0;; waited += 5) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -errno;
        if (waited >= timeout_ms)
            return -ETIMEDOUT;
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

int rk_tk_stop(pid_t pid, int timeout_ms)
{
    rk_tk_kill(pid, SIGTERM);
    int st = rk_tk_wait(pid, timeout_ms);
    if (st == -ETIMEDOUT) {
        rk_tk_kill(pid, SIGKILL);
        st = rk_tk_wait(pid, 5000);
    }
    return st;
}

/* The inode of the socket listening on port (127.0.0.1 or any address, IPv4 or IPv6), from
 * /proc/net/tcp*: 0 when none is found (or /proc cannot tell). */
static unsigned long listen_inode(int port)
{
    const char *files[] = {"/proc/net/tcp", "/proc/net/tcp6"};
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        FILE *f = fopen(files[k], "r");
        if (f == NULL)
            continue;
        char line[512];
        unsigned long ino = 0;
        while (ino == 0 && fgets(line, sizeof line, f) != NULL) {
            char local[64];
            unsigned st;
            unsigned long inode;
            /* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
            if (sscanf(line, " %*s %63s %*s %x %*s %*s %*s %*s %*s %lu", local, &st, &inode) != 3 || st != 0x0A)
                continue;
            const char *colon = strrchr(local, ':');
            if (colon != NULL && strtol(colon + 1, NULL, 16) == port)
                ino = inode;
        }
        fclose(f);
        if (ino != 0)
            return ino;
    }
    return 0;
}

/* Whether process pid has socket inode ino open. */
static bool pid_has_socket(pid_t pid, unsigned long ino)
{
    char dir[64], want[64];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    snprintf(want, sizeof want, "socket:[%lu]", ino);
    DIR *d = opendir(dir);
    if (d == NULL)
        return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        char path[320], link[64];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n > 0) {
            link[n] = '\0';
            found = strcmp(link, want) == 0;
        }
    }
    closedir(d);
    return found;
}

bool rk_tk_proc_stat(pid_t pid, char *out, size_t len)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL || len == 0) {
        if (f != NULL)
            fclose(f);
        return false;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');  /* "pid (comm) S ppid ..." */
    if (p == NULL || p[1] != ' ')
        return false;
    snprintf(out, len, "%s", p + 2);
    return true;
}

/* The parent of pid, from /proc/pid/stat (0 when unknown). */
static pid_t parent_of(pid_t pid)
{
    char st[512];
    int ppid = 0;
    return rk_tk_proc_stat(pid, st, sizeof st) && sscanf(st, "%*c %d", &ppid) == 1 ? (pid_t)ppid : 0;
}

/* Who listens on port: 1 this process or one it started (a descendant), 0 another process,
 * -1 /proc cannot tell (then the caller trusts the connection, as before). */
static int port_is_ours(int port)
{
    unsigned long ino = listen_inode(port);
    if (ino == 0)
        return -1;
    DIR *d = opendir("/proc");
    if (d == NULL)
        return -1;
    pid_t self = getpid(), owner = 0;
    struct dirent *e;
    while (owner == 0 && (e = readdir(d)) != NULL) {
        char *end;
        long v = strtol(e->d_name, &end, 10);
        if (*end == '\0' && v > 0 && pid_has_socket((pid_t)v, ino))
            owner = (pid_t)v;
    }
    closedir(d);
    if (owner == 0)
        return -1;
    for (pid_t p = owner; p > 1; p = parent_of(p))
        if (p == self)
            return 1;
    fprintf(stderr, "testkit: port %d is served by process %d, which this test did not start "
                    "(it took the port first: the test's own server could not bind it)\n", port, (int)owner);
    return 0;
}

bool rk_tk_wait_port(int port, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return false;
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return port_is_ours(port) != 0;
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    return false;
}

int rk_tk_run(char *const argv[], char **out, int timeout_ms)
{
    char path[] = "/tmp/rk-run-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -errno;
    close(fd);
    pid_t pid = rk_tk_spawn(argv, path);
    if (pid < 0) {
        unlink(path);
        return pid;
    }
    int st = rk_tk_wait(pid, timeout_ms);
    if (st == -ETIMEDOUT) {
        rk_tk_kill(pid, SIGKILL);
        rk_tk_wait(pid, 5000);
    }
    if (out != NULL) {
        *out = NULL;
        FILE *f = fopen(path, "r");
        if (f != NULL) {
            fseek(f, 0, SEEK_END);
            long n = ftell(f);
            fseek(f, 0, SEEK_SET);
            char *buf = malloc((size_t)(n > 0 ? n : 0) + 1);
            if (buf != NULL) {
                size_t got = fread(buf, 1, (size_t)(n > 0 ? n : 0), f);
                buf[got] = '\0';
                *out = buf;
            }
            fclose(f);
        }
    }
    unlink(path);
    if (st < 0)
        return st;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

long long rk_tk_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -errno;
}

long rk_tk_vm_hwm_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            v = atol(line + 6);
    fclose(f);
    return v;
}

const char *rk_tk_unit_bin(const char *unit, const char *name, char *out, size_t len)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash == NULL)
        return NULL;
    *slash = '\0';                          /* exe: the program's folder */
    slash = strrchr(exe, '/');
    if (slash != NULL && strcmp(slash + 1, "bin") == 0)
        *slash = '\0';                      /* build/chNN/bin -> build/chNN */
    int k;
    if (unit == NULL) {
        k = snprintf(out, len, "%s/bin/%s", exe, name);
    } else {
        slash = strrchr(exe, '/');
        if (slash == NULL)
            return NULL;
        *slash = '\0';                      /* build/chNN -> build */
        k = snprintf(out, len, "%s/%s/bin/%s", exe, unit, name);
    }
    return k >= 0 && (size_t)k < len ? out : NULL;
}
