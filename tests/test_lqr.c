/* tests/test_lqr.c — linear-quadratic control as inference (cai/lqr.h)
 * against references written here with plain loops and GSL: the LQR
 * Riccati recursion (noise 0, exact and variational, any temperature), the
 * risk-seeking recursion P~ = P (I + Sigma P / alpha)^-1 (exact with
 * noise), certainty equivalence (variational with noise), the discounted
 * DARE (infinite horizon, with its residual), the log-evidence as a
 * closed-form Gaussian integral (T = 1) and by Monte Carlo (T = 5), the
 * state trajectory, the YAML format's errors and the command line. */
#include "harness.h"
#include "support.h"

#include "cai/cai.h"

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXN 6

/* ---- small dense helpers (row-major, n <= MAXN) ---- */

static void matmul(size_t r, size_t k, size_t c, const double *a, bool ta, const double *b,
                   bool tb, double *out)
{
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < c; j++) {
            double s = 0;
            for (size_t l = 0; l < k; l++)
                s += (ta ? a[l * r + i] : a[i * k + l]) * (tb ? b[j * k + l] : b[l * c + j]);
            out[i * c + j] = s;
        }
}

/* out = inverse of the n x n matrix a (LU, GSL). */
static void inverse(size_t n, const double *a, double *out)
{
    gsl_matrix *m = gsl_matrix_alloc(n, n), *inv = gsl_matrix_alloc(n, n);
    gsl_permutation *p = gsl_permutation_alloc(n);
    int sign;
    for (size_t i = 0; i < n * n; i++)
        m->data[i / n * m->tda + i % n] = a[i];
    gsl_linalg_LU_decomp(m, p, &sign);
    gsl_linalg_LU_invert(m, p, inv);
    for (size_t i = 0; i < n * n; i++)
        out[i] = gsl_matrix_get(inv, i / n, i % n);
    gsl_matrix_free(m);
    gsl_matrix_free(inv);
    gsl_permutation_free(p);
}

static double logdet(size_t n, const double *a)
{
    gsl_matrix *m = gsl_matrix_alloc(n, n);
    gsl_permutation *p = gsl_permutation_alloc(n);
    int sign;
    for (size_t i = 0; i < n * n; i++)
        gsl_matrix_set(m, i / n, i % n, a[i]);
    gsl_linalg_LU_decomp(m, p, &sign);
    double d = gsl_linalg_LU_lndet(m);
    gsl_matrix_free(m);
    gsl_permutation_free(p);
    return d;
}

static double max_rel_diff(const double *a, const double *b, size_t n)
{
    double big = 0, d = 0;
    for (size_t i = 0; i < n; i++) {
        big = fmax(big, fabs(b[i]));
        d = fmax(d, fabs(a[i] - b[i]));
    }
    return d / fmax(big, 1.0);
}

/* ---- random problems ---- */

typedef struct problem {
    size_t n, m;
    double A[MAXN * MAXN], B[MAXN * MAXN], c[MAXN], noise[MAXN * MAXN], Q[MAXN * MAXN],
        R[MAXN * MAXN], QT[MAXN * MAXN], x0[MAXN], x0_cov[MAXN * MAXN];
} problem;

/* M M' + eps I for a random M: symmetric positive definite. */
static void random_spd(gsl_rng *r, size_t n, double scale, double eps, double *out)
{
    double M[MAXN * MAXN];
    for (size_t i = 0; i < n * n; i++)
        M[i] = gsl_ran_gaussian(r, 1.0);
    matmul(n, n, n, M, false, M, true, out);
    for (size_t i = 0; i < n * n; i++)
        out[i] *= scale;
    for (size_t i = 0; i < n; i++)
        out[i * n + i] += eps;
}

static void random_problem(gsl_rng *r, size_t n, size_t m, bool noise, bool offset,
                           problem *p)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->m = m;
    for (size_t i = 0; i < n * n; i++)
        p->A[i] = (i % (n + 1) == 0 ? 1.0 : 0.0) + 0.2 * gsl_ran_gaussian(r, 1.0);
    for (size_t i = 0; i < n * m; i++)
        p->B[i] = gsl_ran_gaussian(r, 1.0);
    for (size_t i = 0; i < n; i++) {
        p->c[i] = offset ? 0.3 * gsl_ran_gaussian(r, 1.0) : 0.0;
        p->x0[i] = gsl_ran_gaussian(r, 1.0);
    }
    random_spd(r, n, 0.3, 0.2, p->Q);
    random_spd(r, m, 0.3, 0.5, p->R);
    random_spd(r, n, 0.5, 0.5, p->QT);
    if (noise)
        random_spd(r, n, 0.05, 0.02, p->noise);
}

