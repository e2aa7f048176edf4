/* tools/bench_report.c — cai-bench's Markdown report. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"
#include "bench_model.h"

#ifndef BENCH_BUILD_TYPE
#define BENCH_BUILD_TYPE "unknown"
#endif
#ifndef BENCH_OPTIMIZATION
#define BENCH_OPTIMIZATION "?"
#endif

#if defined(__clang__)
#define COMPILER "clang " __clang_version__
#elif defined(__GNUC__)
#define COMPILER "gcc " __VERSION__
#else
#define COMPILER "unknown compiler"
#endif

const char *bench_fmt_count(size_t n, char *buf, size_t size)
{
    int e = 0;
    size_t m = n;
    for (; m >= 10 && m % 10 == 0; e++)
        m /= 10;
    if (e >= 3 && m < 10)
        snprintf(buf, size, "%zue%d", m, e);
    else
        snprintf(buf, size, "%zu", n);
    return buf;
}

/* Three significant digits without an exponent; "–" for NaN. */
static const char *fmt_num(double v, char *buf, size_t size)
{
    if (isnan(v))
        snprintf(buf, size, "–");
    else if (fabs(v) >= 100)
        snprintf(buf, size, "%.0f", v);
    else if (fabs(v) >= 10)
        snprintf(buf, size, "%.1f", v);
    else
        snprintf(buf, size, "%.3g", v);
    return buf;
}

/* The value after "key:" on the first matching line of a /proc file. */
static int proc_field(const char *path, const char *key, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    char line[512];
    int found = 0;
    size_t len = strlen(key);
    while (!found && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, key, len) != 0 || colon == NULL)
            continue;
        char *v = colon + 1 + strspn(colon + 1, " \t");
        v[strcspn(v, "\n")] = '\0';
        snprintf(out, size, "%s", v);
        found = 1;
    }
    fclose(f);
    return found;
}

double bench_meminfo_bytes(const char *key)
{
    char v[64];
    return proc_field("/proc/meminfo", key, v, sizeof v) ? 1024.0 * strtod(v, NULL) : NAN;
}

double bench_load_average(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double v = NAN;
    if (f != NULL && fscanf(f, "%lf", &v) != 1)
        v = NAN;
    if (f != NULL)
        fclose(f);
    return v;
}

void bench_report_header(FILE *f, const bench_options *o)
{
    char cpu[256] = "unknown CPU";
    proc_field("/proc/cpuinfo", "model name", cpu, sizeof cpu);
    struct utsname u;
    int have_uname = uname(&u) == 0;
    fprintf(f, "## cai-bench\n\n");
    fprintf(f, "- Machine: %s, %ld cores online, %.1f GiB RAM; %s %s\n", cpu,
            sysconf(_SC_NPROCESSORS_ONLN), bench_meminfo_bytes("MemTotal") / 1073741824.0,
            have_uname ? u.sysname : "", have_uname ? u.release : "");
    fprintf(f, "- Compiler: %s; meson build type %s (optimization %s)\n", COMPILER,
            BENCH_BUILD_TYPE, BENCH_OPTIMIZATION);
    fprintf(f, "- Threads: %u for every run, cai and the hand-written loops alike (%s); the "
               "thread table's 1 and 2 threads are set per method with omp_set_num_threads; "
               "the `threads` column counts the threads alive in the memory run's process "
               "afterwards\n",
            o->threads,
#ifdef _OPENMP
            "the hand-written loops are OpenMP `parallel for` over states or rows"
#else
            "this build has no OpenMP: the hand-written loops are serial"
#endif
    );
    fprintf(f, "- Model: seeded random sparse MDP (seed %lu), A = %d actions, B = %d distinct "
               "successors per (s,a), rewards U[-1,0), uniform action prior, rho = state 0, "
               "T = %zu, alpha = 1\n",
            o->seed, BENCH_ACTIONS, BENCH_SUCCESSORS, o->horizon);
    fprintf(f, "- Timing: for each size one process generates the model once and runs the "
               "methods in rounds, repetition k of every method (and of the thread table's "
               "runs) before repetition k + 1 of any, each round starting at the next method, "
               "so every ratio compares runs made within the same minute on this shared VM; "
               "times are the median of at least %zu repetitions divided by T, more where "
               "a round is short, as many as fill %g s (at most 64; the counts are under "
               "the table) (cai: the whole cai_mdp_solve, graph building included, with "
               "state_marginals = %s)\n",
            o->reps, o->min_seconds,
            o->marginals ? "true, the API default" : "false: V only, as the hand-written code keeps");
    fprintf(f, "- Hand-written exact: one exp per state and step, a dot product per row, one "
               "log per state (rows combined with pi0 exp(r/alpha)); variational: a dot "
               "product per row and a log-sum-exp over actions; both keep V[T+1][S]. "
               "SpMV floor: y = P x over the S*A rows, T times. The generated CSR arrays "
               "and the hand-written vectors (V, w, x, y) get transparent huge pages, as "
               "cai's engine gives its CSR arrays and message vectors; the vectors are "
               "allocated and touched once, before the timed runs, and a cai model keeps the "
               "message array of its last solve for the next (cai_buffer_cache), so from the "
               "second solve on neither pays page faults\n");
    fprintf(f, "- GB/s = (CSR bytes 8(SA+1) + 12 nnz, plus 8S for V_{t+1} and 8SA for the "
               "row vector) / time per step, the same numerator for every method\n");
    fprintf(f, "- Peak memory: one more process per method runs one repetition alone; peak = "
               "its VmHWM minus its VmRSS at start; for cai the peak is restarted "
               "(clear_refs) after cai_mdp_create, once the caller's input arrays are freed. "
               "peak/(CSR+V) divides it by CSR bytes + (T+1) S 8 (target <= 1.3)\n\n");
}

