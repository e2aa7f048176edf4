/* lib/engine/bigmem.h — buffers for large message arrays (huge pages where
 * the system offers them, reused from one solve to the next). */
#ifndef CAI_ENGINE_BIGMEM_H
#define CAI_ENGINE_BIGMEM_H

#include <stddef.h>

/* n * elem zeroed bytes (at least one), or NULL on overflow or when out of
 * memory. Free with big_free, never with free. */
void *big_alloc(size_t n, size_t elem);

/* The same without the zeroing, for an array the caller writes whole
 * before reading it. */
void *big_alloc_uninit(size_t n, size_t elem);

/* Accepts NULL. */
void big_free(void *p);

#endif
