/* fuzzkit.c — seeded mutations of RocketMQ frames for the fuzz programs (see rk/fuzzkit.h). */
#include "rk/fuzzkit.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rk/error.h"
#include "rk/namesrv.h"
#include "rk/request_code.h"
#include "rk/testkit.h"

#define FRAME_CAP (4u * 1024 * 1024)

void rk_fz_seed(rk_fz_rng_t *r, uint64_t seed)
{
    /* splitmix64 of the seed, so seeds 1, 2, 3 start far apart; never 0 */
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    r->s = z ? z : 0x2545F4914F6CDD1Dull;
}

uint64_t rk_fz_next(rk_fz_rng_t *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

uint64_t rk_fz_below(rk_fz_rng_t *r, uint64_t n) { return n ? rk_fz_next(r) % n : 0; }

static int parse_num(const char *s, long long max, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > max)
        return RK_EINVAL;
    *out = v;
    return RK_OK;
}

int rk_fz_parse_args(int argc, char **argv, rk_fz_opts_t *o)
{
    o->seed = 1;
    o->n = 2000;
    o->rounds = 10;
    for (int i = 1; i < argc; i++) {
        long long v;
        if (i + 1 < argc && strcmp(argv[i], "--seed") == 0 && parse_num(argv[i + 1], INT64_MAX, &v) == RK_OK)
            o->seed = (uint64_t)v;
        else if (i + 1 < argc && strcmp(argv[i], "--n") == 0 && parse_num(argv[i + 1], 100000000, &v) == RK_OK)
            o->n = (long)v;
        else if (i + 1 < argc && strcmp(argv[i], "--rounds") == 0 && parse_num(argv[i + 1], 100000, &v) == RK_OK)
            o->rounds = (long)v;
        else {
            fprintf(stderr, "usage: %s [--seed S] [--n FRAMES] [--rounds KILL9_ROUNDS]\n", argv[0]);
            return RK_EINVAL;
        }
        i++;
    }
    return RK_OK;
}

int rk_fz_workdir(char *out, size_t outlen, const char *base, const char *name)
{
    char path[PATH_MAX];
    if (mkdir(base, 0755) != 0 && errno != EEXIST)
        return -errno;
    if (realpath(base, path) == NULL)
        return -errno;
    if (snprintf(out, outlen, "%s/%s", path, name) >= (int)outlen)
        return -ENAMETOOLONG;
    int rc = rk_tk_rmtree(out);
    if (rc != 0)
        return rc;
    return mkdir(out, 0755) == 0 ? RK_OK : -errno;
}

int rk_fz_save(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -errno;
    int rc = fwrite(data, 1, len, f) == len ? RK_OK : -EIO;
    if (fclose(f) != 0 && rc == RK_OK)
        rc = -errno;
    return rc;
}

/* ---- templates: one valid request per code ---- */

#define FZ_BROKER "fz-b"
#define FZ_ADDR "127.0.0.1:1"
#define FZ_CLUSTER "FzCluster"
#define FZ_TOPIC "FzT"

static const char register_body[] =
    "{\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":1,\"timestamp\":1700000000000},"
    "\"topicConfigTable\":{\"" FZ_TOPIC "\":{\"topicName\":\"" FZ_TOPIC "\",\"readQueueNums\":4,"
    "\"writeQueueNums\":4,\"perm\":6,\"topicFilterType\":\"SINGLE_TAG\",\"topicSysFlag\":0,\"order\":false}}},"
    "\"filterServerList\":[]}";
static const char snapshot_body[] =
    "{\"brokers\":{\"" FZ_BROKER "\":{\"cluster\":\"" FZ_CLUSTER "\",\"addrs\":{\"0\":\"" FZ_ADDR "\"}}},"
    "\"topics\":{\"" FZ_TOPIC "\":[{\"brokerName\":\"" FZ_BROKER "\",\"read\":4,\"write\":4,\"perm\":6,\"sysflag\":0}]},"
    "\"live\":{\"" FZ_ADDR "\":{\"name\":\"" FZ_BROKER "\",\"cluster\":\"" FZ_CLUSTER "\",\"ha\":\"\",\"id\":0,"
    "\"dvCounter\":1,\"dvTs\":1}},\"kv\":{}}";
