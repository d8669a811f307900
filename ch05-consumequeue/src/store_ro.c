/* store_ro.c — a read-only view of a message store (see rk/store_ro.h).
 *
 * Everything here reads: directories with opendir, files opened O_RDONLY
 * and read with pread, the commitlog through ch04's rk_commitlog_scan_dir
 * (O_RDONLY, PROT_READ). Each queue's bounds follow what the store's open
 * does to it (rk_cq_open, rk_cq_recover, rk_cq_truncate_phys,
 * rk_cq_delete_expired), computed instead of applied. */
#include "rk/store_ro.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rk/commitlog.h"
#include "rk/consumer_offset.h"
#include "rk/error.h"
#include "rk/fileutil.h"
#include "rk/grow.h"
#include "rk/json.h"

#define DEFAULT_CQ_FILE_SIZE 6000000

typedef struct ro_queue {
    rk_store_ro_queue_t pub;
    int64_t *bases;                 /* the chain's files, ascending */
    int64_t last_len;               /* usable bytes of the last file */
    int nfiles;
} ro_queue_t;

struct rk_store_ro {
    char root[PATH_MAX];
    char cl_dir[PATH_MAX + 16];
    char cq_root[PATH_MAX + 16];
    int64_t cl_file_size, cq_file_size;
    int64_t cl_min, cl_max;
    bool abnormal;
    ro_queue_t *q;
    size_t nq, capq;
};

/* ---- small helpers ------------------------------------------------------ */

static bool is_file_name(const char *s) { return strlen(s) == 20 && strspn(s, "0123456789") == 20; }

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The 20-digit file names of dir, sorted; *n = 0 when there are none. */
static int list_files(const char *dir, int64_t **out, int *n)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? RK_OK : -errno;
    int64_t *v = NULL;
    int cap = 0, rc = RK_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_file_name(e->d_name))
            continue;
        if (RK_GROW(v, cap, *n + 1, 8) != RK_OK) {
            rc = RK_ENOMEM;
            break;
        }
        v[(*n)++] = strtoll(e->d_name, NULL, 10);
    }
    closedir(d);
    if (rc != RK_OK) {
        free(v);
        *n = 0;
        return rc;
    }
    if (*n > 1)
        qsort(v, (size_t)*n, sizeof *v, cmp_i64);
    *out = v;
    return RK_OK;
}

static void queue_dir(const rk_store_ro_t *ro, const ro_queue_t *q, char *out, size_t len)
{
    snprintf(out, len, "%s/%s/%d", ro->cq_root, q->pub.topic, q->pub.qid);
}

/* Reads `len` bytes of queue file `base` at `pos` into buf; returns the
 * bytes read (short past the file's end) or a negative error. */
