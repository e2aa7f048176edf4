/* lib/control/factored_flat.c — a factored MDP's joint state space as an
 * ordinary MDP (cai_factored_flatten), built through cai_mdp_create. */
#include "factored_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/logmath.h"

#define FLAT_MAX_STATES_DEFAULT 1e6
#define FLAT_MAX_NNZ 1e8

/* ---- the flattened MDP ------------------------------------------------- */

/* Row offset of x's conditional for joint state digits d and action a. */
static size_t trans_row(const cai_factored_mdp *f, const fvar *x, const size_t *d, size_t a)
{
    size_t r = 0;
    for (size_t j = 0; j < x->n_parents; j++)
        r = r * f->v[x->parents[j]].card + d[x->parents[j]];
    return r * f->A + a;
}

static double term_value(const cai_factored_mdp *f, const fterm *t, const size_t *d,
                         size_t a)
{
    size_t r = 0;
    for (size_t j = 0; j < t->n_scope; j++)
        r = r * f->v[t->scope[j]].card + d[t->scope[j]];
    if (t->action)
        r = r * f->A + a;
    return t->values[r];
}

cai_status cai_factored_flatten(const cai_factored_mdp *f, double max_states,
                                cai_mdp **out_mdp, cai_error *err)
{
    if (f == NULL || out_mdp == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "cai_factored_flatten: NULL argument");
    if (!(max_states > 0))
        max_states = FLAT_MAX_STATES_DEFAULT;
    double Sd = cai_factored_n_joint_states(f);
    if (Sd > max_states)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "cannot flatten: the joint state space has %.0f states, more "
                             "than the limit %.0f (solve the unrolled graph instead)",
                             Sd, max_states);
    size_t n = f->n, A = f->A, S = (size_t)Sd, SA = S * A;
    /* count the nonzeros first: prod over variables of each row's support */
    size_t *d = calloc(n, sizeof *d), *rp = NULL, *next = NULL, *cur = NULL;
    double *rho = NULL, *rew = NULL, *prob = NULL;
    char **names = NULL, *block = NULL;
    cai_status st;
    if (d == NULL || (rp = malloc((SA + 1) * sizeof *rp)) == NULL ||
        (rho = malloc(S * sizeof *rho)) == NULL || (rew = malloc(SA * sizeof *rew)) == NULL ||
        (cur = malloc(n * sizeof *cur)) == NULL) {
        st = factored_nomem(err);
        goto done;
    }
    double nnz_d = 0;
    for (size_t s = 0; s < S; s++) {
        for (size_t a = 0; a < A; a++) {
            double c = 1;
            for (size_t i = 0; i < n; i++) {
                const fvar *x = &f->v[i];
                const double *row = x->table + trans_row(f, x, d, a) * x->card;
                size_t m = 0;
                for (size_t v = 0; v < x->card; v++)
                    m += row[v] > 0;
                c *= (double)m;
            }
            nnz_d += c;
        }
        for (size_t i = n; i-- > 0;) /* next joint state, last variable fastest */
            if (++d[i] < f->v[i].card)
                break;
            else
                d[i] = 0;
    }
    if (nnz_d > FLAT_MAX_NNZ) {
        st = cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                           "cannot flatten: the joint dynamics have %.0f nonzeros, more "
                           "than the limit %.0f", nnz_d, FLAT_MAX_NNZ);
        goto done;
    }
    size_t nnz = (size_t)nnz_d;
    if ((next = malloc((nnz ? nnz : 1) * sizeof *next)) == NULL ||
        (prob = malloc((nnz ? nnz : 1) * sizeof *prob)) == NULL) {
        st = factored_nomem(err);
        goto done;
    }
    /* names: "x0=s,x1=s,..." */
    size_t name_len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t longest = 0;
        for (size_t v = 0; v < f->v[i].card; v++) {
            size_t l = strlen(f->v[i].states[v]);
            longest = l > longest ? l : longest;
        }
        name_len += strlen(f->v[i].name) + longest + 2;
    }
    size_t block_size;
    if (!cai_size_mul(S, name_len + 1, &block_size) ||
        (names = malloc(S * sizeof *names)) == NULL ||
        (block = malloc(block_size)) == NULL) {
        st = factored_nomem(err);
        goto done;
    }
    memset(d, 0, n * sizeof *d);
    size_t k = 0;
    rp[0] = 0;
    for (size_t s = 0; s < S; s++) {
        char *p = block + s * (name_len + 1);
        names[s] = p;
        double r0 = 1;
        for (size_t i = 0; i < n; i++) {
            p += sprintf(p, "%s%s=%s", i ? "," : "", f->v[i].name, f->v[i].states[d[i]]);
            r0 *= f->v[i].initial[d[i]];
        }
        rho[s] = r0;
        for (size_t a = 0; a < A; a++) {
            double r = 0;
            for (size_t t = 0; t < f->K; t++)
                r += term_value(f, &f->r[t], d, a);
            rew[s * A + a] = r;
            /* the cartesian product of the supports, last variable fastest,
             * so successor indices increase */
            bool empty = false;
            for (size_t i = 0; i < n; i++) {
                const fvar *x = &f->v[i];
                const double *row = x->table + trans_row(f, x, d, a) * x->card;
                size_t v = 0;
                while (v < x->card && !(row[v] > 0))
                    v++;
                if (v == x->card)
                    empty = true;
                cur[i] = v;
            }
            while (!empty) {
                size_t idx = 0;
                double pr = 1;
                for (size_t i = 0; i < n; i++) {
                    const fvar *x = &f->v[i];
                    idx = idx * x->card + cur[i];
                    pr *= x->table[trans_row(f, x, d, a) * x->card + cur[i]];
                }
                next[k] = idx;
                prob[k++] = pr;
                /* advance to the next nonzero combination */
                size_t i = n;
                while (i-- > 0) {
                    const fvar *x = &f->v[i];
                    const double *row = x->table + trans_row(f, x, d, a) * x->card;
                    size_t v = cur[i] + 1;
                    while (v < x->card && !(row[v] > 0))
                        v++;
                    if (v < x->card) {
                        cur[i] = v;
                        break;
                    }
                    v = 0;
                    while (!(row[v] > 0))
                        v++;
                    cur[i] = v;
                }
                if (i == (size_t)-1)
                    break;
            }
            rp[s * A + a + 1] = k;
        }
        for (size_t i = n; i-- > 0;)
            if (++d[i] < f->v[i].card)
                break;
            else
                d[i] = 0;
    }
    cai_mdp_spec spec = {
        .n_states = S,
        .n_actions = A,
        .state_names = (const char *const *)names,
        .action_names = (const char *const *)f->actions,
        .initial = rho,
        .row_ptr = rp,
        .next = next,
        .prob = prob,
        .reward = rew,
        .terminal = NULL,
        .action_prior = NULL,
        .horizon = f->T,
        .discount = 0,
        .temperature = f->alpha,
    };
    st = cai_mdp_create(&spec, out_mdp, err);
done:
    free(d);
    free(rp);
    free(next);
    free(cur);
    free(rho);
    free(rew);
    free(prob);
    free(names);
    free(block);
    return st;
}
