/* lib/engine/meanfield.c — mean-field variational message passing: options,
 * fully factorised q with coordinate ascent sweeps in variable (or singleton
 * block) order, the run loop shared with the cluster variant
 * (meanfield_cluster.c), the ELBO after every sweep, queries (see
 * cai/meanfield.h for the conventions). */
#include "meanfield_impl.h"

#include "cai/logmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

cai_meanfield_options cai_meanfield_options_default(void)
{
    return (cai_meanfield_options){.max_iterations = 1000,
                                   .tol = 1e-10,
                                   .init = CAI_MEANFIELD_INIT_UNIFORM,
                                   .seed = 0,
                                   .trace = NULL,
                                   .trace_ctx = NULL,
                                   .blocks = NULL};
}

static cai_status check_options(const cai_meanfield_options *o, cai_error *err)
{
    if (o->init != CAI_MEANFIELD_INIT_UNIFORM && o->init != CAI_MEANFIELD_INIT_RANDOM)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown init %d",
                             (int)o->init);
    if (!(o->tol > 0.0))
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0, "tolerance %g is not positive",
                             o->tol);
    if (o->max_iterations == 0)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "max_iterations must be at least 1");
    return CAI_OK;
}

void *mf_alloc(size_t n, size_t elem)
{
    size_t bytes;
    if (!cai_size_mul(n ? n : 1, elem, &bytes))
        return NULL;
    return calloc(1, bytes);
}

void cai_meanfield_free(cai_meanfield *mf)
{
    if (mf == NULL)
        return;
    if (mf->factors)
        for (size_t f = 0; f < mf->n_factors; f++)
            cai_potential_unref(mf->factors[f].p);
    free(mf->card); free(mf->off); free(mf->evidence);
    free(mf->factors); free(mf->scopes);
    free(mf->vf_off); free(mf->vf); free(mf->vf_pos);
    mf_cluster_free(mf->cl);
    free(mf->block); free(mf->order);
    free(mf->q); free(mf->logit); free(mf->ex); free(mf->mass); free(mf->zm); free(mf->cnt); free(mf->idx);
    free(mf);
}

static cai_status copy_graph(cai_meanfield *mf, const cai_graph *g, cai_error *err)
{
    size_t nv = g->n_vars, nf = g->n_factors, pool = 0, n_q = 0;
    mf->n_vars = nv;
    mf->n_factors = nf;
    mf->max_card = 1;
    mf->max_k = 1;
    for (size_t f = 0; f < nf; f++) {
        if (!cai_size_add(pool, g->factors[f].k, &pool))
            return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "too many scope entries");
        if (g->factors[f].k > mf->max_k)
            mf->max_k = g->factors[f].k;
    }
    for (size_t v = 0; v < nv; v++) {
        if (!cai_size_add(n_q, g->vars[v].card, &n_q))
            return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0, "too many states");
        if (g->vars[v].card > mf->max_card)
            mf->max_card = g->vars[v].card;
    }
    mf->n_q = n_q;
    mf->card = mf_alloc(nv, sizeof(size_t));
    mf->off = mf_alloc(nv, sizeof(size_t));
    mf->evidence = mf_alloc(nv, sizeof(size_t));
    mf->factors = mf_alloc(nf, sizeof(mf_factor));
    mf->scopes = mf_alloc(pool, sizeof(size_t));
    mf->vf_off = mf_alloc(nv + 1, sizeof(size_t));
    mf->vf = mf_alloc(pool, sizeof(size_t));
    mf->vf_pos = mf_alloc(pool, sizeof(size_t));
    mf->q = mf_alloc(n_q, sizeof(double));
    mf->logit = mf_alloc(mf->max_card, sizeof(double));
    mf->ex = mf_alloc(mf->max_card, sizeof(double));
    mf->mass = mf_alloc(mf->max_card, sizeof(double));
    mf->zm = mf_alloc(mf->max_card, sizeof(double));
    mf->cnt = mf_alloc(mf->max_card, sizeof(size_t));
    mf->idx = mf_alloc(mf->max_k, sizeof(size_t));
    if (!mf->card || !mf->off || !mf->evidence || !mf->factors || !mf->scopes || !mf->vf_off
        || !mf->vf || !mf->vf_pos || !mf->q || !mf->logit || !mf->ex || !mf->mass || !mf->zm
        || !mf->cnt || !mf->idx)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    for (size_t v = 0, o = 0; v < nv; v++) {
        mf->card[v] = g->vars[v].card;
        mf->evidence[v] = g->vars[v].evidence;
        mf->off[v] = o;
        o += mf->card[v];
    }
    size_t at = 0;
    for (size_t f = 0; f < nf; f++) {
        const factor *gf = &g->factors[f];
        mf_factor *F = &mf->factors[f];
        F->scope = mf->scopes + at;
        memcpy(F->scope, gf->scope, gf->k * sizeof(size_t));
        at += gf->k;
        F->k = gf->k;
        F->support = gf->mode == CAI_MODE_SUPPORT;
        F->p = cai_potential_ref(gf->p);
        for (size_t i = 0; i < gf->k; i++)
            mf->vf_off[gf->scope[i] + 1]++;
    }
    for (size_t v = 0; v < nv; v++)
        mf->vf_off[v + 1] += mf->vf_off[v];
    /* fill in factor order with vf_off[v] as v's cursor, then shift back */
    for (size_t f = 0; f < nf; f++) {
        const mf_factor *F = &mf->factors[f];
        for (size_t i = 0; i < F->k; i++) {
            size_t j = mf->vf_off[F->scope[i]]++;
            mf->vf[j] = f;
            mf->vf_pos[j] = i;
        }
    }
    for (size_t v = nv; v > 0; v--)
        mf->vf_off[v] = mf->vf_off[v - 1];
    mf->vf_off[0] = 0;
    return CAI_OK;
}

