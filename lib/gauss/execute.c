/* lib/gauss/execute.c — workspaces, the two passes and the queries of a
 * Gaussian plan. The upward pass runs the clusters in reverse pre-order,
 * adding each cluster's message into its up variable's; each tree's root
 * integral gives its log Z. The downward pass runs them in pre-order, pushing
 * the up variable's marginal through each variable's conditional. */
#include "gauss_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct cai_gauss_workspace {
    const cai_gauss_plan *p;
    double *up;      /* upward messages (msg_off) */
    double *marg;    /* marginals (marg_off), NULL when upward_only */
    double *ev;      /* evidence values (ev_off) */
    double *tree_lz; /* log Z per tree */
    unsigned char *tree_ok;
    double **soft;   /* per variable: NULL or J, h, c */
    double *scratch;
    gscratch s;
    double log_z;
    bool done;
};

size_t cai_gauss_plan_workspace_bytes(const cai_gauss_plan *p)
{
    size_t d = p->msg_total + (p->upward_only ? 0 : p->marg_total) + p->ev_total +
               p->ntree + gs_doubles(p);
    return sizeof(cai_gauss_workspace) + d * sizeof(double) + p->ntree +
           p->nv * sizeof(double *);
}

cai_status cai_gauss_workspace_create(const cai_gauss_plan *p,
                                      cai_gauss_workspace **out_ws, cai_error *err)
{
    if (p == NULL || out_ws == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "plan and out_ws must not be NULL");
    cai_gauss_workspace *ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    ws->p = p;
    ws->up = gl_alloc(p->msg_total);
    ws->marg = p->upward_only ? NULL : gl_alloc(p->marg_total);
    ws->ev = gl_alloc(p->ev_total);
    ws->tree_lz = gl_alloc(p->ntree);
    ws->tree_ok = calloc(p->ntree + 1, 1);
    ws->soft = calloc(p->nv + 1, sizeof(double *));
    ws->scratch = gl_alloc(gs_doubles(p));
    if (!ws->up || (!p->upward_only && !ws->marg) || !ws->ev || !ws->tree_lz ||
        !ws->tree_ok || !ws->soft || !ws->scratch) {
        cai_gauss_workspace_free(ws);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    }
    memcpy(ws->ev, p->ev_default, p->ev_total * sizeof(double));
    gs_carve(p, ws->scratch, &ws->s);
    ws->log_z = NAN;
    *out_ws = ws;
    return CAI_OK;
}

void cai_gauss_workspace_free(cai_gauss_workspace *ws)
{
    if (ws == NULL)
        return;
    if (ws->soft)
        for (size_t v = 0; v < ws->p->nv; v++)
            free(ws->soft[v]);
    free(ws->soft);
    free(ws->up);
    free(ws->marg);
    free(ws->ev);
    free(ws->tree_lz);
    free(ws->tree_ok);
    free(ws->scratch);
    free(ws);
}

static cai_status check_var(const cai_gauss_workspace *ws, size_t var, cai_error *err)
{
    if (ws == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "workspace is NULL");
    if (var >= ws->p->nv)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "no variable %zu", var);
    return CAI_OK;
}

cai_status cai_gauss_workspace_set_evidence(cai_gauss_workspace *ws, size_t var,
                                            const double *value, cai_error *err)
{
    cai_status st = check_var(ws, var, err);
    if (st != CAI_OK)
        return st;
    const cai_gauss_plan *p = ws->p;
    if (!p->clamped[var] || value == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "variable '%s' was not clamped when the plan was made "
                             "(or value is NULL)",
                             gp_name(p, var));
    if ((st = gl_check_finite(value, p->dim[var], "evidence", err)) != CAI_OK)
        return st;
    memcpy(ws->ev + p->ev_off[var], value, p->dim[var] * sizeof(double));
    ws->done = false;
    return CAI_OK;
}

cai_status cai_gauss_workspace_set_soft_evidence(cai_gauss_workspace *ws, size_t var,
                                                 const double *J, const double *h,
                                                 double c, cai_error *err)
{
    cai_status st = check_var(ws, var, err);
    if (st != CAI_OK)
        return st;
    size_t n = ws->p->dim[var];
    if (J == NULL && h == NULL && c == 0.0) {
        free(ws->soft[var]);
        ws->soft[var] = NULL;
        ws->done = false;
        return CAI_OK;
    }
    if (J && (st = gl_check_symmetric(J, n, "J", err)) != CAI_OK)
        return st;
    if (h && (st = gl_check_finite(h, n, "h", err)) != CAI_OK)
        return st;
    if (!isfinite(c))
        return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0, "c is %g (must be finite)", c);
    if (ws->soft[var] == NULL && (ws->soft[var] = gl_alloc(n * n + n + 1)) == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    double *m = ws->soft[var];
    memset(m, 0, (n * n + n) * sizeof(double));
    if (J) {
        memcpy(m, J, n * n * sizeof(double));
        gl_symmetrise(m, n, n);
    }
    if (h)
        memcpy(m + n * n, h, n * sizeof(double));
    m[n * n + n] = c;
    ws->done = false;
    return CAI_OK;
}