static const char heartbeat_body[] =
    "{\"clientID\":\"127.0.0.1@fz\",\"producerDataSet\":[{\"groupName\":\"fzpg\"}],\"consumerDataSet\":"
    "[{\"groupName\":\"fzg\",\"consumeType\":\"CONSUME_PASSIVELY\",\"messageModel\":\"CLUSTERING\","
    "\"consumeFromWhere\":\"CONSUME_FROM_LAST_OFFSET\",\"subscriptionDataSet\":[{\"topic\":\"" FZ_TOPIC "\","
    "\"subString\":\"*\",\"tagsSet\":[],\"codeSet\":[],\"subVersion\":0,\"classFilterMode\":false}],"
    "\"unitMode\":false}]}";
static const char lock_body[] =
    "{\"consumerGroup\":\"fzg\",\"clientId\":\"127.0.0.1@fz\",\"mqSet\":[{\"topic\":\"" FZ_TOPIC "\","
    "\"brokerName\":\"" FZ_BROKER "\",\"queueId\":0}]}";
static const char dataversion_body[] = "{\"counter\":1,\"timestamp\":1700000000000}";
static const char sub_group_body[] =
    "{\"groupName\":\"fzg2\",\"consumeEnable\":true,\"retryQueueNums\":1,\"retryMaxTimes\":16,\"brokerId\":0}";

typedef struct {
    const char *name;
    int target;
    int32_t code;
    const char *ext;        /* "k=v;k=v" */
    const char *body;
} tpl_spec_t;

