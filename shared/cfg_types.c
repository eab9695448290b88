/*
 * cfg_types.c - one setter per option type (bool, int, size, duration,
 * string, path, enum, address list, octal, mounts), shared by the YAML walk and
 * hn_cfg_set, plus the words of every value error and the YAML dump of every
 * type. Units come from units.c, addresses from addr.c; which key has which
 * type is cfg_options.c's.
 *
 * Each setter parses into a local first and stores only on success, so a
 * rejected value leaves the field as it was.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/cfg_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shared/addr.h"
#include "shared/mem.h"
#include "shared/units.h"

#define FIELD(cfg, opt, type) ((type *)(void *)((char *)(cfg) + (opt)->offset))
#define CFIELD(cfg, opt, type) ((const type *)(const void *)((const char *)(cfg) + (opt)->offset))

static void set_error(hn_err_t *err, const hn_cfg_option_t *opt, const hn_cfg_where_t *where,
                      const char *fmt, ...) HN_PRINTF(4, 5);
static int expected(hn_err_t *err, const hn_cfg_option_t *opt, const hn_cfg_where_t *where,
                    const char *text);
static const char *show(const char *text, char *buf, size_t size);
static int parse_bool(const char *text, bool *out);
static bool is_choice(const hn_cfg_option_t *opt, const char *text);
static int parse_int(const char *text, long long *out);
static int parse_octal(const char *text, int *out);
static int set_int(hn_config_t *cfg, const hn_cfg_option_t *opt, const char *text);
static int set_size(hn_config_t *cfg, const hn_cfg_option_t *opt, const char *text);
static int set_duration(hn_config_t *cfg, const hn_cfg_option_t *opt, const char *text);
static int parse_addr(const hn_cfg_option_t *opt, const char *text, const hn_cfg_where_t *where,
                      hn_addr_t *out, hn_err_t *err);
static void store_addrs(hn_config_t *cfg, const hn_cfg_option_t *opt, hn_addr_t *list, size_t n);
static char *norm_prefix(const char *text, size_t len);
static int set_mounts_node(hn_config_t *cfg, const hn_cfg_option_t *opt,
                           const hn_cfg_yaml_node_t *node, const char *file, hn_err_t *err);
static int add_mount(hn_config_t *cfg, const hn_cfg_option_t *opt, const char *text, bool append,
                     const hn_cfg_where_t *where, hn_err_t *err);
static int check_mount_prefix(const hn_cfg_option_t *opt, const char *text, size_t len,
                              const hn_cfg_where_t *where, char **out, hn_err_t *err);
static int check_mount_app(const hn_cfg_option_t *opt, const hn_cfg_yaml_node_t *node,
                           const char *text, const hn_cfg_where_t *where, hn_err_t *err);
static int cmp_mounts(const void *a, const void *b);
static void store_mounts(hn_config_t *cfg, const hn_cfg_option_t *opt, hn_cfg_mount_t *list,
                         size_t n);
static void dump_string(const char *s, FILE *out);
static void store_strings(hn_config_t *cfg, const hn_cfg_option_t *opt, char **list, size_t n);

int
hn_cfg_types_set_text(hn_config_t *cfg, const hn_cfg_option_t *opt, const char *text, bool append,
                      const hn_cfg_where_t *where, hn_err_t *err)
{
    if (text == NULL) {
        /* A null list is an empty one: "bind: ~" falls back to the default. */
        if (hn_cfg_types_is_list(opt->type)) {
            if (!append)
                hn_cfg_types_clear(cfg, opt);
            return HN_OK;
        }
        if (!(opt->flags & HN_CFG_OPTIONAL))
            return expected(err, opt, where, NULL);
        hn_cfg_types_clear(cfg, opt);
        return HN_OK;
    }

    switch (opt->type) {
    case HN_CFG_BOOL: {
        bool b;
        assert(opt->size == sizeof(bool));
        if (parse_bool(text, &b) != HN_OK)
            return expected(err, opt, where, text);
        *FIELD(cfg, opt, bool) = b;
        return HN_OK;
    }
    case HN_CFG_INT:
        return set_int(cfg, opt, text) == HN_OK ? HN_OK : expected(err, opt, where, text);
    case HN_CFG_SIZE:
        return set_size(cfg, opt, text) == HN_OK ? HN_OK : expected(err, opt, where, text);
    case HN_CFG_DURATION:
        return set_duration(cfg, opt, text) == HN_OK ? HN_OK : expected(err, opt, where, text);
    case HN_CFG_STRING:
    case HN_CFG_PATH:
        assert(opt->size == sizeof(char *));
        if (*text == '\0' && (opt->type == HN_CFG_PATH || (opt->flags & HN_CFG_NONEMPTY)))
            return expected(err, opt, where, text);
        if (opt->flags & HN_CFG_PREFIX) {
            char *v = *text ? norm_prefix(text, strlen(text)) : hn_xstrdup("");
            if (v == NULL)
                return expected(err, opt, where, text);
            free(*FIELD(cfg, opt, char *));
            *FIELD(cfg, opt, char *) = v;
            return HN_OK;
        }
        free(*FIELD(cfg, opt, char *));
        *FIELD(cfg, opt, char *) = hn_xstrdup(text);
        return HN_OK;
    case HN_CFG_ENUM: {
        int v = opt->enum_parse(text);
        assert(opt->size == sizeof(int));
        if (v < 0)
            return expected(err, opt, where, text);
        *FIELD(cfg, opt, int) = v;
        return HN_OK;
    }
    case HN_CFG_OCTAL: {
        int v;
        assert(opt->size == sizeof(int));
        if (parse_octal(text, &v) != HN_OK)
            return expected(err, opt, where, text);
        *FIELD(cfg, opt, int) = v;
        return HN_OK;
    }
    case HN_CFG_ADDRS: {
        hn_addr_t a;
        size_t n = *(size_t *)(void *)((char *)cfg + opt->count_offset);
        hn_addr_t *list;

        if (parse_addr(opt, text, where, &a, err) != HN_OK)
            return HN_ERR;
        if (!append)
            n = 0;
        list = hn_xmalloc((n + 1) * sizeof(*list));
        if (n > 0)
            memcpy(list, *FIELD(cfg, opt, hn_addr_t *), n * sizeof(*list));
        list[n] = a;
        store_addrs(cfg, opt, list, n + 1);
        return HN_OK;
    }
    case HN_CFG_MOUNTS:
        return add_mount(cfg, opt, text, append, where, err);
    case HN_CFG_STRINGS: {
        size_t n = append ? *(size_t *)(void *)((char *)cfg + opt->count_offset) : 0;
        char **list;
        if (*text == '\0' || !is_choice(opt, text))
            return expected(err, opt, where, text);
        list = hn_xmalloc((n + 1) * sizeof(*list));
        for (size_t i = 0; i < n; i++)
            list[i] = hn_xstrdup((*FIELD(cfg, opt, char **))[i]);
        list[n] = hn_xstrdup(text);
        store_strings(cfg, opt, list, n + 1);
        return HN_OK;
    }
    }
    return HN_ERR;
}

