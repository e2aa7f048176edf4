/* lib/engine/graph_impl.h — the graph's insides, shared by the engine files. */
#ifndef CAI_ENGINE_GRAPH_IMPL_H
#define CAI_ENGINE_GRAPH_IMPL_H

#include "cai/graph.h"
#include "potential_impl.h"

typedef struct variable {
    char *name;
    size_t card;
    char **states;   /* card names, or NULL */
    size_t evidence; /* clamped state or CAI_NONE */
} variable;

typedef struct factor {
    cai_potential *p; /* one reference held */
    size_t *scope;    /* k variable indices */
    size_t k;
    cai_factor_mode mode;
} factor;

struct cai_graph {
    variable *vars;
    size_t n_vars, cap_vars;
    factor *factors;
    size_t n_factors, cap_factors;
    size_t *index; /* open-addressing name -> variable, CAI_NONE = empty */
    size_t index_cap;
};

#endif
