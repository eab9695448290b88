/*
 * fuzz_proxy.c - the PROXY protocol parser (worker/proxy_proto.c): bytes in,
 * a header length and addresses out. Checks what a socket reader relies
 * on: hn_proxy_needed and hn_proxy_parse agree on the header's length, no
 * prefix of a header is taken for a whole one, a refusal says why, and the
 * addresses handed out are of the family and size they claim.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz/fuzz.h"
#include "worker/proxy_proto.h"

int
HN_FUZZ_ENTRY(proxy)(const uint8_t *data, size_t size)
{
    const char *d = (const char *)data;
    hn_proxy_info_t info;
    const char *why = NULL;
    ssize_t n = hn_proxy_parse(d, size, &info, &why);
    ssize_t need = hn_proxy_needed(d, size);
    if (n < 0 && why == NULL)
        abort(); /* a refusal names its reason, for the log */
    if (n > 0) {
        if (need != n || (size_t)n > size || (size_t)n > HN_PROXY_MAX)
            abort(); /* the reader takes exactly the header, no byte past it */
        hn_proxy_info_t again;
        const char *w = NULL;
        /* every prefix is "more, please", never another answer */
        for (size_t cut = 0; cut < (size_t)n; cut += 1 + (size_t)n / 16)
            if (hn_proxy_parse(d, cut, &again, &w) != 0 || hn_proxy_needed(d, cut) < 0)
                abort();
        if (!info.is_local) {
            int fam = info.src.ss_family;
            if ((fam != AF_INET && fam != AF_INET6) || info.dst.ss_family != fam)
                abort();
            socklen_t want = fam == AF_INET ? sizeof(struct sockaddr_in)
                                            : sizeof(struct sockaddr_in6);
            if (info.src_len != want || info.dst_len != want)
                abort();
        }
    }
    if (n == 0 && need < 0)
        abort(); /* "more, please" and "never a header" at once */
    return 0;
}
