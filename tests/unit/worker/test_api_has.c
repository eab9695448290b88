/*
 * test_api_has.c - unit tests for HORNET_API_HAS (include/hornet/app.h)
 * against the server's own table (worker/bridge.c): every member it has is
 * present and non-NULL (what lets the macro go by the size alone), and
 * copies of it with a smaller size, as an older server would hand over,
 * lack the members their size stops before or inside.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <hornet/app.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "tests/unit/tap.h"
#include "worker/bridge.h"

typedef void (*fn_t)(void);

/* The server's table: the size of this header's, and every function pointer
 * in it set. The members after `size` are all function pointers, so the
 * table is read as an array of them: a member a newer header appends and
 * the server forgets to fill is found without listing it here. */
static void
test_server_table(void)
{
    const hornet_api_t *api = hn_bridge_api();
    size_t first = offsetof(hornet_api_t, response_start), off, nulls = 0;

    is_int(api->abi_version, HORNET_ABI_VERSION, "the table's abi_version");
    is_int(api->size, sizeof(hornet_api_t), "the table's size is sizeof(hornet_api_t)");
    ok(HORNET_API_HAS(api, abi_version) && HORNET_API_HAS(api, size),
       "abi_version and size are always there");
    ok(HORNET_API_HAS(api, response_start), "has response_start (the first function)");
    ok(HORNET_API_HAS(api, lifespan_get_state), "has lifespan_get_state");
    ok(HORNET_API_HAS(api, websocket_close_code), "has websocket_close_code (first appended)");
    ok(HORNET_API_HAS(api, read_pause), "has read_pause");
    ok(HORNET_API_HAS(api, response_informational), "has response_informational (the last)");

    is_int((sizeof(hornet_api_t) - first) % sizeof(fn_t), 0,
           "after size, the table is function pointers only");
    for (off = first; off + sizeof(fn_t) <= api->size; off += sizeof(fn_t)) {
        fn_t f;
        memcpy(&f, (const char *)api + off, sizeof(f));
        if (f == NULL) {
            printf("# NULL function pointer at offset %zu\n", off);
            nulls++;
        }
    }
    is_int(nulls, 0, "the server fills every member of its table");
}

/* Copies of the server's table cut to the size of an older server's. */
static void
test_shorter_tables(void)
{
    hornet_api_t t = *hn_bridge_api();
    const hornet_api_t *api = &t;

    /* A server from before read_pause: its size stops where read_pause begins. */
    t.size = (uint32_t)offsetof(hornet_api_t, read_pause);
    ok(!HORNET_API_HAS(api, read_pause), "size at the start of read_pause: no read_pause");
    ok(!HORNET_API_HAS(api, response_informational), "... nor any member after it");
    ok(HORNET_API_HAS(api, abort), "... but abort, just before it");
    ok(HORNET_API_HAS(api, response_start), "... and the first function");

    /* A size that ends inside the member does not count as having it. */
    t.size = (uint32_t)(offsetof(hornet_api_t, read_pause) + sizeof(t.read_pause) - 1);
    ok(!HORNET_API_HAS(api, read_pause), "size one byte short of read_pause's end: no");
    t.size = (uint32_t)(offsetof(hornet_api_t, read_pause) + sizeof(t.read_pause));
    ok(HORNET_API_HAS(api, read_pause), "size exactly at read_pause's end: yes");
    ok(!HORNET_API_HAS(api, response_informational), "... but not the member after it");

    /* The table before anything was appended. */
    t.size = (uint32_t)offsetof(hornet_api_t, websocket_close_code);
    ok(!HORNET_API_HAS(api, websocket_close_code), "first table: no websocket_close_code");
    ok(HORNET_API_HAS(api, lifespan_get_state), "first table: lifespan_get_state");

    /* Only the two header fields. */
    t.size = (uint32_t)offsetof(hornet_api_t, response_start);
    ok(!HORNET_API_HAS(api, response_start), "header only: no response_start");
    ok(HORNET_API_HAS(api, size), "header only: size");

    t.size = (uint32_t)sizeof(hornet_api_t) - 1;
    ok(!HORNET_API_HAS(api, response_informational), "sizeof - 1: not the last member");
    ok(HORNET_API_HAS(api, read_pause), "sizeof - 1: the one before it");

    /* A bigger table (a newer server) has everything this header knows. */
    t.size = (uint32_t)sizeof(hornet_api_t) + 64;
    ok(HORNET_API_HAS(api, response_informational), "a newer server's larger table: yes");
}

/* The documented choices: the size alone decides (no NULL test), and the
 * table pointer is evaluated once. */
static void
test_macro_properties(void)
{
    hornet_api_t tables[2];
    const hornet_api_t *p = tables;

    tables[0] = *hn_bridge_api();
    tables[1] = tables[0];
    tables[0].read_pause = NULL;
    ok(HORNET_API_HAS(&tables[0], read_pause), "a NULL member within size still counts");

    tables[1].size = (uint32_t)offsetof(hornet_api_t, read_pause);
    ok(HORNET_API_HAS(p++, read_pause), "api evaluated: the first table");
    ok(p == &tables[1], "api evaluated once");
    ok(!HORNET_API_HAS(p++, read_pause), "api evaluated: the second table");
    ok(p == &tables[2], "api evaluated once, again");
}

int
main(void)
{
    test_server_table();
    test_shorter_tables();
    test_macro_properties();
    return tap_done();
}
