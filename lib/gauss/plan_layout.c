/* lib/gauss/plan_layout.c — inside each cluster of a rooted Gaussian plan:
 * which conditionals are substitutions (child = A pa + c + L w), which are
 * densities, in what order the substitutions run, where each variable and
 * each w sits among the cluster's base coordinates, and the sizes of the
 * workspace arrays. */
#include "gauss_impl.h"

#include <stdlib.h>
#include <string.h>

static const size_t *fslots(const cai_gauss_plan *p, size_t f)
{
    return p->fslot + p->fslot0[f];
}

/* Does a parent of f depend, through the substitutions made so far, on
 * slot cs? (Substituting cs by f would then close a cycle.) */
static bool reaches(const cai_gauss_plan *p, const gcluster *C, size_t f, size_t cs,
                    size_t *stack, unsigned char *seen)
{
    size_t top = 0;
    memset(seen + C->slot0, 0, C->nslot);
    for (size_t j = 0; j + 1 < p->fk[f]; j++) {
        size_t s = fslots(p, f)[j];
        if (!seen[s]) {
            seen[s] = 1;
            stack[top++] = s;
        }
    }
    while (top) {
        size_t s = stack[--top];
        if (s == cs)
            return true;
        if (p->slot_stat[s] == GS_SUBST) {
            size_t g = p->slot_by[s];
            for (size_t j = 0; j + 1 < p->fk[g]; j++) {
                size_t t = fslots(p, g)[j];
                if (!seen[t]) {
                    seen[t] = 1;
                    stack[top++] = t;
                }
            }
        }
    }
    return false;
}

static cai_status refuse(const cai_gauss_plan *p, size_t f, size_t cs, cai_error *err)
{
    size_t v = p->slot_var[cs];
    const char *why = p->slot_stat[cs] == GS_UP || (p->cl[p->fcluster[f]].up == v)
                          ? "is the variable toward the root"
                      : p->slot_stat[cs] == GS_CLAMP ? "is clamped"
                      : p->slot_stat[cs] == GS_SUBST ? "is already the child of another "
                                                       "conditional in its cluster"
                                                     : "is an ancestor of its parents";
    if (p->mode[f] == CAI_MODE_EXPECTATION)
        return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                             "factor %zu is in expectation mode but its child '%s' %s",
                             f, gp_name(p, v), why);
    return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                         "factor %zu: Sigma is singular and its child '%s' %s, so its "
                         "message would be degenerate",
                         f, gp_name(p, v), why);
}

/* Roles, substitution order and coordinates of cluster c, whose factors are
 * fac[0..nfac-1] (index order); writes them to p->cl_fac from *at. */
