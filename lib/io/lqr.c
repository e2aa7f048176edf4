/* lib/io/lqr.c — the `kind: lqr` loader (format in cai/model.h): matrices
 * as sequences of rows, vectors as sequences (lib/io/matrix.c); every size,
 * symmetry and definiteness problem is reported at the offending node before
 * cai_lqr_create (which checks again, without positions). */
#include "model_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/gauss.h"
#include "cai/lqr.h"

enum { L_KIND, L_NAME, L_A, L_B, L_C, L_NOISE, L_Q, L_R, L_QT, L_X0, L_X0COV, L_HOR, L_DISC,
       L_TEMP, N_L };

/* Exactly one of horizon (an integer >= 1) and discount (in (0, 1]). */
static cai_status read_time(const yr_loader *L, const yaml_node_t *root, const yr_field *f,
                            cai_lqr_spec *s)
{
    const yr_field *hor = &f[L_HOR], *disc = &f[L_DISC];
    if (hor->value != NULL && disc->value != NULL)
        return yr_fail_at(L, disc->key_node, "give either 'horizon' (finite) or 'discount' "
                          "(infinite horizon), not both");
    if (hor->value == NULL && disc->value == NULL)
        return yr_fail_at(L, root, "missing key 'horizon' (or 'discount' for the infinite "
                          "horizon) in the model");
    if (hor->value != NULL) {
        yr_int_result r = yr_parse_count(hor->value, CAI_LQR_MAX_HORIZON, &s->horizon);
        if (r != YR_INT_OK || s->horizon == 0)
            return yr_fail_got(L, hor->value, "'horizon' must be an integer in 1..%d",
                               CAI_LQR_MAX_HORIZON);
        s->discount = NAN;
        return CAI_OK;
    }
    s->horizon = 0;
    if (!yr_parse_number(disc->value, &s->discount) || !(s->discount > 0)
        || !(s->discount <= 1))
        return yr_fail_got(L, disc->value, "'discount' must be a number in (0, 1]");
    return CAI_OK;
}

cai_status model_load_lqr(const yr_loader *L, yaml_node_t *root, cai_model *m)
{
    yr_field f[N_L] = {
        {"kind", NULL, NULL},  {"name", NULL, NULL},    {"A", NULL, NULL},
        {"B", NULL, NULL},     {"c", NULL, NULL},       {"noise", NULL, NULL},
        {"Q", NULL, NULL},     {"R", NULL, NULL},       {"QT", NULL, NULL},
        {"x0", NULL, NULL},    {"x0_cov", NULL, NULL},  {"horizon", NULL, NULL},
        {"discount", NULL, NULL}, {"temperature", NULL, NULL},
    };
    double *A = NULL, *B = NULL, *c = NULL, *noise = NULL, *Q = NULL, *R = NULL, *QT = NULL,
           *x0 = NULL, *x0_cov = NULL;
    cai_lqr_spec s = {0};
    size_t n = 0, m_dim = 0, rows;
    cai_status st = model_read_root(L, root, f, N_L, L_NAME, m);
    static const int required[] = {L_A, L_B, L_Q, L_R, L_X0};
    for (size_t j = 0; j < sizeof required / sizeof required[0] && st == CAI_OK; j++)
        st = yr_require(L, root, "the model", &f[required[j]]);
    if (st == CAI_OK)
        st = model_read_matrix(L, &f[L_A], 0, 0, CAI_LQR_MAX_DIM, CAI_LQR_MAX_DIM, "A is n x n",
                               &A, &n, &rows);
    if (st == CAI_OK && rows != n)
        st = yr_fail_at(L, f[L_A].value, "'A' must be square, got %zu x %zu", n, rows);
    if (st == CAI_OK)
        st = model_read_matrix(L, &f[L_B], n, 0, CAI_LQR_MAX_DIM, CAI_LQR_MAX_DIM,
                               "B is n x m, n the rows of A", &B, NULL, &m_dim);
    char shape_n[64], shape_m[64];
    snprintf(shape_n, sizeof shape_n, "%zu x %zu, n = %zu the rows of A", n, n, n);
    snprintf(shape_m, sizeof shape_m, "%zu x %zu, m = %zu the columns of B", m_dim, m_dim,
             m_dim);
    if (st == CAI_OK)
        st = model_read_square(L, &f[L_Q], n, CAI_GAUSS_SYMMETRIC, shape_n, &Q);
    if (st == CAI_OK)
        st = model_read_square(L, &f[L_R], m_dim, CAI_GAUSS_PD, shape_m, &R);
    if (st == CAI_OK)
        st = model_read_square(L, &f[L_QT], n, CAI_GAUSS_SYMMETRIC, shape_n, &QT);
    if (st == CAI_OK)
        st = model_read_square(L, &f[L_NOISE], n, CAI_GAUSS_PSD, shape_n, &noise);
    if (st == CAI_OK)
        st = model_read_square(L, &f[L_X0COV], n, CAI_GAUSS_PSD, shape_n, &x0_cov);
    if (st == CAI_OK)
        st = model_read_vector(L, &f[L_C], n, "the rows of A", &c);
    if (st == CAI_OK)
        st = model_read_vector(L, &f[L_X0], n, "the rows of A", &x0);
    if (st == CAI_OK)
        st = read_time(L, root, f, &s);
    if (st == CAI_OK)
        st = model_read_temperature(L, &f[L_TEMP], &s.temperature);
    if (st == CAI_OK && !(s.temperature > 0))
        st = yr_fail_at(L, f[L_TEMP].value, "'temperature' must be > 0 for an lqr model "
                        "(alpha = 0 is the LQR limit: any alpha > 0 gives it when noise "
                        "is 0)");
    if (st == CAI_OK) {
        s.n = n;
        s.m = m_dim;
        s.A = A, s.B = B, s.c = c, s.noise = noise, s.Q = Q, s.R = R, s.QT = QT;
        s.x0 = x0, s.x0_cov = x0_cov;
        cai_error e;
        cai_error_clear(&e);
        if (cai_lqr_create(&s, &m->lqr, &e) != CAI_OK)
            st = yr_fail_at(L, root, "%s", e.message);
    }
    free(A); free(B); free(c); free(noise); free(Q); free(R); free(QT); free(x0); free(x0_cov);
    return st;
}
