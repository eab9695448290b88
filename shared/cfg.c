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
} cfg_box_t;

static int walk_mapping(hn_config_t *cfg, const hn_cfg_yaml_node_t *root, const char *file,
                        const char *section, hn_err_t *err);
static void print_default(const hn_cfg_option_t *opt, FILE *out);
static bool is_listener(const hn_config_t *cfg, const hn_addr_t *a);
static int check_proxy_protocol_bind(const hn_config_t *cfg, hn_err_t *err);

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
    rc = walk_mapping(cfg, root, path, NULL, err);
    hn_cfg_yaml_free(root);
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

/* proxy_protocol_bind picks listeners, so an entry that is none of them
 * would silently leave a load balancer's port without PROXY parsing (every
 * connection closed, or its header taken for a request). Run after the
 * default bind is in place: "proxy_protocol_bind: 127.0.0.1:8000" alone is
 * a listener. The entries carry no line, so the errors name the key. */
static int
check_proxy_protocol_bind(const hn_config_t *cfg, hn_err_t *err)
{
    char listeners[320];
    size_t len = 0;

    if (cfg->n_proxy_protocol_bind == 0)
        return HN_OK;
    if (cfg->proxy_protocol) {
        hn_err_set(err, 0, "proxy_protocol_bind: expected nothing beside proxy_protocol: true, "
                   "which already covers every listener, got \"%s\"",
                   cfg->proxy_protocol_bind[0].text);
        return HN_ERR;
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
        hn_err_set(err, 0, "proxy_protocol_bind: expected an address of bind or insecure_bind "
                   "(%s), got \"%s\"", listeners, cfg->proxy_protocol_bind[i].text);
        return HN_ERR;
    }
    return HN_OK;
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
    if (cfg->n_bind == 0 && cfg->n_insecure_bind == 0 && systemd_sockets(cfg, err) < 0)
        return HN_ERR;
    if (cfg->n_bind == 0 && cfg->n_insecure_bind == 0) {
        /* Hypercorn's default; local only, so an unconfigured server is not public. */
        hn_cfg_where_t where = {.origin = "bind"};
        if (hn_cfg_types_set_text(cfg, hn_cfg_options_find("bind"), "127.0.0.1:8000", false, &where,
                                  err) != HN_OK)
            return HN_ERR;
    }
    if (check_proxy_protocol_bind(cfg, err) != HN_OK)
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
        fprintf(out, "%s:", hn_cfg_options_table[i].name);
        hn_cfg_types_dump(cfg, &hn_cfg_options_table[i], out);
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
 * that key, whose keys are the "reload.*" rows. */
static int
walk_mapping(hn_config_t *cfg, const hn_cfg_yaml_node_t *root, const char *file,
             const char *section, hn_err_t *err)
{
    for (size_t i = 0; i + 1 < root->n_items; i += 2) {
        const hn_cfg_yaml_node_t *key = root->items[i], *value = root->items[i + 1];
        const hn_cfg_option_t *opt;

        if (key->kind != HN_CFG_YAML_SCALAR) {
            hn_err_set(err, 0, "%s:%u:%u: expected a key, got %s", file, key->line, key->column,
                       hn_cfg_yaml_kind_name(key->kind));
            return HN_ERR;
        }
        /* libyaml accepts repeated keys; the second would silently win. */
        for (size_t j = 0; j < i; j += 2) {
            const hn_cfg_yaml_node_t *prev = root->items[j];
            if (prev->kind == HN_CFG_YAML_SCALAR && strcmp(prev->text, key->text) == 0) {
                hn_err_set(err, 0, "%s:%u:%u: duplicate key \"%s\" (first set at line %u)", file,
                           key->line, key->column, key->text, prev->line);
                return HN_ERR;
            }
        }
        char full[128];
        snprintf(full, sizeof(full), "%s%s%s", section ? section : "", section ? "." : "",
                 key->text);
        if (section == NULL && is_section(full)) {
            if (value->kind != HN_CFG_YAML_MAPPING) {
                hn_err_set(err, 0, "%s:%u:%u: %s: expected a mapping of its keys (as in "
                           "%s: {...}), got %s", file, value->line, value->column, full, full,
                           hn_cfg_yaml_kind_name(value->kind));
                return HN_ERR;
            }
            if (walk_mapping(cfg, value, file, full, err) != HN_OK)
                return HN_ERR;
            continue;
        }
        opt = hn_cfg_options_find(full);
        if (opt == NULL) {
            const char *near = hn_cfg_options_suggest(full);
            hn_err_set(err, 0, "%s:%u:%u: unknown key \"%s\"%s%s%s", file, key->line, key->column,
                       full, near ? " (did you mean \"" : "", near ? near : "",
                       near ? "\"?)" : "");
            return HN_ERR;
        }
        if (hn_cfg_types_set_node(cfg, opt, value, file, err) != HN_OK)
            return HN_ERR;
    }
    return HN_OK;
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