static cai_status layout_cluster(cai_gauss_plan *p, size_t c, const size_t *fac,
                                 size_t nfac, size_t *at, size_t *stack,
                                 unsigned char *done, unsigned char *dep,
                                 cai_error *err)
{
    gcluster *C = &p->cl[c];
    size_t s0 = C->slot0, ns = C->nslot;
    /* roles: expectation-mode conditionals first, as they must substitute */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < nfac; i++) {
            size_t f = fac[i];
            const cai_gauss_potential *q = p->pot[f];
            if (q->kind != CAI_GAUSS_LINEAR) {
                p->role[f] = GR_QUAD;
                continue;
            }
            if ((p->mode[f] == CAI_MODE_EXPECTATION) != (pass == 0))
                continue;
            size_t cs = fslots(p, f)[p->fk[f] - 1];
            if (p->slot_stat[cs] == GS_FREE && !reaches(p, C, f, cs, stack, dep)) {
                p->slot_stat[cs] = GS_SUBST;
                p->slot_by[cs] = f;
                p->role[f] = pass == 0 ? GR_EXPECT : GR_SUBST;
            } else if (pass == 0 || !q->has_density) {
                return refuse(p, f, cs, err);
            } else {
                p->role[f] = GR_DENSITY;
            }
        }
    /* substitutions in topological order (parents' maps first) */
    size_t nsub = 0, placed = 0, start = *at;
    for (size_t i = 0; i < nfac; i++)
        if (p->role[fac[i]] == GR_SUBST || p->role[fac[i]] == GR_EXPECT) {
            nsub++;
            done[fac[i]] = 0;
        }
    while (placed < nsub)
        for (size_t i = 0; i < nfac; i++) {
            size_t f = fac[i];
            if ((p->role[f] != GR_SUBST && p->role[f] != GR_EXPECT) || done[f])
                continue;
            bool ready = true;
            for (size_t j = 0; j + 1 < p->fk[f] && ready; j++) {
                size_t s = fslots(p, f)[j];
                ready = p->slot_stat[s] != GS_SUBST || done[p->slot_by[s]];
            }
            if (ready) {
                done[f] = 1;
                p->cl_fac[(*at)++] = f;
                placed++;
            }
        }
    for (size_t i = 0; i < nfac; i++)
        if (p->role[fac[i]] == GR_QUAD || p->role[fac[i]] == GR_DENSITY)
            p->cl_fac[(*at)++] = fac[i];
    C->fac0 = start;
    C->nfac = nfac;
    /* an integrated w may not depend on an averaged one: the expectation
     * would have to be taken inside that integral */
    for (size_t s = 0; s < ns; s++)
        dep[s0 + s] = 0;
    for (size_t i = 0; i < nsub; i++) {
        size_t f = p->cl_fac[start + i];
        unsigned char d = p->role[f] == GR_EXPECT;
        for (size_t j = 0; j + 1 < p->fk[f]; j++) {
            size_t s = fslots(p, f)[j];
            if (dep[s] && p->role[f] == GR_SUBST)
                return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                                     "factor %zu: its parent '%s' follows an "
                                     "expectation-mode factor in the same cluster",
                                     f, gp_name(p, p->slot_var[s]));
            d |= dep[s];
        }
        dep[fslots(p, f)[p->fk[f] - 1]] = d;
    }
    /* coordinates [U | E: w of substitutions, free variables | X] */
    size_t off = 0;
    C->nu = 0;
    if (C->up != CAI_NONE && !p->clamped[C->up]) {
        p->slot_off[s0] = 0;
        off = C->nu = p->dim[C->up];
    }
    for (size_t i = 0; i < nsub; i++) {
        size_t f = p->cl_fac[start + i];
        if (p->role[f] == GR_SUBST) {
            p->woff[f] = off;
            off += p->pot[f]->rank;
        }
    }
    for (size_t s = s0; s < s0 + ns; s++)
        if (p->slot_stat[s] == GS_FREE) {
            p->slot_off[s] = off;
            off += p->dim[p->slot_var[s]];
        }
    C->ne = off - C->nu;
    for (size_t i = 0; i < nsub; i++) {
        size_t f = p->cl_fac[start + i];
        if (p->role[f] == GR_EXPECT) {
            p->woff[f] = off;
            off += p->pot[f]->rank;
        }
    }
    C->nx = off - C->nu - C->ne;
    C->nb = off;
    C->rows = 0;
    for (size_t s = s0; s < s0 + ns; s++) {
        p->slot_row[s] = C->rows;
        C->rows += p->dim[p->slot_var[s]];
    }
    return CAI_OK;
}

#define MAX(a, b) ((a) > (b) ? (a) : (b))

static void sizes(cai_gauss_plan *p)
{
    p->msg_total = p->marg_total = 0;
    p->max_dim = p->max_D = 0;
    for (size_t v = 0; v < p->nv; v++) {
        size_t n = p->dim[v];
        p->msg_off[v] = p->msg_total;
        p->msg_total += n * n + n + 1;
        p->marg_off[v] = p->marg_total;
        p->marg_total += n + n * n;
        p->max_dim = MAX(p->max_dim, n);
    }
    p->max_D = p->max_dim;
    for (size_t f = 0; f < p->nf; f++)
        p->max_D = MAX(p->max_D, p->pot[f]->D);
    p->max_nb = p->max_rows = p->max_ne = p->max_nu = 0;
    for (size_t c = 0; c < p->ncl; c++) {
        p->max_nb = MAX(p->max_nb, p->cl[c].nb);
        p->max_rows = MAX(p->max_rows, p->cl[c].rows);
        p->max_ne = MAX(p->max_ne, p->cl[c].ne);
        p->max_nu = MAX(p->max_nu, p->cl[c].nu);
    }
}

