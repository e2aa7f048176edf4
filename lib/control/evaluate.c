/* lib/control/evaluate.c — a given policy under the true dynamics, as
 * inference on the Markov chain it induces: s_{t+1} | s_t with
 * P_pi(s'|s) = sum_a pi(a|s) P(s'|s,a), every conditional (and rho) in
 * expectation mode, so q is the chain itself and the ELBO is the expected
 * sum of the per-state terms given as soft evidence. Also sampling. */
#include "mdp_impl.h"

#include "cai/logmath.h"
#include "cai/potential.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* P_pi for one policy table pol[S*A] (rows normalised here), with a
 * discount's death column when gamma > 0. */
static cai_status induced_potential(const cai_mdp *m, const double *pol, double gamma,
                                    cai_potential **out, cai_error *err)
{
    size_t S = m->S, A = m->A, K = gamma > 0 ? S + 1 : S;
    size_t cap = m->row_ptr[S * A] + S;
    size_t *rp = malloc((S + 1) * sizeof *rp), *col = malloc(cap * sizeof *col);
    size_t *touched = malloc(K * sizeof *touched);
    double *pr = malloc(cap * sizeof *pr), *acc = calloc(K, sizeof *acc);
    cai_status st;
    if (!rp || !col || !touched || !pr || !acc) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    size_t n = 0;
    rp[0] = 0;
    for (size_t s = 0; s < S; s++) {
        const double *row = pol + s * A;
        double z = 0;
        for (size_t a = 0; a < A; a++)
            z += row[a];
        size_t nt = 0;
        for (size_t a = 0; a < A; a++) {
            if (row[a] <= 0)
                continue;
            size_t r = s * A + a;
            for (size_t j = m->row_ptr[r]; j < m->row_ptr[r + 1]; j++) {
                size_t x = m->next[j];
                if (acc[x] == 0)
                    touched[nt++] = x;
                acc[x] += (row[a] / z) * m->prob[j] * (gamma > 0 ? gamma : 1.0);
            }
        }
        if (gamma > 0) {
            touched[nt++] = S;
            acc[S] = 1.0 - gamma;
        }
        /* columns in increasing order */
        for (size_t i = 1; i < nt; i++)
            for (size_t j = i; j > 0 && touched[j - 1] > touched[j]; j--) {
                size_t t = touched[j];
                touched[j] = touched[j - 1];
                touched[j - 1] = t;
            }
        for (size_t i = 0; i < nt; i++) {
            col[n] = touched[i];
            pr[n++] = acc[touched[i]];
            acc[touched[i]] = 0;
        }
        rp[s + 1] = n;
    }
    st = cai_potential_csr_create(1, &m->S, K, rp, col, pr, out, err);
done:
    free(rp);
    free(col);
    free(touched);
    free(pr);
    free(acc);
    return st;
}

/* The chain graph: s_0 .. s_T (T = 1 and S + 1 states at the end for a
 * discounted slice); factor t uses policy t (or 0 when stationary). */
typedef struct chain {
    cai_graph *g;
    cai_plan *plan;
    cai_workspace *ws;
    size_t *s;
} chain;

static void chain_free(chain *c)
{
    cai_workspace_free(c->ws);
    cai_plan_free(c->plan);
    cai_graph_free(c->g);
    free(c->s);
}

