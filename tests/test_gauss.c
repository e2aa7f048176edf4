/* tests/test_gauss.c — the Gaussian engine against references written here:
 * the textbook LQR Riccati recursion (Sigma = 0), the risk-seeking one
 * P~ = P (I + Sigma P / alpha)^-1 and certainty equivalence (information
 * form with constants, LU inverses), dense joint Gaussians (full precision of
 * every variable, or of the actions when the dynamics are deterministic) for
 * log Z, marginals and conditionals, a Kalman filter + RTS smoother, random
 * trees with evidence, and the error paths. */
#include "harness.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cai/gauss.h"

#define TOL 1e-10
#define NX 4
#define NU 3
#define TMAX 10
#define DM 40 /* dense references: at most DM coordinates */
#define LOG2PI 1.8378770664093454836

static double worst_riccati, worst_dense, worst_kalman; /* reported at the end */

/* ---- dense helpers: GSL with LU, independent of the library's paths ---- */

static void mul(bool ta, bool tb, size_t m, size_t n, size_t k, double alpha,
                const double *A, const double *B, double beta, double *C)
{
    gsl_matrix_const_view a = gsl_matrix_const_view_array(A, ta ? k : m, ta ? m : k);
    gsl_matrix_const_view b = gsl_matrix_const_view_array(B, tb ? n : k, tb ? k : n);
    gsl_matrix_view c = gsl_matrix_view_array(C, m, n);
    gsl_blas_dgemm(ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                   alpha, &a.matrix, &b.matrix, beta, &c.matrix);
}

static double lu(size_t n, const double *A, double *Ai) /* inverse; log|det| */
{
    gsl_matrix *M = gsl_matrix_alloc(n, n);
    gsl_permutation *p = gsl_permutation_alloc(n);
    int sg;
    memcpy(M->data, A, n * n * sizeof(double));
    gsl_linalg_LU_decomp(M, p, &sg);
    double ld = gsl_linalg_LU_lndet(M);
    if (Ai) {
        gsl_matrix_view v = gsl_matrix_view_array(Ai, n, n);
        gsl_linalg_LU_invert(M, p, &v.matrix);
    }
    gsl_matrix_free(M);
    gsl_permutation_free(p);
    return ld;
}

static void randm(gsl_rng *r, size_t m, size_t n, double s, double *A)
{
    for (size_t i = 0; i < m * n; i++)
        A[i] = s * (2.0 * gsl_rng_uniform(r) - 1.0);
}

static void spd(gsl_rng *r, size_t n, double eps, double *A) /* B B' + eps I */
{
    double B[DM * DM];
    randm(r, n, n, 1.0, B);
    mul(false, true, n, n, n, 1.0, B, B, 0.0, A);
    for (size_t i = 0; i < n; i++)
        A[i * n + i] += eps;
}

/* max |a - b| / max(1, |a|, |b|), accumulated into *worst; checked <= tol */
static void close_v(const double *a, const double *b, size_t n, double tol,
                    double *worst)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]) / fmax(1.0, fmax(fabs(a[i]), fabs(b[i])));
        if (worst && d > *worst)
            *worst = d;
        CU_ASSERT(d <= tol);
    }
}

/* ---- a dense Gaussian over coordinates xi: every variable is an affine map
 * x = P xi + p, factors add -1/2 z'Hz + h'z + c over stacked maps ---- */

typedef struct amap { size_t n; double P[8 * DM], p[8]; } amap;
typedef struct dense { size_t D; double H[DM * DM], h[DM], c; } dense;

static void amap_free(amap *a, size_t n, size_t off, size_t D)
{
    memset(a, 0, sizeof *a);
    a->n = n;
    for (size_t i = 0; i < n; i++)
        a->P[i * D + off + i] = 1.0;
}

static void amap_fixed(amap *a, size_t n, const double *x)
{
    memset(a, 0, sizeof *a);
    a->n = n;
    memcpy(a->p, x, n * sizeof(double));
}

/* y = A x + c (A is n x a->n, row-major) */
static void amap_lin(amap *y, size_t n, const double *A, const amap *x, const double *c,
                     size_t D)
{
    memset(y, 0, sizeof *y);
    y->n = n;
    mul(false, false, n, D, x->n, 1.0, A, x->P, 0.0, y->P);
    for (size_t i = 0; i < n; i++)
        y->p[i] = (c ? c[i] : 0.0) + cblas_ddot((int)x->n, A + i * x->n, 1, x->p, 1);
}

static void dn_add(dense *d, const amap *const *maps, size_t k, const double *Hf,
                   const double *hf, double cf)
{
    size_t D = d->D, Z = 0;
    double Psi[16 * DM] = {0}, psi[16], g[16], HP[16 * DM];
    for (size_t i = 0; i < k; i++) {
        memcpy(Psi + Z * D, maps[i]->P, maps[i]->n * D * sizeof(double));
        memcpy(psi + Z, maps[i]->p, maps[i]->n * sizeof(double));
        Z += maps[i]->n;
    }
    for (size_t i = 0; i < Z; i++) {
        g[i] = hf ? hf[i] : 0.0;
        for (size_t j = 0; j < Z; j++)
            g[i] -= Hf[i * Z + j] * psi[j];
        d->c += 0.5 * ((hf ? hf[i] : 0.0) + g[i]) * psi[i];
    }
    d->c += cf;
    mul(false, false, Z, D, Z, 1.0, Hf, Psi, 0.0, HP);
    mul(true, false, D, D, Z, 1.0, Psi, HP, 1.0, d->H);
    for (size_t i = 0; i < D; i++)
        for (size_t j = 0; j < Z; j++)
            d->h[i] += Psi[j * D + i] * g[j];
}

/* log Z, and mean / covariance of xi (H^-1 h, H^-1) */
static double dn_solve(const dense *d, double *mean, double *cov)
{
    size_t D = d->D;
    double ld = lu(D, d->H, cov);
    mul(false, false, D, 1, D, 1.0, cov, d->h, 0.0, mean);
    return d->c + 0.5 * (double)D * LOG2PI - 0.5 * ld +
           0.5 * cblas_ddot((int)D, d->h, 1, mean, 1);
}

static void dn_marg(const amap *a, size_t D, const double *mean, const double *cov,
                    double *m, double *C)
{
    double PC[8 * DM];
    mul(false, false, a->n, 1, D, 1.0, a->P, mean, 0.0, m);
    for (size_t i = 0; i < a->n; i++)
        m[i] += a->p[i];
    mul(false, false, a->n, D, D, 1.0, a->P, cov, 0.0, PC);
    mul(false, true, a->n, a->n, D, 1.0, PC, a->P, 0.0, C);
}

/* log N(x'; A pa + c, S) as a quadratic over (pa, x') (S positive definite) */
static void density(size_t n, size_t Dp, const double *A, const double *c,
                    const double *S, double *H, double *h, double *cf)
{
    double Si[NX * NX], G[NX * DM], SG[NX * DM], Sc[NX];
    double ld = lu(n, S, Si);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < Dp + n; j++)
            G[i * (Dp + n) + j] = j < Dp ? -A[i * Dp + j] : (j - Dp == i);
    mul(false, false, n, Dp + n, n, 1.0, Si, G, 0.0, SG);
    mul(true, false, Dp + n, Dp + n, n, 1.0, G, SG, 0.0, H);
    mul(false, false, n, 1, n, 1.0, Si, c, 0.0, Sc);
    mul(true, false, Dp + n, 1, n, 1.0, G, Sc, 0.0, h);
    *cf = -0.5 * cblas_ddot((int)n, c, 1, Sc, 1) - 0.5 * ld - 0.5 * (double)n * LOG2PI;
}

/* ---- linear-quadratic problems ---- */

typedef struct lqr {
    size_t n, m, T;
    double alpha;
    double AB[NX * (NX + NU)], c[NX], S[NX * NX], Hr[(NX + NU) * (NX + NU)],
        hr[NX + NU], QT[NX * NX], qT[NX], x0[NX], S0[NX * NX];
} lqr;

/* Random problem; sig > 0 gives Sigma = sig * SPD (rank-1 when rank1),
 * lin adds c, linear reward terms; s0 > 0 a Gaussian prior on x0. */
