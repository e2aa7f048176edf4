/* lib/gauss/message.c — canonical-form messages exp(-1/2 x'Jx + h'x + c)
 * and their conversion to moment form. */
#include "gauss_impl.h"

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

cai_status cai_gauss_message_create(size_t n, cai_gauss_message **out_m,
                                    cai_error *err)
{
    if (out_m == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "out_m is NULL");
    if (n == 0 || n > CAI_GAUSS_MAX_DIM)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "message dimension %zu is not in 1..%zu", n,
                             (size_t)CAI_GAUSS_MAX_DIM);
    cai_gauss_message *m = malloc(sizeof *m);
    double *mem = gl_alloc(n * n + n);
    if (m == NULL || mem == NULL) {
        free(m);
        free(mem);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    }
    memset(mem, 0, (n * n + n) * sizeof(double));
    m->n = n;
    m->J = mem;
    m->h = mem + n * n;
    m->c = 0.0;
    *out_m = m;
    return CAI_OK;
}

void cai_gauss_message_free(cai_gauss_message *m)
{
    if (m == NULL)
        return;
    free(m->J);
    free(m);
}

cai_status cai_gauss_message_set(cai_gauss_message *m, const double *J,
                                 const double *h, double c, cai_error *err)
{
    if (m == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "message is NULL");
    size_t n = m->n;
    cai_status st = CAI_OK;
    if (J)
        st = gl_check_symmetric(J, n, "J", err);
    if (st == CAI_OK && h)
        st = gl_check_finite(h, n, "h", err);
    if (st == CAI_OK && !isfinite(c))
        st = cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0, "c is %g (must be finite)", c);
    if (st != CAI_OK)
        return st;
    if (J) {
        memcpy(m->J, J, n * n * sizeof(double));
        gl_symmetrise(m->J, n, n);
    } else {
        memset(m->J, 0, n * n * sizeof(double));
    }
    if (h)
        memcpy(m->h, h, n * sizeof(double));
    else
        memset(m->h, 0, n * sizeof(double));
    m->c = c;
    return CAI_OK;
}

/* The Cholesky factor L of A (n x n; symmetrised first when asked) and x =
 * A^-1 b, in one allocation: *out_L, with x at *out_L + n n (free
 * *out_L). A NUMERIC error "<what> is not positive definite (pivot i)<why>"
 * when A is not. */
static cai_status chol_solve(const double *A, const double *b, size_t n, bool symmetrise,
                             const char *what, const char *why, double **out_L,
                             cai_error *err)
{
    double *L = gl_alloc(n * n + n);
    if (L == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    memcpy(L, A, n * n * sizeof(double));
    if (symmetrise)
        gl_symmetrise(L, n, n);
    size_t fail = gl_chol(L, n, n);
    if (fail < n) {
        free(L);
        return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                             "%s is not positive definite (pivot %zu)%s", what, fail, why);
    }
    double *x = L + n * n;
    gsl_matrix_view Lv = gsl_matrix_view_array(L, n, n);
    gsl_vector_view xv = gsl_vector_view_array(x, n);
    memcpy(x, b, n * sizeof(double));
    gsl_linalg_cholesky_svx(&Lv.matrix, &xv.vector);
    *out_L = L;
    return CAI_OK;
}

cai_status cai_gauss_message_set_moments(cai_gauss_message *m, const double *mean,
                                         const double *cov, cai_error *err)
{
    if (m == NULL || mean == NULL || cov == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "message, mean and cov must not be NULL");
    size_t n = m->n;
    cai_status st = gl_check_finite(mean, n, "mean", err);
    if (st == CAI_OK)
        st = gl_check_symmetric(cov, n, "cov", err);
    if (st != CAI_OK)
        return st;
    /* J = cov^-1 (the message's own parameter), h = J mean */
    double *L;
    if ((st = chol_solve(cov, mean, n, true, "cov",
                         "; a point mass has no canonical form", &L, err)) != CAI_OK)
        return st;
    double *hh = L + n * n;
    gsl_matrix_view Lv = gsl_matrix_view_array(L, n, n);
    double logdet_half = gl_chol_logdet_half(L, n, n);
    m->c = -0.5 * gl_dot(n, mean, hh) - 0.5 * (double)n * LOG_2PI - logdet_half;
    memcpy(m->h, hh, n * sizeof(double));
    gsl_linalg_cholesky_invert(&Lv.matrix);
    memcpy(m->J, L, n * n * sizeof(double));
    gl_symmetrise(m->J, n, n);
    free(L);
    return CAI_OK;
}

size_t cai_gauss_message_dim(const cai_gauss_message *m) { return m ? m->n : 0; }
const double *cai_gauss_message_J(const cai_gauss_message *m) { return m ? m->J : NULL; }
const double *cai_gauss_message_h(const cai_gauss_message *m) { return m ? m->h : NULL; }
double cai_gauss_message_c(const cai_gauss_message *m) { return m ? m->c : NAN; }

cai_status cai_gauss_message_multiply(cai_gauss_message *m,
                                      const cai_gauss_message *other, cai_error *err)
{
    if (m == NULL || other == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "message is NULL");
    if (m->n != other->n)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "messages of dimensions %zu and %zu", m->n, other->n);
    size_t n = m->n;
    for (size_t i = 0; i < n * n; i++)
        m->J[i] += other->J[i];
    for (size_t i = 0; i < n; i++)
        m->h[i] += other->h[i];
    m->c += other->c;
    gl_symmetrise(m->J, n, n);
    return CAI_OK;
}

double cai_gauss_message_log_value(const cai_gauss_message *m, const double *x)
{
    if (m == NULL || x == NULL)
        return NAN;
    double q = 0.0;
    for (size_t i = 0; i < m->n; i++)
        q += x[i] * gl_dot(m->n, m->J + i * m->n, x);
    return -0.5 * q + gl_dot(m->n, m->h, x) + m->c;
}

cai_status cai_gauss_message_moments(const cai_gauss_message *m, double *out_mean,
                                     double *out_cov, double *out_log_mass,
                                     cai_error *err)
{
    if (m == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "message is NULL");
    size_t n = m->n;
    double *L;
    cai_status st = chol_solve(m->J, m->h, n, false, "J",
                               ": the message is not a normalisable Gaussian", &L, err);
    if (st != CAI_OK)
        return st;
    double *mu = L + n * n;
    gsl_matrix_view Lv = gsl_matrix_view_array(L, n, n);
    if (out_log_mass)
        *out_log_mass = m->c + 0.5 * (double)n * LOG_2PI -
                        gl_chol_logdet_half(L, n, n) + 0.5 * gl_dot(n, m->h, mu);
    if (out_mean)
        memcpy(out_mean, mu, n * sizeof(double));
    if (out_cov) {
        /* the covariance is the requested output, so J^-1 itself */
        gsl_linalg_cholesky_invert(&Lv.matrix);
        gl_symmetrise(L, n, n);
        memcpy(out_cov, L, n * n * sizeof(double));
    }
    free(L);
    return CAI_OK;
}
