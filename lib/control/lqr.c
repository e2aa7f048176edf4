/* lib/control/lqr.c — linear-quadratic control compiled into a chain of
 * Gaussian variables and answered by the Gaussian engine (cai/gauss.h);
 * nothing here is a Riccati recursion: values, policies and state
 * distributions are upward messages, conditionals and marginals of the
 * chain (see cai/lqr.h). */
#include "cai/lqr.h"

#include "cai/gauss.h"
#include "spec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cai_lqr {
    size_t n, m, T;
    double gamma, alpha;
    double *A, *B, *c, *noise, *Q, *R, *QT, *x0, *x0_cov; /* owned copies */
};

struct cai_lqr_solution {
    const cai_lqr *lqr;
    cai_control_algorithm alg;
    size_t T; /* 0: the stationary slice */
    double alpha;
    cai_gauss_graph *g;
    cai_gauss_plan *plan;
    cai_gauss_workspace *ws;
    size_t *xv, *uv; /* the chain's variables: x_0..x_T, u_0..u_T-1 */
    size_t iterations;
    bool converged, marginals;
    double objective, log_evidence;
};

void cai_lqr_free(cai_lqr *l)
{
    if (l == NULL)
        return;
    free(l->A); free(l->B); free(l->c); free(l->noise); free(l->Q); free(l->R);
    free(l->QT); free(l->x0); free(l->x0_cov);
    free(l);
}

cai_status cai_lqr_create(const cai_lqr_spec *s, cai_lqr **out, cai_error *err)
{
    if (s == NULL || out == NULL || s->A == NULL || s->B == NULL || s->Q == NULL
        || s->R == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "NULL argument (A, B, Q and R are required)");
    size_t n = s->n, m = s->m;
    if (n == 0 || m == 0 || n > CAI_LQR_MAX_DIM || m > CAI_LQR_MAX_DIM)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "dimensions n = %zu, m = %zu must be in 1..%d", n, m,
                             CAI_LQR_MAX_DIM);
    if (s->horizon > CAI_LQR_MAX_HORIZON)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0, "horizon %zu exceeds %d",
                             s->horizon, CAI_LQR_MAX_HORIZON);
    if (s->horizon == 0 && !(s->discount > 0 && s->discount <= 1))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "the infinite horizon needs a discount in (0, 1], got %g",
                             s->discount);
    if (!(s->temperature > 0) || !isfinite(s->temperature))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "temperature %g must be finite and > 0", s->temperature);
    const spec_matrix mats[] = {
        {s->A, n, n * n, "A", 0},          {s->B, n, n * m, "B", 0},
        {s->c, n, n, "c", 0},              {s->noise, n, n * n, "noise", CAI_GAUSS_PSD},
        {s->Q, n, n * n, "Q", CAI_GAUSS_SYMMETRIC}, {s->R, m, m * m, "R", CAI_GAUSS_PD},
        {s->QT, n, n * n, "QT", CAI_GAUSS_SYMMETRIC}, {s->x0, n, n, "x0", 0},
        {s->x0_cov, n, n * n, "x0_cov", CAI_GAUSS_PSD}};
    cai_status st = spec_check(mats, sizeof mats / sizeof mats[0], err);
    if (st != CAI_OK)
        return st;
    cai_lqr *l = calloc(1, sizeof *l);
    if (l == NULL)
        return spec_nomem(err);
    *l = (cai_lqr){.n = n, .m = m, .T = s->horizon, .alpha = s->temperature,
                   .gamma = s->horizon ? NAN : s->discount};
    l->A = spec_copy(s->A, n * n);
    l->B = spec_copy(s->B, n * m);
    l->c = spec_copy(s->c, n);
    l->noise = spec_copy(s->noise, n * n);
    l->Q = spec_copy(s->Q, n * n);
    l->R = spec_copy(s->R, m * m);
    l->QT = spec_copy(s->QT ? s->QT : s->Q, n * n);
    l->x0 = spec_copy(s->x0, n);
    l->x0_cov = spec_copy(s->x0_cov, n * n);
    if (!l->A || !l->B || !l->c || !l->noise || !l->Q || !l->R || !l->QT || !l->x0
        || !l->x0_cov) {
        cai_lqr_free(l);
        return spec_nomem(err);
    }
    *out = l;
    return CAI_OK;
}

size_t cai_lqr_n(const cai_lqr *l) { return l->n; }
size_t cai_lqr_m(const cai_lqr *l) { return l->m; }
size_t cai_lqr_horizon(const cai_lqr *l) { return l->T; }
double cai_lqr_discount(const cai_lqr *l) { return l->gamma; }
double cai_lqr_temperature(const cai_lqr *l) { return l->alpha; }