int
hn_cfg_types_set_node(hn_config_t *cfg, const hn_cfg_option_t *opt, const hn_cfg_yaml_node_t *node,
                      const char *file, hn_err_t *err)
{
    hn_cfg_where_t where = {.file = file, .line = node->line, .column = node->column};

    /* A mapping, unlike every other type: its keys are data, not config keys. */
    if (opt->type == HN_CFG_MOUNTS)
        return set_mounts_node(cfg, opt, node, file, err);
    if (node->kind == HN_CFG_YAML_SCALAR) {
        if (node->text_len != strlen(node->text)) {
            set_error(err, opt, &where, "the value contains a NUL byte");
            return HN_ERR;
        }
        return hn_cfg_types_set_text(cfg, opt, node->is_null ? NULL : node->text, false, &where,
                                     err);
    }
    if (opt->type == HN_CFG_ADDRS && node->kind == HN_CFG_YAML_SEQUENCE) {
        hn_addr_t *list = hn_xmalloc((node->n_items + 1) * sizeof(*list));

        /* Build the whole list before replacing: one bad item keeps the old one. */
        for (size_t i = 0; i < node->n_items; i++) {
            const hn_cfg_yaml_node_t *item = node->items[i];
            hn_cfg_where_t iw = {.file = file, .line = item->line, .column = item->column};

            if (item->kind != HN_CFG_YAML_SCALAR || item->is_null) {
                set_error(err, opt, &iw, "expected an address, got %s",
                          item->kind == HN_CFG_YAML_SCALAR ? "null"
                                                           : hn_cfg_yaml_kind_name(item->kind));
                free(list);
                return HN_ERR;
            }
            if (parse_addr(opt, item->text, &iw, &list[i], err) != HN_OK) {
                free(list);
                return HN_ERR;
            }
        }
        store_addrs(cfg, opt, list, node->n_items);
        return HN_OK;
    }
    if (opt->type == HN_CFG_STRINGS && node->kind == HN_CFG_YAML_SEQUENCE) {
        char **list = hn_xcalloc(node->n_items + 1, sizeof(*list));
        for (size_t i = 0; i < node->n_items; i++) {
            const hn_cfg_yaml_node_t *item = node->items[i];
            hn_cfg_where_t iw = {.file = file, .line = item->line, .column = item->column};
            char got[96];
            if (item->kind != HN_CFG_YAML_SCALAR || item->is_null || item->text[0] == '\0' ||
                !is_choice(opt, item->text)) {
                set_error(err, opt, &iw, "expected %s%s, got %s", opt->choices ? "one of " : "",
                          opt->choices ? opt->choices : "a path",
                          item->kind != HN_CFG_YAML_SCALAR ? hn_cfg_yaml_kind_name(item->kind)
                          : item->is_null                  ? "null"
                                                           : show(item->text, got, sizeof(got)));
                for (size_t k = 0; k < i; k++)
                    free(list[k]);
                free(list);
                return HN_ERR;
            }
            list[i] = hn_xstrdup(item->text);
        }
        store_strings(cfg, opt, list, node->n_items);
        return HN_OK;
    }
    if (opt->type == HN_CFG_ADDRS || opt->type == HN_CFG_STRINGS) {
        char what[160];
        set_error(err, opt, &where, "expected %s, got %s",
                  hn_cfg_types_describe(opt, what, sizeof(what)),
                  hn_cfg_yaml_kind_name(node->kind));
        return HN_ERR;
    }
    set_error(err, opt, &where, "expected a scalar, got %s", hn_cfg_yaml_kind_name(node->kind));
    return HN_ERR;
}

