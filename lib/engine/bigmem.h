/* lib/engine/bigmem.h — buffers for large message arrays (huge pages where
 * the system offers them), and a place for their owner to keep one for the
 * next solve. */
#ifndef CAI_ENGINE_BIGMEM_H
#define CAI_ENGINE_BIGMEM_H

#include <stdatomic.h>
#include <stddef.h>

/* n * elem zeroed bytes (at least one), or NULL on overflow or when out of
 * memory. Free with big_free, never with free. */
void *big_alloc(size_t n, size_t elem);

/* The same without the zeroing, for an array the caller writes whole
 * before reading it. */
void *big_alloc_uninit(size_t n, size_t elem);

/* p (a buffer of big_alloc, or NULL) grown or shrunk to n * elem bytes,
 * its first min(old, new) bytes kept, the rest uninitialised: a mapping is
 * moved by the kernel (mremap) without a copy, so the old and the new
 * buffer are never both resident. NULL on overflow or when out of memory,
 * p then untouched. */
void *big_realloc(void *p, size_t n, size_t elem);

/* Accepts NULL. */
void big_free(void *p);

/* One released mapping kept for reuse by whoever owns the cache (a model
 * keeps the message array of its last solve for the next one): a fresh
 * mapping is zeroed by the kernel one page fault at a time, which costs a
 * tenth of a 10^5-state solve. The kept pages are handed back to the kernel
 * lazily (MADV_FREE): under memory pressure it reclaims them instead of
 * swapping (a reclaimed page reads as zero). All zero bytes is an empty
 * cache; take and put may be called from several threads. */
typedef struct cai_buffer_cache {
    atomic_flag lock;
    void *kept; /* a buffer of big_alloc, or NULL */
} big_cache;

/* An uninitialised buffer of n * elem bytes: the kept one when it fits (at
 * least that size, at most a quarter larger), else a new one. NULL cache:
 * big_alloc_uninit. */
void *big_cache_take(big_cache *c, size_t n, size_t elem);

/* Keep p (a buffer of big_alloc) in c, releasing what c kept; buffers too
 * small to be mappings are freed. NULL cache: big_free. Accepts NULL p. */
void big_cache_put(big_cache *c, void *p);

/* Release what c keeps. Accepts NULL. */
void big_cache_clear(big_cache *c);

#endif
