/* lib/control/lgssm.c — a linear-Gaussian state-space model compiled into a
 * chain of Gaussian variables with clamped observations and answered by the
 * Gaussian engine (cai/gauss.h): nothing here is a Kalman filter. The
 * likelihood is log Z, the smoothed distributions are marginals of the plan
 * rooted at x0, the filtered ones upward messages of a plan rooted at
 * x_T-1 (see cai/lgssm.h). */
#include "cai/lgssm.h"

#include "cai/gauss.h"
#include "spec.h"
#include "cai/logmath.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cai_lgssm {
    size_t n, p, T;
    double *A, *c, *Q, *C, *d, *R, *x0, *x0_cov, *y; /* owned copies */
};

struct cai_lgssm_result {
    size_t n, T;
    double log_likelihood;
    size_t *xv; /* x_t's variable, the same in both plans */
    cai_gauss_plan *smooth_plan, *filter_plan;
    cai_gauss_workspace *smooth_ws, *filter_ws; /* filter_*: NULL when not offered */
    cai_gauss_message *prior;                   /* N(x0, x0_cov), for filtered t = 0 */
    char no_filter[160];                        /* why filtered is not offered */
};

void cai_lgssm_free(cai_lgssm *lg)
{
    if (lg == NULL)
        return;
    free(lg->A); free(lg->c); free(lg->Q); free(lg->C); free(lg->d); free(lg->R);
    free(lg->x0); free(lg->x0_cov); free(lg->y);
    free(lg);
}

/* The observations: y[t][i] named as such. */
static cai_status check_observations(const double *y, size_t T, size_t p, cai_error *err)
{
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < p; i++)
            if (!isfinite(y[t * p + i]))
                return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                     "y[%zu][%zu] is %g, not a finite number", t, i,
                                     y[t * p + i]);
    return CAI_OK;
}

cai_status cai_lgssm_create(const cai_lgssm_spec *s, cai_lgssm **out, cai_error *err)
{
    if (s == NULL || out == NULL || s->A == NULL || s->Q == NULL || s->C == NULL
        || s->R == NULL || s->y == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "NULL argument (A, Q, C, R and y are required)");
    size_t n = s->n, p = s->p, T = s->T, Tp;
    if (n == 0 || p == 0 || n > CAI_LGSSM_MAX_DIM || p > CAI_LGSSM_MAX_DIM)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "dimensions n = %zu, p = %zu must be in 1..%d", n, p,
                             CAI_LGSSM_MAX_DIM);
    if (T == 0 || T > CAI_LGSSM_MAX_STEPS || !cai_size_mul(T, p, &Tp))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "the number of observations T = %zu must be in 1..%d", T,
                             CAI_LGSSM_MAX_STEPS);
    const spec_matrix mats[] = {{s->A, n, n * n, "A", 0},
                                {s->c, n, n, "c", 0},
                                {s->Q, n, n * n, "Q", CAI_GAUSS_PSD},
                                {s->C, n, p * n, "C", 0},
                                {s->d, p, p, "d", 0},
                                {s->R, p, p * p, "R", CAI_GAUSS_PD},
                                {s->x0, n, n, "x0", 0},
                                {s->x0_cov, n, n * n, "x0_cov", CAI_GAUSS_PSD}};
    cai_status st = spec_check(mats, sizeof mats / sizeof mats[0], err);
    if (st != CAI_OK)
        return st;
    st = check_observations(s->y, T, p, err);
    if (st != CAI_OK)
        return st;
    cai_lgssm *lg = calloc(1, sizeof *lg);
    if (lg == NULL)
        return spec_nomem(err);
    *lg = (cai_lgssm){.n = n, .p = p, .T = T};
    lg->A = spec_copy(s->A, n * n);
    lg->c = spec_copy(s->c, n);
    lg->Q = spec_copy(s->Q, n * n);
    lg->C = spec_copy(s->C, p * n);
    lg->d = spec_copy(s->d, p);
    lg->R = spec_copy(s->R, p * p);
    lg->x0 = spec_copy(s->x0, n);
    lg->x0_cov = spec_copy(s->x0_cov, n * n);
    lg->y = spec_copy(s->y, Tp);
    if (!lg->A || !lg->c || !lg->Q || !lg->C || !lg->d || !lg->R || !lg->x0 || !lg->x0_cov
        || !lg->y) {
        cai_lgssm_free(lg);
        return spec_nomem(err);
    }
    *out = lg;
    return CAI_OK;
}

