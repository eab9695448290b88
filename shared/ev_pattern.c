/*
 * ev_pattern.c - checking event types and patterns, matching one against the
 * other, and the subscription tree that matches a type against every owner's
 * patterns at once.
 *
 * The tree is a trie keyed by segment. A pattern ending in "*" is stored at
 * the node of its prefix, in star_owners, because "*" matches whatever is
 * left of the type, nothing included; "?" has its own child, q, so a walk
 * follows at most two children per segment. Owners are records in a
 * registry (owner pointer -> record); the nodes hold record pointers, and a
 * record remembers its nodes so that removing an owner touches only them.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/ev_pattern.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shared/mem.h"

typedef struct ev_node ev_node_t;
typedef struct ev_rec ev_rec_t;

/* A set of owner records: few members per node, so an unordered array. */
typedef struct ev_set {
    ev_rec_t **v;
    size_t n, cap;
} ev_set_t;

struct ev_node {
    ev_node_t *parent;
    char *seg;        /* key in parent->kids; NULL for the root and a q child */
    ev_node_t **kids; /* sorted by seg, for a binary search per segment */
    size_t nkids, kids_cap;
    ev_node_t *q;    /* the "?" child */
    ev_set_t owners; /* patterns ending exactly here */
    ev_set_t star;   /* patterns ending in "*" after this node's prefix */
};

typedef struct ev_member {
    ev_node_t *node;
    bool star;
} ev_member_t;

struct ev_rec {
    void *owner;
    ev_rec_t *next;    /* registry bucket chain */
    uint64_t seen_gen; /* the last match that reported this owner */
    ev_member_t *mem;  /* the sets this record is in */
    size_t nmem, mem_cap;
};

/* The part of the tree a match writes (the generation and, through the
 * records, their stamps): behind a pointer, so match can take a const tree. */
typedef struct ev_registry {
    ev_rec_t **buckets;
    size_t nbuckets; /* a power of two */
    size_t count;
    uint64_t gen;
} ev_registry_t;

struct hn_ev_tree {
    ev_node_t *root;
    size_t nnodes;
    ev_registry_t *reg;
};

/* ---- checks ---------------------------------------------------------- */

static int
check_segments(const char *const *seg, size_t n, bool is_type, hn_err_t *err)
{
    const char *what = is_type ? "event type" : "pattern";

    if (n > HN_EV_MAX_SEGMENTS) {
        hn_err_set(err, 0, "%s has %zu segments, more than the %d allowed", what, n,
                   HN_EV_MAX_SEGMENTS);
        return HN_ERR;
    }
    if (is_type && n == 0) {
        hn_err_set(err, 0, "event type has no segments (it needs at least one)");
        return HN_ERR;
    }
    for (size_t i = 0; i < n; i++) {
        const char *s = seg[i];
        if (s == NULL) {
            hn_err_set(err, 0, "%s segment %zu is NULL", what, i);
            return HN_ERR;
        }
        if (s[0] == '\0') {
            hn_err_set(err, 0, "%s segment %zu is empty", what, i);
            return HN_ERR;
        }
        /* strnlen: an absurdly long segment costs no more than a long one */
        if (strnlen(s, HN_EV_MAX_SEGMENT_LEN + 1) > HN_EV_MAX_SEGMENT_LEN) {
            hn_err_set(err, 0, "%s segment %zu is longer than %d bytes", what, i,
                       HN_EV_MAX_SEGMENT_LEN);
            return HN_ERR;
        }
        bool star = strcmp(s, "*") == 0;
        if (is_type && (star || strcmp(s, "?") == 0)) {
            hn_err_set(err, 0, "event type segment %zu is \"%s\": wildcards belong in patterns", i,
                       s);
            return HN_ERR;
        }
        if (star && i != n - 1) {
            hn_err_set(err, 0, "\"*\" is allowed only as the last segment (segment %zu of %zu)", i,
                       n);
            return HN_ERR;
        }
    }
    return HN_OK;
}

int
hn_ev_pattern_check(const char *const *seg, size_t n, hn_err_t *err)
{
    return check_segments(seg, n, false, err);
}

int
hn_ev_type_check(const char *const *seg, size_t n, hn_err_t *err)
{
    return check_segments(seg, n, true, err);
}

/* ---- one pattern, one type ------------------------------------------- */

static inline bool
is_star(const char *s)
{
    return s[0] == '*' && s[1] == '\0';
}

static inline bool
is_q(const char *s)
{
    return s[0] == '?' && s[1] == '\0';
}

bool
hn_ev_pattern_matches(const char *const *pat, size_t npat, const char *const *type, size_t ntype)
{
    /* The empty type is invalid; refusing it here makes [] match nothing. */
    if (ntype == 0)
        return false;
    bool open = npat > 0 && is_star(pat[npat - 1]);
    size_t fixed = open ? npat - 1 : npat;
    if (ntype < fixed || (!open && ntype != fixed))
        return false;
    for (size_t i = 0; i < fixed; i++) {
        if (!is_q(pat[i]) && strcmp(pat[i], type[i]) != 0)
            return false;
    }
    return true;
}