static cai_status chain_build(const cai_mdp *m, size_t T, const double *pol, bool stationary,
                              bool discounted, chain *c, cai_error *err)
{
    size_t S = m->S, A = m->A;
    cai_potential *p = NULL, *rho = NULL;
    cai_status st;
    memset(c, 0, sizeof *c);
    if ((c->s = malloc((T + 1) * sizeof *c->s)) == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    if ((st = cai_graph_create(&c->g, err)) != CAI_OK)
        goto fail;
    for (size_t t = 0; t <= T; t++) {
        char name[32];
        snprintf(name, sizeof name, "s%zu", t);
        size_t card = discounted && t == T ? S + 1 : S;
        if ((st = cai_graph_add_variable(c->g, name, card, NULL, &c->s[t], err)) != CAI_OK)
            goto fail;
    }
    for (size_t t = 0; t < T; t++) {
        if (p == NULL || !stationary) {
            cai_potential_unref(p);
            p = NULL;
            if ((st = induced_potential(m, pol + (stationary ? 0 : t * S * A),
                                        discounted ? m->gamma : 0, &p, err)) != CAI_OK)
                goto fail;
        }
        size_t scope[2] = {c->s[t], c->s[t + 1]};
        if ((st = cai_graph_add_factor(c->g, p, scope, 2, CAI_MODE_EXPECTATION, NULL, err))
            != CAI_OK)
            goto fail;
    }
    if (!discounted) {
        size_t rp[2] = {0, 0}, *col = malloc(S * sizeof *col);
        double *pr = malloc(S * sizeof *pr);
        if (col == NULL || pr == NULL) {
            free(col);
            free(pr);
            st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
            goto fail;
        }
        for (size_t s = 0; s < S; s++)
            if (m->rho[s] > 0) {
                col[rp[1]] = s;
                pr[rp[1]++] = m->rho[s];
            }
        st = cai_potential_csr_create(0, NULL, S, rp, col, pr, &rho, err);
        free(col);
        free(pr);
        if (st != CAI_OK || (st = cai_graph_add_factor(c->g, rho, &c->s[0], 1,
                                                       CAI_MODE_EXPECTATION, NULL, err)) != CAI_OK)
            goto fail;
    }
    cai_plan_options po = cai_plan_options_default();
    po.root = c->s[0];
    if ((st = cai_plan_create(c->g, &po, &c->plan, err)) != CAI_OK
        || (st = cai_workspace_create(c->plan, &c->ws, err)) != CAI_OK)
        goto fail;
    cai_potential_unref(p);
    cai_potential_unref(rho);
    return CAI_OK;
fail:
    cai_potential_unref(p);
    cai_potential_unref(rho);
    chain_free(c);
    return st;
}

cai_status control_push_forward(const cai_mdp *m, size_t T, const double *policies,
                                double *out, cai_error *err)
{
    chain c;
    cai_status st = chain_build(m, T, policies, false, false, &c, err);
    if (st != CAI_OK)
        return st;
    st = cai_plan_execute(c.plan, c.ws, err);
    for (size_t t = 0; t <= T && st == CAI_OK; t++)
        st = cai_query_marginal(c.ws, c.s[t], out + t * m->S, err);
    chain_free(&c);
    return st;
}

/* Per-state expected reward of policy row pol[s] (soft: minus alpha KL). */
static void policy_terms(const cai_mdp *m, const double *pol, bool soft, double *out)
{
    for (size_t s = 0; s < m->S; s++) {
        double v = 0;
        for (size_t a = 0; a < m->A; a++) {
            size_t i = s * m->A + a;
            double p = pol[i];
            if (p <= 0)
                continue;
            v += p * m->reward[i];
            if (soft && m->alpha > 0)
                v -= mdp_prior(m, i) > 0 ? m->alpha * p * log(p / mdp_prior(m, i)) : INFINITY;
        }
        out[s] = v;
    }
}

static cai_status check_policy(const cai_mdp *m, const double *pol, size_t n_tables,
                               cai_error *err)
{
    for (size_t t = 0; t < n_tables; t++)
        for (size_t s = 0; s < m->S; s++) {
            const double *row = pol + (t * m->S + s) * m->A;
            double z = 0;
            for (size_t a = 0; a < m->A; a++) {
                if (!(row[a] >= 0 && row[a] <= 1))
                    return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                         "policy at t %zu, state '%s': probability %g is not "
                                         "in [0, 1]", t, name_get(&m->states, s), row[a]);
                z += row[a];
            }
            if (!(fabs(z - 1) <= 1e-9))
                return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                     "policy at t %zu, state '%s' sums to %.17g, not 1", t,
                                     name_get(&m->states, s), z);
        }
    return CAI_OK;
}

