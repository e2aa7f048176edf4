/* tests/test_lgssm.c — Kalman smoothing as inference (cai/lgssm.h) against
 * a Kalman filter, its innovation log-likelihood and the Rauch-Tung-Striebel
 * smoother written here with GSL (LU inverses, nothing of the library's
 * Cholesky or canonical-form paths): random systems with offsets, singular
 * and zero process noise, singular and zero start covariance, T = 1; the
 * YAML format's errors at their line and column; the command line. */
#include "harness.h"
#include "support.h"

#include "cai/cai.h"

#include <gsl/gsl_blas.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-10
#define NX 4
#define NY 3
#define TMAX 12
#define LOG2PI 1.8378770664093454836

/* max relative deviations, reported at the end */
static double worst_ll, worst_smooth, worst_filter;

/* ---- dense helpers ---- */

/* C = alpha op(A) op(B) + beta C, op(A) m x k, op(B) k x n. */
static void mul(bool ta, bool tb, size_t m, size_t n, size_t k, double alpha, const double *A,
                const double *B, double beta, double *C)
{
    gsl_matrix_const_view a = gsl_matrix_const_view_array(A, ta ? k : m, ta ? m : k);
    gsl_matrix_const_view b = gsl_matrix_const_view_array(B, tb ? n : k, tb ? k : n);
    gsl_matrix_view c = gsl_matrix_view_array(C, m, n);
    gsl_blas_dgemm(ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, alpha,
                   &a.matrix, &b.matrix, beta, &c.matrix);
}

/* Ai = A^-1 by LU; returns log |det A|. */
static double lu_inverse(size_t n, const double *A, double *Ai)
{
    gsl_matrix *M = gsl_matrix_alloc(n, n);
    gsl_permutation *p = gsl_permutation_alloc(n);
    int sign;
    memcpy(M->data, A, n * n * sizeof(double));
    gsl_linalg_LU_decomp(M, p, &sign);
    double ld = gsl_linalg_LU_lndet(M);
    gsl_matrix_view v = gsl_matrix_view_array(Ai, n, n);
    gsl_linalg_LU_invert(M, p, &v.matrix);
    gsl_matrix_free(M);
    gsl_permutation_free(p);
    return ld;
}

/* max |a - b| / max(1, |a|, |b|) into *worst; asserted <= TOL. */
static void close_v(const double *a, const double *b, size_t n, double *worst)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]) / fmax(1.0, fmax(fabs(a[i]), fabs(b[i])));
        *worst = fmax(*worst, d);
        CU_ASSERT(d <= TOL);
    }
}

/* ---- systems ---- */

typedef struct sys {
    size_t n, p, T;
    double A[NX * NX], c[NX], Q[NX * NX], C[NY * NX], d[NY], R[NY * NY], x0[NX],
        x0_cov[NX * NX], y[TMAX * NY];
} sys;

static double uniform(gsl_rng *r, double s) { return s * (2.0 * gsl_rng_uniform(r) - 1.0); }

/* L L' for a random n x rank L (rank 0: the zero matrix), plus eps I. */
static void random_psd(gsl_rng *r, size_t n, size_t rank, double eps, double *out)
{
    double L[NX * NX] = {0};
    for (size_t i = 0; i < n * rank; i++)
        L[i] = uniform(r, 1.0);
    memset(out, 0, n * n * sizeof *out);
    if (rank > 0)
        mul(false, true, n, n, rank, 1.0, L, L, 0.0, out);
    for (size_t i = 0; i < n; i++)
        out[i * n + i] += eps;
}

/* A random system: A near 0.9 I (invertible, so the RTS gain exists when
 * the start covariance is positive definite), offsets c and d, Q of rank
 * q_rank (n: positive definite), x0_cov of rank s_rank, observations drawn
 * around a simulated track. */
