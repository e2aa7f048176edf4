/* lib/engine/analysis.h — the planner's working state, shared by plan.c
 * (absorption, forest check, roots) and cluster.c (cluster layout). */
#ifndef CAI_ENGINE_ANALYSIS_H
#define CAI_ENGINE_ANALYSIS_H

#include "graph_impl.h"
#include "plan_impl.h"

enum role { ROLE_LOCAL, ROLE_PRIOR, ROLE_HOST, ROLE_ABSORBED };

/* Freed at the end of cai_plan_create. */

typedef struct analysis {
    const cai_graph *g;
    bool expect_on;      /* expectation modes count (sum-product or max_expectation) */
    enum role *role;     /* per factor */
    size_t *host;        /* per factor: final host factor (ROLE_ABSORBED) */
    size_t *adj_off;     /* per var: offsets into adj (multi-variable factors) */
    size_t *adj;
    size_t *mark;        /* per var */
    size_t *hosts;       /* host factor of each cluster, in factor order */
    size_t n_hosts;
    size_t *cl_of;       /* per factor: its cluster (hosts) */
    size_t *cadj_off;    /* per var: offsets into cadj (clusters containing it) */
    size_t *cadj;
    size_t *prior;       /* per var: prior factor or CAI_NONE */
    long *viol;          /* per var */
    size_t *queue;       /* BFS order of variables */
    size_t *par_cl;      /* per var: cluster it was reached through */
    size_t *seen;        /* per var: stamp */
    size_t *cseen;       /* per cluster: stamp */
    size_t *order;       /* clusters top-down */
    size_t *up_var;      /* per cluster: up variable */
} analysis;


static inline bool is_expect(const analysis *a, size_t f)
{
    return a->expect_on && a->g->factors[f].mode == CAI_MODE_EXPECTATION;
}

/* SR_SUPPORT when factor f counts only through its support. */
static inline semiring factor_sr(const factor *f)
{
    return f->mode == CAI_MODE_SUPPORT ? SR_SUPPORT : SR_SUM;
}

/* log value of factor f at the joint state idx of its scope positions. */
static inline double factor_log_value(const factor *f, const size_t *idx)
{
    return potential_log_value_sr(f->p, potential_row_of(f->p, idx), idx[f->k - 1],
                                  factor_sr(f));
}

/* Position of variable v in factor f's scope, or CAI_NONE. */
static inline size_t scope_pos(const factor *f, size_t v)
{
    for (size_t i = 0; i < f->k; i++)
        if (f->scope[i] == v)
            return i;
    return CAI_NONE;
}

/* The plan keeps one reference per use; owned has room for two per factor. */
static inline void hold(cai_plan *plan, cai_potential *p)
{
    plan->owned[plan->n_owned++] = p;
}

/* Fill plan->clusters in top-down order, with absorbed factors and homes. */
cai_status plan_build_clusters(analysis *a, cai_plan *plan, cai_error *err);

/* Each cluster's constant row terms (see cluster.row terms). */
cai_status plan_build_row_terms(cai_plan *plan, cai_error *err);

#endif