void
hn_cfg_types_clear(hn_config_t *cfg, const hn_cfg_option_t *opt)
{
    switch (opt->type) {
    case HN_CFG_STRING:
    case HN_CFG_PATH:
        free(*FIELD(cfg, opt, char *));
        *FIELD(cfg, opt, char *) = NULL;
        break;
    case HN_CFG_ADDRS:
        store_addrs(cfg, opt, NULL, 0);
        break;
    case HN_CFG_MOUNTS:
        store_mounts(cfg, opt, NULL, 0);
        break;
    case HN_CFG_STRINGS:
        store_strings(cfg, opt, NULL, 0);
        break;
    case HN_CFG_OCTAL:
        *FIELD(cfg, opt, int) = -1; /* "keep the inherited umask" */
        break;
    default:
        memset(FIELD(cfg, opt, char), 0, opt->size);
        break;
    }
}

void
hn_cfg_types_dump(const hn_config_t *cfg, const hn_cfg_option_t *opt, FILE *out)
{
    char buf[64];

    /* A list goes on the lines below "key:"; everything else after "key: ". */
    if (!hn_cfg_types_is_list(opt->type))
        fputc(' ', out);
    switch (opt->type) {
    case HN_CFG_BOOL:
        fputs(*CFIELD(cfg, opt, bool) ? "true" : "false", out);
        break;
    case HN_CFG_INT: {
        int v = *CFIELD(cfg, opt, int);
        if (v == 0 && (opt->flags & HN_CFG_AUTO))
            fputs("auto", out);
        else
            fprintf(out, "%d", v);
        break;
    }
    case HN_CFG_SIZE: {
        uint64_t v = opt->size == sizeof(uint64_t) ? *CFIELD(cfg, opt, uint64_t)
                                                   : *CFIELD(cfg, opt, uint32_t);
        fputs(hn_units_format_size(v, buf, sizeof(buf)), out);
        break;
    }
    case HN_CFG_DURATION:
        fputs(hn_units_format_duration(*CFIELD(cfg, opt, double), buf, sizeof(buf)), out);
        break;
    case HN_CFG_STRING:
    case HN_CFG_PATH:
        dump_string(*CFIELD(cfg, opt, char *), out);
        break;
    case HN_CFG_ENUM:
        fputs(opt->enum_name(*CFIELD(cfg, opt, int)), out);
        break;
    case HN_CFG_OCTAL: {
        int v = *CFIELD(cfg, opt, int);
        /* Quoted: a YAML 1.1 reader other than ours would take 0022 as 18. */
        if (v < 0)
            fputs("~", out);
        else
            fprintf(out, "\"%04o\"", (unsigned)v);
        break;
    }
    case HN_CFG_ADDRS: {
        const hn_addr_t *list = *CFIELD(cfg, opt, hn_addr_t *);
        size_t n = *(const size_t *)(const void *)((const char *)cfg + opt->count_offset);
        if (n == 0)
            fputs(" []", out);
        for (size_t i = 0; i < n; i++) {
            fputs("\n  - ", out);
            dump_string(list[i].text, out);
        }
        break;
    }
    case HN_CFG_STRINGS: {
        char *const *list = *(char **const *)(const void *)((const char *)cfg + opt->offset);
        size_t n = *(const size_t *)(const void *)((const char *)cfg + opt->count_offset);
        if (n == 0)
            fputs(" []", out);
        for (size_t i = 0; i < n; i++) {
            fputs("\n  - ", out);
            dump_string(list[i], out);
        }
        break;
    }
    case HN_CFG_MOUNTS: {
        /* Block style, keys quoted: "/api": "./libapi.so:app". */
        const hn_cfg_mount_t *list = *CFIELD(cfg, opt, hn_cfg_mount_t *);
        size_t n = *(const size_t *)(const void *)((const char *)cfg + opt->count_offset);
        if (n == 0)
            fputs(" {}", out);
        for (size_t i = 0; i < n; i++) {
            fputs("\n  ", out);
            dump_string(list[i].prefix, out);
            fputs(": ", out);
            dump_string(list[i].app, out);
        }
        break;
    }
    }
    fputc('\n', out);
}

