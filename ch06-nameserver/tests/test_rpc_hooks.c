/* test_rpc_hooks.c — the two RPCHook-like extension points of the remoting
 * layer: a server's access check (refuses a request before its processor,
 * with the check's code and remark; a refused processor never runs; a slow
 * processor is checked too) and a client's before-request hook (adds
 * fields to every request it sends; its error fails the invoke). */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "rk/error.h"
#include "rk/remoting_client.h"
#include "rk/remoting_server.h"
#include "rk/request_code.h"

static _Atomic int ran;

/* Answers SUCCESS with the request's "who" field as remark. */
static void whoami(void *ctx, rk_conn_t *conn, rk_cmd_t *req, rk_reply_t *reply)
{
    (void)ctx; (void)conn;
    atomic_fetch_add(&ran, 1);
    const char *who = rk_cmd_ext_get(req, "who");
    rk_reply_code(reply, RK_RESP_SUCCESS, who ? who : "");
}

/* Lets a request through only when its "who" is "alice". */
static int32_t only_alice(void *ctx, rk_conn_t *conn, const rk_cmd_t *req, char *remark, size_t len)
{
    (void)conn;
    atomic_fetch_add((_Atomic int *)ctx, 1);
    const char *who = rk_cmd_ext_get(req, "who");
    if (who != NULL && strcmp(who, "alice") == 0)
        return 0;
    snprintf(remark, len, "code %d: %s may not", req->code, who ? who : "nobody");
    return RK_RESP_NO_PERMISSION;
}

static int add_alice(void *ctx, const char *addr, rk_cmd_t *req)
{
    (void)addr;
    atomic_fetch_add((_Atomic int *)ctx, 1);
    return rk_cmd_ext_set(req, "who", "alice");
}

static int refuse_all(void *ctx, const char *addr, rk_cmd_t *req)
{
    (void)ctx; (void)addr; (void)req;
    return RK_EPERM;
}

static rk_rserver_t *start(_Atomic int *checks, char *addr, size_t len)
{
    rk_rserver_config_t cfg = {.host = "127.0.0.1", .name = "hooks"};
    rk_rserver_t *s;
    cr_assert_eq(rk_rserver_new(&cfg, &s), 0);
    cr_assert_eq(rk_rserver_register(s, 2000, whoami, NULL, RK_PROC_INLINE), 0);
    cr_assert_eq(rk_rserver_register(s, 2001, whoami, NULL, RK_PROC_SLOW), 0);
    cr_assert_eq(rk_rserver_set_access_check(s, only_alice, checks), 0);
    cr_assert_eq(rk_rserver_start(s, NULL, 0), 0);
    snprintf(addr, len, "127.0.0.1:%d", rk_rserver_port(s));
    return s;
}

static rk_cmd_t *call(rk_rclient_t *c, const char *addr, int32_t code, const char *who)
{
    rk_cmd_t *req = rk_cmd_new(code), *resp = NULL;
    if (who != NULL)
        rk_cmd_ext_set(req, "who", who);
    cr_assert_eq(rk_rclient_invoke_sync(c, addr, req, 3000, &resp), 0);
    return resp;
}

Test(rpc_hooks, the_access_check_refuses_before_the_processor)
{
    _Atomic int checks = 0;
    char addr[32];
    rk_rserver_t *s = start(&checks, addr, sizeof addr);
    rk_rclient_t *c;
    cr_assert_eq(rk_rclient_new(&c), 0);
    atomic_store(&ran, 0);
    for (int code = 2000; code <= 2001; code++) {
        rk_cmd_t *r = call(c, addr, code, "mallory");
        cr_expect_eq(r->code, RK_RESP_NO_PERMISSION);
        char want[64];
        snprintf(want, sizeof want, "code %d: mallory may not", code);
        cr_expect_str_eq(r->remark, want);
        rk_cmd_free(r);
        r = call(c, addr, code, "alice");
        cr_expect_eq(r->code, RK_RESP_SUCCESS);
        cr_expect_str_eq(r->remark, "alice");
        rk_cmd_free(r);
    }
    cr_expect_eq(atomic_load(&ran), 2, "the processors ran for alice only");
    /* a code without a processor is not checked: it is not supported */
    int before = atomic_load(&checks);
    rk_cmd_t *r = call(c, addr, 2999, "mallory");
    cr_expect_eq(r->code, RK_RESP_REQUEST_CODE_NOT_SUPPORTED);
    cr_expect_eq(atomic_load(&checks), before);
    rk_cmd_free(r);
    rk_rclient_free(c);
    rk_rserver_free(s);
}

Test(rpc_hooks, the_client_hook_touches_every_request_and_may_fail_it)
{
    _Atomic int checks = 0, hooked = 0;
    char addr[32];
    rk_rserver_t *s = start(&checks, addr, sizeof addr);
    rk_rclient_t *c;
    cr_assert_eq(rk_rclient_new(&c), 0);
    rk_rclient_set_before_request(c, add_alice, &hooked);
    rk_cmd_t *r = call(c, addr, 2000, "mallory");      /* the hook rewrites "who" */
    cr_expect_eq(r->code, RK_RESP_SUCCESS, "%s", r->remark ? r->remark : "");
    rk_cmd_free(r);
    r = call(c, addr, 2001, NULL);
    cr_expect_eq(r->code, RK_RESP_SUCCESS);
    rk_cmd_free(r);
    cr_expect_eq(atomic_load(&hooked), 2);
    /* oneway requests go through it too */
    cr_expect_eq(rk_rclient_invoke_oneway(c, addr, rk_cmd_new(2000)), 0);
    cr_expect_eq(atomic_load(&hooked), 3);
    rk_rclient_set_before_request(c, refuse_all, NULL);
    rk_cmd_t *resp = NULL;
    cr_expect_eq(rk_rclient_invoke_sync(c, addr, rk_cmd_new(2000), 3000, &resp), RK_EPERM);
    cr_expect_null(resp);
    rk_rclient_free(c);
    rk_rserver_free(s);
}