/* ---- owner sets ------------------------------------------------------- */

static void
set_add(ev_set_t *s, ev_rec_t *r)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 2;
        s->v = hn_xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = r;
}

static bool
set_has(const ev_set_t *s, const ev_rec_t *r)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i] == r)
            return true;
    }
    return false;
}

static void
set_del(ev_set_t *s, const ev_rec_t *r)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i] == r) {
            s->v[i] = s->v[--s->n];
            break;
        }
    }
    /* Subscriptions come and go; an emptied set gives its memory back. */
    if (s->n == 0) {
        free(s->v);
        *s = (ev_set_t){0};
    }
}

/* ---- registry --------------------------------------------------------- */

static size_t
ptr_hash(const void *p, size_t nbuckets)
{
    /* Allocator addresses share their low bits; the multiply spreads the
     * high ones down before the mask. */
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 32) & (nbuckets - 1);
}

static ev_rec_t **
reg_slot(const ev_registry_t *reg, const void *owner)
{
    ev_rec_t **pp = &reg->buckets[ptr_hash(owner, reg->nbuckets)];
    while (*pp != NULL && (*pp)->owner != owner)
        pp = &(*pp)->next;
    return pp;
}

static void
reg_grow(ev_registry_t *reg)
{
    size_t nb = reg->nbuckets * 2;
    ev_rec_t **b = hn_xcalloc(nb, sizeof(*b));

    for (size_t i = 0; i < reg->nbuckets; i++) {
        ev_rec_t *r = reg->buckets[i], *next;
        for (; r != NULL; r = next) {
            next = r->next;
            size_t h = ptr_hash(r->owner, nb);
            r->next = b[h];
            b[h] = r;
        }
    }
    free(reg->buckets);
    reg->buckets = b;
    reg->nbuckets = nb;
}

static ev_rec_t *
reg_get(ev_registry_t *reg, void *owner)
{
    ev_rec_t **pp = reg_slot(reg, owner);
    if (*pp != NULL)
        return *pp;
    if (reg->count >= reg->nbuckets) {
        reg_grow(reg);
        pp = reg_slot(reg, owner);
    }
    ev_rec_t *r = hn_xcalloc(1, sizeof(*r));
    r->owner = owner;
    /* seen_gen 0 is never a match's generation (the first is 1) */
    *pp = r;
    reg->count++;
    return r;
}

/* ---- nodes ------------------------------------------------------------ */

static ev_node_t *
node_new(hn_ev_tree_t *t, ev_node_t *parent, const char *seg)
{
    ev_node_t *n = hn_xcalloc(1, sizeof(*n));
    n->parent = parent;
    n->seg = seg ? hn_xstrdup(seg) : NULL;
    t->nnodes++;
    return n;
}

/* Index of seg in n->kids, or where it would go (with *found false). */
static size_t
kid_pos(const ev_node_t *n, const char *seg, bool *found)
{
    size_t lo = 0, hi = n->nkids;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(seg, n->kids[mid]->seg);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    *found = false;
    return lo;
}

static ev_node_t *
kid_find(const ev_node_t *n, const char *seg)
{
    bool found;
    size_t i = kid_pos(n, seg, &found);
    return found ? n->kids[i] : NULL;
}

static ev_node_t *
kid_get(hn_ev_tree_t *t, ev_node_t *n, const char *seg)
{
    if (is_q(seg)) {
        if (n->q == NULL)
            n->q = node_new(t, n, NULL);
        return n->q;
    }
    bool found;
    size_t i = kid_pos(n, seg, &found);
    if (found)
        return n->kids[i];
    if (n->nkids == n->kids_cap) {
        n->kids_cap = n->kids_cap ? 2 * n->kids_cap : 2;
        n->kids = hn_xrealloc(n->kids, n->kids_cap * sizeof(*n->kids));
    }
    memmove(&n->kids[i + 1], &n->kids[i], (n->nkids - i) * sizeof(*n->kids));
    n->kids[i] = node_new(t, n, seg);
    n->nkids++;
    return n->kids[i];
}

static void
node_free(ev_node_t *n)
{
    free(n->seg);
    free(n->kids);
    free(n->owners.v);
    free(n->star.v);
    free(n);
}

static bool
node_empty(const ev_node_t *n)
{
    return n->nkids == 0 && n->q == NULL && n->owners.n == 0 && n->star.n == 0;
}

/* Free n and every ancestor it leaves empty, up to (not including) the root. */
static void
prune(hn_ev_tree_t *t, ev_node_t *n)
{
    while (n->parent != NULL && node_empty(n)) {
        ev_node_t *p = n->parent;
        if (p->q == n) {
            p->q = NULL;
        } else {
            bool found;
            size_t i = kid_pos(p, n->seg, &found);
            memmove(&p->kids[i], &p->kids[i + 1], (p->nkids - i - 1) * sizeof(*p->kids));
            if (--p->nkids == 0) {
                free(p->kids);
                p->kids = NULL;
                p->kids_cap = 0;
            }
        }
        node_free(n);
        t->nnodes--;
        n = p;
    }
}

