/* lib/engine/cluster.c — lay out the clusters of a plan: absorbed factors,
 * dense tables where absorption needs one, expected child terms of
 * expectation hosts, and the constant row terms the kernels read. */
#include "analysis.h"
#include "bigmem.h"

#include "cai/logmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Largest dense table the plan builds when an absorbed factor touches a
 * cluster's column variable. */
#define MATERIALIZE_MAX ((size_t)1 << 26)

/* Dense table over cluster c's scope: host plus every absorbed factor. */
static cai_status materialize(const analysis *a, size_t c,
                              const size_t *members, size_t n_members,
                              cai_potential **out_p, cai_error *err)
{
    const factor *H = &a->g->factors[a->hosts[c]];
    size_t total = H->p->n_rows * H->p->n_cols;
    if (total > MATERIALIZE_MAX)
        return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0,
                             "factor %zu: absorbing factors into it needs a table of %zu "
                             "entries (limit %zu)", a->hosts[c], total, MATERIALIZE_MAX);
    double *t = alloc_array(total, sizeof(double));
    size_t *idx = alloc_array(H->k, sizeof(size_t));
    size_t *sub = alloc_array(H->k, sizeof(size_t));
    cai_status st = CAI_OK;
    if (t == NULL || idx == NULL || sub == NULL) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    for (size_t e = 0; e < total; e++) {
        double v = factor_log_value(H, idx);
        for (size_t m = 0; m < n_members; m++) {
            const factor *F = &a->g->factors[members[m]];
            for (size_t i = 0; i < F->k; i++)
                sub[i] = idx[scope_pos(H, F->scope[i])];
            v += factor_log_value(F, sub);
        }
        t[e] = v;
        for (size_t i = H->k; i-- > 0;) { /* odometer, last fastest */
            if (++idx[i] < H->p->cards[i])
                break;
            idx[i] = 0;
        }
    }
    st = cai_potential_table_create(H->k, H->p->cards, t, out_p, err);
done:
    free(t);
    free(idx);
    free(sub);
    return st;
}


static bool touches_child(const cai_graph *g, const factor *H, size_t f)
{
    const factor *F = &g->factors[f];
    for (size_t j = 0; j < F->k; j++)
        if (F->scope[j] == H->scope[H->k - 1])
            return true;
    return false;
}

/* Do hosts h1 and h2 get the same expected child terms from their absorbed
 * factors (same potentials at the same positions)? */
static bool same_child_terms(const cai_graph *g, size_t h1, const size_t *mem1, size_t n1,
                             size_t h2, const size_t *mem2, size_t n2)
{
    const factor *H1 = &g->factors[h1], *H2 = &g->factors[h2];
    if (H1->p != H2->p || n1 != n2)
        return false;
    for (size_t m = 0; m < n1; m++) {
        const factor *F1 = &g->factors[mem1[m]], *F2 = &g->factors[mem2[m]];
        if (F1->p != F2->p)
            return false;
        for (size_t j = 0; j < F1->k; j++)
            if (scope_pos(H1, F1->scope[j]) != scope_pos(H2, F2->scope[j]))
                return false;
    }
    return true;
}

typedef struct child_terms {
    const cai_graph *g;
    const factor *H;
    const size_t *mem;
    size_t nm;
    size_t *idx;  /* H->k states of the current entry */
    size_t row;   /* the row idx[0..k-2] holds, CAI_NONE at first */
} child_terms;

/* sum of log F over the absorbed factors touching the child, at (r, c) */
static double child_term(void *vctx, size_t r, size_t c)
{
    child_terms *t = vctx;
    const factor *H = t->H;
    if (t->row != r) {
        size_t rest = r;
        for (size_t i = H->k - 1; i-- > 0;) {
            t->idx[i] = rest % H->p->cards[i];
            rest /= H->p->cards[i];
        }
        t->row = r;
    }
    t->idx[H->k - 1] = c;
    double s = 0.0;
    for (size_t m = 0; m < t->nm; m++) {
        const factor *F = &t->g->factors[t->mem[m]];
        if (!touches_child(t->g, H, t->mem[m]))
            continue;
        size_t row = 0;
        for (size_t j = 0; j + 1 < F->k; j++)
            row = row * F->p->cards[j] + t->idx[scope_pos(H, F->scope[j])];
        s += potential_log_value_sr(F->p, row, t->idx[scope_pos(H, F->scope[F->k - 1])],
                                    factor_sr(F));
    }
    return s;
}

