/* lib/engine/execute.c — run a plan: messages up to the roots, then
 * marginals (sum-product) or the MAP assignment (max-product) down. */
#include "rows.h"

#include "cai/logmath.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

void cluster_row_in(const cai_plan *plan, const double *U, const cluster *c,
                    size_t excl, double *row_out)
{
    size_t kp = c->k - 1, R = c->p->n_rows;
    const double *xrow = c->xrow;
    CAI_PARALLEL_FOR(R)
    for (size_t r = 0; r < R; r++)
        row_out[r] = xrow ? xrow[r] : 0.0;
    /* add each parent's message, in runs of equal state (stride) */
    size_t stride = R;
    for (size_t i = 0; i < kp; i++) {
        size_t card = c->p->cards[i];
        stride /= card;
        if (i == excl)
            continue;
        const double *u = U + plan->vars[c->vars[i]].off;
        size_t runs = R / stride;
        CAI_PARALLEL_FOR(runs)
        for (size_t q = 0; q < runs; q++) {
            double v = u[q % card];
            for (size_t j = 0; j < stride; j++)
                row_out[q * stride + j] += v;
        }
    }
}

size_t cluster_row_state(const cai_plan *plan, const cluster *c, size_t r, size_t i)
{
    (void)plan;
    size_t stride = 1;
    for (size_t j = i + 1; j + 1 < c->k; j++)
        stride *= c->p->cards[j];
    return (r / stride) % c->p->cards[i];
}

/* Local terms of v: its one-variable factors and its evidence; returns
 * their max. */
static double local_terms(const cai_plan *plan, const cai_workspace *ws, size_t v, double *out)
{
    const plan_var *pv = &plan->vars[v];
    size_t ev = ws->evidence[v];
    const double *soft = ws->soft[v];
    size_t card = pv->card;
    double m = -INFINITY;
    CAI_PARALLEL_MAX(card, m)
    for (size_t x = 0; x < card; x++) {
        double s = soft ? soft[x] : 0.0;
        for (size_t u = 0; u < pv->n_unary; u++)
            s += potential_log_value_sr(pv->unary[u], 0, x, pv->unary_sr[u]);
        out[x] = ev != CAI_NONE && x != ev ? -INFINITY : s;
        m = out[x] > m ? out[x] : m;
    }
    return m;
}

/* Whether cluster c writes its message into U of its up variable instead
 * of adding it: the first message of a variable without local terms. */
static bool assigns(const cai_workspace *ws, const cluster *c)
{
    return c->first_in && ws->fresh[c->vars[c->up]];
}

/* Sum-product message of cluster c to its up variable (a parent) in the
 * scaled linear domain, added into that variable's U: one exp per state of
 * each neighbour, one pass over the potential's rows (a sparse
 * matrix-vector product fused with the row weights, the sum per up state
 * and the add), one log per up state -- against an exp and a log per row in
 * the log domain. A sum near underflow is recomputed in the log domain, so
 * the result is the same to rounding. */