size_t cai_lgssm_n(const cai_lgssm *lg) { return lg->n; }
size_t cai_lgssm_p(const cai_lgssm *lg) { return lg->p; }
size_t cai_lgssm_steps(const cai_lgssm *lg) { return lg->T; }

void cai_lgssm_result_free(cai_lgssm_result *r)
{
    if (r == NULL)
        return;
    cai_gauss_workspace_free(r->smooth_ws);
    cai_gauss_workspace_free(r->filter_ws);
    cai_gauss_plan_free(r->smooth_plan);
    cai_gauss_plan_free(r->filter_plan);
    cai_gauss_message_free(r->prior);
    free(r->xv);
    free(r);
}

/* The tied potentials: dynamics over (x, x'), observation over (x, y) and
 * the prior on x0. */
typedef struct lgssm_pots {
    cai_gauss_potential *dyn, *obs, *prior;
} lgssm_pots;

static void pots_free(lgssm_pots *p)
{
    cai_gauss_potential_unref(p->dyn);
    cai_gauss_potential_unref(p->obs);
    cai_gauss_potential_unref(p->prior);
}

static cai_status make_pots(const cai_lgssm *lg, lgssm_pots *p, cai_error *err)
{
    size_t n = lg->n;
    cai_status st = cai_gauss_linear_create(1, &n, n, lg->A, lg->c, lg->Q, &p->dyn, err);
    if (st == CAI_OK)
        st = cai_gauss_linear_create(1, &n, lg->p, lg->C, lg->d, lg->R, &p->obs, err);
    if (st == CAI_OK)
        st = cai_gauss_prior_create(n, lg->x0, lg->x0_cov, &p->prior, err);
    return st;
}

/* The chain x0 y0 x1 y1 ... x_T-1 y_T-1, every y_t clamped to its
 * observation; x_t's index into xv. */
static cai_status build(const cai_lgssm *lg, const lgssm_pots *p, size_t *xv,
                        cai_gauss_graph **out_g, cai_error *err)
{
    cai_gauss_graph *g = NULL;
    cai_status st = cai_gauss_graph_create(&g, err);
    size_t prev = CAI_NONE;
    for (size_t t = 0; t < lg->T && st == CAI_OK; t++) {
        char name[32];
        size_t yv;
        snprintf(name, sizeof name, "x%zu", t);
        st = cai_gauss_graph_add_variable(g, name, lg->n, &xv[t], err);
        if (st == CAI_OK) {
            snprintf(name, sizeof name, "y%zu", t);
            st = cai_gauss_graph_add_variable(g, name, lg->p, &yv, err);
        }
        if (st == CAI_OK)
            st = cai_gauss_graph_set_evidence(g, yv, lg->y + t * lg->p, err);
        size_t so[2] = {xv[t], yv}, sd[2] = {prev, xv[t]};
        if (st == CAI_OK)
            st = cai_gauss_graph_add_factor(g, p->obs, so, 2, CAI_MODE_NORMAL, NULL, err);
        if (st == CAI_OK && t > 0)
            st = cai_gauss_graph_add_factor(g, p->dyn, sd, 2, CAI_MODE_NORMAL, NULL, err);
        prev = xv[t];
    }
    if (st == CAI_OK)
        st = cai_gauss_graph_add_factor(g, p->prior, &xv[0], 1, CAI_MODE_NORMAL, NULL, err);
    if (st != CAI_OK) {
        cai_gauss_graph_free(g);
        return st;
    }
    *out_g = g;
    return CAI_OK;
}

/* Plan g rooted at root (upward_only or both passes), make a workspace and
 * execute. */
static cai_status run(const cai_gauss_graph *g, size_t root, bool upward_only,
                      cai_gauss_plan **plan, cai_gauss_workspace **ws, cai_error *err)
{
    cai_gauss_plan_options po = cai_gauss_plan_options_default();
    po.root = root;
    po.upward_only = upward_only;
    cai_status st = cai_gauss_plan_create(g, &po, plan, err);
    if (st == CAI_OK)
        st = cai_gauss_workspace_create(*plan, ws, err);
    if (st == CAI_OK)
        st = cai_gauss_plan_execute(*plan, *ws, err);
    return st;
}

/* Whether the filtered distributions have a canonical form (the dynamics a
 * density of their child, the prior one of x0); if not, why. */