/* Peak MB; marked when cai's peak could not be restarted after the model was
 * built (it then includes the caller's input arrays). */
static const char *fmt_peak(const bench_result *r, int cai, char *buf, size_t size)
{
    char mb[32];
    snprintf(buf, size, "%s%s", fmt_num(r->peak_bytes / 1048576.0, mb, sizeof mb),
             cai && !r->peak_solve_only ? " (with inputs)" : "");
    return buf;
}

static double step_seconds(const bench_result *r, size_t T)
{
    return r->ok ? bench_median(r) / (double)T : NAN;
}

/* Bytes of one step, as the GB/s column counts them. */
static double step_bytes(const bench_result *r)
{
    return bench_csr_bytes(r->n_rows, r->nnz) + 8.0 * (double)r->n_states
           + 8.0 * (double)r->n_rows;
}

/* peak / (CSR bytes + (T+1) S doubles) */
static double peak_ratio(const bench_result *r, size_t T)
{
    double base = bench_csr_bytes(r->n_rows, r->nnz)
                  + (double)(T + 1) * (double)r->n_states * 8;
    return r->ok ? r->peak_bytes / base : NAN;
}

void bench_report_random(FILE *f, const bench_options *o, const bench_size_run *runs,
                         size_t n_runs)
{
    static const bench_method order[] = {BENCH_CAI_EXACT, BENCH_HAND_EXACT,
                                         BENCH_CAI_VARIATIONAL, BENCH_HAND_VARIATIONAL,
                                         BENCH_SPMV};
    fprintf(f, "### Random sparse MDPs\n\n");
    fprintf(f, "| S | nnz | method | ms/step | vs hand | vs SpMV | GB/s | peak MB | "
               "peak/(CSR+V) | threads | V_0 rel. diff |\n");
    fprintf(f, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < n_runs; i++) {
        const bench_size_run *z = &runs[i];
        char s[32], n[32], b[6][48];
        bench_fmt_count(z->S, s, sizeof s);
        bench_fmt_count(z->S * BENCH_ACTIONS * BENCH_SUCCESSORS, n, sizeof n);
        if (z->skip[0]) {
            fprintf(f, "| %s | %s | %s | | | | | | | | |\n", s, n, z->skip);
            continue;
        }
        double spmv = step_seconds(&z->r[BENCH_SPMV], o->horizon);
        for (size_t k = 0; k < sizeof order / sizeof *order; k++) {
            bench_method m = order[k];
            const bench_result *r = &z->r[m];
            const char *s_col = k ? "" : s, *n_col = k ? "" : n;
            if (!r->ok) {
                fprintf(f, "| %s | %s | %s | failed: %s | | | | | | | |\n", s_col, n_col,
                        bench_method_name(m), r->message);
                continue;
            }
            double t = step_seconds(r, o->horizon), vs_hand = NAN, diff = NAN;
            if (m == BENCH_CAI_EXACT || m == BENCH_CAI_VARIATIONAL) {
                /* each cai method follows its hand-written counterpart */
                vs_hand = t / step_seconds(&z->r[m - 1], o->horizon);
                diff = z->diff[m == BENCH_CAI_VARIATIONAL];
            } else if (m != BENCH_SPMV) {
                vs_hand = 1;
            }
            char d[32] = "–";
            if (!isnan(diff))
                snprintf(d, sizeof d, "%.1e", diff);
            fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %ld | %s |\n", s_col,
                    n_col, bench_method_name(m), fmt_num(1e3 * t, b[0], sizeof b[0]),
                    fmt_num(vs_hand, b[1], sizeof b[1]), fmt_num(t / spmv, b[2], sizeof b[2]),
                    fmt_num(step_bytes(r) / t / 1e9, b[3], sizeof b[3]),
                    fmt_peak(r, m == BENCH_CAI_EXACT || m == BENCH_CAI_VARIATIONAL, b[4],
                             sizeof b[4]),
                    fmt_num(m == BENCH_SPMV ? NAN : peak_ratio(r, o->horizon), b[5],
                            sizeof b[5]),
                    r->threads_seen, d);
        }
    }
    fprintf(f, "\nRepetitions per size:");
    for (size_t i = 0; i < n_runs; i++) {
        char s[32];
        bench_fmt_count(runs[i].S, s, sizeof s);
        const bench_result *r = &runs[i].r[BENCH_SPMV];
        fprintf(f, "%s %s: %zu", i ? "," : "", s, runs[i].skip[0] || !r->ok ? (size_t)0 : r->reps);
    }
    fprintf(f, ".\n\n");
}

