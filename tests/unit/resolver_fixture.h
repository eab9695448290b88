/*
 * resolver_fixture.h - a getaddrinfo that never leaves the process, for unit
 * tests and fuzz targets. Linking tests/unit/resolver_fixture.c into an
 * executable replaces getaddrinfo for every caller in it, libhornet.a
 * included: numeric hosts are parsed by the C library, names come from a
 * hosts table the test controls, and nothing reads /etc/hosts or asks DNS
 * (resolver_fixture.c says how and why).
 *
 * The table starts as Debian's /etc/hosts loopback lines:
 *
 *   127.0.0.1 localhost
 *   ::1       localhost ip6-localhost ip6-loopback
 *
 * A name's addresses come back in table order (no RFC 6724 sorting), so
 * "localhost" with AF_UNSPEC is 127.0.0.1 first, then ::1.
 */
#ifndef HN_TESTS_UNIT_RESOLVER_FIXTURE_H
#define HN_TESTS_UNIT_RESOLVER_FIXTURE_H

/* What the fixture's getaddrinfo answered, by kind of host. */
typedef struct hn_resolver_fixture_counts {
    unsigned numeric; /* numeric hosts, no host, or AI_NUMERICHOST from the caller */
    unsigned names;   /* names found in the table */
    unsigned unknown; /* names not in it, or without an address of the family asked */
} hn_resolver_fixture_counts_t;

/* Replace the hosts table with text in /etc/hosts format: "ADDRESS NAME
 * [ALIAS...]" lines, '#' starting a comment, names matched without regard to
 * case. NULL restores the default table. Returns HN_OK, or HN_ERR with the
 * table unchanged when an address is not numeric, a line has an address but
 * no name, or the text is larger than the fixed-size table. Borrows text. */
int hn_resolver_fixture_set_hosts(const char *text);

/* The counts since the previous call (or the start), which then restart at
 * zero, so a test can assert what one step looked up. */
hn_resolver_fixture_counts_t hn_resolver_fixture_take_counts(void);

#endif
