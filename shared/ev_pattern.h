/*
 * ev_pattern.h - event types, subscription patterns and the subscription
 * tree of the event hub, with the semantics of hat.event's eventer.
 *
 * An event type is a list of string segments, ["chat", "room1", "msg"]. A
 * pattern is a type in which "?" stands for exactly one segment and a last
 * "*" for zero or more. An owner subscribes with a set of patterns; an empty
 * set matches nothing.
 *
 * Unlike hat.event, a type needs at least one segment, so the empty pattern
 * [] (whose only match would be the empty type) matches nothing, and nothing
 * matches the empty type, not even ["*"].
 */
#ifndef HN_SHARED_EV_PATTERN_H
#define HN_SHARED_EV_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#include "shared/common.h"

#define HN_EV_MAX_SEGMENTS 64
#define HN_EV_MAX_SEGMENT_LEN 255

/* HN_OK, or HN_ERR with err naming the problem and the segment. Segment
 * indices in the messages count from 0, as in the JSON arrays clients send.
 * A pattern has at most HN_EV_MAX_SEGMENTS segments, none empty, NULL or
 * longer than HN_EV_MAX_SEGMENT_LEN bytes, and "*" only as the last one. A
 * type follows the same rules, has at least one segment and no "?" or "*". */
int hn_ev_pattern_check(const char *const *seg, size_t n, hn_err_t *err);
int hn_ev_type_check(const char *const *seg, size_t n, hn_err_t *err);

/* One pattern against one type, without a tree (a query's filter, and the
 * tests' oracle). Both are taken as checked: a "*" that is not last and any
 * segment of the type are compared as plain strings. */
bool hn_ev_pattern_matches(const char *const *pat, size_t npat, const char *const *type,
                           size_t ntype);

/* Owners (opaque pointers) subscribe with patterns; match(type) reports each
 * owner with a matching pattern once, at a cost that follows the type's
 * length and the "?"/"*" branching, not the number of owners. */
typedef struct hn_ev_tree hn_ev_tree_t;

hn_ev_tree_t *hn_ev_tree_new(void);
void hn_ev_tree_free(hn_ev_tree_t *t);
/* Add one checked pattern for owner; the segments are copied. The same
 * (owner, pattern) twice counts once. The empty pattern is not stored: it
 * matches nothing. */
void hn_ev_tree_add(hn_ev_tree_t *t, void *owner, const char *const *pat, size_t n);
/* Drop every pattern of owner (none is fine) and the nodes left empty. */
void hn_ev_tree_remove(hn_ev_tree_t *t, void *owner);
/* Call cb(owner, ud) once for each owner with a pattern matching type;
 * returns how many were reported. cb must neither modify the tree nor match
 * on it, and two matches on one tree must not run at once: a match stamps
 * the owners it reports, which is how it skips repeats without a set. */
size_t hn_ev_tree_match(const hn_ev_tree_t *t, const char *const *type, size_t n,
                        void (*cb)(void *owner, void *ud), void *ud);
/* Nodes in the tree, the root included (for tests: 1 once all are removed). */
size_t hn_ev_tree_nodes(const hn_ev_tree_t *t);

#endif
