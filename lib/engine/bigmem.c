/* lib/engine/bigmem.c — buffers for large message arrays.
 *
 * A buffer of at least BIG_MIN bytes is an anonymous mapping with
 * transparent huge pages requested (Linux madvise MADV_HUGEPAGE): the
 * kernels gather from message vectors of millions of entries at random, and
 * with 4 KiB pages nearly every such read also misses the TLB; 2 MiB pages
 * cover a vector with a few entries. Smaller buffers come from calloc. The
 * mapping's length sits in a header before the returned pointer (0 for a
 * calloc'd buffer, whose size sits before that). No state outside the
 * buffers and the callers' caches. */
#define _GNU_SOURCE
#include "bigmem.h"

#include "cai/logmath.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Below this, calloc. */
#define BIG_MIN ((size_t)4 << 20)
/* The header before a mapped buffer (keeps 64-byte alignment) and before a
 * calloc'd one (keeps malloc's 16); either ends in the mapping's length
 * (0 for calloc'd), so big_free tells them apart. */
#define BIG_HEADER ((size_t)64)
#define SMALL_HEADER ((size_t)16)
/* Mappings are whole huge pages long: Linux places a mapping of a multiple
 * of 2 MiB on a 2 MiB boundary, so all of it can be huge pages (a mapping
 * of any other length starts anywhere, and only its aligned middle can). */
#define BIG_PAGE ((size_t)2 << 20)
/* The largest buffer whose mapping length does not overflow. */
#define BIG_LIMIT (SIZE_MAX - BIG_HEADER - BIG_PAGE)

#if defined(MAP_ANONYMOUS) && defined(MADV_HUGEPAGE)
#define BIG_MAPPED 1
#else
#define BIG_MAPPED 0
#endif

/* The mapping length of a buffer of big_alloc (0: calloc'd). */
static size_t map_len(const void *ptr)
{
    return ((const size_t *)ptr)[-1];
}

/* The length of the mapping for a buffer of `bytes` (<= BIG_LIMIT). */
static size_t map_length(size_t bytes)
{
    return (bytes + BIG_HEADER + BIG_PAGE - 1) / BIG_PAGE * BIG_PAGE;
}

static void *alloc(size_t n, size_t elem, bool zero)
{
    size_t bytes;
    if (!cai_size_mul(n ? n : 1, elem, &bytes))
        return NULL;
#if BIG_MAPPED
    if (bytes >= BIG_MIN && bytes <= BIG_LIMIT) {
        size_t len = map_length(bytes);
        char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        madvise(p, len, MADV_HUGEPAGE); /* a hint: failure changes nothing */
        ((size_t *)(p + BIG_HEADER))[-1] = len;
        return p + BIG_HEADER;
    }
#endif
    /* a small buffer: a header too (a length of 0, so big_free knows it
     * from a mapping, and before it the size, for big_realloc) */
    if (bytes > SIZE_MAX - SMALL_HEADER)
        return NULL;
    char *p = zero ? calloc(1, bytes + SMALL_HEADER) : malloc(bytes + SMALL_HEADER);
    if (p == NULL)
        return NULL;
    ((size_t *)(p + SMALL_HEADER))[-1] = 0;
    ((size_t *)(p + SMALL_HEADER))[-2] = bytes;
    return p + SMALL_HEADER;
}

void *big_alloc(size_t n, size_t elem)
{
    return alloc(n, elem, true);
}

void *big_alloc_uninit(size_t n, size_t elem)
{
    return alloc(n, elem, false);
}

void *big_realloc(void *ptr, size_t n, size_t elem)
{
    size_t bytes;
    if (ptr == NULL)
        return big_alloc_uninit(n, elem);
    if (!cai_size_mul(n ? n : 1, elem, &bytes))
        return NULL;
    size_t len = map_len(ptr);
#if BIG_MAPPED && defined(MREMAP_MAYMOVE)
    if (len != 0 && bytes >= BIG_MIN && bytes <= BIG_LIMIT) {
        size_t new_len = map_length(bytes);
        char *p = mremap((char *)ptr - BIG_HEADER, len, new_len, MREMAP_MAYMOVE);
        if (p == MAP_FAILED)
            return NULL;
        madvise(p, new_len, MADV_HUGEPAGE);
        ((size_t *)(p + BIG_HEADER))[-1] = new_len;
        return p + BIG_HEADER;
    }
#endif
    void *q = big_alloc_uninit(n, elem);
    if (q == NULL)
        return NULL;
    size_t have = len != 0 ? len - BIG_HEADER : ((const size_t *)ptr)[-2];
    memcpy(q, ptr, have < bytes ? have : bytes);
    big_free(ptr);
    return q;
}

void big_free(void *ptr)
{
    if (ptr == NULL)
        return;
    size_t len = map_len(ptr);
#if BIG_MAPPED
    if (len != 0) {
        munmap((char *)ptr - BIG_HEADER, len);
        return;
    }
#endif
    free((char *)ptr - SMALL_HEADER);
}

static void lock(big_cache *c)
{
    while (atomic_flag_test_and_set_explicit(&c->lock, memory_order_acquire))
        ;
}

static void unlock(big_cache *c)
{
    atomic_flag_clear_explicit(&c->lock, memory_order_release);
}

void *big_cache_take(big_cache *c, size_t n, size_t elem)
{
    size_t bytes;
    if (c == NULL || !cai_size_mul(n ? n : 1, elem, &bytes) || bytes > BIG_LIMIT)
        return big_alloc_uninit(n, elem);
    size_t len = map_length(bytes);
    lock(c);
    void *p = c->kept;
    size_t have = p ? map_len(p) : 0;
    bool fits = have >= len && have - len <= len / 4;
    if (fits)
        c->kept = NULL;
    unlock(c);
    return fits ? p : big_alloc_uninit(n, elem);
}

void big_cache_put(big_cache *c, void *p)
{
    if (c == NULL || p == NULL || map_len(p) == 0) {
        big_free(p);
        return;
    }
#if BIG_MAPPED && defined(MADV_FREE)
    madvise((char *)p - BIG_HEADER, map_len(p), MADV_FREE);
#endif
    lock(c);
    void *old = c->kept;
    c->kept = p;
    unlock(c);
    big_free(old);
}

void big_cache_clear(big_cache *c)
{
    if (c == NULL)
        return;
    lock(c);
    void *old = c->kept;
    c->kept = NULL;
    unlock(c);
    big_free(old);
}
