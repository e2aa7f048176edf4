/* lib/gauss/cluster.c — one cluster's integral: every variable of the
 * cluster as an affine map of the base coordinates b = [U | E | X]
 * (identity for the up and free variables, the clamped value for evidence,
 * A pa + c + L w for a substituted child), the integrand as a quadratic
 * -1/2 b'Hb + hv'b + const, the average over X (expectation mode:
 * -1/2 tr H_XX), and the Cholesky factor of H_EE from which the message to
 * U (the Schur complement) and the conditional of each variable given U
 * follow. The same code serves the upward pass, the downward pass and the
 * conditional queries, so they agree to the last bit. */
#include "gauss_impl.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX(a, b) ((a) > (b) ? (a) : (b))

size_t gs_doubles(const cai_gauss_plan *p)
{
    size_t nb = p->max_nb, ne = p->max_ne, nu = p->max_nu, D = p->max_D,
           n = p->max_dim;
    return nb * nb + nb + p->max_rows * nb + p->max_rows + D * nb + 2 * D +
           ne * ne + ne * nu + ne + n * ne + 2 * n * MAX(nu, n) + 1;
}

void gs_carve(const cai_gauss_plan *p, double *mem, gscratch *s)
{
    size_t nb = p->max_nb, ne = p->max_ne, nu = p->max_nu, D = p->max_D,
           n = p->max_dim;
    s->H = mem;
    s->hv = s->H + nb * nb;
    s->T = s->hv + nb;
    s->t = s->T + p->max_rows * nb;
    s->tmp = s->t + p->max_rows;
    s->ts = s->tmp + D * nb;
    s->g = s->ts + D;
    s->Lc = s->g + D;
    s->X = s->Lc + ne * ne;
    s->y = s->X + ne * nu;
    s->Z = s->y + ne;
    s->M = s->Z + n * ne;
    s->W = s->M + n * MAX(nu, n);
}

enum { MK_IDENT, MK_DENSE, MK_ZERO };

static int map_kind(const cai_gauss_plan *p, size_t s)
{
    switch (p->slot_stat[s]) {
    case GS_CLAMP: return MK_ZERO;
    case GS_SUBST: return MK_DENSE;
    default: return MK_IDENT;
    }
}

static double *rows_of(const gctx *x, const gcluster *C, size_t s)
{
    return x->s->T + x->p->slot_row[s] * C->nb;
}

static const double *ev_of(const gctx *x, size_t v)
{
    return x->ev + x->p->ev_off[v];
}

static void init_maps(const gctx *x, const gcluster *C)
{
    const cai_gauss_plan *p = x->p;
    size_t nb = C->nb;
    memset(x->s->T, 0, C->rows * nb * sizeof(double));
    memset(x->s->t, 0, C->rows * sizeof(double));
    for (size_t s = C->slot0; s < C->slot0 + C->nslot; s++) {
        size_t v = p->slot_var[s], n = p->dim[v];
        double *T = rows_of(x, C, s), *t = x->s->t + p->slot_row[s];
        if (map_kind(p, s) == MK_IDENT)
            for (size_t r = 0; r < n; r++)
                T[r * nb + p->slot_off[s] + r] = 1.0;
        else if (map_kind(p, s) == MK_ZERO)
            memcpy(t, ev_of(x, v), n * sizeof(double));
    }
}

/* child = sum_j A_j pa_j + c + L w, the parents' maps being final. */
static void subst_map(const gctx *x, const gcluster *C, size_t f)
{
    const cai_gauss_plan *p = x->p;
    const cai_gauss_potential *q = p->pot[f];
    const size_t *sl = p->fslot + p->fslot0[f];
    size_t n = q->n, Dp = q->D - n, nb = C->nb, cs = sl[p->fk[f] - 1];
    double *Tc = rows_of(x, C, cs), *tc = x->s->t + p->slot_row[cs];
    memcpy(tc, q->cv, n * sizeof(double));
    for (size_t j = 0; j + 1 < p->fk[f]; j++) {
        size_t s = sl[j], d = q->dims[j];
        const double *Aj = q->A + q->offs[j];
        switch (map_kind(p, s)) {
        case MK_IDENT:
            for (size_t r = 0; r < n; r++)
                for (size_t c = 0; c < d; c++)
                    Tc[r * nb + p->slot_off[s] + c] += Aj[r * Dp + c];
            break;
        case MK_ZERO:
            gl_gemv(false, n, d, 1.0, Aj, Dp, ev_of(x, p->slot_var[s]), 1.0, tc);
            break;
        default:
            gl_gemm(false, false, n, nb, d, 1.0, Aj, Dp, rows_of(x, C, s), nb, 1.0,
                    Tc, nb);
            gl_gemv(false, n, d, 1.0, Aj, Dp, x->s->t + p->slot_row[s], 1.0, tc);
        }
    }
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < q->rank; c++)
            Tc[r * nb + p->woff[f] + c] = q->L[r * q->rank + c];
}