/* One return (soft or plain) of the built chain. */
static cai_status chain_return(const cai_mdp *m, chain *c, size_t T, const double *pol,
                               bool stationary, bool soft, double *out, cai_error *err)
{
    size_t S = m->S, A = m->A;
    double *term = malloc((S + 1) * sizeof *term), *V = calloc(S + 1, sizeof *V);
    cai_status st = CAI_OK;
    if (term == NULL || V == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    if (m->gamma > 0) {
        /* fixed point of V = r_pi + gamma P_pi V through the one-step chain */
        policy_terms(m, pol, soft, term);
        if ((st = cai_workspace_set_soft_evidence(c->ws, c->s[0], term, err)) != CAI_OK)
            goto done;
        for (size_t it = 0; it < 100000; it++) {
            V[S] = 0;
            if ((st = cai_workspace_set_soft_evidence(c->ws, c->s[1], V, err)) != CAI_OK
                || (st = cai_plan_execute(c->plan, c->ws, err)) != CAI_OK
                || (st = cai_query_upward(c->ws, c->s[0], term, err)) != CAI_OK)
                goto done;
            double diff = 0, scale = 1;
            for (size_t s = 0; s < S; s++) {
                diff = fmax(diff, fabs(term[s] - V[s]));
                scale = fmax(scale, fabs(term[s]));
                V[s] = term[s];
            }
            if (diff <= 1e-13 * scale)
                break;
        }
        double r = 0;
        for (size_t s = 0; s < S; s++)
            if (m->rho[s] > 0)
                r += m->rho[s] * V[s];
        *out = r;
        goto done;
    }
    for (size_t t = 0; t < T; t++) {
        policy_terms(m, pol + (stationary ? 0 : t * S * A), soft, term);
        if ((st = cai_workspace_set_soft_evidence(c->ws, c->s[t], term, err)) != CAI_OK)
            goto done;
    }
    if ((st = cai_workspace_set_soft_evidence(c->ws, c->s[T], m->terminal, err)) != CAI_OK
        || (st = cai_plan_execute(c->plan, c->ws, err)) != CAI_OK)
        goto done;
    *out = cai_query_log_z(c->ws); /* the ELBO: E_q[sum of the terms] */
done:
    free(term);
    free(V);
    return st;
}

cai_status cai_mdp_evaluate(const cai_mdp *m, const double *policy, bool stationary,
                            cai_evaluation *out, cai_error *err)
{
    if (m == NULL || policy == NULL || out == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    bool discounted = m->gamma > 0;
    size_t T = discounted ? 1 : m->T;
    bool stat = stationary || discounted;
    cai_status st = check_policy(m, policy, stat ? 1 : T, err);
    if (st != CAI_OK)
        return st;
    chain c;
    if ((st = chain_build(m, T, policy, stat, discounted, &c, err)) != CAI_OK)
        return st;
    cai_evaluation ev;
    if ((st = chain_return(m, &c, T, policy, stat, true, &ev.soft_return, err)) == CAI_OK
        && (st = chain_return(m, &c, T, policy, stat, false, &ev.plain_return, err)) == CAI_OK)
        *out = ev;
    chain_free(&c);
    return st;
}

cai_status cai_mdp_policy_state_marginals(const cai_mdp *m, const double *policy,
                                         bool stationary, double *out, cai_error *err)
{
    if (m == NULL || policy == NULL || out == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (m->gamma > 0)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "state marginals under a policy need a finite horizon; the "
                             "model is discounted (gamma = %g)", m->gamma);
    cai_status st = check_policy(m, policy, stationary ? 1 : m->T, err);
    if (st != CAI_OK)
        return st;
    chain c;
    if ((st = chain_build(m, m->T, policy, stationary, false, &c, err)) != CAI_OK)
        return st;
    st = cai_plan_execute(c.plan, c.ws, err);
    for (size_t t = 0; t <= m->T && st == CAI_OK; t++)
        st = cai_query_marginal(c.ws, c.s[t], out + t * m->S, err);
    chain_free(&c);
    return st;
}

/* Index drawn from the distribution p[0..n-1] with the uniform u. */
static size_t draw(const double *p, size_t n, double u)
{
    double c = 0;
    for (size_t i = 0; i < n; i++) {
        c += p[i];
        if (u < c)
            return i;
    }
    for (size_t i = n; i-- > 0;) /* rounding: the last one with mass */
        if (p[i] > 0)
            return i;
    return 0;
}

cai_status cai_solution_sample(const cai_solution *sol, unsigned long seed, size_t count,
                               size_t max_steps, size_t *out, size_t *out_steps, cai_error *err)
{
    if (sol == NULL || out == NULL || out_steps == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    const cai_mdp *m = sol->m;
    size_t S = m->S, A = m->A, L = sol->T ? sol->T : max_steps, width = 2 * L + 1;
    if (sol->T && max_steps != sol->T)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "max_steps must be the horizon %zu for a finite-horizon solution",
                             sol->T);
    double *pol = malloc(S * A * sizeof *pol), *next = malloc(S * sizeof *next);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    cai_status st = CAI_OK;
    if (pol == NULL || next == NULL || rng == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    gsl_rng_set(rng, seed);
    for (size_t k = 0; k < count; k++) {
        for (size_t i = 0; i < width; i++)
            out[k * width + i] = CAI_NONE;
        out[k * width] = draw(m->rho, S, gsl_rng_uniform(rng));
        out_steps[k] = 0;
    }
    bool *alive = malloc((count ? count : 1) * sizeof *alive);
    if (alive == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < count; k++)
        alive[k] = true;
    /* all trajectories advance together, one policy table per step */
    for (size_t t = 0; t < L && st == CAI_OK; t++) {
        if (t == 0 || sol->T)
            if ((st = cai_solution_policy(sol, t, pol, err)) != CAI_OK)
                break;
        for (size_t k = 0; k < count; k++) {
            if (!alive[k])
                continue;
            size_t *tr = out + k * width, s = tr[2 * t];
            if (sol->T == 0 && t > 0 && gsl_rng_uniform(rng) >= m->gamma) {
                alive[k] = false; /* the death state */
                continue;
            }
            size_t a = draw(pol + s * A, A, gsl_rng_uniform(rng));
            size_t r = s * A + a, lo = m->row_ptr[r], n = m->row_ptr[r + 1] - lo;
            size_t j = draw(m->prob + lo, n, gsl_rng_uniform(rng));
            tr[2 * t + 1] = a;
            tr[2 * t + 2] = m->next[lo + j];
            out_steps[k] = t + 1;
        }
    }
    free(alive);
done:
    free(pol);
    free(next);
    if (rng)
        gsl_rng_free(rng);
    return st;
}