static void random_sys(gsl_rng *r, size_t n, size_t p, size_t T, size_t q_rank,
                       size_t s_rank, sys *S)
{
    memset(S, 0, sizeof *S);
    S->n = n, S->p = p, S->T = T;
    for (size_t i = 0; i < n * n; i++)
        S->A[i] = (i % (n + 1) == 0 ? 0.9 : 0.0) + uniform(r, 0.25);
    for (size_t i = 0; i < n; i++) {
        S->c[i] = uniform(r, 0.5);
        S->x0[i] = uniform(r, 1.0);
    }
    for (size_t i = 0; i < p * n; i++)
        S->C[i] = uniform(r, 1.0);
    for (size_t i = 0; i < p; i++)
        S->d[i] = uniform(r, 0.5);
    random_psd(r, n, q_rank, q_rank == n ? 0.05 : 0.0, S->Q);
    for (size_t i = 0; i < n * n; i++)
        S->Q[i] *= 0.3;
    random_psd(r, p, p, 0.1, S->R);
    random_psd(r, n, s_rank, s_rank == n ? 0.2 : 0.0, S->x0_cov);
    double x[NX];
    memcpy(x, S->x0, sizeof x);
    for (size_t t = 0; t < T; t++) {
        for (size_t i = 0; i < p; i++) {
            S->y[t * p + i] = S->d[i] + uniform(r, 0.7);
            for (size_t j = 0; j < n; j++)
                S->y[t * p + i] += S->C[i * n + j] * x[j];
        }
        double xn[NX];
        for (size_t i = 0; i < n; i++) {
            xn[i] = S->c[i] + uniform(r, 0.3);
            for (size_t j = 0; j < n; j++)
                xn[i] += S->A[i * n + j] * x[j];
        }
        memcpy(x, xn, sizeof x);
    }
}

static cai_lgssm *make(const sys *S)
{
    cai_lgssm_spec s = {.n = S->n, .p = S->p, .A = S->A, .c = S->c, .Q = S->Q, .C = S->C,
                        .d = S->d, .R = S->R, .x0 = S->x0, .x0_cov = S->x0_cov, .T = S->T,
                        .y = S->y};
    cai_lgssm *lg = NULL;
    cai_error err;
    cai_status st = cai_lgssm_create(&s, &lg, &err);
    if (st != CAI_OK)
        fprintf(stderr, "cai_lgssm_create: %s\n", err.message);
    CU_ASSERT_FATAL(st == CAI_OK);
    return lg;
}

/* ---- the reference: Kalman filter, innovation log-likelihood, RTS ---- */

typedef struct ref {
    double ll;
    double mp[TMAX][NX], Pp[TMAX][NX * NX]; /* predicted p(x_t | y_0..t-1) */
    double mf[TMAX][NX], Pf[TMAX][NX * NX]; /* filtered p(x_t | y_0..t) */
    double ms[TMAX][NX], Ps[TMAX][NX * NX]; /* smoothed p(x_t | y_0..T-1) */
} ref;

/* Filter: innovation e = y_t - C m - d with covariance S = C P C' + R,
 * gain K = P C' S^-1, m += K e, P -= K C P; log p(y) = sum log N(e; 0, S);
 * predict m' = A m + c, P' = A P A' + Q. RTS: G = Pf A' Pp_t+1^-1,
 * ms = mf + G (ms_t+1 - mp_t+1), Ps = Pf + G (Ps_t+1 - Pp_t+1) G'. */
