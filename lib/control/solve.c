/* lib/control/solve.c — solve an MDP by inference on its compiled graph and
 * answer V, Q, the policy, state distributions and the MAP trajectory from
 * engine queries. */
#include "mdp_impl.h"

#include "cai/logmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Implemented in evaluate.c: rho pushed forward through policies[t] (T of
 * them, S*A each) and the true dynamics, into out[(T+1)*S]. */
cai_status control_push_forward(const cai_mdp *m, size_t T, const double *policies,
                                double *out, cai_error *err);

const char *cai_control_algorithm_name(cai_control_algorithm a)
{
    switch (a) {
    case CAI_CONTROL_EXACT: return "exact";
    case CAI_CONTROL_VARIATIONAL: return "variational";
    case CAI_CONTROL_MAP: return "map";
    }
    return "unknown";
}

cai_solve_options cai_solve_options_default(void)
{
    return (cai_solve_options){.algorithm = CAI_CONTROL_EXACT, .temperature = NAN,
                               .horizon = 0, .tol = 1e-12, .max_iterations = 100000,
                               .state_marginals = true, .sweep = CAI_SWEEP_JACOBI};
}

void cai_solution_free(cai_solution *sol)
{
    if (sol == NULL)
        return;
    cai_workspace_free(sol->ws);
    cai_plan_free(sol->plan);
    control_compiled_free(&sol->c);
    free(sol->V);
    free(sol->fwd);
    free(sol->traj);
    free(sol);
}

static bool is_max_plan(const cai_solution *sol)
{
    return sol->alpha == 0 || sol->alg == CAI_CONTROL_MAP;
}

/* Scale from the engine's log units to reward units. */
static double units(const cai_solution *sol)
{
    return sol->alpha > 0 ? sol->alpha : 1.0;
}

/* The cavity of (a_t, s_t) as S*A logs: log pi0 + Q / alpha (reward units
 * and pi0's support at alpha = 0). */
static cai_status cavity_at(const cai_solution *sol, size_t t, double *out, cai_error *err)
{
    return cai_query_cavity(sol->ws, sol->c.a[t], sol->c.s[t], out, err);
}

/* V_t from the engine: the upward message of s_t, except at a finite
 * horizon's t = 0 when rho is a local term of s_0: the cavity of (a_0, s_0)
 * leaves it out. */
static cai_status values_at(const cai_solution *sol, size_t t, double *out, cai_error *err)
{
    size_t S = sol->m->S, A = sol->m->A;
    cai_status st;
    if (sol->T == 0 || t > 0 || !sol->c.rho) {
        size_t var = sol->T == 0 ? sol->c.s[0] : sol->c.s[t];
        if ((st = cai_query_upward(sol->ws, var, out, err)) != CAI_OK)
            return st;
    } else {
        double *cav = malloc(S * A * sizeof *cav);
        if (cav == NULL)
            return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        if ((st = cavity_at(sol, 0, cav, err)) != CAI_OK) {
            free(cav);
            return st;
        }
        for (size_t s = 0; s < S; s++) {
            const double *row = cav + s * A;
            if (is_max_plan(sol)) {
                double best = -INFINITY;
                for (size_t a = 0; a < A; a++)
                    best = fmax(best, row[a]);
                out[s] = best;
            } else {
                out[s] = cai_logsumexp(row, A);
            }
        }
        free(cav);
    }
    for (size_t s = 0; s < S; s++)
        out[s] *= units(sol);
    return CAI_OK;
}

static cai_status check_t(const cai_solution *sol, size_t t, bool action_step, cai_error *err)
{
    if (sol->T == 0)
        return CAI_OK;
    size_t last = action_step ? sol->T - 1 : sol->T;
    if (t > last)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0, "time %zu is out of range 0..%zu",
                             t, last);
    return CAI_OK;
}