static int64_t read_at(const rk_store_ro_t *ro, const ro_queue_t *q, int64_t base, int64_t pos,
                       uint8_t *buf, int64_t len)
{
    char d[PATH_MAX + 300], path[PATH_MAX + 340];
    queue_dir(ro, q, d, sizeof d);
    snprintf(path, sizeof path, "%s/%020" PRId64, d, base);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int64_t got = 0;
    while (got < len) {
        ssize_t r = pread(fd, buf + got, (size_t)(len - got), (off_t)(pos + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            got = -errno;
            break;
        }
        if (r == 0)
            break;
        got += r;
    }
    close(fd);
    return got;
}

static int read_unit(const rk_store_ro_t *ro, const ro_queue_t *q, int64_t byte, rk_cq_unit_t *u)
{
    int64_t fs = ro->cq_file_size, base = byte - byte % fs;
    uint8_t b[RK_CQ_UNIT_SIZE];
    int64_t r = read_at(ro, q, base, byte - base, b, RK_CQ_UNIT_SIZE);
    if (r < 0)
        return (int)r;
    if (r < RK_CQ_UNIT_SIZE)
        return RK_ENOTFOUND;
    *u = rk_cq_unit_decode(b);
    return RK_OK;
}

/* ---- one queue's bounds --------------------------------------------------- */

/* The chain as rk_cq_open keeps it: files on the grid, no gap, at most
 * file_size bytes; a short file keeps its whole units and ends the chain;
 * an empty newest file is ignored. */
static int load_chain(rk_store_ro_t *ro, ro_queue_t *q)
{
    char d[PATH_MAX + 300];
    queue_dir(ro, q, d, sizeof d);
    int n = 0;
    int rc = list_files(d, &q->bases, &n);
    if (rc != RK_OK)
        return rc;
    int64_t fs = ro->cq_file_size;
    int keep = 0;
    q->last_len = fs;
    for (int i = 0; i < n; i++) {
        if (q->bases[i] % fs != 0) {
            q->pub.problem = "a file is off the mappedFileSizeConsumeQueue grid (the store refuses to open)";
            keep = 0;
            break;
        }
        if (i > 0 && q->bases[i] != q->bases[i - 1] + fs) {
            q->pub.problem = "a file is missing in the chain: the queue ends before it";
            break;
        }
        char path[PATH_MAX + 340];
        struct stat st;
        snprintf(path, sizeof path, "%s/%020" PRId64, d, q->bases[i]);
        if (stat(path, &st) != 0)
            return -errno;
        if (st.st_size > fs) {
            q->pub.problem = "a file is larger than mappedFileSizeConsumeQueue (the store refuses to open)";
            keep = 0;
            break;
        }
        if (st.st_size < fs) {
            if (i == n - 1 && st.st_size == 0)
                break;          /* a creation cut short: nothing in it */
            q->pub.problem = "a file is cut short: the queue ends at its last whole unit";
            q->last_len = (int64_t)st.st_size - (int64_t)st.st_size % RK_CQ_UNIT_SIZE;
            keep = i + 1;
            break;
        }
        keep = i + 1;
    }
    q->nfiles = keep;
    if (keep == 0)
        q->last_len = fs;
    return RK_OK;
}

/* The end (byte) of the valid units, as rk_cq_recover finds it: from the
 * third-to-last file, up to the first unit that is not valid. */
static int64_t valid_end(const rk_store_ro_t *ro, ro_queue_t *q)
{
    /* read in chunks, up to the first invalid unit: a queue's newest file
     * is mostly unwritten (holes), and is not read past its last unit */
    enum { CHUNK = 16384 * RK_CQ_UNIT_SIZE };
    int64_t fs = ro->cq_file_size;
    uint8_t *buf = malloc(CHUNK);
    if (buf == NULL)
        return RK_ENOMEM;
    int64_t end = 0;
    int i = q->nfiles > 3 ? q->nfiles - 3 : 0;
    for (; i < q->nfiles; i++) {
        int64_t want = i == q->nfiles - 1 ? q->last_len : fs;
        int64_t pos = 0;
        for (bool more = true; more && pos < want;) {
            int64_t n = want - pos < CHUNK ? want - pos : CHUNK;
            int64_t got = read_at(ro, q, q->bases[i], pos, buf, n);
            if (got < 0) {
                free(buf);
                return got;
            }
            int64_t k = 0;
            for (; k + RK_CQ_UNIT_SIZE <= got; k += RK_CQ_UNIT_SIZE) {
                rk_cq_unit_t u = rk_cq_unit_decode(buf + k);
                if (!rk_cq_unit_is_valid(&u))
                    break;
            }
            pos += k;
            more = k == n;              /* an invalid unit or the file's end stops it */
        }
        end = q->bases[i] + pos;
        if (pos < fs) {
            q->nfiles = i + 1;      /* later files hold nothing the store trusts */
            break;
        }
    }
    free(buf);
    /* an empty last file is kept only if it is the first */
    while (q->nfiles > 1 && end == q->bases[q->nfiles - 1])
        q->nfiles--;
    return end;
}

static int compute_bounds(rk_store_ro_t *ro, ro_queue_t *q)
{
    int rc = load_chain(ro, q);
    if (rc != RK_OK || q->nfiles == 0)
        return rc;
    int64_t end = valid_end(ro, q);
    if (end < 0)
        return (int)end;
    int64_t fs = ro->cq_file_size;
    int first = 0;
    int64_t min = q->bases[0];
    /* truncateDirtyLogicFiles: units pointing at or past the log's end */
    rk_cq_unit_t u;
    while (end > min && read_unit(ro, q, end - RK_CQ_UNIT_SIZE, &u) == RK_OK &&
           !rk_cq_unit_is_blank(&u) && u.phys >= ro->cl_max)
        end -= RK_CQ_UNIT_SIZE;
    /* cleanup's view: files whose last unit points below the log's start */
    while (first < q->nfiles - 1 && read_unit(ro, q, q->bases[first] + fs - RK_CQ_UNIT_SIZE, &u) == RK_OK &&
           u.phys < ro->cl_min)
        first++;
    min = q->bases[first] > min ? q->bases[first] : min;
    /* correctMinOffset: past blanks and units whose record the log dropped */
    int64_t fend = q->bases[first] + fs < end ? q->bases[first] + fs : end;
    while (min < fend && read_unit(ro, q, min, &u) == RK_OK &&
           (rk_cq_unit_is_blank(&u) || u.phys < ro->cl_min))
        min += RK_CQ_UNIT_SIZE;
    if (min > end)
        min = end;
    q->pub.min_offset = min / RK_CQ_UNIT_SIZE;
    q->pub.max_offset = end / RK_CQ_UNIT_SIZE;
    return RK_OK;
}

/* ---- the queue table ----------------------------------------------------- */

static ro_queue_t *add_queue(rk_store_ro_t *ro, const char *topic, int qid)
{
    if (RK_GROW(ro->q, ro->capq, ro->nq + 1, 16) != RK_OK)
        return NULL;
    ro_queue_t *q = &ro->q[ro->nq++];
    memset(q, 0, sizeof *q);
    snprintf(q->pub.topic, sizeof q->pub.topic, "%s", topic);
    q->pub.qid = qid;
    q->pub.state_max = -1;
    return q;
}

static int cmp_queue(const void *a, const void *b)
{
    const ro_queue_t *x = a, *y = b;
    int c = strcmp(x->pub.topic, y->pub.topic);
    return c ? c : (x->pub.qid > y->pub.qid) - (x->pub.qid < y->pub.qid);
}

/* topic/qid among the first n queues (sorted). */
static ro_queue_t *find_in(const rk_store_ro_t *ro, size_t n, const char *topic, int qid)
{
    ro_queue_t key;
    if (strlen(topic) >= sizeof key.pub.topic || n == 0)
        return NULL;
    snprintf(key.pub.topic, sizeof key.pub.topic, "%s", topic);
    key.pub.qid = qid;
    return bsearch(&key, ro->q, n, sizeof *ro->q, cmp_queue);
}

static ro_queue_t *find(const rk_store_ro_t *ro, const char *topic, int qid)
{
    return find_in(ro, ro->nq, topic, qid);
}

/* The queue folders on disk, named as the store's loader accepts them. */
static int load_queues(rk_store_ro_t *ro)
{
    DIR *d = opendir(ro->cq_root);
    if (d == NULL)
        return errno == ENOENT ? RK_OK : -errno;
    int rc = RK_OK;
    struct dirent *te;
    while (rc == RK_OK && (te = readdir(d)) != NULL) {
        if (te->d_name[0] == '.' || strlen(te->d_name) >= 256)
            continue;
        char tdir[PATH_MAX + 300];
        snprintf(tdir, sizeof tdir, "%s/%s", ro->cq_root, te->d_name);
        DIR *qd = opendir(tdir);
        if (qd == NULL)
            continue;
        struct dirent *qe;
        while (rc == RK_OK && (qe = readdir(qd)) != NULL) {
            /* canonical digits only: "+5", " 5" or "05" would name folder "5" once printed */
            size_t dl = strlen(qe->d_name);
            bool digits = dl > 0 && dl <= 5 && strspn(qe->d_name, "0123456789") == dl &&
                          (dl == 1 || qe->d_name[0] != '0');
            long qid = digits ? strtol(qe->d_name, NULL, 10) : -1;
            if (qid < 0 || qid > RK_MAX_QUEUE_ID)
                continue;
            ro_queue_t *q = add_queue(ro, te->d_name, (int)qid);
            rc = q ? compute_bounds(ro, q) : RK_ENOMEM;
        }
        closedir(qd);
    }
    closedir(d);
    return rc;
}

/* consumeQueueState.json: each queue's max offset at the last flush. Only
 * read; an unusable file is ignored (it is derived data). */
static int load_state(rk_store_ro_t *ro)
{
    char path[PATH_MAX + 64], *text = NULL;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/config/consumeQueueState.json", ro->root);
    if (rk_file_read_all(path, &text, &len) != RK_OK)
        return RK_OK;
    cJSON *root = rk_json_parse(text, len);
    free(text);
    size_t on_disk = ro->nq;            /* sorted; missing queues go after them */
    const cJSON *qs = cJSON_GetObjectItemCaseSensitive(root, "queues"), *t, *e;
    if (!cJSON_IsObject(qs))
        qs = NULL;
    int rc = RK_OK;
    cJSON_ArrayForEach(t, qs) {
        const char *name = t->string;
        if (!cJSON_IsObject(t) || name == NULL || name[0] == '\0' || name[0] == '.' ||
            strlen(name) >= 256 || strchr(name, '/') != NULL)
            continue;
        cJSON_ArrayForEach(e, t) {
            char *end = NULL;
            long qid = strtol(e->string, &end, 10);
            int64_t max = 0;
            const cJSON *m = cJSON_IsArray(e) ? cJSON_GetArrayItem(e, 0) : NULL;
            double dv = cJSON_IsNumber(m) ? m->valuedouble : -1;
            if (*end != '\0' || end == e->string || qid < 0 || qid > RK_MAX_QUEUE_ID || !(dv >= 0) ||
                dv > 9007199254740992.0 || dv != (double)(int64_t)dv)
                continue;
            max = (int64_t)dv;
            ro_queue_t *q = find_in(ro, on_disk, name, (int)qid);
            if (q == NULL) {
                if ((q = add_queue(ro, name, (int)qid)) == NULL) {
                    rc = RK_ENOMEM;
                    break;
                }
                q->pub.missing = true;
            }
            q->pub.state_max = max;
        }
        if (rc != RK_OK)
            break;
    }
    cJSON_Delete(root);
    return rc;
}

/* ---- the commitlog ------------------------------------------------------- */

static int load_commitlog(rk_store_ro_t *ro, char *err, size_t errlen)
{
    int64_t *bases = NULL;
    int n = 0;
    int rc = list_files(ro->cl_dir, &bases, &n);
    if (rc != RK_OK) {
        snprintf(err, errlen, "%s: %s", ro->cl_dir, rk_strerror(rc));
        return rc;
    }
    if (n == 0) {
        free(bases);
        return RK_OK;
    }
    int64_t last = bases[n - 1], before = n > 1 ? bases[n - 2] : last;
    ro->cl_min = ro->cl_max = bases[0];
    free(bases);
    if (ro->cl_file_size <= 0)
        ro->cl_file_size = rk_commitlog_detect_file_size(ro->cl_dir);
    if (ro->cl_file_size <= 0) {
        snprintf(err, errlen, "%s: cannot tell the files' size", ro->cl_dir);
        return RK_ECORRUPT;
    }
    /* the end: the last valid record of the last file (read-only scan) */
    rk_scan_report_t rep;
    rc = rk_commitlog_scan_dir(ro->cl_dir, ro->cl_file_size, last, false, NULL, NULL, &rep);
    /* Nothing in the last file: it may be the spare a crash left (made
     * ahead of time, never written); the log then ends in the one before. */
    if (rc == RK_OK && rep.records == 0 && rep.end == last && before < last)
        rc = rk_commitlog_scan_dir(ro->cl_dir, ro->cl_file_size, before, false, NULL, NULL, &rep);
    if (rc != RK_OK) {
        snprintf(err, errlen, "%s: %s", ro->cl_dir, rep.reason[0] ? rep.reason : rk_strerror(rc));
        return rc;
    }
    ro->cl_max = rep.end;
    return RK_OK;
}

/* ---- open / close ---------------------------------------------------------- */

static int64_t detect_cq_file_size(const rk_store_ro_t *ro)
{
    DIR *t = opendir(ro->cq_root);
    int64_t size = 0;
    struct dirent *te;
    while (size == 0 && t && (te = readdir(t)) != NULL) {
        if (te->d_name[0] == '.')
            continue;
        char tdir[PATH_MAX + 300];
        snprintf(tdir, sizeof tdir, "%s/%s", ro->cq_root, te->d_name);
        DIR *qd = opendir(tdir);
        struct dirent *qe;
        while (size == 0 && qd && (qe = readdir(qd)) != NULL) {
            char *end = NULL;
            long qid = strtol(qe->d_name, &end, 10);
            if (qe->d_name[0] == '.' || *end != '\0' || qid < 0)
                continue;
            char fdir[PATH_MAX + 800];
            snprintf(fdir, sizeof fdir, "%s/%s", tdir, qe->d_name);
            DIR *fd = opendir(fdir);
            struct dirent *fe;
            while (size == 0 && fd && (fe = readdir(fd)) != NULL) {
                char path[PATH_MAX + 1100];
                struct stat st;
                snprintf(path, sizeof path, "%s/%s", fdir, fe->d_name);
                /* a full file (not an empty or cut newest one) */
                if (is_file_name(fe->d_name) && stat(path, &st) == 0 && st.st_size > 0 &&
                    st.st_size % RK_CQ_UNIT_SIZE == 0)
                    size = (int64_t)st.st_size;
            }
            if (fd)
                closedir(fd);
        }
        if (qd)
            closedir(qd);
    }
    if (t)
        closedir(t);
    return size;
}

int rk_store_ro_open(const char *root, int64_t cl_file_size, int64_t cq_file_size,
                     rk_store_ro_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    if (cq_file_size < 0 || cq_file_size % RK_CQ_UNIT_SIZE != 0 || cl_file_size < 0) {
        snprintf(err, errlen, "bad file sizes");
        return RK_EINVAL;
    }
    struct stat st;
    if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s is not a store folder", root);
        return -ENOENT;
    }
    rk_store_ro_t *ro = calloc(1, sizeof *ro);
    if (ro == NULL)
        return RK_ENOMEM;
    if (snprintf(ro->root, sizeof ro->root, "%s", root) >= (int)sizeof ro->root) {
        free(ro);
        return RK_ETOOBIG;
    }
    snprintf(ro->cl_dir, sizeof ro->cl_dir, "%s/commitlog", root);
    snprintf(ro->cq_root, sizeof ro->cq_root, "%s/consumequeue", root);
    char abort_path[PATH_MAX + 16];
    snprintf(abort_path, sizeof abort_path, "%s/abort", root);
    ro->abnormal = rk_path_exists(abort_path);
    ro->cl_file_size = cl_file_size;
    ro->cq_file_size = cq_file_size > 0 ? cq_file_size : detect_cq_file_size(ro);
    if (ro->cq_file_size <= 0)
        ro->cq_file_size = DEFAULT_CQ_FILE_SIZE;
    int rc = load_commitlog(ro, err, errlen);
    if (rc == RK_OK && (rc = load_queues(ro)) != RK_OK)
        snprintf(err, errlen, "consume queues: %s", rk_strerror(rc));
    if (rc == RK_OK && ro->nq > 1)
        qsort(ro->q, ro->nq, sizeof *ro->q, cmp_queue);
    if (rc == RK_OK && (rc = load_state(ro)) != RK_OK)
        snprintf(err, errlen, "consumeQueueState.json: %s", rk_strerror(rc));
    if (rc != RK_OK) {
        rk_store_ro_close(ro);
        return rc;
    }
    if (ro->nq > 1)
        qsort(ro->q, ro->nq, sizeof *ro->q, cmp_queue);
    /* a state file may name a queue twice (JSON allows repeated keys) */
    size_t w = 0;
    for (size_t i = 0; i < ro->nq; i++) {
        if (w > 0 && cmp_queue(&ro->q[w - 1], &ro->q[i]) == 0) {
            free(ro->q[i].bases);
            continue;
        }
        ro->q[w++] = ro->q[i];
    }
    ro->nq = w;
    *out = ro;
    return RK_OK;
}