static void kalman_rts(const sys *S, ref *o)
{
    size_t n = S->n, p = S->p, T = S->T;
    o->ll = 0.0;
    memcpy(o->mp[0], S->x0, sizeof o->mp[0]);
    memcpy(o->Pp[0], S->x0_cov, sizeof o->Pp[0]);
    for (size_t t = 0; t < T; t++) {
        double CP[NY * NX], Sm[NY * NY], Si[NY * NY], K[NX * NY], e[NY], Se[NY];
        mul(false, false, p, n, n, 1.0, S->C, o->Pp[t], 0.0, CP);
        memcpy(Sm, S->R, sizeof Sm);
        mul(false, true, p, p, n, 1.0, CP, S->C, 1.0, Sm);
        double ld = lu_inverse(p, Sm, Si);
        mul(true, false, n, p, p, 1.0, CP, Si, 0.0, K);
        for (size_t i = 0; i < p; i++)
            e[i] = S->y[t * p + i] - S->d[i];
        mul(false, false, p, 1, n, -1.0, S->C, o->mp[t], 1.0, e);
        mul(false, false, p, 1, p, 1.0, Si, e, 0.0, Se);
        double q = 0;
        for (size_t i = 0; i < p; i++)
            q += e[i] * Se[i];
        o->ll += -0.5 * (q + ld + (double)p * LOG2PI);
        memcpy(o->mf[t], o->mp[t], sizeof o->mf[t]);
        mul(false, false, n, 1, p, 1.0, K, e, 1.0, o->mf[t]);
        memcpy(o->Pf[t], o->Pp[t], sizeof o->Pf[t]);
        mul(false, false, n, n, p, -1.0, K, CP, 1.0, o->Pf[t]);
        if (t + 1 == T)
            break;
        double AP[NX * NX];
        memcpy(o->mp[t + 1], S->c, sizeof o->mp[t + 1]);
        mul(false, false, n, 1, n, 1.0, S->A, o->mf[t], 1.0, o->mp[t + 1]);
        mul(false, false, n, n, n, 1.0, S->A, o->Pf[t], 0.0, AP);
        memcpy(o->Pp[t + 1], S->Q, sizeof o->Pp[t + 1]);
        mul(false, true, n, n, n, 1.0, AP, S->A, 1.0, o->Pp[t + 1]);
    }
    memcpy(o->ms[T - 1], o->mf[T - 1], sizeof o->ms[0]);
    memcpy(o->Ps[T - 1], o->Pf[T - 1], sizeof o->Ps[0]);
    for (size_t t = T - 1; t-- > 0;) {
        double Pi[NX * NX], PA[NX * NX], G[NX * NX], dm[NX], dP[NX * NX], GdP[NX * NX];
        lu_inverse(n, o->Pp[t + 1], Pi);
        mul(false, true, n, n, n, 1.0, o->Pf[t], S->A, 0.0, PA);
        mul(false, false, n, n, n, 1.0, PA, Pi, 0.0, G);
        for (size_t i = 0; i < n; i++)
            dm[i] = o->ms[t + 1][i] - o->mp[t + 1][i];
        for (size_t i = 0; i < n * n; i++)
            dP[i] = o->Ps[t + 1][i] - o->Pp[t + 1][i];
        memcpy(o->ms[t], o->mf[t], sizeof o->ms[t]);
        mul(false, false, n, 1, n, 1.0, G, dm, 1.0, o->ms[t]);
        mul(false, false, n, n, n, 1.0, G, dP, 0.0, GdP);
        memcpy(o->Ps[t], o->Pf[t], sizeof o->Ps[t]);
        mul(false, true, n, n, n, 1.0, GdP, G, 1.0, o->Ps[t]);
    }
}

/* The library's answers for S against the reference; whether the filtered
 * distributions were offered. */
static bool compare(const sys *S)
{
    static ref o;
    kalman_rts(S, &o);
    cai_lgssm *lg = make(S);
    cai_lgssm_result *r = NULL;
    cai_error err;
    cai_status st = cai_lgssm_smooth(lg, &r, &err);
    if (st != CAI_OK)
        fprintf(stderr, "cai_lgssm_smooth: %s\n", err.message);
    CU_ASSERT_FATAL(st == CAI_OK);
    size_t n = S->n;
    CU_ASSERT(cai_lgssm_result_steps(r) == S->T && cai_lgssm_result_n(r) == n);
    double ll = cai_lgssm_result_log_likelihood(r), mean[NX], cov[NX * NX];
    close_v(&ll, &o.ll, 1, &worst_ll);
    bool filtered = cai_lgssm_result_has_filtered(r);
    for (size_t t = 0; t < S->T; t++) {
        CU_ASSERT_FATAL(cai_lgssm_result_smoothed(r, t, mean, cov, &err) == CAI_OK);
        close_v(mean, o.ms[t], n, &worst_smooth);
        close_v(cov, o.Ps[t], n * n, &worst_smooth);
        st = cai_lgssm_result_filtered(r, t, mean, cov, &err);
        CU_ASSERT(st == (filtered ? CAI_OK : CAI_ERR_STATE));
        if (st == CAI_OK) {
            close_v(mean, o.mf[t], n, &worst_filter);
            close_v(cov, o.Pf[t], n * n, &worst_filter);
        }
    }
    CU_ASSERT(cai_lgssm_result_smoothed(r, S->T, mean, cov, &err) == CAI_ERR_RANGE);
    CU_ASSERT(cai_lgssm_result_filtered(r, S->T, mean, cov, &err) == CAI_ERR_RANGE);
    cai_lgssm_result_free(r);
    cai_lgssm_free(lg);
    return filtered;
}

