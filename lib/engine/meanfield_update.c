/* lib/engine/meanfield_update.c — structured mean field's block update:
 * q_b from an exact junction-tree solve of block b's subgraph with the
 * crossing factors replaced by their expected logs under the other blocks
 * (see meanfield_cluster.c); when that subgraph has no mass at all (log
 * Z_b = -inf), a point mass chosen by where the other blocks' q puts
 * mass. */
#include "meanfield_cluster_impl.h"

#include "cai/jtree.h"
#include "cai/logmath.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the block update ---- */

/* A junction tree of B's subgraph for alg, with the clamped variables as
 * evidence, run. */
static cai_status solve(const cai_meanfield *mf, const cl_block *B, cai_algorithm alg,
                        cai_jtree **out, cai_error *err)
{
    cai_jtree_options o = cai_jtree_options_default();
    o.algorithm = alg;
    cai_jtree *jt = NULL;
    cai_status st = cai_jtree_create(B->g, &o, &jt, err);
    for (size_t i = 0; i < B->n_vars && st == CAI_OK; i++)
        if (mf->evidence[B->vars[i]] != CAI_NONE)
            st = cai_jtree_set_evidence(jt, i, mf->evidence[B->vars[i]], err);
    if (st == CAI_OK)
        st = cai_jtree_run(jt, err);
    if (st != CAI_OK) {
        cai_jtree_free(jt);
        return st;
    }
    *out = jt;
    return CAI_OK;
}

/* Copy src[0..n-1] over dst, raising *change to the largest difference. */
static void take(double *dst, const double *src, size_t n, double *change)
{
    for (size_t s = 0; s < n; s++) {
        double d = fabs(src[s] - dst[s]);
        *change = d > *change ? d : *change;
        dst[s] = src[s];
    }
}

/* q_b from a run sum-product junction tree with log Z_b = lz > -inf: the
 * marginals, the joints of b's parts and H(q_b). */
static cai_status take_posterior(cai_meanfield *mf, size_t b, const cai_jtree *jt, double lz,
                                 double *change, cai_error *err)
{
    mf_cluster *cl = mf->cl;
    cl_block *B = &cl->blocks[b];
    cai_status st = CAI_OK;
    for (size_t i = 0; i < B->n_vars && st == CAI_OK; i++) {
        size_t v = B->vars[i];
        if ((st = cai_jtree_marginal(jt, i, cl->buf, err)) != CAI_OK)
            break;
        if (mf->evidence[v] != CAI_NONE) /* exactly the point mass */
            for (size_t s = 0; s < mf->card[v]; s++)
                cl->buf[s] = s == mf->evidence[v];
        take(mf->q + mf->off[v], cl->buf, mf->card[v], change);
    }
    for (size_t i = 0; i < B->n_inside + B->n_cross && st == CAI_OK; i++) {
        cl_part *P = &cl->parts[i < B->n_inside ? cl->part_off[B->inside[i]]
                                                : B->cross[i - B->n_inside]];
        if (P->n >= 2 && (st = cai_jtree_factor_belief(jt, P->sub, cl->buf, err)) == CAI_OK)
            take(P->joint, cl->buf, P->size, change);
    }
    if (st != CAI_OK)
        return st;
    /* E_{q_b} of the subgraph's log factors */
    double e = 0.0, x;
    for (size_t i = 0; i < B->n_inside; i++) {
        mfc_expect(mf, cl, B->inside[i], CAI_NONE, &x, NULL);
        e += x;
    }
    for (size_t j = 0; j < B->n_cross; j++) {
        const cl_part *P = &cl->parts[B->cross[j]];
        const double *t = potential_table_logv(B->g->factors[B->n_inside + j].p);
        for (size_t s = 0; s < P->size; s++) {
            double w = mfc_part_weight(mf, P, s);
            if (w > 0.0)
                e += w * t[s];
        }
    }
    B->h = lz - e;
    return CAI_OK;
}

/* The lowest joint state of B (its variables in index order, the last
 * fastest) whose max-product score is within 1e-12 * max(1, |best|) of the
 * best, into cl->assign: fix the variables one at a time to the lowest state
 * that keeps the best completion above that floor (one run per state
 * tried), so that near-ties go to the lowest state as in the factorised
 * rule, whatever the junction tree's own decoding would pick. jt is a run
 * max-product tree of B with the evidence set. */
static cai_status lowest_maximiser(const cai_meanfield *mf, const cl_block *B, cai_jtree *jt,
                                   cai_error *err)
{
    mf_cluster *cl = mf->cl;
    double best = cai_jtree_log_z(jt);
    double floor = best - 1e-12 * (fabs(best) > 1.0 ? fabs(best) : 1.0);
    cai_status st = CAI_OK;
    for (size_t i = 0; i < B->n_vars && st == CAI_OK; i++) {
        size_t v = B->vars[i], pick = mf->evidence[v], top_s = 0;
        double top = -INFINITY;
        for (size_t s = 0; pick == CAI_NONE && s < mf->card[v]; s++) {
            if ((st = cai_jtree_set_evidence(jt, i, s, err)) != CAI_OK
                || (st = cai_jtree_run(jt, err)) != CAI_OK)
                return st;
            double score = cai_jtree_log_z(jt);
            if (score >= floor)
                pick = s;
            if (score > top) {
                top = score;
                top_s = s;
            }
        }
        cl->assign[i] = pick != CAI_NONE ? pick : top_s; /* top_s: rounding only */
        st = cai_jtree_set_evidence(jt, i, cl->assign[i], err);
    }
    return st;
}

