/* lib/control/compile.c — an MDP plus optimality variables as a factor graph.
 *
 * Finite horizon: variables s_0 a_0 s_1 ... s_T; per step one factor of the
 * ONE tied transition potential P(s'|s,a) and one of the ONE tied reward /
 * prior potential log p(O=1|s,a) + log pi0(a|s) = r/alpha + log pi0; rho as
 * a prior on s_0 and rT/alpha on s_T. The algorithm picks the factor modes:
 *   exact        dynamics normal (sum-product)
 *   variational  dynamics and rho in expectation mode
 *   map          dynamics normal (max-product over the whole trajectory)
 * At alpha = 0 the potentials are in reward units (r, and pi0 only through
 * its support) and max replaces log-sum-exp: exact uses the dynamics'
 * support (alpha log sum P exp(V/alpha) -> max over reachable V),
 * variational keeps expectation mode inside max-product.
 * Discounted: one slice s a s' whose s' has an extra absorbing "death" state
 * reached with probability 1 - gamma (value 0); the solver iterates it. */
#include "mdp_impl.h"

#include "cai/logmath.h"
#include "cai/potential.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void control_compiled_free(compiled *c)
{
    cai_graph_free(c->g);
    free(c->s);
    free(c->a);
    c->g = NULL;
    c->s = c->a = NULL;
}

/* The transition potential; with a discount, every row scaled by gamma plus
 * the death column S with 1 - gamma. */
