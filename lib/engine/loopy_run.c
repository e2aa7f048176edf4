/* lib/engine/loopy_run.c — loopy BP's messages: what a cluster sends (the
 * potential's kernels, or a per-entry loop when absorbed factors touch the
 * column), the flooding, sequential and residual schedules, and the beliefs,
 * Bethe estimate and decoding after a run. */
#include "loopy_impl.h"

#include <math.h>
#include <string.h>

/* ---- what a cluster sends ---- */

/* out[r] = xrow[r] + sum of the cavities of the parent positions other than
 * excl (CAI_NONE: all), in runs of equal state. */
static void row_terms(const cai_loopy *lp, const lcluster *c, const double *const *mu,
                      size_t excl, double *out)
{
    size_t R = c->p->n_rows;
    for (size_t r = 0; r < R; r++)
        out[r] = c->xrow ? c->xrow[r] : 0.0;
    for (size_t i = 0; i + 1 < c->k; i++) {
        if (i == excl)
            continue;
        size_t stride = lp->stride[c->e0 + i], card = c->p->cards[i], runs = R / stride;
        const double *m = mu[i];
        for (size_t q = 0; q < runs; q++) {
            double v = m[q % card];
            double *o = out + q * stride;
            for (size_t j = 0; j < stride; j++)
                o[j] += v;
        }
    }
}

/* The kernels' way: to the column, rows_to_col of the row weights; to a
 * parent, the rows of cols_to_row plus the other parents' cavities, reduced
 * per state of that parent. */
static void send_kernels(const cai_loopy *lp, const lcluster *c, const double *const *mu,
                         double *const *out, lscratch *s)
{
    const cai_potential *p = c->p;
    size_t kp = c->k - 1, R = p->n_rows;
    semiring sr = loopy_sr(lp, c);
    bool max = loopy_max(lp), parents = false;
    if (out[kp]) {
        row_terms(lp, c, mu, CAI_NONE, s->row_a);
        p->ops->rows_to_col(p, s->row_a, out[kp], sr, s->col);
    }
    for (size_t i = 0; i < kp; i++)
        parents |= out[i] != NULL;
    if (!parents)
        return;
    p->ops->cols_to_row(p, mu[kp], s->row_b, sr, s->col);
    for (size_t i = 0; i < kp; i++) {
        if (out[i] == NULL)
            continue;
        row_terms(lp, c, mu, i, s->row_a);
        size_t card = p->cards[i], stride = lp->stride[c->e0 + i];
        size_t runs = R / (stride * card);
        cai_lse *acc = s->acc;
        for (size_t x = 0; x < card; x++)
            cai_lse_init(&acc[x]);
        for (size_t q = 0, r = 0; q < runs; q++)
            for (size_t x = 0; x < card; x++)
                for (size_t j = 0; j < stride; j++, r++)
                    loopy_acc_add(&acc[x], s->row_a[r] + s->row_b[r], max);
        for (size_t x = 0; x < card; x++)
            out[i][x] = loopy_acc_result(&acc[x], max);
    }
}

typedef struct send_ctx {
    const double *const *mu;
    double *const *out;
    size_t k;
    size_t *aoff; /* accumulator offset per position */
    cai_lse *acc;
    bool max;
} send_ctx;

static void send_entry(void *vctx, const size_t *idx, double lv)
{
    send_ctx *t = vctx;
    for (size_t i = 0; i < t->k; i++) {
        if (t->out[i] == NULL)
            continue;
        double v = lv;
        for (size_t j = 0; j < t->k; j++)
            if (j != i)
                v += t->mu[j][idx[j]];
        loopy_acc_add(&t->acc[t->aoff[i] + idx[i]], v, t->max);
    }
}

/* The per-entry way, for clusters whose absorbed factors touch the column
 * (a CSR host is never expanded: only its nonzeros are visited). */
