/* lib/engine/meanfield_cluster.c — structured (cluster) mean field: q is a
 * product of block distributions q_b, each updated exactly by a junction
 * tree of the block's subgraph (see cai/meanfield.h).
 *
 * Every factor's scope is split into parts, one per block it touches. A
 * factor with one part lies inside its block and enters the block's
 * subgraph as itself (the same potential, shared); a factor with several
 * parts crosses them and enters each of their subgraphs as a table over its
 * part holding the expected log under the other blocks' q. So the subgraph
 * factor over a part always exists, and a part of two or more variables
 * keeps q_b's joint over them (read from that factor's belief): the other
 * blocks' expectations need nothing else. */
#include "meanfield_cluster_impl.h"

#include "cai/jtree.h"
#include "cai/logmath.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cai_status nomem(cai_error *err)
{
    return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
}

void mf_cluster_free(mf_cluster *cl)
{
    if (cl == NULL)
        return;
    if (cl->blocks)
        for (size_t b = 0; b < cl->n_blocks; b++)
            cai_graph_free(cl->blocks[b].g);
    free(cl->blocks); free(cl->bvars); free(cl->binside); free(cl->bcross);
    free(cl->loc); free(cl->part_off); free(cl->parts); free(cl->pos);
    free(cl->ppart); free(cl->pstride); free(cl->joints);
    free(cl->tab); free(cl->mass); free(cl->buf); free(cl->row);
    free(cl->digit); free(cl->pidx); free(cl->cards); free(cl->assign);
    free(cl);
}

size_t mf_cluster_n_blocks(const mf_cluster *cl) { return cl->n_blocks; }

/* ---- structure ---- */

/* Split every factor's scope into parts (by increasing block) and size the
 * joints. */
static cai_status make_parts(cai_meanfield *mf, mf_cluster *cl, cai_error *err)
{
    size_t nf = mf->n_factors, pool = 0, np = 0;
    for (size_t f = 0; f < nf; f++)
        pool += mf->factors[f].k; /* fits: copy_graph summed it */
    cl->part_off = mf_alloc(nf + 1, sizeof(size_t));
    cl->pos = mf_alloc(pool, sizeof(size_t));
    cl->ppart = mf_alloc(pool, sizeof(size_t));
    cl->pstride = mf_alloc(pool, sizeof(size_t));
    cl->parts = mf_alloc(pool, sizeof(cl_part)); /* at most one per position */
    if (!cl->part_off || !cl->pos || !cl->ppart || !cl->pstride || !cl->parts)
        return nomem(err);
    size_t at = 0;
    for (size_t f = 0; f < nf; f++) {
        const mf_factor *F = &mf->factors[f];
        size_t base = (size_t)(F->scope - mf->scopes), first = np;
        cl->part_off[f] = np;
        /* the blocks of the scope in increasing order, each once */
        size_t last = CAI_NONE;
        for (;;) {
            size_t next = CAI_NONE;
            for (size_t i = 0; i < F->k; i++) {
                size_t b = mf->block[F->scope[i]];
                if ((last == CAI_NONE || b > last) && (next == CAI_NONE || b < next))
                    next = b;
            }
            if (next == CAI_NONE)
                break;
            cl_part *P = &cl->parts[np];
            *P = (cl_part){.f = f, .block = next, .pos = cl->pos + at, .size = 1,
                           .sub = CAI_NONE};
            for (size_t i = 0; i < F->k; i++)
                if (mf->block[F->scope[i]] == next) {
                    P->pos[P->n++] = i;
                    cl->ppart[base + i] = np - first;
                    P->var = F->scope[i];
                }
            at += P->n;
            for (size_t t = P->n; t-- > 0;) {
                cl->pstride[base + P->pos[t]] = P->size;
                if (!cai_size_mul(P->size, mf->card[F->scope[P->pos[t]]], &P->size))
                    return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0,
                                         "factor %zu: the joint of its variables in "
                                         "block %zu is too large",
                                         f, next);
            }
            if (P->n >= 2 && !cai_size_add(cl->n_joint, P->size, &cl->n_joint))
                return cai_error_set(err, CAI_ERR_OVERFLOW, NULL, 0, 0,
                                     "too many joint states");
            if (P->size > cl->max_tab)
                cl->max_tab = P->size;
            np++;
            last = next;
        }
    }
    cl->part_off[nf] = np;
    cl->n_parts = np;
    cl->joints = mf_alloc(cl->n_joint, sizeof(double));
    if (cl->joints == NULL)
        return nomem(err);
    for (size_t p = 0, j = 0; p < np; p++)
        if (cl->parts[p].n >= 2) {
            cl->parts[p].joint = cl->joints + j;
            j += cl->parts[p].size;
        }
    return CAI_OK;
}