void rk_store_ro_close(rk_store_ro_t *ro)
{
    if (ro == NULL)
        return;
    for (size_t i = 0; i < ro->nq; i++)
        free(ro->q[i].bases);
    free(ro->q);
    free(ro);
}

int64_t rk_store_ro_commitlog_min(const rk_store_ro_t *ro) { return ro->cl_min; }
int64_t rk_store_ro_commitlog_max(const rk_store_ro_t *ro) { return ro->cl_max; }
bool rk_store_ro_abnormal(const rk_store_ro_t *ro) { return ro->abnormal; }
size_t rk_store_ro_queue_count(const rk_store_ro_t *ro) { return ro->nq; }

const rk_store_ro_queue_t *rk_store_ro_queue(const rk_store_ro_t *ro, size_t i)
{
    return i < ro->nq ? &ro->q[i].pub : NULL;
}

const rk_store_ro_queue_t *rk_store_ro_find(const rk_store_ro_t *ro, const char *topic, int qid)
{
    ro_queue_t *q = find(ro, topic, qid);
    return q ? &q->pub : NULL;
}

int rk_store_ro_read_units(rk_store_ro_t *ro, const char *topic, int qid, int64_t offset,
                           rk_cq_unit_t *out, int max)
{
    ro_queue_t *q = find(ro, topic, qid);
    if (q == NULL || q->pub.missing || offset < q->pub.min_offset || offset >= q->pub.max_offset ||
        max <= 0)
        return 0;
    int64_t n = q->pub.max_offset - offset;
    if (n > max)
        n = max;
    /* one read per file */
    int64_t fs = ro->cq_file_size, pos = offset * RK_CQ_UNIT_SIZE, got = 0;
    uint8_t buf[RK_CQ_UNIT_SIZE * 256];
    while (got < n) {
        int64_t base = pos - pos % fs;
        int64_t want = n - got;
        if (want > (fs - (pos - base)) / RK_CQ_UNIT_SIZE)
            want = (fs - (pos - base)) / RK_CQ_UNIT_SIZE;
        if (want > 256)
            want = 256;
        int64_t r = read_at(ro, q, base, pos - base, buf, want * RK_CQ_UNIT_SIZE);
        if (r < 0)
            return got > 0 ? (int)got : (int)r;
        int64_t units = r / RK_CQ_UNIT_SIZE;
        for (int64_t i = 0; i < units; i++)
            out[got + i] = rk_cq_unit_decode(buf + i * RK_CQ_UNIT_SIZE);
        got += units;
        pos += units * RK_CQ_UNIT_SIZE;
        if (units < want)
            break;
    }
    return (int)got;
}

