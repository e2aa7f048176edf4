/* lib/io/matrix.c — matrices and vectors of the linear-Gaussian kinds (lqr,
 * lgssm): a matrix is a sequence of rows, each a sequence of numbers, a
 * vector one sequence; sizes, symmetry and definiteness are reported at the
 * offending node (cai_gauss_matrix_check's message, the node's position). */
#include "model_impl.h"

#include <stdio.h>
#include <stdlib.h>

#include "cai/gauss.h"
#include "cai/logmath.h"

cai_status model_read_matrix(const yr_loader *L, const yr_field *f, size_t rows, size_t cols,
                             size_t max_rows, size_t max_cols, const char *shape,
                             double **out, size_t *out_rows, size_t *out_cols)
{
    yaml_node_t *n = f->value;
    if (n->type != YAML_SEQUENCE_NODE || yr_seq_len(n) == 0)
        return yr_fail_got(L, n, "'%s' must be a matrix: a non-empty sequence of rows, "
                           "each a sequence of numbers", f->key);
    size_t r = yr_seq_len(n);
    if (rows != 0 && r != rows)
        return yr_fail_at(L, n, "'%s' has %zu rows, expected %zu (%s)", f->key, r, rows, shape);
    yaml_node_t *first = yr_seq_item(L, n, 0);
    if (first == NULL || first->type != YAML_SEQUENCE_NODE || yr_seq_len(first) == 0)
        return yr_fail_got(L, first ? first : n, "'%s' row 0 must be a non-empty sequence "
                           "of numbers", f->key);
    size_t c = cols ? cols : yr_seq_len(first), count, bytes;
    if (r > max_rows || c > max_cols)
        return yr_fail_at(L, n, "'%s' is %zu x %zu, larger than %zu x %zu", f->key, r, c,
                          max_rows, max_cols);
    if (!cai_size_mul(r, c, &count) || !cai_size_mul(count, sizeof(double), &bytes))
        return yr_overflow(L, "'%s' is too large", f->key);
    double *m = malloc(bytes);
    if (m == NULL)
        return yr_nomem(L);
    for (size_t i = 0; i < r; i++) {
        yaml_node_t *row = yr_seq_item(L, n, i);
        char what[48];
        snprintf(what, sizeof what, "%s row %zu", f->key, i);
        if (row == NULL || row->type != YAML_SEQUENCE_NODE || yr_seq_len(row) != c) {
            free(m);
            if (row != NULL && row->type == YAML_SEQUENCE_NODE)
                return yr_fail_at(L, row, "'%s' has %zu entries, expected %zu (%s)", what,
                                  yr_seq_len(row), c, shape);
            return yr_fail_got(L, row ? row : n, "'%s' must be a sequence of %zu numbers",
                               what, c);
        }
        cai_status st = yr_read_doubles(L, row, NULL, what, c, m + i * c);
        if (st != CAI_OK) {
            free(m);
            return st;
        }
    }
    *out = m;
    if (out_rows)
        *out_rows = r;
    if (out_cols)
        *out_cols = c;
    return CAI_OK;
}

cai_status model_read_square(const yr_loader *L, const yr_field *f, size_t n, unsigned check,
                             const char *shape, double **out)
{
    *out = NULL;
    if (f->value == NULL)
        return CAI_OK;
    cai_status st = model_read_matrix(L, f, n, n, n, n, shape, out, NULL, NULL);
    if (st != CAI_OK || check == 0)
        return st;
    cai_error e;
    cai_error_clear(&e);
    if (cai_gauss_matrix_check(*out, n, check, f->key, &e) != CAI_OK)
        return yr_fail_at(L, f->value, "%s", e.message);
    return CAI_OK;
}

cai_status model_read_vector(const yr_loader *L, const yr_field *f, size_t n,
                             const char *what_n, double **out)
{
    *out = NULL;
    if (f->value == NULL)
        return CAI_OK;
    if (f->value->type != YAML_SEQUENCE_NODE || yr_seq_len(f->value) != n)
        return yr_fail_got(L, f->value, "'%s' must be a sequence of %zu numbers (%s)", f->key,
                           n, what_n);
    if ((*out = malloc(n * sizeof **out)) == NULL)
        return yr_nomem(L);
    return yr_read_doubles(L, f->value, NULL, f->key, n, *out);
}
