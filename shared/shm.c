/*
 * shm.c - creation of the master/worker control block (see shm.h). Anonymous
 * shared memory: it exists only between the master and its children, so
 * nothing is left behind in /dev/shm when the server dies.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "shared/shm.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static size_t
shm_size(uint32_t n_slots)
{
    return sizeof(hn_shm_t) + (size_t)n_slots * sizeof(hn_slot_rec_t);
}

hn_shm_t *
hn_shm_create(uint32_t n_slots, hn_err_t *err)
{
    void *p = mmap(NULL, shm_size(n_slots), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED) {
        hn_err_set(err, errno, "cannot map the control block: %s", strerror(errno));
        return NULL;
    }
    hn_shm_t *shm = p; /* mmap returns zeroed memory: every slot starts EMPTY */
    shm->n_slots = n_slots;
    return shm;
}

void
hn_shm_destroy(hn_shm_t *shm)
{
    if (shm)
        munmap(shm, shm_size(shm->n_slots));
}

int64_t
hn_shm_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