/* Add exp(-1/2 z'Hf z + hf'z + cf) over the variables of slots sl[0..k-1]
 * (dims, offsets offs in z, D = |z|) to the integrand. */
static void add_quadratic(const gctx *x, const gcluster *C, const size_t *sl,
                          size_t k, const size_t *dims, const size_t *offs, size_t D,
                          const double *Hf, const double *hf, double cf, double *cst)
{
    const cai_gauss_plan *p = x->p;
    gscratch *S = x->s;
    size_t nb = C->nb;
    double *ts = S->ts;
    const double *g = hf;
    bool shifted = false; /* some variable has an offset t */
    for (size_t i = 0; i < k; i++) {
        size_t s = sl[i], d = dims[i];
        int kind = map_kind(p, s);
        shifted = shifted || kind != MK_IDENT;
        if (kind == MK_IDENT)
            memset(ts + offs[i], 0, d * sizeof(double));
        else
            memcpy(ts + offs[i],
                   kind == MK_ZERO ? ev_of(x, p->slot_var[s]) : S->t + p->slot_row[s],
                   d * sizeof(double));
    }
    *cst += cf;
    if (shifted) { /* g = hf - Hf ts; cst += hf'ts - 1/2 ts'Hf ts */
        memcpy(S->g, hf, D * sizeof(double));
        gl_gemv(false, D, D, -1.0, Hf, D, ts, 1.0, S->g);
        g = S->g;
        *cst += 0.5 * (gl_dot(D, hf, ts) + gl_dot(D, g, ts));
    }
    for (size_t i = 0; i < k; i++) {
        size_t s = sl[i], d = dims[i];
        int kind = map_kind(p, s);
        if (kind == MK_IDENT)
            for (size_t r = 0; r < d; r++)
                S->hv[p->slot_off[s] + r] += g[offs[i] + r];
        else if (kind == MK_DENSE)
            gl_gemv(true, d, nb, 1.0, rows_of(x, C, s), nb, g + offs[i], 1.0, S->hv);
    }
    /* H += sum_ij T_i' Hf_ij T_j: identity rows take Hf_ij T_j directly,
     * dense rows through tmp = sum_j Hf_ij T_j */
    for (size_t i = 0; i < k; i++) {
        size_t si = sl[i], di = dims[i];
        int ki = map_kind(p, si);
        if (ki == MK_ZERO)
            continue;
        double *dst = ki == MK_IDENT ? S->H + p->slot_off[si] * nb : S->tmp;
        if (ki == MK_DENSE)
            memset(S->tmp, 0, di * nb * sizeof(double));
        for (size_t j = 0; j < k; j++) {
            size_t sj = sl[j], dj = dims[j];
            const double *Hij = Hf + offs[i] * D + offs[j];
            int kj = map_kind(p, sj);
            if (kj == MK_IDENT) {
                for (size_t r = 0; r < di; r++)
                    for (size_t c = 0; c < dj; c++)
                        dst[r * nb + p->slot_off[sj] + c] += Hij[r * D + c];
            } else if (kj == MK_DENSE) {
                gl_gemm(false, false, di, nb, dj, 1.0, Hij, D, rows_of(x, C, sj), nb,
                        1.0, dst, nb);
            }
        }
        if (ki == MK_DENSE)
            gl_gemm(true, false, nb, nb, di, 1.0, rows_of(x, C, si), nb, S->tmp, nb,
                    1.0, S->H, nb);
    }
}