static void send_generic(const cai_loopy *lp, const lcluster *c, const double *const *mu,
                         double *const *out, lscratch *s)
{
    size_t *ao = s->aoff, n = 0;
    for (size_t j = 0; j < c->k; j++) {
        ao[j] = n;
        n += c->p->cards[j];
    }
    for (size_t a = 0; a < n; a++)
        cai_lse_init(&s->acc[a]);
    send_ctx t = {.mu = mu, .out = out, .k = c->k, .aoff = ao, .acc = s->acc,
                  .max = loopy_max(lp)};
    loopy_scan(lp, c, s->idx, send_entry, &t);
    for (size_t j = 0; j < c->k; j++)
        if (out[j])
            for (size_t x = 0; x < c->p->cards[j]; x++)
                out[j][x] = loopy_acc_result(&s->acc[ao[j] + x], t.max);
}

/* Unnormalised messages of cluster c to every position j with out[j] set,
 * from the cavities mu. */
static void send(const cai_loopy *lp, const lcluster *c, const double *const *mu,
                 double *const *out, lscratch *s)
{
    if (c->n_col)
        send_generic(lp, c, mu, out, s);
    else
        send_kernels(lp, c, mu, out, s);
}

/* ---- message arithmetic ---- */

/* sup |a - b| over log vectors: 0 where equal (both -inf included), +inf
 * where one is -inf or NaN appears. */
static double change(const double *a, const double *b, size_t n)
{
    double d = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] == b[i])
            continue;
        double t = fabs(a[i] - b[i]);
        d = t > d || isnan(t) ? (isnan(t) ? INFINITY : t) : d;
    }
    return d;
}

/* dst = (1 - d) fresh + d old, renormalised; -inf where either is. */
static void damp(const cai_loopy *lp, const double *fresh, const double *old, double *dst,
                 size_t n)
{
    double d = lp->opt.damping;
    if (d == 0.0) {
        if (dst != fresh)
            memcpy(dst, fresh, n * sizeof(double));
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] = fresh[i] == -INFINITY || old[i] == -INFINITY
                     ? -INFINITY
                     : (1.0 - d) * fresh[i] + d * old[i];
    loopy_normalise(dst, n, loopy_max(lp));
}

/* Cavities of c from the current messages, then its messages to the
 * positions other than skip (CAI_NONE: all) into pend, normalised. */
static void send_pending(cai_loopy *lp, const lcluster *c, size_t skip)
{
    lscratch *s = &lp->s;
    loopy_cavities(lp, c, s->cav, s->mu);
    for (size_t j = 0; j < c->k; j++)
        s->outp[j] = j == skip ? NULL : lp->pend + lp->m_off[c->e0 + j];
    send(lp, c, s->mu, s->outp, s);
    for (size_t j = 0; j < c->k; j++)
        if (j != skip)
            loopy_normalise(s->outp[j], c->p->cards[j], loopy_max(lp));
}

/* Replace message e by its damped pending one; returns the change. */
static double commit(cai_loopy *lp, size_t e)
{
    size_t K = lp->card[lp->edge_var[e]];
    double *m = lp->msg + lp->m_off[e], *tmp = lp->s.tmp;
    damp(lp, lp->pend + lp->m_off[e], m, tmp, K);
    double d = change(tmp, m, K);
    memcpy(m, tmp, K * sizeof(double));
    return d;
}

/* The change committing e now would make. */
static double pending_change(cai_loopy *lp, size_t e)
{
    size_t K = lp->card[lp->edge_var[e]];
    const double *m = lp->msg + lp->m_off[e];
    damp(lp, lp->pend + lp->m_off[e], m, lp->s.tmp, K);
    return change(lp->s.tmp, m, K);
}

/* ---- the residual heap: largest residual first, ties to the lower edge ---- */

static bool before(const cai_loopy *lp, size_t a, size_t b)
{
    return lp->res[a] > lp->res[b] || (lp->res[a] == lp->res[b] && a < b);
}

static void heap_swap(cai_loopy *lp, size_t i, size_t j)
{
    size_t a = lp->heap[i], b = lp->heap[j];
    lp->heap[i] = b;
    lp->heap[j] = a;
    lp->hpos[b] = i;
    lp->hpos[a] = j;
}

static void heap_down(cai_loopy *lp, size_t i)
{
    size_t n = lp->n_edges;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && before(lp, lp->heap[l], lp->heap[m]))
            m = l;
        if (r < n && before(lp, lp->heap[r], lp->heap[m]))
            m = r;
        if (m == i)
            return;
        heap_swap(lp, i, m);
        i = m;
    }
}

