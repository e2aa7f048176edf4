/* tools/bench_lqr.h — cai-bench's LQR row: cai's exact solve of a
 * linear-quadratic problem (the Gaussian engine's upward pass over the
 * chain) against a hand-written Riccati recursion on the same BLAS, in the
 * same process. */
#ifndef CAI_BENCH_LQR_H
#define CAI_BENCH_LQR_H

#include <stddef.h>
#include <stdio.h>

typedef struct bench_lqr_run {
    size_t n, m, T, reps;
    double cai_seconds, hand_seconds; /* medians of reps solves */
    double diff;                      /* worst relative difference of P_0 and K_0 */
    char message[600];                /* why it failed, or "" */
} bench_lqr_run;

/* Seeded random system with n states and m actions (A near a rotation,
 * B, Q, R random, noise 0), horizon T: time reps solves of each, check
 * they agree. */
void bench_run_lqr(bench_lqr_run *out, size_t n, size_t m, size_t T, size_t reps,
                   unsigned long seed);

/* The Markdown section. */
void bench_report_lqr(FILE *f, const bench_lqr_run *r);

#endif