static cai_lqr *make_lqr(const problem *p, size_t T, double gamma, double alpha)
{
    cai_lqr_spec s = {.n = p->n, .m = p->m, .A = p->A, .B = p->B, .c = p->c,
                      .noise = p->noise, .Q = p->Q, .R = p->R, .QT = p->QT, .x0 = p->x0,
                      .x0_cov = p->x0_cov, .horizon = T, .discount = gamma,
                      .temperature = alpha};
    cai_lqr *l = NULL;
    cai_error err;
    cai_status st = cai_lqr_create(&s, &l, &err);
    if (st != CAI_OK)
        fprintf(stderr, "cai_lqr_create: %s\n", err.message);
    CU_ASSERT_FATAL(st == CAI_OK);
    return l;
}

static cai_lqr_solution *solve(const cai_lqr *l, cai_control_algorithm alg, double tol)
{
    cai_lqr_options o = cai_lqr_options_default();
    o.algorithm = alg;
    o.tol = tol;
    cai_lqr_solution *sol = NULL;
    cai_error err;
    cai_status st = cai_lqr_solve(l, &o, &sol, &err);
    if (st != CAI_OK)
        fprintf(stderr, "cai_lqr_solve: %s\n", err.message);
    CU_ASSERT_FATAL(st == CAI_OK);
    return sol;
}

/* ---- the reference recursion ---- */

/* One backward step from (P, p) at t+1 to t: the discount g (1 for a
 * finite horizon) scales V_t+1 inside the expectation over the noise, P' =
 * g P, p' = g p; the expectation (risk-seeking: P~ = P' (I + Sigma P' /
 * alpha)^-1, p~ = (I + P' Sigma / alpha)^-1 p'; certainty equivalence: P',
 * p' unchanged), then
 *   M = R + B'P~B, K = -M^-1 B'P~A, k = M^-1 B'(p~ - P~c)
 *   P_t = Q + A'P~A - A'P~B M^-1 B'P~A, p_t = (A + BK)'(p~ - P~c)
 * and the policy covariance alpha M^-1. With noise 0 the fixed point solves
 * the discounted DARE P = Q + g A'PA - g^2 A'PB (R + g B'PB)^-1 B'PA. */
static void backup(const problem *pr, double alpha, double g, bool risk, const double *P,
                   const double *p, double *Pt, double *pt, double *K, double *k, double *S)
{
    size_t n = pr->n, m = pr->m;
    double Pn[MAXN * MAXN], pn[MAXN], tmp[MAXN * MAXN], tmp2[MAXN * MAXN];
    for (size_t i = 0; i < n * n; i++) /* the discount inside the expectation */
        Pn[i] = g * P[i];
    for (size_t i = 0; i < n; i++)
        pn[i] = g * p[i];
    if (risk) { /* Pn = (Pn^-1 + Sigma/alpha)^-1 = Pn (I + Sigma Pn / alpha)^-1 */
        double I_SP[MAXN * MAXN], inv[MAXN * MAXN], Pg[MAXN * MAXN], pg[MAXN];
        memcpy(Pg, Pn, sizeof Pg);
        memcpy(pg, pn, sizeof pg);
        matmul(n, n, n, pr->noise, false, Pg, false, tmp);
        for (size_t i = 0; i < n * n; i++)
            I_SP[i] = (i % (n + 1) == 0 ? 1.0 : 0.0) + tmp[i] / alpha;
        inverse(n, I_SP, inv);
        matmul(n, n, n, Pg, false, inv, false, Pn);
        /* pn = (I + Pg Sigma / alpha)^-1 pg = inv' pg */
        matmul(n, n, 1, inv, true, pg, false, pn);
    }
    double PA[MAXN * MAXN], PB[MAXN * MAXN], M[MAXN * MAXN], Minv[MAXN * MAXN], q[MAXN];
    matmul(n, n, n, Pn, false, pr->A, false, PA);
    matmul(n, n, m, Pn, false, pr->B, false, PB);
    matmul(m, n, m, pr->B, true, PB, false, M);
    for (size_t i = 0; i < m * m; i++)
        M[i] = pr->R[i] + M[i];
    inverse(m, M, Minv);
    /* q = p~ - P~ c */
    matmul(n, n, 1, Pn, false, pr->c, false, q);
    for (size_t i = 0; i < n; i++)
        q[i] = pn[i] - q[i];
    matmul(m, n, n, pr->B, true, PA, false, tmp); /* B'P~A */
    matmul(m, m, n, Minv, false, tmp, false, K);
    for (size_t i = 0; i < m * n; i++)
        K[i] = -K[i];
    double Bq[MAXN];
    matmul(m, n, 1, pr->B, true, q, false, Bq);
    matmul(m, m, 1, Minv, false, Bq, false, k);
    /* P_t = Q + g A'P~A + g A'P~B K */
    matmul(n, n, n, pr->A, true, PA, false, tmp);
    matmul(n, n, m, pr->A, true, PB, false, tmp2);
    double AK[MAXN * MAXN];
    matmul(n, m, n, tmp2, false, K, false, AK);
    for (size_t i = 0; i < n * n; i++)
        Pt[i] = pr->Q[i] + tmp[i] + AK[i];
    /* p_t = g (A + BK)'q */
    double ABK[MAXN * MAXN];
    matmul(n, m, n, pr->B, false, K, false, ABK);
    for (size_t i = 0; i < n * n; i++)
        ABK[i] += pr->A[i];
    matmul(n, n, 1, ABK, true, q, false, pt);
    for (size_t i = 0; i < m * m; i++)
        S[i] = alpha * Minv[i];
    for (size_t i = 0; i < n; i++) /* symmetrise */
        for (size_t j = 0; j < i; j++)
            Pt[i * n + j] = Pt[j * n + i] = 0.5 * (Pt[i * n + j] + Pt[j * n + i]);
}

