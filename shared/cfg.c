/*
 * cfg.c - hn_config_t's life: defaults from the option table, the walk over
 * a YAML file, single keys from the CLI, cross-field resolution, --help and
 * --dump-config. The keys are cfg_options.c's, the parsers cfg_types.c's,
 * the YAML tree cfg_yaml.c's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/cfg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cfg_internal.h"
#include "shared/cfg_yaml.h"
#include "shared/mem.h"

/* hn_cfg_new hands out the public part of this box; the rest is state that
 * only matters while the config is being built. */
typedef struct cfg_box {
    hn_config_t pub;
    /* bit i: list option i was already set through hn_cfg_set, so the next
     * hn_cfg_set appends instead of replacing the file's list */
    uint64_t set_lists[(HN_CFG_MAX_OPTIONS + 63) / 64];
    /* where the file set option i (line 0: a default or a flag), so that
     * hn_cfg_finish's cross-key errors can point at it */
    struct {
        unsigned line, column;
    } pos[HN_CFG_MAX_OPTIONS];
} cfg_box_t;

/* Every error of one load or finish: each a line of err->msg, so that one
 * run shows them all instead of one per run. */
typedef struct cfg_errs {
    hn_err_t *err;
    unsigned found, shown;
    size_t len; /* of err->msg */
} cfg_errs_t;

static void errs_add(cfg_errs_t *e, const char *fmt, ...) HN_PRINTF(2, 3);
static void key_error(const hn_config_t *cfg, cfg_errs_t *errs, const char *key, const char *fmt,
                      ...) HN_PRINTF(4, 5);
static int errs_end(cfg_errs_t *e, const char *file);
static void walk_mapping(hn_config_t *cfg, const hn_cfg_yaml_node_t *root, const char *file,
                         const char *section, cfg_errs_t *errs);
static void print_default(const hn_cfg_option_t *opt, FILE *out);
static bool is_listener(const hn_config_t *cfg, const hn_addr_t *a);
static void check_proxy_protocol_bind(const hn_config_t *cfg, cfg_errs_t *errs);
static void check_tls(const hn_config_t *cfg, cfg_errs_t *errs);
static void check_stall(hn_config_t *cfg, cfg_errs_t *errs);

hn_config_t *
hn_cfg_new(void)
{
    cfg_box_t *box = hn_xcalloc(1, sizeof(*box));
    hn_cfg_where_t where = {.origin = "default"};
    hn_err_t err;

    for (size_t i = 0; i < hn_cfg_options_count; i++) {
        const hn_cfg_option_t *opt = &hn_cfg_options_table[i];
        /* Defaults go through the user's parser; a row that fails it is a bug. */
        if (hn_cfg_types_set_text(&box->pub, opt, opt->def, false, &where, &err) != HN_OK) {
            fprintf(stderr, "hornet: bad default for %s: %s\n", opt->name, err.msg);
            abort();
        }
    }
    return &box->pub;
}

void
hn_cfg_free(hn_config_t *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < hn_cfg_options_count; i++)
        hn_cfg_types_clear(cfg, &hn_cfg_options_table[i]);
    free(cfg->file);
    free(HN_CONTAINER_OF(cfg, cfg_box_t, pub));
}

int
hn_cfg_load_file(hn_config_t *cfg, const char *path, hn_err_t *err)
{
    FILE *f = fopen(path, "r");
    struct stat st;
    hn_cfg_yaml_node_t *root;
    hn_err_t local;
    cfg_errs_t errs = {.err = err ? err : &local};
    int rc;

    if (f == NULL) {
        hn_err_set(err, errno, "%s: cannot open: %s", path, strerror(errno));
        return HN_ERR;
    }
    /* fopen accepts a directory; the read would fail later with less clear words. */
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        hn_err_set(err, EISDIR, "%s: cannot open: %s", path, strerror(EISDIR));
        fclose(f);
        return HN_ERR;
    }
    root = hn_cfg_yaml_parse_file(f, path, err);
    fclose(f);
    if (root == NULL)
        return HN_ERR;
    walk_mapping(cfg, root, path, NULL, &errs);
    hn_cfg_yaml_free(root);
    rc = errs_end(&errs, path);
    if (rc == HN_OK) {
        free(cfg->file);
        cfg->file = hn_xstrdup(path);
    }
    return rc;
}