/* n = 1..4, p = 1..3, T = 1..12: Q positive definite, singular and zero
 * (with a positive definite x0_cov: the RTS gain needs Pp invertible), and
 * x0_cov singular or zero (with Q positive definite). The filtered
 * distributions are offered exactly when Q (T > 1) and x0_cov are
 * positive definite. */
static void test_random(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 606);
    static sys S;
    for (int it = 0; it < 60; it++) {
        size_t n = 1 + (size_t)it % 4, p = 1 + (size_t)(it / 4) % 3;
        size_t T = it < 12 ? 1 + (size_t)it % 3 : 2 + gsl_rng_uniform_int(r, TMAX - 1);
        int kind = (it / 12) % 5; /* 0 PD, 1 Q singular, 2 Q = 0, 3 x0_cov singular, 4 0 */
        size_t q_rank = kind == 1 ? n - 1 : kind == 2 ? 0 : n;
        size_t s_rank = kind == 3 ? n - 1 : kind == 4 ? 0 : n;
        random_sys(r, n, p, T, q_rank, s_rank, &S);
        bool filtered = compare(&S);
        CU_ASSERT(filtered == ((T == 1 || q_rank == n) && s_rank == n));
    }
    gsl_rng_free(r);
}

/* T = 1 in closed form: y_0 ~ N(C x0 + d, C P0 C' + R), and the smoothed
 * and filtered x_0 the same Kalman update; Q does not matter (singular
 * here, the filtered distribution still offered). */
static void test_one_step(void)
{
    static sys S = {.n = 2, .p = 1, .T = 1, .A = {1, 1, 0, 1}, .Q = {0, 0, 0, 0},
                    .C = {1, 0.5}, .d = {0.25}, .R = {0.5}, .x0 = {1, -1},
                    .x0_cov = {2, 0.5, 0.5, 1}, .y = {0.8}};
    /* C x0 + d = 0.75, P0 C' = (2.25, 1), S = C P0 C' + R = 2.75 + 0.5 */
    double want = -0.5 * (0.05 * 0.05 / 3.25 + log(3.25) + LOG2PI);
    double gain[2] = {2.25 / 3.25, 1.0 / 3.25}; /* P0 C' / S */
    double mean[2] = {1 + gain[0] * 0.05, -1 + gain[1] * 0.05};
    double cov[4] = {2 - gain[0] * 2.25, 0.5 - gain[0] * 1.0, 0.5 - gain[1] * 2.25,
                     1 - gain[1] * 1.0};
    cai_lgssm *lg = make(&S);
    cai_lgssm_result *r = NULL;
    cai_error err;
    CU_ASSERT_FATAL(cai_lgssm_smooth(lg, &r, &err) == CAI_OK);
    double ll = cai_lgssm_result_log_likelihood(r), m[2], P[4];
    close_v(&ll, &want, 1, &worst_ll);
    CU_ASSERT_FATAL(cai_lgssm_result_has_filtered(r));
    CU_ASSERT_FATAL(cai_lgssm_result_smoothed(r, 0, m, P, &err) == CAI_OK);
    close_v(m, mean, 2, &worst_smooth);
    close_v(P, cov, 4, &worst_smooth);
    CU_ASSERT_FATAL(cai_lgssm_result_filtered(r, 0, m, P, &err) == CAI_OK);
    close_v(m, mean, 2, &worst_filter);
    close_v(P, cov, 4, &worst_filter);
    cai_lgssm_result_free(r);
    cai_lgssm_free(lg);
    compare(&S);
}