static const tpl_spec_t specs[] = {
    {"REGISTER_BROKER", RK_FZ_NAMESRV, RK_REQ_REGISTER_BROKER,
     "brokerName=" FZ_BROKER ";brokerAddr=" FZ_ADDR ";clusterName=" FZ_CLUSTER ";haServerAddr=127.0.0.1:2;brokerId=0;compressed=false",
     register_body},
    {"UNREGISTER_BROKER", RK_FZ_NAMESRV, RK_REQ_UNREGISTER_BROKER,
     "brokerName=" FZ_BROKER ";brokerAddr=" FZ_ADDR ";clusterName=" FZ_CLUSTER ";brokerId=0", NULL},
    {"QUERY_DATA_VERSION", RK_FZ_NAMESRV, RK_REQ_QUERY_DATA_VERSION,
     "brokerName=" FZ_BROKER ";brokerAddr=" FZ_ADDR ";clusterName=" FZ_CLUSTER ";brokerId=0", dataversion_body},
    {"GET_ROUTEINFO_BY_TOPIC", RK_FZ_NAMESRV, RK_REQ_GET_ROUTEINFO_BY_TOPIC, "topic=" FZ_TOPIC, NULL},
    {"GET_BROKER_CLUSTER_INFO", RK_FZ_NAMESRV, RK_REQ_GET_BROKER_CLUSTER_INFO, "", NULL},
    {"PUT_KV_CONFIG", RK_FZ_NAMESRV, RK_REQ_PUT_KV_CONFIG, "namespace=FZ;key=k;value=v", NULL},
    {"GET_KV_CONFIG", RK_FZ_NAMESRV, RK_REQ_GET_KV_CONFIG, "namespace=FZ;key=k", NULL},
    {"DELETE_KV_CONFIG", RK_FZ_NAMESRV, RK_REQ_DELETE_KV_CONFIG, "namespace=FZ;key=k", NULL},
    {"WIPE_WRITE_PERM_OF_BROKER", RK_FZ_NAMESRV, RK_REQ_WIPE_WRITE_PERM_OF_BROKER, "brokerName=" FZ_BROKER, NULL},
    {"ADD_WRITE_PERM_OF_BROKER", RK_FZ_NAMESRV, RK_REQ_ADD_WRITE_PERM_OF_BROKER, "brokerName=" FZ_BROKER, NULL},
    {"DELETE_TOPIC_IN_NAMESRV", RK_FZ_NAMESRV, RK_REQ_DELETE_TOPIC_IN_NAMESRV, "topic=" FZ_TOPIC, NULL},
    {"GET_ALL_TOPIC_LIST", RK_FZ_NAMESRV, RK_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER, "", NULL},
    {"GET_TOPICS_BY_CLUSTER", RK_FZ_NAMESRV, RK_REQ_GET_TOPICS_BY_CLUSTER, "cluster=" FZ_CLUSTER, NULL},
    {"NS_REPL_SNAPSHOT", RK_FZ_NAMESRV, RK_REQ_NS_REPL_SNAPSHOT, "epoch=1", snapshot_body},
    {"NS_REPL_APPLY", RK_FZ_NAMESRV, RK_REQ_NS_REPL_APPLY,
     "origCode=103;epoch=1;seq=1;brokerName=" FZ_BROKER ";brokerAddr=" FZ_ADDR ";clusterName=" FZ_CLUSTER ";brokerId=0",
     register_body},
    {"NS_REPL_PING", RK_FZ_NAMESRV, RK_REQ_NS_REPL_PING, "epoch=1", NULL},

    {"SEND_MESSAGE_V2", RK_FZ_BROKER, RK_REQ_SEND_MESSAGE_V2,
     "a=fzpg;b=" FZ_TOPIC ";c=TBW102;d=4;e=0;f=0;g=1700000000000;h=0;i=TAGS\001t\002KEYS\001k\002;j=0;k=false;m=false",
     "hello fuzz"},
    {"SEND_MESSAGE", RK_FZ_BROKER, RK_REQ_SEND_MESSAGE,
     "producerGroup=fzpg;topic=" FZ_TOPIC ";defaultTopic=TBW102;defaultTopicQueueNums=4;queueId=1;sysFlag=0;"
     "bornTimestamp=1700000000000;flag=0;properties=;reconsumeTimes=0;unitMode=false",
     "hello fuzz"},
    {"SEND_BATCH_MESSAGE", RK_FZ_BROKER, RK_REQ_SEND_BATCH_MESSAGE,
     "a=fzpg;b=" FZ_TOPIC ";c=TBW102;d=4;e=0;f=0;g=1700000000000;h=0;i=;j=0;k=false;m=true", "not a batch"},
    {"PULL_MESSAGE", RK_FZ_BROKER, RK_REQ_PULL_MESSAGE,
     "consumerGroup=fzg;topic=" FZ_TOPIC ";queueId=0;queueOffset=0;maxMsgNums=32;sysFlag=0;commitOffset=0;"
     "suspendTimeoutMillis=0;subscription=*;subVersion=0", NULL},
    {"QUERY_CONSUMER_OFFSET", RK_FZ_BROKER, RK_REQ_QUERY_CONSUMER_OFFSET,
     "consumerGroup=fzg;topic=" FZ_TOPIC ";queueId=0", NULL},
    {"UPDATE_CONSUMER_OFFSET", RK_FZ_BROKER, RK_REQ_UPDATE_CONSUMER_OFFSET,
     "consumerGroup=fzg;topic=" FZ_TOPIC ";queueId=0;commitOffset=1", NULL},
    {"UPDATE_AND_CREATE_TOPIC", RK_FZ_BROKER, RK_REQ_UPDATE_AND_CREATE_TOPIC,
     "topic=" FZ_TOPIC ";defaultTopic=TBW102;readQueueNums=4;writeQueueNums=4;perm=6;topicFilterType=SINGLE_TAG;"
     "topicSysFlag=0;order=false", NULL},
    {"GET_ALL_TOPIC_CONFIG", RK_FZ_BROKER, RK_REQ_GET_ALL_TOPIC_CONFIG, "", NULL},
    {"GET_BROKER_RUNTIME_INFO", RK_FZ_BROKER, RK_REQ_GET_BROKER_RUNTIME_INFO, "", NULL},
    {"SEARCH_OFFSET_BY_TIMESTAMP", RK_FZ_BROKER, RK_REQ_SEARCH_OFFSET_BY_TIMESTAMP,
     "topic=" FZ_TOPIC ";queueId=0;timestamp=1700000000000", NULL},
    {"GET_MAX_OFFSET", RK_FZ_BROKER, RK_REQ_GET_MAX_OFFSET, "topic=" FZ_TOPIC ";queueId=0", NULL},
    {"GET_MIN_OFFSET", RK_FZ_BROKER, RK_REQ_GET_MIN_OFFSET, "topic=" FZ_TOPIC ";queueId=0", NULL},
    {"GET_EARLIEST_MSG_STORETIME", RK_FZ_BROKER, RK_REQ_GET_EARLIEST_MSG_STORETIME, "topic=" FZ_TOPIC ";queueId=0", NULL},
    {"VIEW_MESSAGE_BY_ID", RK_FZ_BROKER, RK_REQ_VIEW_MESSAGE_BY_ID, "offset=0", NULL},
    {"QUERY_MESSAGE", RK_FZ_BROKER, RK_REQ_QUERY_MESSAGE,
     "topic=" FZ_TOPIC ";key=k;maxNum=32;beginTimestamp=0;endTimestamp=9999999999999", NULL},
    {"HEART_BEAT", RK_FZ_BROKER, RK_REQ_HEART_BEAT, "", heartbeat_body},
    {"UNREGISTER_CLIENT", RK_FZ_BROKER, RK_REQ_UNREGISTER_CLIENT,
     "clientID=127.0.0.1@fz;producerGroup=fzpg;consumerGroup=fzg", NULL},
    {"CONSUMER_SEND_MSG_BACK", RK_FZ_BROKER, RK_REQ_CONSUMER_SEND_MSG_BACK,
     "group=fzg;offset=0;delayLevel=0;originMsgId=0A0000010000000000000000;originTopic=" FZ_TOPIC, NULL},
    {"END_TRANSACTION", RK_FZ_BROKER, RK_REQ_END_TRANSACTION,
     "producerGroup=fzpg;tranStateTableOffset=0;commitLogOffset=0;commitOrRollback=8;fromTransactionCheck=false;"
     "msgId=0A0000010000000000000000", NULL},
    {"GET_CONSUMER_LIST_BY_GROUP", RK_FZ_BROKER, RK_REQ_GET_CONSUMER_LIST_BY_GROUP, "consumerGroup=fzg", NULL},
    {"LOCK_BATCH_MQ", RK_FZ_BROKER, RK_REQ_LOCK_BATCH_MQ, "", lock_body},
    {"UNLOCK_BATCH_MQ", RK_FZ_BROKER, RK_REQ_UNLOCK_BATCH_MQ, "", lock_body},
    {"GET_CONSUME_STATS", RK_FZ_BROKER, RK_REQ_GET_CONSUME_STATS, "consumerGroup=fzg;topic=" FZ_TOPIC, NULL},
    {"GET_TOPIC_STATS_INFO", RK_FZ_BROKER, RK_REQ_GET_TOPIC_STATS_INFO, "topic=" FZ_TOPIC, NULL},
    /* rocklet's GET_ALL_TOPIC_STATS (chapter 7's rk/broker.h, a header this chapter cannot include) */
    {"GET_ALL_TOPIC_STATS", RK_FZ_BROKER, 10701, "afterTopic=A;maxTopics=2", NULL},
    /* chapter 7's admin requests (UPDATE_BROKER_CONFIG left out: a mutation could turn auto-creation off) */
    {"GET_CONSUMER_CONNECTION_LIST", RK_FZ_BROKER, RK_REQ_GET_CONSUMER_CONNECTION_LIST, "consumerGroup=fzg", NULL},
    {"GET_PRODUCER_CONNECTION_LIST", RK_FZ_BROKER, RK_REQ_GET_PRODUCER_CONNECTION_LIST, "producerGroup=fzpg", NULL},
    {"UPDATE_AND_CREATE_SUBSCRIPTIONGROUP", RK_FZ_BROKER, RK_REQ_UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, "",
     sub_group_body},
    {"GET_ALL_SUBSCRIPTIONGROUP_CONFIG", RK_FZ_BROKER, RK_REQ_GET_ALL_SUBSCRIPTIONGROUP_CONFIG, "", NULL},
    {"DELETE_SUBSCRIPTIONGROUP", RK_FZ_BROKER, RK_REQ_DELETE_SUBSCRIPTIONGROUP, "groupName=fzg2", NULL},
    {"DELETE_TOPIC_IN_BROKER", RK_FZ_BROKER, RK_REQ_DELETE_TOPIC_IN_BROKER, "topic=FzDel", NULL},
    {"INVOKE_BROKER_TO_RESET_OFFSET", RK_FZ_BROKER, RK_REQ_INVOKE_BROKER_TO_RESET_OFFSET,
     "topic=" FZ_TOPIC ";group=fzg;timestamp=0;isForce=true", NULL},
    {"QUERY_TOPIC_CONSUME_BY_WHO", RK_FZ_BROKER, RK_REQ_QUERY_TOPIC_CONSUME_BY_WHO, "topic=" FZ_TOPIC, NULL},
    {"GET_CONSUMER_RUNNING_INFO", RK_FZ_BROKER, RK_REQ_GET_CONSUMER_RUNNING_INFO,
     "consumerGroup=fzg;clientId=127.0.0.1@fz;jstackEnable=false", NULL},
    {"CONSUME_MESSAGE_DIRECTLY", RK_FZ_BROKER, RK_REQ_CONSUME_MESSAGE_DIRECTLY,
     "consumerGroup=fzg;clientId=127.0.0.1@fz;msgId=7F00000100002A9F0000000000000000", NULL},
    {"GET_BROKER_CONSUME_STATS", RK_FZ_BROKER, RK_REQ_GET_BROKER_CONSUME_STATS, "isOrder=false", NULL},
    {"GET_BROKER_CONFIG", RK_FZ_BROKER, RK_REQ_GET_BROKER_CONFIG, "", NULL},
    {"QUERY_CONSUME_QUEUE", RK_FZ_BROKER, RK_REQ_QUERY_CONSUME_QUEUE,
     "topic=" FZ_TOPIC ";queueId=0;index=0;count=8;consumerGroup=fzg", NULL},
};