/* New erow for expectation host h: E_{p(c|r)}[sum of log F] per row. */
static cai_status expected_child_terms(const cai_graph *g, cai_plan *plan, size_t h,
                                       const size_t *mem, size_t nm, cai_error *err)
{
    const factor *H = &g->factors[h];
    double *erow = big_alloc(H->p->n_rows, sizeof(double));
    size_t *idx = alloc_array(H->k, sizeof(size_t));
    if (erow == NULL || idx == NULL) {
        big_free(erow);
        free(idx);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    }
    child_terms t = {.g = g, .H = H, .mem = mem, .nm = nm, .idx = idx, .row = CAI_NONE};
    H->p->ops->expect_rows(H->p, child_term, &t, erow);
    free(idx);
    plan->bufs[plan->n_bufs++] = erow;
    return CAI_OK;
}

cai_status plan_build_clusters(analysis *a, cai_plan *plan, cai_error *err)
{
    const cai_graph *g = a->g;
    size_t nf = g->n_factors;
    size_t *pos_in_order = alloc_array(a->n_hosts, sizeof(size_t));
    size_t *n_members = alloc_array(a->n_hosts, sizeof(size_t));
    size_t *mem_off = alloc_array(a->n_hosts + 1, sizeof(size_t));
    size_t *members = alloc_array(nf, sizeof(size_t));
    cai_status st = CAI_OK;
    if (!pos_in_order || !n_members || !mem_off || !members) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < a->n_hosts; i++)
        pos_in_order[a->order[i]] = i;
    for (size_t f = 0; f < nf; f++)
        if (a->role[f] == ROLE_ABSORBED)
            n_members[a->cl_of[a->host[f]]]++;
    for (size_t c = 0; c < a->n_hosts; c++)
        mem_off[c + 1] = mem_off[c] + n_members[c];
    for (size_t c = 0; c < a->n_hosts; c++)
        n_members[c] = 0;
    for (size_t f = 0; f < nf; f++)
        if (a->role[f] == ROLE_ABSORBED) {
            size_t c = a->cl_of[a->host[f]];
            members[mem_off[c] + n_members[c]++] = f;
        }

    size_t m_off = 0, prev_c = CAI_NONE;
    const double *prev_erow = NULL; /* clusters alike in a row share one */
    for (size_t i = 0; i < a->n_hosts; i++) {
        size_t c = a->order[i], f = a->hosts[c];
        const factor *H = &g->factors[f];
        cluster *cl = &plan->clusters[i];
        cl->k = H->k;
        cl->expect = is_expect(a, f);
        cl->vars = alloc_array(H->k, sizeof(size_t));
        if (cl->vars == NULL) {
            st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
            goto done;
        }
        memcpy(cl->vars, H->scope, H->k * sizeof(size_t));
        cl->up = scope_pos(H, a->up_var[c]);
        cl->m_off = m_off;
        m_off += g->vars[a->up_var[c]].card;
        const size_t *mem = members + mem_off[c];
        size_t nm = n_members[c];
        /* Absorbed factors that touch the column variable: an expectation host
         * takes their expectation per row; a normal host becomes a dense table. */
        bool touches = false;
        for (size_t m = 0; m < nm; m++)
            touches |= touches_child(g, H, mem[m]);
        if (touches && !cl->expect) {
            cai_potential *mp = NULL;
            if ((st = materialize(a, c, mem, nm, &mp, err)) != CAI_OK)
                goto done;
            hold(plan, mp);
            cl->p = mp;
        } else {
            cl->p = H->p;
            cl->support = factor_sr(H);
            hold(plan, cai_potential_ref(H->p));
            cl->abs = alloc_array(nm, sizeof(absorbed));
            if (cl->abs == NULL) {
                st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
                goto done;
            }
            for (size_t m = 0; m < nm; m++) {
                const factor *F = &g->factors[mem[m]];
                if (touches_child(g, H, mem[m]))
                    continue;
                absorbed *ab = &cl->abs[cl->n_abs++];
                ab->p = F->p;
                ab->sr = factor_sr(F);
                hold(plan, cai_potential_ref(F->p));
                ab->k = F->k;
                ab->pos = alloc_array(F->k, sizeof(size_t));
                if (ab->pos == NULL) {
                    st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
                    goto done;
                }
                for (size_t j = 0; j < F->k; j++)
                    ab->pos[j] = scope_pos(H, F->scope[j]);
            }
            if (touches) {
                if (prev_erow && same_child_terms(g, a->hosts[prev_c], members + mem_off[prev_c],
                                                  n_members[prev_c], f, mem, nm)) {
                    cl->erow = prev_erow;
                } else {
                    if ((st = expected_child_terms(g, plan, f, mem, nm, err)) != CAI_OK)
                        goto done;
                    cl->erow = plan->bufs[plan->n_bufs - 1];
                }
                prev_erow = cl->erow;
                prev_c = c;
            }
        }
        plan->max_rows = cl->p->n_rows > plan->max_rows ? cl->p->n_rows : plan->max_rows;
        plan->max_cols = cl->p->n_cols > plan->max_cols ? cl->p->n_cols : plan->max_cols;
        plan->max_k = cl->k > plan->max_k ? cl->k : plan->max_k;
        size_t inner = 1;
        for (size_t j = cl->up + 1; j + 1 < cl->k; j++)
            inner *= g->vars[cl->vars[j]].card;
        plan->max_inner = inner > plan->max_inner ? inner : plan->max_inner;
        size_t pc = 0;
        for (size_t j = 0; j + 1 < cl->k; j++)
            pc += g->vars[cl->vars[j]].card;
        plan->max_parent_cards = pc > plan->max_parent_cards ? pc : plan->max_parent_cards;
    }
    plan->msg_total = m_off;
    /* up clusters were host indices; make them positions in the order */
    for (size_t v = 0; v < plan->n_vars; v++)
        if (plan->vars[v].up_cluster != CAI_NONE)
            plan->vars[v].up_cluster = pos_in_order[plan->vars[v].up_cluster];
    /* where each original factor lives, for factor beliefs */
    for (size_t f = 0; f < nf; f++) {
        const factor *F = &g->factors[f];
        factor_home *h = &plan->homes[f];
        h->k = F->k;
        h->cluster = CAI_NONE;
        h->var = F->scope[0];
        if (a->role[f] == ROLE_LOCAL || a->role[f] == ROLE_PRIOR)
            continue;
        size_t hf = a->role[f] == ROLE_HOST ? f : a->host[f];
        h->cluster = pos_in_order[a->cl_of[hf]];
        h->pos = alloc_array(F->k, sizeof(size_t));
        if (h->pos == NULL) {
            st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
            goto done;
        }
        for (size_t j = 0; j < F->k; j++)
            h->pos[j] = scope_pos(&g->factors[hf], F->scope[j]);
    }