/* Check and copy the block indices (n_vars of them, forming 0..n_blocks-1
 * with every index used). Singleton blocks only: the factorised sweeps in
 * block order; otherwise the cluster variant. */
static cai_status copy_blocks(cai_meanfield *mf, const cai_graph *g, const size_t *blocks,
                              cai_error *err)
{
    size_t nv = mf->n_vars, nb = 0;
    for (size_t v = 0; v < nv; v++) {
        if (blocks[v] >= nv)
            return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                                 "variable %zu ('%s'): block index %zu is out of range "
                                 "(block indices must be 0..n_blocks-1 <= %zu, every index "
                                 "used)",
                                 v, cai_graph_variable_name(g, v), blocks[v], nv - 1);
        if (blocks[v] >= nb)
            nb = blocks[v] + 1;
    }
    size_t *count = mf_alloc(nb, sizeof(size_t));
    mf->block = mf_alloc(nv, sizeof(size_t));
    if (count == NULL || mf->block == NULL) {
        free(count);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    }
    memcpy(mf->block, blocks, nv * sizeof(size_t));
    mf->opt.blocks = mf->block;
    bool big = false;
    for (size_t v = 0; v < nv; v++)
        big = ++count[blocks[v]] >= 2 || big;
    size_t unused = 0;
    while (unused < nb && count[unused] > 0)
        unused++;
    free(count);
    if (unused < nb) {
        size_t v = 0;
        while (blocks[v] < unused) /* some variable has a higher index */
            v++;
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "variable %zu ('%s') is in block %zu but block %zu has no "
                             "variables (block indices must be 0..n_blocks-1, every index "
                             "used)",
                             v, cai_graph_variable_name(g, v), blocks[v], unused);
    }
    if (big)
        return mf_cluster_create(mf, g, nb, err);
    mf->order = mf_alloc(nv, sizeof(size_t));
    if (mf->order == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    for (size_t v = 0; v < nv; v++)
        mf->order[blocks[v]] = v;
    return CAI_OK;
}