/* Add a local term exp(-1/2 x'H x + h'x + c) to var's message: as it is, or
 * evaluated at the evidence when var is clamped. */
static void add_local(const cai_gauss_workspace *ws, size_t v, const double *H,
                      const double *h, double c)
{
    const cai_gauss_plan *p = ws->p;
    size_t n = p->dim[v];
    double *m = ws->up + p->msg_off[v];
    if (p->clamped[v]) {
        const double *x = ws->ev + p->ev_off[v];
        double q = 0.0;
        for (size_t i = 0; i < n; i++)
            q += x[i] * gl_dot(n, H + i * n, x);
        m[n * n + n] += c + gl_dot(n, h, x) - 0.5 * q;
        return;
    }
    for (size_t i = 0; i < n * n; i++)
        m[i] += H[i];
    for (size_t i = 0; i < n; i++)
        m[n * n + i] += h[i];
    m[n * n + n] += c;
}

static cai_status upward(cai_gauss_workspace *ws, const gctx *x, cai_error *err)
{
    const cai_gauss_plan *p = ws->p;
    memset(ws->up, 0, p->msg_total * sizeof(double));
    for (size_t v = 0; v < p->nv; v++) {
        for (size_t i = 0; i < p->nloc[v]; i++) {
            const cai_gauss_potential *q = p->pot[p->loc_fac[p->loc0[v] + i]];
            add_local(ws, v, q->H, q->h, q->c);
        }
        if (ws->soft[v]) {
            size_t n = p->dim[v];
            add_local(ws, v, ws->soft[v], ws->soft[v] + n * n, ws->soft[v][n * n + n]);
        }
    }
    for (size_t i = p->ncl; i-- > 0;) {
        size_t c = p->order[i], fail;
        const gcluster *C = &p->cl[c];
        double cst, out_c = 0.0;
        bool ok;
        cai_status st = gc_build_factor(x, c, &cst, &ok, &fail, err);
        if (st != CAI_OK)
            return st;
        if (C->up == CAI_NONE) {
            if (ok)
                gc_message(x, c, cst, NULL, NULL, &out_c);
            ws->tree_ok[C->tree] = ok;
            ws->tree_lz[C->tree] = ok ? out_c : INFINITY;
            continue;
        }
        if (!ok)
            return gc_divergence_error(p, c, fail, err);
        size_t u = C->up, n = p->dim[u];
        double *m = ws->up + p->msg_off[u];
        gc_message(x, c, cst, m, m + n * n, &out_c);
        m[n * n + n] += out_c;
        bool finite = true;
        for (size_t j = 0; j <= n * n + n; j++)
            finite = finite && isfinite(m[j]);
        if (!finite)
            return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                 "the message to '%s' from the cluster of factor %zu "
                                 "is not finite (overflow)",
                                 gp_name(p, u), C->label);
    }
    return CAI_OK;
}

static void downward(cai_gauss_workspace *ws, const gctx *x)
{
    const cai_gauss_plan *p = ws->p;
    for (size_t i = 0; i < p->ncl; i++) {
        size_t c = p->order[i], fail;
        const gcluster *C = &p->cl[c];
        if (!ws->tree_ok[C->tree])
            continue;
        double cst;
        bool ok;
        if (gc_build_factor(x, c, &cst, &ok, &fail, NULL) != CAI_OK || !ok)
            continue; /* cannot happen: the upward pass succeeded on the same data */
        size_t nu = C->nu;
        const double *mu = NULL, *Pu = NULL;
        if (nu) {
            mu = ws->marg + p->marg_off[C->up];
            Pu = mu + nu;
        }
        for (size_t s = C->slot0; s < C->slot0 + C->nslot; s++) {
            if (s == C->slot0 && C->up != CAI_NONE)
                continue;
            size_t v = p->slot_var[s], n = p->dim[v];
            double *mean = ws->marg + p->marg_off[v], *cov = mean + n;
            if (p->clamped[v]) {
                memcpy(mean, ws->ev + p->ev_off[v], n * sizeof(double));
                memset(cov, 0, n * n * sizeof(double));
                continue;
            }
            double *K = ws->s.M, *W = ws->s.W;
            gc_conditional(x, c, s, K, mean, cov);
            if (nu) { /* mean += K mu, cov += K Pu K' */
                gl_gemv(false, n, nu, 1.0, K, nu, mu, 1.0, mean);
                gl_gemm(false, false, n, nu, nu, 1.0, K, nu, Pu, nu, 0.0, W, nu);
                gl_gemm(false, true, n, n, nu, 1.0, W, nu, K, nu, 1.0, cov, n);
                gl_symmetrise(cov, n, n);
            }
        }
    }
}

