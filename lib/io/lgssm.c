/* lib/io/lgssm.c — the `kind: lgssm` loader (format in cai/model.h): the
 * matrices as sequences of rows (lib/io/matrix.c), the observations as T
 * rows of p numbers; every size, symmetry and definiteness problem is
 * reported at the offending node before cai_lgssm_create (which checks
 * again, without positions). */
#include "model_impl.h"

#include <stdio.h>
#include <stdlib.h>

#include "cai/gauss.h"
#include "cai/lgssm.h"

enum { G_KIND, G_NAME, G_A, G_C_VEC, G_Q, G_C, G_D, G_R, G_X0, G_X0COV, G_OBS, N_G };

/* The observations: a non-empty sequence of rows of p numbers. */
static cai_status read_observations(const yr_loader *L, const yr_field *f, size_t p,
                                    double **out, size_t *out_T)
{
    if (f->value->type == YAML_SEQUENCE_NODE && yr_seq_len(f->value) == 0)
        return yr_fail_at(L, f->value, "'observations' is empty: give at least one row "
                          "y_0 of %zu numbers (p, the rows of C)", p);
    char shape[64];
    snprintf(shape, sizeof shape, "T x p, p = %zu the rows of C", p);
    return model_read_matrix(L, f, 0, p, CAI_LGSSM_MAX_STEPS, p, shape, out, out_T, NULL);
}

cai_status model_load_lgssm(const yr_loader *L, yaml_node_t *root, cai_model *m)
{
    yr_field f[N_G] = {
        {"kind", NULL, NULL}, {"name", NULL, NULL}, {"A", NULL, NULL},
        {"c", NULL, NULL},    {"Q", NULL, NULL},    {"C", NULL, NULL},
        {"d", NULL, NULL},    {"R", NULL, NULL},    {"x0", NULL, NULL},
        {"x0_cov", NULL, NULL}, {"observations", NULL, NULL},
    };
    double *A = NULL, *c = NULL, *Q = NULL, *C = NULL, *d = NULL, *R = NULL, *x0 = NULL,
           *x0_cov = NULL, *y = NULL;
    size_t n = 0, p = 0, cols = 0, T = 0;
    cai_status st = model_read_root(L, root, f, N_G, G_NAME, m);
    static const int required[] = {G_A, G_Q, G_C, G_R, G_X0, G_X0COV, G_OBS};
    for (size_t j = 0; j < sizeof required / sizeof required[0] && st == CAI_OK; j++)
        st = yr_require(L, root, "the model", &f[required[j]]);
    if (st == CAI_OK)
        st = model_read_matrix(L, &f[G_A], 0, 0, CAI_LGSSM_MAX_DIM, CAI_LGSSM_MAX_DIM,
                               "A is n x n", &A, &n, &cols);
    if (st == CAI_OK && cols != n)
        st = yr_fail_at(L, f[G_A].value, "'A' must be square, got %zu x %zu", n, cols);
    char shape_n[64], shape_c[64], shape_p[64];
    snprintf(shape_n, sizeof shape_n, "%zu x %zu, n = %zu the rows of A", n, n, n);
    snprintf(shape_c, sizeof shape_c, "C is p x n, n = %zu the rows of A", n);
    if (st == CAI_OK)
        st = model_read_matrix(L, &f[G_C], 0, n, CAI_LGSSM_MAX_DIM, n, shape_c, &C, &p, NULL);
    snprintf(shape_p, sizeof shape_p, "%zu x %zu, p = %zu the rows of C", p, p, p);
    if (st == CAI_OK)
        st = model_read_square(L, &f[G_Q], n, CAI_GAUSS_PSD, shape_n, &Q);
    if (st == CAI_OK)
        st = model_read_square(L, &f[G_R], p, CAI_GAUSS_PD, shape_p, &R);
    if (st == CAI_OK)
        st = model_read_square(L, &f[G_X0COV], n, CAI_GAUSS_PSD, shape_n, &x0_cov);
    if (st == CAI_OK)
        st = model_read_vector(L, &f[G_C_VEC], n, "the rows of A", &c);
    if (st == CAI_OK)
        st = model_read_vector(L, &f[G_D], p, "the rows of C", &d);
    if (st == CAI_OK)
        st = model_read_vector(L, &f[G_X0], n, "the rows of A", &x0);
    if (st == CAI_OK)
        st = read_observations(L, &f[G_OBS], p, &y, &T);
    if (st == CAI_OK) {
        cai_lgssm_spec s = {.n = n, .p = p, .A = A, .c = c, .Q = Q, .C = C, .d = d, .R = R,
                            .x0 = x0, .x0_cov = x0_cov, .T = T, .y = y};
        cai_error e;
        cai_error_clear(&e);
        cai_status cs = cai_lgssm_create(&s, &m->lgssm, &e);
        if (cs != CAI_OK) /* checked above; only memory can fail here */
            st = cs == CAI_ERR_NOMEM ? yr_nomem(L) : yr_fail_at(L, root, "%s", e.message);
    }
    free(A); free(c); free(Q); free(C); free(d); free(R); free(x0); free(x0_cov); free(y);
    return st;
}
