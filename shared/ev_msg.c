/*
 * ev_msg.c - see ev_msg.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "shared/ev_msg.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int
hn_ev_segments(const json_t *arr, const char **seg, size_t cap, size_t *n)
{
    if (!json_is_array(arr) || json_array_size(arr) > cap)
        return HN_ERR;
    size_t i;
    json_t *v;
    json_array_foreach (arr, i, v) {
        if (!json_is_string(v))
            return HN_ERR;
        seg[i] = json_string_value(v);
        /* a NUL inside a segment would match a shorter one */
        if (strlen(seg[i]) != json_string_length(v))
            return HN_ERR;
    }
    *n = json_array_size(arr);
    return HN_OK;
}

void
hn_ev_addr_make(hn_ev_addr_t *a, long master_pid, unsigned long nonce)
{
    memset(a, 0, sizeof(*a));
    a->sun.sun_family = AF_UNIX;
    /* abstract: sun_path[0] is NUL and the name is the bytes after it */
    int n = snprintf(a->sun.sun_path + 1, sizeof(a->sun.sun_path) - 1, "hornet-events.%ld.%lx",
                     master_pid, nonce);
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

double
hn_ev_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