cai_lqr_options cai_lqr_options_default(void)
{
    return (cai_lqr_options){.algorithm = CAI_CONTROL_EXACT, .temperature = NAN,
                             .horizon = 0, .tol = 1e-12, .max_iterations = 100000,
                             .state_marginals = true};
}

void cai_lqr_solution_free(cai_lqr_solution *sol)
{
    if (sol == NULL)
        return;
    cai_gauss_workspace_free(sol->ws);
    cai_gauss_plan_free(sol->plan);
    cai_gauss_graph_free(sol->g);
    free(sol->xv);
    free(sol->uv);
    free(sol);
}

/* The tied potentials: dynamics over (x, u, x'), the reward quadratic
 * blockdiag(Q, R) / alpha over (x, u) (log-potential -1/2 z'Hz), the
 * terminal QT / alpha over x and the prior on x0. */
typedef struct lqr_pots {
    cai_gauss_potential *dyn, *rew, *term, *prior;
} lqr_pots;

static void pots_free(lqr_pots *p)
{
    cai_gauss_potential_unref(p->dyn);
    cai_gauss_potential_unref(p->rew);
    cai_gauss_potential_unref(p->term);
    cai_gauss_potential_unref(p->prior);
}

static cai_status make_pots(const cai_lqr *l, double alpha, lqr_pots *p, cai_error *err)
{
    size_t n = l->n, m = l->m, d = n + m, dims[2] = {n, m};
    double *AB = calloc(n * d, sizeof *AB), *H = calloc(d * d, sizeof *H),
           *HT = calloc(n * n, sizeof *HT);
    cai_status st = AB && H && HT ? CAI_OK : spec_nomem(err);
    for (size_t i = 0; i < n && st == CAI_OK; i++) {
        memcpy(AB + i * d, l->A + i * n, n * sizeof *AB);
        memcpy(AB + i * d + n, l->B + i * m, m * sizeof *AB);
        for (size_t j = 0; j < n; j++) {
            H[i * d + j] = l->Q[i * n + j] / alpha;
            HT[i * n + j] = l->QT[i * n + j] / alpha;
        }
    }
    for (size_t i = 0; i < m && st == CAI_OK; i++)
        for (size_t j = 0; j < m; j++)
            H[(n + i) * d + n + j] = l->R[i * m + j] / alpha;
    if (st == CAI_OK)
        st = cai_gauss_linear_create(2, dims, n, AB, l->c, l->noise, &p->dyn, err);
    if (st == CAI_OK)
        st = cai_gauss_quadratic_create(2, dims, H, NULL, 0.0, &p->rew, err);
    if (st == CAI_OK)
        st = cai_gauss_quadratic_create(1, &n, HT, NULL, 0.0, &p->term, err);
    if (st == CAI_OK)
        st = cai_gauss_prior_create(n, l->x0, l->x0_cov, &p->prior, err);
    free(AB);
    free(H);
    free(HT);
    return st;
}

/* The chain x0 u0 x1 ... xT (finite) or the slice x0 u0 x1 (stationary). */
static cai_status build(cai_lqr_solution *sol, const lqr_pots *p, bool marginals,
                        cai_error *err)
{
    const cai_lqr *l = sol->lqr;
    size_t steps = sol->T ? sol->T : 1;
    sol->xv = calloc(steps + 1, sizeof *sol->xv);
    sol->uv = calloc(steps, sizeof *sol->uv);
    if (sol->xv == NULL || sol->uv == NULL)
        return spec_nomem(err);
    cai_status st = cai_gauss_graph_create(&sol->g, err);
    for (size_t t = 0; t <= steps && st == CAI_OK; t++) {
        char name[32];
        snprintf(name, sizeof name, "x%zu", t);
        st = cai_gauss_graph_add_variable(sol->g, name, l->n, &sol->xv[t], err);
        if (st != CAI_OK || t == steps)
            break;
        snprintf(name, sizeof name, "u%zu", t);
        st = cai_gauss_graph_add_variable(sol->g, name, l->m, &sol->uv[t], err);
    }
    cai_factor_mode mode = sol->alg == CAI_CONTROL_VARIATIONAL ? CAI_MODE_EXPECTATION
                                                               : CAI_MODE_NORMAL;
    for (size_t t = 0; t < steps && st == CAI_OK; t++) {
        size_t scope[3] = {sol->xv[t], sol->uv[t], sol->xv[t + 1]};
        st = cai_gauss_graph_add_factor(sol->g, p->dyn, scope, 3, mode, NULL, err);
        if (st == CAI_OK)
            st = cai_gauss_graph_add_factor(sol->g, p->rew, scope, 2, CAI_MODE_NORMAL, NULL,
                                            err);
    }
    if (st == CAI_OK && sol->T > 0) {
        st = cai_gauss_graph_add_factor(sol->g, p->term, &sol->xv[steps], 1, CAI_MODE_NORMAL,
                                        NULL, err);
        if (st == CAI_OK)
            st = cai_gauss_graph_add_factor(sol->g, p->prior, &sol->xv[0], 1,
                                            CAI_MODE_NORMAL, NULL, err);
    }
    if (st == CAI_OK) {
        cai_gauss_plan_options po = cai_gauss_plan_options_default();
        po.root = sol->xv[0];
        po.upward_only = sol->T == 0 || !marginals;
        st = cai_gauss_plan_create(sol->g, &po, &sol->plan, err);
    }
    if (st == CAI_OK)
        st = cai_gauss_workspace_create(sol->plan, &sol->ws, err);
    return st;
}

