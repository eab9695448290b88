/*
 * shm.h - the control block the master shares with its workers: created with
 * mmap(MAP_SHARED) before the first fork. It holds the shutdown flag, the
 * generation, and one record per worker process that the worker keeps
 * current (state, heartbeat, counters) and the master reads. Records belong
 * to processes, not slots: during a replacement the old and the new worker
 * of a slot each have their own, so counters and heartbeats never mix.
 *
 * Workers are woken by a signal (TERM: drain, QUIT: stop now); the flag and
 * the slot state tell them and later readers why.
 */
#ifndef HN_SHARED_SHM_H
#define HN_SHARED_SHM_H

#include <stdatomic.h>
#include <stdint.h>

#include "shared/common.h"

/* Enough for every slot's worker, its successor and the drainers. */
#define HN_SHM_RECORDS 2048

/* Words a worker writes to the master's pipe: its record number when it
 * accepts connections, or the record number with this flag to ask to be
 * replaced (max_requests). */
#define HN_SHM_WORD_RECYCLE 0x80000000u

typedef enum hn_slot_state {
    HN_SLOT_EMPTY = 0,
    HN_SLOT_STARTING, /* forked, loading the app */
    HN_SLOT_READY,    /* accepting connections */
    HN_SLOT_DRAINING, /* stopped accepting, finishing requests */
    HN_SLOT_EXITED,
} hn_slot_state_t;

typedef struct hn_slot_rec {
    _Atomic int32_t pid;
    _Atomic int32_t state;          /* hn_slot_state_t */
    _Atomic uint32_t generation;
    _Atomic int64_t start_ms;       /* CLOCK_MONOTONIC milliseconds */
    _Atomic int64_t heartbeat_ms;   /* last loop iteration, CLOCK_MONOTONIC ms */
    _Atomic uint64_t requests;
    _Atomic uint32_t connections;
} __attribute__((aligned(64))) hn_slot_rec_t;

typedef struct hn_shm {
    _Atomic int32_t shutdown; /* 0 running, 1 graceful stop, 2 immediate stop */
    _Atomic uint32_t generation;
    uint32_t n_slots;         /* capacity of slots[] (records, see above) */
    hn_slot_rec_t slots[];
} hn_shm_t;

hn_shm_t *hn_shm_create(uint32_t n_slots, hn_err_t *err);
void hn_shm_destroy(hn_shm_t *shm);
int64_t hn_shm_now_ms(void);

#endif
