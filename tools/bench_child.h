/* tools/bench_child.h — one measurement of cai-bench in its own process.
 *
 * bench_run forks, sets OMP_NUM_THREADS and re-executes this program with
 * "--child ..." arguments; the child builds its model from the seed, runs
 * the method reps times and writes a bench_result (and V_0) back through a
 * pipe. A fresh process per measurement makes the thread count take effect
 * (OpenMP reads it at start-up) and makes the child's peak resident set
 * belong to that one method. */
#ifndef CAI_BENCH_CHILD_H
#define CAI_BENCH_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#include <cai/cai.h>

#include "bench_model.h"

#define BENCH_MAX_REPS 64
#define BENCH_ACTIONS 4
#define BENCH_SUCCESSORS 5

typedef enum bench_method {
    BENCH_SPMV,             /* T products y = P x over the random model */
    BENCH_HAND_EXACT,       /* bench_soft_vi_exact */
    BENCH_CAI_EXACT,        /* cai_mdp_solve, CAI_CONTROL_EXACT */
    BENCH_HAND_VARIATIONAL, /* bench_soft_vi_variational */
    BENCH_CAI_VARIATIONAL,  /* cai_mdp_solve, CAI_CONTROL_VARIATIONAL */
    BENCH_GRID_EXACT,       /* cai_gridworld_create + exact solve */
    BENCH_GRID_VARIATIONAL, /* cai_gridworld_create + variational solve */
    BENCH_YAML_LOAD,        /* cai_model_load of a file */
    BENCH_N_METHODS
} bench_method;

/* "SpMV floor", "hand exact", ... */
const char *bench_method_name(bench_method m);

typedef struct bench_job {
    bench_method method;
    size_t size;     /* states of the random model, or the gridworld's side */
    size_t horizon;  /* T */
    size_t reps;     /* 1..BENCH_MAX_REPS */
    double min_seconds; /* a suite: more repetitions, up to BENCH_MAX_REPS, until
                         * they take about this long (0: just reps) */
    unsigned long seed;
    unsigned threads; /* OMP_NUM_THREADS of the child */
    int marginals;    /* cai: keep state marginals (the API default) or V only */
    const char *path; /* the YAML file of BENCH_YAML_LOAD */
} bench_job;

typedef struct bench_result {
    int ok;               /* 0: message says what failed */
    char message[256];
    size_t reps;
    double seconds[BENCH_MAX_REPS]; /* per repetition */
    double peak_bytes;    /* VmHWM at the end minus VmRSS when the child started */
    int peak_solve_only;  /* cai: the peak was reset after the model was built
                           * and the caller's input arrays freed */
    long threads_seen;    /* threads alive in the child after the runs */
    size_t n_states, n_rows, nnz; /* of the model measured */
    size_t n_values;      /* V_0 doubles that follow on the pipe */
    double *values;       /* V_0 (parent side; malloc'd), or NULL */
} bench_result;

/* Run job in a child process of the program at self. Returns 0 with *out
 * filled (out->ok may still be 0), or -1 when the child could not be
 * started; free out->values with free(). */
int bench_run(const char *self, const bench_job *job, bench_result *out);

/* Fork and execute self with argv (NULL-terminated) and OMP_NUM_THREADS =
 * threads; argv[fd_slot] is set to the write end of a new pipe whose read
 * end goes to *out_fd. Returns the child's pid, or -1. */
pid_t bench_spawn(const char *self, char **argv, size_t fd_slot, unsigned threads, int *out_fd);

/* Wait for the child pid; got = its result was read whole, ok = it says it
 * succeeded. 0 when all is well, else -1 with message saying what died. */
int bench_reap(pid_t pid, int got, int ok, char *message, size_t size);

/* The cai model of the generated arrays m (rho = state 0, alpha = 1). */
cai_status bench_cai_mdp(const bench_csr *m, size_t horizon, cai_mdp **out, cai_error *err);

/* v[0 .. n-1] in increasing order (n is at most BENCH_MAX_REPS or so). */
void bench_sort(double *v, size_t n);
/* The median of out->seconds. */
double bench_median(const bench_result *r);

/* Seconds on the monotonic clock. */
double bench_now(void);

/* A numeric field of /proc/self/status (kB for Vm*), or -1. */
long bench_status_field(const char *name);

/* Write or read exactly n bytes (retrying short transfers); 0 or -1. */
int bench_write_full(int fd, const void *buf, size_t n);
int bench_read_full(int fd, void *buf, size_t n);

/* The child's main: argv[0] is "--child". Returns the exit status. */
int bench_child_main(int argc, char **argv);

#endif
