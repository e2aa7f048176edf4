/* lib/control/factored_impl.h — the factored MDP's insides, shared by
 * factored.c (spec, unrolled graph) and factored_flat.c (flat MDP). */
#ifndef CAI_CONTROL_FACTORED_IMPL_H
#define CAI_CONTROL_FACTORED_IMPL_H

#include "cai/factored.h"

/* One state variable with its conditional p(x' | parents, a). */
typedef struct fvar {
    char *name;
    size_t card;
    char **states; /* card names */
    double *initial;
    size_t n_parents, *parents;
    size_t rows;   /* prod card(parents) * A */
    double *table; /* rows * card */
} fvar;

/* One local reward term. */
typedef struct fterm {
    size_t n_scope, *scope;
    bool action;
    size_t size; /* prod card(scope) [* A] */
    double *values;
} fterm;

struct cai_factored_mdp {
    size_t n, A, K, T;
    double alpha;
    fvar *v;
    char **actions;
    fterm *r;
};

/* CAI_ERR_NOMEM, "out of memory". */
cai_status factored_nomem(cai_error *err);

#endif