/* Compare every t of sol with the recursion. */
static double check_recursion(const problem *pr, const cai_lqr_solution *sol, size_t T,
                              double alpha, bool risk)
{
    size_t n = pr->n, m = pr->m;
    double P[MAXN * MAXN], p[MAXN] = {0}, Pt[MAXN * MAXN], pt[MAXN], K[MAXN * MAXN], k[MAXN],
                                    S[MAXN * MAXN];
    double got[MAXN * MAXN], gotv[MAXN], worst = 0;
    cai_error err;
    memcpy(P, pr->QT, n * n * sizeof *P);
    CU_ASSERT_FATAL(cai_lqr_solution_value(sol, T, got, gotv, &err) == CAI_OK);
    worst = fmax(worst, max_rel_diff(got, P, n * n));
    for (size_t t = T; t-- > 0;) {
        backup(pr, alpha, 1.0, risk, P, p, Pt, pt, K, k, S);
        CU_ASSERT_FATAL(cai_lqr_solution_value(sol, t, got, gotv, &err) == CAI_OK);
        worst = fmax(worst, max_rel_diff(got, Pt, n * n));
        worst = fmax(worst, max_rel_diff(gotv, pt, n));
        double gK[MAXN * MAXN], gk[MAXN], gS[MAXN * MAXN];
        CU_ASSERT_FATAL(cai_lqr_solution_policy(sol, t, gK, gk, gS, &err) == CAI_OK);
        worst = fmax(worst, max_rel_diff(gK, K, m * n));
        worst = fmax(worst, max_rel_diff(gk, k, m));
        worst = fmax(worst, max_rel_diff(gS, S, m * m));
        memcpy(P, Pt, sizeof P);
        memcpy(p, pt, sizeof p);
    }
    return worst;
}

/* Noise 0: exact and variational are the LQR recursion at any alpha;
 * noise: exact is risk-seeking, variational certainty equivalence. */
static void test_recursions(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 901);
    double worst = 0;
    for (int it = 0; it < 24; it++) {
        problem pr;
        size_t n = 1 + (size_t)it % 4, m = 1 + (size_t)it % 3;
        bool noise = it % 2 == 1;
        random_problem(r, n, m, noise, it % 3 != 0, &pr);
        double alpha = it % 4 < 2 ? 0.5 : 2.0;
        size_t T = 5 + (size_t)it % 7;
        cai_lqr *l = make_lqr(&pr, T, NAN, alpha);
        for (int v = 0; v < 2; v++) {
            cai_lqr_solution *sol =
                solve(l, v ? CAI_CONTROL_VARIATIONAL : CAI_CONTROL_EXACT, 1e-12);
            double d = check_recursion(&pr, sol, T, alpha, noise && !v);
            CU_ASSERT(d < 1e-10);
            worst = fmax(worst, d);
            CU_ASSERT(cai_lqr_solution_horizon(sol) == T);
            CU_ASSERT(isnan(cai_lqr_solution_log_evidence(sol)) == (v == 1));
            cai_lqr_solution_free(sol);
        }
        cai_lqr_free(l);
    }
    if (worst >= 1e-10)
        fprintf(stderr, "worst relative deviation from the recursion: %g\n", worst);
    gsl_rng_free(r);
}

/* Infinite horizon: the fixed point of the discounted recursion, computed
 * here by iterating to 1e-15, whose DARE residual is checked too. */
