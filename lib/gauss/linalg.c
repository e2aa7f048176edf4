/* lib/gauss/linalg.c — the small dense kernels of the Gaussian engine:
 * CBLAS (OpenBLAS) calls on row-major arrays that accept zero sizes, a
 * Cholesky factorisation that reports its failing pivot instead of calling
 * GSL's error handler, a rank-revealing factor for covariances, and the
 * input checks. */
#include "gauss_impl.h"

#include "cai/logmath.h"

#include <float.h>
#include <gsl/gsl_cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* pivots below this fraction of their diagonal entry count as zero */
#define CHOL_REL_TOL (64.0 * DBL_EPSILON)

static enum CBLAS_TRANSPOSE tr(bool t) { return t ? CblasTrans : CblasNoTrans; }

void gl_gemm(bool ta, bool tb, size_t m, size_t n, size_t k, double alpha,
             const double *A, size_t lda, const double *B, size_t ldb,
             double beta, double *C, size_t ldc)
{
    if (m == 0 || n == 0)
        return;
    if (k == 0 || alpha == 0.0) {
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++)
                C[i * ldc + j] = beta == 0.0 ? 0.0 : beta * C[i * ldc + j];
        return;
    }
    cblas_dgemm(CblasRowMajor, tr(ta), tr(tb), (int)m, (int)n, (int)k, alpha,
                A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

void gl_gemv(bool ta, size_t m, size_t n, double alpha, const double *A,
             size_t lda, const double *x, double beta, double *y)
{
    size_t ny = ta ? n : m, nx = ta ? m : n;
    if (ny == 0)
        return;
    if (nx == 0 || alpha == 0.0) {
        for (size_t i = 0; i < ny; i++)
            y[i] = beta == 0.0 ? 0.0 : beta * y[i];
        return;
    }
    cblas_dgemv(CblasRowMajor, tr(ta), (int)m, (int)n, alpha, A, (int)lda, x, 1,
                beta, y, 1);
}

double gl_dot(size_t n, const double *x, const double *y)
{
    return n ? cblas_ddot((int)n, x, 1, y, 1) : 0.0;
}

void gl_symmetrise(double *A, size_t n, size_t lda)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double v = 0.5 * (A[i * lda + j] + A[j * lda + i]);
            A[i * lda + j] = v;
            A[j * lda + i] = v;
        }
}

/* Gaxpy Cholesky (Golub & Van Loan 4.2.1, as GSL's level-2 kernel):
 * column j of L from A(j:n, j) - L(j:n, 0:j) L(j, 0:j)'. */
size_t gl_chol(double *A, size_t n, size_t lda)
{
    for (size_t j = 0; j < n; j++) {
        double ajj0 = A[j * lda + j];
        const double *rj = A + j * lda;
        for (size_t i = j; i < n; i++) { /* the row dots are short: no BLAS call */
            const double *ri = A + i * lda;
            double s = 0.0;
            for (size_t l = 0; l < j; l++)
                s += ri[l] * rj[l];
            A[i * lda + j] -= s;
        }
        double ajj = A[j * lda + j];
        if (!(ajj > 0.0) || !(ajj > CHOL_REL_TOL * ajj0) || !isfinite(ajj))
            return j;
        ajj = sqrt(ajj);
        for (size_t i = j; i < n; i++)
            A[i * lda + j] /= ajj;
    }
    return n;
}

double gl_chol_logdet_half(const double *L, size_t n, size_t lda)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += log(L[i * lda + i]);
    return s;
}

void gl_trsm_left(bool trans, size_t n, size_t m, const double *L, size_t ldl,
                  double *B, size_t ldb)
{
    if (n == 0 || m == 0)
        return;
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasLower, tr(trans), CblasNonUnit,
                (int)n, (int)m, 1.0, L, (int)ldl, B, (int)ldb);
}

void gl_trsm_right_lt(size_t m, size_t n, const double *L, size_t ldl, double *B,
                      size_t ldb)
{
    if (n == 0 || m == 0)
        return;
    cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit,
                (int)m, (int)n, 1.0, L, (int)ldl, B, (int)ldb);
}

void gl_trsv(bool trans, size_t n, const double *L, size_t ldl, double *x)
{
    if (n == 0)
        return;
    cblas_dtrsv(CblasRowMajor, CblasLower, tr(trans), CblasNonUnit, (int)n, L,
                (int)ldl, x, 1);
}

/* Outer-product Cholesky with diagonal pivoting (Higham's rank-revealing
 * Cholesky, LAPACK dpstrf's tolerance): stop when the largest remaining
 * diagonal is <= n eps max diag; for a PSD matrix the remaining Schur
 * complement is then negligible, so a large entry left means S is not PSD. */
size_t gl_psd_factor(const double *S, size_t n, double *F, double *R,
                     size_t *perm)
{
    memcpy(R, S, n * n * sizeof(double));
    double scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        perm[i] = i;
        scale = fmax(scale, fabs(S[i * n + i]));
        for (size_t j = 0; j < n; j++)
            scale = fmax(scale, fabs(S[i * n + j]));
    }
    double tol = (double)n * DBL_EPSILON * scale;
    memset(F, 0, n * n * sizeof(double));
    size_t r = 0;
    for (; r < n; r++) {
        /* the largest remaining diagonal among perm[r..n-1] */
        size_t best = r;
        for (size_t i = r + 1; i < n; i++)
            if (R[perm[i] * n + perm[i]] > R[perm[best] * n + perm[best]])
                best = i;
        size_t p = perm[best];
        perm[best] = perm[r];
        perm[r] = p;
        double d = R[p * n + p];
        if (!(d > tol))
            break;
        double s = sqrt(d);
        for (size_t i = r; i < n; i++) /* column r of F, in original rows */
            F[perm[i] * n + r] = R[perm[i] * n + p] / s;
        for (size_t i = r + 1; i < n; i++)
            for (size_t j = r + 1; j < n; j++) {
                size_t a = perm[i], b = perm[j];
                R[a * n + b] -= F[a * n + r] * F[b * n + r];
            }
    }
    for (size_t i = r; i < n; i++)
        for (size_t j = r; j < n; j++)
            if (fabs(R[perm[i] * n + perm[j]]) > 1e-10 * fmax(scale, DBL_MIN))
                return (size_t)-1;
    /* compact F to n x r with leading dimension n: already in columns 0..r-1 */
    return r;
}

cai_status gl_check_finite(const double *x, size_t n, const char *what,
                           cai_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                 "%s: entry %zu is %g (must be finite)", what, i, x[i]);
    return CAI_OK;
}

cai_status gl_check_symmetric(const double *A, size_t n, const char *what,
                              cai_error *err)
{
    cai_status st = gl_check_finite(A, n * n, what, err);
    if (st != CAI_OK)
        return st;
    double scale = 0.0;
    for (size_t i = 0; i < n * n; i++)
        scale = fmax(scale, fabs(A[i]));
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (fabs(A[i * n + j] - A[j * n + i]) > 1e-10 * scale)
                return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                     "%s is not symmetric: %s[%zu][%zu] = %.17g but "
                                     "%s[%zu][%zu] = %.17g",
                                     what, what, i, j, A[i * n + j], what, j, i,
                                     A[j * n + i]);
    return CAI_OK;
}

double *gl_alloc(size_t n)
{
    size_t bytes;
    if (!cai_size_mul(n ? n : 1, sizeof(double), &bytes))
        return NULL;
    return malloc(bytes);
}