/* Each block's variables, inside factors and crossing parts. */
static cai_status make_blocks(cai_meanfield *mf, mf_cluster *cl, cai_error *err)
{
    size_t nb = cl->n_blocks, nv = mf->n_vars, nf = mf->n_factors;
    cl->blocks = mf_alloc(nb, sizeof(cl_block));
    cl->bvars = mf_alloc(nv, sizeof(size_t));
    cl->binside = mf_alloc(nf, sizeof(size_t));
    cl->bcross = mf_alloc(cl->n_parts, sizeof(size_t));
    cl->loc = mf_alloc(nv, sizeof(size_t));
    if (!cl->blocks || !cl->bvars || !cl->binside || !cl->bcross || !cl->loc)
        return nomem(err);
    for (size_t v = 0; v < nv; v++)
        cl->blocks[mf->block[v]].n_vars++;
    for (size_t f = 0; f < nf; f++) {
        size_t p0 = cl->part_off[f], p1 = cl->part_off[f + 1];
        for (size_t p = p0; p < p1; p++) {
            cl_block *B = &cl->blocks[cl->parts[p].block];
            if (p1 - p0 == 1)
                B->n_inside++;
            else
                B->n_cross++;
        }
    }
    size_t av = 0, ai = 0, ac = 0;
    for (size_t b = 0; b < nb; b++) {
        cl_block *B = &cl->blocks[b];
        B->vars = cl->bvars + av;
        B->inside = cl->binside + ai;
        B->cross = cl->bcross + ac;
        av += B->n_vars;
        ai += B->n_inside;
        ac += B->n_cross;
        if (B->n_vars > cl->max_block)
            cl->max_block = B->n_vars;
        B->n_vars = B->n_inside = B->n_cross = 0; /* refilled below */
    }
    for (size_t v = 0; v < nv; v++) {
        cl_block *B = &cl->blocks[mf->block[v]];
        cl->loc[v] = B->n_vars;
        B->vars[B->n_vars++] = v;
    }
    for (size_t f = 0; f < nf; f++) {
        size_t p0 = cl->part_off[f], p1 = cl->part_off[f + 1];
        for (size_t p = p0; p < p1; p++) {
            cl_block *B = &cl->blocks[cl->parts[p].block];
            if (p1 - p0 == 1)
                B->inside[B->n_inside++] = f;
            else
                B->cross[B->n_cross++] = p;
        }
    }
    for (size_t b = 0; b < nb; b++) {
        cl_block *B = &cl->blocks[b];
        for (size_t i = 0; i < B->n_inside; i++)
            cl->parts[cl->part_off[B->inside[i]]].sub = i;
        for (size_t j = 0; j < B->n_cross; j++)
            cl->parts[B->cross[j]].sub = B->n_inside + j;
    }
    return CAI_OK;
}

void mfc_part_cards(const cai_meanfield *mf, mf_cluster *cl, const cl_part *P)
{
    const mf_factor *F = &mf->factors[P->f];
    for (size_t t = 0; t < P->n; t++)
        cl->cards[t] = mf->card[F->scope[P->pos[t]]];
}

cai_status mfc_set_table(cl_block *B, size_t i, size_t k, const size_t *cards,
                         const double *logv, cai_error *err)
{
    cai_potential *p = NULL;
    cai_status st = cai_potential_table_create(k, cards, logv, &p, err);
    if (st != CAI_OK)
        return st;
    factor *F = &B->g->factors[i];
    cai_potential_unref(F->p);
    F->p = p;
    return CAI_OK;
}

/* Prefix err's message with the block, keeping its code. */
static cai_status block_error(cai_error *err, cai_status st, size_t b)
{
    if (err == NULL)
        return st;
    char msg[CAI_ERROR_MESSAGE_MAX];
    memcpy(msg, err->message, sizeof msg);
    return cai_error_set(err, st, NULL, 0, 0, "mean-field block %zu: %s", b, msg);
}

/* Block b's subgraph: its variables (named as in g), the inside factors
 * (shared potentials; expectation mode counts as normal) and a zero table
 * per crossing part; then a trial junction tree, for its errors and size. */