/* ---- lookups by key ------------------------------------------------------- */

typedef struct query_ctx {
    const char *topic, *key;
    rk_store_ro_hit_t *out;
    int max;
    int64_t seen;                   /* matches so far; out is a ring of the last max */
} query_ctx_t;

static int query_visit(void *arg, const rk_record_t *r, bool crc_ok)
{
    query_ctx_t *c = arg;
    if (!rk_record_has_key(r, c->topic, c->key))
        return 0;
    rk_store_ro_hit_t *h = &c->out[c->seen++ % c->max];
    memset(h, 0, sizeof *h);
    h->phys = r->phys_offset;
    h->queue_offset = r->queue_offset;
    h->queue_id = r->queue_id;
    h->crc_ok = crc_ok;
    rk_props_get_str(r->props, r->props_len, RK_PROP_KEYS, h->keys, sizeof h->keys);
    rk_props_get_str(r->props, r->props_len, RK_PROP_UNIQ_KEY, h->uniq, sizeof h->uniq);
    rk_msgid_encode(&r->store_host, r->phys_offset, h->msg_id, sizeof h->msg_id);
    return 0;
}

int rk_store_ro_query_by_key(rk_store_ro_t *ro, const char *topic, const char *key,
                             rk_store_ro_hit_t *out, int max)
{
    if (max <= 0 || ro->cl_max <= ro->cl_min)
        return 0;
    query_ctx_t c = {topic, key, out, max, 0};
    rk_scan_report_t rep;
    int rc = rk_commitlog_scan_dir(ro->cl_dir, ro->cl_file_size, ro->cl_min, false, query_visit, &c, &rep);
    if (rc != RK_OK)
        return rc;
    /* the ring holds the last n matches; newest first */
    int n = c.seen < max ? (int)c.seen : max;
    int64_t start = c.seen - n;
    rk_store_ro_hit_t *tmp = malloc((size_t)n * sizeof *tmp);
    if (tmp == NULL && n > 0)
        return RK_ENOMEM;
    for (int i = 0; i < n; i++)
        tmp[i] = out[(start + n - 1 - i) % max];
    if (n > 0)
        memcpy(out, tmp, (size_t)n * sizeof *tmp);
    free(tmp);
    return n;
}
