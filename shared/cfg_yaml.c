/*
 * cfg_yaml.c - libyaml events to a hn_cfg_yaml_node_t tree that keeps each
 * node's line and column. What the keys mean is cfg.c's and cfg_types.c's
 * business; this file only knows YAML.
 *
 * The event API rather than yaml_parser_load: events carry exact start marks,
 * and we refuse aliases outright instead of expanding them (a flat config has
 * no use for them, and expansion is how alias bombs grow).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/cfg_yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "shared/mem.h"

/* Deeper than any sane config; bounds hn_cfg_yaml_free's recursion. */
#define MAX_DEPTH 64

static hn_cfg_yaml_node_t *parse(yaml_parser_t *parser, const char *name, hn_err_t *err);
static void set_yaml_error(const yaml_parser_t *parser, const char *name, hn_err_t *err);
static hn_cfg_yaml_node_t *new_node(hn_cfg_yaml_kind_t kind, yaml_mark_t mark);
static void append_item(hn_cfg_yaml_node_t *parent, hn_cfg_yaml_node_t *child);
static bool is_null_scalar(const yaml_event_t *ev);

hn_cfg_yaml_node_t *
hn_cfg_yaml_parse_file(FILE *in, const char *name, hn_err_t *err)
{
    yaml_parser_t parser;
    hn_cfg_yaml_node_t *root;

    if (!yaml_parser_initialize(&parser)) {
        hn_err_set(err, 0, "%s: cannot initialize the YAML parser", name);
        return NULL;
    }
    yaml_parser_set_input_file(&parser, in);
    root = parse(&parser, name, err);
    yaml_parser_delete(&parser);
    return root;
}

hn_cfg_yaml_node_t *
hn_cfg_yaml_parse_string(const char *text, size_t len, const char *name, hn_err_t *err)
{
    yaml_parser_t parser;
    hn_cfg_yaml_node_t *root;

    if (!yaml_parser_initialize(&parser)) {
        hn_err_set(err, 0, "%s: cannot initialize the YAML parser", name);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    root = parse(&parser, name, err);
    yaml_parser_delete(&parser);
    return root;
}

void
hn_cfg_yaml_free(hn_cfg_yaml_node_t *node)
{
    if (node == NULL)
        return;
    for (size_t i = 0; i < node->n_items; i++)
        hn_cfg_yaml_free(node->items[i]);
    free(node->items);
    free(node->text);
    free(node);
}

const char *
hn_cfg_yaml_kind_name(hn_cfg_yaml_kind_t kind)
{
    switch (kind) {
    case HN_CFG_YAML_SCALAR:
        return "a scalar";
    case HN_CFG_YAML_SEQUENCE:
        return "a sequence";
    case HN_CFG_YAML_MAPPING:
        return "a mapping";
    }
    return "a node";
}

static hn_cfg_yaml_node_t *
parse(yaml_parser_t *parser, const char *name, hn_err_t *err)
{
    hn_cfg_yaml_node_t *root = NULL, *stack[MAX_DEPTH];
    size_t depth = 0, documents = 0;
    bool done = false;

    while (!done) {
        yaml_event_t ev;
        hn_cfg_yaml_node_t *node = NULL;

        if (!yaml_parser_parse(parser, &ev)) {
            set_yaml_error(parser, name, err);
            goto fail;
        }
        unsigned line = (unsigned)ev.start_mark.line + 1, col = (unsigned)ev.start_mark.column + 1;

        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            /* Two documents would leave it unclear which one is the config. */
            if (++documents > 1) {
                hn_err_set(err, 0, "%s:%u:%u: expected a single YAML document, found another", name,
                           line, col);
                yaml_event_delete(&ev);
                goto fail;
            }
            break;
        case YAML_ALIAS_EVENT:
            hn_err_set(err, 0, "%s:%u:%u: YAML aliases (*%s) are not supported", name, line, col,
                       (const char *)ev.data.alias.anchor);
            yaml_event_delete(&ev);
            goto fail;
        case YAML_SCALAR_EVENT:
            node = new_node(HN_CFG_YAML_SCALAR, ev.start_mark);
            node->text_len = ev.data.scalar.length;
            node->text = hn_xmalloc(node->text_len + 1);
            memcpy(node->text, ev.data.scalar.value, node->text_len);
            node->text[node->text_len] = '\0';
            node->is_null = is_null_scalar(&ev);
            break;
        case YAML_SEQUENCE_START_EVENT:
            node = new_node(HN_CFG_YAML_SEQUENCE, ev.start_mark);
            break;
        case YAML_MAPPING_START_EVENT:
            node = new_node(HN_CFG_YAML_MAPPING, ev.start_mark);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);

        if (node == NULL)
            continue;
        if (depth > 0)
            append_item(stack[depth - 1], node);
        else
            root = node;
        if (node->kind != HN_CFG_YAML_SCALAR) {
            if (depth == MAX_DEPTH) {
                hn_err_set(err, 0, "%s:%u:%u: nested deeper than %d levels", name, line, col,
                           MAX_DEPTH);
                goto fail;
            }
            stack[depth++] = node;
        }
    }

    if (root == NULL || (root->kind == HN_CFG_YAML_SCALAR && root->is_null)) {
        /* A file of comments, or an empty one, configures nothing. */
        yaml_mark_t start = {0, 0, 0};
        hn_cfg_yaml_free(root);
        return new_node(HN_CFG_YAML_MAPPING, start);
    }
    if (root->kind != HN_CFG_YAML_MAPPING) {
        hn_err_set(err, 0,
                   "%s:%u:%u: expected a mapping of keys to values at the top level, got %s", name,
                   root->line, root->column, hn_cfg_yaml_kind_name(root->kind));
        goto fail;
    }
    return root;

fail:
    hn_cfg_yaml_free(root);
    return NULL;
}