static void test_dare(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 902);
    for (int it = 0; it < 12; it++) {
        problem pr;
        size_t n = 1 + (size_t)it % 4, m = 1 + (size_t)it % 2;
        bool noise = it % 3 == 2;
        random_problem(r, n, m, noise, it % 2 == 0, &pr);
        double gamma = it % 2 ? 0.9 : 0.97, alpha = 0.7;
        double P[MAXN * MAXN] = {0}, p[MAXN] = {0}, Pt[MAXN * MAXN], pt[MAXN], K[MAXN * MAXN],
               k[MAXN], S[MAXN * MAXN];
        for (int i = 0; i < 200000; i++) {
            backup(&pr, alpha, gamma, noise, P, p, Pt, pt, K, k, S);
            double d = fmax(max_rel_diff(Pt, P, n * n), max_rel_diff(pt, p, n));
            memcpy(P, Pt, sizeof P);
            memcpy(p, pt, sizeof p);
            if (d < 1e-15)
                break;
        }
        if (!noise) { /* the DARE residual of the reference */
            backup(&pr, alpha, gamma, false, P, p, Pt, pt, K, k, S);
            CU_ASSERT(max_rel_diff(Pt, P, n * n) < 1e-13);
        }
        cai_lqr *l = make_lqr(&pr, 0, gamma, alpha);
        cai_lqr_solution *sol = solve(l, CAI_CONTROL_EXACT, 1e-14);
        CU_ASSERT(cai_lqr_solution_converged(sol));
        double got[MAXN * MAXN], gotv[MAXN], gK[MAXN * MAXN], gk[MAXN], gS[MAXN * MAXN];
        cai_error err;
        CU_ASSERT_FATAL(cai_lqr_solution_value(sol, 0, got, gotv, &err) == CAI_OK);
        CU_ASSERT(max_rel_diff(got, P, n * n) < 1e-9);
        if (max_rel_diff(got, P, n * n) >= 1e-9)
            fprintf(stderr, "it %d n %zu noise %d: P00 got %.12g want %.12g, iterations %zu\n",
                    it, n, noise, got[0], P[0], cai_lqr_solution_iterations(sol));
        CU_ASSERT(max_rel_diff(gotv, p, n) < 1e-9);
        CU_ASSERT_FATAL(cai_lqr_solution_policy(sol, 0, gK, gk, gS, &err) == CAI_OK);
        CU_ASSERT(max_rel_diff(gK, K, m * n) < 1e-9);
        CU_ASSERT(max_rel_diff(gk, k, m) < 1e-9);
        CU_ASSERT(max_rel_diff(gS, S, m * m) < 1e-9);
        CU_ASSERT(cai_lqr_solution_value(sol, 1, got, gotv, &err) == CAI_ERR_RANGE);
        CU_ASSERT(cai_lqr_solution_state(sol, 0, gotv, got, &err) == CAI_ERR_STATE);
        CU_ASSERT(isfinite(cai_lqr_solution_objective(sol)));
        cai_lqr_solution_free(sol);
        cai_lqr_free(l);
    }
    gsl_rng_free(r);
}

/* T = 1: log Z = log of the integral over z = (x0, u0, x1) of
 * N(x0; x0, S0) exp(-(x0'Qx0 + u0'Ru0 + x1'QT x1) / (2 alpha))
 * N(x1; A x0 + B u0 + c, Sigma), a Gaussian integral in closed form:
 * exp(-1/2 z'Mz + b'z + a) integrates to a + 1/2 b'M^-1 b + d/2 log 2 pi -
 * 1/2 log det M. */
static void test_log_evidence_closed_form(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 903);
    for (int it = 0; it < 10; it++) {
        problem pr;
        size_t n = 1 + (size_t)it % 3, m = 1 + (size_t)it % 2, d = 2 * n + m;
        random_problem(r, n, m, true, true, &pr);
        random_spd(r, n, 0.2, 0.1, pr.x0_cov);
        double alpha = it % 2 ? 0.6 : 1.5;
        double M[3 * MAXN * 3 * MAXN] = {0}, b[3 * MAXN] = {0}, a = 0;
        double S0i[MAXN * MAXN], Si[MAXN * MAXN], F[MAXN * 2 * MAXN];
        inverse(n, pr.x0_cov, S0i);
        inverse(n, pr.noise, Si);
        /* prior on x0 */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                M[i * d + j] += S0i[i * n + j];
                b[i] += S0i[i * n + j] * pr.x0[j];
                a -= 0.5 * pr.x0[i] * S0i[i * n + j] * pr.x0[j];
            }
        a -= 0.5 * (n * log(2 * M_PI) + logdet(n, pr.x0_cov));
        /* rewards */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                M[i * d + j] += pr.Q[i * n + j] / alpha;
                M[(n + m + i) * d + n + m + j] += pr.QT[i * n + j] / alpha;
            }
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < m; j++)
                M[(n + i) * d + n + j] += pr.R[i * m + j] / alpha;
        /* dynamics: x1 - F (x0, u0) - c with F = [A B]: the vector G z - c,
         * G = [-A -B I] */
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < n; j++)
                F[i * (n + m) + j] = pr.A[i * n + j];
            for (size_t j = 0; j < m; j++)
                F[i * (n + m) + n + j] = pr.B[i * m + j];
        }
        double G[MAXN * 3 * MAXN] = {0};
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < n + m; j++)
                G[i * d + j] = -F[i * (n + m) + j];
            G[i * d + n + m + i] = 1;
        }
        double SiG[MAXN * 3 * MAXN], GtSiG[3 * MAXN * 3 * MAXN], Sic[MAXN];
        matmul(n, n, d, Si, false, G, false, SiG);
        matmul(d, n, d, G, true, SiG, false, GtSiG);
        matmul(n, n, 1, Si, false, pr.c, false, Sic);
        for (size_t i = 0; i < d * d; i++)
            M[i] += GtSiG[i];
        double Gt_Sic[3 * MAXN];
        matmul(d, n, 1, G, true, Sic, false, Gt_Sic);
        for (size_t i = 0; i < d; i++)
            b[i] += Gt_Sic[i];
        for (size_t i = 0; i < n; i++)
            a -= 0.5 * pr.c[i] * Sic[i];
        a -= 0.5 * (n * log(2 * M_PI) + logdet(n, pr.noise));
        double Mi[3 * MAXN * 3 * MAXN], Mib[3 * MAXN];
        inverse(d, M, Mi);
        matmul(d, d, 1, Mi, false, b, false, Mib);
        double want = a + 0.5 * d * log(2 * M_PI) - 0.5 * logdet(d, M);
        for (size_t i = 0; i < d; i++)
            want += 0.5 * b[i] * Mib[i];
        cai_lqr *l = make_lqr(&pr, 1, NAN, alpha);
        cai_lqr_solution *sol = solve(l, CAI_CONTROL_EXACT, 1e-12);
        CAI_ASSERT_CLOSE(cai_lqr_solution_log_evidence(sol), want, 1e-10);
        /* the posterior state at t = 1: the x1 block of M^-1 and of M^-1 b */
        double mean[MAXN], cov[MAXN * MAXN];
        cai_error err;
        CU_ASSERT_FATAL(cai_lqr_solution_state(sol, 1, mean, cov, &err) == CAI_OK);
        for (size_t i = 0; i < n; i++) {
            CAI_ASSERT_CLOSE(mean[i], Mib[n + m + i], 1e-9);
            for (size_t j = 0; j < n; j++)
                CAI_ASSERT_CLOSE(cov[i * n + j], Mi[(n + m + i) * d + n + m + j], 1e-9);
        }
        cai_lqr_solution_free(sol);
        cai_lqr_free(l);
    }
    gsl_rng_free(r);
}

