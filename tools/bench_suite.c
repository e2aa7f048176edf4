/* tools/bench_suite.c — every method of one random-model size timed in one
 * process, repetitions interleaved (see bench_suite.h). */
#include "bench_suite.h"

#include <errno.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "bench_kernels.h"

double bench_worst_relative(const double *a, const double *b, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(a[i] - b[i]);
        double rel = d == 0 ? 0 : d / fmax(fabs(a[i]), fabs(b[i]));
        if (isnan(rel))
            return INFINITY;
        worst = fmax(worst, rel);
    }
    return worst;
}

/* What the child holds while it runs the rounds. */
typedef struct suite_state {
    const bench_job *job;
    bench_csr m;                      /* the generated arrays (hand-written, SpMV) */
    cai_mdp *mdp;                     /* cai's model of the same arrays */
    bench_buffer V, w, c, x, y;       /* the hand-written code's vectors */
    double *v0[BENCH_SUITE_MAX];      /* V_0 of the last repetition, or NULL */
} suite_state;

static int suite_fail(bench_suite *out, const char *what, const cai_error *err)
{
    char buf[CAI_ERROR_MESSAGE_MAX + CAI_ERROR_FILE_MAX + 64];
    snprintf(out->message, sizeof out->message, "%s%s%s", what, err ? ": " : "",
             err ? cai_error_format(err, buf, sizeof buf) : "");
    out->ok = 0;
    return -1;
}

/* The entries: the five methods with the run's thread count, then cai and
 * hand exact with 1 and 2 threads where the run has another count. */
static void suite_entries(bench_suite *out, unsigned threads, int scaling)
{
    static const bench_method five[] = {BENCH_SPMV, BENCH_HAND_EXACT, BENCH_CAI_EXACT,
                                        BENCH_HAND_VARIATIONAL, BENCH_CAI_VARIATIONAL};
    out->n = 0;
    for (size_t i = 0; i < sizeof five / sizeof *five; i++) {
        out->method[out->n] = five[i];
        out->threads[out->n++] = threads;
    }
    for (unsigned t = 1; scaling && t <= 2; t++) {
        if (t == threads)
            continue;
        out->method[out->n] = BENCH_CAI_EXACT;
        out->threads[out->n++] = t;
        out->method[out->n] = BENCH_HAND_EXACT;
        out->threads[out->n++] = t;
    }
}

/* Repetition k of entry e; V_0 into st->v0[e] on the last one. */
static int run_entry(suite_state *st, bench_suite *out, size_t e, size_t k)
{
    const bench_job *job = st->job;
    size_t T = job->horizon, S = st->m.n_states;
    bench_method method = out->method[e];
#ifdef _OPENMP
    omp_set_num_threads((int)out->threads[e]);
#endif
    cai_solution *sol = NULL;
    cai_error err;
    double t0 = bench_now();
    if (method == BENCH_SPMV) {
        for (size_t t = 0; t < T; t++)
            bench_spmv(&st->m, st->x.v, st->y.v);
    } else if (method == BENCH_HAND_EXACT) {
        bench_soft_vi_exact(&st->m, T, 1.0, st->V.v, st->w.v, st->c.v);
    } else if (method == BENCH_HAND_VARIATIONAL) {
        bench_soft_vi_variational(&st->m, T, 1.0, st->V.v);
    } else {
        cai_solve_options opt = cai_solve_options_default();
        opt.algorithm = method == BENCH_CAI_EXACT ? CAI_CONTROL_EXACT : CAI_CONTROL_VARIATIONAL;
        opt.state_marginals = job->marginals;
        if (cai_mdp_solve(st->mdp, &opt, &sol, &err) != CAI_OK)
            return suite_fail(out, "cai_mdp_solve", &err);
    }
    out->r[e].seconds[k] = bench_now() - t0;
    int rc = 0;
    if (k + 1 == job->reps && st->v0[e] != NULL) {
        if (sol == NULL)
            memcpy(st->v0[e], st->V.v, S * sizeof *st->v0[e]); /* V_0 is V's first row */
        else if (cai_solution_value(sol, 0, st->v0[e], &err) != CAI_OK)
            rc = suite_fail(out, "cai_solution_value", &err);
    }
    cai_solution_free(sol);
    return rc;
}

int bench_suite_entry(const bench_suite *s, bench_method method, unsigned threads)
{
    for (size_t e = 0; e < s->n; e++)
        if (s->method[e] == method && s->threads[e] == threads)
            return (int)e;
    return -1;
}

/* The entry of method with the run's thread count (every method has one). */
static size_t entry_of(const bench_suite *out, bench_method method)
{
    int e = bench_suite_entry(out, method, out->threads[0]);
    return e < 0 ? 0 : (size_t)e;
}

static int suite_setup(suite_state *st, bench_suite *out)
{
    const bench_job *job = st->job;
    if (bench_csr_random(job->size, BENCH_ACTIONS, BENCH_SUCCESSORS, job->seed, &st->m) != 0)
        return suite_fail(out, "cannot generate the model (out of memory?)", NULL);
    cai_error err;
    if (bench_cai_mdp(&st->m, job->horizon, &st->mdp, &err) != CAI_OK)
        return suite_fail(out, "cai_mdp_create", &err);
    size_t S = st->m.n_states, T = job->horizon;
    if (bench_alloc(&st->V, (T + 1) * S) != 0 || bench_alloc(&st->w, S) != 0
        || bench_alloc(&st->c, st->m.n_rows) != 0 || bench_alloc(&st->x, S) != 0
        || bench_alloc(&st->y, st->m.n_rows) != 0)
        return suite_fail(out, "out of memory", NULL);
    /* touched once here, so no repetition of the hand-written code pays the
     * first-touch page faults (cai's engine keeps its buffers from the second
     * solve on) */
    memset(st->V.v, 0, st->V.bytes);
    memset(st->w.v, 0, st->w.bytes);
    memset(st->c.v, 0, st->c.bytes);
    memset(st->y.v, 0, st->y.bytes);
    for (size_t s = 0; s < S; s++)
        st->x.v[s] = -(double)(s % 1000) / 10.0;
    for (size_t e = 0; e < out->n; e++) {
        out->r[e] = (bench_result){.ok = 1, .reps = job->reps, .n_states = S,
                                   .n_rows = st->m.n_rows, .nnz = st->m.nnz};
        if (out->method[e] != BENCH_SPMV
            && (st->v0[e] = malloc(S * sizeof *st->v0[e])) == NULL)
            return suite_fail(out, "out of memory", NULL);
    }
    return 0;
}