const char *
hn_cfg_types_describe(const hn_cfg_option_t *opt, char *buf, size_t size)
{
    const char *what = NULL, *example = NULL;

    switch (opt->type) {
    case HN_CFG_BOOL:
        snprintf(buf, size, "true or false");
        return buf;
    case HN_CFG_INT:
        what = "an integer";
        break;
    case HN_CFG_SIZE:
        what = "a size";
        example = "such as 64KiB or 16MiB";
        break;
    case HN_CFG_DURATION:
        what = "a duration";
        example = "such as 30s or 500ms";
        break;
    case HN_CFG_STRING:
        if (opt->flags & HN_CFG_PREFIX)
            snprintf(buf, size, "\"\" or a URL path starting with \"/\" such as /app");
        else
            snprintf(buf, size, "%s",
                     (opt->flags & HN_CFG_NONEMPTY) ? "a non-empty string" : "a string");
        return buf;
    case HN_CFG_PATH:
        snprintf(buf, size, "a path");
        return buf;
    case HN_CFG_ENUM:
        snprintf(buf, size, "one of %s", opt->choices);
        return buf;
    case HN_CFG_ADDRS:
        snprintf(buf, size, "an address or a list of addresses");
        return buf;
    case HN_CFG_OCTAL:
        snprintf(buf, size, "an octal mode from 0000 to 0777 such as 0022 or 0o022");
        return buf;
    case HN_CFG_MOUNTS:
        snprintf(buf, size, "a mapping of path prefixes to applications");
        return buf;
    case HN_CFG_STRINGS:
        if (opt->choices)
            snprintf(buf, size, "one of %s, or a list of them", opt->choices);
        else
            snprintf(buf, size, "a path or a list of paths");
        return buf;
    }

    if (opt->min && opt->max)
        snprintf(buf, size, "%s from %s to %s", what, opt->min, opt->max);
    else if (opt->min)
        snprintf(buf, size, "%s of at least %s", what, opt->min);
    else if (opt->max)
        snprintf(buf, size, "%s of at most %s", what, opt->max);
    else if (example)
        snprintf(buf, size, "%s %s", what, example);
    else
        snprintf(buf, size, "%s", what);
    if (opt->flags & HN_CFG_AUTO) {
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, " or \"auto\"");
    }
    return buf;
}

