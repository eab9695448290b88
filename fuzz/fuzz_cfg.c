/*
 * fuzz_cfg.c - the configuration loader (shared/cfg*.c) on arbitrary bytes.
 *
 * The loader's only entry for a document is hn_cfg_load_file(path): the walk
 * from the YAML tree to the option table is static in cfg.c, and
 * hn_cfg_yaml_parse_string would stop at the tree. So the input is written
 * to a memfd and loaded through /proc/self/fd/N, the path `hornet -c FILE`
 * takes: fopen, libyaml events, the node tree, the walk, every typed setter
 * of cfg_types.c and units.c. Then what the command line does after a file:
 * hn_cfg_finish, and what a reload does with a new config: compare it with
 * the running one key by key (hn_cfg_option_differs; here against the
 * defaults).
 *
 * Errors are fine; a crash, a leak, a hang or a broken invariant is not. The
 * invariant checked: a config that loaded dumps (--dump-config) as YAML that
 * loads again and dumps the same. A difference aborts with both dumps on
 * stderr.
 *
 * With HN_FUZZ_VERBOSE set in the environment, the error (or the dump) is
 * written to stderr, for triage.
 *
 * fd://N binds are checked against the process's descriptors: descriptor
 * FUZZ_FD (200) is a stream socket, so "fd://200" is valid and others are
 * not, the same for every run.
 *
 * bind and insecure_bind values may name hosts. Both builds link
 * tests/unit/resolver_fixture.c, whose getaddrinfo resolves numeric
 * addresses and the names of its default hosts table (localhost) only, so no
 * input sends a DNS query (slow, and not the same answer twice); any other
 * name fails as an unknown host does.
 */
#include "fuzz/fuzz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/cfg.h"

#define HN_FUZZ_STR(x) HN_FUZZ_STR_(x)
#define HN_FUZZ_STR_(x) #x

#define FUZZ_FD 200

static int memfd = -1;
static hn_config_t *defaults;
static char memfd_path[64];

/* Replace the memfd's contents with data. */
static void
put_file(const void *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("hornet-fuzz-cfg", MFD_CLOEXEC);
        if (memfd < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
        int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (sock < 0 || dup2(sock, FUZZ_FD) != FUZZ_FD) {
            perror("fuzz_cfg: a socket at descriptor " HN_FUZZ_STR(FUZZ_FD));
            abort();
        }
        close(sock);
        defaults = hn_cfg_new();
    }
    if (ftruncate(memfd, 0) != 0 || (size && pwrite(memfd, data, size, 0) != (ssize_t)size)) {
        perror("memfd write");
        abort();
    }
}

/* Load what the memfd holds as `hornet -c` would; NULL on a config error,
 * described in err. */
static hn_config_t *
load(hn_err_t *err)
{
    hn_config_t *cfg = hn_cfg_new();

    err->msg[0] = '\0';
    if (hn_cfg_load_file(cfg, memfd_path, err) != HN_OK || hn_cfg_finish(cfg, err) != HN_OK) {
        /* every error has words: an empty message would leave a user guessing */
        if (err->msg[0] == '\0') {
            fprintf(stderr, "fuzz_cfg: a config error without a message\n");
            abort();
        }
        hn_cfg_free(cfg);
        return NULL;
    }
    return cfg;
}

/* --dump-config, without its first line (a comment naming the file). */
static char *
dump(const hn_config_t *cfg, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);

    if (f == NULL)
        abort();
    hn_cfg_dump(cfg, f);
    fclose(f);
    char *nl = memchr(text, '\n', n);
    size_t skip = nl ? (size_t)(nl + 1 - text) : 0;
    memmove(text, text + skip, n - skip + 1);
    *len = n - skip;
    return text;
}

int
HN_FUZZ_ENTRY(cfg)(const uint8_t *data, size_t size)
{
    hn_err_t err;

    put_file(data, size);
    hn_config_t *cfg = load(&err);
    if (cfg == NULL) {
        if (getenv("HN_FUZZ_VERBOSE"))
            fprintf(stderr, "fuzz_cfg: %s\n", err.msg);
        return 0;
    }

    size_t len1, len2;
    for (size_t i = 0; hn_cfg_option_name(i) != NULL; i++)
        if (hn_cfg_option_differs(defaults, cfg, i))
            (void)hn_cfg_option_needs_restart(i);
    char *first = dump(cfg, &len1);
    hn_cfg_free(cfg);

    put_file(first, len1);
    cfg = load(&err);
    if (cfg == NULL) {
        fprintf(stderr, "fuzz_cfg: the dump of a valid config does not load (%s):\n%s", err.msg,
                first);
        abort();
    }
    char *second = dump(cfg, &len2);
    hn_cfg_free(cfg);
    if (len1 != len2 || memcmp(first, second, len1) != 0) {
        fprintf(stderr, "fuzz_cfg: dump, load, dump differs:\n--- first\n%s--- second\n%s", first,
                second);
        abort();
    }
    if (getenv("HN_FUZZ_VERBOSE"))
        fprintf(stderr, "%s", first);
    free(first);
    free(second);
    return 0;
}
