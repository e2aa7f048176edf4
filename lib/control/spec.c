/* lib/control/spec.c — see spec.h. */
#include "spec.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cai/gauss.h"

cai_status spec_check(const spec_matrix *mats, size_t count, cai_error *err)
{
    for (size_t i = 0; i < count; i++) {
        const spec_matrix *m = &mats[i];
        if (m->v == NULL)
            continue;
        if (m->check) {
            cai_status st = cai_gauss_matrix_check(m->v, m->dim, m->check, m->name, err);
            if (st != CAI_OK)
                return st;
            continue;
        }
        for (size_t j = 0; j < m->size; j++)
            if (!isfinite(m->v[j]))
                return cai_error_set(err, CAI_ERR_NUMERIC, NULL, 0, 0,
                                     "%s: entry %zu is %g, not a finite number", m->name, j,
                                     m->v[j]);
    }
    return CAI_OK;
}

double *spec_copy(const double *src, size_t n)
{
    double *d = calloc(n ? n : 1, sizeof *d);
    if (d != NULL && src != NULL)
        memcpy(d, src, n * sizeof *d);
    return d;
}

cai_status spec_nomem(cai_error *err)
{
    return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
}