static void upward_scaled(const cai_plan *plan, cai_workspace *ws, const cluster *c, double *M)
{
    const cai_potential *p = c->p;
    size_t kp = c->k - 1, u = c->up;
    size_t up_var = c->vars[u];
    double *U_up = ws->U + plan->vars[up_var].off;
    bool assign = assigns(ws, c);
    semiring sr = cluster_sr(plan, c);
    const double *U_child = ws->U + plan->vars[c->vars[kp]].off;
    /* the child's message, scaled: w = exp(U - max U) */
    double scale = ws->umax[c->vars[kp]], w_shift = scale;
    scale += c->xmax + potential_lin_shift(p, sr);
    /* the outer parents' messages, scaled */
    const double **outer = ws->vecs + c->k;
    double *E = (double *)ws->acc; /* their exps, one block per parent */
    for (size_t i = 0, e_off = 0; i < u; i++) {
        size_t card = p->cards[i];
        const double *Ui = ws->U + plan->vars[c->vars[i]].off;
        double mi = ws->umax[c->vars[i]];
        scale += mi;
        for (size_t x = 0; x < card; x++)
            E[e_off + x] = exp(Ui[x] - mi);
        outer[i] = E + e_off;
        e_off += card;
    }
    row_layout L = rows_log_layout(plan, ws, c);
    /* the inner parents' terms, scaled */
    const double *xin = L.inner;
    if (xin) {
        double mi = -INFINITY;
        for (size_t j = 0; j < L.stride; j++)
            mi = xin[j] > mi ? xin[j] : mi;
        scale += mi;
        double *ein = ws->inner + L.stride;
        for (size_t j = 0; j < L.stride; j++)
            ein[j] = exp(xin[j] - mi);
        L.inner = ein;
    }
    size_t card_u = L.card_u;
    if (!(scale > -INFINITY)) { /* some neighbour has no mass at all */
        double m = -INFINITY;
        CAI_PARALLEL_MAX(card_u, m)
        for (size_t x = 0; x < card_u; x++) {
            M[x] = -INFINITY;
            m = put_message(U_up, x, M[x], assign, m);
        }
        ws->umax[up_var] = m;
        return;
    }
    row_layout S = L;
    S.rowc = c->wrow;
    S.outer = outer;
    S.lin = true;
    S.scale = scale;
    double umax;
    size_t left =
        rows_up_all_add(&S, c, U_child, w_shift, ws, sr, false, M, U_up, assign, &umax);
    /* the sums near underflow, exactly, in the log domain */
    L.inner = xin;
    for (size_t x = 0; left > 0 && x < card_u; x++)
        if (isnan(M[x])) {
            rows_up_states(&L, c, x, x + 1, U_child, sr, false, M + x);
            umax = put_message(U_up, x, M[x], assign, umax);
            left--;
        }
    ws->umax[up_var] = umax;
}

/* M of cluster c toward its up variable, added into U of that variable. */
static void upward(const cai_plan *plan, cai_workspace *ws, const cluster *c)
{
    bool max = plan->alg == CAI_MAX_PRODUCT;
    const cai_potential *p = c->p;
    size_t kp = c->k - 1, u = c->up;
    size_t up_var = c->vars[u], card_u = plan->vars[up_var].card;
    double *U_up = ws->U + plan->vars[up_var].off, m = -INFINITY;
    bool assign = assigns(ws, c);
    double *M = ws->M ? ws->M + c->m_off : ws->mbuf;
    /* over the rows, a message kept nowhere else goes straight into U: one
     * array less to write, and to keep in cache beside what the rows gather */
    if (u < kp && assign && !ws->M)
        M = U_up;
    if (u < kp && !max && !c->expect) {
        upward_scaled(plan, ws, c, M);
        return;
    }
    if (u < kp) {
        row_layout L = rows_log_layout(plan, ws, c);
        rows_up_all_add(&L, c, ws->U + plan->vars[c->vars[kp]].off, 0.0, ws,
                        cluster_sr(plan, c), max, M, U_up, assign, &m);
        ws->umax[up_var] = m;
        return;
    }
    cluster_row_in(plan, ws->U, c, CAI_NONE, ws->row_a);
    p->ops->rows_to_col(p, ws->row_a, M, cluster_sr_plain(plan, c), ws->col_a);
    CAI_PARALLEL_MAX(card_u, m)
    for (size_t x = 0; x < card_u; x++) {
        m = put_message(U_up, x, M[x], assign, m);
    }
    ws->umax[up_var] = m;
}

/* Normalise a log vector in place; NaN everywhere if it has no mass. */
static void log_normalise(double *v, size_t n)
{
    double z = cai_logsumexp(v, n);
    for (size_t i = 0; i < n; i++)
        v[i] = z > -INFINITY && z < INFINITY ? v[i] - z : NAN;
}

