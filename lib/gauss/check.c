/* lib/gauss/check.c — cai_gauss_matrix_check: the engine's own symmetry
 * and definiteness tests, offered to builders and loaders so that their
 * errors (with file positions) say exactly what the engine would. */
#include "gauss_impl.h"

#include <stdlib.h>

cai_status cai_gauss_matrix_check(const double *A, size_t n, unsigned check,
                                  const char *name, cai_error *err)
{
    if (A == NULL || name == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    cai_status st = (check & (CAI_GAUSS_SYMMETRIC | CAI_GAUSS_PSD | CAI_GAUSS_PD))
                        ? gl_check_symmetric(A, n, name, err)
                        : gl_check_finite(A, n * n, name, err);
    if (st != CAI_OK || !(check & (CAI_GAUSS_PSD | CAI_GAUSS_PD)))
        return st;
    double *w = gl_alloc(3 * n * n);
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    if (w == NULL || perm == NULL) {
        free(w);
        free(perm);
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    }
    if (check & CAI_GAUSS_PD) {
        for (size_t i = 0; i < n * n; i++)
            w[i] = A[i];
        size_t j = gl_chol(w, n, n);
        if (j < n)
            st = cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                               "%s is not positive definite (the Cholesky factorisation "
                               "fails at pivot %zu)", name, j);
    } else if (gl_psd_factor(A, n, w, w + n * n, perm) == (size_t)-1) {
        st = cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                           "%s is not positive semidefinite", name);
    }
    free(w);
    free(perm);
    return st;
}