const char *
hn_cfg_types_name(hn_cfg_type_t type)
{
    static const char *const names[] = {
        [HN_CFG_BOOL] = "boolean",     [HN_CFG_INT] = "integer",
        [HN_CFG_SIZE] = "size",        [HN_CFG_DURATION] = "duration",
        [HN_CFG_STRING] = "string",    [HN_CFG_PATH] = "path",
        [HN_CFG_ENUM] = "enum",        [HN_CFG_ADDRS] = "address list",
        [HN_CFG_OCTAL] = "octal mode", [HN_CFG_MOUNTS] = "mount mapping",
        [HN_CFG_STRINGS] = "string list",
    };
    return (size_t)type < HN_ARRAY_LEN(names) ? names[type] : "value";
}

bool
hn_cfg_types_is_list(hn_cfg_type_t type)
{
    return type == HN_CFG_ADDRS || type == HN_CFG_MOUNTS || type == HN_CFG_STRINGS;
}

/* "FILE:LINE:COL: KEY: ...", "--flag: ..." or "KEY: ...". */
static void
set_error(hn_err_t *err, const hn_cfg_option_t *opt, const hn_cfg_where_t *where, const char *fmt,
          ...)
{
    char msg[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (where && where->file)
        hn_err_set(err, 0, "%s:%u:%u: %s: %s", where->file, where->line, where->column, opt->name,
                   msg);
    else if (where && where->origin)
        hn_err_set(err, 0, "%s: %s", where->origin, msg);
    else
        hn_err_set(err, 0, "%s: %s", opt->name, msg);
}

/* The one "expected WHAT, got FOUND" error every scalar type uses. */
static int
expected(hn_err_t *err, const hn_cfg_option_t *opt, const hn_cfg_where_t *where, const char *text)
{
    char what[160], got[96];

    set_error(err, opt, where, "expected %s, got %s",
              hn_cfg_types_describe(opt, what, sizeof(what)),
              text ? show(text, got, sizeof(got)) : "null");
    return HN_ERR;
}

/* The value quoted, with control bytes escaped and long values cut, so that
 * one error stays one readable line. */
static const char *
show(const char *text, char *buf, size_t size)
{
    size_t o = 0, limit = size - 8; /* room for \xNN, "...", the quotes, NUL */

    buf[o++] = '"';
    for (const char *p = text; *p && o < limit; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            if (c == '"' || c == '\\')
                o += (size_t)snprintf(buf + o, size - o, "\\%c", c);
            else
                o += (size_t)snprintf(buf + o, size - o, "\\x%02X", c);
        } else {
            buf[o++] = (char)c;
        }
        if (o >= limit && p[1] != '\0') {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* YAML 1.1's spellings, which users of other YAML tools expect. */
static int
parse_bool(const char *text, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};

    for (size_t i = 0; i < HN_ARRAY_LEN(yes); i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return HN_OK;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return HN_OK;
        }
    }
    return HN_ERR;
}

/* Is text one of the row's choices ("h2, http/1.1")? Any text is, without. */
static bool
is_choice(const hn_cfg_option_t *opt, const char *text)
{
    size_t len = strlen(text);

    if (opt->choices == NULL)
        return true;
    for (const char *p = opt->choices; *p;) {
        size_t n = strcspn(p, ",");
        if (n == len && memcmp(p, text, len) == 0)
            return true;
        p += n;
        p += strspn(p, ", ");
    }
    return false;
}

/* Decimal only, optional '-': no blanks, '+', hex or trailing junk. */
static int
parse_int(const char *text, long long *out)
{
    const char *p = text;
    char *end;

    if (*p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return HN_ERR;
    errno = 0;
    *out = strtoll(text, &end, 10);
    return errno == 0 && *end == '\0' ? HN_OK : HN_ERR;
}

/* chmod's digits, "0022" or "22"; or the 0o prefix of TOML, Python and
 * YAML 1.2, as a Hypercorn config writes its integer umask (0o022). */
static int
parse_octal(const char *text, int *out)
{
    int v = 0;

    if (text[0] == '0' && (text[1] == 'o' || text[1] == 'O'))
        text += 2;
    if (*text == '\0' || strlen(text) > 4)
        return HN_ERR;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '7')
            return HN_ERR;
        v = v * 8 + (*p - '0');
    }
    if (v > 0777)
        return HN_ERR;
    *out = v;
    return HN_OK;
}