/* q of the variables below cluster c, from q of its up variable. */
static void downward_marginals(const cai_plan *plan, cai_workspace *ws, const cluster *c)
{
    const cai_potential *p = c->p;
    size_t kp = c->k - 1, u = c->up, R = p->n_rows;
    const plan_var *vu = &plan->vars[c->vars[u]];
    const double *lq_u = ws->q + vu->off, *M = ws->M + c->m_off;
    double *shift = ws->vbuf;
    for (size_t x = 0; x < vu->card; x++)
        shift[x] = cond_shift(lq_u[x], M[x]);
    const plan_var *vc = &plan->vars[c->vars[kp]];
    const double *U_child = ws->U + vc->off;
    double *q_child = ws->q + vc->off;
    double *lw = ws->row_a, *rv = ws->row_b;
    if (u < kp) {
        p->ops->cols_to_row(p, U_child, rv, cluster_sr(plan, c), ws->col_a);
        cluster_row_in(plan, ws->U, c, u, lw);
        size_t stride = 1;
        for (size_t j = u + 1; j < kp; j++)
            stride *= p->cards[j];
        for (size_t r = 0; r < R; r++)
            lw[r] += shift[(r / stride) % vu->card];
    } else {
        p->ops->cols_to_row(p, shift, rv, cluster_sr_plain(plan, c), ws->col_a);
        cluster_row_in(plan, ws->U, c, CAI_NONE, lw);
    }
    /* parents other than the up variable: sum the row weights by state */
    size_t *idx = ws->idx;
    cai_lse *acc = ws->acc;
    size_t n_acc = 0;
    for (size_t i = 0; i < kp; i++)
        n_acc += p->cards[i];
    for (size_t a = 0; a < n_acc; a++)
        cai_lse_init(&acc[a]);
    for (size_t i = 0; i < kp; i++)
        idx[i] = 0;
    for (size_t r = 0; r < R; r++) {
        double w = lw[r] + rv[r];
        size_t base = 0;
        for (size_t i = 0; i < kp; i++) {
            if (i != u)
                cai_lse_add(&acc[base + idx[i]], w);
            base += p->cards[i];
        }
        for (size_t i = kp; i-- > 0;) {
            if (++idx[i] < p->cards[i])
                break;
            idx[i] = 0;
        }
    }
    size_t base = 0;
    for (size_t i = 0; i < kp; i++) {
        if (i != u) {
            double *qi = ws->q + plan->vars[c->vars[i]].off;
            for (size_t x = 0; x < p->cards[i]; x++)
                qi[x] = cai_lse_result(&acc[base + x]);
            log_normalise(qi, p->cards[i]);
        }
        base += p->cards[i];
    }
    if (u == kp)
        return;
    if (c->expect) {
        /* the conditional is copied into q: q(c) = sum_r q(r) p(c | r) */
        for (size_t r = 0; r < R; r++)
            lw[r] += rv[r];
        p->ops->rows_to_col(p, lw, q_child, cluster_sr_plain(plan, c), ws->col_a);
    } else {
        p->ops->rows_to_col(p, lw, q_child, cluster_sr_plain(plan, c), ws->col_a);
        for (size_t x = 0; x < vc->card; x++)
            q_child[x] += U_child[x];
    }
    log_normalise(q_child, vc->card);
}

/* MAP states of the variables below cluster c, given the up variable's. */
static void downward_decode(const cai_plan *plan, cai_workspace *ws, const cluster *c)
{
    const cai_potential *p = c->p;
    size_t kp = c->k - 1, u = c->up, R = p->n_rows;
    size_t xu = ws->assign[c->vars[u]];
    const double *U_child = ws->U + plan->vars[c->vars[kp]].off;
    double *row_in = ws->row_a;
    size_t best_r = CAI_NONE, best_c = 0;
    double best = -INFINITY;
    if (u < kp) {
        cluster_row_in(plan, ws->U, c, u, row_in);
        size_t stride = 1;
        for (size_t j = u + 1; j < kp; j++)
            stride *= p->cards[j];
        for (size_t r = 0; r < R; r++) {
            if ((r / stride) % p->cards[u] != xu)
                continue;
            double v;
            size_t col = p->ops->row_argmax(p, r, U_child, cluster_sr_plain(plan, c), &v);
            v += row_in[r];
            if (best_r == CAI_NONE || v > best) {
                best = v;
                best_r = r;
                best_c = col;
            }
        }
        ws->assign[c->vars[kp]] = best_c;
    } else {
        cluster_row_in(plan, ws->U, c, CAI_NONE, row_in);
        for (size_t r = 0; r < R; r++) {
            double v = row_in[r] + potential_log_value_sr(p, r, xu, c->support);
            if (best_r == CAI_NONE || v > best) {
                best = v;
                best_r = r;
            }
        }
    }
    for (size_t i = 0; i < kp; i++)
        if (i != u)
            ws->assign[c->vars[i]] = cluster_row_state(plan, c, best_r, i);
}