static int set_ext_list(rk_cmd_t *c, const char *list)
{
    char *copy = strdup(list), *save = NULL;
    if (copy == NULL)
        return RK_ENOMEM;
    int rc = RK_OK;
    for (char *kv = strtok_r(copy, ";", &save); kv && rc == RK_OK; kv = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(kv, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        rc = rk_cmd_ext_set(c, kv, eq + 1);
    }
    free(copy);
    return rc;
}

int rk_fz_templates(rk_fz_tpl_t **out, size_t *n)
{
    size_t cnt = sizeof specs / sizeof specs[0];
    rk_fz_tpl_t *t = calloc(cnt, sizeof *t);
    if (t == NULL)
        return RK_ENOMEM;
    for (size_t i = 0; i < cnt; i++) {
        t[i].name = specs[i].name;
        t[i].target = specs[i].target;
        t[i].cmd = rk_cmd_new(specs[i].code);
        if (t[i].cmd == NULL || set_ext_list(t[i].cmd, specs[i].ext) != RK_OK ||
            (specs[i].body && rk_cmd_set_body(t[i].cmd, specs[i].body, strlen(specs[i].body)) != RK_OK)) {
            rk_fz_templates_free(t, i + 1);
            return RK_ENOMEM;
        }
        t[i].cmd->opaque = (int32_t)(i + 1);
    }
    *out = t;
    *n = cnt;
    return RK_OK;
}

void rk_fz_templates_free(rk_fz_tpl_t *t, size_t n)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        rk_cmd_free(t[i].cmd);
    free(t);
}