static int
set_int(hn_config_t *cfg, const hn_cfg_option_t *opt, const char *text)
{
    long long v, lo = INT32_MIN, hi = INT32_MAX;

    assert(opt->size == sizeof(int));
    if ((opt->flags & HN_CFG_AUTO) && strcmp(text, "auto") == 0) {
        *FIELD(cfg, opt, int) = 0;
        return HN_OK;
    }
    if (parse_int(text, &v) != HN_OK)
        return HN_ERR;
    if ((opt->min && parse_int(opt->min, &lo) != HN_OK) ||
        (opt->max && parse_int(opt->max, &hi) != HN_OK))
        abort(); /* a broken table row; the unit test of every row catches it */
    if (v < lo || v > hi || v < INT32_MIN || v > INT32_MAX)
        return HN_ERR;
    *FIELD(cfg, opt, int) = (int)v;
    return HN_OK;
}

static int
set_size(hn_config_t *cfg, const hn_cfg_option_t *opt, const char *text)
{
    uint64_t v, lo = 0, hi = UINT64_MAX;

    if (hn_units_parse_size(text, &v) != HN_OK)
        return HN_ERR;
    if ((opt->min && hn_units_parse_size(opt->min, &lo) != HN_OK) ||
        (opt->max && hn_units_parse_size(opt->max, &hi) != HN_OK))
        abort();
    if (v < lo || v > hi)
        return HN_ERR;
    if (opt->size == sizeof(uint64_t)) {
        *FIELD(cfg, opt, uint64_t) = v;
    } else {
        assert(opt->size == sizeof(uint32_t));
        if (v > UINT32_MAX)
            return HN_ERR;
        *FIELD(cfg, opt, uint32_t) = (uint32_t)v;
    }
    return HN_OK;
}

static int
set_duration(hn_config_t *cfg, const hn_cfg_option_t *opt, const char *text)
{
    double v, lo = 0, hi = 0;

    assert(opt->size == sizeof(double));
    if (hn_units_parse_duration(text, &v) != HN_OK)
        return HN_ERR;
    if ((opt->min && hn_units_parse_duration(opt->min, &lo) != HN_OK) ||
        (opt->max && hn_units_parse_duration(opt->max, &hi) != HN_OK))
        abort();
    if ((opt->min && v < lo) || (opt->max && v > hi))
        return HN_ERR;
    *FIELD(cfg, opt, double) = v;
    return HN_OK;
}

static int
parse_addr(const hn_cfg_option_t *opt, const char *text, const hn_cfg_where_t *where,
           hn_addr_t *out, hn_err_t *err)
{
    hn_err_t aerr = {0, ""};

    /* addr.c already quotes the text and says what it expected. */
    if (hn_addr_parse(text, out, &aerr) != HN_OK) {
        set_error(err, opt, where, "%s", aerr.msg);
        if (err)
            err->code = aerr.code;
        return HN_ERR;
    }
    return HN_OK;
}

/* Takes list (malloc'ed, or NULL when n is 0) and frees the old one. */
static void
store_addrs(hn_config_t *cfg, const hn_cfg_option_t *opt, hn_addr_t *list, size_t n)
{
    assert(opt->size == sizeof(hn_addr_t *));
    free(*FIELD(cfg, opt, hn_addr_t *));
    if (n == 0) {
        free(list);
        list = NULL;
    }
    *FIELD(cfg, opt, hn_addr_t *) = list;
    *(size_t *)(void *)((char *)cfg + opt->count_offset) = n;
}

/* A URL path prefix without its trailing slashes, malloc'ed; NULL unless it
 * starts with "/" and holds no control byte, '?' or '#' (a query or fragment
 * in a prefix can never match a path, so it is a mistake worth naming).
 * "/" becomes "": the root of the site is no prefix at all. */
static char *
norm_prefix(const char *text, size_t len)
{
    if (len == 0 || text[0] != '/')
        return NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f || c == '?' || c == '#')
            return NULL;
    }
    while (len > 0 && text[len - 1] == '/')
        len--;
    return hn_xstrndup(text, len);
}

/* "mount:" in YAML: a mapping (or null: none). The whole new list is built and
 * checked before it replaces the old one, as for bind. */