static cai_status dynamics_potential(const cai_mdp *m, bool discounted, cai_potential **out,
                                     cai_error *err)
{
    size_t SA = m->S * m->A, cards[2] = {m->S, m->A};
    if (!discounted) { /* the model's own potential: stored once */
        *out = cai_potential_ref(m->dyn);
        return CAI_OK;
    }
    size_t nnz = m->row_ptr[SA] + SA;
    size_t *rp = malloc((SA + 1) * sizeof *rp), *col = malloc(nnz * sizeof *col);
    double *pr = malloc(nnz * sizeof *pr);
    cai_status st;
    if (rp == NULL || col == NULL || pr == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    size_t n = 0;
    rp[0] = 0;
    for (size_t r = 0; r < SA; r++) {
        for (size_t j = m->row_ptr[r]; j < m->row_ptr[r + 1]; j++) {
            col[n] = m->next[j];
            pr[n++] = m->gamma * m->prob[j];
        }
        col[n] = m->S;
        pr[n++] = 1.0 - m->gamma;
        rp[r + 1] = n;
    }
    st = cai_potential_csr_create(2, cards, m->S + 1, rp, col, pr, out, err);
done:
    free(rp);
    free(col);
    free(pr);
    return st;
}

/* log p(O=1|s,a) + log pi0(a|s) over (s, a); in reward units at alpha = 0. */
static cai_status reward_potential(const cai_mdp *m, double alpha, cai_potential **out,
                                   cai_error *err)
{
    size_t SA = m->S * m->A, cards[2] = {m->S, m->A};
    double *v = malloc(SA * sizeof *v);
    if (v == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    double uniform = log(1.0 / (double)m->A); /* the prior's log when it is not stored */
    for (size_t i = 0; i < SA; i++) {
        double lp = m->prior == NULL ? uniform : m->prior[i] > 0 ? log(m->prior[i]) : -INFINITY;
        v[i] = alpha > 0 ? m->reward[i] / alpha + lp : lp > -INFINITY ? m->reward[i] : -INFINITY;
    }
    cai_status st = cai_potential_table_create(2, cards, v, out, err);
    free(v);
    return st;
}

cai_status control_compile(const cai_mdp *m, cai_control_algorithm alg, double alpha,
                           size_t T, bool discounted, bool with_rho, compiled *out,
                           cai_error *err)
{
    compiled c = {0};
    cai_potential *dyn = NULL, *rew = NULL, *rho = NULL, *term = NULL;
    cai_status st;
    bool hard = alpha == 0;
    size_t steps = discounted ? 1 : T;
    c.T = steps;
    c.S_next = discounted ? m->S + 1 : m->S;
    c.s = malloc((steps + 1) * sizeof *c.s);
    c.a = malloc(steps * sizeof *c.a);
    if (c.s == NULL || c.a == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto fail;
    }
    if ((st = cai_graph_create(&c.g, err)) != CAI_OK
        || (st = dynamics_potential(m, discounted, &dyn, err)) != CAI_OK
        || (st = reward_potential(m, alpha, &rew, err)) != CAI_OK)
        goto fail;
    for (size_t t = 0; t <= steps; t++) {
        char name[32];
        snprintf(name, sizeof name, "s%zu", t);
        size_t card = t == steps ? c.S_next : m->S;
        if ((st = cai_graph_add_variable(c.g, name, card, NULL, &c.s[t], err)) != CAI_OK)
            goto fail;
        if (t == steps)
            break;
        snprintf(name, sizeof name, "a%zu", t);
        if ((st = cai_graph_add_variable(c.g, name, m->A, NULL, &c.a[t], err)) != CAI_OK)
            goto fail;
    }
    cai_factor_mode dyn_mode = alg == CAI_CONTROL_VARIATIONAL ? CAI_MODE_EXPECTATION
                               : hard                          ? CAI_MODE_SUPPORT
                                                               : CAI_MODE_NORMAL;
    for (size_t t = 0; t < steps; t++) {
        size_t scope[3] = {c.s[t], c.a[t], c.s[t + 1]};
        if ((st = cai_graph_add_factor(c.g, dyn, scope, 3, dyn_mode, NULL, err)) != CAI_OK
            || (st = cai_graph_add_factor(c.g, rew, scope, 2, CAI_MODE_NORMAL, NULL, err)) != CAI_OK)
            goto fail;
    }
    if (!discounted) {
        /* rho on s_0: a parentless conditional; in q for variational */
        size_t rp[2] = {0, 0}, *col = malloc(m->S * sizeof *col);
        double *pr = malloc(m->S * sizeof *pr), *tv = malloc(m->S * sizeof *tv);
        if (col == NULL || pr == NULL || tv == NULL) {
            free(col);
            free(pr);
            free(tv);
            st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
            goto fail;
        }
        for (size_t s = 0; s < m->S; s++) {
            if (m->rho[s] > 0) {
                col[rp[1]] = s;
                pr[rp[1]++] = m->rho[s];
            }
            tv[s] = hard ? m->terminal[s] : m->terminal[s] / alpha;
        }
        st = cai_potential_csr_create(0, NULL, m->S, rp, col, pr, &rho, err);
        if (st == CAI_OK)
            st = cai_potential_table_create(1, &m->S, tv, &term, err);
        free(col);
        free(pr);
        free(tv);
        if (st != CAI_OK)
            goto fail;
        cai_factor_mode rho_mode = alg == CAI_CONTROL_VARIATIONAL ? CAI_MODE_EXPECTATION
                                   : hard                          ? CAI_MODE_SUPPORT
                                                                   : CAI_MODE_NORMAL;
        if ((with_rho
             && (st = cai_graph_add_factor(c.g, rho, &c.s[0], 1, rho_mode, NULL, err)) != CAI_OK)
            || (st = cai_graph_add_factor(c.g, term, &c.s[steps], 1, CAI_MODE_NORMAL, NULL, err))
                   != CAI_OK)
            goto fail;
        c.rho = with_rho;
    }
    cai_potential_unref(dyn);
    cai_potential_unref(rew);
    cai_potential_unref(rho);
    cai_potential_unref(term);
    *out = c;
    return CAI_OK;
fail:
    cai_potential_unref(dyn);
    cai_potential_unref(rew);
    cai_potential_unref(rho);
    cai_potential_unref(term);
    control_compiled_free(&c);
    return st;
}