/* ---- hostile values ---- */

static const char *const bad_numbers[] = {
    "", "-1", "0", "1e300", "-1e300", "4294967297", "1099511627776", "2147483648", "-2147483649",
    "9223372036854775807", "-9223372036854775808", "99999999999999999999999", "NaN", "inf", "abc",
    "0x10", " 1", "1 ", "+1", "1.5", "true", "%s%n%s", "\xff\xfe", "-0",
};
static const char *const int_keys[] = {
    "queueId", "readQueueNums", "writeQueueNums", "perm", "queueOffset", "maxMsgNums", "sysFlag",
    "commitOffset", "suspendTimeoutMillis", "brokerId", "timestamp", "offset", "maxNum", "delayLevel",
    "topicSysFlag", "bornTimestamp", "flag", "reconsumeTimes", "defaultTopicQueueNums", "d", "e", "f", "g",
    "h", "j", "subVersion", "tranStateTableOffset", "commitLogOffset", "commitOrRollback", "origCode",
    "epoch", "seq",
};
static const char *const bad_bodies[] = {
    "", "{", "}", "[]", "null", "0", "1e300", "\"x\"", "{}", "{\"a\":}", "{\"a\" 1}", "[1,]",
    "{\"brokers\":[{}]}", "{\"topics\":[[{}]]}", "{\"live\":[{}]}", "{\"brokers\":null}",
    "{\"brokers\":[null]}", "{\"brokers\":{\"b\":{}}}", "{\"brokers\":{\"b\":{\"addrs\":{\"x\":1}}}}",
    "{\"topics\":{\"T\":[null,{}]}}", "{\"topics\":{\"T\":{}}}", "{\"topics\":{\"T\":[{\"read\":1e300,\"write\":-1}]}}",
    "{\"live\":{\"a\":{\"id\":1e300,\"dvCounter\":-1e300}}}", "{\"live\":{\"\":null}}", "{\"kv\":[]}",
    "{\"kv\":{\"ns\":{\"k\":1}}}",
    "{\"topicConfigSerializeWrapper\":null}", "{\"topicConfigSerializeWrapper\":{}}",
    "{\"topicConfigSerializeWrapper\":{\"topicConfigTable\":[]}}",
    "{\"topicConfigSerializeWrapper\":{\"topicConfigTable\":{\"T\":{}}}}",
    "{\"topicConfigSerializeWrapper\":{\"topicConfigTable\":{\"T\":null}}}",
    "{\"topicConfigSerializeWrapper\":{\"topicConfigTable\":{\"\":{\"topicName\":\"\"}}}}",
    "{\"topicConfigSerializeWrapper\":{\"topicConfigTable\":{\"T\":{\"readQueueNums\":1e300,"
    "\"writeQueueNums\":-1,\"perm\":4294967297,\"topicSysFlag\":-1e300}}}}",
    "{\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":1e300,\"timestamp\":-1e300}}}",
    "{\"topicConfigSerializeWrapper\":{\"dataVersion\":\"x\",\"topicConfigTable\":\"y\"}}",
    "{\"counter\":1e300,\"timestamp\":\"x\"}",
    "{\"clientID\":1,\"consumerDataSet\":{}}", "{\"consumerDataSet\":[{}],\"producerDataSet\":[{}]}",
    "{\"consumerDataSet\":[null],\"producerDataSet\":[null]}",
    "{\"consumerDataSet\":[{\"groupName\":null,\"subscriptionDataSet\":[{}]}]}",
    "{\"consumerDataSet\":[{\"groupName\":\"g\",\"subscriptionDataSet\":[{\"topic\":\"T\",\"subString\":null,"
    "\"tagsSet\":[1,2],\"codeSet\":[1e300],\"subVersion\":1e300}]}]}",
    "{\"mqSet\":[{}]}", "{\"mqSet\":[null,1,\"x\"]}", "{\"consumerGroup\":\"g\",\"mqSet\":[{\"topic\":\"T\","
    "\"brokerName\":\"b\",\"queueId\":1099511627776}]}", "{\"mqSet\":{}}",
    "{\"a\\u0000b\":1}", "{\"\xff\xfe\":\"\xc3\x28\"}", "\"\\ud800\"",
};