static void
set_yaml_error(const yaml_parser_t *parser, const char *name, hn_err_t *err)
{
    const char *problem = parser->problem ? parser->problem : "unknown error";
    yaml_mark_t mark = parser->problem_mark;
    char extra[160] = "";

    /* The reader reports a byte offset and leaves problem_mark unset. */
    if (parser->error == YAML_READER_ERROR) {
        mark = parser->mark;
        if (parser->problem_value != -1)
            snprintf(extra, sizeof(extra), " (byte 0x%X at offset %zu)",
                     (unsigned)parser->problem_value, parser->problem_offset);
    } else if (parser->error == YAML_MEMORY_ERROR) {
        problem = "out of memory";
    } else if (parser->context != NULL) {
        snprintf(extra, sizeof(extra), " (%s at line %zu, column %zu)", parser->context,
                 parser->context_mark.line + 1, parser->context_mark.column + 1);
    }
    hn_err_set(err, 0, "%s:%zu:%zu: invalid YAML: %s%s", name, mark.line + 1, mark.column + 1,
               problem, extra);
}

static hn_cfg_yaml_node_t *
new_node(hn_cfg_yaml_kind_t kind, yaml_mark_t mark)
{
    hn_cfg_yaml_node_t *node = hn_xcalloc(1, sizeof(*node));

    node->kind = kind;
    node->line = (unsigned)mark.line + 1;
    node->column = (unsigned)mark.column + 1;
    return node;
}

static void
append_item(hn_cfg_yaml_node_t *parent, hn_cfg_yaml_node_t *child)
{
    size_t n = parent->n_items;

    /* Grow at powers of two: no capacity field, still amortized O(1). */
    if ((n & (n - 1)) == 0)
        parent->items = hn_xrealloc(parent->items, (n ? 2 * n : 1) * sizeof(*parent->items));
    parent->items[parent->n_items++] = child;
}

static bool
is_null_scalar(const yaml_event_t *ev)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    const char *v = (const char *)ev->data.scalar.value;

    /* Quoted "~" or "" is a string the user meant, not a missing value. */
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    for (size_t i = 0; i < HN_ARRAY_LEN(nulls); i++)
        if (ev->data.scalar.length == strlen(nulls[i]) && strcmp(v, nulls[i]) == 0)
            return true;
    return false;
}
