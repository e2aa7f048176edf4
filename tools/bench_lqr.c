/* tools/bench_lqr.c — the LQR row of cai-bench (see bench_lqr.h). The
 * hand-written recursion is the strongest straightforward code: CBLAS
 * (OpenBLAS, the library cai links) for every product, a Cholesky solve for
 * the gain, P_t and K_t kept for every t as cai keeps its messages. */
#include "bench_lqr.h"

#include <gsl/gsl_cblas.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cai/cai.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* P_t (T+1 of n x n) and K_t (T of m x n) by
 *   M = R + B'PB, K = -M^-1 B'PA, P_t = Q + A'PA + A'PB K  from P_T = QT. */
static int riccati(size_t n, size_t m, size_t T, const double *A, const double *B,
                   const double *Q, const double *R, const double *QT, double *P, double *K,
                   double *work)
{
    double *PA = work, *PB = PA + n * n, *M = PB + n * m, *G = M + m * m;
    memcpy(P + T * n * n, QT, n * n * sizeof *P);
    gsl_matrix_view Mv = gsl_matrix_view_array(M, m, m);
    for (size_t t = T; t-- > 0;) {
        const double *Pn = P + (t + 1) * n * n;
        double *Pt = P + t * n * n, *Kt = K + t * m * n;
        int in = (int)n, im = (int)m;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, in, in, in, 1.0, Pn, in, A,
                    in, 0.0, PA, in);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, in, im, in, 1.0, Pn, in, B,
                    im, 0.0, PB, im);
        memcpy(M, R, m * m * sizeof *M);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, im, im, in, 1.0, B, im, PB, im,
                    1.0, M, im);
        /* G = B'PA, then K = -M^-1 G by two triangular solves */
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, im, in, in, 1.0, B, im, PA, in,
                    0.0, G, in);
        if (gsl_linalg_cholesky_decomp1(&Mv.matrix) != 0)
            return -1;
        /* M = L L' (L in M's lower triangle): G <- L'^-1 L^-1 G */
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, im, in,
                    1.0, M, im, G, in);
        cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, im, in,
                    1.0, M, im, G, in);
        for (size_t i = 0; i < m * n; i++)
            Kt[i] = -G[i];
        /* P_t = Q + A'PA + (A'PB) K */
        memcpy(Pt, Q, n * n * sizeof *Pt);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, in, in, 1.0, A, in, PA, in,
                    1.0, Pt, in);
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, im, in, 1.0, A, in, PB, im,
                    0.0, G, im);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, in, in, im, 1.0, G, im, Kt, in,
                    1.0, Pt, in);
        for (size_t i = 0; i < n; i++) /* symmetrise, as the engine does */
            for (size_t j = i + 1; j < n; j++)
                Pt[i * n + j] = Pt[j * n + i] = 0.5 * (Pt[i * n + j] + Pt[j * n + i]);
    }
    return 0;
}

static double rel_diff(const double *a, const double *b, size_t k)
{
    double d = 0, big = 1e-300;
    for (size_t i = 0; i < k; i++) {
        d = fmax(d, fabs(a[i] - b[i]));
        big = fmax(big, fabs(b[i]));
    }
    return d / big;
}

