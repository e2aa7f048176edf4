/* lib/gauss/potential.c — Gaussian potentials: quadratic log-potentials and
 * linear-Gaussian conditionals (priors included), checked and factored once
 * at creation so that any number of factors can share them. */
#include "gauss_impl.h"

#include "cai/logmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static cai_status check_dims(size_t k, const size_t *dims, size_t *out_D,
                             cai_error *err)
{
    if (k == 0)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "a potential needs at least one position");
    if (dims == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "dims is NULL");
    size_t D = 0;
    for (size_t i = 0; i < k; i++) {
        if (dims[i] == 0 || dims[i] > CAI_GAUSS_MAX_DIM)
            return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                                 "position %zu: dimension %zu is not in 1..%zu", i,
                                 dims[i], (size_t)CAI_GAUSS_MAX_DIM);
        D += dims[i];
    }
    if (D > CAI_GAUSS_MAX_DIM)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "total dimension %zu exceeds %zu", D,
                             (size_t)CAI_GAUSS_MAX_DIM);
    *out_D = D;
    return CAI_OK;
}

/* The shell: struct, dims/offsets and `doubles` doubles of storage. */
static cai_status alloc_potential(cai_gauss_potential_kind kind, size_t k,
                                  const size_t *dims, size_t D, size_t doubles,
                                  cai_gauss_potential **out, cai_error *err)
{
    cai_gauss_potential *p = calloc(1, sizeof *p);
    size_t *d = malloc(2 * k * sizeof(size_t));
    double *mem = gl_alloc(doubles);
    if (p == NULL || d == NULL || mem == NULL) {
        free(p);
        free(d);
        free(mem);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    }
    memset(mem, 0, (doubles ? doubles : 1) * sizeof(double));
    p->kind = kind;
    p->refs = 1;
    p->k = k;
    p->dims = d;
    p->offs = d + k;
    for (size_t i = 0, o = 0; i < k; o += dims[i], i++) {
        d[i] = dims[i];
        d[k + i] = o;
    }
    p->D = D;
    p->mem = mem;
    p->bytes = sizeof *p + 2 * k * sizeof(size_t) + doubles * sizeof(double);
    *out = p;
    return CAI_OK;
}

static void free_potential(cai_gauss_potential *p)
{
    if (p == NULL)
        return;
    free(p->mem);
    free(p->dims);
    free(p);
}

cai_status cai_gauss_quadratic_create(size_t k, const size_t *dims,
                                      const double *H, const double *h, double c,
                                      cai_gauss_potential **out_p, cai_error *err)
{
    size_t D = 0;
    cai_status st = out_p && H ? CAI_OK
                               : cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                                               "H and out_p must not be NULL");
    if (st == CAI_OK)
        st = check_dims(k, dims, &D, err);
    if (st == CAI_OK)
        st = gl_check_symmetric(H, D, "H", err);
    if (st == CAI_OK && h)
        st = gl_check_finite(h, D, "h", err);
    if (st == CAI_OK && !isfinite(c))
        st = cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0, "c is %g (must be finite)", c);
    cai_gauss_potential *p = NULL;
    if (st == CAI_OK)
        st = alloc_potential(CAI_GAUSS_QUADRATIC, k, dims, D, D * D + D, &p, err);
    if (st != CAI_OK)
        return st;
    p->H = p->mem;
    p->h = p->mem + D * D;
    memcpy(p->H, H, D * D * sizeof(double));
    gl_symmetrise(p->H, D, D);
    if (h)
        memcpy(p->h, h, D * sizeof(double));
    p->c = c;
    *out_p = p;
    return CAI_OK;
}

/* The log density over z = (parents, child) for Sigma = C C' positive
 * definite: with G = C^-1 [-A I] and g = C^-1 c, log N = -1/2 |G z - g|^2
 * - log det C - n/2 log 2pi. */
static void build_density(cai_gauss_potential *p, const double *C, double *G,
                          double *g)
{
    size_t n = p->n, D = p->D, Dp = D - n;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < Dp; j++)
            G[i * D + j] = -p->A[i * Dp + j];
        for (size_t j = 0; j < n; j++)
            G[i * D + Dp + j] = i == j ? 1.0 : 0.0;
        g[i] = p->cv[i];
    }
    gl_trsm_left(false, n, D, C, n, G, D);
    gl_trsv(false, n, C, n, g);
    gl_gemm(true, false, D, D, n, 1.0, G, D, G, D, 0.0, p->H, D);
    gl_symmetrise(p->H, D, D);
    gl_gemv(true, n, D, 1.0, G, D, g, 0.0, p->h);
    p->c = -0.5 * gl_dot(n, g, g) - gl_chol_logdet_half(C, n, n) -
           0.5 * (double)n * LOG_2PI;
    p->has_density = true;
}

