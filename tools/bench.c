/* tools/bench.c — cai-bench: cai's MDP solvers against hand-written soft
 * value iteration and a sparse matrix-vector product over the same model.
 *
 *   cai-bench [--sizes 1e3,1e4,1e5,1e6,4e6] [--reps 5] [--min-seconds 60]
 *             [--horizon 100] [--threads N] [--seed 1] [--marginals] [--quick]
 *             [--out FILE.md]
 *
 * For each size S a seeded random sparse MDP (A = 4, B = 5 successors per
 * pair, rewards U[-1, 0), uniform prior, rho = state 0, alpha = 1) is solved
 * by cai (exact and variational), by the hand-written loops of
 * bench_kernels.c, and multiplied by a vector T times (the floor: one pass
 * over the CSR per step). Then a 1000 x 1000 gridworld, and the load speed
 * of a YAML model with 10^6 transition entries. A size's times come from
 * one process running the methods' repetitions interleaved (bench_suite.c),
 * its peak memory from one process per method (bench_child.c), as do the
 * gridworld and the YAML loading. The Markdown report (bench_report.c)
 * goes to stdout and --out (rewritten after each stage while running).
 * Exits 1 when cai and the hand-written code disagree on V_0 by more than
 * 1e-10 relative, when one and two threads do not give identical V_0, or
 * when a measurement fails; 2 on bad usage.
 *
 * --reps: repetitions of every method at least; a size whose round of all
 * the methods is short gets more, as many as fill --min-seconds (at most
 * 64), so that the medians of the small sizes, whose runs take a few
 * milliseconds, do not hang on a few noisy ones.
 * --quick: 3 repetitions, no --min-seconds, sizes up to 1e5 and a 316 x 316
 * gridworld.
 * --marginals: solve with the API default state_marginals = true. */
#include <errno.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "bench_model.h"
#include "bench_lqr.h"
#include "bench_suite.h"

#define SELF "/proc/self/exe"

static const double AGREEMENT = 1e-10;     /* relative, on V_0 */
static const size_t SCALING_FROM = 100000; /* the thread comparison at S >= this */
static const size_t YAML_STATES = 50000;   /* x 4 actions x 5 successors = 10^6 entries */
static const size_t YAML_REPS = 3;
enum { LQR_N = 12, LQR_M = 4, LQR_T = 10000 }; /* the LQR row */

/* The run's options and the failures so far (one Markdown item each). */
typedef struct runner {
    const bench_options *o;
    FILE *failures;     /* a memory stream over failure_text */
    char *failure_text;
    int n_failures;
} runner;

static void failed(runner *run, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("- ", run->failures);
    vfprintf(run->failures, fmt, ap);
    fputs("\n", run->failures);
    va_end(ap);
    va_start(ap, fmt);
    fputs("cai-bench: FAIL: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    run->n_failures++;
}

/* ---- options ---- */

static int usage(void)
{
    fputs("usage: cai-bench [--sizes 1e3,1e4,...] [--reps N] [--min-seconds S] [--horizon T]\n"
          "                 [--threads N] [--seed N] [--marginals] [--quick] [--out FILE.md]\n",
          stderr);
    return 2;
}

/* A positive integer written plainly or as 1e6, 4e6. */
static int parse_count(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !(v >= 1 && v <= 4e9) || v != floor(v))
        return 0;
    *out = (size_t)v;
    return 1;
}

/* Seconds, 0 to a day. */
static int parse_seconds(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !(v >= 0 && v <= 86400))
        return 0;
    *out = v;
    return 1;
}

static int parse_sizes(const char *list, bench_options *o)
{
    char buf[512];
    if (strlen(list) >= sizeof buf)
        return 0;
    strcpy(buf, list);
    o->n_sizes = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        size_t *S = &o->sizes[o->n_sizes];
        if (o->n_sizes == BENCH_MAX_SIZES || !parse_count(tok, S) || *S < BENCH_SUCCESSORS
            || *S > UINT32_MAX)
            return 0;
        o->n_sizes++;
    }
    return o->n_sizes > 0;
}

