/* cai/potential.h — potentials: the numbers a factor multiplies in.
 *
 * A potential is separate from the factors that use it and reference
 * counted, so one potential serves any number of factors (tying: a
 * time-homogeneous model stores its transition model once). A potential
 * knows the cardinalities of its scope positions but not which variables
 * fill them; a factor binds it to variables.
 *
 * Layout shared by every kind: position 0..k-1, row-major with the LAST
 * position fastest. Kinds:
 *   dense log-table  any k >= 1, one log value per joint assignment;
 *   CSR conditional  p(child | parents): positions 0..k-2 are the parents,
 *                    position k-1 the child; rows = joint parent index,
 *                    columns = child states, only nonzeros stored; every
 *                    row sums to one within 1e-9.
 * Potentials are immutable after creation. */
#ifndef CAI_POTENTIAL_H
#define CAI_POTENTIAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cai/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cai_potential cai_potential;

typedef enum cai_potential_kind {
    CAI_POTENTIAL_TABLE = 1, /* dense log-table */
    CAI_POTENTIAL_CSR = 2    /* sparse conditional p(child | parents) */
} cai_potential_kind;

/* Dense log-table over k positions of cardinalities cards[0..k-1]; log_values
 * has prod(cards) entries, each finite or -INFINITY (log 0). The values are
 * copied. Errors: zero/huge cardinalities (CAI_ERR_RANGE), overflowing size
 * (CAI_ERR_OVERFLOW), NaN or +inf (CAI_ERR_NUMERIC). The new potential holds
 * one reference; *out_p is written only on success. */
cai_status cai_potential_table_create(size_t k, const size_t *cards,
                                      const double *log_values,
                                      cai_potential **out_p, cai_error *err);

/* Same from nonnegative linear values (log is taken). */
cai_status cai_potential_table_create_linear(size_t k, const size_t *cards,
                                             const double *values,
                                             cai_potential **out_p,
                                             cai_error *err);

/* CSR conditional over n_parents parent positions (cards parent_cards[]) and
 * one child of cardinality child_card. row_ptr has n_rows + 1 entries with
 * n_rows = prod(parent_cards) (1 when n_parents == 0); col[] and prob[] hold
 * row_ptr[n_rows] entries. Columns must be < child_card and strictly
 * increasing within a row; probabilities in [0, 1], each row summing to one
 * within 1e-9. Explicit zeros are dropped. Everything is copied. */
cai_status cai_potential_csr_create(size_t n_parents, const size_t *parent_cards,
                                    size_t child_card, const size_t *row_ptr,
                                    const size_t *col, const double *prob,
                                    cai_potential **out_p, cai_error *err);

/* Add a reference; returns p. */
cai_potential *cai_potential_ref(cai_potential *p);

/* Drop a reference, freeing at zero; accepts NULL; returns NULL. */
cai_potential *cai_potential_unref(cai_potential *p);

cai_potential_kind cai_potential_get_kind(const cai_potential *p);

/* Number of scope positions k. */
size_t cai_potential_arity(const cai_potential *p);

/* Cardinality of position i (i < k). */
size_t cai_potential_card(const cai_potential *p, size_t i);

/* Stored entries: prod(cards) for a table, the nonzeros for CSR. */
size_t cai_potential_nnz(const cai_potential *p);

/* Bytes this potential occupies (struct and arrays), counted once however
 * many factors share it. */
size_t cai_potential_bytes(const cai_potential *p);

/* A CSR conditional's arrays, owned by p and valid while it lives: row_ptr
 * (n_rows + 1), col and prob (the stored nonzeros, columns increasing
 * within a row). Returns false, writing nothing, for other kinds. */
bool cai_potential_csr_arrays(const cai_potential *p, const size_t **out_row_ptr,
                              const uint32_t **out_col, const double **out_prob);

/* log value at the joint assignment idx[0..k-1] (each < its cardinality);
 * -INFINITY where the potential is zero. */
double cai_potential_log_value(const cai_potential *p, const size_t *idx);

#ifdef __cplusplus
}
#endif
#endif
