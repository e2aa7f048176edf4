/* tools/bench_child.c — the child side of a cai-bench measurement, and the
 * fork/exec/pipe plumbing that runs it. */
#include "bench_child.h"

#include <cai/cai.h>
#include <errno.h>
#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "bench_kernels.h"
#include "bench_model.h"

static const char *const method_names[BENCH_N_METHODS] = {
    [BENCH_SPMV] = "SpMV floor",
    [BENCH_HAND_EXACT] = "hand exact",
    [BENCH_CAI_EXACT] = "cai exact",
    [BENCH_HAND_VARIATIONAL] = "hand variational",
    [BENCH_CAI_VARIATIONAL] = "cai variational",
    [BENCH_GRID_EXACT] = "cai exact",
    [BENCH_GRID_VARIATIONAL] = "cai variational",
    [BENCH_YAML_LOAD] = "cai_model_load",
};

const char *bench_method_name(bench_method m)
{
    return (unsigned)m < BENCH_N_METHODS ? method_names[m] : "?";
}

void bench_sort(double *v, size_t n)
{
    for (size_t i = 1; i < n; i++) /* insertion sort: n is small */
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
}

double bench_median(const bench_result *r)
{
    double v[BENCH_MAX_REPS];
    size_t n = r->reps;
    memcpy(v, r->seconds, n * sizeof *v);
    bench_sort(v, n);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* ---- measuring inside the child ---- */

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A numeric field of /proc/self/status (kB for Vm*), or -1. */
long bench_status_field(const char *name)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return -1;
    char line[256];
    long v = -1;
    size_t len = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, len) == 0 && line[len] == ':') {
            v = strtol(line + len + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* Give freed heap pages back and restart VmHWM from the current RSS
 * (Linux >= 4.0). Returns 1 when the peak was reset. */
static int reset_peak(void)
{
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f == NULL)
        return 0;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

static int fail(bench_result *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
    res->ok = 0;
    return -1;
}

static int fail_cai(bench_result *res, const char *what, const cai_error *err)
{
    char buf[CAI_ERROR_MESSAGE_MAX + CAI_ERROR_FILE_MAX + 64];
    return fail(res, "%s: %s", what, cai_error_format(err, buf, sizeof buf));
}

/* Time reps solves of mdp (peak reset first); V_0 of the last into values. */
static int time_cai_solves(const cai_mdp *mdp, cai_control_algorithm alg,
                           const bench_job *job, bench_result *res, double **values)
{
    size_t S = cai_mdp_n_states(mdp), reps = job->reps;
    cai_solve_options opt = cai_solve_options_default();
    opt.algorithm = alg;
    opt.state_marginals = job->marginals;
    cai_error err;
    res->n_states = S;
    res->n_rows = S * cai_mdp_n_actions(mdp);
    res->nnz = cai_mdp_n_transitions(mdp);
    res->peak_solve_only = reset_peak();
    *values = malloc(S * sizeof **values);
    if (*values == NULL)
        return fail(res, "out of memory");
    res->n_values = S;
    for (size_t k = 0; k < reps; k++) {
        cai_solution *sol = NULL;
        double t0 = bench_now();
        if (cai_mdp_solve(mdp, &opt, &sol, &err) != CAI_OK)
            return fail_cai(res, "cai_mdp_solve", &err);
        res->seconds[k] = bench_now() - t0;
        cai_status st = k + 1 == reps ? cai_solution_value(sol, 0, *values, &err) : CAI_OK;
        cai_solution_free(sol);
        if (st != CAI_OK)
            return fail_cai(res, "cai_solution_value", &err);
    }
    return 0;
}

cai_status bench_cai_mdp(const bench_csr *m, size_t horizon, cai_mdp **out, cai_error *err)
{
    size_t *next = malloc(m->nnz * sizeof *next);
    double *rho = calloc(m->n_states, sizeof *rho);
    cai_status st = CAI_ERR_NOMEM;
    if (next == NULL || rho == NULL) {
        cai_error_set(err, st, NULL, 0, 0, "out of memory");
    } else {
        for (size_t j = 0; j < m->nnz; j++)
            next[j] = m->col[j];
        rho[0] = 1;
        cai_mdp_spec spec = {
            .n_states = m->n_states, .n_actions = m->n_actions, .initial = rho,
            .row_ptr = m->row_ptr, .next = next, .prob = m->prob, .reward = m->reward,
            .horizon = horizon, .temperature = 1.0,
        };
        st = cai_mdp_create(&spec, out, err);
    }
    free(next); /* cai_mdp_create copied everything */
    free(rho);
    return st;
}

/* The random model through cai_mdp_create, as a user would build it. */
static int run_cai_random(const bench_job *job, bench_result *res, double **values)
{
    bench_csr m;
    if (bench_csr_random(job->size, BENCH_ACTIONS, BENCH_SUCCESSORS, job->seed, &m) != 0)
        return fail(res, "cannot generate the model (out of memory?)");
    cai_mdp *mdp = NULL;
    cai_error err;
    cai_status st = bench_cai_mdp(&m, job->horizon, &mdp, &err);
    bench_csr_free(&m);
    if (st != CAI_OK)
        return fail_cai(res, "cai_mdp_create", &err);
    cai_control_algorithm alg = job->method == BENCH_CAI_EXACT ? CAI_CONTROL_EXACT
                                                               : CAI_CONTROL_VARIATIONAL;
    int rc = time_cai_solves(mdp, alg, job, res, values);
    cai_mdp_free(mdp);
    return rc;
}

static int run_cai_grid(const bench_job *job, bench_result *res, double **values)
{
    char *map = bench_grid_map(job->size, job->seed);
    if (map == NULL)
        return fail(res, "out of memory");
    cai_gridworld_spec spec = {.map = map, .slip = 0.1, .step = -1, .goal = 0, .pit = -100,
                               .horizon = job->horizon, .temperature = 1.0};
    cai_mdp *mdp = NULL;
    cai_error err;
    cai_status st = cai_gridworld_create(&spec, &mdp, &err);
    free(map);
    if (st != CAI_OK)
        return fail_cai(res, "cai_gridworld_create", &err);
    cai_control_algorithm alg = job->method == BENCH_GRID_EXACT ? CAI_CONTROL_EXACT
                                                                : CAI_CONTROL_VARIATIONAL;
    int rc = time_cai_solves(mdp, alg, job, res, values);
    cai_mdp_free(mdp);
    return rc;
}

/* The hand-written solvers and the SpMV over the generator's arrays. Their
 * vectors get transparent huge pages as cai's message vectors do
 * (bench_alloc), so the comparison is of the code, not of the page size. */
static int run_hand(const bench_job *job, bench_result *res, double **values)
{
    bench_csr m;
    if (bench_csr_random(job->size, BENCH_ACTIONS, BENCH_SUCCESSORS, job->seed, &m) != 0)
        return fail(res, "cannot generate the model (out of memory?)");
    size_t S = m.n_states, T = job->horizon;
    res->n_states = S;
    res->n_rows = m.n_rows;
    res->nnz = m.nnz;
    bench_buffer V = {0}, w = {0}, c = {0}, x = {0}, y = {0};
    int rc = -1;
    if (job->method == BENCH_SPMV) {
        if (bench_alloc(&x, S) != 0 || bench_alloc(&y, m.n_rows) != 0)
            goto done;
        for (size_t s = 0; s < S; s++)
            x.v[s] = -(double)(s % 1000) / 10.0;
    } else {
        if (bench_alloc(&V, (T + 1) * S) != 0)
            goto done;
        if (job->method == BENCH_HAND_EXACT
            && (bench_alloc(&w, S) != 0 || bench_alloc(&c, m.n_rows) != 0))
            goto done;
    }
    for (size_t k = 0; k < job->reps; k++) {
        double t0 = bench_now();
        if (job->method == BENCH_SPMV)
            for (size_t t = 0; t < T; t++)
                bench_spmv(&m, x.v, y.v);
        else if (job->method == BENCH_HAND_EXACT)
            bench_soft_vi_exact(&m, T, 1.0, V.v, w.v, c.v);
        else
            bench_soft_vi_variational(&m, T, 1.0, V.v);
        res->seconds[k] = bench_now() - t0;
    }
    if (V.v != NULL) { /* V_0 is its first row */
        if ((*values = malloc(S * sizeof **values)) == NULL)
            goto done;
        memcpy(*values, V.v, S * sizeof **values);
        res->n_values = S;
    }
    rc = 0;
done:
    if (rc != 0)
        fail(res, "out of memory");
    bench_free(&V);
    bench_free(&w);
    bench_free(&c);
    bench_free(&x);
    bench_free(&y);
    bench_csr_free(&m);
    return rc;
}

static int run_yaml(const bench_job *job, bench_result *res)
{
    for (size_t k = 0; k < job->reps; k++) {
        cai_model *model = NULL;
        cai_error err;
        double t0 = bench_now();
        if (cai_model_load(job->path, &model, &err) != CAI_OK)
            return fail_cai(res, "cai_model_load", &err);
        res->seconds[k] = bench_now() - t0;
        const cai_mdp *mdp = cai_model_mdp(model);
        res->n_states = mdp ? cai_mdp_n_states(mdp) : 0;
        res->n_rows = mdp ? res->n_states * cai_mdp_n_actions(mdp) : 0;
        res->nnz = mdp ? cai_mdp_n_transitions(mdp) : 0;
        cai_model_free(model);
    }
    return 0;
}

int bench_write_full(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int bench_read_full(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t k = read(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* argv: --child METHOD SIZE HORIZON REPS SEED MARGINALS FD [PATH] */
int bench_child_main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    if (argc < 8)
        return 2;
    bench_job job = {
        .method = (bench_method)strtol(argv[1], NULL, 10),
        .size = strtoul(argv[2], NULL, 10),
        .horizon = strtoul(argv[3], NULL, 10),
        .reps = strtoul(argv[4], NULL, 10),
        .seed = strtoul(argv[5], NULL, 10),
        .marginals = argv[6][0] == '1',
        .path = argc > 8 ? argv[8] : NULL,
    };
    int fd = (int)strtol(argv[7], NULL, 10);
    if ((unsigned)job.method >= BENCH_N_METHODS || job.reps == 0 || job.reps > BENCH_MAX_REPS)
        return 2;
    bench_result res = {.ok = 1, .reps = job.reps};
    double *values = NULL;
    long base_kb = bench_status_field("VmRSS");
    int rc;
    switch (job.method) {
    case BENCH_CAI_EXACT:
    case BENCH_CAI_VARIATIONAL:
        rc = run_cai_random(&job, &res, &values);
        break;
    case BENCH_GRID_EXACT:
    case BENCH_GRID_VARIATIONAL:
        rc = run_cai_grid(&job, &res, &values);
        break;
    case BENCH_YAML_LOAD:
        rc = job.path ? run_yaml(&job, &res) : fail(&res, "no YAML file");
        break;
    default:
        rc = run_hand(&job, &res, &values);
        break;
    }
    long hwm_kb = bench_status_field("VmHWM");
    res.peak_bytes = hwm_kb >= 0 && base_kb >= 0 ? 1024.0 * (double)(hwm_kb - base_kb) : NAN;
    res.threads_seen = bench_status_field("Threads");
    if (rc != 0)
        res.n_values = 0;
    if (bench_write_full(fd, &res, sizeof res) != 0
        || (res.n_values > 0 && bench_write_full(fd, values, res.n_values * sizeof *values) != 0))
        rc = -1;
    free(values);
    return rc == 0 ? 0 : 1;
}

pid_t bench_spawn(const char *self, char **argv, size_t fd_slot, unsigned threads, int *out_fd)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    char fd_arg[32], threads_arg[32];
    snprintf(fd_arg, sizeof fd_arg, "%d", fds[1]);
    snprintf(threads_arg, sizeof threads_arg, "%u", threads);
    argv[fd_slot] = fd_arg;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        setenv("OMP_NUM_THREADS", threads_arg, 1);
        execv(self, argv);
        _exit(127);
    }
    close(fds[1]);
    *out_fd = fds[0];
    return pid;
}

int bench_reap(pid_t pid, int got, int ok, char *message, size_t size)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (got && WIFEXITED(status) && (!ok || WEXITSTATUS(status) == 0))
        return 0;
    if (WIFSIGNALED(status))
        snprintf(message, size, "the child died of signal %d (out of memory?)",
                 WTERMSIG(status));
    else
        snprintf(message, size, "the child exited with status %d", WEXITSTATUS(status));
    return -1;
}

int bench_run(const char *self, const bench_job *job, bench_result *out)
{
    char args[6][32];
    snprintf(args[0], sizeof args[0], "%d", (int)job->method);
    snprintf(args[1], sizeof args[1], "%zu", job->size);
    snprintf(args[2], sizeof args[2], "%zu", job->horizon);
    snprintf(args[3], sizeof args[3], "%zu", job->reps);
    snprintf(args[4], sizeof args[4], "%lu", job->seed);
    snprintf(args[5], sizeof args[5], "%d", job->marginals ? 1 : 0);
    char *argv[] = {"cai-bench", "--child", args[0], args[1], args[2], args[3], args[4],
                    args[5], NULL /* the fd */, (char *)job->path, NULL};
    int fd;
    pid_t pid = bench_spawn(self, argv, 8, job->threads, &fd);
    if (pid < 0)
        return -1;
    memset(out, 0, sizeof *out);
    int got = bench_read_full(fd, out, sizeof *out) == 0;
    out->values = NULL;
    if (got && out->n_values > 0) {
        out->values = malloc(out->n_values * sizeof *out->values);
        got = out->values != NULL
              && bench_read_full(fd, out->values, out->n_values * sizeof *out->values) == 0;
    }
    close(fd);
    char message[sizeof out->message];
    if (bench_reap(pid, got, out->ok, message, sizeof message) != 0) {
        free(out->values);
        memset(out, 0, sizeof *out);
        memcpy(out->message, message, sizeof message);
    }
    return 0;
}
