/* lib/engine/jtree_impl.h — the junction tree's insides (see cai/jtree.h).
 *
 * jtree_tri.c triangulates (min-fill) and joins the maximal cliques into a
 * tree; jtree.c compiles that tree into a cai_graph and plans it;
 * jtree_query.c runs it and answers queries by marginalising or decoding
 * clique states. */
#ifndef CAI_ENGINE_JTREE_IMPL_H
#define CAI_ENGINE_JTREE_IMPL_H

#include "cai/jtree.h"
#include "cai/logmath.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

/* Maximal cliques in elimination order, each with its variables in
 * increasing order, and the edges of the clique forest. */
typedef struct jt_structure {
    size_t n_cliques;
    size_t *off;      /* n_cliques + 1 */
    size_t *vars;     /* off[n_cliques] variables */
    size_t n_edges;
    size_t *edge;     /* 2 * n_edges clique indices, lower first */
} jt_structure;

/* Triangulate g's moral graph by min-fill (ties to the lowest index) and
 * keep the maximal elimination cliques. On failure nothing is allocated. */
cai_status jt_triangulate(const cai_graph *g, jt_structure *out, cai_error *err);

/* Join the cliques of s by a maximum-weight spanning forest on separator
 * sizes (Kruskal: heavier first, then lower i, then lower j). */
cai_status jt_join(size_t n_vars, jt_structure *s, cai_error *err);

void jt_structure_free(jt_structure *s);

struct cai_jtree {
    cai_algorithm alg;
    bool compiled;
    bool ran;
    size_t n_vars, n_factors;
    size_t *card;      /* n_vars */
    size_t *ev;        /* n_vars, CAI_NONE when free */
    size_t n_cliques;
    size_t max_entries;
    size_t treewidth;
    /* compiled only */
    jt_structure s;
    size_t *cl_card;   /* joint states per clique */
    size_t *home;      /* per variable: lowest clique containing it */
    size_t *f_clique;  /* per factor: its clique */
    size_t *f_off;     /* n_factors + 1 */
    size_t *f_scope;   /* the factors' scopes, copied */
    cai_graph *tree;
    size_t expanded_bytes; /* clique tables and separator links built */
    /* both */
    cai_plan *plan;
    cai_workspace *ws;
};

/* calloc of n elements of elem bytes with an overflow check (NULL then). */
static inline void *jt_calloc(size_t n, size_t elem)
{
    size_t bytes;
    if (!cai_size_mul(n ? n : 1, elem, &bytes))
        return NULL;
    return calloc(1, bytes);
}

static inline cai_status jt_nomem(cai_error *err)
{
    return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
}

/* Advance the digits of a row-major odometer (last position fastest) and keep
 * *idx = sum digit[t] * stride[t]. */
static inline void jt_odo_next(size_t k, const size_t *card, const size_t *stride,
                               size_t *digit, size_t *idx)
{
    for (size_t t = k; t-- > 0;) {
        if (++digit[t] < card[t]) {
            *idx += stride[t];
            return;
        }
        *idx -= (card[t] - 1) * stride[t];
        digit[t] = 0;
    }
}

/* Per position of clique c: the variables' cards, and the stride of each in
 * the row-major layout of sub[0..k_sub-1] (0 when absent). */
void jt_clique_strides(const cai_jtree *jt, size_t c, const size_t *sub, size_t k_sub,
                       size_t *card, size_t *stride);

#endif
