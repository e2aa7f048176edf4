/* tools/bench_suite.h — the timing of one random-model size: every method
 * in one process, interleaved repetition by repetition.
 *
 * The development machine is a shared VM whose speed drifts by tens of
 * percent over seconds to minutes; a method timed in its own process
 * minutes after another would see a different machine. The suite child
 * generates the model once and runs repetition k of every method before
 * repetition k + 1 of any (each round starting at the next method), so a
 * ratio compares runs made within the same minute. The thread comparison
 * runs in the same rounds (omp_set_num_threads per method). Peak memory
 * still comes from one process per method (bench_run), where nothing else
 * is resident. */
#ifndef CAI_BENCH_SUITE_H
#define CAI_BENCH_SUITE_H

#include "bench_child.h"

#define BENCH_SUITE_MAX 9

typedef struct bench_suite {
    int ok;                /* 0: message says what failed */
    char message[256];
    size_t n;              /* entries */
    bench_method method[BENCH_SUITE_MAX];
    unsigned threads[BENCH_SUITE_MAX];  /* OpenMP threads of the entry */
    bench_result r[BENCH_SUITE_MAX];    /* seconds per repetition, sizes; no values */
    double diff[2];        /* worst relative V_0 difference, cai vs hand: exact, variational */
    int identical;         /* cai exact's V_0 bit-identical at every thread count */
} bench_suite;

/* The worst |a - b| / max(|a|, |b|) over n values (inf on NaN). */
double bench_worst_relative(const double *a, const double *b, size_t n);

/* The entry of method with threads threads, or -1. */
int bench_suite_entry(const bench_suite *s, bench_method method, unsigned threads);

/* Time job->size's random model: the five methods (SpMV floor, hand and
 * cai exact, hand and cai variational) with job->threads threads and, when
 * scaling, cai exact and hand exact with 1 and 2 threads as well. Returns 0
 * with *out filled (out->ok may be 0), or -1 when no child could start. */
int bench_run_suite(const char *self, const bench_job *job, int scaling, bench_suite *out);

/* The suite child's main: argv[0] is "--suite". Returns the exit status. */
int bench_suite_main(int argc, char **argv);

#endif