cai_status cai_solution_value(const cai_solution *sol, size_t t, double *out, cai_error *err)
{
    cai_status st = check_t(sol, t, false, err);
    if (st != CAI_OK)
        return st;
    if (sol->T == 0) {
        memcpy(out, sol->V, sol->m->S * sizeof *out);
        return CAI_OK;
    }
    return values_at(sol, t, out, err);
}

cai_status cai_solution_q(const cai_solution *sol, size_t t, double *out, cai_error *err)
{
    cai_status st = check_t(sol, t, true, err);
    if (st != CAI_OK || (st = cavity_at(sol, sol->T == 0 ? 0 : t, out, err)) != CAI_OK)
        return st;
    size_t SA = sol->m->S * sol->m->A;
    for (size_t i = 0; i < SA; i++) {
        double p = mdp_prior(sol->m, i);
        if (p <= 0)
            out[i] = -INFINITY;
        else if (sol->alpha > 0)
            out[i] = sol->alpha * (out[i] - log(p));
    }
    return CAI_OK;
}

cai_status cai_solution_policy(const cai_solution *sol, size_t t, double *out, cai_error *err)
{
    cai_status st = check_t(sol, t, true, err);
    if (st != CAI_OK || (st = cavity_at(sol, sol->T == 0 ? 0 : t, out, err)) != CAI_OK)
        return st;
    size_t S = sol->m->S, A = sol->m->A;
    for (size_t s = 0; s < S; s++) {
        double *row = out + s * A;
        if (!is_max_plan(sol)) {
            double z = cai_logsumexp(row, A);
            for (size_t a = 0; a < A; a++)
                row[a] = exp(row[a] - z);
            continue;
        }
        /* hard limit: uniform over the maximisers */
        double best = -INFINITY;
        for (size_t a = 0; a < A; a++)
            best = fmax(best, row[a]);
        double tie = best - CAI_HARD_TIE * fmax(1.0, fabs(best));
        size_t n = 0;
        for (size_t a = 0; a < A; a++)
            n += row[a] >= tie;
        for (size_t a = 0; a < A; a++)
            row[a] = row[a] >= tie ? 1.0 / (double)n : 0.0;
    }
    return CAI_OK;
}

cai_status cai_solution_state_marginal(const cai_solution *sol, size_t t, double *out,
                                       cai_error *err)
{
    if (sol->T == 0)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "state marginals need a finite horizon");
    cai_status st = check_t(sol, t, false, err);
    if (st != CAI_OK)
        return st;
    size_t S = sol->m->S;
    if (sol->fwd) {
        memcpy(out, sol->fwd + t * S, S * sizeof *out);
        return CAI_OK;
    }
    if (!sol->marginals)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "state marginals were not asked for (cai_solve_options)");
    return cai_query_marginal(sol->ws, sol->c.s[t], out, err);
}

cai_status cai_solution_trajectory(const cai_solution *sol, size_t *out, double *out_log_score,
                                   cai_error *err)
{
    if (sol->traj == NULL)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "a trajectory comes from the map algorithm");
    memcpy(out, sol->traj, (2 * sol->T + 1) * sizeof *out);
    if (out_log_score)
        *out_log_score = sol->log_score;
    return CAI_OK;
}

cai_control_algorithm cai_solution_algorithm(const cai_solution *sol) { return sol->alg; }
const cai_graph *cai_solution_graph(const cai_solution *sol) { return sol->c.g; }
size_t cai_solution_horizon(const cai_solution *sol) { return sol->T; }
double cai_solution_temperature(const cai_solution *sol) { return sol->alpha; }
double cai_solution_log_evidence(const cai_solution *sol) { return sol->log_evidence; }
double cai_solution_objective(const cai_solution *sol) { return sol->objective; }
size_t cai_solution_iterations(const cai_solution *sol) { return sol->iterations; }

