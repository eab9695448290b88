/*
 * cfg_internal.h - the option-table row and the typed setters, shared by
 * cfg.c, cfg_options.c and cfg_types.c (and their unit test) only. The rest
 * of hornet sees hn_config_t and cfg.h.
 */
#ifndef HN_SHARED_CFG_INTERNAL_H
#define HN_SHARED_CFG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "shared/cfg.h"
#include "shared/cfg_yaml.h"
#include "shared/common.h"

/* cfg.c keeps one bit per option in a bitset of this many bits. */
#define HN_CFG_MAX_OPTIONS 128

typedef enum hn_cfg_type {
    HN_CFG_BOOL,     /* bool */
    HN_CFG_INT,      /* int, bounded by min/max */
    HN_CFG_SIZE,     /* size_t or uint64_t (field size decides), units.h sizes */
    HN_CFG_DURATION, /* double seconds, units.h durations */
    HN_CFG_STRING,   /* char *, owned */
    HN_CFG_PATH,     /* char *, owned, never empty */
    HN_CFG_ENUM,     /* int, through the row's enum_parse/enum_name */
    HN_CFG_ADDRS,    /* hn_addr_t * at offset, size_t count at count_offset */
    HN_CFG_OCTAL,    /* int, 0..0777 written in octal; -1 when null */
    HN_CFG_MOUNTS,   /* hn_cfg_mount_t * at offset, size_t count at count_offset: a YAML
                      * mapping of path prefix to application, longest prefix first */
    HN_CFG_STRINGS,  /* char ** at offset, size_t count at count_offset: a string or a list */
} hn_cfg_type_t;

enum {
    /* A reload applies the new value... */
    HN_CFG_RELOADABLE = 1u << 0,
    /* ...or it only takes effect after a restart ("needs restart" warning). */
    HN_CFG_RESTART = 1u << 1,
    /* null (~ or nothing) is accepted and means "unset". */
    HN_CFG_OPTIONAL = 1u << 2,
    /* INT only: "auto" is accepted and stored as 0; hn_cfg_finish resolves it. */
    HN_CFG_AUTO = 1u << 3,
    /* STRING only: "" is refused (PATH always refuses it). */
    HN_CFG_NONEMPTY = 1u << 4,
    /* STRING only: a URL path prefix, "" or starting with "/"; trailing
     * slashes are stripped, so "/" is stored as "" (root_path). */
    HN_CFG_PREFIX = 1u << 5,
    /* STRING only: --dump-config prints "********" instead of a set value,
     * so that its output can be pasted into a bug report (keyfile_password). */
    HN_CFG_SECRET = 1u << 6,
};

typedef struct hn_cfg_option {
    const char *name; /* the YAML key; "a.b" is key b of the mapping a */
    hn_cfg_type_t type;
    size_t offset;       /* of the field in hn_config_t */
    size_t size;         /* of the field: lets SIZE serve size_t and uint64_t */
    size_t count_offset; /* ADDRS, MOUNTS: of the size_t element count */

    /* Default, min and max are written as a user would write them and go
     * through the same parser, so the table, --help and the code agree.
     * def NULL means null (the option must be OPTIONAL, or a list). */
    const char *def;
    const char *min, *max;
    unsigned flags;

    /* ENUM: text <-> int, and the choices for messages and --help;
     * STRINGS: choices alone limits the items to these words. */
    int (*enum_parse)(const char *text);
    const char *(*enum_name)(int value);
    const char *choices;

    /* CLI spelling: --cli (NULL: none), -cli_short (0: none), metavar. */
    const char *cli;
    int cli_short;
    const char *metavar;

    const char *doc; /* one line for --help */
} hn_cfg_option_t;

#define HN_CFG_FIELD(f) .offset = offsetof(hn_config_t, f), .size = sizeof(((hn_config_t *)0)->f)

/* cfg_options.c: the table. */
extern const hn_cfg_option_t hn_cfg_options_table[];
extern const size_t hn_cfg_options_count;
/* The row for a YAML key, or NULL. */
const hn_cfg_option_t *hn_cfg_options_find(const char *name);
/* The closest key to an unknown one (edit distance, or a key whose CLI
 * spelling matches), or NULL if nothing is close. */
const char *hn_cfg_options_suggest(const char *name);
/* For a key of Hypercorn's that hornet lacks, why it is not supported (or
 * what to use instead); NULL for any other name. */
const char *hn_cfg_options_foreign(const char *name);

/* cfg_types.c: where a value came from, for the error prefix. */
typedef struct hn_cfg_where {
    const char *file; /* YAML file name: "FILE:LINE:COL: KEY: ..." */
    unsigned line, column;
    const char *origin; /* no file: "ORIGIN: ..." ("--workers"); NULL: "KEY: ..." */
} hn_cfg_where_t;

/* Set the option from a YAML value node (a scalar; a scalar or a sequence of
 * scalars for ADDRS, a mapping or null for MOUNTS; lists are replaced). On
 * error the field is left as it was and err is filled. */
int hn_cfg_types_set_node(hn_config_t *cfg, const hn_cfg_option_t *opt,
                          const hn_cfg_yaml_node_t *node, const char *file, hn_err_t *err);
/* Set the option from text; text NULL is null. For ADDRS, append adds the
 * address to the list instead of replacing it. MOUNTS takes one
 * "PREFIX=APP" entry as text, and append adds it likewise. */
int hn_cfg_types_set_text(hn_config_t *cfg, const hn_cfg_option_t *opt, const char *text,
                          bool append, const hn_cfg_where_t *where, hn_err_t *err);
/* Free what the field owns and leave it null/zero. */
void hn_cfg_types_clear(hn_config_t *cfg, const hn_cfg_option_t *opt);
/* Write the value as YAML, to follow "key:" (it supplies the blank), ending
 * with a newline. */
void hn_cfg_types_dump(const hn_config_t *cfg, const hn_cfg_option_t *opt, FILE *out);
/* What the option accepts, as in "expected <this>": 'an integer from 1 to
 * 512 or "auto"'. */
const char *hn_cfg_types_describe(const hn_cfg_option_t *opt, char *buf, size_t size);
/* Short type name for --help: "integer", "duration", "address list". */
const char *hn_cfg_types_name(hn_cfg_type_t type);
/* List types (ADDRS, MOUNTS): a CLI flag may repeat and appends. */
bool hn_cfg_types_is_list(hn_cfg_type_t type);

#endif
