/* vs_nats — the NATS JetStream side of `make bench-vs`: async publishes to a file-stored stream,
 * a fixed number of publishes in flight, for a fixed time; prints the acknowledged rate.
 *
 *   vs_nats -p PORT -s SIZE -w IN_FLIGHT -d SECONDS
 *
 * The stream VS (subject vs.s, file storage, one replica) is deleted and made afresh, so every
 * run starts from an empty stream. js_PublishAsync blocks while IN_FLIGHT publishes await their
 * acknowledgement (jsOptions.PublishAsync.MaxPending), which is what mqbench --async -w does with
 * rocklet's sends. As mqbench does, it waits for the last acknowledgements after the time is up
 * and counts acknowledged messages over the whole time. JetStream has no batch
 * publish: one message is one publish.
 *
 * Output (one line, parsed by bench-vs.sh):
 *   SUMMARY nats: N msgs in S s = R msgs/s (M MB/s), errors E
 */
#include <nats/nats.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static _Atomic long acked, errors;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)closure;
    if (pa != NULL)
        atomic_fetch_add(&acked, 1);
    else if (pae != NULL && atomic_fetch_add(&errors, 1) < 5)
        fprintf(stderr, "vs_nats: publish failed: %s\n", pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
    natsMsg_Destroy(msg);
}

int main(int argc, char **argv)
{
    int port = 0, size = 1024, inflight = 1024;
    double secs = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-p") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-s") == 0)
            size = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-w") == 0)
            inflight = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "-d") == 0)
            secs = atof(argv[i + 1]);
    }
    if (port <= 0 || size <= 0 || size > (1 << 20) || inflight <= 0 || secs <= 0) {
        fprintf(stderr, "usage: vs_nats -p PORT -s SIZE -w IN_FLIGHT -d SECONDS\n");
        return 2;
    }
    char *body = malloc((size_t)size);
    if (body == NULL)
        return 1;
    for (int i = 0; i < size; i++)
        body[i] = (char)('a' + i % 26);
    char url[64];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", port);
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsOptions jo;
    jsStreamConfig sc;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    const char *subjects[] = {"vs.s"};
    natsStatus s = natsConnection_ConnectTo(&nc, url);
    if (s == NATS_OK)
        s = jsOptions_Init(&jo);
    if (s == NATS_OK) {
        jo.PublishAsync.MaxPending = inflight;
        jo.PublishAsync.AckHandler = on_ack;
        jo.PublishAsync.StallWait = 10000;
        s = natsConnection_JetStream(&js, nc, &jo);
    }
    if (s == NATS_OK) {
        js_DeleteStream(js, "VS", NULL, &jerr);   /* absent on the first run: that is fine */
        s = jsStreamConfig_Init(&sc);
    }
    if (s == NATS_OK) {
        sc.Name = "VS";
        sc.Subjects = subjects;
        sc.SubjectsLen = 1;
        sc.Storage = js_FileStorage;
        s = js_AddStream(&si, js, &sc, NULL, &jerr);
        jsStreamInfo_Destroy(si);
    }
    if (s != NATS_OK) {
        fprintf(stderr, "vs_nats: %s (JetStream error %d)\n", natsStatus_GetText(s), (int)jerr);
        jsCtx_Destroy(js);
        natsConnection_Destroy(nc);
        free(body);
        return 1;
    }
    double t0 = now_s(), end = t0 + secs;
    long published = 0;
    while (now_s() < end) {
        s = js_PublishAsync(js, "vs.s", body, size, NULL);
        if (s == NATS_OK) {
            published++;
        } else if (s != NATS_TIMEOUT) {
            fprintf(stderr, "vs_nats: publish: %s\n", natsStatus_GetText(s));
            break;
        }
    }
    /* as mqbench: wait for the publishes in flight, then count every acknowledged one over the
     * time up to the last acknowledgement */
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 10000;
    js_PublishAsyncComplete(js, &po);
    long n = atomic_load(&acked);
    double took = now_s() - t0;
    printf("SUMMARY nats: %ld msgs in %.2f s = %.0f msgs/s (%.1f MB/s), published %ld, errors %ld\n", n, took,
           (double)n / took, (double)n * size / took / 1e6, published, atomic_load(&errors));
    js_DeleteStream(js, "VS", NULL, &jerr);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    nats_Close();
    free(body);
    return atomic_load(&errors) > 0 ? 1 : 0;
}