static void test_api_errors(void)
{
    static sys S;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 607);
    random_sys(r, 2, 1, 3, 1, 2, &S); /* Q of rank 1: no filtered distributions */
    cai_lgssm_spec s = {.n = 2, .p = 1, .A = S.A, .Q = S.Q, .C = S.C, .R = S.R, .T = 3,
                        .y = S.y};
    cai_lgssm *lg = NULL;
    cai_error err;
    s.y = NULL;
    CU_ASSERT(cai_lgssm_create(&s, &lg, &err) == CAI_ERR_INVALID && lg == NULL);
    s.y = S.y;
    s.T = 0;
    CU_ASSERT(cai_lgssm_create(&s, &lg, &err) == CAI_ERR_RANGE);
    s.T = 3;
    s.p = 0;
    CU_ASSERT(cai_lgssm_create(&s, &lg, &err) == CAI_ERR_RANGE);
    s.p = 1;
    double Rbad = 0;
    s.R = &Rbad;
    CU_ASSERT(cai_lgssm_create(&s, &lg, &err) == CAI_ERR_NUMERIC);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "R is not positive definite"));
    s.R = S.R;
    double Qbad[4] = {1, 0, 0, -1};
    s.Q = Qbad;
    CU_ASSERT(cai_lgssm_create(&s, &lg, &err) == CAI_ERR_NUMERIC);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "Q is not positive semidefinite"));
    s.Q = S.Q;
    S.y[1] = NAN;
    CU_ASSERT(cai_lgssm_create(&s, &lg, &err) == CAI_ERR_NUMERIC);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "y[1][0]"));
    S.y[1] = 0.5;
    CU_ASSERT_FATAL(cai_lgssm_create(&s, &lg, &err) == CAI_OK); /* c, d, x0, x0_cov 0 */
    CU_ASSERT(cai_lgssm_n(lg) == 2 && cai_lgssm_p(lg) == 1 && cai_lgssm_steps(lg) == 3);
    cai_lgssm_result *res = NULL;
    CU_ASSERT(cai_lgssm_smooth(NULL, &res, &err) == CAI_ERR_INVALID && res == NULL);
    CU_ASSERT_FATAL(cai_lgssm_smooth(lg, &res, &err) == CAI_OK);
    double m[2] = {7, 7};
    CU_ASSERT(!cai_lgssm_result_has_filtered(res));
    CU_ASSERT(cai_lgssm_result_filtered(res, 0, m, NULL, &err) == CAI_ERR_STATE);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "Q positive definite (Q has rank 1 of 2)"));
    CU_ASSERT(m[0] == 7 && m[1] == 7); /* untouched on failure */
    CU_ASSERT(cai_lgssm_result_smoothed(res, 2, m, NULL, &err) == CAI_OK);
    cai_lgssm_result_free(res);
    cai_lgssm_free(lg);
    cai_lgssm_free(NULL);
    cai_lgssm_result_free(NULL);
    gsl_rng_free(r);
}

/* ---- YAML ---- */

#define HEAD "kind: lgssm\nA: [[1, 1], [0, 1]]\n"
#define OK_Q "Q: [[0, 0], [0, 0.1]]\n"
#define OK_C "C: [[1, 0]]\n"
#define OK_R "R: [[0.5]]\n"
#define OK_X "x0: [0, 1]\nx0_cov: [[1, 0], [0, 1]]\n"
#define OK_Y "observations: [[0.5], [1.5], [2.5]]\n"

static void test_yaml(void)
{
    const char *text = HEAD "c: [0.1, 0]\n" OK_Q OK_C "d: [-0.2]\n" OK_R OK_X OK_Y;
    cai_model *m = NULL;
    cai_error err;
    CU_ASSERT_FATAL(cai_model_load_string(text, strlen(text), "ok.yaml", &m, &err) == CAI_OK);
    CU_ASSERT(cai_model_get_kind(m) == CAI_MODEL_LGSSM);
    CU_ASSERT_STRING_EQUAL(cai_model_kind_name(CAI_MODEL_LGSSM), "lgssm");
    CU_ASSERT_PTR_NULL(cai_model_graph(m));
    CU_ASSERT_PTR_NULL(cai_model_lqr(m));
    const cai_lgssm *lg = cai_model_lgssm(m);
    CU_ASSERT_FATAL(lg != NULL);
    CU_ASSERT(cai_lgssm_n(lg) == 2 && cai_lgssm_p(lg) == 1 && cai_lgssm_steps(lg) == 3);
    /* the same model through the API gives the same numbers */
    static sys S = {.n = 2, .p = 1, .T = 3, .A = {1, 1, 0, 1}, .c = {0.1, 0},
                    .Q = {0, 0, 0, 0.1}, .C = {1, 0}, .d = {-0.2}, .R = {0.5},
                    .x0 = {0, 1}, .x0_cov = {1, 0, 0, 1}, .y = {0.5, 1.5, 2.5}};
    static ref o;
    kalman_rts(&S, &o);
    cai_lgssm_result *r = NULL;
    CU_ASSERT_FATAL(cai_lgssm_smooth(lg, &r, &err) == CAI_OK);
    double ll = cai_lgssm_result_log_likelihood(r), mean[2];
    close_v(&ll, &o.ll, 1, &worst_ll);
    CU_ASSERT_FATAL(cai_lgssm_result_smoothed(r, 1, mean, NULL, &err) == CAI_OK);
    close_v(mean, o.ms[1], 2, &worst_smooth);
    cai_lgssm_result_free(r);
    cai_model_free(m);
}