static int parse_options(int argc, char **argv, bench_options *o)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (bench_options){.sizes = {1000, 10000, 100000, 1000000, 4000000}, .n_sizes = 5,
                         .reps = 5, .min_seconds = 60, .horizon = 100, .grid_side = 1000,
                         .seed = 1,
                         .threads = cores > 0 ? (unsigned)cores : 1};
    int quick = 0, sizes_given = 0, reps_given = 0, min_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        size_t n = 0;
        if (strcmp(a, "--quick") == 0) {
            quick = 1;
            continue;
        }
        if (strcmp(a, "--marginals") == 0) {
            o->marginals = 1;
            continue;
        }
        if (v == NULL)
            return 0;
        i++;
        if (strcmp(a, "--sizes") == 0 && parse_sizes(v, o)) {
            sizes_given = 1;
        } else if (strcmp(a, "--reps") == 0 && parse_count(v, &n) && n <= BENCH_MAX_REPS) {
            o->reps = n;
            reps_given = 1;
        } else if (strcmp(a, "--min-seconds") == 0 && parse_seconds(v, &o->min_seconds)) {
            min_given = 1;
        } else if (strcmp(a, "--horizon") == 0 && parse_count(v, &n)) {
            o->horizon = n;
        } else if (strcmp(a, "--threads") == 0 && parse_count(v, &n) && n <= 1024) {
            o->threads = (unsigned)n;
        } else if (strcmp(a, "--seed") == 0 && parse_count(v, &n)) {
            o->seed = n;
        } else if (strcmp(a, "--out") == 0) {
            o->out = v;
        } else {
            return 0;
        }
    }
    if (quick) {
        if (!reps_given)
            o->reps = 3;
        if (!min_given)
            o->min_seconds = 0;
        if (!sizes_given)
            o->n_sizes = 3;
        o->grid_side = 316; /* about 10^5 cells */
    }
    return 1;
}

/* ---- running ---- */

/* One child of method m. reps 0: a memory run, one repetition whose peak
 * is what counts (its time, a cold one, gives way to the suite's). */
static int run_job(runner *run, bench_method m, size_t size, unsigned threads, const char *path,
                   size_t reps, bench_result *out)
{
    int memory_run = reps == 0;
    reps = memory_run ? 1 : reps;
    const bench_options *o = run->o;
    bench_job job = {.method = m, .size = size, .horizon = o->horizon, .reps = reps,
                     .seed = o->seed, .threads = threads, .marginals = o->marginals,
                     .path = path};
    char c[32];
    bench_fmt_count(size, c, sizeof c);
    fprintf(stderr, "cai-bench: %-16s size %-6s threads %u ... ", bench_method_name(m), c,
            threads);
    if (bench_run(SELF, &job, out) != 0) {
        memset(out, 0, sizeof *out);
        snprintf(out->message, sizeof out->message, "cannot start a child: %s",
                 strerror(errno));
    }
    if (out->ok && memory_run)
        fprintf(stderr, "peak %.4g MB\n", out->peak_bytes / 1e6);
    else if (out->ok)
        fprintf(stderr, "%.3g s\n", bench_median(out));
    if (out->ok)
        return 0;
    fprintf(stderr, "failed\n");
    failed(run, "%s, size %s, OMP_NUM_THREADS=%u: %s", bench_method_name(m), c, threads,
           out->message);
    return -1;
}

/* Bytes the largest child (cai: its inputs, its copy, V) may need, generously. */
static double estimate_bytes(size_t S, size_t T)
{
    double rows = (double)S * BENCH_ACTIONS, nnz = rows * BENCH_SUCCESSORS;
    double model = 8 * (rows + 1) + 16 * nnz + 8 * rows;
    return 2.5 * model + 2.0 * (double)(T + 1) * (double)S * 8;
}

/* The suite's times into r (from the memory run of the same method). */
static void take_times(bench_result *r, const bench_suite *su, int e)
{
    if (e < 0)
        return;
    r->reps = su->r[e].reps;
    memcpy(r->seconds, su->r[e].seconds, sizeof r->seconds);
}

/* One size: the timing suite (every method in one process, repetitions
 * interleaved), then one process per method for its peak memory. */