static cai_status make_subgraph(cai_meanfield *mf, mf_cluster *cl, const cai_graph *g,
                                size_t b, cai_error *err)
{
    cl_block *B = &cl->blocks[b];
    cai_status st = cai_graph_create(&B->g, err);
    for (size_t i = 0; i < B->n_vars && st == CAI_OK; i++) {
        size_t v = B->vars[i];
        st = cai_graph_add_variable(B->g, cai_graph_variable_name(g, v), mf->card[v], NULL,
                                    NULL, err);
    }
    for (size_t i = 0; i < B->n_inside && st == CAI_OK; i++) {
        const mf_factor *F = &mf->factors[B->inside[i]];
        for (size_t t = 0; t < F->k; t++)
            cl->digit[t] = cl->loc[F->scope[t]];
        st = cai_graph_add_factor(B->g, F->p, cl->digit, F->k,
                                  F->support ? CAI_MODE_SUPPORT : CAI_MODE_NORMAL, NULL, err);
    }
    for (size_t t = 0; t < cl->max_tab; t++)
        cl->tab[t] = 0.0;
    for (size_t j = 0; j < B->n_cross && st == CAI_OK; j++) {
        const cl_part *P = &cl->parts[B->cross[j]];
        const mf_factor *F = &mf->factors[P->f];
        cai_potential *p = NULL;
        mfc_part_cards(mf, cl, P);
        for (size_t t = 0; t < P->n; t++)
            cl->digit[t] = cl->loc[F->scope[P->pos[t]]];
        st = cai_potential_table_create(P->n, cl->cards, cl->tab, &p, err);
        if (st == CAI_OK)
            st = cai_graph_add_factor(B->g, p, cl->digit, P->n, CAI_MODE_NORMAL, NULL, err);
        cai_potential_unref(p);
    }
    cai_jtree *jt = NULL;
    if (st == CAI_OK)
        st = cai_jtree_create(B->g, NULL, &jt, err);
    if (st == CAI_OK) {
        size_t bytes = cai_jtree_message_bytes(jt);
        if (bytes > cl->jt_bytes)
            cl->jt_bytes = bytes;
    }
    cai_jtree_free(jt);
    return st == CAI_OK || st == CAI_ERR_NOMEM ? st : block_error(err, st, b);
}

cai_status mf_cluster_create(cai_meanfield *mf, const cai_graph *g, size_t n_blocks,
                             cai_error *err)
{
    mf_cluster *cl = calloc(1, sizeof *cl);
    if (cl == NULL)
        return nomem(err);
    mf->cl = cl; /* freed with mf on failure */
    cl->n_blocks = n_blocks;
    cai_status st = make_parts(mf, cl, err);
    if (st == CAI_OK)
        st = make_blocks(mf, cl, err);
    if (st != CAI_OK)
        return st;
    if (cl->max_tab < mf->max_card)
        cl->max_tab = mf->max_card;
    cl->max_card = mf->max_card;
    cl->max_k = mf->max_k;
    cl->tab = mf_alloc(cl->max_tab, sizeof(double));
    cl->mass = mf_alloc(cl->max_tab, sizeof(double));
    cl->buf = mf_alloc(cl->max_tab, sizeof(double));
    cl->row = mf_alloc(mf->max_card, sizeof(double));
    cl->digit = mf_alloc(mf->max_k, sizeof(size_t));
    cl->pidx = mf_alloc(mf->max_k, sizeof(size_t));
    cl->cards = mf_alloc(mf->max_k, sizeof(size_t));
    cl->assign = mf_alloc(cl->max_block, sizeof(size_t));
    if (!cl->tab || !cl->mass || !cl->buf || !cl->row || !cl->digit || !cl->pidx || !cl->cards
        || !cl->assign)
        return nomem(err);
    for (size_t b = 0; b < n_blocks && st == CAI_OK; b++)
        st = make_subgraph(mf, cl, g, b, err);
    return st;
}

size_t mf_cluster_bytes(const mf_cluster *cl)
{
    size_t n = cl->n_joint * sizeof(double)                 /* joints */
               + cl->n_blocks * sizeof(double)               /* entropies */
               + 3 * cl->max_tab * sizeof(double)            /* tab, mass, buf */
               + cl->max_card * sizeof(double)               /* row */
               + 3 * cl->max_k * sizeof(size_t)              /* digit, pidx, cards */
               + cl->max_block * sizeof(size_t)              /* assign */
               + cl->jt_bytes;                               /* one junction tree */
    for (size_t b = 0; b < cl->n_blocks; b++) {
        const cl_block *B = &cl->blocks[b];
        for (size_t j = 0; j < B->n_cross; j++)
            n += cai_potential_bytes(cai_graph_factor_potential(B->g, B->n_inside + j));
    }
    return n;
}

