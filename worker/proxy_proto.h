/*
 * proxy_proto.h - the HAProxy PROXY protocol, versions 1 (text) and 2
 * (binary), as bytes in, addresses out: no sockets, so the listener code
 * that reads the header and a fuzzer can both drive it alone. Spec:
 * https://www.haproxy.org/download/2.8/doc/proxy-protocol.txt
 *
 * What is accepted (anything else is refused with a reason):
 *  - v1: "PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n" with single
 *    spaces, addresses in their family's inet_pton form, ports 0-65535 in
 *    at most five decimal digits, the whole line at most 107 bytes with
 *    its CRLF (spec §2.1); "PROXY UNKNOWN" followed by anything up to the
 *    first CRLF means "keep the socket's addresses".
 *  - v2: the 12-byte signature, version 2, command LOCAL (the family byte
 *    and the address block are ignored, spec §2.2) or PROXY with TCP over
 *    IPv4 or IPv6. PROXY with family UNSPEC (0x00) or UNIX stream (0x31)
 *    is taken as LOCAL: there is no IP address to substitute. UDP and
 *    every undefined family/transport byte are refused. The address block
 *    must be as long as its family needs, and the TLVs after it must tile
 *    the rest of the header; their contents are ignored.
 *
 * Limit: a v2 header's length field may say up to 65535, but we accept
 * at most HN_PROXY_V2_MAX_LEN (4096) bytes after the 16-byte fixed part.
 * An address block is at most 216 bytes; the rest is TLVs (ALPN,
 * authority, SSL details), which real proxies keep well under 1 KiB. So a
 * reader never needs more than HN_PROXY_MAX bytes.
 */
#ifndef HN_WORKER_PROXY_PROTO_H
#define HN_WORKER_PROXY_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#define HN_PROXY_V1_MAX 107      /* the longest v1 line, CRLF included */
#define HN_PROXY_V2_MAX_LEN 4096 /* the largest v2 length field we accept */
#define HN_PROXY_MAX (16 + HN_PROXY_V2_MAX_LEN)

typedef struct hn_proxy_info {
    bool is_local; /* v2 LOCAL (or UNSPEC/UNIX) or v1 UNKNOWN: keep the socket's own addresses */
    struct sockaddr_storage src, dst; /* the client's and the proxy's listener address */
    socklen_t src_len, dst_len;       /* 0 when is_local */
} hn_proxy_info_t;

/* Parse a PROXY header at the start of data (len bytes available; data
 * borrowed for the call). Returns the header's length (> 0) when it is
 * complete and valid (info filled), 0 when more bytes are needed (never
 * more than HN_PROXY_MAX in all), or -1 when the bytes are not a valid
 * PROXY header (*why, a static string, says what, for the log). Feeding
 * any prefix of an input gives 0 or the same answer as the whole input. */
ssize_t hn_proxy_parse(const char *data, size_t len, hn_proxy_info_t *info, const char **why);

/* For a reader that must not consume bytes past the header (TLS or HTTP
 * bytes follow it): the header's total length once it can be known (v2:
 * from the first 16 bytes; v1: once the CRLF is within data), 0 if not
 * yet known, -1 if the bytes cannot start a PROXY header. A positive
 * answer is at most HN_PROXY_MAX; the header may still be invalid, which
 * hn_proxy_parse tells once that many bytes are in. */
ssize_t hn_proxy_needed(const char *data, size_t len);

#endif
