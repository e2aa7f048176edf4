/* lib/control/spec.h — checking and copying the matrices of the
 * linear-Gaussian builders (lqr.c, lgssm.c). Internal to libcai. */
#ifndef CAI_CONTROL_SPEC_H
#define CAI_CONTROL_SPEC_H

#include <stddef.h>

#include "cai/error.h"

/* One input matrix or vector: size entries; check 0 = finite entries only,
 * else cai_gauss_matrix_check flags on the dim x dim matrix. */
typedef struct spec_matrix {
    const double *v; /* NULL: absent (not checked) */
    size_t dim, size;
    const char *name;
    unsigned check;
} spec_matrix;

/* Check every present entry of mats[0..count-1], stopping at the first
 * problem (CAI_ERR_NUMERIC naming the matrix and the entry). */
cai_status spec_check(const spec_matrix *mats, size_t count, cai_error *err);

/* A copy of n doubles, or n zeros when src is NULL; NULL when out of
 * memory. */
double *spec_copy(const double *src, size_t n);

/* CAI_ERR_NOMEM "out of memory". */
cai_status spec_nomem(cai_error *err);

#endif