static void put_json_header(rk_buf_t *b, const rk_cmd_t *c, const char *ext_json)
{
    rk_buf_printf(b, "{\"code\":%d,\"extFields\":%s,\"flag\":%d,\"language\":\"JAVA\",\"opaque\":%d,\"version\":%d}",
                  c->code, ext_json, c->flag, c->opaque, c->version);
}

/* The whole frame for a header and body given separately. */
static void put_frame(rk_buf_t *out, int ser, const uint8_t *hdr, size_t hlen, const uint8_t *body, size_t blen)
{
    rk_buf_put_u32(out, (uint32_t)(4 + hlen + blen));
    rk_buf_put_u32(out, ((uint32_t)ser << 24) | (uint32_t)(hlen & 0xFFFFFF));
    rk_buf_put(out, hdr, hlen);
    if (blen)
        rk_buf_put(out, body, blen);
}

/* Thousands of extFields, written by hand: the codec's own setter would make
 * building them as slow as the parser under test may be. */
static int huge_ext(rk_fz_rng_t *r, const rk_cmd_t *c, int ser, rk_buf_t *out, char *desc, size_t dl)
{
    static const unsigned counts[] = {1000, 2000, 5000, 10000, 20000, 50000, 100000};
    unsigned n = counts[rk_fz_below(r, sizeof counts / sizeof counts[0])];
    bool dup = rk_fz_below(r, 4) == 0;      /* the same key again and again */
    rk_buf_t h;
    rk_buf_init(&h);
    if (ser == RK_SER_JSON) {
        rk_buf_t ext;
        rk_buf_init(&ext);
        rk_buf_put_str(&ext, "{");
        for (unsigned i = 0; i < n; i++)
            rk_buf_printf(&ext, "%s\"%s%u\":\"v\"", i ? "," : "", dup ? "k" : "key", dup ? 0 : i);
        rk_buf_put_str(&ext, "}");
        rk_buf_cstr(&ext);
        put_json_header(&h, c, ext.err ? "{}" : (const char *)ext.data);
        rk_buf_free(&ext);
    } else {
        rk_buf_put_u16(&h, (uint16_t)c->code);
        rk_buf_put_u8(&h, 0);
        rk_buf_put_u16(&h, (uint16_t)c->version);
        rk_buf_put_u32(&h, (uint32_t)c->opaque);
        rk_buf_put_u32(&h, (uint32_t)c->flag);
        rk_buf_put_u32(&h, 0);                  /* no remark */
        size_t at = h.len;
        rk_buf_put_u32(&h, 0);
        for (unsigned i = 0; i < n; i++) {
            char k[24];
            int kl = snprintf(k, sizeof k, "%s%u", dup ? "k" : "key", dup ? 0 : i);
            rk_buf_put_u16(&h, (uint16_t)kl);
            rk_buf_put(&h, k, (size_t)kl);
            rk_buf_put_u32(&h, 1);
            rk_buf_put(&h, "v", 1);
        }
        if (!h.err)
            rk_be_put32(h.data + at, (uint32_t)(h.len - at - 4));
    }
    int rc = h.err;
    if (rc == RK_OK)
        put_frame(out, ser, h.data, h.len, c->body, c->body_len);
    rk_buf_free(&h);
    snprintf(desc, dl, "huge: %u extFields%s", n, dup ? " (all named k0)" : "");
    return rc ? rc : out->err;
}