/* E over x0 ~ N(x0, x0_cov) of the log message (J, h, c). */
static double expected_log(const cai_lqr *l, const double *J, const double *h, double c)
{
    size_t n = l->n;
    double e = c;
    for (size_t i = 0; i < n; i++) {
        e += h[i] * l->x0[i];
        for (size_t j = 0; j < n; j++)
            e -= 0.5 * J[i * n + j] * (l->x0[i] * l->x0[j] + l->x0_cov[j * n + i]);
    }
    return e;
}

/* Iterate the slice: x1's soft evidence is gamma times x0's upward message,
 * from zero, until J and h change by at most tol relative. */
static cai_status iterate(cai_lqr_solution *sol, const cai_lqr_options *o, double *J,
                          double *h, double *c, cai_error *err)
{
    const cai_lqr *l = sol->lqr;
    size_t n = l->n, nn = n * n;
    double *Jn = malloc((nn + n) * sizeof *Jn), *hn = Jn ? Jn + nn : NULL;
    if (Jn == NULL)
        return spec_nomem(err);
    memset(J, 0, nn * sizeof *J);
    memset(h, 0, n * sizeof *h);
    *c = 0;
    cai_status st = CAI_OK;
    while (st == CAI_OK && !sol->converged && sol->iterations < o->max_iterations) {
        double cn;
        if ((st = cai_gauss_plan_execute(sol->plan, sol->ws, err)) != CAI_OK
            || (st = cai_gauss_query_upward(sol->ws, sol->xv[0], Jn, hn, &cn, err)) != CAI_OK)
            break;
        sol->iterations++;
        double diff = 0, big = 1;
        for (size_t i = 0; i < nn + n; i++) {
            double v = Jn[i] * l->gamma, old = i < nn ? J[i] : h[i - nn];
            diff = fmax(diff, fabs(v - old));
            big = fmax(big, fabs(v));
            if (i < nn)
                J[i] = v;
            else
                h[i - nn] = v;
        }
        *c = cn * l->gamma;
        sol->converged = diff <= o->tol * big;
        st = cai_gauss_workspace_set_soft_evidence(sol->ws, sol->xv[1], J, h, *c, err);
    }
    /* leave the workspace executed on the final message */
    if (st == CAI_OK)
        st = cai_gauss_plan_execute(sol->plan, sol->ws, err);
    free(Jn);
    return st;
}