static void run_size(runner *run, bench_size_run *z)
{
    const bench_options *o = run->o;
    double need = estimate_bytes(z->S, o->horizon), avail = bench_meminfo_bytes("MemAvailable");
    if (!(need <= 0.85 * avail)) {
        snprintf(z->skip, sizeof z->skip, "skipped: needs about %.1f GiB, %.1f GiB available",
                 need / 1073741824.0, avail / 1073741824.0);
        fprintf(stderr, "cai-bench: S = %zu %s\n", z->S, z->skip);
        return;
    }
    char c[32];
    bench_fmt_count(z->S, c, sizeof c);
    bench_job job = {.size = z->S, .horizon = o->horizon, .reps = o->reps,
                     .min_seconds = o->min_seconds, .seed = o->seed,
                     .threads = o->threads, .marginals = o->marginals};
    int scaling = z->S >= SCALING_FROM;
    bench_suite su;
    fprintf(stderr, "cai-bench: timing suite size %-6s threads %u ... ", c, o->threads);
    if (bench_run_suite(SELF, &job, scaling, &su) != 0) {
        memset(&su, 0, sizeof su);
        snprintf(su.message, sizeof su.message, "cannot start a child: %s", strerror(errno));
    }
    fprintf(stderr, su.ok ? "done\n" : "failed\n");
    if (!su.ok) {
        failed(run, "timing suite, size %s: %s", c, su.message);
        for (int m = BENCH_SPMV; m <= BENCH_CAI_VARIATIONAL; m++)
            snprintf(z->r[m].message, sizeof z->r[m].message, "%s", su.message);
        return;
    }
    for (int m = BENCH_SPMV; m <= BENCH_CAI_VARIATIONAL; m++) {
        run_job(run, (bench_method)m, z->S, o->threads, NULL, 0, &z->r[m]);
        take_times(&z->r[m], &su, bench_suite_entry(&su, (bench_method)m, o->threads));
        free(z->r[m].values); /* the suite compared V_0 */
        z->r[m].values = NULL;
    }
    for (int k = 0; k < 2; k++) {
        z->diff[k] = su.diff[k];
        if (!(z->diff[k] <= AGREEMENT))
            failed(run, "S = %zu, %s: cai and hand-written V_0 differ by %.3g relative "
                        "(limit %.0e)",
                   z->S, k ? "variational" : "exact", z->diff[k], AGREEMENT);
    }
    if (!scaling)
        return;
    for (unsigned k = 0; k < 2; k++) {
        int ce = bench_suite_entry(&su, BENCH_CAI_EXACT, k + 1);
        int he = bench_suite_entry(&su, BENCH_HAND_EXACT, k + 1);
        if (ce >= 0)
            z->cai_t[k] = su.r[ce];
        if (he >= 0)
            z->hand_t[k] = su.r[he];
    }
    z->scaled = 1;
    z->identical = su.identical;
    if (!z->identical)
        failed(run, "S = %zu: cai exact V_0 differs between 1 and 2 threads", z->S);
}

static void free_size_run(bench_size_run *z)
{
    for (int m = 0; m <= BENCH_CAI_VARIATIONAL; m++)
        free(z->r[m].values);
    for (int k = 0; k < 2; k++) {
        free(z->cai_t[k].values);
        free(z->hand_t[k].values);
    }
}

static void run_grid(runner *run, bench_result grid[2])
{
    const bench_options *o = run->o;
    run_job(run, BENCH_GRID_EXACT, o->grid_side, o->threads, NULL, o->reps, &grid[0]);
    run_job(run, BENCH_GRID_VARIATIONAL, o->grid_side, o->threads, NULL, o->reps, &grid[1]);
    free(grid[0].values);
    free(grid[1].values);
    grid[0].values = grid[1].values = NULL;
}

/* The bytes of the file at path, or NaN. */
static double file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (double)st.st_size : NAN;
}

/* Write the model in one form into dir, load it YAML_REPS times in a child,
 * delete the files. */
static void run_load(runner *run, const char *dir, int csv, bench_load *l)
{
    char path[600], t[600], r[600];
    snprintf(path, sizeof path, "%s/model.yaml", dir);
    snprintf(t, sizeof t, "%s/t.csv", dir);
    snprintf(r, sizeof r, "%s/r.csv", dir);
    memset(l, 0, sizeof *l);
    l->file_bytes = NAN;
    snprintf(l->r.message, sizeof l->r.message, "cannot write the model file");
    if (bench_write_yaml(path, csv ? dir : NULL, YAML_STATES, BENCH_ACTIONS, BENCH_SUCCESSORS,
                         run->o->horizon, run->o->seed) != 0)
        failed(run, "cannot write the %s model in %s: %s", csv ? "CSV" : "YAML", dir,
               strerror(errno));
    else {
        l->file_bytes = file_bytes(path) + (csv ? file_bytes(t) + file_bytes(r) : 0.0);
        run_job(run, BENCH_YAML_LOAD, YAML_STATES, run->o->threads, path, YAML_REPS, &l->r);
    }
    unlink(path);
    if (csv) {
        unlink(t);
        unlink(r);
    }
}

/* Loading the YAML model and its CSV form, in a temporary folder. */
static void run_yaml(runner *run, bench_yaml_run *y)
{
    const char *tmp = getenv("TMPDIR");
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cai-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        failed(run, "cannot make a folder for the model files: %s", strerror(errno));
        memset(y, 0, sizeof *y);
        y->yaml.file_bytes = y->csv.file_bytes = NAN;
        snprintf(y->yaml.r.message, sizeof y->yaml.r.message, "no folder for the files");
        snprintf(y->csv.r.message, sizeof y->csv.r.message, "no folder for the files");
        return;
    }
    run_load(run, dir, 0, &y->yaml);
    run_load(run, dir, 1, &y->csv);
    rmdir(dir);
}