cai_status cai_plan_execute(const cai_plan *plan, cai_workspace *ws, cai_error *err)
{
    if (plan == NULL || ws == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (ws->plan != plan)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "the workspace belongs to another plan");
    bool max = plan->alg == CAI_MAX_PRODUCT;
    for (size_t v = 0; v < plan->n_vars; v++) {
        /* a variable without local terms gets U from its first message */
        ws->fresh[v] = plan->vars[v].has_in && plan->vars[v].n_unary == 0 && ws->soft[v] == NULL
                       && ws->evidence[v] == CAI_NONE;
        if (!ws->fresh[v])
            ws->umax[v] = local_terms(plan, ws, v, ws->U + plan->vars[v].off);
    }
    for (size_t i = plan->n_clusters; i-- > 0;)
        upward(plan, ws, &plan->clusters[i]);

    double log_z = 0.0;
    for (size_t t = 0; t < plan->n_trees; t++) {
        const plan_tree *tr = &plan->trees[t];
        const plan_var *pv = &plan->vars[tr->root];
        const double *U = ws->U + pv->off;
        double lz;
        if (tr->prior) {
            /* parentless expectation prior: E_rho[log of the upward belief] */
            lz = 0.0;
            for (size_t x = 0; x < pv->card; x++) {
                double lp = tr->prior->ops->log_value_rc(tr->prior, 0, x);
                if (lp > -INFINITY)
                    lz += exp(lp) * U[x];
            }
        } else if (max) {
            size_t best = 0;
            for (size_t x = 1; x < pv->card; x++)
                if (U[x] > U[best])
                    best = x;
            ws->assign[tr->root] = best;
            lz = U[best];
        } else {
            lz = cai_logsumexp(U, pv->card);
        }
        log_z += lz;
    }
    ws->log_z = log_z;

    if (plan->upward_only || (max && plan->max_expect)) {
        /* no downward pass: upward messages, cavities and log Z only */
    } else if (max) {
        for (size_t i = 0; i < plan->n_clusters; i++)
            downward_decode(plan, ws, &plan->clusters[i]);
        if (log_z == -INFINITY) /* nothing has weight: report the lowest assignment */
            for (size_t v = 0; v < plan->n_vars; v++)
                ws->assign[v] = ws->evidence[v] != CAI_NONE ? ws->evidence[v] : 0;
    } else if (!(log_z > -INFINITY && log_z < INFINITY)) {
        for (size_t i = 0; i < plan->var_total; i++)
            ws->q[i] = NAN;
    } else {
        for (size_t t = 0; t < plan->n_trees; t++) {
            const plan_tree *tr = &plan->trees[t];
            const plan_var *pv = &plan->vars[tr->root];
            double *q = ws->q + pv->off;
            for (size_t x = 0; x < pv->card; x++)
                q[x] = tr->prior ? tr->prior->ops->log_value_rc(tr->prior, 0, x)
                                 : ws->U[pv->off + x];
            log_normalise(q, pv->card);
        }
        for (size_t i = 0; i < plan->n_clusters; i++)
            downward_marginals(plan, ws, &plan->clusters[i]);
    }
    ws->executed = true;
    return CAI_OK;
}

/* One Gauss-Seidel sweep over the single cluster c (up variable `from` at
 * position 0, child `to` last): the up states in order, each message fed
 * back into `to` before the next state's rows read it. Log domain per row,
 * since every state changes the child message. Returns the sup-norm change. */
static double gauss_seidel_sweep(const cai_plan *plan, cai_workspace *ws, const cluster *c,
                                 double *soft, double *norm)
{
    size_t kp = c->k - 1;
    const plan_var *vf = &plan->vars[c->vars[0]];
    double *U_from = ws->U + vf->off, *U_to = ws->U + plan->vars[c->vars[kp]].off;
    bool max = plan->alg == CAI_MAX_PRODUCT;
    semiring sr = cluster_sr(plan, c);
    double *local = ws->vbuf;
    row_layout L = rows_log_layout(plan, ws, c);
    local_terms(plan, ws, c->vars[0], local);
    double diff = 0.0, big = 1.0;
    for (size_t x = 0; x < vf->card; x++) {
        double u;
        rows_up_states(&L, c, x, x + 1, U_to, sr, max, &u);
        u += local[x];
        double d = fabs(u - soft[x]); /* the change of what is fed back */
        if (u != soft[x])
            diff = d > diff || isnan(d) ? d : diff;
        big = fabs(u) > big ? fabs(u) : big;
        U_from[x] = u;
        U_to[x] = soft[x] = u; /* fed back at once */
    }
    *norm = big;
    return diff;
}

