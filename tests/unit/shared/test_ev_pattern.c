/*
 * test_ev_pattern.c - shared/ev_pattern.c: one pattern against one type ("?",
 * "*" matching none, one and many, the empty pattern), the pattern and type
 * checks and their messages, and the subscription tree: each owner reported
 * once, removal pruning the tree back to its root, and the tree agreeing
 * with hn_ev_pattern_matches on random patterns and types.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/ev_pattern.h"

#include <stdint.h>

#include "shared/common.h"
#include "tests/unit/tap.h"

/* Up to 6 segments per case, NULL-terminated: the tables stay readable. */
#define SEGS 7
typedef const char *segs_t[SEGS];

static size_t
nsegs(const segs_t s)
{
    size_t n = 0;
    while (n < SEGS && s[n] != NULL)
        n++;
    return n;
}

static const char *
show(const segs_t s, char *buf, size_t cap)
{
    size_t n = nsegs(s), used = 0;

    buf[0] = '\0';
    used += (size_t)snprintf(buf + used, cap - used, "[");
    for (size_t i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s\"%s\"", i ? "," : "", s[i]);
    if (used < cap)
        snprintf(buf + used, cap - used, "]");
    return buf;
}

static void
test_matches(void)
{
    static const struct {
        segs_t pat, type;
        bool want;
    } cases[] = {
        /* exact */
        {{"a"}, {"a"}, true},
        {{"a", "b", "c"}, {"a", "b", "c"}, true},
        {{"a", "b", "c"}, {"a", "b", "x"}, false},
        {{"a"}, {"b"}, false},
        /* longer and shorter */
        {{"a", "b"}, {"a"}, false},
        {{"a"}, {"a", "b"}, false},
        {{"a", "b", "c"}, {"a", "b"}, false},
        /* "?" is exactly one segment, anywhere */
        {{"?"}, {"x"}, true},
        {{"?"}, {"x", "y"}, false},
        {{"a", "?"}, {"a", "b"}, true},
        {{"a", "?"}, {"a"}, false},
        {{"a", "?"}, {"a", "b", "c"}, false},
        {{"?", "b"}, {"a", "b"}, true},
        {{"?", "b"}, {"a", "c"}, false},
        {{"a", "?", "c"}, {"a", "zz", "c"}, true},
        {{"?", "?", "?"}, {"x", "y", "z"}, true},
        {{"?", "?", "?"}, {"x", "y"}, false},
        /* "*" is none, one or many */
        {{"*"}, {"a"}, true},
        {{"*"}, {"a", "b", "c", "d", "e", "f"}, true},
        {{"a", "*"}, {"a"}, true},
        {{"a", "*"}, {"a", "b"}, true},
        {{"a", "*"}, {"a", "b", "c"}, true},
        {{"a", "*"}, {"b"}, false},
        {{"a", "*"}, {"b", "a"}, false},
        {{"a", "b", "*"}, {"a"}, false},
        /* "?" and "*" together */
        {{"?", "*"}, {"x"}, true},
        {{"?", "*"}, {"x", "y", "z"}, true},
        {{"?", "b", "*"}, {"x", "b"}, true},
        {{"?", "b", "*"}, {"x", "b", "y", "z"}, true},
        {{"?", "b", "*"}, {"x", "c", "y"}, false},
        {{"?", "b", "*"}, {"x"}, false},
        {{"a", "?", "*"}, {"a"}, false},
        {{"a", "?", "*"}, {"a", "b"}, true},
        /* wildcards are literal strings only when spelt out whole */
        {{"a?"}, {"ab"}, false},
        {{"a*"}, {"ab"}, false},
        {{"a*"}, {"a*"}, true},
        /* the empty pattern matches nothing; nothing matches the empty type */
        {{NULL}, {"a"}, false},
        {{NULL}, {NULL}, false},
        {{"*"}, {NULL}, false},
    };
    char pb[128], tb[128];

    for (size_t i = 0; i < HN_ARRAY_LEN(cases); i++) {
        size_t np = nsegs(cases[i].pat), nt = nsegs(cases[i].type);
        ok(hn_ev_pattern_matches(cases[i].pat, np, cases[i].type, nt) == cases[i].want, "%s %s %s",
           show(cases[i].pat, pb, sizeof(pb)), cases[i].want ? "matches" : "misses",
           show(cases[i].type, tb, sizeof(tb)));
    }
}