/* The p-quantile (0 <= p <= 1) of v[0 .. n-1], sorted; linear between
 * order statistics. */
static double quantile(const double *v, size_t n, double p)
{
    double h = p * (double)(n - 1);
    size_t i = (size_t)h;
    return i + 1 < n ? v[i] + (h - (double)i) * (v[i + 1] - v[i]) : v[i];
}

/* "q1 / median / q3" of cai's time over the floor's in the same round. */
static const char *round_ratios(const bench_result *cai, const bench_result *spmv, char *buf,
                                size_t size)
{
    double v[BENCH_MAX_REPS];
    size_t n = cai->reps < spmv->reps ? cai->reps : spmv->reps;
    if (!cai->ok || !spmv->ok || n == 0) {
        snprintf(buf, size, "–");
        return buf;
    }
    for (size_t k = 0; k < n; k++)
        v[k] = cai->seconds[k] / spmv->seconds[k];
    bench_sort(v, n);
    snprintf(buf, size, "%.3g / %.3g / %.3g", quantile(v, n, 0.25), quantile(v, n, 0.5),
             quantile(v, n, 0.75));
    return buf;
}

/* How far the vs SpMV column moves from round to round: each round runs
 * every method once, so a round's ratio compares runs a few seconds apart. */
void bench_report_rounds(FILE *f, const bench_size_run *runs, size_t n_runs)
{
    size_t any = 0;
    for (size_t i = 0; i < n_runs; i++)
        any += runs[i].skip[0] == '\0';
    if (any == 0)
        return;
    fprintf(f, "Round by round, cai / SpMV floor of the same round (first quartile / median / "
               "third quartile over the rounds):\n\n");
    fprintf(f, "| S | exact | variational |\n|---|---:|---:|\n");
    for (size_t i = 0; i < n_runs; i++) {
        const bench_size_run *z = &runs[i];
        if (z->skip[0])
            continue;
        char s[32], e[64], v[64];
        bench_fmt_count(z->S, s, sizeof s);
        fprintf(f, "| %s | %s | %s |\n", s,
                round_ratios(&z->r[BENCH_CAI_EXACT], &z->r[BENCH_SPMV], e, sizeof e),
                round_ratios(&z->r[BENCH_CAI_VARIATIONAL], &z->r[BENCH_SPMV], v, sizeof v));
    }
    fprintf(f, "\n");
}

