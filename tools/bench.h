/* tools/bench.h — what cai-bench's runner (bench.c) hands to its report
 * (bench_report.c). */
#ifndef CAI_BENCH_H
#define CAI_BENCH_H

#include <stdio.h>

#include "bench_child.h"

#define BENCH_MAX_SIZES 16

typedef struct bench_options {
    size_t sizes[BENCH_MAX_SIZES], n_sizes;
    size_t reps, horizon, grid_side;
    double min_seconds; /* a size's timing suite repeats until about this long */
    unsigned threads;
    unsigned long seed;
    int marginals;   /* cai keeps state marginals (the API default) */
    const char *out; /* --out FILE, or NULL */
} bench_options;

/* One random-model size: the five methods, the checks and the thread
 * comparison. */
typedef struct bench_size_run {
    size_t S;
    char skip[160];            /* why the size was skipped, or "" */
    bench_result r[BENCH_CAI_VARIATIONAL + 1]; /* indexed by method */
    double diff[2];            /* worst relative V_0 difference: exact, variational */
    int scaled;                /* the 1 vs 2 thread runs were made */
    bench_result cai_t[2], hand_t[2]; /* exact with 1 and 2 threads */
    int identical;             /* cai's V_0 bit-identical for 1 and 2 threads */
} bench_size_run;

/* The loading measurements: the model all in YAML, and the same model as
 * YAML naming CSV files (file_bytes counts all three). */
typedef struct bench_load {
    double file_bytes;
    bench_result r;
} bench_load;

typedef struct bench_yaml_run {
    bench_load yaml, csv;
} bench_yaml_run;

/* 1000 -> "1e3", 4000000 -> "4e6", 12345 -> "12345"; returns buf. */
const char *bench_fmt_count(size_t n, char *buf, size_t size);

/* A /proc/meminfo field in bytes, or NaN. */
double bench_meminfo_bytes(const char *key);

/* The 1-minute load average, or NaN. */
double bench_load_average(void);

/* The Markdown sections: the machine and the method, the random-model
 * table and the thread table (over the first n_runs sizes), the gridworld
 * and the YAML loading. */
void bench_report_header(FILE *f, const bench_options *o);
void bench_report_random(FILE *f, const bench_options *o, const bench_size_run *runs,
                         size_t n_runs);
/* Quartiles over the rounds of cai's time over the floor's in each round. */
void bench_report_rounds(FILE *f, const bench_size_run *runs, size_t n_runs);
void bench_report_threads(FILE *f, const bench_options *o, const bench_size_run *runs,
                          size_t n_runs);
void bench_report_grid(FILE *f, const bench_options *o, const bench_result grid[2]);
void bench_report_yaml(FILE *f, const bench_yaml_run *y);

#endif
