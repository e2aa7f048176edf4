/* lib/engine/meanfield_cluster_impl.h — what structured mean field's
 * structure and expectations (meanfield_cluster.c) share with its block
 * update (meanfield_update.c): the blocks, the parts of factors' scopes,
 * and the expectations under q. Internal to libcai (not installed). */
#ifndef CAI_ENGINE_MEANFIELD_CLUSTER_IMPL_H
#define CAI_ENGINE_MEANFIELD_CLUSTER_IMPL_H

#include "meanfield_impl.h"

#include <stddef.h>

/* The variables of factor f's scope that lie in one block. */
typedef struct cl_part {
    size_t f;
    size_t block;
    size_t n;       /* how many of f's scope positions */
    size_t *pos;    /* those positions, increasing (into cl->pos) */
    size_t var;     /* n == 1: the variable */
    size_t size;    /* joint states of the part */
    double *joint;  /* n >= 2: q_block over the part, row-major in scope
                       order (into cl->joints); NULL when n == 1 */
    size_t sub;     /* the block subgraph's factor over exactly the part:
                       f itself when inside, else f's crossing table */
} cl_part;

typedef struct cl_block {
    size_t *vars, n_vars;     /* increasing; subgraph variable i is vars[i] */
    size_t *inside, n_inside; /* factors inside (increasing): subgraph factors
                                 0..n_inside-1 */
    size_t *cross, n_cross;   /* crossing parts (by factor): subgraph factors
                                 n_inside.. */
    cai_graph *g;             /* the subgraph; its crossing tables are
                                 replaced at every update */
    double h;                 /* H(q_b) */
} cl_block;

struct mf_cluster {
    size_t n_blocks;
    cl_block *blocks;
    size_t *bvars, *binside, *bcross; /* pools of the blocks' lists */
    size_t *loc;                      /* per variable: its index in its block */
    size_t *part_off;                 /* per factor: its parts, by block */
    cl_part *parts;
    size_t n_parts;
    size_t *pos;                      /* pool of the parts' positions */
    size_t *ppart, *pstride;          /* per scope entry (as mf->scopes): its part
                                         (counted from the factor's first) and
                                         its stride in the part */
    double *joints;
    size_t n_joint;
    /* scratch */
    double *tab, *mass, *buf;         /* max_tab each */
    double *row;                      /* max card */
    size_t *digit, *pidx, *cards;     /* max arity each */
    size_t *assign;                   /* largest block */
    size_t max_tab, max_block, max_card, max_k;
    size_t jt_bytes;                  /* largest block junction tree */
};

/* q of part P at its joint state s. */
static inline double mfc_part_weight(const cai_meanfield *mf, const cl_part *P, size_t s)
{
    return P->n == 1 ? mf->q[mf->off[P->var] + s] : P->joint[s];
}

/* The cardinalities of part P's variables into cl->cards. */
void mfc_part_cards(const cai_meanfield *mf, mf_cluster *cl, const cl_part *P);

/* Replace subgraph factor i of B by a new table over cards[0..k-1] holding
 * logv (the graph keeps the only reference). */
cai_status mfc_set_table(cl_block *B, size_t i, size_t k, const size_t *cards,
                         const double *logv, cai_error *err);

/* Factor f under q. skip == CAI_NONE: out[0] = E_q[log f]. Otherwise skip is
 * one of f's parts: out[s] = E[log f | part = s] with the other parts
 * distributed as their blocks' q, and mass[s] (mass may be NULL) the q-mass
 * of those other parts on f's nonzero entries. Only entries whose parts all
 * have positive q count (0 log 0 = 0); one that hits a zero of f makes its
 * out entry -INFINITY. Every entry of the scope is visited (CSR rows are
 * expanded), with one log per CSR nonzero. */
void mfc_expect(const cai_meanfield *mf, mf_cluster *cl, size_t f, size_t skip,
                double *out, double *mass);

#endif