static bool all_finite(const double *a, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(a[i]))
            return false;
    return true;
}

cai_status gc_build_factor(const gctx *x, size_t c, double *out_const, bool *out_ok,
                           size_t *out_fail, cai_error *err)
{
    const cai_gauss_plan *p = x->p;
    const gcluster *C = &p->cl[c];
    gscratch *S = x->s;
    size_t nb = C->nb, nu = C->nu, ne = C->ne;
    double cst = 0.0;
    init_maps(x, C);
    memset(S->H, 0, nb * nb * sizeof(double));
    memset(S->hv, 0, nb * sizeof(double));
    const size_t *fac = p->cl_fac + C->fac0;
    for (size_t i = 0; i < C->nfac; i++) {
        size_t f = fac[i];
        if (p->role[f] != GR_SUBST && p->role[f] != GR_EXPECT)
            continue;
        subst_map(x, C, f);
        if (p->role[f] == GR_SUBST) { /* the density of w ~ N(0, I) */
            size_t r = p->pot[f]->rank, w = p->woff[f];
            for (size_t j = 0; j < r; j++)
                S->H[(w + j) * nb + w + j] += 1.0;
            cst -= 0.5 * (double)r * LOG_2PI;
        }
    }
    for (size_t i = 0; i < C->nfac; i++) {
        size_t f = fac[i];
        if (p->role[f] != GR_QUAD && p->role[f] != GR_DENSITY)
            continue;
        const cai_gauss_potential *q = p->pot[f];
        add_quadratic(x, C, p->fslot + p->fslot0[f], p->fk[f], q->dims, q->offs, q->D,
                      q->H, q->h, q->c, &cst);
    }
    /* the messages from the variables away from the root */
    for (size_t s = C->slot0; s < C->slot0 + C->nslot; s++) {
        if (s == C->slot0 && C->up != CAI_NONE)
            continue;
        size_t v = p->slot_var[s], n = p->dim[v], off = 0;
        const double *m = x->up + p->msg_off[v];
        add_quadratic(x, C, &s, 1, &n, &off, n, m, m + n * n, m[n * n + n], &cst);
    }
    /* H is assembled whole and symmetric up to rounding; from here on only
     * its lower triangle and diagonal are read, so it needs no symmetrising
     * (the message J is symmetrised in gc_message) */
    for (size_t i = nu + ne; i < nb; i++) /* E over w ~ N(0, I) */
        cst -= 0.5 * S->H[i * nb + i];
    /* factor H_EE; X = L^-1 H_EU; y = L^-1 hv_E (a NaN or inf in H stops the
     * factorisation and is told apart from divergence there) */
    for (size_t i = 0; i < ne; i++)
        memcpy(S->Lc + i * ne, S->H + (nu + i) * nb + nu, ne * sizeof(double));
    size_t fail = gl_chol(S->Lc, ne, ne);
    if (!isfinite(cst) || !all_finite(S->hv, nb) ||
        (fail < ne && !all_finite(S->H, nb * nb))) {
        if (C->label != CAI_NONE)
            return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                 "non-finite numbers in the cluster of factor %zu "
                                 "(overflow)",
                                 C->label);
        return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                             "non-finite numbers at the root '%s' (overflow)",
                             gp_name(p, p->root[C->tree]));
    }
    *out_ok = fail == ne;
    *out_fail = fail;
    *out_const = cst;
    if (fail < ne)
        return CAI_OK;
    for (size_t i = 0; i < ne; i++)
        memcpy(S->X + i * nu, S->H + (nu + i) * nb, nu * sizeof(double));
    gl_trsm_left(false, ne, nu, S->Lc, ne, S->X, nu);
    memcpy(S->y, S->hv + nu, ne * sizeof(double));
    gl_trsv(false, ne, S->Lc, ne, S->y);
    return CAI_OK;
}