/* what: how errors name Sigma ("Sigma", or "cov" for a prior) */
static cai_status linear_create(size_t n_parents, const size_t *parent_dims, size_t n,
                                const double *A, const double *c, const double *Sigma,
                                const char *what, cai_gauss_potential **out_p,
                                cai_error *err)
{
    if (out_p == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "out_p is NULL");
    if (n_parents > 0 && (parent_dims == NULL || A == NULL))
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "parent_dims and A must not be NULL with %zu parents",
                             n_parents);
    if (n_parents + 1 < n_parents)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0, "too many parents");
    size_t k = n_parents + 1;
    size_t *dims = malloc(k * sizeof(size_t));
    if (dims == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    if (n_parents)
        memcpy(dims, parent_dims, n_parents * sizeof(size_t));
    dims[n_parents] = n;
    size_t D = 0;
    cai_status st = check_dims(k, dims, &D, err);
    size_t Dp = D - n;
    if (st == CAI_OK && A)
        st = gl_check_finite(A, n * Dp, "A", err);
    if (st == CAI_OK && c)
        st = gl_check_finite(c, n, n_parents ? "c" : "mean", err);
    if (st == CAI_OK && Sigma)
        st = gl_check_symmetric(Sigma, n, what, err);
    /* layout: H (D*D), h (D), A (n*Dp), cv (n), L (n*n) */
    size_t doubles = D * D + D + n * Dp + n + n * n;
    cai_gauss_potential *p = NULL;
    if (st == CAI_OK)
        st = alloc_potential(CAI_GAUSS_LINEAR, k, dims, D, doubles, &p, err);
    free(dims);
    if (st != CAI_OK)
        return st;
    p->H = p->mem;
    p->h = p->H + D * D;
    p->A = p->h + D;
    p->cv = p->A + n * Dp;
    p->L = p->cv + n;
    p->n = n;
    if (Dp)
        memcpy(p->A, A, n * Dp * sizeof(double));
    if (c)
        memcpy(p->cv, c, n * sizeof(double));
    double *S = gl_alloc(3 * n * n + n * D + n);
    size_t *perm = malloc(n * sizeof(size_t));
    if (S == NULL || perm == NULL) {
        free(S);
        free(perm);
        free_potential(p);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    }
    double *F = S + n * n, *R = F + n * n, *G = R + n * n, *g = G + n * D;
    if (Sigma)
        memcpy(S, Sigma, n * n * sizeof(double));
    else
        memset(S, 0, n * n * sizeof(double));
    gl_symmetrise(S, n, n);
    size_t r = gl_psd_factor(S, n, F, R, perm);
    if (r == (size_t)-1) {
        free(S);
        free(perm);
        free_potential(p);
        return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                             "%s is not positive semidefinite", what);
    }
    p->rank = r;
    /* L (n x r): the Cholesky factor when Sigma is positive definite (which
     * also gives the density form), else the pivoted factor */
    bool chol_ok = false;
    if (r == n) {
        memcpy(R, S, n * n * sizeof(double));
        chol_ok = gl_chol(R, n, n) == n;
        if (chol_ok) {
            for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < n; j++)
                    p->L[i * n + j] = j <= i ? R[i * n + j] : 0.0;
            build_density(p, p->L, G, g);
        }
    }
    if (!chol_ok)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < r; j++)
                p->L[i * r + j] = F[i * n + j];
    free(S);
    free(perm);
    *out_p = p;
    return CAI_OK;
}

cai_status cai_gauss_linear_create(size_t n_parents, const size_t *parent_dims,
                                   size_t n, const double *A, const double *c,
                                   const double *Sigma,
                                   cai_gauss_potential **out_p, cai_error *err)
{
    return linear_create(n_parents, parent_dims, n, A, c, Sigma, "Sigma", out_p, err);
}

cai_status cai_gauss_prior_create(size_t n, const double *mean, const double *cov,
                                  cai_gauss_potential **out_p, cai_error *err)
{
    return linear_create(0, NULL, n, NULL, mean, cov, "cov", out_p, err);
}

cai_gauss_potential *cai_gauss_potential_ref(cai_gauss_potential *p)
{
    if (p)
        p->refs++;
    return p;
}

cai_gauss_potential *cai_gauss_potential_unref(cai_gauss_potential *p)
{
    if (p && --p->refs == 0)
        free_potential(p);
    return NULL;
}

cai_gauss_potential_kind cai_gauss_potential_kind_of(const cai_gauss_potential *p)
{
    return p->kind;
}

size_t cai_gauss_potential_arity(const cai_gauss_potential *p) { return p->k; }

size_t cai_gauss_potential_dim(const cai_gauss_potential *p, size_t i)
{
    return i < p->k ? p->dims[i] : 0;
}

size_t cai_gauss_potential_rank(const cai_gauss_potential *p)
{
    return p->kind == CAI_GAUSS_LINEAR ? p->rank : 0;
}

size_t cai_gauss_potential_bytes(const cai_gauss_potential *p) { return p->bytes; }
