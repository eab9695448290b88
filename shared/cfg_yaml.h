/*
 * cfg_yaml.h - a YAML file as a small tree of scalars, sequences and
 * mappings, each node remembering where it started so that config errors can
 * name FILE:LINE:COLUMN (h2o's yoml, reduced to what hornet.yaml needs).
 * libyaml stays behind this interface.
 */
#ifndef HN_SHARED_CFG_YAML_H
#define HN_SHARED_CFG_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "shared/common.h"

typedef enum hn_cfg_yaml_kind {
    HN_CFG_YAML_SCALAR,
    HN_CFG_YAML_SEQUENCE,
    HN_CFG_YAML_MAPPING,
} hn_cfg_yaml_kind_t;

typedef struct hn_cfg_yaml_node hn_cfg_yaml_node_t;

struct hn_cfg_yaml_node {
    hn_cfg_yaml_kind_t kind;
    unsigned line, column; /* 1-based, where the node starts */

    /* scalars: the text as written, NUL-terminated; text_len differs from
     * strlen(text) only if the value holds an escaped NUL ("\0"). */
    char *text;
    size_t text_len;
    bool is_null; /* a plain ~, null, Null, NULL or nothing at all */

    /* sequences: the items in order; mappings: key, value, key, value... */
    hn_cfg_yaml_node_t **items;
    size_t n_items;
};

/* Parse one YAML document. name is used in error messages only. Returns the
 * root, which is always a mapping (an empty file or a document holding only
 * null is an empty mapping), or NULL with err->msg like
 *   FILE:LINE:COL: invalid YAML: PROBLEM (CONTEXT at line L, column C)
 * The caller frees the tree with hn_cfg_yaml_free. */
hn_cfg_yaml_node_t *hn_cfg_yaml_parse_file(FILE *in, const char *name, hn_err_t *err);
hn_cfg_yaml_node_t *hn_cfg_yaml_parse_string(const char *text, size_t len, const char *name,
                                             hn_err_t *err);
void hn_cfg_yaml_free(hn_cfg_yaml_node_t *node);

/* "a scalar", "a sequence", "a mapping": for "expected X, got Y" messages. */
const char *hn_cfg_yaml_kind_name(hn_cfg_yaml_kind_t kind);

#endif