done:
    free(pos_in_order);
    free(n_members);
    free(mem_off);
    free(members);
    return st;
}

/* Do clusters c and d add the same constant row terms? */
static bool same_row_terms(const cluster *c, const cluster *d)
{
    if (c->p != d->p || c->n_abs != d->n_abs || c->erow != d->erow)
        return false;
    for (size_t i = 0; i < c->n_abs; i++) {
        const absorbed *x = &c->abs[i], *y = &d->abs[i];
        if (x->p != y->p || x->sr != y->sr || x->k != y->k)
            return false;
        for (size_t j = 0; j < x->k; j++)
            if (x->pos[j] != y->pos[j])
                return false;
    }
    return true;
}

/* The log values of the one factor absorbed into c when they ARE its row
 * terms (a table over c's parents in c's order, no support mode, no erow):
 * then the rows read the table itself and no copy is made. */
static const double *table_as_rows(const cluster *c)
{
    if (c->n_abs != 1 || c->erow != NULL || c->abs[0].sr != 0 || c->abs[0].k + 1 != c->k)
        return NULL;
    for (size_t j = 0; j < c->abs[0].k; j++)
        if (c->abs[0].pos[j] != j)
            return NULL;
    return potential_table_logv(c->abs[0].p);
}

/* Rows per piece of the row terms (each piece starts its own odometer). */
#define ROW_TERM_CHUNK ((size_t)4096)

