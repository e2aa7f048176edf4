/* lib/engine/bigmem.c — buffers for large message arrays.
 *
 * A buffer of at least BIG_MIN bytes is an anonymous mapping with
 * transparent huge pages requested (Linux madvise MADV_HUGEPAGE): the
 * kernels gather from message vectors of millions of entries at random, and
 * with 4 KiB pages nearly every such read also misses the TLB; 2 MiB pages
 * cover a vector with a few entries. Smaller buffers come from calloc. The
 * mapping's length sits in a header before the returned pointer.
 *
 * Released mappings are kept for reuse, as malloc keeps its small blocks: a
 * fresh mapping is zeroed by the kernel one page fault at a time, which
 * costs a tenth of a 10^5-state solve, and a solve's arrays come back at the
 * next solve of the same model. At most BIG_CACHE mappings are kept; their
 * pages are handed back to the kernel lazily (MADV_FREE), so under memory
 * pressure it reclaims them (a reclaimed page reads as zero) instead of
 * swapping. */
#define _GNU_SOURCE
#include "bigmem.h"

#include "cai/logmath.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Below this, calloc. */
#define BIG_MIN ((size_t)4 << 20)
/* The header before a mapped buffer (keeps 64-byte alignment). */
#define BIG_HEADER ((size_t)64)
/* Released mappings kept for reuse. */
#define BIG_CACHE 4

#if defined(MAP_ANONYMOUS) && defined(MADV_HUGEPAGE)
#define BIG_MAPPED 1

static atomic_flag cache_lock = ATOMIC_FLAG_INIT;
static void *cache[BIG_CACHE]; /* mapping starts (header), oldest first */

static void lock(void)
{
    while (atomic_flag_test_and_set_explicit(&cache_lock, memory_order_acquire))
        ;
}

static void unlock(void)
{
    atomic_flag_clear_explicit(&cache_lock, memory_order_release);
}

static size_t map_len(const void *p)
{
    return *(const size_t *)p;
}

/* The cached mapping that fits len best (at least len, at most a quarter
 * more), taken out of the cache; NULL if none. */
static void *cache_take(size_t len)
{
    lock();
    size_t best = BIG_CACHE;
    for (size_t i = 0; i < BIG_CACHE; i++) {
        size_t l = cache[i] ? map_len(cache[i]) : 0;
        if (l >= len && l - len <= len / 4 && (best == BIG_CACHE || l < map_len(cache[best])))
            best = i;
    }
    void *p = NULL;
    if (best < BIG_CACHE) {
        p = cache[best];
        memmove(cache + best, cache + best + 1, (BIG_CACHE - 1 - best) * sizeof *cache);
        cache[BIG_CACHE - 1] = NULL;
    }
    unlock();
    return p;
}

/* Keep mapping p; returns the one it displaces (the oldest), or NULL. */
static void *cache_put(void *p)
{
    madvise(p, map_len(p), MADV_FREE);
    lock();
    void *old = NULL;
    size_t n = 0;
    while (n < BIG_CACHE && cache[n])
        n++;
    if (n == BIG_CACHE) {
        old = cache[0];
        memmove(cache, cache + 1, (BIG_CACHE - 1) * sizeof *cache);
        n--;
    }
    cache[n] = p;
    unlock();
    return old;
}
#else
#define BIG_MAPPED 0
#endif

static void *alloc(size_t n, size_t elem, bool zero)
{
    size_t bytes;
    if (!cai_size_mul(n ? n : 1, elem, &bytes))
        return NULL;
#if BIG_MAPPED
    if (bytes >= BIG_MIN && bytes <= SIZE_MAX - BIG_HEADER) {
        size_t len = bytes + BIG_HEADER;
        char *p = cache_take(len);
        if (p != NULL) {
            if (zero)
                memset(p + BIG_HEADER, 0, bytes);
            return p + BIG_HEADER;
        }
        p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        madvise(p, len, MADV_HUGEPAGE); /* a hint: failure changes nothing */
        *(size_t *)p = len;
        return p + BIG_HEADER;
    }
#endif
    /* a small buffer: a header too, so big_free knows it from a mapping */
    char *p = zero ? calloc(1, bytes + BIG_HEADER) : malloc(bytes + BIG_HEADER);
    if (p == NULL)
        return NULL;
    *(size_t *)p = 0;
    return p + BIG_HEADER;
}

void *big_alloc(size_t n, size_t elem)
{
    return alloc(n, elem, true);
}

void *big_alloc_uninit(size_t n, size_t elem)
{
    return alloc(n, elem, false);
}

void big_free(void *ptr)
{
    if (ptr == NULL)
        return;
    char *p = (char *)ptr - BIG_HEADER;
    size_t len = *(size_t *)p;
#if BIG_MAPPED
    if (len != 0) {
        void *old = cache_put(p);
        if (old)
            munmap(old, map_len(old));
        return;
    }
#endif
    free(p);
}