static void
test_checks(void)
{
    static const struct {
        segs_t segs;
        bool pattern_ok, type_ok;
        const char *pattern_msg, *type_msg; /* a part of each refusal's message */
    } cases[] = {
        {{"a"}, true, true, NULL, NULL},
        {{"chat", "room1", "msg"}, true, true, NULL, NULL},
        {{"?"}, true, false, NULL, "segment 0 is \"?\""},
        {{"a", "?", "c"}, true, false, NULL, "segment 1 is \"?\""},
        {{"*"}, true, false, NULL, "segment 0 is \"*\""},
        {{"a", "*"}, true, false, NULL, "segment 1 is \"*\""},
        {{"?", "b", "*"}, true, false, NULL, "segment 0 is \"?\""},
        {{NULL}, true, false, NULL, "no segments"},
        {{"*", "a"}, false, false, "only as the last segment (segment 0 of 2)", "segment 0"},
        {{"a", "*", "b"}, false, false, "only as the last segment (segment 1 of 3)", "segment 1"},
        {{"a", "*", "*"}, false, false, "(segment 1 of 3)", "segment 1"},
        {{""}, false, false, "segment 0 is empty", "segment 0 is empty"},
        {{"a", "b", ""}, false, false, "segment 2 is empty", "segment 2 is empty"},
        {{"a", "", "*"}, false, false, "segment 1 is empty", "segment 1 is empty"},
        /* wildcard-looking strings that are not wildcards */
        {{"a?", "*b", "**"}, true, true, NULL, NULL},
    };
    char buf[128];
    hn_err_t err;

    for (size_t i = 0; i < HN_ARRAY_LEN(cases); i++) {
        const char *const *s = cases[i].segs;
        size_t n = nsegs(cases[i].segs);
        show(cases[i].segs, buf, sizeof(buf));

        err.msg[0] = '\0';
        int rc = hn_ev_pattern_check(s, n, &err);
        is_int(rc, cases[i].pattern_ok ? HN_OK : HN_ERR, "pattern %s %s", buf,
               cases[i].pattern_ok ? "is valid" : "is refused");
        if (!cases[i].pattern_ok)
            ok(strstr(err.msg, cases[i].pattern_msg) != NULL, "pattern %s: \"%s\" says \"%s\"", buf,
               err.msg, cases[i].pattern_msg);

        err.msg[0] = '\0';
        rc = hn_ev_type_check(s, n, &err);
        is_int(rc, cases[i].type_ok ? HN_OK : HN_ERR, "type %s %s", buf,
               cases[i].type_ok ? "is valid" : "is refused");
        if (!cases[i].type_ok)
            ok(strstr(err.msg, cases[i].type_msg) != NULL, "type %s: \"%s\" says \"%s\"", buf,
               err.msg, cases[i].type_msg);
    }

    /* the limits, at and one past */
    const char *many[HN_EV_MAX_SEGMENTS + 1];
    for (size_t i = 0; i < HN_ARRAY_LEN(many); i++)
        many[i] = "s";
    is_int(hn_ev_pattern_check(many, HN_EV_MAX_SEGMENTS, &err), HN_OK, "64 segments are allowed");
    is_int(hn_ev_type_check(many, HN_EV_MAX_SEGMENTS, &err), HN_OK,
           "a type of 64 segments is allowed");
    is_int(hn_ev_pattern_check(many, HN_EV_MAX_SEGMENTS + 1, &err), HN_ERR,
           "65 segments are refused");
    ok(strstr(err.msg, "65 segments") != NULL, "the message counts them: \"%s\"", err.msg);
    is_int(hn_ev_type_check(many, HN_EV_MAX_SEGMENTS + 1, &err), HN_ERR,
           "a type of 65 segments is refused");

    char seg[HN_EV_MAX_SEGMENT_LEN + 2];
    memset(seg, 'x', sizeof(seg) - 1);
    seg[HN_EV_MAX_SEGMENT_LEN] = '\0';
    const char *longs[] = {"a", seg};
    is_int(hn_ev_pattern_check(longs, 2, &err), HN_OK, "a 255-byte segment is allowed");
    is_int(hn_ev_type_check(longs, 2, &err), HN_OK, "a 255-byte segment is allowed in a type");
    seg[HN_EV_MAX_SEGMENT_LEN] = 'x';
    seg[HN_EV_MAX_SEGMENT_LEN + 1] = '\0';
    is_int(hn_ev_pattern_check(longs, 2, &err), HN_ERR, "a 256-byte segment is refused");
    ok(strstr(err.msg, "segment 1 is longer than 255 bytes") != NULL,
       "the message names it: \"%s\"", err.msg);
    is_int(hn_ev_type_check(longs, 2, &err), HN_ERR, "a 256-byte segment is refused in a type");

    const char *nul[] = {"a", NULL};
    is_int(hn_ev_pattern_check(nul, 2, &err), HN_ERR, "a NULL segment is refused");
    ok(strstr(err.msg, "segment 1 is NULL") != NULL, "the message names it: \"%s\"", err.msg);
    is_int(hn_ev_pattern_check(many, 1, NULL), HN_OK, "err may be NULL (valid)");
    is_int(hn_ev_pattern_check(nul, 2, NULL), HN_ERR, "err may be NULL (refused)");
}