static void heap_fix(cai_loopy *lp, size_t e)
{
    size_t i = lp->hpos[e];
    while (i > 0 && before(lp, lp->heap[i], lp->heap[(i - 1) / 2])) {
        heap_swap(lp, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    heap_down(lp, i);
}

/* ---- beliefs, the Bethe estimate and decoding ---- */

/* q = normalised local terms plus incoming messages; true when some
 * variable's belief has no mass. */
static bool beliefs(cai_loopy *lp)
{
    bool empty = false, max = loopy_max(lp);
    for (size_t v = 0; v < lp->n_vars; v++) {
        size_t K = lp->card[v];
        double *q = lp->q + lp->off[v];
        memcpy(q, lp->local + lp->off[v], K * sizeof(double));
        for (size_t t = lp->vedge_off[v]; t < lp->vedge_off[v + 1]; t++) {
            const double *m = lp->msg + lp->m_off[lp->vedge[t]];
            for (size_t x = 0; x < K; x++)
                q[x] += m[x];
        }
        bool mass = false;
        for (size_t x = 0; x < K; x++)
            mass |= q[x] > -INFINITY;
        if (mass) {
            loopy_normalise(q, K, max);
        } else {
            empty = true;
            for (size_t x = 0; x < K; x++)
                q[x] = NAN;
        }
    }
    return empty;
}

/* -F_Bethe from the messages (the beliefs q are current). Each cluster term
 * sum b_c (log b_c - log psi_c) is -log Z_c + sum_j E_{b_c}[log mu_j]: the
 * cluster's normaliser and its marginals come from what it would send. */
static double bethe(cai_loopy *lp)
{
    double F = 0.0;
    for (size_t v = 0; v < lp->n_vars; v++) {
        const double *q = lp->q + lp->off[v], *phi = lp->local + lp->off[v];
        double d = (double)(lp->vedge_off[v + 1] - lp->vedge_off[v]);
        for (size_t x = 0; x < lp->card[v]; x++) {
            double b = exp(q[x]);
            if (b > 0.0)
                F -= b * phi[x] + (d - 1.0) * b * q[x];
        }
    }
    lscratch *s = &lp->s;
    for (size_t ci = 0; ci < lp->n_clusters; ci++) {
        const lcluster *c = &lp->clusters[ci];
        loopy_cavities(lp, c, s->cav, s->mu);
        for (size_t j = 0, at = 0; j < c->k; j++) {
            s->outp[j] = s->out + at;
            at += c->p->cards[j];
        }
        send(lp, c, s->mu, s->outp, s);
        double zc = 0.0;
        for (size_t j = 0; j < c->k; j++) {
            size_t K = c->p->cards[j];
            double *o = s->outp[j];
            for (size_t x = 0; x < K; x++)
                o[x] += s->mu[j][x];
            double z = cai_logsumexp(o, K);
            if (!(z > -INFINITY))
                return -INFINITY;
            if (j == 0)
                zc = z;
            for (size_t x = 0; x < K; x++) {
                double b = exp(o[x] - z);
                if (b > 0.0)
                    F += b * s->mu[j][x];
            }
        }
        F -= zc;
    }
    return -F;
}

typedef struct decode_ctx {
    const cai_loopy *lp;
    const lcluster *c;
    const double *const *mu;
    const unsigned char *set; /* per variable */
    size_t *best;
    double best_v;
    bool found;
} decode_ctx;

static void decode_entry(void *vctx, const size_t *idx, double lv)
{
    decode_ctx *t = vctx;
    const lcluster *c = t->c;
    for (size_t j = 0; j < c->k; j++) {
        if (t->set[c->vars[j]] && t->lp->assign[c->vars[j]] != idx[j])
            return;
        lv += t->mu[j][idx[j]];
    }
    if (!t->found || lv > t->best_v) {
        t->found = true;
        t->best_v = lv;
        memcpy(t->best, idx, c->k * sizeof(size_t));
    }
}

static size_t default_state(const cai_loopy *lp, size_t v)
{
    return lp->evidence[v] != CAI_NONE ? lp->evidence[v] : 0;
}

/* Set variable v and queue its clusters not yet queued. */
static void decode_set(cai_loopy *lp, size_t v, size_t x, size_t *tail)
{
    lscratch *s = &lp->s;
    unsigned char *cq = s->seen, *set = s->seen + lp->n_clusters;
    lp->assign[v] = x;
    set[v] = 1;
    for (size_t t = lp->vedge_off[v]; t < lp->vedge_off[v + 1]; t++) {
        size_t c = lp->edge_cluster[lp->vedge[t]];
        if (!cq[c]) {
            cq[c] = 1;
            s->queue[(*tail)++] = c;
        }
    }
}

/* The assignment (see cai_loopy_map) into lp->assign; returns its score. */
static double decode(cai_loopy *lp)
{
    lscratch *s = &lp->s;
    unsigned char *set = s->seen + lp->n_clusters;
    memset(s->seen, 0, lp->n_clusters + lp->n_vars);
    for (size_t v = 0; v < lp->n_vars; v++) {
        if (set[v])
            continue;
        const double *q = lp->q + lp->off[v];
        size_t best = CAI_NONE;
        for (size_t x = 0; x < lp->card[v]; x++)
            if (q[x] > -INFINITY && (best == CAI_NONE || q[x] > q[best]))
                best = x;
        size_t head = 0, tail = 0;
        decode_set(lp, v, best == CAI_NONE ? default_state(lp, v) : best, &tail);
        while (head < tail) {
            const lcluster *c = &lp->clusters[s->queue[head++]];
            bool open = false;
            for (size_t j = 0; j < c->k; j++)
                open |= !set[c->vars[j]];
            if (!open)
                continue;
            loopy_cavities(lp, c, s->cav, s->mu);
            decode_ctx t = {.lp = lp, .c = c, .mu = s->mu, .set = set, .best = s->best};
            loopy_scan(lp, c, s->idx, decode_entry, &t);
            bool ok = t.found && t.best_v > -INFINITY;
            for (size_t j = 0; j < c->k; j++)
                if (!set[c->vars[j]])
                    decode_set(lp, c->vars[j], ok ? s->best[j] : default_state(lp, c->vars[j]),
                               &tail);
        }
    }
    double score = 0.0;
    for (size_t v = 0; v < lp->n_vars; v++)
        if (lp->evidence[v] != CAI_NONE && lp->assign[v] != lp->evidence[v])
            return -INFINITY;
    for (size_t f = 0; f < lp->n_factors; f++) {
        const lfactor *F = &lp->factors[f];
        size_t row = 0;
        for (size_t j = 0; j + 1 < F->k; j++)
            row = row * F->p->cards[j] + lp->assign[F->scope[j]];
        score += potential_log_value_sr(F->p, row, lp->assign[F->scope[F->k - 1]], F->sr);
    }
    return score;
}

/* Beliefs and the log Z estimate of the current messages. */
static double estimate(cai_loopy *lp)
{
    bool empty = beliefs(lp);
    if (loopy_max(lp))
        return decode(lp);
    double lz = empty ? -INFINITY : bethe(lp);
    if (lz == -INFINITY)
        for (size_t i = 0; i < lp->var_total; i++)
            lp->q[i] = NAN;
    return lz;
}

/* ---- schedules ---- */

static void local_terms(cai_loopy *lp)
{
    for (size_t v = 0; v < lp->n_vars; v++) {
        double *l = lp->local + lp->off[v];
        for (size_t x = 0; x < lp->card[v]; x++) {
            double s = 0.0;
            for (size_t t = lp->unary_off[v]; t < lp->unary_off[v + 1]; t++) {
                const lfactor *F = &lp->factors[lp->unary[t]];
                s += potential_log_value_sr(F->p, 0, x, F->sr);
            }
            l[x] = lp->evidence[v] != CAI_NONE && x != lp->evidence[v] ? -INFINITY : s;
        }
    }
}

/* Note the largest change and its message. */
static void note(double d, size_t e, double *worst, size_t *where)
{
    if (*where == CAI_NONE || d > *worst) {
        *worst = d;
        *where = e;
    }
}

/* One flooding or sequential iteration (number it); returns the largest
 * change. Sequential sweeps alternate between the clusters' order and its
 * reverse, so that on a chain or tree laid out in factor order information
 * crosses it in both directions within two iterations. */
static double sweep(cai_loopy *lp, size_t it, size_t *where)
{
    double worst = 0.0;
    *where = CAI_NONE;
    bool flood = lp->opt.schedule == CAI_SCHEDULE_FLOODING, back = !flood && it % 2 == 0;
    for (size_t i = 0; i < lp->n_clusters; i++) {
        const lcluster *c = &lp->clusters[back ? lp->n_clusters - 1 - i : i];
        send_pending(lp, c, CAI_NONE);
        if (!flood)
            for (size_t j = 0; j < c->k; j++)
                note(commit(lp, c->e0 + j), c->e0 + j, &worst, where);
    }
    if (flood)
        for (size_t e = 0; e < lp->n_edges; e++)
            note(commit(lp, e), e, &worst, where);
    return worst;
}

/* Commit the message with the largest residual and refresh the pending
 * messages that depend on it. */
static void residual_update(cai_loopy *lp)
{
    size_t e = lp->heap[0], v = lp->edge_var[e], c = lp->edge_cluster[e];
    commit(lp, e);
    lp->res[e] = pending_change(lp, e); /* 0 unless damped */
    heap_fix(lp, e);
    for (size_t t = lp->vedge_off[v]; t < lp->vedge_off[v + 1]; t++) {
        size_t e2 = lp->vedge[t], c2 = lp->edge_cluster[e2];
        if (c2 == c)
            continue;
        const lcluster *C = &lp->clusters[c2];
        send_pending(lp, C, lp->edge_pos[e2]);
        for (size_t j = 0; j < C->k; j++) {
            size_t e3 = C->e0 + j;
            if (e3 == e2)
                continue;
            lp->res[e3] = pending_change(lp, e3);
            heap_fix(lp, e3);
        }
    }
}

cai_status loopy_run(cai_loopy *lp, cai_error *err)
{
    (void)err;
    const cai_loopy_options *o = &lp->opt;
    bool max = loopy_max(lp);
    local_terms(lp);
    for (size_t e = 0; e < lp->n_edges; e++) {
        size_t K = lp->card[lp->edge_var[e]];
        double u = max ? 0.0 : -log((double)K);
        for (size_t x = 0; x < K; x++)
            lp->msg[lp->m_off[e] + x] = u;
    }
    bool residual = o->schedule == CAI_SCHEDULE_RESIDUAL;
    if (residual) {
        for (size_t ci = 0; ci < lp->n_clusters; ci++)
            send_pending(lp, &lp->clusters[ci], CAI_NONE);
        for (size_t e = 0; e < lp->n_edges; e++) {
            lp->res[e] = pending_change(lp, e);
            lp->heap[e] = e;
            lp->hpos[e] = e;
        }
        for (size_t i = lp->n_edges / 2; i-- > 0;)
            heap_down(lp, i);
    }
    size_t it = 0, where = CAI_NONE;
    double worst = 0.0;
    bool converged = false;
    do {
        it++;
        if (residual) {
            for (size_t u = 0; u < lp->n_edges && lp->res[lp->heap[0]] > o->tol; u++)
                residual_update(lp);
            where = lp->n_edges ? lp->heap[0] : CAI_NONE;
            worst = lp->n_edges ? lp->res[where] : 0.0;
        } else {
            worst = sweep(lp, it, &where);
            if (where == CAI_NONE)
                worst = 0.0;
        }
        converged = worst <= o->tol;
        if (o->trace)
            o->trace(o->trace_ctx, it, worst, estimate(lp));
    } while (!converged && it < o->max_iterations);
    lp->iterations = it;
    lp->converged = converged;
    lp->max_residual = worst;
    lp->res_factor = where == CAI_NONE ? CAI_NONE : lp->clusters[lp->edge_cluster[where]].host;
    lp->res_var = where == CAI_NONE ? CAI_NONE : lp->edge_var[where];
    lp->log_z = estimate(lp);
    lp->ran = true;
    return CAI_OK;
}