#define ERR(text, line, col, phrase) cai_test_check_error(text, CAI_ERR_MODEL, line, col, phrase)

static void test_yaml_errors(void)
{
    ERR(HEAD OK_Q "C: [[1, 0, 0]]\n" OK_R OK_X OK_Y, 4, 5,
        "'C row 0' has 3 entries, expected 2 (C is p x n, n = 2 the rows of A)");
    ERR(HEAD "Q: [[0, 1], [0, 0.1]]\n" OK_C OK_R OK_X OK_Y, 3, 4, "Q is not symmetric");
    ERR(HEAD "Q: [[1, 0], [0, -0.1]]\n" OK_C OK_R OK_X OK_Y, 3, 4,
        "Q is not positive semidefinite");
    ERR(HEAD "Q: [[1, 0]]\n" OK_C OK_R OK_X OK_Y, 3, 4,
        "'Q' has 1 rows, expected 2 (2 x 2, n = 2 the rows of A)");
    ERR(HEAD OK_Q OK_C "R: [[0]]\n" OK_X OK_Y, 5, 4, "R is not positive definite");
    ERR(HEAD OK_Q OK_C "R: [[1, 0], [0, 1]]\n" OK_X OK_Y, 5, 4,
        "'R' has 2 rows, expected 1 (1 x 1, p = 1 the rows of C)");
    ERR(HEAD OK_Q OK_C OK_R "x0: [0, 1]\nx0_cov: [[1, 0], [0, -1]]\n" OK_Y, 7, 9,
        "x0_cov is not positive semidefinite");
    ERR(HEAD OK_Q OK_C OK_R OK_X "observations: [[0.5], [.nan], [2.5]]\n", 8, 24,
        "observations row 1 entry 0 must be a finite number");
    ERR(HEAD OK_Q OK_C OK_R OK_X "observations: [[0.5], [1, 2]]\n", 8, 23,
        "'observations row 1' has 2 entries, expected 1 (T x p, p = 1 the rows of C)");
    ERR(HEAD OK_Q OK_C OK_R OK_X "observations: []\n", 8, 15, "'observations' is empty");
    ERR(HEAD OK_Q OK_C OK_R OK_X "observations:\n", 8, 14,
        "'observations' must be a matrix");
    ERR(HEAD OK_Q OK_C "d: [1, 2]\n" OK_R OK_X OK_Y, 5, 4,
        "'d' must be a sequence of 1 numbers (the rows of C)");
    ERR(HEAD OK_Q OK_C OK_R "x0: [0]\nx0_cov: [[1, 0], [0, 1]]\n" OK_Y, 6, 5,
        "'x0' must be a sequence of 2 numbers (the rows of A)");
    ERR("kind: lgssm\nA: [[1, 1]]\n" OK_Q OK_C OK_R OK_X OK_Y, 2, 4,
        "'A' must be square, got 1 x 2");
    ERR(HEAD OK_Q OK_C OK_R OK_X, 1, 1, "missing key 'observations' in the model");
    ERR(HEAD OK_Q OK_C OK_R "x0: [0, 1]\n" OK_Y, 1, 1, "missing key 'x0_cov'");
    ERR(HEAD OK_Q OK_C OK_R OK_X OK_Y "horizon: 3\n", 9, 1, "unknown key 'horizon'");
}

/* ---- the command line ---- */

/* The number after "key": in s (the first one when an array follows). */
static double json_number(const char *s, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *at = strstr(s, pat);
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    at += strlen(pat);
    while (*at == '[' || *at == ' ' || *at == '\n')
        at++;
    return strtod(at, NULL);
}

