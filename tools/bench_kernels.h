/* tools/bench_kernels.h — the hand-written baselines cai-bench compares cai
 * against: soft value iteration written directly over the CSR arrays, and a
 * plain sparse matrix-vector product (the memory-traffic floor of a step).
 *
 * Loops over states or rows are split across OpenMP threads when the
 * benchmark is built with OpenMP; every state is computed by one thread in
 * a fixed order, so the results do not depend on the thread count. */
#ifndef CAI_BENCH_KERNELS_H
#define CAI_BENCH_KERNELS_H

#include "bench_model.h"

/* The largest action count the kernels take (Q of one state is on the
 * stack). */
#define BENCH_MAX_ACTIONS 64

/* Exact soft value iteration with temperature alpha > 0 and a uniform
 * action prior: V[t * S + s] for t = 0..T, V_T = 0. w (S doubles) and c
 * (n_rows doubles) are scratch. */
void bench_soft_vi_exact(const bench_csr *m, size_t T, double alpha, double *V, double *w,
                         double *c);

/* The variational backup: Q = r + E_P[V'] instead of r + alpha log E_P[exp(V'/alpha)]. */
void bench_soft_vi_variational(const bench_csr *m, size_t T, double alpha, double *V);

/* y[r] = sum_j P[r, j] x[j] over the n_rows rows. */
void bench_spmv(const bench_csr *m, const double *x, double *y);

/* A vector of n doubles (at least one) for the hand-written code: an
 * anonymous mapping with transparent huge pages requested, as cai's engine
 * allocates its large message vectors (lib/engine/bigmem.c). */
typedef struct bench_buffer {
    double *v;
    size_t bytes;
} bench_buffer;

/* 0, or -1 when out of memory. */
int bench_alloc(bench_buffer *b, size_t n);

/* Accepts an empty buffer. */
void bench_free(bench_buffer *b);

#endif