void gc_message(const gctx *x, size_t c, double cst, double *J, double *h,
                double *out_c)
{
    const gcluster *C = &x->p->cl[c];
    gscratch *S = x->s;
    size_t nb = C->nb, nu = C->nu, ne = C->ne;
    if (nu > 0 && J && h) {
        for (size_t i = 0; i < nu; i++) {
            for (size_t j = 0; j < nu; j++)
                J[i * nu + j] += S->H[i * nb + j];
            h[i] += S->hv[i];
        }
        gl_gemm(true, false, nu, nu, ne, -1.0, S->X, nu, S->X, nu, 1.0, J, nu);
        gl_gemv(true, ne, nu, -1.0, S->X, nu, S->y, 1.0, h);
        gl_symmetrise(J, nu, nu);
    }
    *out_c = cst + 0.5 * gl_dot(ne, S->y, S->y) + 0.5 * (double)ne * LOG_2PI -
             gl_chol_logdet_half(S->Lc, ne, ne);
}

/* x_s = T_U u + T_E e + T_X w + t with e | u ~ N(L^-T (y - X u), (L L')^-1)
 * and w ~ N(0, I): K = T_U - Z X, k = Z y + t, S = Z Z' + T_X T_X' with
 * Z = T_E L^-T (a triangular solve, no inverse). */
void gc_conditional(const gctx *x, size_t c, size_t s, double *K, double *k,
                    double *Sout)
{
    const cai_gauss_plan *p = x->p;
    const gcluster *C = &p->cl[c];
    gscratch *S = x->s;
    size_t nb = C->nb, nu = C->nu, ne = C->ne, nx = C->nx, n = p->dim[p->slot_var[s]];
    const double *T = rows_of(x, C, s), *t = S->t + p->slot_row[s];
    double *Z = S->Z;
    for (size_t r = 0; r < n; r++)
        memcpy(Z + r * ne, T + r * nb + nu, ne * sizeof(double));
    gl_trsm_right_lt(n, ne, S->Lc, ne, Z, ne);
    if (K) {
        for (size_t r = 0; r < n; r++)
            memcpy(K + r * nu, T + r * nb, nu * sizeof(double));
        gl_gemm(false, false, n, nu, ne, -1.0, Z, ne, S->X, nu, 1.0, K, nu);
    }
    if (k) {
        memcpy(k, t, n * sizeof(double));
        gl_gemv(false, n, ne, 1.0, Z, ne, S->y, 1.0, k);
    }
    if (Sout) {
        gl_gemm(false, true, n, n, ne, 1.0, Z, ne, Z, ne, 0.0, Sout, n);
        if (ne == 0)
            memset(Sout, 0, n * n * sizeof(double));
        gl_gemm(false, true, n, n, nx, 1.0, T + nu + ne, nb, T + nu + ne, nb, 1.0,
                Sout, n);
        gl_symmetrise(Sout, n, n);
    }
}

cai_status gc_divergence_error(const cai_gauss_plan *p, size_t c, size_t fail,
                               cai_error *err)
{
    const gcluster *C = &p->cl[c];
    size_t at = C->nu + fail;
    char where[96];
    if (C->label != CAI_NONE)
        snprintf(where, sizeof where, "the cluster of factor %zu", C->label);
    else
        snprintf(where, sizeof where, "the root '%s'", gp_name(p, p->root[C->tree]));
    const size_t *fac = p->cl_fac + C->fac0;
    for (size_t i = 0; i < C->nfac; i++) {
        size_t f = fac[i];
        if (p->role[f] == GR_SUBST && at >= p->woff[f] &&
            at < p->woff[f] + p->pot[f]->rank)
            return cai_error_set(
                err, CAI_ERR_NUMERIC, NULL, 0, 0,
                "the integral through factor %zu diverges: I + L'JL is not positive "
                "definite (the message into its child '%s' grows faster than its "
                "noise Sigma = LL' allows), in %s",
                f, gp_name(p, p->fvar[p->fvar0[f] + p->fk[f] - 1]), where);
    }
    for (size_t s = C->slot0; s < C->slot0 + C->nslot; s++) {
        size_t v = p->slot_var[s];
        if (p->slot_stat[s] == GS_FREE && at >= p->slot_off[s] &&
            at < p->slot_off[s] + p->dim[v])
            return cai_error_set(
                err, CAI_ERR_NUMERIC, NULL, 0, 0,
                "the integral over variable '%s' diverges: its precision given the "
                "variables before it (R + B'P~B for an LQR control) is not positive "
                "definite, in %s",
                gp_name(p, v), where);
    }
    return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                         "an integral in %s diverges", where);
}