void bench_run_lqr(bench_lqr_run *out, size_t n, size_t m, size_t T, size_t reps,
                   unsigned long seed)
{
    memset(out, 0, sizeof *out);
    *out = (bench_lqr_run){.n = n, .m = m, .T = T, .reps = reps, .cai_seconds = NAN,
                           .hand_seconds = NAN, .diff = NAN};
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, seed);
    double *A = calloc(n * n, sizeof *A), *B = calloc(n * m, sizeof *B),
           *Q = calloc(n * n, sizeof *Q), *R = calloc(m * m, sizeof *R),
           *P = malloc((T + 1) * n * n * sizeof *P), *K = malloc(T * m * n * sizeof *K),
           *work = malloc((2 * n * n + 2 * n * m + m * m) * sizeof *work),
           *cP = malloc(n * n * sizeof *cP), *cK = malloc(m * n * sizeof *cK),
           *t_cai = malloc(reps * sizeof *t_cai), *t_hand = malloc(reps * sizeof *t_hand);
    cai_lqr *l = NULL;
    cai_error err;
    if (!A || !B || !Q || !R || !P || !K || !work || !cP || !cK || !t_cai || !t_hand) {
        snprintf(out->message, sizeof out->message, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) { /* a slowly decaying rotation-like system */
        for (size_t j = 0; j < n; j++)
            A[i * n + j] = (i == j ? 0.98 : 0.0) + 0.05 * gsl_ran_gaussian(r, 1.0);
        Q[i * n + i] = 1.0 + gsl_rng_uniform(r);
    }
    for (size_t i = 0; i < n * m; i++)
        B[i] = gsl_ran_gaussian(r, 1.0);
    for (size_t i = 0; i < m; i++)
        R[i * m + i] = 0.1 + gsl_rng_uniform(r);
    cai_lqr_spec spec = {.n = n, .m = m, .A = A, .B = B, .Q = Q, .R = R, .horizon = T,
                         .temperature = 1.0};
    if (cai_lqr_create(&spec, &l, &err) != CAI_OK) {
        snprintf(out->message, sizeof out->message, "%s", err.message);
        goto done;
    }
    cai_lqr_options o = cai_lqr_options_default();
    o.state_marginals = false; /* the backward recursion only, as the hand code */
    for (size_t k = 0; k < reps; k++) {
        double t0 = now();
        if (riccati(n, m, T, A, B, Q, R, Q, P, K, work) != 0) {
            snprintf(out->message, sizeof out->message, "R + B'PB not positive definite");
            goto done;
        }
        t_hand[k] = now() - t0;
        cai_lqr_solution *sol = NULL;
        t0 = now();
        if (cai_lqr_solve(l, &o, &sol, &err) != CAI_OK) {
            snprintf(out->message, sizeof out->message, "%s", err.message);
            goto done;
        }
        t_cai[k] = now() - t0;
        if (cai_lqr_solution_value(sol, 0, cP, NULL, &err) != CAI_OK
            || cai_lqr_solution_policy(sol, 0, cK, NULL, NULL, &err) != CAI_OK) {
            snprintf(out->message, sizeof out->message, "%s", err.message);
            cai_lqr_solution_free(sol);
            goto done;
        }
        cai_lqr_solution_free(sol);
        out->diff = fmax(rel_diff(cP, P, n * n), rel_diff(cK, K, m * n));
    }
    qsort(t_cai, reps, sizeof *t_cai, cmp_double);
    qsort(t_hand, reps, sizeof *t_hand, cmp_double);
    out->cai_seconds = t_cai[reps / 2];
    out->hand_seconds = t_hand[reps / 2];
done:
    cai_lqr_free(l);
    free(A); free(B); free(Q); free(R); free(P); free(K); free(work); free(cP); free(cK);
    free(t_cai); free(t_hand);
    gsl_rng_free(r);
}

void bench_report_lqr(FILE *f, const bench_lqr_run *r)
{
    fprintf(f, "### LQR (n = %zu, m = %zu, T = %zu, noise 0, median of %zu, one thread)\n\n",
            r->n, r->m, r->T, r->reps);
    if (r->message[0]) {
        fprintf(f, "failed: %s\n\n", r->message);
        return;
    }
    fprintf(f, "| method | ms | us/step | vs hand | P_0, K_0 rel. diff |\n");
    fprintf(f, "|---|---:|---:|---:|---:|\n");
    fprintf(f, "| cai exact (Gaussian engine, upward pass) | %.4g | %.4g | %.3g | %.1e |\n",
            1e3 * r->cai_seconds, 1e6 * r->cai_seconds / (double)r->T,
            r->cai_seconds / r->hand_seconds, r->diff);
    fprintf(f, "| hand-written Riccati (CBLAS) | %.4g | %.4g | 1 | – |\n\n",
            1e3 * r->hand_seconds, 1e6 * r->hand_seconds / (double)r->T);
}
