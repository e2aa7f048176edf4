/* tools/bench_model.c — seeded model generators for cai-bench. */
#define _GNU_SOURCE /* MADV_HUGEPAGE */
#include "bench_model.h"

#include <errno.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

enum { MAX_SUCCESSORS = 64, HUGE_ALIGN = 2 << 20 };

double bench_csr_bytes(size_t n_rows, size_t nnz)
{
    return 8.0 * (double)(n_rows + 1) + 12.0 * (double)nnz;
}

void bench_csr_free(bench_csr *m)
{
    if (m == NULL)
        return;
    free(m->row_ptr);
    free(m->col);
    free(m->prob);
    free(m->reward);
}

/* B distinct states below S, increasing, with probabilities summing to 1. */
static void draw_row(gsl_rng *rng, size_t S, size_t B, uint32_t *col, double *prob)
{
    double tot = 0;
    for (size_t k = 0; k < B; k++) {
        uint32_t x;
        int fresh;
        do {
            x = (uint32_t)gsl_rng_uniform_int(rng, S);
            fresh = 1;
            for (size_t j = 0; j < k; j++)
                fresh &= col[j] != x;
        } while (!fresh);
        double w = 0.05 + gsl_rng_uniform(rng);
        size_t j = k; /* insertion keeps the row sorted */
        for (; j > 0 && col[j - 1] > x; j--) {
            col[j] = col[j - 1];
            prob[j] = prob[j - 1];
        }
        col[j] = x;
        prob[j] = w;
        tot += w;
    }
    for (size_t k = 0; k < B; k++)
        prob[k] /= tot;
}

/* n bytes on transparent huge pages where the system has them (aligned to
 * 2 MiB and marked MADV_HUGEPAGE), as cai's large arrays are; free()d. */
static void *huge_malloc(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, HUGE_ALIGN, n ? n : 1) != 0)
        return NULL;
#if defined(MADV_HUGEPAGE)
    madvise(p, n, MADV_HUGEPAGE); /* a hint: failure changes nothing */
#endif
    return p;
}

int bench_csr_random(size_t S, size_t A, size_t B, unsigned long seed, bench_csr *out)
{
    if (S == 0 || A == 0 || B == 0 || B > S || B > MAX_SUCCESSORS || S > UINT32_MAX)
        return -1;
    bench_csr m = {.n_states = S, .n_actions = A, .n_rows = S * A, .nnz = S * A * B};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    m.row_ptr = huge_malloc((m.n_rows + 1) * sizeof *m.row_ptr);
    m.col = huge_malloc(m.nnz * sizeof *m.col);
    m.prob = huge_malloc(m.nnz * sizeof *m.prob);
    m.reward = huge_malloc(m.n_rows * sizeof *m.reward);
    if (rng == NULL || m.row_ptr == NULL || m.col == NULL || m.prob == NULL
        || m.reward == NULL) {
        gsl_rng_free(rng);
        bench_csr_free(&m);
        return -1;
    }
    gsl_rng_set(rng, seed);
    for (size_t r = 0; r < m.n_rows; r++) {
        m.row_ptr[r] = r * B;
        draw_row(rng, S, B, m.col + r * B, m.prob + r * B);
        m.reward[r] = gsl_rng_uniform(rng) - 1.0;
    }
    m.row_ptr[m.n_rows] = m.nnz;
    gsl_rng_free(rng);
    *out = m;
    return 0;
}

char *bench_grid_map(size_t side, unsigned long seed)
{
    if (side < 2)
        return NULL;
    size_t width = side + 1; /* with the newline */
    char *map = malloc(side * width);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (map == NULL || rng == NULL) {
        free(map);
        gsl_rng_free(rng);
        return NULL;
    }
    gsl_rng_set(rng, seed);
    for (size_t r = 0; r < side; r++) {
        for (size_t c = 0; c < side; c++) {
            double u = gsl_rng_uniform(rng);
            map[r * width + c] = u < 0.10 ? '#' : u < 0.11 ? 'X' : '.';
        }
        map[r * width + side] = '\n';
    }
    map[0] = 'S';
    map[(side - 1) * width + side - 1] = 'G';
    map[side * width - 1] = '\0'; /* the last newline */
    gsl_rng_free(rng);
    return map;
}

/* p_j of row r as the files give it: six decimals, the last entry taking
 * the rest, so each printed row sums to 1 up to the parser's rounding. */
static double printed_prob(const bench_csr *m, size_t j, size_t r, double *left)
{
    double p = j + 1 < m->row_ptr[r + 1] ? round(m->prob[j] * 1e6) / 1e6 : *left;
    *left -= p;
    return p;
}

/* Close f, keeping the first error; 0 or -1 with errno set. */
static int close_checked(FILE *f, int rc)
{
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rc != 0) {
        if (errno == 0)
            errno = EIO;
        return -1;
    }
    return 0;
}

/* t.csv and r.csv of the model m in dir. */
static int write_csv(const char *dir, const bench_csr *m, size_t A)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/t.csv", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs("state,action,next,prob\n", f);
    for (size_t r = 0; r < m->n_rows; r++) {
        double left = 1;
        for (size_t j = m->row_ptr[r]; j < m->row_ptr[r + 1]; j++)
            fprintf(f, "%zu,%zu,%u,%.6f\n", r / A, r % A, (unsigned)m->col[j],
                    printed_prob(m, j, r, &left));
    }
    if (close_checked(f, 0) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/r.csv", dir);
    f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs("state,action,value\n", f);
    for (size_t r = 0; r < m->n_rows; r++)
        fprintf(f, "%zu,%zu,%.6f\n", r / A, r % A, m->reward[r]);
    return close_checked(f, 0);
}

int bench_write_yaml(const char *path, const char *csv_dir, size_t S, size_t A, size_t B,
                     size_t T, unsigned long seed)
{
    bench_csr m;
    if (bench_csr_random(S, A, B, seed, &m) != 0) {
        errno = ENOMEM;
        return -1;
    }
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        bench_csr_free(&m);
        return -1;
    }
    fprintf(f, "# cai-bench: a seeded random sparse MDP, %zu x %zu x %zu\n", S, A, B);
    fprintf(f, "kind: mdp\nname: bench %zu states\nstates: %zu\nactions: %zu\n", S, S, A);
    fprintf(f, "initial: {\"0\": 1}\nhorizon: %zu\ntemperature: 1\n", T);
    int rc = 0;
    if (csv_dir) {
        fputs("transitions_file: t.csv\nrewards_file: r.csv\n", f);
        rc = write_csv(csv_dir, &m, A);
    } else {
        fputs("transitions:\n", f);
        for (size_t r = 0; r < m.n_rows; r++) {
            fprintf(f, "  - {state: %zu, action: %zu, next: {", r / A, r % A);
            double left = 1;
            for (size_t j = m.row_ptr[r]; j < m.row_ptr[r + 1]; j++)
                fprintf(f, "%s%u: %.6f", j > m.row_ptr[r] ? ", " : "", (unsigned)m.col[j],
                        printed_prob(&m, j, r, &left));
            fputs("}}\n", f);
        }
        fputs("rewards:\n", f);
        for (size_t r = 0; r < m.n_rows; r++)
            fprintf(f, "  - {state: %zu, action: %zu, value: %.6f}\n", r / A, r % A,
                    m.reward[r]);
    }
    bench_csr_free(&m);
    return close_checked(f, rc);
}