/* ---- the tree ---------------------------------------------------------- */

#define NOWNERS 20
static int owners[NOWNERS];

typedef struct seen {
    int count[NOWNERS];
    int stray; /* reports of an owner we never added */
} seen_t;

static void
on_match(void *owner, void *ud)
{
    seen_t *s = ud;
    int *o = owner;

    if (o >= owners && o < owners + NOWNERS)
        s->count[o - owners]++;
    else
        s->stray++;
}

/* Match type and compare with want (owner indices, -1 terminated): each
 * wanted owner once, no other, and the return value is the count. */
static void
expect(const hn_ev_tree_t *t, const segs_t type, const int *want, const char *what)
{
    seen_t s = {0};
    bool wanted[NOWNERS] = {0};
    size_t nwant = 0;
    char tb[128];

    for (; *want >= 0; want++, nwant++)
        wanted[*want] = true;
    size_t got = hn_ev_tree_match(t, type, nsegs(type), on_match, &s);
    bool same = s.stray == 0;
    for (int i = 0; i < NOWNERS; i++)
        same = same && s.count[i] == (wanted[i] ? 1 : 0);
    show(type, tb, sizeof(tb));
    if (!ok(same && got == nwant, "%s: %s reports the expected owners once each", what, tb)) {
        printf("#   returned %zu, want %zu; counts:", got, nwant);
        for (int i = 0; i < NOWNERS; i++)
            if (s.count[i] || wanted[i])
                printf(" %d:%d/%d", i, s.count[i], wanted[i] ? 1 : 0);
        printf("\n");
    }
}

static void
add(hn_ev_tree_t *t, int owner, const segs_t pat)
{
    hn_ev_tree_add(t, &owners[owner], pat, nsegs(pat));
}

static void
test_tree(void)
{
    hn_ev_tree_t *t = hn_ev_tree_new();

    is_int(hn_ev_tree_nodes(t), 1, "a new tree is its root");
    expect(t, (segs_t){"a"}, (int[]){-1}, "empty tree");

    add(t, 0, (segs_t){"a", "*"});
    add(t, 0, (segs_t){"a", "b"}); /* overlaps owner 0's other pattern */
    add(t, 1, (segs_t){"a", "b"});
    add(t, 1, (segs_t){"a", "b"}); /* repeated: counted once */
    add(t, 2, (segs_t){"?", "b", "*"});
    add(t, 3, (segs_t){"*"});
    add(t, 4, (segs_t){"a", "?"});
    add(t, 4, (segs_t){"?", "c"});
    add(t, 5, (segs_t){"x", "y", "z"});
    add(t, 6, (segs_t){NULL}); /* matches nothing */
    add(t, 7, (segs_t){"?"});
    add(t, 8, (segs_t){"a", "b", "c"});

    expect(t, (segs_t){"a"}, (int[]){0, 3, 7, -1}, "added");
    expect(t, (segs_t){"a", "b"}, (int[]){0, 1, 2, 3, 4, -1}, "added");
    expect(t, (segs_t){"a", "c"}, (int[]){0, 3, 4, -1}, "added");
    expect(t, (segs_t){"a", "b", "c"}, (int[]){0, 2, 3, 8, -1}, "added");
    expect(t, (segs_t){"q", "b", "r", "s"}, (int[]){2, 3, -1}, "added");
    expect(t, (segs_t){"x", "y", "z"}, (int[]){3, 5, -1}, "added");
    expect(t, (segs_t){"x", "y"}, (int[]){3, -1}, "added");
    expect(t, (segs_t){NULL}, (int[]){-1}, "added (empty type)");

    size_t full = hn_ev_tree_nodes(t);
    add(t, 1, (segs_t){"a", "b"});
    add(t, 0, (segs_t){"a", "*"});
    is_int(hn_ev_tree_nodes(t), full, "adding a pattern again adds no node");

    hn_ev_tree_remove(t, &owners[0]);
    expect(t, (segs_t){"a"}, (int[]){3, 7, -1}, "owner 0 removed");
    expect(t, (segs_t){"a", "b"}, (int[]){1, 2, 3, 4, -1}, "owner 0 removed");
    expect(t, (segs_t){"a", "b", "c"}, (int[]){2, 3, 8, -1}, "owner 0 removed");

    hn_ev_tree_remove(t, &owners[5]);
    ok(hn_ev_tree_nodes(t) < full, "removing owner 5 frees its nodes (%zu < %zu)",
       hn_ev_tree_nodes(t), full);
    expect(t, (segs_t){"x", "y", "z"}, (int[]){3, -1}, "owner 5 removed");

    size_t before = hn_ev_tree_nodes(t);
    hn_ev_tree_remove(t, &owners[5]);
    hn_ev_tree_remove(t, &owners[19]);
    is_int(hn_ev_tree_nodes(t), before,
           "removing an owner twice, or one never added, changes nothing");
    expect(t, (segs_t){"a", "b"}, (int[]){1, 2, 3, 4, -1}, "owner 5 removed twice");

    for (int i = 0; i < NOWNERS; i++)
        hn_ev_tree_remove(t, &owners[i]);
    is_int(hn_ev_tree_nodes(t), 1, "all owners removed: the root is left");
    expect(t, (segs_t){"a", "b"}, (int[]){-1}, "all removed");

    /* the tree still works after being emptied */
    add(t, 9, (segs_t){"a", "b"});
    expect(t, (segs_t){"a", "b"}, (int[]){9, -1}, "re-added");
    is_int(hn_ev_tree_nodes(t), 3, "re-added: root, a, b");

    hn_ev_tree_free(t);
    hn_ev_tree_free(NULL);
}