static void suite_checks(const suite_state *st, bench_suite *out)
{
    size_t S = st->m.n_states;
    double *ce = st->v0[entry_of(out, BENCH_CAI_EXACT)];
    out->diff[0] = bench_worst_relative(ce, st->v0[entry_of(out, BENCH_HAND_EXACT)], S);
    out->diff[1] = bench_worst_relative(st->v0[entry_of(out, BENCH_CAI_VARIATIONAL)],
                                        st->v0[entry_of(out, BENCH_HAND_VARIATIONAL)], S);
    out->identical = 1;
    for (size_t e = 0; e < out->n; e++)
        if (out->method[e] == BENCH_CAI_EXACT && memcmp(st->v0[e], ce, S * sizeof *ce) != 0)
            out->identical = 0;
}

/* Repetitions in all: reps, or more when a round of every entry (the first
 * one's seconds) is short, as many as fill min_seconds, at most
 * BENCH_MAX_REPS. */
static size_t suite_reps(const bench_suite *out, size_t reps, double min_seconds)
{
    double round = 0;
    for (size_t e = 0; e < out->n; e++)
        round += out->r[e].seconds[0];
    if (!(round > 0) || !(min_seconds > round * (double)reps))
        return reps;
    double want = ceil(min_seconds / round);
    return want >= BENCH_MAX_REPS ? BENCH_MAX_REPS : (size_t)want;
}

/* argv: --suite SIZE HORIZON REPS SEED MARGINALS THREADS SCALING MIN_SECONDS FD */
int bench_suite_main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    if (argc < 10)
        return 2;
    bench_job job = {
        .size = strtoul(argv[1], NULL, 10),
        .horizon = strtoul(argv[2], NULL, 10),
        .reps = strtoul(argv[3], NULL, 10),
        .seed = strtoul(argv[4], NULL, 10),
        .marginals = argv[5][0] == '1',
        .threads = (unsigned)strtoul(argv[6], NULL, 10),
        .min_seconds = strtod(argv[8], NULL),
    };
    int scaling = argv[7][0] == '1', fd = (int)strtol(argv[9], NULL, 10);
    if (job.reps == 0 || job.reps > BENCH_MAX_REPS || job.threads == 0
        || !(job.min_seconds >= 0))
        return 2;
    bench_suite out = {.ok = 1};
    suite_entries(&out, job.threads, scaling);
    suite_state st = {.job = &job};
    int rc = suite_setup(&st, &out);
    for (size_t k = 0; rc == 0 && k < job.reps; k++) {
        for (size_t i = 0; rc == 0 && i < out.n; i++)
            rc = run_entry(&st, &out, (k + i) % out.n, k);
        if (k > 0)
            continue;
        job.reps = suite_reps(&out, job.reps, job.min_seconds);
        for (size_t e = 0; e < out.n; e++)
            out.r[e].reps = job.reps;
    }
    if (rc == 0)
        suite_checks(&st, &out);
    long threads_seen = bench_status_field("Threads");
    for (size_t e = 0; e < out.n; e++) {
        out.r[e].threads_seen = threads_seen;
        free(st.v0[e]);
    }
    bench_free(&st.V);
    bench_free(&st.w);
    bench_free(&st.c);
    bench_free(&st.x);
    bench_free(&st.y);
    cai_mdp_free(st.mdp);
    bench_csr_free(&st.m);
    if (bench_write_full(fd, &out, sizeof out) != 0)
        rc = -1;
    return rc == 0 ? 0 : 1;
}

int bench_run_suite(const char *self, const bench_job *job, int scaling, bench_suite *out)
{
    char args[8][32];
    snprintf(args[0], sizeof args[0], "%zu", job->size);
    snprintf(args[1], sizeof args[1], "%zu", job->horizon);
    snprintf(args[2], sizeof args[2], "%zu", job->reps);
    snprintf(args[3], sizeof args[3], "%lu", job->seed);
    snprintf(args[4], sizeof args[4], "%d", job->marginals ? 1 : 0);
    snprintf(args[5], sizeof args[5], "%u", job->threads);
    snprintf(args[6], sizeof args[6], "%d", scaling ? 1 : 0);
    snprintf(args[7], sizeof args[7], "%.17g", job->min_seconds);
    char *argv[] = {"cai-bench", "--suite", args[0], args[1], args[2], args[3], args[4],
                    args[5], args[6], args[7], NULL /* the fd */, NULL};
    int fd;
    pid_t pid = bench_spawn(self, argv, 10, job->threads, &fd);
    if (pid < 0)
        return -1;
    memset(out, 0, sizeof *out);
    int got = bench_read_full(fd, out, sizeof *out) == 0;
    close(fd);
    char message[sizeof out->message];
    if (bench_reap(pid, got, out->ok, message, sizeof message) != 0) {
        memset(out, 0, sizeof *out);
        memcpy(out->message, message, sizeof message);
    }
    return 0;
}