/* T = 5: log Z by Monte Carlo, 10^6 trajectories with the actions drawn
 * from a broad Gaussian proposal q (the action prior is flat, so each
 * trajectory weighs exp(sum r / alpha) / prod q(u_t)); the estimate is
 * within 4 standard errors of the library's log-evidence. */
static void test_log_evidence_monte_carlo(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 904);
    /* a damped, well-actuated system: the proposal below then stays close
     * to the posterior and the estimate has a standard error below 1% */
    problem pr = {.n = 2, .m = 1,
                  .A = {0.9, 0.1, -0.1, 0.9}, .B = {0.5, 1.0}, .c = {0.1, -0.05},
                  .noise = {0.05, 0.01, 0.01, 0.04}, .Q = {0.5, 0.1, 0.1, 0.3},
                  .R = {0.5}, .QT = {1.0, 0.0, 0.0, 1.0}, .x0 = {0.5, -0.3},
                  .x0_cov = {0.05, 0.0, 0.0, 0.05}};
    const size_t T = 5, N = 1000000;
    double alpha = 1.0;
    cai_lqr *l = make_lqr(&pr, T, NAN, alpha);
    cai_lqr_solution *sol = solve(l, CAI_CONTROL_EXACT, 1e-12);
    double want = cai_lqr_solution_log_evidence(sol);
    /* proposal: u_t ~ N(K_t x_t + k_t, 2 policy_cov) from the solution
     * (any proposal is unbiased; this one keeps the variance small) */
    double K[T][2], k[T], S[T];
    cai_error err;
    for (size_t t = 0; t < T; t++)
        CU_ASSERT_FATAL(cai_lqr_solution_policy(sol, t, K[t], &k[t], &S[t], &err) == CAI_OK);
    double L0[4] = {0}, Ls[4] = {0}; /* Cholesky factors of x0_cov and noise */
    L0[0] = sqrt(pr.x0_cov[0]);
    L0[2] = pr.x0_cov[2] / L0[0];
    L0[3] = sqrt(pr.x0_cov[3] - L0[2] * L0[2]);
    Ls[0] = sqrt(pr.noise[0]);
    Ls[2] = pr.noise[2] / Ls[0];
    Ls[3] = sqrt(pr.noise[3] - Ls[2] * Ls[2]);
    double shift = want, sum = 0, sum2 = 0;
    for (size_t s = 0; s < N; s++) {
        double e0 = gsl_ran_gaussian(r, 1), e1 = gsl_ran_gaussian(r, 1);
        double x[2] = {pr.x0[0] + L0[0] * e0, pr.x0[1] + L0[2] * e0 + L0[3] * e1};
        double lw = 0;
        for (size_t t = 0; t < T; t++) {
            double var = 2 * S[t], mu = K[t][0] * x[0] + K[t][1] * x[1] + k[t];
            double u = mu + sqrt(var) * gsl_ran_gaussian(r, 1);
            lw += 0.5 * ((u - mu) * (u - mu) / var + log(2 * M_PI * var)); /* 1 / q(u) */
            double xQx = x[0] * (pr.Q[0] * x[0] + pr.Q[1] * x[1])
                         + x[1] * (pr.Q[2] * x[0] + pr.Q[3] * x[1]);
            lw -= 0.5 * (xQx + pr.R[0] * u * u) / alpha;
            e0 = gsl_ran_gaussian(r, 1);
            e1 = gsl_ran_gaussian(r, 1);
            double y0 = pr.A[0] * x[0] + pr.A[1] * x[1] + pr.B[0] * u + pr.c[0] + Ls[0] * e0;
            double y1 = pr.A[2] * x[0] + pr.A[3] * x[1] + pr.B[1] * u + pr.c[1] + Ls[2] * e0
                        + Ls[3] * e1;
            x[0] = y0;
            x[1] = y1;
        }
        lw -= 0.5 * (x[0] * (pr.QT[0] * x[0] + pr.QT[1] * x[1])
                     + x[1] * (pr.QT[2] * x[0] + pr.QT[3] * x[1])) / alpha;
        double w = exp(lw - shift);
        sum += w;
        sum2 += w * w;
    }
    double mean = sum / N, se = sqrt((sum2 / N - mean * mean) / N);
    /* |log mean - 0| within 4 standard errors (delta method: se / mean) */
    CU_ASSERT(fabs(log(mean)) < 4 * se / mean);
    CU_ASSERT(se / mean < 0.01); /* the check has power */
    cai_lqr_solution_free(sol);
    cai_lqr_free(l);
    gsl_rng_free(r);
}