static void lqr_random(gsl_rng *r, lqr *P, size_t n, size_t m, size_t T, double alpha,
                       double sig, bool rank1, bool lin, double s0)
{
    memset(P, 0, sizeof *P);
    P->n = n, P->m = m, P->T = T, P->alpha = alpha;
    size_t N = n + m;
    randm(r, n, N, 0.5, P->AB);
    for (size_t i = 0; i < n; i++)
        P->AB[i * N + i] += 1.0;
    double Q[NX * NX], R[NU * NU];
    spd(r, n, 0.3, Q);
    spd(r, m, 0.5, R);
    spd(r, n, 0.3, P->QT);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++)
            P->Hr[i * N + j] = i < n && j < n ? Q[i * n + j] : i >= n && j >= n ? R[(i - n) * m + j - n] : 0.0;
    for (size_t i = 0; i < N * N; i++)
        P->Hr[i] /= alpha;
    for (size_t i = 0; i < n * n; i++)
        P->QT[i] /= alpha;
    if (sig > 0) {
        double v[NX];
        randm(r, n, 1, 1.0, v);
        if (rank1)
            mul(false, true, n, n, 1, sig, v, v, 0.0, P->S);
        else {
            spd(r, n, 0.2, P->S);
            for (size_t i = 0; i < n * n; i++)
                P->S[i] *= sig;
        }
    }
    if (lin) {
        randm(r, n, 1, 0.5, P->c);
        randm(r, N, 1, 0.5, P->hr);
        randm(r, n, 1, 0.5, P->qT);
    }
    randm(r, n, 1, 1.0, P->x0);
    if (s0 > 0) {
        spd(r, n, 0.2, P->S0);
        for (size_t i = 0; i < n * n; i++)
            P->S0[i] *= s0;
    }
}

typedef struct lqr_graph {
    cai_gauss_graph *g;
    cai_gauss_plan *plan;
    cai_gauss_workspace *ws;
    size_t x[TMAX + 1], u[TMAX];
} lqr_graph;

/* x0 u0 x1 u1 ... xT; one dynamics and one reward potential for all steps;
 * planned, and executed when run */
static void lqr_build_run(const lqr *P, cai_factor_mode mode, lqr_graph *L, bool run)
{
    size_t n = P->n, m = P->m, dims[2] = {n, m};
    cai_error err;
    cai_gauss_potential *dyn, *rew, *term, *pri;
    CU_ASSERT_FATAL(cai_gauss_graph_create(&L->g, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_gauss_linear_create(2, dims, n, P->AB, P->c, P->S, &dyn, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_gauss_quadratic_create(2, dims, P->Hr, P->hr, 0.0, &rew, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_gauss_quadratic_create(1, &n, P->QT, P->qT, 0.0, &term, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_gauss_prior_create(n, P->x0, P->S0, &pri, &err) == CAI_OK);
    char name[24];
    for (size_t t = 0; t <= P->T; t++) {
        snprintf(name, sizeof name, "x%zu", t);
        CU_ASSERT_FATAL(cai_gauss_graph_add_variable(L->g, name, n, &L->x[t], &err) == CAI_OK);
        if (t == P->T)
            break;
        snprintf(name, sizeof name, "u%zu", t);
        CU_ASSERT_FATAL(cai_gauss_graph_add_variable(L->g, name, m, &L->u[t], &err) == CAI_OK);
    }
    CU_ASSERT_FATAL(cai_gauss_graph_add_factor(L->g, pri, &L->x[0], 1, CAI_MODE_NORMAL, NULL, &err) == CAI_OK);
    for (size_t t = 0; t < P->T; t++) {
        size_t sc[3] = {L->x[t], L->u[t], L->x[t + 1]};
        CU_ASSERT_FATAL(cai_gauss_graph_add_factor(L->g, rew, sc, 2, CAI_MODE_NORMAL, NULL, &err) == CAI_OK);
        CU_ASSERT_FATAL(cai_gauss_graph_add_factor(L->g, dyn, sc, 3, mode, NULL, &err) == CAI_OK);
    }
    CU_ASSERT_FATAL(cai_gauss_graph_add_factor(L->g, term, &L->x[P->T], 1, CAI_MODE_NORMAL, NULL, &err) == CAI_OK);
    /* the graph holds its own references: memory is one copy, not T */
    CU_ASSERT(cai_gauss_graph_potential_bytes(L->g) ==
              cai_gauss_potential_bytes(dyn) + cai_gauss_potential_bytes(rew) +
                  cai_gauss_potential_bytes(term) + cai_gauss_potential_bytes(pri));
    cai_gauss_potential_unref(dyn);
    cai_gauss_potential_unref(rew);
    cai_gauss_potential_unref(term);
    cai_gauss_potential_unref(pri);
    CU_ASSERT_FATAL(cai_gauss_plan_create(L->g, NULL, &L->plan, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_plan_root_of(L->plan, L->x[P->T]) == L->x[0]);
    CU_ASSERT_FATAL(cai_gauss_workspace_create(L->plan, &L->ws, &err) == CAI_OK);
    if (run)
        CU_ASSERT_FATAL(cai_gauss_plan_execute(L->plan, L->ws, &err) == CAI_OK);
}

static void lqr_build(const lqr *P, cai_factor_mode mode, lqr_graph *L)
{
    lqr_build_run(P, mode, L, true);
}

static void lqr_free(lqr_graph *L)
{
    cai_gauss_workspace_free(L->ws);
    cai_gauss_plan_free(L->plan);
    cai_gauss_graph_free(L->g);
}

/* Information-form backward recursion with constants:
 * exact E_{x'~N(mu,S)} exp(-1/2 x'Jx + h'x) = |M|^-1/2 exp(-1/2 mu'J M^-1 mu
 * + h'M'^-1 mu + 1/2 h'S M'^-1 h), M = I + S J; expectation: J, h kept,
 * c - 1/2 tr(J S). Then the action integral (Schur complement). */
typedef struct lqr_ref {
    double J[TMAX + 1][NX * NX], h[TMAX + 1][NX], c[TMAX + 1];
    double K[TMAX][NU * NX], k[TMAX][NU], Su[TMAX][NU * NU], logz;
} lqr_ref;

static void expect_exact(size_t n, const double *S, const double *J, const double *h,
                         double c, double *Jt, double *ht, double *ct)
{
    double M[NX * NX], Mi[NX * NX], G[NX * NX], Gh[NX];
    mul(false, false, n, n, n, 1.0, S, J, 0.0, M);
    for (size_t i = 0; i < n; i++)
        M[i * n + i] += 1.0;
    double ld = lu(n, M, Mi);
    mul(false, false, n, n, n, 1.0, J, Mi, 0.0, Jt);
    mul(true, false, n, 1, n, 1.0, Mi, h, 0.0, ht);
    mul(false, true, n, n, n, 1.0, S, Mi, 0.0, G);
    mul(false, false, n, 1, n, 1.0, G, h, 0.0, Gh);
    *ct = c + 0.5 * cblas_ddot((int)n, h, 1, Gh, 1) - 0.5 * ld;
}

static void lqr_reference(const lqr *P, bool expect, lqr_ref *R)
{
    size_t n = P->n, m = P->m, N = n + m, T = P->T;
    memcpy(R->J[T], P->QT, n * n * sizeof(double));
    memcpy(R->h[T], P->qT, n * sizeof(double));
    R->c[T] = 0.0;
    for (size_t t = T; t-- > 0;) {
        double Jt[NX * NX], ht[NX], ct, Hz[DM * DM], hz[DM], JF[NX * DM], v[NX];
        if (expect) {
            memcpy(Jt, R->J[t + 1], sizeof Jt);
            memcpy(ht, R->h[t + 1], sizeof ht);
            ct = R->c[t + 1];
            for (size_t i = 0; i < n * n; i++)
                ct -= 0.5 * R->J[t + 1][i] * P->S[i]; /* tr(J S), both symmetric */
        } else {
            expect_exact(n, P->S, R->J[t + 1], R->h[t + 1], R->c[t + 1], Jt, ht, &ct);
        }
        memcpy(Hz, P->Hr, N * N * sizeof(double));
        mul(false, false, n, N, n, 1.0, Jt, P->AB, 0.0, JF);
        mul(true, false, N, N, n, 1.0, P->AB, JF, 1.0, Hz);
        mul(false, false, n, 1, n, 1.0, Jt, P->c, 0.0, v);
        for (size_t i = 0; i < n; i++)
            v[i] = ht[i] - v[i];
        memcpy(hz, P->hr, N * sizeof(double));
        mul(true, false, N, 1, n, 1.0, P->AB, v, 1.0, hz);
        /* ht'c - 1/2 c'Jt c = 1/2 (ht + v)'c */
        double cz = ct + 0.5 * (cblas_ddot((int)n, ht, 1, P->c, 1) +
                                cblas_ddot((int)n, v, 1, P->c, 1));
        double Huu[NU * NU], Hux[NU * NX], Hi[NU * NU];
        for (size_t i = 0; i < m; i++) {
            for (size_t j = 0; j < m; j++)
                Huu[i * m + j] = Hz[(n + i) * N + n + j];
            for (size_t j = 0; j < n; j++)
                Hux[i * n + j] = Hz[(n + i) * N + j];
        }
        double ld = lu(m, Huu, Hi);
        memcpy(R->Su[t], Hi, m * m * sizeof(double));
        mul(false, false, m, n, m, -1.0, Hi, Hux, 0.0, R->K[t]);
        mul(false, false, m, 1, m, 1.0, Hi, hz + n, 0.0, R->k[t]);
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < n; j++)
                R->J[t][i * n + j] = Hz[i * N + j];
            R->h[t][i] = hz[i];
        }
        mul(true, false, n, n, m, 1.0, Hux, R->K[t], 1.0, R->J[t]);  /* - Hxu Hi Hux */
        mul(true, false, n, 1, m, 1.0, Hux, R->k[t], -1.0, R->h[t]); /* hx - Hxu Hi hu */
        for (size_t i = 0; i < n; i++)
            R->h[t][i] = -R->h[t][i];
        R->c[t] = cz + 0.5 * cblas_ddot((int)m, hz + n, 1, R->k[t], 1) +
                  0.5 * (double)m * LOG2PI - 0.5 * ld;
    }
    double Jt[NX * NX], ht[NX], ct; /* log Z: the prior (normal mode) is exact */
    expect_exact(n, P->S0, R->J[0], R->h[0], R->c[0], Jt, ht, &ct);
    double v[NX];
    mul(false, false, n, 1, n, 1.0, Jt, P->x0, 0.0, v);
    R->logz = ct - 0.5 * cblas_ddot((int)n, P->x0, 1, v, 1) +
              cblas_ddot((int)n, ht, 1, P->x0, 1);
}

/* The textbook recursion in P = alpha J: P~ = P (I + Sigma P / alpha)^-1,
 * P_t = Q + A'P~A - A'P~B (R + B'P~B)^-1 B'P~A, K = -(R + B'P~B)^-1 B'P~A,
 * policy covariance alpha (R + B'P~B)^-1. */
static void riccati(const lqr *P, double Pt[][NX * NX], double K[][NU * NX],
                    double C[][NU * NU])
{
    size_t n = P->n, m = P->m, N = n + m;
    double a = P->alpha, A[NX * NX], B[NX * NU], Q[NX * NX], R[NU * NU];
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++) {
            A[i * n + j] = P->AB[i * N + j];
            Q[i * n + j] = a * P->Hr[i * N + j];
            Pt[P->T][i * n + j] = a * P->QT[i * n + j];
        }
        for (size_t j = 0; j < m; j++)
            B[i * m + j] = P->AB[i * N + n + j];
    }
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++)
            R[i * m + j] = a * P->Hr[(n + i) * N + n + j];
    for (size_t t = P->T; t-- > 0;) {
        double M[NX * NX], Mi[NX * NX], Pw[NX * NX], PA[NX * NX], PB[NX * NU],
            G[NU * NU], Gi[NU * NU], BPA[NU * NX];
        mul(false, false, n, n, n, 1.0 / a, P->S, Pt[t + 1], 0.0, M);
        for (size_t i = 0; i < n; i++)
            M[i * n + i] += 1.0;
        lu(n, M, Mi);
        mul(false, false, n, n, n, 1.0, Pt[t + 1], Mi, 0.0, Pw);
        mul(false, false, n, n, n, 1.0, Pw, A, 0.0, PA);
        mul(false, false, n, m, n, 1.0, Pw, B, 0.0, PB);
        memcpy(G, R, sizeof G);
        mul(true, false, m, m, n, 1.0, B, PB, 1.0, G);
        lu(m, G, Gi);
        mul(true, false, m, n, n, 1.0, B, PA, 0.0, BPA);
        mul(false, false, m, n, m, -1.0, Gi, BPA, 0.0, K[t]);
        memcpy(Pt[t], Q, sizeof Q);
        mul(true, false, n, n, n, 1.0, A, PA, 1.0, Pt[t]);
        mul(true, false, n, n, m, 1.0, BPA, K[t], 1.0, Pt[t]);
        for (size_t i = 0; i < m * m; i++)
            C[t][i] = a * Gi[i];
    }
}

