/* lib/engine/bigmem.c — zeroed buffers for large message arrays.
 *
 * A buffer of at least BIG_MIN bytes is an anonymous mapping with
 * transparent huge pages requested (Linux madvise MADV_HUGEPAGE): the
 * kernels gather from message vectors of millions of entries at random, and
 * with 4 KiB pages nearly every such read also misses the TLB; 2 MiB pages
 * cover a vector with a few entries. A solve's fresh pages also fault in a
 * 2 MiB page at a time. Smaller buffers come from calloc. The mapping's
 * length sits in a header before the returned pointer. */
#define _GNU_SOURCE
#include "bigmem.h"

#include "cai/logmath.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

/* Below this, calloc. */
#define BIG_MIN ((size_t)4 << 20)
/* The header before a mapped buffer (keeps 64-byte alignment). */
#define BIG_HEADER ((size_t)64)

void *big_alloc(size_t n, size_t elem)
{
    size_t bytes;
    if (!cai_size_mul(n ? n : 1, elem, &bytes))
        return NULL;
#if defined(MAP_ANONYMOUS) && defined(MADV_HUGEPAGE)
    if (bytes >= BIG_MIN && bytes <= SIZE_MAX - BIG_HEADER) {
        size_t len = bytes + BIG_HEADER;
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return NULL;
        madvise(p, len, MADV_HUGEPAGE); /* a hint: failure changes nothing */
        *(size_t *)p = len;
        return (char *)p + BIG_HEADER;
    }
#endif
    /* a small buffer: a header too, so big_free knows it from a mapping */
    char *p = calloc(1, bytes + BIG_HEADER);
    if (p == NULL)
        return NULL;
    *(size_t *)p = 0;
    return p + BIG_HEADER;
}

void big_free(void *ptr)
{
    if (ptr == NULL)
        return;
    char *p = (char *)ptr - BIG_HEADER;
    size_t len = *(size_t *)p;
#if defined(MAP_ANONYMOUS) && defined(MADV_HUGEPAGE)
    if (len != 0) {
        munmap(p, len);
        return;
    }
#endif
    free(p);
}