/* xorshift64: deterministic and the same on every libc, unlike rand(). */
static uint64_t rng_state = 0x2545F4914F6CDD1DULL;

static unsigned
rnd(unsigned n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (unsigned)(rng_state % n);
}

#define NPATTERNS 200
#define NTYPES 1000

typedef struct rpat {
    const char *seg[4];
    size_t n;
    int owner;
} rpat_t;

/* Random types against the tree and against the oracle; returns the number
 * of types on which they disagree, and in *hits the (type, owner) matches. */
static int
cross_check(const hn_ev_tree_t *t, const rpat_t *pats, const bool *live, size_t *hits)
{
    static const char *const alpha[] = {"a", "b", "c"};
    int bad = 0;

    *hits = 0;
    for (int k = 0; k < NTYPES; k++) {
        const char *type[5];
        size_t nt = 1 + rnd(5);
        for (size_t i = 0; i < nt; i++)
            type[i] = alpha[rnd(3)];

        bool want[NOWNERS] = {0};
        for (int p = 0; p < NPATTERNS; p++) {
            if (live[pats[p].owner] && hn_ev_pattern_matches(pats[p].seg, pats[p].n, type, nt))
                want[pats[p].owner] = true;
        }
        seen_t s = {0};
        size_t got = hn_ev_tree_match(t, type, nt, on_match, &s);
        size_t nwant = 0;
        bool same = s.stray == 0;
        for (int i = 0; i < NOWNERS; i++) {
            nwant += want[i];
            same = same && s.count[i] == (want[i] ? 1 : 0);
        }
        if (!same || got != nwant) {
            if (bad++ < 5)
                printf("# disagreement on type %d (length %zu)\n", k, nt);
        }
        *hits += nwant;
    }
    return bad;
}

static void
test_random(void)
{
    static const char *const alpha[] = {"a", "b", "c", "?", "*"};
    static rpat_t pats[NPATTERNS];
    bool live[NOWNERS];
    hn_err_t err;
    int invalid = 0;
    size_t hits;

    for (int p = 0; p < NPATTERNS; p++) {
        pats[p].n = rnd(5);
        for (size_t i = 0; i < pats[p].n; i++) {
            /* "*" only in the last place */
            bool last = i == pats[p].n - 1;
            pats[p].seg[i] = alpha[rnd(last ? 5 : 4)];
        }
        pats[p].owner = (int)rnd(NOWNERS);
        if (hn_ev_pattern_check(pats[p].seg, pats[p].n, &err) != HN_OK)
            invalid++;
    }
    is_int(invalid, 0, "the random patterns are all valid");

    hn_ev_tree_t *t = hn_ev_tree_new();
    for (int p = 0; p < NPATTERNS; p++)
        hn_ev_tree_add(t, &owners[pats[p].owner], pats[p].seg, pats[p].n);
    for (int i = 0; i < NOWNERS; i++)
        live[i] = true;

    is_int(cross_check(t, pats, live, &hits), 0,
           "tree and oracle agree on %d random types, %d owners", NTYPES, NOWNERS);
    /* a cross-check where all or nothing matches proves little */
    ok(hits > NTYPES * NOWNERS / 10 && hits < NTYPES * NOWNERS * 9 / 10,
       "between 10%% and 90%% of (type, owner) pairs match (%zu of %d)", hits, NTYPES * NOWNERS);

    for (int i = 0; i < NOWNERS; i += 2) {
        hn_ev_tree_remove(t, &owners[i]);
        live[i] = false;
    }
    is_int(cross_check(t, pats, live, &hits), 0,
           "tree and oracle agree with the even owners removed");

    for (int i = 1; i < NOWNERS; i += 2)
        hn_ev_tree_remove(t, &owners[i]);
    is_int(hn_ev_tree_nodes(t), 1, "every random owner removed: the root is left");
    hn_ev_tree_free(t);
}

int
main(void)
{
    test_matches();
    test_checks();
    test_tree();
    test_random();
    return tap_done();
}