/* x[r] = the constant log terms of row r of c (absorbed factors, erow) for
 * r0 <= r < r0 + n; idx holds k - 1 indices. */
static void row_terms(const cluster *c, size_t r0, size_t n, size_t *idx, double *x)
{
    size_t kp = c->k - 1;
    for (size_t j = kp, q = r0; j-- > 0;) { /* the parents' states at row r0 */
        idx[j] = q % c->p->cards[j];
        q /= c->p->cards[j];
    }
    for (size_t r = r0; r < r0 + n; r++) {
        double s = c->erow ? c->erow[r] : 0.0;
        for (size_t a = 0; a < c->n_abs; a++) {
            const absorbed *ab = &c->abs[a];
            size_t row = 0;
            for (size_t j = 0; j + 1 < ab->k; j++)
                row = row * ab->p->cards[j] + idx[ab->pos[j]];
            s += potential_log_value_sr(ab->p, row, idx[ab->pos[ab->k - 1]], ab->sr);
        }
        x[r] = s;
        for (size_t j = kp; j-- > 0;) { /* odometer over the parents */
            if (++idx[j] < c->p->cards[j])
                break;
            idx[j] = 0;
        }
    }
}

/* Each cluster's constant log row terms (absorbed factors, erow) as one
 * array, and its exponential for the scaled kernels (sum-product clusters
 * not in expectation mode only): computed once per run of alike clusters, so
 * the hot loop reads one array instead of evaluating every absorbed
 * potential per row. */
cai_status plan_build_row_terms(cai_plan *plan, cai_error *err)
{
    const cluster *prev = NULL;
    for (size_t i = 0; i < plan->n_clusters; i++) {
        cluster *c = &plan->clusters[i];
        if (c->n_abs == 0 && c->erow == NULL)
            continue;
        if (prev && same_row_terms(prev, c)) {
            c->xrow = prev->xrow;
            c->wrow = prev->wrow;
            c->xmax = prev->xmax;
            if (c->wrow != NULL || c->expect || plan->alg != CAI_SUM_PRODUCT)
                continue;
        }
        size_t R = c->p->n_rows, kp = c->k - 1;
        double mx = -INFINITY;
        double *x = NULL;
        if (c->xrow == NULL && (c->xrow = table_as_rows(c)) == NULL) {
            size_t n_chunks = (R + ROW_TERM_CHUNK - 1) / ROW_TERM_CHUNK, n_idx;
            size_t *idx = cai_size_mul(n_chunks, kp ? kp : 1, &n_idx)
                              ? alloc_array(n_idx, sizeof(size_t)) : NULL;
            x = big_alloc(R, sizeof(double));
            if (x == NULL || idx == NULL) {
                big_free(x);
                free(idx);
                return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
            }
            CAI_PARALLEL_FOR(R)
            for (size_t b = 0; b < n_chunks; b++) {
                size_t r0 = b * ROW_TERM_CHUNK;
                size_t n = R - r0 < ROW_TERM_CHUNK ? R - r0 : ROW_TERM_CHUNK;
                row_terms(c, r0, n, idx + b * kp, x);
            }
            free(idx);
            plan->bufs[plan->n_bufs++] = x;
            c->xrow = x;
        }
        const double *xr = c->xrow;
        CAI_PARALLEL_MAX(R, mx)
        for (size_t r = 0; r < R; r++)
            mx = xr[r] > mx ? xr[r] : mx;
        if (mx == -INFINITY || isnan(mx))
            mx = 0.0;
        c->xmax = mx;
        prev = c;
        if (c->expect || plan->alg != CAI_SUM_PRODUCT)
            continue; /* only the log-domain kernels read this cluster's rows */
        double *w = big_alloc_uninit(R, sizeof(double)); /* written whole below */
        if (w == NULL)
            return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        exp_shift_threads(w, xr, mx, R);
        plan->bufs[plan->n_bufs++] = w;
        c->wrow = w;
    }
    return CAI_OK;
}
