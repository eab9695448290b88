/*
 * static_encoding.c - Accept-Encoding for builtin:static (RFC 9110
 * §12.5.3): the weight a request gives br, gzip and identity. Which stored
 * sibling is served, and the Vary, Content-Encoding and ETag that go with
 * it, are static.c's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "worker/apps/static_encoding.h"

#include <stdbool.h>
#include <string.h>

#include "shared/common.h"
#include "shared/str.h"

#define NOT_SEEN (-1)

static void weigh_field(const char *p, const char *end, int named[HN_STATIC_ENCODING_COUNT],
                        int *star);
static bool weigh_params(const char *p, const char *end, int *weight);
static const char *skip_ows(const char *p, const char *end);
static const char *token_end(const char *p, const char *end);
static int parse_q(const char *p, const char *end);

static const struct {
    const char *name;
    hn_static_encoding_t coding;
} codings[] = {
    {"br", HN_STATIC_ENCODING_BR},
    {"gzip", HN_STATIC_ENCODING_GZIP},
    {"x-gzip", HN_STATIC_ENCODING_GZIP},
    {"identity", HN_STATIC_ENCODING_IDENTITY},
};

void
hn_static_encoding_weigh(const hornet_header_t *headers, size_t n, int q[HN_STATIC_ENCODING_COUNT])
{
    int named[HN_STATIC_ENCODING_COUNT], star = NOT_SEEN;
    size_t i;

    for (i = 0; i < HN_STATIC_ENCODING_COUNT; i++)
        named[i] = NOT_SEEN;
    /* Several field lines are one comma-separated list (RFC 9110 §5.3). */
    for (i = 0; i < n; i++)
        if (headers[i].name_len == 15 && memcmp(headers[i].name, "accept-encoding", 15) == 0)
            weigh_field(headers[i].value, headers[i].value + headers[i].value_len, named, &star);
    for (i = 0; i < HN_STATIC_ENCODING_COUNT; i++) {
        if (named[i] != NOT_SEEN)
            q[i] = named[i];
        else if (star != NOT_SEEN)
            q[i] = star;
        else
            q[i] = i == HN_STATIC_ENCODING_IDENTITY ? 1000 : 0;
    }
}

/* One field value: #( codings [ OWS ";" OWS "q=" qvalue ] ). The first
 * mention of a coding counts; an element that does not parse is skipped. */
static void
weigh_field(const char *p, const char *end, int named[HN_STATIC_ENCODING_COUNT], int *star)
{
    hn_str_t elem;

    while (hn_str_list_next(&p, end, &elem)) {
        const char *tok = elem.ptr, *tok_end = token_end(tok, elem.ptr + elem.len);
        int weight;
        size_t i;

        if (tok == tok_end || !weigh_params(tok_end, elem.ptr + elem.len, &weight))
            continue;
        if (tok_end - tok == 1 && *tok == '*') {
            if (*star == NOT_SEEN)
                *star = weight;
            continue;
        }
        for (i = 0; i < HN_ARRAY_LEN(codings); i++)
            if (hn_mem_case_eq(tok, (size_t)(tok_end - tok), codings[i].name,
                               strlen(codings[i].name)) &&
                named[codings[i].coding] == NOT_SEEN)
                named[codings[i].coding] = weight;
    }
}

/* What follows a coding: *( OWS ";" OWS name "=" value ), of which only q
 * matters. False if it does not parse. */
static bool
weigh_params(const char *p, const char *end, int *weight)
{
    *weight = 1000;
    for (p = skip_ows(p, end); p < end; p = skip_ows(p, end)) {
        const char *name, *name_end, *value;

        if (*p != ';')
            return false;
        name = skip_ows(p + 1, end);
        name_end = token_end(name, end);
        p = skip_ows(name_end, end);
        if (p == end || *p != '=')
            return false;
        value = skip_ows(p + 1, end);
        p = token_end(value, end);
        if (hn_mem_case_eq(name, (size_t)(name_end - name), "q", 1))
            *weight = parse_q(value, p);
    }
    return true;
}

static const char *
skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

static const char *
token_end(const char *p, const char *end)
{
    while (p < end && *p != ',' && *p != ';' && *p != '=' && *p != ' ' && *p != '\t')
        p++;
    return p;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), in
 * thousandths; anything else is 0. */
static int
parse_q(const char *p, const char *end)
{
    int v, scale = 100;

    if (p == end || (*p != '0' && *p != '1'))
        return 0;
    v = (*p++ - '0') * 1000;
    if (p < end && *p == '.') {
        for (p++; p < end && *p >= '0' && *p <= '9' && scale > 0; p++, scale /= 10)
            v += (*p - '0') * scale;
    }
    return p == end && v <= 1000 ? v : 0;
}