/* Everything measured so far. */
typedef struct results {
    bench_size_run *runs;
    size_t n_done; /* sizes finished */
    bench_result grid[2];
    int grid_done;
    bench_yaml_run yaml;
    int yaml_done;
    bench_lqr_run lqr;
    int lqr_done;
    double load_start;
} results;

/* The report of what is done so far; returns a malloc'd string or NULL. */
static char *render(const runner *run, const results *res, int final, size_t *out_len)
{
    const bench_options *o = run->o;
    char *text = NULL;
    FILE *f = open_memstream(&text, out_len);
    if (f == NULL)
        return NULL;
    bench_report_header(f, o);
    if (!final)
        fprintf(f, "**Partial report: the run is still going.**\n\n");
    bench_report_random(f, o, res->runs, res->n_done);
    bench_report_rounds(f, res->runs, res->n_done);
    bench_report_threads(f, o, res->runs, res->n_done);
    if (res->grid_done)
        bench_report_grid(f, o, res->grid);
    if (res->yaml_done)
        bench_report_yaml(f, &res->yaml);
    if (res->lqr_done)
        bench_report_lqr(f, &res->lqr);
    fprintf(f, "Load average (1 min): %.2f at the start, %.2f %s; other work on the machine "
               "slows the runs, the 2-thread ones most.\n\n",
            res->load_start, bench_load_average(), final ? "at the end" : "now");
    int scaled = 0;
    for (size_t i = 0; i < res->n_done; i++)
        scaled |= res->runs[i].scaled;
    fflush(run->failures);
    if (run->n_failures)
        fprintf(f, "Checks: **FAILED**\n\n%s", run->failure_text);
    else
        fprintf(f, "Checks: passed%s. cai and the hand-written code agree on V_0 within "
                   "%.0e relative at every size%s.\n",
                final ? "" : " so far", AGREEMENT,
                scaled ? "; cai's V_0 is bit-identical with 1 and 2 threads" : "");
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* Write the report to --out (after each stage, so an interrupted run
 * leaves what it measured) and, at the end, to stdout. */
static int publish(const runner *run, const results *res, int final)
{
    size_t len = 0;
    char *text = render(run, res, final, &len);
    int rc = text ? 0 : -1;
    if (text && final)
        fwrite(text, 1, len, stdout);
    if (text && run->o->out) {
        FILE *f = fopen(run->o->out, "w");
        if (f == NULL || fwrite(text, 1, len, f) != len || fclose(f) != 0) {
            fprintf(stderr, "cai-bench: cannot write %s: %s\n", run->o->out, strerror(errno));
            rc = -1;
        }
    }
    free(text);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return bench_child_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "--suite") == 0)
        return bench_suite_main(argc - 1, argv + 1);
    gsl_set_error_handler_off();
    bench_options o;
    if (!parse_options(argc, argv, &o))
        return usage();
    size_t fail_len = 0;
    runner run = {.o = &o};
    run.failures = open_memstream(&run.failure_text, &fail_len);
    results res = {.runs = calloc(o.n_sizes, sizeof *res.runs),
                   .load_start = bench_load_average()};
    if (run.failures == NULL || res.runs == NULL) {
        fputs("cai-bench: out of memory\n", stderr);
        return 1;
    }
    for (size_t i = 0; i < o.n_sizes; i++) {
        res.runs[i].S = o.sizes[i];
        run_size(&run, &res.runs[i]);
        res.n_done = i + 1;
        publish(&run, &res, 0);
    }
    run_grid(&run, res.grid);
    res.grid_done = 1;
    publish(&run, &res, 0);
    run_yaml(&run, &res.yaml);
    res.yaml_done = 1;
    publish(&run, &res, 0);
    bench_run_lqr(&res.lqr, LQR_N, LQR_M, LQR_T, o.reps, o.seed);
    res.lqr_done = 1;
    if (res.lqr.message[0])
        failed(&run, "LQR: %s", res.lqr.message);
    else if (!(res.lqr.diff <= AGREEMENT))
        failed(&run, "LQR: cai and the hand-written Riccati recursion differ by %.3g "
               "(relative, P_0 and K_0)", res.lqr.diff);
    int rc = publish(&run, &res, 1) == 0 && run.n_failures == 0 ? 0 : 1;
    for (size_t i = 0; i < o.n_sizes; i++)
        free_size_run(&res.runs[i]);
    free(res.runs);
    fclose(run.failures);
    free(run.failure_text);
    return rc;
}