/* Noise 0 and a known start: under the posterior the state moves as
 * x_t+1 = A x_t + B u_t + c with u_t ~ N(K_t x_t + k_t, S_t), so its mean
 * follows the closed-loop LQR path and its covariance
 * C_t+1 = (A + B K_t) C_t (A + B K_t)' + B S_t B', from C_0 = 0. */
static void test_state_path(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 905);
    problem pr;
    random_problem(r, 3, 2, false, true, &pr);
    size_t T = 8, n = 3, m = 2;
    cai_lqr *l = make_lqr(&pr, T, NAN, 0.8);
    cai_lqr_solution *sol = solve(l, CAI_CONTROL_EXACT, 1e-12);
    double x[MAXN], C[MAXN * MAXN] = {0}, mean[MAXN], cov[MAXN * MAXN], K[MAXN * MAXN],
                    k[MAXN], S[MAXN * MAXN];
    memcpy(x, pr.x0, sizeof x);
    cai_error err;
    for (size_t t = 0; t <= T; t++) {
        CU_ASSERT_FATAL(cai_lqr_solution_state(sol, t, mean, cov, &err) == CAI_OK);
        CU_ASSERT(max_rel_diff(mean, x, n) < 1e-9);
        CU_ASSERT(max_rel_diff(cov, C, n * n) < 1e-9);
        if (t == T)
            break;
        CU_ASSERT_FATAL(cai_lqr_solution_policy(sol, t, K, k, S, &err) == CAI_OK);
        double u[MAXN], y[MAXN], F[MAXN * MAXN], FC[MAXN * MAXN], BS[MAXN * MAXN];
        matmul(m, n, 1, K, false, x, false, u);
        for (size_t i = 0; i < m; i++)
            u[i] += k[i];
        matmul(n, m, n, pr.B, false, K, false, F);
        for (size_t i = 0; i < n * n; i++)
            F[i] += pr.A[i];
        for (size_t i = 0; i < n; i++) {
            y[i] = pr.c[i];
            for (size_t j = 0; j < n; j++)
                y[i] += pr.A[i * n + j] * x[j];
            for (size_t j = 0; j < m; j++)
                y[i] += pr.B[i * m + j] * u[j];
        }
        memcpy(x, y, sizeof y);
        matmul(n, n, n, F, false, C, false, FC);
        matmul(n, n, n, FC, false, F, true, C);
        matmul(n, m, m, pr.B, false, S, false, BS);
        matmul(n, m, n, BS, false, pr.B, true, FC);
        for (size_t i = 0; i < n * n; i++)
            C[i] += FC[i];
    }
    cai_lqr_solution_free(sol);
    cai_lqr_free(l);
    gsl_rng_free(r);
}

static void expect_yaml_error(const char *text, const char *what, size_t line, size_t col)
{
    cai_model *m = NULL;
    cai_error err;
    cai_status st = cai_model_load_string(text, strlen(text), "bad.yaml", &m, &err);
    CU_ASSERT(st == CAI_ERR_MODEL && m == NULL);
    if (strstr(err.message, what) == NULL || err.line != line || err.column != col)
        fprintf(stderr, "got %zu:%zu %s\n  want %zu:%zu %s\n", err.line, err.column,
                err.message, line, col, what);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, what));
    CU_ASSERT_EQUAL(err.line, line);
    CU_ASSERT_EQUAL(err.column, col);
}