cai_status cai_meanfield_create(const cai_graph *g, const cai_meanfield_options *opt,
                                cai_meanfield **out_mf, cai_error *err)
{
    if (g == NULL || out_mf == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    cai_meanfield_options o = opt ? *opt : cai_meanfield_options_default();
    cai_status st = check_options(&o, err);
    if (st != CAI_OK)
        return st;
    cai_meanfield *mf = calloc(1, sizeof *mf);
    if (mf == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    mf->opt = o;
    mf->opt.blocks = NULL;
    if ((st = copy_graph(mf, g, err)) != CAI_OK
        || (o.blocks != NULL && (st = copy_blocks(mf, g, o.blocks, err)) != CAI_OK)) {
        cai_meanfield_free(mf);
        return st;
    }
    mf->elbo = NAN;
    *out_mf = mf;
    return CAI_OK;
}

cai_status cai_meanfield_set_evidence(cai_meanfield *mf, size_t var, size_t state,
                                      cai_error *err)
{
    if (mf == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (var >= mf->n_vars)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown variable index %zu",
                             var);
    if (state != CAI_NONE && state >= mf->card[var])
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "state %zu is out of range (variable %zu has %zu states)", state,
                             var, mf->card[var]);
    mf->evidence[var] = state;
    mf->ran = false;
    mf->converged = false;
    mf->iterations = 0;
    mf->elbo = NAN;
    return CAI_OK;
}

/* ---- expectations ---- */

/* Number of states of var with positive q. */
static size_t n_positive(const cai_meanfield *mf, size_t var)
{
    const double *q = mf->q + mf->off[var];
    size_t n = 0;
    for (size_t s = 0; s < mf->card[var]; s++)
        n += q[s] > 0.0;
    return n;
}

/* E_q[log F | x at position j = s] into ex[s] for every state s of the
 * variable at position j, the others distributed as q; j == CAI_NONE: the
 * plain E_q[log F] into ex[0]. Only assignments where every other variable
 * has positive q count; ex[s] is -INFINITY when such an assignment hits a
 * zero of F. The zeros are found by counting: the nonzero entries met with
 * x_j = s must number prod_{m != j} n_positive(m), else one is missing.
 * mass[s] gets the q-mass of those nonzero entries (1 when none is missing,
 * up to rounding). */
static void factor_expect(cai_meanfield *mf, const mf_factor *F, size_t j, double *ex,
                          double *mass)
{
    const cai_potential *p = F->p;
    size_t k = F->k, nr = p->n_rows, nc = p->n_cols;
    size_t ns = j == CAI_NONE ? 1 : mf->card[F->scope[j]];
    size_t *cnt = mf->cnt, *idx = mf->idx;
    for (size_t s = 0; s < ns; s++) {
        ex[s] = 0.0;
        mass[s] = 0.0;
        cnt[s] = 0;
    }
    for (size_t m = 0; m < k; m++)
        idx[m] = 0;
    const double *logv = potential_table_logv(p);
    const size_t *rp = NULL;
    const uint32_t *col = NULL;
    const double *prob = NULL;
    if (logv == NULL)
        (void)cai_potential_csr_arrays(p, &rp, &col, &prob);
    const double *qc = mf->q + mf->off[F->scope[k - 1]];
    bool child_target = j == k - 1;
    for (size_t r = 0; r < nr; r++) {
        double w = 1.0;
        bool pos = true;
        for (size_t m = 0; m + 1 < k && pos; m++) {
            if (m == j)
                continue;
            double qm = mf->q[mf->off[F->scope[m]] + idx[m]];
            pos = qm > 0.0;
            w *= qm;
        }
        if (pos) {
            size_t s_row = (j == CAI_NONE || child_target) ? 0 : idx[j];
            size_t e0 = logv ? r * nc : rp[r], e1 = logv ? (r + 1) * nc : rp[r + 1];
            for (size_t e = e0; e < e1; e++) {
                size_t c = logv ? e - e0 : col[e];
                double lv = logv ? logv[e] : log(prob[e]);
                if (lv == -INFINITY)
                    continue;
                double wc = w;
                size_t s = s_row;
                if (child_target) {
                    s = c;
                } else {
                    if (!(qc[c] > 0.0))
                        continue;
                    wc *= qc[c];
                }
                ex[s] += wc * (F->support ? 0.0 : lv);
                mass[s] += wc;
                cnt[s]++;
            }
        }
        for (size_t m = k - 1; m-- > 0;) { /* next row: last parent fastest */
            if (++idx[m] < p->cards[m])
                break;
            idx[m] = 0;
        }
    }
    size_t need = 1;
    for (size_t m = 0; m < k; m++)
        if (m != j && !cai_size_mul(need, n_positive(mf, F->scope[m]), &need)) {
            need = (size_t)-1; /* more than any count of stored entries */
            break;
        }
    for (size_t s = 0; s < ns; s++)
        if (cnt[s] < need)
            ex[s] = -INFINITY;
}

/* The ELBO of the current q. */
static double compute_elbo(cai_meanfield *mf)
{
    double e = 0.0;
    for (size_t f = 0; f < mf->n_factors; f++) {
        factor_expect(mf, &mf->factors[f], CAI_NONE, mf->ex, mf->mass);
        e += mf->ex[0];
    }
    for (size_t v = 0; v < mf->n_vars; v++) {
        const double *q = mf->q + mf->off[v];
        for (size_t s = 0; s < mf->card[v]; s++)
            if (q[s] > 0.0)
                e -= q[s] * log(q[s]);
    }
    return e;
}

/* Set q_v to its coordinate-ascent update; returns the largest change of an
 * entry (0 when v is clamped). When every state has expected log -inf the
 * ELBO is -inf whatever q_v is; q_v then becomes the point mass on the state
 * whose factors' zeros carry the least mass of the others' q (ties to the
 * lowest), so that later updates can leave the zeros: from a uniform start
 * mean field would otherwise stay stuck at -inf on models whose factors have
 * a zero in every row. */
static double update_var(cai_meanfield *mf, size_t v)
{
    if (mf->evidence[v] != CAI_NONE)
        return 0.0;
    size_t K = mf->card[v];
    double *L = mf->logit;
    for (size_t s = 0; s < K; s++) {
        L[s] = 0.0;
        mf->zm[s] = 0.0;
    }
    for (size_t j = mf->vf_off[v]; j < mf->vf_off[v + 1]; j++) {
        factor_expect(mf, &mf->factors[mf->vf[j]], mf->vf_pos[j], mf->ex, mf->mass);
        for (size_t s = 0; s < K; s++) {
            L[s] += mf->ex[s];
            mf->zm[s] += 1.0 - mf->mass[s];
        }
    }
    double lse = cai_logsumexp(L, K);
    if (lse == -INFINITY) {
        size_t best = 0;
        for (size_t s = 1; s < K; s++)
            if (mf->zm[s] < mf->zm[best])
                best = s;
        for (size_t s = 0; s < K; s++)
            L[s] = s == best;
    } else {
        for (size_t s = 0; s < K; s++)
            L[s] = exp(L[s] - lse);
    }
    double sum = 0.0;
    for (size_t s = 0; s < K; s++)
        sum += L[s];
    double *q = mf->q + mf->off[v], change = 0.0;
    for (size_t s = 0; s < K; s++) {
        double nq = L[s] / sum, d = fabs(nq - q[s]);
        change = d > change ? d : change;
        q[s] = nq;
    }
    return change;
}

/* splitmix64 (Steele, Lea and Flood 2014): a fixed, portable generator. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void init_q(cai_meanfield *mf)
{
    uint64_t state = mf->opt.seed;
    for (size_t v = 0; v < mf->n_vars; v++) {
        double *q = mf->q + mf->off[v];
        size_t K = mf->card[v];
        if (mf->evidence[v] != CAI_NONE) {
            for (size_t s = 0; s < K; s++)
                q[s] = s == mf->evidence[v] ? 1.0 : 0.0;
            continue;
        }
        double sum = 0.0;
        for (size_t s = 0; s < K; s++) {
            q[s] = mf->opt.init == CAI_MEANFIELD_INIT_RANDOM
                       ? 0.05 + (double)(splitmix64(&state) >> 11) * 0x1.0p-53
                       : 1.0;
            sum += q[s];
        }
        for (size_t s = 0; s < K; s++)
            q[s] /= sum;
    }
}

cai_status cai_meanfield_run(cai_meanfield *mf, cai_error *err)
{
    if (mf == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    mf->ran = false;
    init_q(mf);
    if (mf->cl)
        mf_cluster_start(mf);
    double prev = mf->cl ? mf_cluster_elbo(mf) : compute_elbo(mf), elbo = prev;
    size_t units = mf->cl ? mf_cluster_n_blocks(mf->cl) : mf->n_vars;
    bool converged = false;
    size_t it = 0;
    while (it < mf->opt.max_iterations && !converged) {
        it++;
        double change = 0.0;
        for (size_t u = 0; u < units; u++) {
            double d = 0.0;
            if (mf->cl) {
                cai_status st = mf_cluster_update(mf, u, &d, err);
                if (st != CAI_OK) {
                    mf->iterations = 0;
                    mf->converged = false;
                    mf->elbo = NAN;
                    return st;
                }
            } else {
                d = update_var(mf, mf->order ? mf->order[u] : u);
            }
            change = d > change ? d : change;
        }
        elbo = mf->cl ? mf_cluster_elbo(mf) : compute_elbo(mf);
        if (mf->opt.trace)
            mf->opt.trace(mf->opt.trace_ctx, it, elbo);
        double scale = fabs(elbo) > 1.0 ? fabs(elbo) : 1.0;
        bool same = (elbo == -INFINITY && prev == -INFINITY)
                    || fabs(elbo - prev) <= mf->opt.tol * scale;
        converged = change <= mf->opt.tol && same;
        if (it >= 2 && elbo == -INFINITY && prev == -INFINITY)
            break; /* stuck on the zeros: see cai/meanfield.h */
        prev = elbo;
    }
    mf->iterations = it;
    mf->converged = converged;
    mf->elbo = elbo;
    mf->ran = true;
    return CAI_OK;
}