static void flip_bytes(rk_fz_rng_t *r, uint8_t *p, size_t from, size_t len, char *desc, size_t dl)
{
    if (len <= from) {
        snprintf(desc, dl, "nothing to flip");
        return;
    }
    int k = 1 + (int)rk_fz_below(r, 8);
    size_t first = 0;
    for (int i = 0; i < k; i++) {
        size_t at = from + rk_fz_below(r, len - from);
        if (i == 0)
            first = at;
        p[at] ^= (uint8_t)(1u << rk_fz_below(r, 8)) | (rk_fz_below(r, 2) ? (uint8_t)rk_fz_next(r) : 0);
    }
    snprintf(desc, dl, "%d bytes flipped from offset %zu", k, first);
}

/* The description goes to a terminal: no control or non-ASCII bytes. */
static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 32 || (unsigned char)*s >= 127)
            *s = '?';
}

int rk_fz_mutate(rk_fz_rng_t *r, const rk_fz_tpl_t *tpl, rk_buf_t *out, char *desc, size_t dl)
{
    rk_buf_reset(out);
    int ser = rk_fz_below(r, 3) == 0 ? RK_SER_ROCKETMQ : RK_SER_JSON;
    char what[200] = "";
    rk_cmd_t *c = rk_cmd_clone(tpl->cmd);
    if (c == NULL)
        return RK_ENOMEM;
    c->opaque = (int32_t)rk_fz_next(r);
    c->ser_type = ser;
    unsigned kind = (unsigned)rk_fz_below(r, 100);
    int rc = RK_OK;
    /* command-level mutations first: they still encode to a well-framed request */
    if (kind < 12) {                                        /* a hostile extFields value */
        const char *key;
        if (c->next > 0 && rk_fz_below(r, 2))
            key = c->ext[rk_fz_below(r, c->next)].key;
        else
            key = int_keys[rk_fz_below(r, sizeof int_keys / sizeof int_keys[0])];
        char *keycopy = strdup(key);
        if (keycopy == NULL) {
            rk_cmd_free(c);
            return RK_ENOMEM;
        }
        if (rk_fz_below(r, 10) == 0) {
            size_t n = 1 + rk_fz_below(r, 256 * 1024);
            char *v = malloc(n + 1);
            if (v != NULL) {
                memset(v, 'a' + (int)rk_fz_below(r, 26), n);
                v[n] = '\0';
                rc = rk_cmd_ext_set(c, keycopy, v);
                free(v);
            }
            snprintf(what, sizeof what, "extFields %s = %zu-byte string", keycopy, n);
        } else {
            const char *v = bad_numbers[rk_fz_below(r, sizeof bad_numbers / sizeof bad_numbers[0])];
            rc = rk_cmd_ext_set(c, keycopy, v);
            snprintf(what, sizeof what, "extFields %s = \"%s\"", keycopy, v);
        }
        free(keycopy);
    } else if (kind < 30) {                                 /* a hostile JSON body */
        if (rk_fz_below(r, 6) == 0) {
            /* generated: deep nesting or a long array of empty objects */
            rk_buf_t b;
            rk_buf_init(&b);
            size_t n = 100 + rk_fz_below(r, 100000);
            if (rk_fz_below(r, 2)) {
                for (size_t i = 0; i < n; i++)
                    rk_buf_put_u8(&b, '[');
                for (size_t i = 0; i < n; i++)
                    rk_buf_put_u8(&b, ']');
                snprintf(what, sizeof what, "body = %zu nested arrays", n);
            } else {
                static const char *const keys[] = {"brokers", "topics", "live", "consumerDataSet", "mqSet"};
                const char *k = keys[rk_fz_below(r, 5)];
                rk_buf_printf(&b, "{\"%s\":[", k);
                for (size_t i = 0; i < n; i++)
                    rk_buf_put_str(&b, i ? ",{}" : "{}");
                rk_buf_put_str(&b, "]}");
                snprintf(what, sizeof what, "body = {\"%s\":[%zu x {}]}", k, n);
            }
            rc = b.err ? b.err : rk_cmd_set_body(c, b.data, b.len);
            rk_buf_free(&b);
        } else {
            const char *b = bad_bodies[rk_fz_below(r, sizeof bad_bodies / sizeof bad_bodies[0])];
            rc = rk_cmd_set_body(c, b, strlen(b));
            snprintf(what, sizeof what, "body = %.150s", b);
        }
    } else if (kind < 36 && c->body_len > 0) {              /* a flipped byte inside a valid body */
        size_t at = rk_fz_below(r, c->body_len);
        static const char junk[] = "{}[]\",:0\\\x00\xff-e9";
        uint8_t old = c->body[at];
        c->body[at] = (uint8_t)junk[rk_fz_below(r, sizeof junk - 1)];
        snprintf(what, sizeof what, "body byte %zu '%c' -> 0x%02x", at, old >= 32 && old < 127 ? old : '?', c->body[at]);
    } else if (kind < 38) {                                  /* thousands of extFields */
        rc = huge_ext(r, c, ser, out, what, sizeof what);
        snprintf(desc, dl, "%s/%s: %s", tpl->name, ser ? "binary" : "json", what);
        printable(desc);
        rk_cmd_free(c);
        return rc;
    }
    if (rc == RK_OK)
        rc = rk_cmd_encode(c, out);
    rk_cmd_free(c);
    if (rc != RK_OK)
        return rc;
    if (what[0] == '\0') {
        /* frame-level mutations */
        uint8_t *p = out->data;
        size_t len = out->len;
        if (kind < 45) {
            snprintf(what, sizeof what, "unchanged");
        } else if (kind < 65) {
            flip_bytes(r, p, 4, len, what, sizeof what);
        } else if (kind < 72) {                          /* insert random bytes */
            size_t n = 1 + rk_fz_below(r, 64), at = 4 + rk_fz_below(r, len - 3);
            if (rk_buf_reserve(out, n) != RK_OK)
                return RK_ENOMEM;
            p = out->data;
            memmove(p + at + n, p + at, len - at);
            for (size_t i = 0; i < n; i++)
                p[at + i] = (uint8_t)rk_fz_next(r);
            out->len = len + n;
            bool fix = rk_fz_below(r, 2);
            if (fix)
                rk_be_put32(p, (uint32_t)(out->len - 4));
            snprintf(what, sizeof what, "%zu random bytes inserted at %zu%s", n, at, fix ? " (length fixed)" : "");
        } else if (kind < 79) {                          /* delete a range */
            size_t at = 4 + rk_fz_below(r, len - 4), n = 1 + rk_fz_below(r, len - at);
            memmove(p + at, p + at + n, len - at - n);
            out->len = len - n;
            bool fix = rk_fz_below(r, 2);
            if (fix)
                rk_be_put32(p, (uint32_t)(out->len - 4));
            snprintf(what, sizeof what, "%zu bytes deleted at %zu%s", n, at, fix ? " (length fixed)" : "");
        } else if (kind < 86) {                          /* bogus frame length */
            static const uint32_t lens[] = {0, 1, 3, 4, 5, 0x7fffffffu, 0xffffffffu, 16u * 1024 * 1024 + 1,
                                            15u * 1024 * 1024};
            uint32_t v = rk_fz_below(r, 3) ? lens[rk_fz_below(r, sizeof lens / sizeof lens[0])]
                                           : (uint32_t)(len - 4 + rk_fz_below(r, 64)) - 32u;
            rk_be_put32(p, v);
            snprintf(what, sizeof what, "frame length %u (really %zu)", v, len - 4);
        } else if (kind < 93) {                          /* bogus header length or type */
            static const uint32_t hls[] = {0, 1, 0xffffff, 0x7fffff};
            uint32_t type = rk_fz_below(r, 2) ? (uint32_t)rk_fz_below(r, 256) : (uint32_t)ser;
            uint32_t hl = rk_fz_below(r, 2) ? hls[rk_fz_below(r, 4)] : (uint32_t)rk_fz_below(r, (uint64_t)len);
            rk_be_put32(p + 4, (type << 24) | (hl & 0xffffff));
            snprintf(what, sizeof what, "serialize type %u, header length %u", type, hl & 0xffffff);
        } else {                                         /* truncated */
            size_t keep = rk_fz_below(r, len);
            out->len = keep;
            snprintf(what, sizeof what, "truncated to %zu of %zu bytes", keep, len);
        }
    }
    if (out->len > FRAME_CAP)
        out->len = FRAME_CAP;
    snprintf(desc, dl, "%s/%s: %s", tpl->name, ser ? "binary" : "json", what);
    printable(desc);
    return out->err;
}