cai_status cai_plan_iterate(const cai_plan *plan, cai_workspace *ws, size_t from, size_t to,
                            const double *tail, cai_sweep sweep, double tol,
                            size_t max_iterations, size_t *out_iterations,
                            bool *out_converged, cai_error *err)
{
    return cai_plan_iterate_traced(plan, ws, from, to, tail, sweep, tol, max_iterations,
                                   NULL, NULL, out_iterations, out_converged, err);
}

cai_status cai_plan_iterate_traced(const cai_plan *plan, cai_workspace *ws, size_t from,
                                   size_t to, const double *tail, cai_sweep sweep,
                                   double tol, size_t max_iterations,
                                   cai_iterate_trace trace, void *trace_ctx,
                                   size_t *out_iterations, bool *out_converged,
                                   cai_error *err)
{
    if (plan == NULL || ws == NULL || ws->plan != plan)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL or mismatched argument");
    if (from >= plan->n_vars || to >= plan->n_vars || from == to)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "iterate needs two distinct variables");
    size_t nf = plan->vars[from].card, nt = plan->vars[to].card;
    if (nt < nf || (nt > nf && tail == NULL))
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "variable %zu has %zu states, fewer than %zu or more without a "
                             "tail", to, nt, nf);
    if (!(tol > 0) || max_iterations == 0)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "the tolerance and the iteration cap must be positive");
    const cluster *c = &plan->clusters[0];
    bool gs = sweep == CAI_SWEEP_GAUSS_SEIDEL;
    if (gs && (plan->n_clusters != 1 || c->vars[0] != from || c->up != 0
               || c->vars[c->k - 1] != to))
        return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                             "Gauss-Seidel needs one cluster from variable %zu (first, the "
                             "root) to variable %zu (last)", from, to);
    double *soft = alloc_array(nt, sizeof(double));
    if (soft == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    if (ws->soft[to])
        memcpy(soft, ws->soft[to], nt * sizeof *soft);
    for (size_t x = nf; x < nt; x++)
        soft[x] = tail[x - nf];
    cai_status st = CAI_OK;
    size_t it = 0;
    bool converged = false;
    /* Gauss-Seidel: one execute sets every other message, then sweeps update
     * from's message and to's soft evidence in place */
    if (gs && (st = cai_workspace_set_soft_evidence(ws, to, soft, err)) == CAI_OK)
        st = cai_plan_execute(plan, ws, err);
    while (st == CAI_OK && !converged && it < max_iterations) {
        it++;
        double diff = 0.0, big = 1.0;
        if (gs) {
            diff = gauss_seidel_sweep(plan, ws, c, soft, &big);
        } else {
            if ((st = cai_workspace_set_soft_evidence(ws, to, soft, err)) != CAI_OK
                || (st = cai_plan_execute(plan, ws, err)) != CAI_OK)
                break;
            const double *U = ws->U + plan->vars[from].off;
            for (size_t x = 0; x < nf; x++) {
                double d = fabs(U[x] - soft[x]);
                if (U[x] != soft[x])
                    diff = d > diff || isnan(d) ? d : diff;
                big = fabs(U[x]) > big ? fabs(U[x]) : big;
                soft[x] = U[x];
            }
        }
        converged = diff <= tol * big;
        if (trace != NULL)
            trace(trace_ctx, it, diff / big);
    }
    /* leave the workspace executed on the final message */
    if (st == CAI_OK && (st = cai_workspace_set_soft_evidence(ws, to, soft, err)) == CAI_OK)
        st = cai_plan_execute(plan, ws, err);
    free(soft);
    if (st != CAI_OK)
        return st;
    if (out_iterations)
        *out_iterations = it;
    if (out_converged)
        *out_converged = converged;
    return CAI_OK;
}