static bool filter_offered(const cai_lgssm *lg, const lgssm_pots *p, char *why, size_t size)
{
    size_t n = lg->n, rq = cai_gauss_potential_rank(p->dyn),
           r0 = cai_gauss_potential_rank(p->prior);
    if (lg->T > 1 && rq < n)
        snprintf(why, size, "filtered distributions need Q positive definite (Q has rank %zu "
                 "of %zu); the smoothed ones are exact", rq, n);
    else if (r0 < n)
        snprintf(why, size, "filtered distributions need x0_cov positive definite (x0_cov "
                 "has rank %zu of %zu); the smoothed ones are exact", r0, n);
    else
        return true;
    return false;
}

cai_status cai_lgssm_smooth(const cai_lgssm *lg, cai_lgssm_result **out, cai_error *err)
{
    if (lg == NULL || out == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    cai_lgssm_result *r = calloc(1, sizeof *r);
    if (r == NULL)
        return spec_nomem(err);
    r->n = lg->n;
    r->T = lg->T;
    lgssm_pots p = {0};
    cai_gauss_graph *g = NULL;
    cai_status st = (r->xv = calloc(lg->T, sizeof *r->xv)) ? CAI_OK : spec_nomem(err);
    if (st == CAI_OK)
        st = make_pots(lg, &p, err);
    if (st == CAI_OK)
        st = build(lg, &p, r->xv, &g, err);
    if (st == CAI_OK)
        st = run(g, r->xv[0], false, &r->smooth_plan, &r->smooth_ws, err);
    if (st == CAI_OK && filter_offered(lg, &p, r->no_filter, sizeof r->no_filter)) {
        st = run(g, r->xv[lg->T - 1], true, &r->filter_plan, &r->filter_ws, err);
        if (st == CAI_OK)
            st = cai_gauss_message_create(lg->n, &r->prior, err);
        if (st == CAI_OK)
            st = cai_gauss_message_set_moments(r->prior, lg->x0, lg->x0_cov, err);
    }
    cai_gauss_graph_free(g);
    pots_free(&p);
    if (st != CAI_OK) {
        cai_lgssm_result_free(r);
        return st;
    }
    r->log_likelihood = cai_gauss_query_log_z(r->smooth_ws);
    *out = r;
    return CAI_OK;
}

size_t cai_lgssm_result_n(const cai_lgssm_result *r) { return r->n; }
size_t cai_lgssm_result_steps(const cai_lgssm_result *r) { return r->T; }
double cai_lgssm_result_log_likelihood(const cai_lgssm_result *r) { return r->log_likelihood; }
bool cai_lgssm_result_has_filtered(const cai_lgssm_result *r) { return r->filter_ws != NULL; }

static cai_status check_t(const cai_lgssm_result *r, size_t t, cai_error *err)
{
    if (r == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (t >= r->T)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "time %zu is past the last observation, %zu", t, r->T - 1);
    return CAI_OK;
}

cai_status cai_lgssm_result_smoothed(const cai_lgssm_result *r, size_t t, double *out_mean,
                                     double *out_cov, cai_error *err)
{
    cai_status st = check_t(r, t, err);
    if (st != CAI_OK)
        return st;
    return cai_gauss_query_marginal(r->smooth_ws, r->xv[t], out_mean, out_cov, err);
}

cai_status cai_lgssm_result_filtered(const cai_lgssm_result *r, size_t t, double *out_mean,
                                     double *out_cov, cai_error *err)
{
    cai_status st = check_t(r, t, err);
    if (st != CAI_OK)
        return st;
    if (r->filter_ws == NULL)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0, "%s", r->no_filter);
    size_t n = r->n;
    double *J = malloc((n * n + n) * sizeof *J);
    cai_gauss_message *m = NULL;
    st = J ? cai_gauss_message_create(n, &m, err) : spec_nomem(err);
    double c;
    if (st == CAI_OK)
        st = cai_gauss_query_upward(r->filter_ws, r->xv[t], J, J + n * n, &c, err);
    if (st == CAI_OK)
        st = cai_gauss_message_set(m, J, J + n * n, c, err);
    if (st == CAI_OK && t == 0) /* the prior is not in x0's upward message */
        st = cai_gauss_message_multiply(m, r->prior, err);
    if (st == CAI_OK)
        st = cai_gauss_message_moments(m, out_mean, out_cov, NULL, err);
    cai_gauss_message_free(m);
    free(J);
    return st;
}