int
hn_cfg_set(hn_config_t *cfg, const char *key, const char *value, const char *origin, hn_err_t *err)
{
    cfg_box_t *box = HN_CONTAINER_OF(cfg, cfg_box_t, pub);
    const hn_cfg_option_t *opt = hn_cfg_options_find(key);
    hn_cfg_where_t where = {.origin = origin};
    size_t i;
    uint64_t bit;
    bool append;

    if (opt == NULL) {
        const char *near = hn_cfg_options_suggest(key);
        hn_err_set(err, 0, "%s%sunknown key \"%s\"%s%s%s", origin ? origin : "", origin ? ": " : "",
                   key, near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
        return HN_ERR;
    }
    i = (size_t)(opt - hn_cfg_options_table);
    bit = (uint64_t)1 << (i % 64);
    append = hn_cfg_types_is_list(opt->type) && (box->set_lists[i / 64] & bit);
    if (hn_cfg_types_set_text(cfg, opt, value, append, &where, err) != HN_OK)
        return HN_ERR;
    box->set_lists[i / 64] |= bit;
    box->pos[i].line = 0; /* not the file's value any more */
    return HN_OK;
}

/* systemd socket activation: with no bind configured, the sockets systemd
 * passed (LISTEN_FDS, for this very process: LISTEN_PID) are the listeners,
 * fd://3 onwards. Returns how many, or -1 on error. */
static int
systemd_sockets(hn_config_t *cfg, hn_err_t *err)
{
    const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
    if (fds == NULL || pid == NULL || atol(pid) != (long)getpid())
        return 0;
    long n = atol(fds);
    for (long i = 0; i < n && i < 64; i++) {
        char spec[32];
        snprintf(spec, sizeof(spec), "fd://%ld", 3 + i);
        if (hn_cfg_set(cfg, "bind", spec, "LISTEN_FDS", err) != HN_OK)
            return -1;
    }
    return (int)n;
}

/* Is a one of the listeners, bind or insecure_bind? */
static bool
is_listener(const hn_config_t *cfg, const hn_addr_t *a)
{
    for (size_t i = 0; i < cfg->n_bind; i++)
        if (hn_addr_equal(&cfg->bind[i], a))
            return true;
    for (size_t i = 0; i < cfg->n_insecure_bind; i++)
        if (hn_addr_equal(&cfg->insecure_bind[i], a))
            return true;
    return false;
}

/* A cross-key error about key: at the key's place in the file when the
 * file set it, else as "KEY: ..." (a flag or a default set it). */
static void
key_error(const hn_config_t *cfg, cfg_errs_t *errs, const char *key, const char *fmt, ...)
{
    const cfg_box_t *box = HN_CONTAINER_OF(cfg, const cfg_box_t, pub);
    size_t i = (size_t)(hn_cfg_options_find(key) - hn_cfg_options_table);
    char what[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (cfg->file && box->pos[i].line)
        errs_add(errs, "%s:%u:%u: %s: %s", cfg->file, box->pos[i].line, box->pos[i].column, key,
                 what);
    else
        errs_add(errs, "%s: %s", key, what);
}

/* proxy_protocol_bind picks listeners, so an entry that is none of them
 * would silently leave a load balancer's port without PROXY parsing (every
 * connection closed, or its header taken for a request). Run after the
 * default bind is in place: "proxy_protocol_bind: 127.0.0.1:8000" alone is
 * a listener. */
static void
check_proxy_protocol_bind(const hn_config_t *cfg, cfg_errs_t *errs)
{
    char listeners[320];
    size_t len = 0;

    if (cfg->n_proxy_protocol_bind == 0)
        return;
    if (cfg->proxy_protocol) {
        key_error(cfg, errs, "proxy_protocol_bind",
                  "expected nothing beside proxy_protocol: true, which already covers every "
                  "listener, got \"%s\"",
                  cfg->proxy_protocol_bind[0].text);
        return;
    }
    listeners[0] = '\0';
    for (size_t i = 0; i < cfg->n_bind + cfg->n_insecure_bind && len < sizeof(listeners); i++) {
        const hn_addr_t *l = i < cfg->n_bind ? &cfg->bind[i] : &cfg->insecure_bind[i - cfg->n_bind];
        len += (size_t)snprintf(listeners + len, sizeof(listeners) - len, "%s%s", i ? ", " : "",
                                l->text);
    }
    for (size_t i = 0; i < cfg->n_proxy_protocol_bind; i++) {
        if (is_listener(cfg, &cfg->proxy_protocol_bind[i]))
            continue;
        key_error(cfg, errs, "proxy_protocol_bind",
                  "expected an address of bind or insecure_bind (%s), got \"%s\"", listeners,
                  cfg->proxy_protocol_bind[i].text);
        return;
    }
}

/* The TLS keys that mean nothing alone. tls_ctx.c loads the files; these
 * need no file, so they are found here, with the key's place. */
static void
check_tls(const hn_config_t *cfg, cfg_errs_t *errs)
{
    if (cfg->certfile == NULL) {
        if (cfg->keyfile)
            key_error(cfg, errs, "keyfile", "expected certfile as well (keyfile is set but "
                      "certfile is not)");
        if (cfg->ca_certs)
            key_error(cfg, errs, "ca_certs", "expected certfile as well (ca_certs is set but "
                      "certfile is not)");
        return;
    }
    if (cfg->verify_mode != HN_CFG_VERIFY_NONE && cfg->ca_certs == NULL)
        key_error(cfg, errs, "verify_mode", "%s needs ca_certs to check client certificates "
                  "against", cfg->verify_mode == HN_CFG_VERIFY_REQUIRED ? "required" : "optional");
}

/* Did the file or a flag give key, rather than its default? */
static bool
is_set(const hn_config_t *cfg, const char *key)
{
    const cfg_box_t *box = HN_CONTAINER_OF(cfg, const cfg_box_t, pub);
    size_t i = (size_t)(hn_cfg_options_find(key) - hn_cfg_options_table);
    return box->pos[i].line != 0 || (box->set_lists[i / 64] & ((uint64_t)1 << (i % 64)));
}

/* worker_stall_timeout takes a stuck worker's sockets away before
 * worker_timeout kills it; at or past worker_timeout there is nothing left
 * to do first. An operator who wrote both gets an error; the default gives
 * way to a worker_timeout at or below it (or turned off), so that setting
 * worker_timeout alone keeps the watchdog it always meant. */
static void
check_stall(hn_config_t *cfg, cfg_errs_t *errs)
{
    if (cfg->worker_stall_timeout <= 0)
        return;
    if (cfg->worker_timeout > 0 && cfg->worker_stall_timeout < cfg->worker_timeout)
        return;
    if (!is_set(cfg, "worker_stall_timeout")) {
        cfg->worker_stall_timeout = 0;
        return;
    }
    if (cfg->worker_timeout > 0)
        key_error(cfg, errs, "worker_stall_timeout",
                  "expected less than worker_timeout (%gs), got %gs", cfg->worker_timeout,
                  cfg->worker_stall_timeout);
}

bool
hn_cfg_has_proxy_protocol(const hn_config_t *cfg, const hn_addr_t *listener)
{
    if (cfg->proxy_protocol)
        return true;
    for (size_t i = 0; i < cfg->n_proxy_protocol_bind; i++)
        if (hn_addr_equal(&cfg->proxy_protocol_bind[i], listener))
            return true;
    return false;
}

int
hn_cfg_finish(hn_config_t *cfg, hn_err_t *err)
{
    hn_err_t local;
    cfg_errs_t errs = {.err = err ? err : &local};

    if (cfg->n_bind == 0 && cfg->n_insecure_bind == 0 && systemd_sockets(cfg, err) < 0)
        return HN_ERR;
    if (cfg->n_bind == 0 && cfg->n_insecure_bind == 0) {
        /* Hypercorn's default; local only, so an unconfigured server is not public. */
        hn_cfg_where_t where = {.origin = "bind"};
        if (hn_cfg_types_set_text(cfg, hn_cfg_options_find("bind"), "127.0.0.1:8000", false, &where,
                                  err) != HN_OK)
            return HN_ERR;
    }
    if (cfg->n_alpn_protocols == 0) {
        /* Hypercorn's default; an empty list is the default, as for bind */
        hn_cfg_where_t where = {.origin = "alpn_protocols"};
        const hn_cfg_option_t *opt = hn_cfg_options_find("alpn_protocols");
        if (hn_cfg_types_set_text(cfg, opt, "h2", false, &where, err) != HN_OK ||
            hn_cfg_types_set_text(cfg, opt, "http/1.1", true, &where, err) != HN_OK)
            return HN_ERR;
    }
    cfg->alpn_h2 = false;
    for (size_t i = 0; i < cfg->n_alpn_protocols; i++)
        cfg->alpn_h2 |= strcmp(cfg->alpn_protocols[i], "h2") == 0;
    check_proxy_protocol_bind(cfg, &errs);
    check_tls(cfg, &errs);
    check_stall(cfg, &errs);
    if (errs_end(&errs, cfg->file) != HN_OK)
        return HN_ERR;
    if (cfg->workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->workers = (int)(n < 1 ? 1 : n > HN_CFG_MAX_WORKERS ? HN_CFG_MAX_WORKERS : n);
    }
    return HN_OK;
}

void
hn_cfg_print_help(FILE *out)
{
    char what[160];

    fputs("Configuration keys (YAML file given with -c; a flag sets the same key):\n", out);
    for (size_t i = 0; i < hn_cfg_options_count; i++) {
        const hn_cfg_option_t *opt = &hn_cfg_options_table[i];

        fprintf(out, "\n  %s: ", opt->name);
        print_default(opt, out);
        if (opt->cli && opt->cli_short)
            fprintf(out, "    (-%c, --%s)", opt->cli_short, opt->cli);
        else if (opt->cli)
            fprintf(out, "    (--%s)", opt->cli);
        fprintf(out, "\n      %s\n", opt->doc);
        fprintf(out, "      %s: %s%s\n", hn_cfg_types_name(opt->type),
                hn_cfg_types_describe(opt, what, sizeof(what)),
                (opt->flags & HN_CFG_OPTIONAL) ? "; ~ leaves it unset" : "");
        if (opt->flags & HN_CFG_RESTART)
            fputs("      a reload cannot change it: restart hornet\n", out);
    }
}

void
hn_cfg_dump(const hn_config_t *cfg, FILE *out)
{
    fputs("# hornet: effective configuration", out);
    if (cfg->file && strchr(cfg->file, '\n') == NULL)
        fprintf(out, " (from %s)", cfg->file);
    fputc('\n', out);
    for (size_t i = 0; i < hn_cfg_options_count; i++) {
        const hn_cfg_option_t *opt = &hn_cfg_options_table[i];
        /* only here: hn_cfg_option_differs compares the real dumps */
        if ((opt->flags & HN_CFG_SECRET) &&
            *(char *const *)(const void *)((const char *)cfg + opt->offset)) {
            fprintf(out, "%s: \"********\"\n", opt->name);
            continue;
        }
        fprintf(out, "%s:", opt->name);
        hn_cfg_types_dump(cfg, opt, out);
    }
}

const char *
hn_cfg_option_name(size_t i)
{
    return i < hn_cfg_options_count ? hn_cfg_options_table[i].name : NULL;
}

bool
hn_cfg_option_flag(size_t i, hn_cfg_flag_t *flag)
{
    const hn_cfg_option_t *opt;

    if (i >= hn_cfg_options_count)
        return false;
    opt = &hn_cfg_options_table[i];
    flag->key = opt->name;
    flag->long_name = opt->cli;
    flag->short_name = opt->cli_short;
    flag->metavar = opt->metavar ? opt->metavar : "VALUE";
    flag->doc = opt->doc;
    flag->is_list = hn_cfg_types_is_list(opt->type);
    return true;
}

bool
hn_cfg_option_differs(const hn_config_t *a, const hn_config_t *b, size_t i)
{
    char *ta = NULL, *tb = NULL;
    size_t la = 0, lb = 0;
    FILE *fa, *fb;
    bool differs;

    if (i >= hn_cfg_options_count)
        return false;
    /* The dump is the canonical text of a value, and reload is rare: compare
     * that instead of teaching every type an equality. */
    fa = open_memstream(&ta, &la);
    fb = open_memstream(&tb, &lb);
    if (fa == NULL || fb == NULL)
        abort();
    hn_cfg_types_dump(a, &hn_cfg_options_table[i], fa);
    hn_cfg_types_dump(b, &hn_cfg_options_table[i], fb);
    fclose(fa);
    fclose(fb);
    differs = la != lb || memcmp(ta, tb, la) != 0;
    free(ta);
    free(tb);
    return differs;
}

bool
hn_cfg_option_needs_restart(size_t i)
{
    return i < hn_cfg_options_count && (hn_cfg_options_table[i].flags & HN_CFG_RESTART);
}

/* Is name the section of some key ("reload" for "reload.paths")? */
static bool
is_section(const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < hn_cfg_options_count; i++)
        if (strncmp(hn_cfg_options_table[i].name, name, len) == 0 &&
            hn_cfg_options_table[i].name[len] == '.')
            return true;
    return false;
}

/* The top-level mapping, or with section set ("reload") the mapping under
 * that key, whose keys are the "reload.*" rows. A bad key or value is
 * reported and skipped, so that the rest of the file is checked too. */
static void
walk_mapping(hn_config_t *cfg, const hn_cfg_yaml_node_t *root, const char *file,
             const char *section, cfg_errs_t *errs)
{
    cfg_box_t *box = HN_CONTAINER_OF(cfg, cfg_box_t, pub);

    for (size_t i = 0; i + 1 < root->n_items; i += 2) {
        const hn_cfg_yaml_node_t *key = root->items[i], *value = root->items[i + 1];
        const hn_cfg_option_t *opt;
        const char *why;
        hn_err_t one;
        bool dup = false;

        if (key->kind != HN_CFG_YAML_SCALAR) {
            errs_add(errs, "%s:%u:%u: expected a key, got %s", file, key->line, key->column,
                     hn_cfg_yaml_kind_name(key->kind));
            continue;
        }
        /* libyaml accepts repeated keys; the second would silently win. */
        for (size_t j = 0; j < i && !dup; j += 2) {
            const hn_cfg_yaml_node_t *prev = root->items[j];
            if (prev->kind == HN_CFG_YAML_SCALAR && strcmp(prev->text, key->text) == 0) {
                errs_add(errs, "%s:%u:%u: duplicate key \"%s\" (first set at line %u)", file,
                         key->line, key->column, key->text, prev->line);
                dup = true;
            }
        }
        if (dup)
            continue;
        char full[128];
        snprintf(full, sizeof(full), "%s%s%s", section ? section : "", section ? "." : "",
                 key->text);
        if (section == NULL && is_section(full)) {
            if (value->kind != HN_CFG_YAML_MAPPING)
                errs_add(errs, "%s:%u:%u: %s: expected a mapping of its keys (as in %s: {...}), "
                         "got %s", file, value->line, value->column, full, full,
                         hn_cfg_yaml_kind_name(value->kind));
            else
                walk_mapping(cfg, value, file, full, errs);
            continue;
        }
        opt = hn_cfg_options_find(full);
        if (opt == NULL && (why = hn_cfg_options_foreign(full)) != NULL) {
            errs_add(errs, "%s:%u:%u: %s: Hypercorn's key, not supported by hornet: %s", file,
                     key->line, key->column, full, why);
            continue;
        }
        if (opt == NULL) {
            const char *near = hn_cfg_options_suggest(full);
            errs_add(errs, "%s:%u:%u: unknown key \"%s\"%s%s%s", file, key->line, key->column,
                     full, near ? " (did you mean \"" : "", near ? near : "",
                     near ? "\"?)" : "");
            continue;
        }
        if (hn_cfg_types_set_node(cfg, opt, value, file, &one) != HN_OK) {
            errs_add(errs, "%s", one.msg);
            continue;
        }
        box->pos[opt - hn_cfg_options_table].line = key->line;
        box->pos[opt - hn_cfg_options_table].column = key->column;
    }
}

static void
errs_add(cfg_errs_t *e, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    int n;

    /* code 0: no one errno stands for several errors in a file */
    if (e->found++ == 0) {
        e->err->code = 0;
        e->err->msg[0] = '\0';
        e->len = 0;
    }
    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* past the cap, or the buffer (less room for errs_end's last line),
     * an error is only counted */
    if (e->shown == HN_CFG_MAX_ERRORS || n < 0 ||
        e->len + (size_t)n + 1 + 128 >= sizeof(e->err->msg))
        return;
    e->len += (size_t)snprintf(e->err->msg + e->len, sizeof(e->err->msg) - e->len, "%s%s",
                               e->shown ? "\n" : "", line);
    e->shown++;
}

/* HN_OK if nothing was found; else the line that counts what was not shown. */
static int
errs_end(cfg_errs_t *e, const char *file)
{
    if (e->found == 0)
        return HN_OK;
    if (e->found > e->shown)
        snprintf(e->err->msg + e->len, sizeof(e->err->msg) - e->len, "\n%s%sand %u more error%s",
                 file ? file : "", file ? ": " : "", e->found - e->shown,
                 e->found - e->shown == 1 ? "" : "s");
    return HN_ERR;
}

/* The default as a user would write it in hornet.yaml. */
static void
print_default(const hn_cfg_option_t *opt, FILE *out)
{
    if (opt->def == NULL)
        fputs(opt->type == HN_CFG_MOUNTS                                  ? "{}"
              : hn_cfg_types_is_list(opt->type) ? "[]"
                                                : "~",
              out);
    else if (opt->type == HN_CFG_STRING || opt->type == HN_CFG_PATH)
        fprintf(out, "'%s'", opt->def); /* no table default holds a quote */
    else
        fputs(opt->def, out);
}