/* cai against the textbook recursion (no linear terms) and against the
 * information-form reference with constants, policy included. */
static void check_lqr(const lqr *P, cai_factor_mode mode, bool textbook)
{
    size_t n = P->n, m = P->m;
    lqr_graph L;
    lqr_ref R;
    lqr_build(P, mode, &L);
    lqr_reference(P, mode == CAI_MODE_EXPECTATION, &R);
    static double Pt[TMAX + 1][NX * NX], Kt[TMAX][NU * NX], Ct[TMAX][NU * NU];
    if (textbook)
        riccati(P, Pt, Kt, Ct);
    cai_error err;
    for (size_t t = 0; t <= P->T; t++) {
        double J[NX * NX], h[NX], c, K[NU * NX], k[NU], S[NU * NU];
        CU_ASSERT_FATAL(cai_gauss_query_upward(L.ws, L.x[t], J, h, &c, &err) == CAI_OK);
        close_v(J, R.J[t], n * n, TOL, &worst_riccati);
        close_v(h, R.h[t], n, TOL, &worst_riccati);
        close_v(&c, &R.c[t], 1, TOL, &worst_riccati);
        if (textbook) {
            for (size_t i = 0; i < n * n; i++)
                J[i] *= P->alpha; /* P_t = alpha J_t */
            close_v(J, Pt[t], n * n, TOL, &worst_riccati);
        }
        if (t == P->T)
            break;
        CU_ASSERT_FATAL(cai_gauss_query_conditional(L.ws, L.u[t], L.x[t], K, k, S, &err) == CAI_OK);
        close_v(K, R.K[t], m * n, TOL, &worst_riccati);
        close_v(k, R.k[t], m, TOL, &worst_riccati);
        close_v(S, R.Su[t], m * m, TOL, &worst_riccati);
        if (textbook) {
            close_v(K, Kt[t], m * n, TOL, &worst_riccati);
            close_v(S, Ct[t], m * m, TOL, &worst_riccati);
        }
    }
    double lz = cai_gauss_query_log_z(L.ws);
    close_v(&lz, &R.logz, 1, TOL, &worst_riccati);
    if (mode == CAI_MODE_EXPECTATION) { /* q: rho pushed through pi_t and p */
        double mx[NX], Px[NX * NX] = {0}, mean[NX], cov[NX * NX];
        memcpy(mx, P->x0, sizeof mx);
        memcpy(Px, P->S0, sizeof Px);
        for (size_t t = 0; t <= P->T; t++) {
            CU_ASSERT_FATAL(cai_gauss_query_marginal(L.ws, L.x[t], mean, cov, &err) == CAI_OK);
            close_v(mean, mx, n, TOL, &worst_riccati);
            close_v(cov, Px, n * n, TOL, &worst_riccati);
            if (t == P->T)
                break;
            size_t N = n + m;
            double mz[NX + NU], Cz[(NX + NU) * (NX + NU)], KP[NU * NX], KPK[NU * NU], ACz[NX * (NX + NU)];
            memcpy(mz, mx, n * sizeof(double));
            mul(false, false, m, 1, n, 1.0, R.K[t], mx, 0.0, mz + n);
            mul(false, false, m, n, n, 1.0, R.K[t], Px, 0.0, KP);
            mul(false, true, m, m, n, 1.0, KP, R.K[t], 0.0, KPK);
            for (size_t i = 0; i < N; i++)
                for (size_t j = 0; j < N; j++)
                    Cz[i * N + j] = i < n && j < n     ? Px[i * n + j]
                                    : i >= n && j < n  ? KP[(i - n) * n + j]
                                    : i < n && j >= n  ? KP[(j - n) * n + i]
                                                       : KPK[(i - n) * m + j - n] + R.Su[t][(i - n) * m + j - n];
            for (size_t i = 0; i < m; i++)
                mz[n + i] += R.k[t][i];
            CU_ASSERT_FATAL(cai_gauss_query_marginal(L.ws, L.u[t], mean, cov, &err) == CAI_OK);
            close_v(mean, mz + n, m, TOL, &worst_riccati);
            for (size_t i = 0; i < m; i++)
                close_v(cov + i * m, Cz + (n + i) * N + n, m, TOL, &worst_riccati);
            mul(false, false, n, 1, N, 1.0, P->AB, mz, 0.0, mx);
            for (size_t i = 0; i < n; i++)
                mx[i] += P->c[i];
            mul(false, false, n, N, N, 1.0, P->AB, Cz, 0.0, ACz);
            memcpy(Px, P->S, sizeof Px);
            mul(false, true, n, n, N, 1.0, ACz, P->AB, 1.0, Px);
        }
    }
    lqr_free(&L);
}