cai_status cai_gauss_plan_execute(const cai_gauss_plan *plan, cai_gauss_workspace *ws,
                                  cai_error *err)
{
    if (plan == NULL || ws == NULL || ws->p != plan)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "execute needs a plan and a workspace made from it");
    ws->done = false;
    ws->log_z = NAN;
    gctx x = {plan, ws->up, ws->ev, &ws->s};
    cai_status st = upward(ws, &x, err);
    if (st != CAI_OK)
        return st;
    double lz = 0.0;
    for (size_t t = 0; t < plan->ntree; t++)
        lz += ws->tree_lz[t];
    if (!plan->upward_only)
        downward(ws, &x);
    ws->log_z = lz;
    ws->done = true;
    return CAI_OK;
}

/* ---- queries ---- */

static cai_status check_done(const cai_gauss_workspace *ws, size_t var, cai_error *err)
{
    cai_status st = check_var(ws, var, err);
    if (st == CAI_OK && !ws->done)
        st = cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                           "query before a successful execute");
    return st;
}

double cai_gauss_query_log_z(const cai_gauss_workspace *ws)
{
    return ws && ws->done ? ws->log_z : NAN;
}

cai_status cai_gauss_query_upward(const cai_gauss_workspace *ws, size_t var,
                                  double *out_J, double *out_h, double *out_c,
                                  cai_error *err)
{
    cai_status st = check_done(ws, var, err);
    if (st != CAI_OK)
        return st;
    size_t n = ws->p->dim[var];
    const double *m = ws->up + ws->p->msg_off[var];
    if (out_J)
        memcpy(out_J, m, n * n * sizeof(double));
    if (out_h)
        memcpy(out_h, m + n * n, n * sizeof(double));
    if (out_c)
        *out_c = m[n * n + n];
    return CAI_OK;
}

cai_status cai_gauss_query_marginal(const cai_gauss_workspace *ws, size_t var,
                                    double *out_mean, double *out_cov, cai_error *err)
{
    cai_status st = check_done(ws, var, err);
    if (st != CAI_OK)
        return st;
    const cai_gauss_plan *p = ws->p;
    if (p->upward_only)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "the plan is upward_only: no marginals");
    size_t t = p->tree_of[var];
    if (!ws->tree_ok[t])
        return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                             "the posterior of '%s' is improper: the integral at the "
                             "root '%s' diverges (its precision is not positive "
                             "definite; log Z = +inf)",
                             gp_name(p, var), gp_name(p, p->root[t]));
    size_t n = p->dim[var];
    const double *m = ws->marg + p->marg_off[var];
    if (out_mean)
        memcpy(out_mean, m, n * sizeof(double));
    if (out_cov)
        memcpy(out_cov, m + n, n * n * sizeof(double));
    return CAI_OK;
}

cai_status cai_gauss_query_conditional(const cai_gauss_workspace *ws, size_t x,
                                       size_t y, double *out_K, double *out_k,
                                       double *out_S, cai_error *err)
{
    cai_status st = check_done(ws, x, err);
    if (st == CAI_OK)
        st = check_var(ws, y, err);
    if (st != CAI_OK)
        return st;
    const cai_gauss_plan *p = ws->p;
    size_t c = p->up_cluster[x];
    if (x == y || p->cl[c].up != y || p->clamped[y])
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "'%s' is not the unclamped neighbour of '%s' toward the "
                             "root",
                             gp_name(p, y), gp_name(p, x));
    size_t s = p->cl[c].slot0;
    while (p->slot_var[s] != x)
        s++;
    double *mem = gl_alloc(gs_doubles(p));
    if (mem == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    gscratch sc;
    gs_carve(p, mem, &sc);
    gctx ctx = {p, ws->up, ws->ev, &sc};
    double cst;
    bool ok;
    size_t fail;
    st = gc_build_factor(&ctx, c, &cst, &ok, &fail, err);
    if (st == CAI_OK && !ok)
        st = gc_divergence_error(p, c, fail, err);
    if (st == CAI_OK)
        gc_conditional(&ctx, c, s, out_K, out_k, out_S);
    free(mem);
    return st;
}