cai_status cai_lqr_solve(const cai_lqr *l, const cai_lqr_options *opt,
                         cai_lqr_solution **out, cai_error *err)
{
    if (l == NULL || out == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    cai_lqr_options o = opt ? *opt : cai_lqr_options_default();
    if (o.algorithm != CAI_CONTROL_EXACT && o.algorithm != CAI_CONTROL_VARIATIONAL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "linear-quadratic models are solved exact or variational");
    double alpha = isnan(o.temperature) ? l->alpha : o.temperature;
    if (!(alpha > 0) || !isfinite(alpha))
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "temperature %g must be finite and > 0", alpha);
    if (o.horizon != 0 && (l->T == 0 || o.horizon > CAI_LQR_MAX_HORIZON))
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "a horizon override needs a finite-horizon model and at most "
                             "%d steps", CAI_LQR_MAX_HORIZON);
    if (l->T == 0 && (!(o.tol > 0) || o.max_iterations == 0))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "the tolerance and the iteration cap must be positive");
    cai_lqr_solution *sol = calloc(1, sizeof *sol);
    if (sol == NULL)
        return spec_nomem(err);
    *sol = (cai_lqr_solution){.lqr = l, .alg = o.algorithm, .alpha = alpha,
                              .T = o.horizon ? o.horizon : l->T, .objective = NAN,
                              .log_evidence = NAN, .marginals = o.state_marginals};
    lqr_pots p = {0};
    size_t n = l->n;
    double *J = malloc((n * n + n) * sizeof *J), c;
    cai_status st = J ? make_pots(l, alpha, &p, err) : spec_nomem(err);
    if (st == CAI_OK)
        st = build(sol, &p, o.state_marginals, err);
    if (st == CAI_OK && sol->T > 0) {
        sol->iterations = 1;
        sol->converged = true;
        if ((st = cai_gauss_plan_execute(sol->plan, sol->ws, err)) == CAI_OK)
            st = cai_gauss_query_upward(sol->ws, sol->xv[0], J, J + n * n, &c, err);
        if (st == CAI_OK) {
            double lz = cai_gauss_query_log_z(sol->ws);
            sol->objective = alpha * expected_log(l, J, J + n * n, c);
            sol->log_evidence = o.algorithm == CAI_CONTROL_EXACT ? lz : NAN;
        }
    } else if (st == CAI_OK) {
        st = iterate(sol, &o, J, J + n * n, &c, err);
        if (st == CAI_OK && l->gamma < 1) /* V = U / gamma at the fixed point */
            sol->objective = alpha * expected_log(l, J, J + n * n, c) / l->gamma;
    }
    pots_free(&p);
    free(J);
    if (st != CAI_OK) {
        cai_lqr_solution_free(sol);
        return st;
    }
    *out = sol;
    return CAI_OK;
}

size_t cai_lqr_solution_horizon(const cai_lqr_solution *sol) { return sol->T; }
size_t cai_lqr_solution_iterations(const cai_lqr_solution *sol) { return sol->iterations; }
bool cai_lqr_solution_converged(const cai_lqr_solution *sol) { return sol->converged; }
double cai_lqr_solution_temperature(const cai_lqr_solution *sol) { return sol->alpha; }
double cai_lqr_solution_objective(const cai_lqr_solution *sol) { return sol->objective; }
double cai_lqr_solution_log_evidence(const cai_lqr_solution *sol) { return sol->log_evidence; }

static cai_status check_t(const cai_lqr_solution *sol, size_t t, size_t last, cai_error *err)
{
    if (sol == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (t > last)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0, "time %zu is past %zu", t, last);
    return CAI_OK;
}

cai_status cai_lqr_solution_value(const cai_lqr_solution *sol, size_t t, double *out_P,
                                  double *out_p, cai_error *err)
{
    cai_status st = check_t(sol, t, sol ? sol->T : 0, err);
    if (st != CAI_OK)
        return st;
    size_t n = sol->lqr->n;
    double *J = malloc((n * n + n) * sizeof *J);
    if (J == NULL)
        return spec_nomem(err);
    st = cai_gauss_query_upward(sol->ws, sol->xv[t], J, J + n * n, NULL, err);
    double scale = sol->alpha; /* V_t / alpha is x_t's upward message */
    for (size_t i = 0; i < n * n && st == CAI_OK; i++) {
        if (out_P)
            out_P[i] = scale * J[i];
        if (out_p && i < n)
            out_p[i] = scale * J[n * n + i];
    }
    free(J);
    return st;
}

cai_status cai_lqr_solution_policy(const cai_lqr_solution *sol, size_t t, double *out_K,
                                   double *out_k, double *out_cov, cai_error *err)
{
    cai_status st = check_t(sol, t, sol && sol->T ? sol->T - 1 : 0, err);
    if (st != CAI_OK)
        return st;
    return cai_gauss_query_conditional(sol->ws, sol->uv[t], sol->xv[t], out_K, out_k, out_cov,
                                       err);
}

cai_status cai_lqr_solution_state(const cai_lqr_solution *sol, size_t t, double *out_mean,
                                  double *out_cov, cai_error *err)
{
    cai_status st = check_t(sol, t, sol ? sol->T : 0, err);
    if (st != CAI_OK)
        return st;
    if (sol->T == 0)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "the infinite horizon has no state trajectory");
    if (!sol->marginals)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "solved without state_marginals");
    return cai_gauss_query_marginal(sol->ws, sol->xv[t], out_mean, out_cov, err);
}