/* ---- queries ---- */

size_t cai_meanfield_iterations(const cai_meanfield *mf)
{
    return mf && mf->ran ? mf->iterations : 0;
}

bool cai_meanfield_converged(const cai_meanfield *mf) { return mf && mf->ran && mf->converged; }

size_t cai_meanfield_message_bytes(const cai_meanfield *mf)
{
    if (mf == NULL)
        return 0;
    size_t n = mf->n_q * sizeof(double)                      /* q */
               + 4 * mf->max_card * sizeof(double)            /* logit, ex, mass, zm */
               + mf->max_card * sizeof(size_t) + mf->max_k * sizeof(size_t); /* cnt, idx */
    return n + (mf->cl ? mf_cluster_bytes(mf->cl) : 0);
}

double cai_meanfield_elbo(const cai_meanfield *mf) { return mf && mf->ran ? mf->elbo : NAN; }

static cai_status check_query(const cai_meanfield *mf, const void *out, cai_error *err)
{
    if (mf == NULL || out == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (!mf->ran)
        return cai_error_set(err, CAI_ERR_STATE, NULL, 0, 0,
                             "no results: call cai_meanfield_run first");
    return CAI_OK;
}

cai_status cai_meanfield_marginal(const cai_meanfield *mf, size_t var, double *out,
                                  cai_error *err)
{
    cai_status st = check_query(mf, out, err);
    if (st != CAI_OK)
        return st;
    if (var >= mf->n_vars)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "unknown variable index %zu",
                             var);
    memcpy(out, mf->q + mf->off[var], mf->card[var] * sizeof(double));
    return CAI_OK;
}

cai_status cai_meanfield_map(const cai_meanfield *mf, size_t *out, cai_error *err)
{
    cai_status st = check_query(mf, out, err);
    if (st != CAI_OK)
        return st;
    for (size_t v = 0; v < mf->n_vars; v++) {
        const double *q = mf->q + mf->off[v];
        size_t best = 0;
        for (size_t s = 1; s < mf->card[v]; s++)
            if (q[s] > q[best])
                best = s;
        out[v] = best;
    }
    return CAI_OK;
}