static int
set_mounts_node(hn_config_t *cfg, const hn_cfg_option_t *opt, const hn_cfg_yaml_node_t *node,
                const char *file, hn_err_t *err)
{
    hn_cfg_where_t where = {.file = file, .line = node->line, .column = node->column};
    size_t n = node->n_items / 2;
    hn_cfg_mount_t *list;
    unsigned *lines;

    if (node->kind == HN_CFG_YAML_SCALAR && node->is_null) {
        store_mounts(cfg, opt, NULL, 0);
        return HN_OK;
    }
    if (node->kind != HN_CFG_YAML_MAPPING) {
        set_error(err, opt, &where, "expected a mapping of path prefixes to applications, got %s",
                  hn_cfg_yaml_kind_name(node->kind));
        return HN_ERR;
    }
    list = hn_xcalloc(n + 1, sizeof(*list));
    lines = hn_xcalloc(n + 1, sizeof(*lines));
    for (size_t i = 0; i < n; i++) {
        const hn_cfg_yaml_node_t *key = node->items[2 * i], *value = node->items[2 * i + 1];
        hn_cfg_where_t kw = {.file = file, .line = key->line, .column = key->column};
        hn_cfg_where_t vw = {.file = file, .line = value->line, .column = value->column};
        char *prefix = NULL;

        if (key->kind != HN_CFG_YAML_SCALAR || key->is_null) {
            set_error(err, opt, &kw, "expected a path prefix such as /api, got %s",
                      key->kind == HN_CFG_YAML_SCALAR ? "null" : hn_cfg_yaml_kind_name(key->kind));
            goto fail;
        }
        if (check_mount_prefix(opt, key->text, key->text_len, &kw, &prefix, err) != HN_OK)
            goto fail;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(list[j].prefix, prefix) == 0) {
                set_error(err, opt, &kw, "duplicate prefix \"%s\" (first at line %u)", prefix,
                          lines[j]);
                free(prefix);
                goto fail;
            }
        }
        if (check_mount_app(opt, value, NULL, &vw, err) != HN_OK) {
            free(prefix);
            goto fail;
        }
        list[i].prefix = prefix;
        list[i].app = hn_xstrdup(value->text);
        lines[i] = key->line;
    }
    free(lines);
    qsort(list, n, sizeof(*list), cmp_mounts);
    store_mounts(cfg, opt, list, n);
    return HN_OK;

fail:
    for (size_t i = 0; i < n; i++) {
        free(list[i].prefix);
        free(list[i].app);
    }
    free(list);
    free(lines);
    return HN_ERR;
}

/* One entry as text, "PREFIX=APP" (hn_cfg_set; a flag if one is ever added).
 * The first '=' splits: a prefix with '=' in it can only come from YAML. */
static int
add_mount(hn_config_t *cfg, const hn_cfg_option_t *opt, const char *text, bool append,
          const hn_cfg_where_t *where, hn_err_t *err)
{
    const char *eq = strchr(text, '=');
    size_t n = append ? *(size_t *)(void *)((char *)cfg + opt->count_offset) : 0;
    const hn_cfg_mount_t *old = *FIELD(cfg, opt, hn_cfg_mount_t *);
    hn_cfg_mount_t *list;
    char *prefix;
    char got[96];

    if (eq == NULL) {
        set_error(err, opt, where, "expected PREFIX=APP such as /api=./libapi.so:app, got %s",
                  show(text, got, sizeof(got)));
        return HN_ERR;
    }
    if (check_mount_prefix(opt, text, (size_t)(eq - text), where, &prefix, err) != HN_OK ||
        check_mount_app(opt, NULL, eq + 1, where, err) != HN_OK) {
        free(prefix);
        return HN_ERR;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(old[i].prefix, prefix) == 0) {
            set_error(err, opt, where, "duplicate prefix \"%s\"", prefix);
            free(prefix);
            return HN_ERR;
        }
    }
    /* Copies of the kept entries: store_mounts frees the old list whole. */
    list = hn_xcalloc(n + 1, sizeof(*list));
    for (size_t i = 0; i < n; i++) {
        list[i].prefix = hn_xstrdup(old[i].prefix);
        list[i].app = hn_xstrdup(old[i].app);
    }
    list[n].prefix = prefix;
    list[n].app = hn_xstrdup(eq + 1);
    qsort(list, n + 1, sizeof(*list), cmp_mounts);
    store_mounts(cfg, opt, list, n + 1);
    return HN_OK;
}