size_t cai_solution_message_bytes(const cai_solution *sol)
{
    if (sol == NULL)
        return 0;
    size_t S = sol->m->S, d = (sol->V ? S : 0) + (sol->fwd ? (sol->T + 1) * S : 0);
    return cai_plan_workspace_bytes(sol->plan) + d * sizeof(double)
           + (sol->traj ? (2 * sol->T + 1) * sizeof(size_t) : 0);
}
bool cai_solution_converged(const cai_solution *sol) { return sol->converged; }

/* Discounted: the engine iterates the slice, feeding the upward message of
 * s (V / alpha) back into s' (whose death state keeps value 0). */
static cai_status iterate(cai_solution *sol, const cai_solve_options *o, cai_error *err)
{
    size_t S = sol->m->S;
    double death = 0.0;
    cai_status st = cai_plan_iterate_traced(sol->plan, sol->ws, sol->c.s[0], sol->c.s[1],
                                            &death, o->sweep, o->tol, o->max_iterations,
                                            o->trace, o->trace_ctx, &sol->iterations,
                                            &sol->converged, err);
    if (st != CAI_OK)
        return st;
    if ((sol->V = malloc(S * sizeof *sol->V)) == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    return values_at(sol, 0, sol->V, err);
}

/* The hard-limit state distributions: rho through the limiting policy. */
static cai_status hard_forward(cai_solution *sol, cai_error *err)
{
    size_t S = sol->m->S, A = sol->m->A, T = sol->T, n;
    if (!cai_size_mul(T, S * A, &n))
        return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "horizon too long");
    double *pol = malloc((n ? n : 1) * sizeof *pol);
    sol->fwd = malloc((T + 1) * S * sizeof *sol->fwd);
    cai_status st = CAI_OK;
    if (pol == NULL || sol->fwd == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    for (size_t t = 0; t < T && st == CAI_OK; t++)
        st = cai_solution_policy(sol, t, pol + t * S * A, err);
    if (st == CAI_OK)
        st = control_push_forward(sol->m, T, pol, sol->fwd, err);
done:
    free(pol);
    return st;
}

static cai_status check_options(const cai_mdp *m, const cai_solve_options *o, double alpha,
                                cai_error *err)
{
    if (o->algorithm != CAI_CONTROL_EXACT && o->algorithm != CAI_CONTROL_VARIATIONAL
        && o->algorithm != CAI_CONTROL_MAP)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown algorithm %d",
                             (int)o->algorithm);
    if (!(alpha >= 0 && isfinite(alpha)))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "temperature %g is not a finite number >= 0", alpha);
    bool discounted = m->gamma > 0;
    if (discounted && o->horizon)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "a horizon override needs a finite-horizon model; this one is "
                             "discounted");
    if (discounted && o->algorithm == CAI_CONTROL_MAP)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "the map algorithm needs a finite horizon");
    if (discounted && !(o->tol > 0 && o->max_iterations > 0))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "the tolerance and the iteration cap must be positive");
    if (discounted && o->algorithm == CAI_CONTROL_EXACT) {
        size_t SA = m->S * m->A;
        for (size_t i = 0; i < SA; i++)
            if (m->reward[i] > 0)
                return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                     "exact inference with a discount needs every reward <= 0 "
                                     "(state '%s', action '%s' has %g): only then is "
                                     "p(O=1|s,a) = exp(r/alpha) <= 1 and the backup a "
                                     "contraction; use --algorithm variational or a finite "
                                     "horizon", name_get(&m->states, i / m->A),
                                     name_get(&m->actions, i % m->A), m->reward[i]);
    }
    return CAI_OK;
}