/* ---- expectations ---- */

void mfc_expect(const cai_meanfield *mf, mf_cluster *cl, size_t f, size_t skip,
                double *out, double *mass)
{
    const mf_factor *F = &mf->factors[f];
    const cai_potential *p = F->p;
    size_t k = F->k, nc = p->n_cols, base = (size_t)(F->scope - mf->scopes);
    size_t p0 = cl->part_off[f], np = cl->part_off[f + 1] - p0;
    size_t ns = skip == CAI_NONE ? 1 : cl->parts[skip].size;
    size_t sk = skip == CAI_NONE ? CAI_NONE : skip - p0;
    for (size_t s = 0; s < ns; s++) {
        out[s] = 0.0;
        if (mass)
            mass[s] = 0.0;
    }
    const double *logv = potential_table_logv(p);
    const size_t *rp = NULL;
    const uint32_t *col = NULL;
    const double *prob = NULL;
    if (logv == NULL)
        (void)cai_potential_csr_arrays(p, &rp, &col, &prob);
    size_t *x = cl->digit, *pidx = cl->pidx;
    const size_t *ppart = cl->ppart + base, *pstride = cl->pstride + base;
    for (size_t m = 0; m < k; m++)
        x[m] = 0;
    for (size_t r = 0; r < p->n_rows; r++) {
        const double *lrow = logv ? logv + r * nc : cl->row;
        if (logv == NULL) {
            for (size_t c = 0; c < nc; c++)
                cl->row[c] = -INFINITY;
            for (size_t e = rp[r]; e < rp[r + 1]; e++)
                cl->row[col[e]] = log(prob[e]);
        }
        for (size_t c = 0; c < nc; c++) {
            x[k - 1] = c;
            for (size_t i = 0; i < np; i++)
                pidx[i] = 0;
            for (size_t m = 0; m < k; m++)
                pidx[ppart[m]] += x[m] * pstride[m];
            double w = 1.0;
            bool pos = true;
            for (size_t i = 0; i < np && pos; i++) {
                if (i == sk)
                    continue;
                double wi = mfc_part_weight(mf, &cl->parts[p0 + i], pidx[i]);
                pos = wi > 0.0;
                w *= wi;
            }
            if (!pos)
                continue;
            size_t j = sk == CAI_NONE ? 0 : pidx[sk];
            double lv = lrow[c];
            if (lv == -INFINITY) {
                out[j] = -INFINITY;
                continue;
            }
            out[j] += w * (F->support ? 0.0 : lv);
            if (mass)
                mass[j] += w;
        }
        for (size_t m = k - 1; m-- > 0;) { /* next row: last parent fastest */
            if (++x[m] < p->cards[m])
                break;
            x[m] = 0;
        }
    }
}

void mf_cluster_start(cai_meanfield *mf)
{
    mf_cluster *cl = mf->cl;
    for (size_t p = 0; p < cl->n_parts; p++) {
        const cl_part *P = &cl->parts[p];
        if (P->n < 2)
            continue;
        const mf_factor *F = &mf->factors[P->f];
        for (size_t s = 0; s < P->size; s++) {
            double w = 1.0;
            size_t rest = s;
            for (size_t t = P->n; t-- > 0;) {
                size_t v = F->scope[P->pos[t]];
                w *= mf->q[mf->off[v] + rest % mf->card[v]];
                rest /= mf->card[v];
            }
            P->joint[s] = w;
        }
    }
    for (size_t b = 0; b < cl->n_blocks; b++) {
        cl_block *B = &cl->blocks[b];
        B->h = 0.0;
        for (size_t i = 0; i < B->n_vars; i++) {
            size_t v = B->vars[i];
            const double *q = mf->q + mf->off[v];
            for (size_t s = 0; s < mf->card[v]; s++)
                if (q[s] > 0.0)
                    B->h -= q[s] * log(q[s]);
        }
    }
}

double mf_cluster_elbo(cai_meanfield *mf)
{
    mf_cluster *cl = mf->cl;
    double e = 0.0, x;
    for (size_t f = 0; f < mf->n_factors; f++) {
        mfc_expect(mf, cl, f, CAI_NONE, &x, NULL);
        e += x;
    }
    for (size_t b = 0; b < cl->n_blocks; b++)
        e += cl->blocks[b].h;
    return e;
}
