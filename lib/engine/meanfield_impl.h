/* lib/engine/meanfield_impl.h — the mean-field object's insides, shared by
 * meanfield.c (options, fully factorised sweeps, the run loop, queries) and
 * meanfield_cluster.c and meanfield_update.c (structured mean field over
 * blocks of variables, each block solved exactly by a junction tree). See
 * cai/meanfield.h. */
#ifndef CAI_ENGINE_MEANFIELD_IMPL_H
#define CAI_ENGINE_MEANFIELD_IMPL_H

#include "cai/meanfield.h"
#include "graph_impl.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct mf_factor {
    cai_potential *p; /* one reference held */
    size_t *scope;    /* k variables, into the scope pool */
    size_t k;
    bool support;     /* the 0/1 pattern of p */
} mf_factor;

/* The cluster variant's state (meanfield_cluster_impl.h). */
typedef struct mf_cluster mf_cluster;

struct cai_meanfield {
    cai_meanfield_options opt;     /* opt.blocks points at block below (or NULL) */
    size_t n_vars;
    size_t *card, *off, *evidence; /* per variable; q of var v at q + off[v] */
    size_t n_factors;
    mf_factor *factors;
    size_t *scopes;                /* pool of every factor's scope */
    size_t *vf_off, *vf, *vf_pos;  /* per variable: factors touching it, position */
    double *q;                     /* sum of cards probabilities: every q_v */
    size_t n_q;
    size_t *block;                 /* copy of options.blocks, NULL when not given */
    size_t *order;                 /* singleton blocks: the variables in sweep
                                      (block index) order; NULL: index order */
    mf_cluster *cl;                /* NULL unless some block has >= 2 variables */
    /* scratch of the factorised sweeps, allocated once */
    double *logit, *ex, *mass, *zm; /* max card each */
    size_t *cnt;                   /* max card */
    size_t *idx;                   /* max arity */
    size_t max_card, max_k;
    /* results */
    bool ran, converged;
    size_t iterations;
    double elbo;
};

/* calloc n elements of size elem (at least one) with an overflow check. */
void *mf_alloc(size_t n, size_t elem);

/* Build the cluster variant for mf (graph, evidence and mf->block already
 * copied; n_blocks >= 1 blocks, one of them with >= 2 variables): each
 * block's subgraph and a trial junction tree of it, so that structural
 * errors surface here. Sets mf->cl. */
cai_status mf_cluster_create(cai_meanfield *mf, const cai_graph *g, size_t n_blocks,
                             cai_error *err);

/* Accepts NULL. */
void mf_cluster_free(mf_cluster *cl);

size_t mf_cluster_n_blocks(const mf_cluster *cl);

/* After mf->q was initialised: every q_b is the product of its variables'
 * q_v (the stored joints and entropies follow). */
void mf_cluster_start(cai_meanfield *mf);

/* The coordinate update of block b; *change gets the largest change of an
 * entry of q (marginals and stored joints). Allocates (a junction tree and
 * tables); fails only on out-of-memory. On failure q may be partly updated. */
cai_status mf_cluster_update(cai_meanfield *mf, size_t b, double *change, cai_error *err);

/* The ELBO of the current q. */
double mf_cluster_elbo(cai_meanfield *mf);

/* Bytes of the cluster state counted by cai_meanfield_message_bytes. */
size_t mf_cluster_bytes(const mf_cluster *cl);

#endif