cai_status cai_mdp_solve(const cai_mdp *m, const cai_solve_options *opt, cai_solution **out_sol,
                         cai_error *err)
{
    if (m == NULL || out_sol == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    cai_solve_options o = opt ? *opt : cai_solve_options_default();
    double alpha = isnan(o.temperature) ? m->alpha : o.temperature;
    cai_status st = check_options(m, &o, alpha, err);
    if (st != CAI_OK)
        return st;
    bool discounted = m->gamma > 0;
    cai_solution *sol = calloc(1, sizeof *sol);
    if (sol == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    sol->m = m;
    sol->alg = o.algorithm;
    sol->alpha = alpha;
    sol->T = discounted ? 0 : o.horizon ? o.horizon : m->T;
    sol->log_evidence = NAN;
    sol->marginals = o.state_marginals;
    /* the downward pass serves the state marginals of exact and variational
     * solutions at alpha > 0, and the MAP trajectory */
    bool upward_only = !(o.algorithm == CAI_CONTROL_MAP
                         || (o.state_marginals && alpha > 0 && !discounted));
    if ((st = control_compile(m, o.algorithm, alpha, sol->T, discounted, !upward_only, &sol->c,
                              err)) != CAI_OK)
        goto fail;
    cai_plan_options po = cai_plan_options_default();
    po.algorithm = is_max_plan(sol) ? CAI_MAX_PRODUCT : CAI_SUM_PRODUCT;
    po.max_expectation = o.algorithm == CAI_CONTROL_VARIATIONAL && alpha == 0;
    po.root = sol->c.s[0];
    po.upward_only = upward_only;
    if ((st = cai_plan_create(sol->c.g, &po, &sol->plan, err)) != CAI_OK
        || (st = cai_workspace_create_cached(sol->plan, m->msg_cache, &sol->ws, err))
               != CAI_OK)
        goto fail;
    size_t S = m->S;
    double *V0 = malloc(S * sizeof *V0);
    if (V0 == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto fail;
    }
    if (discounted) {
        st = iterate(sol, &o, err);
        if (st == CAI_OK)
            memcpy(V0, sol->V, S * sizeof *V0);
    } else {
        st = cai_plan_execute(sol->plan, sol->ws, err);
        sol->iterations = 1;
        sol->converged = true;
        if (st == CAI_OK)
            st = values_at(sol, 0, V0, err);
    }
    if (st != CAI_OK) {
        free(V0);
        goto fail;
    }
    /* objective = sum rho V_0; log evidence = log sum rho exp(V_0 / alpha) */
    cai_lse ev;
    cai_lse_init(&ev);
    sol->objective = 0;
    for (size_t s = 0; s < S; s++) {
        if (m->rho[s] <= 0)
            continue;
        sol->objective += m->rho[s] * V0[s];
        if (alpha > 0)
            cai_lse_add(&ev, log(m->rho[s]) + V0[s] / alpha);
    }
    free(V0);
    if (o.algorithm == CAI_CONTROL_EXACT && alpha > 0)
        sol->log_evidence = sol->c.rho ? cai_query_log_z(sol->ws) : cai_lse_result(&ev);
    if (o.algorithm == CAI_CONTROL_MAP) {
        size_t nv = cai_graph_n_variables(sol->c.g);
        size_t *assign = malloc(nv * sizeof *assign);
        sol->traj = malloc((2 * sol->T + 1) * sizeof *sol->traj);
        sol->fwd = calloc((sol->T + 1) * S, sizeof *sol->fwd);
        if (assign == NULL || sol->traj == NULL || sol->fwd == NULL) {
            free(assign);
            st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
            goto fail;
        }
        st = cai_query_map(sol->ws, assign, &sol->log_score, err);
        for (size_t t = 0; st == CAI_OK && t <= sol->T; t++) {
            sol->traj[2 * t] = assign[sol->c.s[t]];
            sol->fwd[t * S + assign[sol->c.s[t]]] = 1.0;
            if (t < sol->T)
                sol->traj[2 * t + 1] = assign[sol->c.a[t]];
        }
        free(assign);
        if (st != CAI_OK)
            goto fail;
    } else if (alpha == 0 && !discounted && o.state_marginals
               && (st = hard_forward(sol, err)) != CAI_OK) {
        goto fail;
    }
    *out_sol = sol;
    return CAI_OK;
fail:
    cai_solution_free(sol);
    return st;
}