cai_status gp_layout(cai_gauss_plan *p, cai_error *err)
{
    size_t nv = p->nv, nf = p->nf, ncl = p->ncl, nslot = 0, nscope = 0, nloc = 0;
    for (size_t c = 0; c < ncl; c++)
        nslot += p->cl[c].label == CAI_NONE ? 1 : p->fk[p->cl[c].label];
    for (size_t f = 0; f < nf; f++) {
        nscope += p->fk[f];
        nloc += p->fcluster[f] == CAI_NONE;
    }
    p->loc0 = calloc(nv + 1, sizeof(size_t));
    p->nloc = calloc(nv + 1, sizeof(size_t));
    p->loc_fac = malloc((nloc + 1) * sizeof(size_t));
    p->slot_var = malloc((nslot + 1) * sizeof(size_t));
    p->slot_off = malloc((nslot + 1) * sizeof(size_t));
    p->slot_row = malloc((nslot + 1) * sizeof(size_t));
    p->slot_by = malloc((nslot + 1) * sizeof(size_t));
    p->slot_stat = malloc(nslot + 1);
    p->cl_fac = malloc((nf + 1) * sizeof(size_t));
    p->role = calloc(nf + 1, 1);
    p->fslot0 = malloc((nf + 1) * sizeof(size_t));
    p->fslot = malloc((nscope + 1) * sizeof(size_t));
    p->woff = calloc(nf + 1, sizeof(size_t));
    p->msg_off = malloc((nv + 1) * sizeof(size_t));
    p->marg_off = malloc((nv + 1) * sizeof(size_t));
    size_t *slot_of = malloc((nv + 1) * sizeof(size_t));
    size_t *cf0 = calloc(ncl + 2, sizeof(size_t));
    size_t *cfac = malloc((nf + 1) * sizeof(size_t));
    size_t *stack = malloc((nscope + nslot + 1) * sizeof(size_t));
    unsigned char *done = malloc(nf + 1), *dep = malloc(nslot + 1);
    cai_status st = CAI_OK;
    if (!p->loc0 || !p->nloc || !p->loc_fac || !p->slot_var || !p->slot_off ||
        !p->slot_row || !p->slot_by || !p->slot_stat || !p->cl_fac || !p->role ||
        !p->fslot0 || !p->fslot || !p->woff || !p->msg_off || !p->marg_off ||
        !slot_of || !cf0 || !cfac || !stack || !done || !dep) {
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        goto done;
    }
    /* local terms: one-variable quadratics */
    for (size_t f = 0; f < nf; f++)
        if (p->fcluster[f] == CAI_NONE)
            p->nloc[p->fvar[p->fvar0[f]]]++;
    for (size_t v = 0, a = 0; v < nv; v++) {
        p->loc0[v] = a;
        a += p->nloc[v];
        p->nloc[v] = 0;
    }
    for (size_t f = 0; f < nf; f++)
        if (p->fcluster[f] == CAI_NONE) {
            size_t v = p->fvar[p->fvar0[f]];
            p->loc_fac[p->loc0[v] + p->nloc[v]++] = f;
            p->role[f] = GR_LOCAL;
        }
    /* each cluster's factors, in index order */
    for (size_t f = 0; f < nf; f++)
        if (p->fcluster[f] != CAI_NONE)
            cf0[p->fcluster[f] + 1]++;
    for (size_t c = 0; c < ncl; c++)
        cf0[c + 1] += cf0[c];
    for (size_t f = 0; f < nf; f++)
        if (p->fcluster[f] != CAI_NONE)
            cfac[cf0[p->fcluster[f]]++] = f;
    for (size_t c = ncl; c > 0; c--)
        cf0[c] = cf0[c - 1];
    cf0[0] = 0;
    for (size_t v = 0; v < nv; v++)
        slot_of[v] = CAI_NONE;
    size_t s = 0, at = 0, sc = 0;
    for (size_t f = 0; f < nf; f++) {
        p->fslot0[f] = sc;
        sc += p->fk[f];
    }
    for (size_t c = 0; c < ncl && st == CAI_OK; c++) {
        gcluster *C = &p->cl[c];
        C->slot0 = s;
        if (C->up != CAI_NONE)
            p->slot_var[s++] = C->up;
        if (C->label == CAI_NONE) {
            p->slot_var[s++] = p->root[C->tree];
        } else {
            for (size_t j = 0; j < p->fk[C->label]; j++) {
                size_t v = p->fvar[p->fvar0[C->label] + j];
                if (v != C->up)
                    p->slot_var[s++] = v;
            }
        }
        C->nslot = s - C->slot0;
        for (size_t i = C->slot0; i < s; i++) {
            size_t v = p->slot_var[i];
            slot_of[v] = i;
            p->slot_by[i] = CAI_NONE;
            p->slot_off[i] = 0;
            p->slot_stat[i] = p->clamped[v] ? GS_CLAMP
                              : (i == C->slot0 && C->up != CAI_NONE) ? GS_UP
                                                                     : GS_FREE;
        }
        for (size_t i = cf0[c]; i < cf0[c + 1]; i++) {
            size_t f = cfac[i];
            for (size_t j = 0; j < p->fk[f]; j++)
                p->fslot[p->fslot0[f] + j] = slot_of[p->fvar[p->fvar0[f] + j]];
        }
        st = layout_cluster(p, c, cfac + cf0[c], cf0[c + 1] - cf0[c], &at, stack,
                            done, dep, err);
        for (size_t i = C->slot0; i < s; i++)
            slot_of[p->slot_var[i]] = CAI_NONE;
    }
    if (st == CAI_OK)
        sizes(p);
done:
    free(slot_of);
    free(cf0);
    free(cfac);
    free(stack);
    free(done);
    free(dep);
    return st;
}