static void test_yaml_errors(void)
{
#define HEAD "kind: lqr\nA: [[1, 0.1], [0, 1]]\n"
    expect_yaml_error(HEAD "B: [[0], [1], [2]]\nQ: [[1, 0], [0, 1]]\nR: [[1]]\nx0: [0, 0]\n"
                      "horizon: 3\n", "'B' has 3 rows, expected 2", 3, 4);
    expect_yaml_error(HEAD "B: [[0], [1]]\nQ: [[1, 2], [0, 1]]\nR: [[1]]\nx0: [0, 0]\n"
                      "horizon: 3\n", "Q is not symmetric", 4, 4);
    expect_yaml_error(HEAD "B: [[0], [1]]\nQ: [[1, 0], [0, 1]]\nR: [[-1]]\nx0: [0, 0]\n"
                      "horizon: 3\n", "R is not positive definite", 5, 4);
    expect_yaml_error(HEAD "B: [[0], [1]]\nQ: [[1, 0], [0, 1]]\nR: [[1]]\nx0: [0, 0]\n"
                      "noise: [[1, 0], [0, -1]]\nhorizon: 3\n",
                      "noise is not positive semidefinite", 7, 8);
    expect_yaml_error(HEAD "B: [[0], [1]]\nQ: [[1, 0], [0, 1, 3]]\nR: [[1]]\nx0: [0, 0]\n"
                      "horizon: 3\n", "'Q row 1' has 3 entries, expected 2", 4, 13);
    expect_yaml_error(HEAD "B: [[0], [1]]\nQ: [[1, 0], [0, .nan]]\nR: [[1]]\nx0: [0, 0]\n"
                      "horizon: 3\n", "must be a finite number", 4, 17);
    expect_yaml_error(HEAD "B: [[0], [1]]\nQ: [[1, 0], [0, 1]]\nR: [[1]]\nx0: [0]\n"
                      "horizon: 3\n", "'x0' must be a sequence of 2 numbers", 6, 5);
    expect_yaml_error(HEAD "B: [[0], [1]]\nQ: [[1, 0], [0, 1]]\nR: [[1]]\nx0: [0, 0]\n"
                      "horizon: 3\ndiscount: 0.9\n", "not both", 8, 1);
    expect_yaml_error(HEAD "B: [[0], [1]]\nQ: [[1, 0], [0, 1]]\nR: [[1]]\nx0: [0, 0]\n"
                      "discount: 1.5\n", "'discount' must be a number in (0, 1]", 7, 11);
    expect_yaml_error(HEAD "B: [[0], [1]]\nQ: [[1, 0], [0, 1]]\nR: [[1]]\nx0: [0, 0]\n"
                      "horizon: 3\ntemperature: 0\n", "'temperature' must be > 0", 8, 14);
    expect_yaml_error("kind: lqr\nA: [[1, 0], [0]]\nB: [[0], [1]]\nQ: [[1, 0], [0, 1]]\n"
                      "R: [[1]]\nx0: [0, 0]\nhorizon: 3\n", "'A row 1' has 1 entries", 2, 13);
    expect_yaml_error(HEAD "B: [[0], [1]]\nQ: [[1, 0], [0, 1]]\nR: [[1]]\nhorizon: 3\n",
                      "missing key 'x0'", 1, 1);
#undef HEAD
}

/* The command line prints what the library gives. */
static void test_cli(void)
{
    cai_test_outcome o = cai_test_run("solve %s/models/double_integrator.yaml --json",
                                      CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL_FATAL(o.status, 0);
    cai_model *m = NULL;
    cai_error err;
    char path[4096];
    snprintf(path, sizeof path, "%s/models/double_integrator.yaml", CAI_SOURCE_ROOT);
    CU_ASSERT_FATAL(cai_model_load(path, &m, &err) == CAI_OK);
    cai_lqr_solution *sol = solve(cai_model_lqr(m), CAI_CONTROL_EXACT, 1e-12);
    double K[2];
    CU_ASSERT_FATAL(cai_lqr_solution_policy(sol, 0, K, NULL, NULL, &err) == CAI_OK);
    const char *kp = strstr(o.out, "\"K\": [");
    CU_ASSERT_PTR_NOT_NULL_FATAL(kp);
    double k0, k1;
    const char *num = kp + strlen("\"K\": [");
    while (*num && strchr(" \n[", *num))
        num++;
    k0 = strtod(num, (char **)&num);
    while (*num && strchr(" ,\n", *num))
        num++;
    k1 = strtod(num, NULL);
    CU_ASSERT_DOUBLE_EQUAL(k0, K[0], 1e-12 * fabs(K[0]));
    CU_ASSERT_DOUBLE_EQUAL(k1, K[1], 1e-12 * fabs(K[1]));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"kind\": \"lqr\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"state_cov\": ["));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"seconds_solve\": "));
    cai_lqr_solution_free(sol);
    cai_model_free(m);
    cai_test_outcome_free(&o);

    o = cai_test_run("solve %s/models/pendulum.yaml", CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "stationary Riccati fixed point: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "converged"));
    cai_test_outcome_free(&o);
    o = cai_test_run("check %s/models/quadrotor.yaml", CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "ok (lqr, n = 12, m = 4, horizon 200"));
    cai_test_outcome_free(&o);
    o = cai_test_run("solve %s/models/double_integrator.yaml --algorithm map", CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err, "exact or variational"));
    cai_test_outcome_free(&o);
    o = cai_test_run("sample %s/models/double_integrator.yaml", CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL(o.status, 2);
    cai_test_outcome_free(&o);
}