static void test_riccati(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 61);
    lqr P;
    for (size_t s = 0; s < 6; s++) {
        size_t n = 2 + s % 3, m = 1 + s % 2;
        double alpha = 0.4 + 0.3 * (double)s;
        lqr_random(r, &P, n, m, 8, alpha, 0.0, false, false, 0.0);
        check_lqr(&P, CAI_MODE_NORMAL, true); /* Sigma = 0: LQR */
        lqr_random(r, &P, n, m, 8, alpha, 0.3, false, false, 0.0);
        check_lqr(&P, CAI_MODE_NORMAL, true); /* risk seeking */
        lqr_random(r, &P, n, m, 8, alpha, 0.3, true, false, 0.0);
        check_lqr(&P, CAI_MODE_NORMAL, true); /* singular Sigma */
        lqr_random(r, &P, n, m, 10, alpha, 0.3, s % 2, true, 0.5 * (double)(s % 2));
        check_lqr(&P, CAI_MODE_NORMAL, false); /* affine, linear terms, prior */
    }
    gsl_rng_free(r);
}

/* Expectation mode: certainty equivalence (J and h of the Sigma = 0
 * recursion, constants lower by 1/2 tr(J Sigma)), q's marginals. */
static void test_expectation(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 62);
    lqr P, P0;
    for (size_t s = 0; s < 6; s++) {
        lqr_random(r, &P, 2 + s % 3, 1 + s % 2, 9, 0.5 + 0.2 * (double)s, 0.4, s % 3 == 2,
                   s % 2, 0.0);
        check_lqr(&P, CAI_MODE_EXPECTATION, false);
        P0 = P;
        memset(P0.S, 0, sizeof P0.S);
        lqr_ref R, R0;
        lqr_reference(&P, true, &R);
        lqr_reference(&P0, false, &R0);
        for (size_t t = 0; t <= P.T; t++) {
            close_v(R.J[t], R0.J[t], P.n * P.n, 1e-12, NULL);
            close_v(R.h[t], R0.h[t], P.n, 1e-12, NULL);
        }
    }
    /* a prior in expectation mode: log Z = E_prior[log m], q(x) = the prior */
    double mu[2] = {0.3, -1.2}, S[4] = {2.0, 0.5, 0.5, 1.0}, J[4] = {1.5, -0.2, -0.2, 0.7},
           h[2] = {0.4, 0.9}, mean[2], cov[4];
    size_t two = 2, x;
    cai_error err;
    cai_gauss_graph *g;
    cai_gauss_potential *pri, *q;
    CU_ASSERT_FATAL(cai_gauss_graph_create(&g, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_gauss_graph_add_variable(g, "x", 2, &x, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_gauss_prior_create(2, mu, S, &pri, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_gauss_quadratic_create(1, &two, J, h, 0.25, &q, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_graph_add_factor(g, pri, &x, 1, CAI_MODE_EXPECTATION, NULL, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_graph_add_factor(g, q, &x, 1, CAI_MODE_NORMAL, NULL, &err) == CAI_OK);
    cai_gauss_plan *plan;
    cai_gauss_workspace *ws;
    CU_ASSERT_FATAL(cai_gauss_plan_create(g, NULL, &plan, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_gauss_workspace_create(plan, &ws, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_gauss_plan_execute(plan, ws, &err) == CAI_OK);
    double Jmu[2], want;
    mul(false, false, 2, 1, 2, 1.0, J, mu, 0.0, Jmu);
    want = 0.25 + h[0] * mu[0] + h[1] * mu[1] -
           0.5 * (mu[0] * Jmu[0] + mu[1] * Jmu[1] + J[0] * S[0] + 2 * J[1] * S[1] + J[3] * S[3]);
    CAI_ASSERT_CLOSE(cai_gauss_query_log_z(ws), want, TOL);
    CU_ASSERT(cai_gauss_query_marginal(ws, x, mean, cov, &err) == CAI_OK);
    close_v(mean, mu, 2, TOL, NULL);
    close_v(cov, S, 4, TOL, NULL);
    cai_gauss_workspace_free(ws);
    cai_gauss_plan_free(plan);
    cai_gauss_potential_unref(pri);
    cai_gauss_potential_unref(q);
    cai_gauss_graph_free(g);
    gsl_rng_free(r);
}

/* ---- dense joints ---- */

static void amap_stack(amap *z, const amap *a, const amap *b, size_t D)
{
    memset(z, 0, sizeof *z);
    z->n = a->n + b->n;
    memcpy(z->P, a->P, a->n * D * sizeof(double));
    memcpy(z->P + a->n * D, b->P, b->n * D * sizeof(double));
    memcpy(z->p, a->p, a->n * sizeof(double));
    memcpy(z->p + a->n, b->p, b->n * sizeof(double));
}

/* An LQR problem as one dense Gaussian: every variable a coordinate
 * (densities for Sigma and S0), or for det only the actions, the states
 * following by substitution. */
static void lqr_dense(const lqr *P, bool det, amap *xs, amap *us, dense *d)
{
    size_t n = P->n, m = P->m, T = P->T, N = n + m, off = 0, D;
    double H[DM * DM], h[DM], c;
    memset(d, 0, sizeof *d);
    D = d->D = det ? T * m : (T + 1) * n + T * m;
    if (det) {
        amap_fixed(&xs[0], n, P->x0);
    } else {
        amap_free(&xs[0], n, 0, D);
        off = n;
        density(n, 0, NULL, P->x0, P->S0, H, h, &c);
        const amap *z[1] = {&xs[0]};
        dn_add(d, z, 1, H, h, c);
    }
    for (size_t t = 0; t < T; t++) {
        amap_free(&us[t], m, off, D);
        off += m;
        const amap *z[3] = {&xs[t], &us[t], &xs[t + 1]};
        if (det) {
            amap zz;
            amap_stack(&zz, &xs[t], &us[t], D);
            amap_lin(&xs[t + 1], n, P->AB, &zz, P->c, D);
        } else {
            amap_free(&xs[t + 1], n, off, D);
            off += n;
            density(n, N, P->AB, P->c, P->S, H, h, &c);
            dn_add(d, z, 3, H, h, c);
        }
        dn_add(d, z, 2, P->Hr, P->hr, 0.0);
    }
    const amap *z[1] = {&xs[T]};
    dn_add(d, z, 1, P->QT, P->qT, 0.0);
}

static void compare_marginal(const cai_gauss_workspace *ws, size_t var, const amap *a,
                             size_t D, const double *mean, const double *cov)
{
    double m[8], C[64], gm[8], gC[64];
    cai_error err;
    dn_marg(a, D, mean, cov, m, C);
    CU_ASSERT_FATAL(cai_gauss_query_marginal(ws, var, gm, gC, &err) == CAI_OK);
    close_v(gm, m, a->n, TOL, &worst_dense);
    close_v(gC, C, a->n * a->n, TOL, &worst_dense);
}

/* p(x | y) from the dense joint of (y, x) */
static void compare_conditional(const cai_gauss_workspace *ws, size_t x, size_t y,
                                const amap *ax, const amap *ay, size_t D,
                                const double *mean, const double *cov)
{
    amap z;
    size_t nx = ax->n, ny = ay->n, nz = nx + ny;
    double mz[16], Cz[256], Cyy[64], Cyi[64], Cxy[64], K[64], k[8], S[64];
    double gK[64], gk[8], gS[64];
    amap_stack(&z, ay, ax, D);
    dn_marg(&z, D, mean, cov, mz, Cz);
    for (size_t i = 0; i < ny; i++)
        for (size_t j = 0; j < ny; j++)
            Cyy[i * ny + j] = Cz[i * nz + j];
    for (size_t i = 0; i < nx; i++)
        for (size_t j = 0; j < ny; j++)
            Cxy[i * ny + j] = Cz[(ny + i) * nz + j];
    lu(ny, Cyy, Cyi);
    mul(false, false, nx, ny, ny, 1.0, Cxy, Cyi, 0.0, K);
    memcpy(k, mz + ny, nx * sizeof(double));
    mul(false, false, nx, 1, ny, -1.0, K, mz, 1.0, k);
    for (size_t i = 0; i < nx; i++)
        for (size_t j = 0; j < nx; j++)
            S[i * nx + j] = Cz[(ny + i) * nz + ny + j];
    mul(false, true, nx, nx, ny, -1.0, K, Cxy, 1.0, S);
    cai_error err;
    CU_ASSERT_FATAL(cai_gauss_query_conditional(ws, x, y, gK, gk, gS, &err) == CAI_OK);
    close_v(gK, K, nx * ny, 1e-9, &worst_dense);
    close_v(gk, k, nx, 1e-9, &worst_dense);
    close_v(gS, S, nx * nx, 1e-9, &worst_dense);
}

/* T = 1..3 against the dense joint: noisy with a Gaussian x0, and
 * deterministic with a point mass (singular marginals) */
static void test_dense_lqr(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 63);
    static amap xs[TMAX + 1], us[TMAX];
    static dense d;
    double mean[DM], cov[DM * DM];
    lqr P;
    for (size_t s = 0; s < 12; s++) {
        bool det = s % 2;
        lqr_random(r, &P, 2 + s % 2, 1 + (s / 2) % 2, 1 + (s / 4) % 3, 0.8, det ? 0.0 : 0.5,
                   false, true, det ? 0.0 : 0.7);
        lqr_graph L;
        lqr_build(&P, CAI_MODE_NORMAL, &L);
        lqr_dense(&P, det, xs, us, &d);
        double lz = dn_solve(&d, mean, cov), glz = cai_gauss_query_log_z(L.ws);
        close_v(&glz, &lz, 1, TOL, &worst_dense);
        for (size_t t = 0; t <= P.T; t++) {
            compare_marginal(L.ws, L.x[t], &xs[t], d.D, mean, cov);
            if (t < P.T) {
                compare_marginal(L.ws, L.u[t], &us[t], d.D, mean, cov);
                if (!det)
                    compare_conditional(L.ws, L.u[t], L.x[t], &us[t], &xs[t], d.D, mean, cov);
            }
        }
        lqr_free(&L);
    }
    gsl_rng_free(r);
}

/* ---- Kalman smoothing: filter + RTS smoother written here ---- */

typedef struct lgssm {
    size_t n, p, T;
    double A[NX * NX], c[NX], Q[NX * NX], C[NX * NX], R[NX * NX], m0[NX], P0[NX * NX],
        y[TMAX + 1][NX];
} lgssm;

static double kalman_rts(const lgssm *M, double ms[][NX], double Ps[][NX * NX])
{
    size_t n = M->n, p = M->p, T = M->T;
    static double mp[TMAX + 1][NX], Pp[TMAX + 1][NX * NX], mf[TMAX + 1][NX],
        Pf[TMAX + 1][NX * NX];
    double m[NX], P[NX * NX], ll = 0.0;
    memcpy(m, M->m0, sizeof m);
    memcpy(P, M->P0, sizeof P);
    for (size_t t = 0; t <= T; t++) {
        double CP[NX * NX], S[NX * NX], Si[NX * NX], Kg[NX * NX], e[NX], Se[NX];
        memcpy(mp[t], m, sizeof m);
        memcpy(Pp[t], P, sizeof P);
        mul(false, false, p, n, n, 1.0, M->C, P, 0.0, CP);
        memcpy(S, M->R, sizeof S);
        mul(false, true, p, p, n, 1.0, CP, M->C, 1.0, S);
        double ld = lu(p, S, Si);
        mul(true, false, n, p, p, 1.0, CP, Si, 0.0, Kg);
        memcpy(e, M->y[t], sizeof e);
        mul(false, false, p, 1, n, -1.0, M->C, m, 1.0, e);
        mul(false, false, p, 1, p, 1.0, Si, e, 0.0, Se);
        ll += -0.5 * cblas_ddot((int)p, e, 1, Se, 1) - 0.5 * ld - 0.5 * (double)p * LOG2PI;
        memcpy(mf[t], m, sizeof m);
        mul(false, false, n, 1, p, 1.0, Kg, e, 1.0, mf[t]);
        memcpy(Pf[t], P, sizeof P);
        mul(false, false, n, n, p, -1.0, Kg, CP, 1.0, Pf[t]);
        memcpy(m, M->c, sizeof m);
        mul(false, false, n, 1, n, 1.0, M->A, mf[t], 1.0, m);
        double AP[NX * NX];
        mul(false, false, n, n, n, 1.0, M->A, Pf[t], 0.0, AP);
        memcpy(P, M->Q, sizeof P);
        mul(false, true, n, n, n, 1.0, AP, M->A, 1.0, P);
    }
    memcpy(ms[T], mf[T], sizeof ms[T]);
    memcpy(Ps[T], Pf[T], sizeof Ps[T]);
    for (size_t t = T; t-- > 0;) {
        double Pi[NX * NX], PA[NX * NX], G[NX * NX], dm[NX], dP[NX * NX], GdP[NX * NX];
        lu(n, Pp[t + 1], Pi);
        mul(false, true, n, n, n, 1.0, Pf[t], M->A, 0.0, PA);
        mul(false, false, n, n, n, 1.0, PA, Pi, 0.0, G);
        for (size_t i = 0; i < n; i++)
            dm[i] = ms[t + 1][i] - mp[t + 1][i];
        for (size_t i = 0; i < n * n; i++)
            dP[i] = Ps[t + 1][i] - Pp[t + 1][i];
        memcpy(ms[t], mf[t], sizeof ms[t]);
        mul(false, false, n, 1, n, 1.0, G, dm, 1.0, ms[t]);
        mul(false, false, n, n, n, 1.0, G, dP, 0.0, GdP);
        memcpy(Ps[t], Pf[t], sizeof Ps[t]);
        mul(false, true, n, n, n, 1.0, GdP, G, 1.0, Ps[t]);
    }
    return ll;
}

static void test_kalman(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 64);
    static lgssm M;
    static double ms[TMAX + 1][NX], Ps[TMAX + 1][NX * NX];
    cai_error err;
    for (size_t s = 0; s < 4; s++) {
        size_t n = M.n = 2 + s % 3, p = M.p = 1 + s % 2, T = M.T = TMAX;
        randm(r, n, n, 0.4, M.A);
        for (size_t i = 0; i < n; i++)
            M.A[i * n + i] += 0.9;
        randm(r, n, 1, 0.3, M.c);
        randm(r, p, n, 1.0, M.C);
        spd(r, n, 0.1, M.Q);
        spd(r, p, 0.2, M.R);
        spd(r, n, 0.5, M.P0);
        randm(r, n, 1, 1.0, M.m0);
        for (size_t t = 0; t <= T; t++)
            randm(r, p, 1, 2.0, M.y[t]);
        cai_gauss_graph *g;
        cai_gauss_potential *dyn, *obs, *pri;
        size_t x[TMAX + 1], y[TMAX + 1];
        CU_ASSERT_FATAL(cai_gauss_graph_create(&g, &err) == CAI_OK);
        CU_ASSERT_FATAL(cai_gauss_linear_create(1, &n, n, M.A, M.c, M.Q, &dyn, &err) == CAI_OK);
        CU_ASSERT_FATAL(cai_gauss_linear_create(1, &n, p, M.C, NULL, M.R, &obs, &err) == CAI_OK);
        CU_ASSERT_FATAL(cai_gauss_prior_create(n, M.m0, M.P0, &pri, &err) == CAI_OK);
        for (size_t t = 0; t <= T; t++) {
            char name[16];
            snprintf(name, sizeof name, "x%zu", t);
            CU_ASSERT_FATAL(cai_gauss_graph_add_variable(g, name, n, &x[t], &err) == CAI_OK);
            snprintf(name, sizeof name, "y%zu", t);
            CU_ASSERT_FATAL(cai_gauss_graph_add_variable(g, name, p, &y[t], &err) == CAI_OK);
            CU_ASSERT(cai_gauss_graph_set_evidence(g, y[t], M.y[t], &err) == CAI_OK);
            size_t so[2] = {x[t], y[t]};
            CU_ASSERT(cai_gauss_graph_add_factor(g, obs, so, 2, CAI_MODE_NORMAL, NULL, &err) == CAI_OK);
            if (t > 0) {
                size_t sd[2] = {x[t - 1], x[t]};
                CU_ASSERT(cai_gauss_graph_add_factor(g, dyn, sd, 2, CAI_MODE_NORMAL, NULL, &err) == CAI_OK);
            }
        }
        CU_ASSERT(cai_gauss_graph_add_factor(g, pri, x, 1, CAI_MODE_NORMAL, NULL, &err) == CAI_OK);
        cai_gauss_potential_unref(dyn);
        cai_gauss_potential_unref(obs);
        cai_gauss_potential_unref(pri);
        /* rooted at x0 (the backward pass is an information filter) and at
         * x_T (the dynamics become densities: a forward filter) */
        for (int root_end = 0; root_end < 2; root_end++) {
            cai_gauss_plan_options o = cai_gauss_plan_options_default();
            o.root = root_end ? x[T] : CAI_NONE;
            cai_gauss_plan *plan;
            cai_gauss_workspace *ws;
            CU_ASSERT_FATAL(cai_gauss_plan_create(g, &o, &plan, &err) == CAI_OK);
            CU_ASSERT(cai_gauss_plan_root_of(plan, y[3]) == (root_end ? x[T] : x[0]));
            CU_ASSERT_FATAL(cai_gauss_workspace_create(plan, &ws, &err) == CAI_OK);
            for (int pass = 0; pass < 2; pass++) {
                for (size_t t = 0; t <= T; t++) { /* pass 1: new data, same plan */
                    if (pass == 1)
                        randm(r, p, 1, 2.0, M.y[t]);
                    CU_ASSERT(cai_gauss_workspace_set_evidence(ws, y[t], M.y[t], &err) == CAI_OK);
                }
                double ll = kalman_rts(&M, ms, Ps), mean[NX], cov[NX * NX];
                CU_ASSERT_FATAL(cai_gauss_plan_execute(plan, ws, &err) == CAI_OK);
                double lz = cai_gauss_query_log_z(ws);
                close_v(&lz, &ll, 1, TOL, &worst_kalman);
                for (size_t t = 0; t <= T; t++) {
                    CU_ASSERT_FATAL(cai_gauss_query_marginal(ws, x[t], mean, cov, &err) == CAI_OK);
                    close_v(mean, ms[t], n, TOL, &worst_kalman);
                    close_v(cov, Ps[t], n * n, TOL, &worst_kalman);
                    CU_ASSERT_FATAL(cai_gauss_query_marginal(ws, y[t], mean, cov, &err) == CAI_OK);
                    close_v(mean, M.y[t], p, 0.0, NULL);
                    CU_ASSERT(cov[0] == 0.0);
                }
            }
            cai_gauss_workspace_free(ws);
            cai_gauss_plan_free(plan);
        }
        cai_gauss_graph_free(g);
    }
    gsl_rng_free(r);
}

/* ---- random trees with evidence and any root, against the dense joint ---- */

typedef struct tfac { size_t k, sc[3]; double H[81], h[9], c; } tfac;

static void tree_quad(cai_gauss_graph *g, tfac *F, size_t k, const size_t *sc,
                      const size_t *dims, const double *H, const double *h, double c)
{
    cai_gauss_potential *q;
    cai_error err;
    CU_ASSERT_FATAL(cai_gauss_quadratic_create(k, dims, H, h, c, &q, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_gauss_graph_add_factor(g, q, sc, k, CAI_MODE_NORMAL, NULL, &err) == CAI_OK);
    cai_gauss_potential_unref(q);
    size_t D = 0;
    for (size_t i = 0; i < k; i++)
        D += dims[i];
    *F = (tfac){.k = k, .c = c};
    memcpy(F->sc, sc, k * sizeof(size_t));
    memcpy(F->H, H, D * D * sizeof(double));
    memcpy(F->h, h, D * sizeof(double));
}

static void tree_linear(gsl_rng *r, cai_gauss_graph *g, tfac *F, size_t k,
                        const size_t *sc, const size_t *dims)
{
    size_t n = dims[k - 1], Dp = 0;
    for (size_t i = 0; i + 1 < k; i++)
        Dp += dims[i];
    double A[3 * 6], c[3], S[9];
    randm(r, n, Dp, 1.0, A);
    randm(r, n, 1, 1.0, c);
    spd(r, n, 0.3, S);
    cai_gauss_potential *q;
    cai_error err;
    CU_ASSERT_FATAL(cai_gauss_linear_create(k - 1, dims, n, A, c, S, &q, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_gauss_graph_add_factor(g, q, sc, k, CAI_MODE_NORMAL, NULL, &err) == CAI_OK);
    cai_gauss_potential_unref(q);
    *F = (tfac){.k = k};
    memcpy(F->sc, sc, k * sizeof(size_t));
    density(n, Dp, A, c, S, F->H, F->h, &F->c);
}

static void test_random_trees(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 65);
    static dense d;
    static amap maps[12];
    double mean[DM], cov[DM * DM], H[81], h[9];
    cai_error err;
    for (size_t trial = 0; trial < 60; trial++) {
        cai_gauss_graph *g;
        tfac F[30];
        size_t nf = 0, nv = 0, dim[12], pairs[12][2], np = 0, target = 3 + gsl_rng_uniform_int(r, 7);
        double ev[12][3];
        bool cl[12] = {false};
        CU_ASSERT_FATAL(cai_gauss_graph_create(&g, &err) == CAI_OK);
#define NEWVAR()                                                                         \
    (dim[nv] = 1 + gsl_rng_uniform_int(r, 3),                                            \
     snprintf(name, sizeof name, "v%zu", nv),                                            \
     cai_gauss_graph_add_variable(g, name, dim[nv], NULL, &err), nv++)
#define UNARY(v)                                                                         \
    (spd(r, dim[v], 0.5, H), randm(r, dim[v], 1, 1.0, h),                                \
     tree_quad(g, &F[nf++], 1, (size_t[]){v}, &dim[v], H, h, 0.1))
        char name[32];
        NEWVAR();
        tree_linear(r, g, &F[nf++], 1, (size_t[]){0}, dim); /* a prior on v0 */
        while (nv < target) {
            size_t old = gsl_rng_uniform_int(r, nv), kind = gsl_rng_uniform_int(r, 3);
            size_t nw = NEWVAR();
            if (kind == 0 && nv < 11 && gsl_rng_uniform(r) < 0.5) { /* two parents */
                size_t w = NEWVAR();
                UNARY(w);
                size_t sc[3] = {old, w, nw}, dd[3] = {dim[old], dim[w], dim[nw]};
                tree_linear(r, g, &F[nf++], 3, sc, dd);
                pairs[np][0] = w, pairs[np++][1] = old;
            } else if (kind == 0) { /* old -> new */
                size_t sc[2] = {old, nw}, dd[2] = {dim[old], dim[nw]};
                tree_linear(r, g, &F[nf++], 2, sc, dd);
            } else if (kind == 1) { /* new -> old: a density toward the root */
                UNARY(nw);
                size_t sc[2] = {nw, old}, dd[2] = {dim[nw], dim[old]};
                tree_linear(r, g, &F[nf++], 2, sc, dd);
            } else { /* a PSD pairwise quadratic */
                UNARY(nw);
                size_t sc[2] = {old, nw}, dd[2] = {dim[old], dim[nw]}, D = dd[0] + dd[1];
                spd(r, D, 0.0, H);
                randm(r, D, 1, 1.0, h);
                tree_quad(g, &F[nf++], 2, sc, dd, H, h, -0.3);
            }
            pairs[np][0] = nw, pairs[np++][1] = old;
        }
        for (size_t v = 1; v < nv; v++)
            if ((cl[v] = gsl_rng_uniform(r) < 0.25)) {
                randm(r, dim[v], 1, 1.0, ev[v]);
                CU_ASSERT(cai_gauss_graph_set_evidence(g, v, ev[v], &err) == CAI_OK);
            }
        cai_gauss_plan_options o = cai_gauss_plan_options_default();
        if (trial % 2)
            o.root = gsl_rng_uniform_int(r, nv);
        cai_gauss_plan *plan;
        cai_gauss_workspace *ws;
        CU_ASSERT_FATAL(cai_gauss_plan_create(g, &o, &plan, &err) == CAI_OK);
        CU_ASSERT(cai_gauss_plan_n_trees(plan) == 1);
        CU_ASSERT_FATAL(cai_gauss_workspace_create(plan, &ws, &err) == CAI_OK);
        CU_ASSERT_FATAL(cai_gauss_plan_execute(plan, ws, &err) == CAI_OK);
        memset(&d, 0, sizeof d);
        for (size_t v = 0; v < nv; v++)
            if (!cl[v])
                d.D += dim[v];
        for (size_t v = 0, off = 0; v < nv; v++) {
            if (cl[v]) {
                amap_fixed(&maps[v], dim[v], ev[v]);
            } else {
                amap_free(&maps[v], dim[v], off, d.D);
                off += dim[v];
            }
        }
        for (size_t i = 0; i < nf; i++) {
            const amap *z[3] = {&maps[F[i].sc[0]], &maps[F[i].sc[F[i].k > 1]],
                                &maps[F[i].sc[F[i].k - 1]]};
            dn_add(&d, z, F[i].k, F[i].H, F[i].h, F[i].c);
        }
        double lz = dn_solve(&d, mean, cov), glz = cai_gauss_query_log_z(ws);
        close_v(&glz, &lz, 1, TOL, &worst_dense);
        for (size_t v = 0; v < nv; v++)
            compare_marginal(ws, v, &maps[v], d.D, mean, cov);
        for (size_t i = 0; i < np && !(trial % 2); i++)
            if (!cl[pairs[i][1]])
                compare_conditional(ws, pairs[i][0], pairs[i][1], &maps[pairs[i][0]],
                                    &maps[pairs[i][1]], d.D, mean, cov);
        cai_gauss_workspace_free(ws);
        cai_gauss_plan_free(plan);
        cai_gauss_graph_free(g);
    }
    gsl_rng_free(r);
}

/* ---- messages, soft evidence, upward_only ---- */

static void test_messages(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 66);
    cai_error err;
    cai_gauss_message *m;
    double mu[3], C[9], mean[3], cov[9], lm;
    CU_ASSERT_FATAL(cai_gauss_message_create(3, &m, &err) == CAI_OK);
    randm(r, 3, 1, 1.0, mu);
    spd(r, 3, 0.5, C);
    CU_ASSERT(cai_gauss_message_set_moments(m, mu, C, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_message_moments(m, mean, cov, &lm, &err) == CAI_OK);
    close_v(mean, mu, 3, 1e-12, NULL);
    close_v(cov, C, 9, 1e-12, NULL);
    CAI_ASSERT_CLOSE(lm, 0.0, 1e-12); /* a normalised density */
    CAI_ASSERT_CLOSE(cai_gauss_message_log_value(m, mu), -0.5 * lu(3, C, NULL) - 1.5 * LOG2PI, 1e-12);
    CU_ASSERT(cai_gauss_message_multiply(m, m, &err) == CAI_OK); /* N^2: cov / 2 */
    CU_ASSERT(cai_gauss_message_moments(m, mean, cov, NULL, &err) == CAI_OK);
    for (size_t i = 0; i < 9; i++)
        C[i] *= 0.5;
    close_v(mean, mu, 3, 1e-12, NULL);
    close_v(cov, C, 9, 1e-12, NULL);
    double Jbad[9] = {1, 0, 0, 0, -1, 0, 0, 0, 1};
    CU_ASSERT(cai_gauss_message_set(m, Jbad, NULL, 0.0, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_message_moments(m, mean, NULL, NULL, &err) == CAI_ERR_NUMERIC);
    CU_ASSERT(strstr(err.message, "J is not positive definite") != NULL);
    cai_gauss_message_free(m);
    cai_gauss_message_free(NULL);

    /* soft evidence on x_T doubles the terminal reward and adds 0.5 */
    lqr P, P2;
    lqr_random(r, &P, 3, 2, 5, 0.7, 0.2, false, true, 0.0);
    P2 = P;
    for (size_t i = 0; i < 9; i++)
        P2.QT[i] *= 2.0;
    for (size_t i = 0; i < 3; i++)
        P2.qT[i] *= 2.0;
    lqr_ref R2;
    lqr_reference(&P2, false, &R2);
    lqr_graph L;
    lqr_build(&P, CAI_MODE_NORMAL, &L);
    CU_ASSERT(cai_gauss_workspace_set_soft_evidence(L.ws, L.x[5], P.QT, P.qT, 0.5, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_gauss_plan_execute(L.plan, L.ws, &err) == CAI_OK);
    double lz = cai_gauss_query_log_z(L.ws), want = R2.logz + 0.5;
    close_v(&lz, &want, 1, TOL, NULL);
    CU_ASSERT(cai_gauss_workspace_set_soft_evidence(L.ws, L.x[5], NULL, NULL, 0.0, &err) == CAI_OK);
    /* upward_only: the same messages, no marginals */
    cai_gauss_plan_options o = cai_gauss_plan_options_default();
    o.upward_only = true;
    cai_gauss_plan *plan;
    cai_gauss_workspace *ws;
    CU_ASSERT_FATAL(cai_gauss_plan_create(L.g, &o, &plan, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_plan_workspace_bytes(plan) < cai_gauss_plan_workspace_bytes(L.plan));
    CU_ASSERT_FATAL(cai_gauss_workspace_create(plan, &ws, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_gauss_plan_execute(plan, ws, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_gauss_plan_execute(L.plan, L.ws, &err) == CAI_OK);
    double J1[9], J2[9];
    CU_ASSERT(cai_gauss_query_upward(ws, L.x[2], J1, NULL, NULL, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_query_upward(L.ws, L.x[2], J2, NULL, NULL, &err) == CAI_OK);
    CU_ASSERT(memcmp(J1, J2, sizeof J1) == 0);
    CU_ASSERT(cai_gauss_query_log_z(ws) == cai_gauss_query_log_z(L.ws));
    CU_ASSERT(cai_gauss_query_marginal(ws, L.x[2], mean, cov, &err) == CAI_ERR_STATE);
    /* overflow to inf is an error, not a divergence */
    double Jbig[9] = {1e308, 0, 0, 0, 1e308, 0, 0, 0, 1e308};
    CU_ASSERT(cai_gauss_workspace_set_soft_evidence(ws, L.x[5], Jbig, NULL, 0.0, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_plan_execute(plan, ws, &err) == CAI_ERR_NUMERIC);
    CU_ASSERT(strstr(err.message, "non-finite numbers in the cluster of factor") != NULL);
    CU_ASSERT(isnan(cai_gauss_query_log_z(ws)));
    cai_gauss_workspace_free(ws);
    cai_gauss_plan_free(plan);
    lqr_free(&L);
    gsl_rng_free(r);
}

/* ---- errors ---- */

#define HAS(s) CU_ASSERT(strstr(err.message, s) != NULL)

static void test_errors(void)
{
    cai_error err;
    cai_gauss_potential *p = NULL;
    size_t d2 = 2, d0 = 0, d21[2] = {2, 1};
    double I2[4] = {1, 0, 0, 1}, Hns[4] = {1, 2, 3, 1}, Sind[4] = {1, 2, 2, 1},
           Soff[4] = {0, 1, 1, 0}, nanv[2] = {NAN, 0}, A[2] = {1, NAN};
    CU_ASSERT(cai_gauss_quadratic_create(0, &d2, I2, NULL, 0, &p, &err) == CAI_ERR_RANGE);
    CU_ASSERT(cai_gauss_quadratic_create(1, &d0, I2, NULL, 0, &p, &err) == CAI_ERR_RANGE);
    CU_ASSERT(cai_gauss_quadratic_create(1, &d2, Hns, NULL, 0, &p, &err) == CAI_ERR_NUMERIC);
    HAS("H is not symmetric: H[0][1] = 2");
    CU_ASSERT(cai_gauss_quadratic_create(1, &d2, I2, nanv, 0, &p, &err) == CAI_ERR_NUMERIC);
    HAS("h: entry 0 is nan");
    CU_ASSERT(cai_gauss_linear_create(0, NULL, 2, NULL, NULL, Sind, &p, &err) == CAI_ERR_NUMERIC);
    HAS("Sigma is not positive semidefinite");
    CU_ASSERT(cai_gauss_linear_create(0, NULL, 2, NULL, NULL, Soff, &p, &err) == CAI_ERR_NUMERIC);
    CU_ASSERT(cai_gauss_prior_create(2, NULL, Hns, &p, &err) == CAI_ERR_NUMERIC);
    HAS("cov is not symmetric");
    CU_ASSERT(cai_gauss_linear_create(1, d21, 1, A, NULL, NULL, &p, &err) == CAI_ERR_NUMERIC);
    HAS("A: entry 1 is nan");
    CU_ASSERT(cai_gauss_linear_create(1, NULL, 1, A, NULL, NULL, &p, &err) == CAI_ERR_INVALID);
    CU_ASSERT(p == NULL);
    /* the same checks for builders: Q symmetric, noise PSD, R PD */
    CU_ASSERT(cai_gauss_matrix_check(Hns, 2, CAI_GAUSS_SYMMETRIC, "Q", &err) == CAI_ERR_NUMERIC);
    HAS("Q is not symmetric: Q[0][1] = 2");
    CU_ASSERT(cai_gauss_matrix_check(Sind, 2, CAI_GAUSS_PD, "R", &err) == CAI_ERR_NUMERIC);
    HAS("R is not positive definite (the Cholesky factorisation fails at pivot 1)");
    CU_ASSERT(cai_gauss_matrix_check(Sind, 2, CAI_GAUSS_PSD, "noise", &err) == CAI_ERR_NUMERIC);
    HAS("noise is not positive semidefinite");
    double Ssing[4] = {1, 1, 1, 1};
    CU_ASSERT(cai_gauss_matrix_check(Ssing, 2, CAI_GAUSS_PSD, "noise", &err) == CAI_OK);
    CU_ASSERT(cai_gauss_matrix_check(Ssing, 2, CAI_GAUSS_PD, "R", &err) == CAI_ERR_NUMERIC);
    CU_ASSERT(cai_gauss_matrix_check(nanv, 1, 0, "c", &err) == CAI_ERR_NUMERIC);

    /* graphs */
    cai_gauss_graph *g;
    size_t a, b, c;
    CU_ASSERT_FATAL(cai_gauss_graph_create(&g, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_graph_add_variable(g, "a", 0, NULL, &err) == CAI_ERR_RANGE);
    CU_ASSERT(cai_gauss_graph_add_variable(g, "a", 2, &a, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_graph_add_variable(g, "a", 2, NULL, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_gauss_graph_add_variable(g, "b", 1, &b, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_graph_add_variable(g, "c", 2, &c, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_graph_find_variable(g, "c") == c);
    CU_ASSERT(cai_gauss_graph_find_variable(g, "zz") == CAI_NONE);
    cai_gauss_potential *q2, *det;
    double H4[16] = {2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2, 0, 0, 0, 0, 2}, Adet[4] = {1, 0, 0, 1};
    size_t dd[2] = {2, 2};
    CU_ASSERT_FATAL(cai_gauss_quadratic_create(2, dd, H4, NULL, 0, &q2, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_gauss_linear_create(1, &d2, 2, Adet, NULL, NULL, &det, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_potential_rank(det) == 0);
    CU_ASSERT(cai_gauss_graph_add_factor(g, q2, (size_t[]){a, b}, 2, CAI_MODE_NORMAL, NULL, &err) == CAI_ERR_RANGE);
    HAS("variable 'b' has dimension 1");
    CU_ASSERT(cai_gauss_graph_add_factor(g, q2, (size_t[]){a, a}, 2, CAI_MODE_NORMAL, NULL, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_gauss_graph_add_factor(g, q2, (size_t[]){a, c}, 2, CAI_MODE_EXPECTATION, NULL, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_gauss_graph_add_factor(g, det, (size_t[]){a, c}, 2, CAI_MODE_SUPPORT, NULL, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_gauss_graph_set_evidence(g, a, nanv, &err) == CAI_ERR_NUMERIC);
    /* a deterministic a -> c cannot send toward c: root c is refused */
    CU_ASSERT(cai_gauss_graph_add_factor(g, det, (size_t[]){a, c}, 2, CAI_MODE_NORMAL, NULL, &err) == CAI_OK);
    cai_gauss_plan *plan = NULL;
    cai_gauss_plan_options o = cai_gauss_plan_options_default();
    o.root = c;
    CU_ASSERT(cai_gauss_plan_create(g, &o, &plan, &err) == CAI_ERR_STRUCTURE);
    HAS("'c' cannot be the root: factor 0 (singular Sigma)");
    o.root = 99;
    CU_ASSERT(cai_gauss_plan_create(g, &o, &plan, &err) == CAI_ERR_INVALID);
    CU_ASSERT(plan == NULL);
    CU_ASSERT(cai_gauss_graph_set_evidence(g, c, I2, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_plan_create(g, NULL, &plan, &err) == CAI_ERR_STRUCTURE);
    HAS("factor 0: its child 'c' is clamped");
    CU_ASSERT(cai_gauss_graph_set_evidence(g, c, NULL, &err) == CAI_OK);
    /* b alone: flat, improper; the plan is fine, log Z = +inf */
    cai_gauss_workspace *ws;
    CU_ASSERT_FATAL(cai_gauss_plan_create(g, NULL, &plan, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_plan_root_of(plan, c) == a);
    CU_ASSERT(cai_gauss_plan_n_trees(plan) == 2);
    CU_ASSERT_FATAL(cai_gauss_workspace_create(plan, &ws, &err) == CAI_OK);
    CU_ASSERT(isnan(cai_gauss_query_log_z(ws)));
    CU_ASSERT(cai_gauss_query_upward(ws, a, NULL, NULL, NULL, &err) == CAI_ERR_STATE);
    CU_ASSERT(cai_gauss_query_marginal(ws, a, NULL, NULL, &err) == CAI_ERR_STATE);
    CU_ASSERT(cai_gauss_plan_execute(plan, ws, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_query_log_z(ws) == INFINITY);
    CU_ASSERT(cai_gauss_query_marginal(ws, c, NULL, NULL, &err) == CAI_ERR_NUMERIC);
    HAS("improper");
    CU_ASSERT(cai_gauss_query_conditional(ws, c, b, NULL, NULL, NULL, &err) == CAI_ERR_INVALID);
    CU_ASSERT(cai_gauss_workspace_set_evidence(ws, a, I2, &err) == CAI_ERR_INVALID);
    cai_gauss_workspace_free(ws);
    cai_gauss_plan_free(plan);
    /* a cycle a - c - b - a */
    cai_gauss_potential *qab;
    size_t dab[2] = {2, 1};
    double H3[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    CU_ASSERT_FATAL(cai_gauss_quadratic_create(2, dab, H3, NULL, 0, &qab, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_graph_add_factor(g, qab, (size_t[]){a, b}, 2, CAI_MODE_NORMAL, NULL, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_graph_add_factor(g, qab, (size_t[]){c, b}, 2, CAI_MODE_NORMAL, NULL, &err) == CAI_OK);
    CU_ASSERT(cai_gauss_plan_create(g, NULL, &plan, &err) == CAI_ERR_CYCLE);
    HAS("cycle through variable");
    cai_gauss_potential_unref(q2);
    cai_gauss_potential_unref(det);
    cai_gauss_potential_unref(qab);
    cai_gauss_graph_free(g);

    /* an indefinite R: the integral over the last action diverges */
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 67);
    lqr P;
    lqr_random(r, &P, 3, 2, 3, 1.0, 0.0, false, false, 0.0);
    P.Hr[3 * 5 + 3] = -100.0;
    lqr_graph L;
    lqr_build_run(&P, CAI_MODE_EXPECTATION, &L, false);
    CU_ASSERT(cai_gauss_plan_execute(L.plan, L.ws, &err) == CAI_ERR_NUMERIC);
    HAS("the integral over variable 'u2' diverges");
    HAS("R + B'P~B");
    CU_ASSERT(cai_gauss_query_upward(L.ws, L.x[0], NULL, NULL, NULL, &err) == CAI_ERR_STATE);
    lqr_free(&L);
    gsl_rng_free(r);
}

static int report(void)
{
    printf("\ngauss: max relative deviation: Riccati/LQR %.3g, dense joints %.3g, "
           "Kalman/RTS %.3g\n",
           worst_riccati, worst_dense, worst_kalman);
    return 0;
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("gauss", NULL, report);
    CU_add_test(s, "LQR, risk-seeking and singular-noise Riccati vs references", test_riccati);
    CU_add_test(s, "expectation mode: certainty equivalence, q marginals", test_expectation);
    CU_add_test(s, "log Z, marginals, policies vs dense joints (T = 1..3)", test_dense_lqr);
    CU_add_test(s, "Kalman smoothing vs filter + RTS, both roots, new evidence", test_kalman);
    CU_add_test(s, "60 random trees with evidence and any root vs dense joints", test_random_trees);
    CU_add_test(s, "messages, soft evidence, upward_only", test_messages);
    CU_add_test(s, "errors", test_errors);
}
