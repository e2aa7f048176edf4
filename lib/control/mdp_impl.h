/* lib/control/mdp_impl.h — the MDP's insides, shared by the control files. */
#ifndef CAI_CONTROL_MDP_IMPL_H
#define CAI_CONTROL_MDP_IMPL_H

#include "cai/graph.h"
#include "cai/mdp.h"
#include "cai/plan.h"
#include "cai/potential.h"

/* Names of states or actions, their characters in one block: given names
 * (copied, with pointers and an index sorted by name for lookups), or the
 * decimal names "0".."n-1" (no pointer or index: a million cost 7 MB). */
typedef struct name_table {
    size_t n;
    char **names;  /* n given names (into block), or NULL for decimal names */
    size_t *index; /* given names: indices sorted by name */
    char *block;   /* the names, NUL-terminated, in order */
} name_table;

/* Name i (i < t->n). */
const char *name_get(const name_table *t, size_t i);

struct cai_mdp {
    size_t S, A;
    name_table states, actions;
    double *rho;       /* S */
    cai_potential *dyn;     /* the CSR transition potential, shared by solves */
    const size_t *row_ptr;  /* its arrays: S*A + 1 */
    const uint32_t *next;   /* nnz */
    const double *prob;     /* nnz */
    double *reward;    /* S*A */
    double *terminal;  /* S (zeros when none) */
    double *prior;     /* S*A, or NULL when uniform (1/A): see mdp_prior */
    size_t T;
    double gamma;
    double alpha;
    char *grid;        /* rows * cols map characters, or NULL */
    cai_buffer_cache *msg_cache; /* the message array of the last solve, for the next */
    size_t grid_rows, grid_cols;
};

/* The graph of one solve and where its variables are. */
typedef struct compiled {
    cai_graph *g;
    size_t T;          /* time steps unrolled (1 for a discounted slice) */
    size_t *s;         /* T + 1 state variables */
    size_t *a;         /* T action variables */
    size_t S_next;     /* cardinality of the last state variable (S + 1 with death) */
    bool rho;          /* rho is a factor on s_0 (needed by the downward pass) */
} compiled;

struct cai_solution {
    const cai_mdp *m;
    cai_control_algorithm alg;
    double alpha;
    size_t T;          /* 0 when discounted */
    compiled c;
    cai_plan *plan;
    cai_workspace *ws;
    double *V;         /* discounted: the fixed point (S) */
    double *fwd;       /* alpha = 0 or map: state distributions (T+1)*S, or NULL */
    size_t *traj;      /* map: 2T + 1 */
    double log_score;
    double log_evidence, objective;
    size_t iterations;
    bool converged;
    bool marginals;    /* state marginals were asked for */
};

/* Build the graph for a solve: finite horizon unrolled T steps, or one
 * discounted slice whose next state has the extra death state. with_rho adds
 * rho as a factor on s_0: the posterior and the MAP need it; value functions
 * do not (then V_0 is s_0's upward message, and the log-evidence and the
 * objective come from V_0 and rho). */
cai_status control_compile(const cai_mdp *m, cai_control_algorithm alg, double alpha,
                           size_t T, bool discounted, bool with_rho, compiled *out,
                           cai_error *err);

void control_compiled_free(compiled *c);

/* The relative tolerance that makes an action a maximiser at alpha = 0. */
#define CAI_HARD_TIE 1e-9

/* pi0 of row i = s*A + a. */
static inline double mdp_prior(const cai_mdp *m, size_t i)
{
    return m->prior ? m->prior[i] : 1.0 / (double)m->A;
}

#endif