static void
subtree_free(ev_node_t *n)
{
    for (size_t i = 0; i < n->nkids; i++)
        subtree_free(n->kids[i]);
    if (n->q != NULL)
        subtree_free(n->q);
    node_free(n);
}

/* ---- the tree --------------------------------------------------------- */

hn_ev_tree_t *
hn_ev_tree_new(void)
{
    hn_ev_tree_t *t = hn_xcalloc(1, sizeof(*t));
    t->root = node_new(t, NULL, NULL);
    t->reg = hn_xcalloc(1, sizeof(*t->reg));
    t->reg->nbuckets = 16;
    t->reg->buckets = hn_xcalloc(t->reg->nbuckets, sizeof(*t->reg->buckets));
    return t;
}

void
hn_ev_tree_free(hn_ev_tree_t *t)
{
    if (t == NULL)
        return;
    subtree_free(t->root);
    for (size_t i = 0; i < t->reg->nbuckets; i++) {
        ev_rec_t *r = t->reg->buckets[i], *next;
        for (; r != NULL; r = next) {
            next = r->next;
            free(r->mem);
            free(r);
        }
    }
    free(t->reg->buckets);
    free(t->reg);
    free(t);
}

void
hn_ev_tree_add(hn_ev_tree_t *t, void *owner, const char *const *pat, size_t n)
{
    if (n == 0)
        return;
    bool open = is_star(pat[n - 1]);
    size_t fixed = open ? n - 1 : n;
    ev_node_t *node = t->root;
    for (size_t i = 0; i < fixed; i++)
        node = kid_get(t, node, pat[i]);

    ev_rec_t *r = reg_get(t->reg, owner);
    ev_set_t *set = open ? &node->star : &node->owners;
    /* A repeat is found in whichever list is shorter: the node's members or
     * the owner's memberships. */
    if (set->n <= r->nmem) {
        if (set_has(set, r))
            return;
    } else {
        for (size_t i = 0; i < r->nmem; i++) {
            if (r->mem[i].node == node && r->mem[i].star == open)
                return;
        }
    }
    set_add(set, r);
    if (r->nmem == r->mem_cap) {
        r->mem_cap = r->mem_cap ? 2 * r->mem_cap : 2;
        r->mem = hn_xrealloc(r->mem, r->mem_cap * sizeof(*r->mem));
    }
    r->mem[r->nmem++] = (ev_member_t){node, open};
}

void
hn_ev_tree_remove(hn_ev_tree_t *t, void *owner)
{
    ev_rec_t **pp = reg_slot(t->reg, owner);
    ev_rec_t *r = *pp;
    if (r == NULL)
        return;
    /* Pruning one membership's node cannot free another's: a node holding
     * r is not empty until its own turn comes. */
    for (size_t i = 0; i < r->nmem; i++) {
        ev_node_t *node = r->mem[i].node;
        set_del(r->mem[i].star ? &node->star : &node->owners, r);
        prune(t, node);
    }
    *pp = r->next;
    t->reg->count--;
    free(r->mem);
    free(r);
}

typedef struct match_ctx {
    const char *const *type;
    size_t n;
    uint64_t gen;
    void (*cb)(void *owner, void *ud);
    void *ud;
    size_t reported;
} match_ctx_t;

static void
report(match_ctx_t *m, const ev_set_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        ev_rec_t *r = s->v[i];
        if (r->seen_gen != m->gen) {
            r->seen_gen = m->gen;
            m->reported++;
            m->cb(r->owner, m->ud);
        }
    }
}

static void
match_at(match_ctx_t *m, const ev_node_t *node, size_t d)
{
    /* A trailing "*" after this prefix takes the rest of the type, even
     * none of it (d == n). */
    report(m, &node->star);
    if (d == m->n) {
        report(m, &node->owners);
        return;
    }
    const ev_node_t *kid = node->nkids ? kid_find(node, m->type[d]) : NULL;
    if (kid != NULL)
        match_at(m, kid, d + 1);
    if (node->q != NULL)
        match_at(m, node->q, d + 1);
}

size_t
hn_ev_tree_match(const hn_ev_tree_t *t, const char *const *type, size_t n,
                 void (*cb)(void *owner, void *ud), void *ud)
{
    /* Same rule as hn_ev_pattern_matches: nothing matches the empty type. */
    if (n == 0)
        return 0;
    match_ctx_t m = {
        .type = type,
        .n = n,
        .gen = ++t->reg->gen,
        .cb = cb,
        .ud = ud,
        .reported = 0,
    };
    match_at(&m, t->root, 0);
    return m.reported;
}

size_t
hn_ev_tree_nodes(const hn_ev_tree_t *t)
{
    return t->nnodes;
}