static void test_api_errors(void)
{
    problem pr;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 906);
    random_problem(r, 2, 1, false, false, &pr);
    cai_lqr_spec s = {.n = 2, .m = 1, .A = pr.A, .B = pr.B, .Q = pr.Q, .R = pr.R,
                      .horizon = 3, .temperature = 1};
    cai_lqr *l = NULL;
    cai_error err;
    s.temperature = 0;
    CU_ASSERT(cai_lqr_create(&s, &l, &err) == CAI_ERR_RANGE && l == NULL);
    s.temperature = 1;
    s.horizon = 0;
    s.discount = 0;
    CU_ASSERT(cai_lqr_create(&s, &l, &err) == CAI_ERR_RANGE);
    s.horizon = 3;
    pr.R[0] = -1;
    CU_ASSERT(cai_lqr_create(&s, &l, &err) == CAI_ERR_NUMERIC);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "R is not positive definite"));
    pr.R[0] = 1;
    pr.Q[1] = NAN;
    CU_ASSERT(cai_lqr_create(&s, &l, &err) == CAI_ERR_NUMERIC);
    pr.Q[1] = pr.Q[2];
    s.n = 0;
    CU_ASSERT(cai_lqr_create(&s, &l, &err) == CAI_ERR_RANGE);
    s.n = 2;
    CU_ASSERT_FATAL(cai_lqr_create(&s, &l, &err) == CAI_OK);
    cai_lqr_options o = cai_lqr_options_default();
    o.algorithm = CAI_CONTROL_MAP;
    cai_lqr_solution *sol = NULL;
    CU_ASSERT(cai_lqr_solve(l, &o, &sol, &err) == CAI_ERR_INVALID && sol == NULL);
    o = cai_lqr_options_default();
    o.temperature = -1;
    CU_ASSERT(cai_lqr_solve(l, &o, &sol, &err) == CAI_ERR_INVALID);
    o = cai_lqr_options_default();
    o.horizon = 7; /* overrides the model's 3 */
    CU_ASSERT_FATAL(cai_lqr_solve(l, &o, &sol, &err) == CAI_OK);
    CU_ASSERT(cai_lqr_solution_horizon(sol) == 7);
    double P[4];
    CU_ASSERT(cai_lqr_solution_value(sol, 8, P, NULL, &err) == CAI_ERR_RANGE);
    CU_ASSERT(cai_lqr_solution_policy(sol, 7, P, NULL, NULL, &err) == CAI_ERR_RANGE);
    cai_lqr_solution_free(sol);
    cai_lqr_free(l);
    /* a convex reward (Q negative definite) with cheap control: R + B'P~B
     * stops being positive definite at some step; the error names the step */
    double Qneg[4] = {-5, 0, 0, -5}, A2[4] = {1, 0.1, 0, 1}, B2[2] = {0.005, 0.1}, R2 = 0.01;
    cai_lqr_spec neg = {.n = 2, .m = 1, .A = A2, .B = B2, .Q = Qneg, .R = &R2, .horizon = 20,
                        .temperature = 1};
    CU_ASSERT_FATAL(cai_lqr_create(&neg, &l, &err) == CAI_OK);
    sol = NULL;
    CU_ASSERT(cai_lqr_solve(l, NULL, &sol, &err) == CAI_ERR_NUMERIC && sol == NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "variable 'u19'"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "R + B'P~B"));
    cai_lqr_free(l);
    cai_lqr_free(NULL);
    cai_lqr_solution_free(NULL);
    gsl_rng_free(r);
}

static int suite_init(void)
{
    return cai_test_dir_create("/tmp/cai-test-lqr-XXXXXX");
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("lqr", suite_init, cai_test_dir_remove);
    CU_add_test(s, "Riccati, risk-seeking and certainty-equivalent recursions",
                test_recursions);
    CU_add_test(s, "infinite horizon: the discounted DARE", test_dare);
    CU_add_test(s, "log-evidence and posterior state, T = 1, closed form",
                test_log_evidence_closed_form);
    CU_add_test(s, "log-evidence, T = 5, Monte Carlo", test_log_evidence_monte_carlo);
    CU_add_test(s, "noise 0: the closed-loop state path", test_state_path);
    CU_add_test(s, "YAML errors", test_yaml_errors);
    CU_add_test(s, "command line", test_cli);
    CU_add_test(s, "API errors", test_api_errors);
}