/* log Z_b = -inf: the ELBO is -inf whatever q_b is. q_b becomes the point
 * mass on the lowest maximiser of sum_f (mass_f - 1) over the factors
 * touching b: crossing factors with the other blocks' q-mass on their
 * nonzero entries, inside factors as 0 on their support and -1 off it. The
 * inside factors get pattern tables (normal mode) for the run and their
 * own potentials back afterwards. */
static cai_status fallback(cai_meanfield *mf, size_t b, double *change, cai_error *err)
{
    mf_cluster *cl = mf->cl;
    cl_block *B = &cl->blocks[b];
    cai_status st = CAI_OK;
    for (size_t j = 0; j < B->n_cross && st == CAI_OK; j++) {
        const cl_part *P = &cl->parts[B->cross[j]];
        mfc_expect(mf, cl, P->f, B->cross[j], cl->tab, cl->mass);
        for (size_t s = 0; s < P->size; s++)
            cl->tab[s] = cl->mass[s] - 1.0;
        mfc_part_cards(mf, cl, P);
        st = mfc_set_table(B, B->n_inside + j, P->n, cl->cards, cl->tab, err);
    }
    size_t swapped = 0;
    for (; swapped < B->n_inside && st == CAI_OK; swapped++) {
        const cai_potential *p = mf->factors[B->inside[swapped]].p;
        size_t size = p->n_rows * p->n_cols; /* an inside part: at most max_tab */
        size_t *x = cl->digit;
        for (size_t m = 0; m < p->k; m++)
            x[m] = 0;
        for (size_t s = 0; s < size; s++) {
            cl->tab[s] = cai_potential_log_value(p, x) > -INFINITY ? 0.0 : -1.0;
            for (size_t m = p->k; m-- > 0;) {
                if (++x[m] < p->cards[m])
                    break;
                x[m] = 0;
            }
        }
        if ((st = mfc_set_table(B, swapped, p->k, p->cards, cl->tab, err)) != CAI_OK)
            break;
        B->g->factors[swapped].mode = CAI_MODE_NORMAL;
    }
    cai_jtree *jt = NULL;
    if (st == CAI_OK && (st = solve(mf, B, CAI_MAX_PRODUCT, &jt, err)) == CAI_OK)
        st = lowest_maximiser(mf, B, jt, err);
    cai_jtree_free(jt);
    for (size_t i = 0; i < swapped; i++) { /* the inside factors back */
        const mf_factor *F = &mf->factors[B->inside[i]];
        factor *G = &B->g->factors[i];
        cai_potential_unref(G->p);
        G->p = cai_potential_ref(F->p);
        G->mode = F->support ? CAI_MODE_SUPPORT : CAI_MODE_NORMAL;
    }
    if (st != CAI_OK)
        return st;
    for (size_t i = 0; i < B->n_vars; i++) {
        size_t v = B->vars[i];
        for (size_t s = 0; s < mf->card[v]; s++)
            cl->buf[s] = s == cl->assign[i];
        take(mf->q + mf->off[v], cl->buf, mf->card[v], change);
    }
    for (size_t i = 0; i < B->n_inside + B->n_cross; i++) {
        cl_part *P = &cl->parts[i < B->n_inside ? cl->part_off[B->inside[i]]
                                                : B->cross[i - B->n_inside]];
        if (P->n < 2)
            continue;
        const mf_factor *F = &mf->factors[P->f];
        size_t at = 0;
        for (size_t t = 0; t < P->n; t++) {
            size_t v = F->scope[P->pos[t]];
            at = at * mf->card[v] + cl->assign[cl->loc[v]];
        }
        for (size_t s = 0; s < P->size; s++)
            cl->buf[s] = s == at;
        take(P->joint, cl->buf, P->size, change);
    }
    B->h = 0.0;
    return CAI_OK;
}

cai_status mf_cluster_update(cai_meanfield *mf, size_t b, double *change, cai_error *err)
{
    mf_cluster *cl = mf->cl;
    cl_block *B = &cl->blocks[b];
    cai_status st = CAI_OK;
    *change = 0.0;
    for (size_t j = 0; j < B->n_cross && st == CAI_OK; j++) {
        const cl_part *P = &cl->parts[B->cross[j]];
        mfc_expect(mf, cl, P->f, B->cross[j], cl->tab, NULL);
        mfc_part_cards(mf, cl, P);
        st = mfc_set_table(B, B->n_inside + j, P->n, cl->cards, cl->tab, err);
    }
    cai_jtree *jt = NULL;
    if (st == CAI_OK)
        st = solve(mf, B, CAI_SUM_PRODUCT, &jt, err);
    if (st != CAI_OK)
        return st;
    double lz = cai_jtree_log_z(jt);
    if (lz > -INFINITY)
        st = take_posterior(mf, b, jt, lz, change, err);
    cai_jtree_free(jt);
    if (st == CAI_OK && !(lz > -INFINITY))
        st = fallback(mf, b, change, err);
    return st;
}