/* *out: the normalised prefix (malloc'ed) or NULL on error. */
static int
check_mount_prefix(const hn_cfg_option_t *opt, const char *text, size_t len,
                   const hn_cfg_where_t *where, char **out, hn_err_t *err)
{
    char *t = hn_xstrndup(text, len), got[96];

    *out = NULL;
    if (strlen(t) != len) {
        set_error(err, opt, where, "the prefix contains a NUL byte");
    } else if ((*out = norm_prefix(t, len)) == NULL) {
        set_error(err, opt, where,
                  "expected a path prefix starting with \"/\" such as /api, got %s",
                  show(t, got, sizeof(got)));
    } else if (**out == '\0') {
        /* Mounting at "/" is what application_path does; two ways to say it
         * would leave open which one wins. */
        set_error(err, opt, where,
                  "expected a path prefix other than \"/\" (the application for \"/\" is "
                  "application_path), got %s",
                  show(t, got, sizeof(got)));
        free(*out);
        *out = NULL;
    }
    free(t);
    return *out ? HN_OK : HN_ERR;
}

/* The application of one mount: a YAML value node, or text from the CLI. */
static int
check_mount_app(const hn_cfg_option_t *opt, const hn_cfg_yaml_node_t *node, const char *text,
                const hn_cfg_where_t *where, hn_err_t *err)
{
    static const char what[] = "expected an application such as ./libapi.so:app or "
                               "builtin:static, got";
    char got[96];

    if (node) {
        if (node->kind != HN_CFG_YAML_SCALAR || node->is_null) {
            set_error(err, opt, where, "%s %s", what,
                      node->kind == HN_CFG_YAML_SCALAR ? "null"
                                                       : hn_cfg_yaml_kind_name(node->kind));
            return HN_ERR;
        }
        if (node->text_len != strlen(node->text)) {
            set_error(err, opt, where, "the value contains a NUL byte");
            return HN_ERR;
        }
        text = node->text;
    }
    if (*text == '\0') {
        set_error(err, opt, where, "%s %s", what, show(text, got, sizeof(got)));
        return HN_ERR;
    }
    return HN_OK;
}

/* Longest prefix first, so the first match is the most specific one; equal
 * lengths by bytes, so the order (and the dump) does not depend on input. */
static int
cmp_mounts(const void *a, const void *b)
{
    const hn_cfg_mount_t *ma = a, *mb = b;
    size_t la = strlen(ma->prefix), lb = strlen(mb->prefix);

    if (la != lb)
        return la > lb ? -1 : 1;
    return strcmp(ma->prefix, mb->prefix);
}

/* Takes list (malloc'ed entries and array, or NULL when n is 0), frees the old. */
static void
store_mounts(hn_config_t *cfg, const hn_cfg_option_t *opt, hn_cfg_mount_t *list, size_t n)
{
    hn_cfg_mount_t *old = *FIELD(cfg, opt, hn_cfg_mount_t *);
    size_t *count = (size_t *)(void *)((char *)cfg + opt->count_offset);

    assert(opt->size == sizeof(hn_cfg_mount_t *));
    for (size_t i = 0; i < *count; i++) {
        free(old[i].prefix);
        free(old[i].app);
    }
    free(old);
    if (n == 0) {
        free(list);
        list = NULL;
    }
    *FIELD(cfg, opt, hn_cfg_mount_t *) = list;
    *count = n;
}

/* Double-quoted YAML, so any string reads back unchanged; ~ for unset. */
static void
dump_string(const char *s, FILE *out)
{
    if (s == NULL) {
        fputs("~", out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        unsigned char next = (unsigned char)s[1];
        if (c == '"' || c == '\\') {
            fprintf(out, "\\%c", c);
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(out, "\\x%02X", c);
        } else if (c == 0xc2 && next >= 0x80 && next <= 0x9f && next != 0x85) {
            /* U+0080..U+009F (but NEL) are not printable in YAML: libyaml
             * refuses them raw, so the dump would not load again */
            fprintf(out, "\\x%02X", next);
            s++;
        } else {
            fputc(c, out);
        }
    }
    fputc('"', out);
}

static void
store_strings(hn_config_t *cfg, const hn_cfg_option_t *opt, char **list, size_t n)
{
    char **old = *FIELD(cfg, opt, char **);
    size_t *count = (size_t *)(void *)((char *)cfg + opt->count_offset);
    for (size_t i = 0; i < *count; i++)
        free(old[i]);
    free(old);
    *FIELD(cfg, opt, char **) = list;
    *count = n;
}