static void test_cli(void)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/models/tracking.yaml", CAI_SOURCE_ROOT);
    cai_test_outcome o = cai_test_run("solve %s --json -o out.json", path);
    CU_ASSERT_EQUAL_FATAL(o.status, 0);
    cai_test_outcome_free(&o);
    char *json = cai_test_slurp("out.json");
    CU_ASSERT_PTR_NOT_NULL_FATAL(json);
    cai_model *m = NULL;
    cai_error err;
    CU_ASSERT_FATAL(cai_model_load(path, &m, &err) == CAI_OK);
    cai_lgssm_result *r = NULL;
    CU_ASSERT_FATAL(cai_lgssm_smooth(cai_model_lgssm(m), &r, &err) == CAI_OK);
    double mean[NX], cov[NX * NX], fmean[NX];
    CU_ASSERT_FATAL(cai_lgssm_result_smoothed(r, 0, mean, cov, &err) == CAI_OK);
    CU_ASSERT_FATAL(cai_lgssm_result_filtered(r, 0, fmean, NULL, &err) == CAI_OK);
    /* %.17g round-trips: the printed numbers are the library's */
    CU_ASSERT(json_number(json, "log_likelihood") == cai_lgssm_result_log_likelihood(r));
    CU_ASSERT(json_number(json, "smoothed_mean") == mean[0]);
    CU_ASSERT(json_number(json, "smoothed_cov") == cov[0]);
    CU_ASSERT(json_number(json, "filtered_mean") == fmean[0]);
    CU_ASSERT(json_number(json, "T") == 30 && json_number(json, "n") == 4);
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"kind\": \"lgssm\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"filtered_cov\": ["));
    CU_ASSERT_PTR_NOT_NULL(strstr(json, "\"seconds_solve\": "));
    free(json);

    o = cai_test_run("solve %s", path);
    CU_ASSERT_EQUAL(o.status, 0);
    char want[128];
    snprintf(want, sizeof want, "log-likelihood %.10g\n", cai_lgssm_result_log_likelihood(r));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "(lgssm, n = 4, p = 2, T = 30)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "      29 "));
    cai_test_outcome_free(&o);
    cai_lgssm_result_free(r);
    cai_model_free(m);

    o = cai_test_run("check %s", path);
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "tracking.yaml: ok (lgssm, n = 4, p = 2, T = 30)\n"));
    cai_test_outcome_free(&o);

    /* singular Q: no filtered arrays */
    cai_test_write_file("walk.yaml", HEAD OK_Q OK_C OK_R OK_X OK_Y);
    o = cai_test_run("solve walk.yaml --json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"filtered\": false"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"filtered_mean\": null"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"smoothed_cov\": ["));
    cai_test_outcome_free(&o);

    /* usage errors and a bad file */
    o = cai_test_run("solve %s --temperature 2", path);
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err, "'--temperature' does not apply to an lgssm model"));
    cai_test_outcome_free(&o);
    o = cai_test_run("solve %s --algorithm variational", path);
    CU_ASSERT_EQUAL(o.status, 2);
    cai_test_outcome_free(&o);
    o = cai_test_run("sample %s", path);
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err, "is an lgssm model"));
    cai_test_outcome_free(&o);
    o = cai_test_run("export %s --format uai", path);
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err, "export needs a discrete model"));
    cai_test_outcome_free(&o);
    cai_test_write_file("bad.yaml", HEAD OK_Q OK_C "R: [[0]]\n" OK_X OK_Y);
    o = cai_test_run("solve bad.yaml");
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err, "bad.yaml:5:4: error: R is not positive definite"));
    cai_test_outcome_free(&o);
}

static int suite_init(void)
{
    return cai_test_dir_create("/tmp/cai-test-lgssm-XXXXXX");
}

static int suite_cleanup(void)
{
    printf("\nlgssm: max relative deviation from the reference: log-likelihood %.3g, "
           "smoothed %.3g, filtered %.3g\n", worst_ll, worst_smooth, worst_filter);
    return cai_test_dir_remove();
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("lgssm", suite_init, suite_cleanup);
    CU_add_test(s, "60 random systems vs Kalman filter + RTS (singular Q, x0_cov, T = 1)",
                test_random);
    CU_add_test(s, "T = 1 in closed form", test_one_step);
    CU_add_test(s, "API errors, filtered not offered", test_api_errors);
    CU_add_test(s, "YAML model", test_yaml);
    CU_add_test(s, "YAML errors", test_yaml_errors);
    CU_add_test(s, "command line", test_cli);
}