void bench_report_threads(FILE *f, const bench_options *o, const bench_size_run *runs,
                          size_t n_runs)
{
    int any = 0;
    for (size_t i = 0; i < n_runs; i++)
        any |= runs[i].scaled;
    if (!any)
        return;
    fprintf(f, "### Threads: exact, 1 vs 2 threads (ms per step)\n\n");
    fprintf(f, "| S | cai 1 thread | cai 2 threads | cai speed-up | cai vs hand, 1 thread | "
               "V_0 identical | hand 1 thread | hand 2 threads | hand speed-up |\n");
    fprintf(f, "|---|---:|---:|---:|---:|---|---:|---:|---:|\n");
    for (size_t i = 0; i < n_runs; i++) {
        const bench_size_run *z = &runs[i];
        if (!z->scaled)
            continue;
        char s[32], b[7][32];
        double c1 = step_seconds(&z->cai_t[0], o->horizon);
        double c2 = step_seconds(&z->cai_t[1], o->horizon);
        double h1 = step_seconds(&z->hand_t[0], o->horizon);
        double h2 = step_seconds(&z->hand_t[1], o->horizon);
        fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                bench_fmt_count(z->S, s, sizeof s), fmt_num(1e3 * c1, b[0], sizeof b[0]),
                fmt_num(1e3 * c2, b[1], sizeof b[1]), fmt_num(c1 / c2, b[2], sizeof b[2]),
                fmt_num(c1 / h1, b[3], sizeof b[3]), z->identical ? "yes" : "**NO**",
                fmt_num(1e3 * h1, b[4], sizeof b[4]), fmt_num(1e3 * h2, b[5], sizeof b[5]),
                fmt_num(h1 / h2, b[6], sizeof b[6]));
    }
    fprintf(f, "\n");
}

void bench_report_grid(FILE *f, const bench_options *o, const bench_result grid[2])
{
    fprintf(f, "### Gridworld %zu x %zu (10%% walls, 1%% pits, slip 0.1, T = %zu)\n\n",
            o->grid_side, o->grid_side, o->horizon);
    fprintf(f, "| states | nnz | method | ms/step | GB/s | peak MB | peak/(CSR+V) | threads |\n");
    fprintf(f, "|---:|---:|---|---:|---:|---:|---:|---:|\n");
    for (int k = 0; k < 2; k++) {
        const bench_result *r = &grid[k];
        const char *name = bench_method_name(k ? BENCH_GRID_VARIATIONAL : BENCH_GRID_EXACT);
        char b[4][48];
        if (!r->ok) {
            fprintf(f, "| | | %s | failed: %s | | | | |\n", name, r->message);
            continue;
        }
        double t = step_seconds(r, o->horizon);
        fprintf(f, "| %zu | %zu | %s | %s | %s | %s | %s | %ld |\n", r->n_states, r->nnz, name,
                fmt_num(1e3 * t, b[0], sizeof b[0]),
                fmt_num(step_bytes(r) / t / 1e9, b[1], sizeof b[1]),
                fmt_peak(r, 1, b[2], sizeof b[2]),
                fmt_num(peak_ratio(r, o->horizon), b[3], sizeof b[3]), r->threads_seen);
    }
    fprintf(f, "\n");
}

/* One row of the loading table. */
static void report_load(FILE *f, const char *form, const bench_load *l)
{
    const bench_result *r = &l->r;
    char b[4][32];
    fmt_num(l->file_bytes / 1e6, b[0], sizeof b[0]);
    if (!r->ok) {
        fprintf(f, "| %s | %s | | | failed: %s | | |\n", form, b[0], r->message);
        return;
    }
    double t = bench_median(r);
    fprintf(f, "| %s | %s | %zu | %zu | %s | %s | %s |\n", form, b[0], r->n_states, r->nnz,
            fmt_num(t, b[1], sizeof b[1]), fmt_num(l->file_bytes / 1e6 / t, b[2], sizeof b[2]),
            fmt_num(r->peak_bytes / 1048576.0, b[3], sizeof b[3]));
}

void bench_report_yaml(FILE *f, const bench_yaml_run *y)
{
    fprintf(f, "### Loading a model (`kind: mdp`, count-form states, median of %zu loads "
               "in one process)\n\n",
            y->yaml.r.ok ? y->yaml.r.reps : y->csv.r.reps);
    fprintf(f, "| form | file MB | states | transition entries | seconds | MB/s | peak MB |\n");
    fprintf(f, "|---|---:|---:|---:|---:|---:|---:|\n");
    report_load(f, "YAML", &y->yaml);
    report_load(f, "YAML + CSV files", &y->csv);
    fprintf(f, "\nThe CSV form's MB are those of its three files.\n\n");
}
