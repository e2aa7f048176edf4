/* tools/bench_model.h — the models cai-bench measures: seeded random sparse
 * MDPs as plain CSR arrays, gridworld maps and a large YAML model file. */
#ifndef CAI_BENCH_MODEL_H
#define CAI_BENCH_MODEL_H

#include <stddef.h>
#include <stdint.h>

/* A finite-horizon MDP as the hand-written code sees it: rows s * A + a of
 * P(s'|s,a) in CSR form, and r(s,a). rho is state 0, the action prior is
 * uniform, terminal rewards are 0. */
typedef struct bench_csr {
    size_t n_states, n_actions, n_rows, nnz;
    size_t *row_ptr; /* n_rows + 1 */
    uint32_t *col;   /* nnz successor states, increasing within a row */
    double *prob;    /* nnz probabilities, each row sums to 1 */
    double *reward;  /* n_rows rewards, uniform in [-1, 0) */
} bench_csr;

/* Bytes of one pass over the CSR arrays (8-byte row pointers, 4-byte
 * columns, 8-byte probabilities), the yardstick of the GB/s and memory
 * columns. */
double bench_csr_bytes(size_t n_rows, size_t nnz);

/* Fill *out with S states, A actions and B distinct successors per row,
 * probabilities (0.05 + U[0,1)) normalised, rewards U[-1, 0), all drawn
 * from GSL's mt19937 seeded with seed, so a seed gives the same model in
 * every process. Returns 0, or -1 when out of memory (*out untouched). */
int bench_csr_random(size_t S, size_t A, size_t B, unsigned long seed, bench_csr *out);

/* Free the arrays of m (m itself is the caller's). Accepts NULL. */
void bench_csr_free(bench_csr *m);

/* A side x side gridworld map ('\n'-separated rows): S in the top-left
 * corner, G in the bottom-right one, about 10% walls and 1% pits placed
 * from seed. Returns a malloc'd string (caller frees) or NULL. */
char *bench_grid_map(size_t side, unsigned long seed);

/* Write a `kind: mdp` model with count-form states and actions: S states,
 * A actions, B successors per pair (S * A * B transition entries, six
 * decimals each) and S * A rewards, horizon T. With csv_dir NULL all of it
 * is YAML, in path; else path's YAML names `transitions_file: t.csv` and
 * `rewards_file: r.csv`, written into csv_dir (path's own folder), with the
 * same numbers. Returns 0, or -1 with errno set when a file cannot be
 * written. */
int bench_write_yaml(const char *path, const char *csv_dir, size_t S, size_t A, size_t B,
                     size_t T, unsigned long seed);

#endif
