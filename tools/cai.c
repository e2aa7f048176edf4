/* tools/cai.c — the cai command line, a thin layer over the public API:
 * dispatch, option parsing, error reporting and atomic output files. The
 * commands of each model kind live in cmd_factor_graph.c and cmd_mdp.c.
 *
 * Errors are one line on stderr, "FILE:LINE:COL: error: message" (the known
 * parts) or "cai: error: ..." for usage; exit status 0 ok, 1 failure
 * (writing output, out of memory), 2 bad input: usage, an unreadable or
 * invalid model or policy file, a solve the library refuses. */
#include "cli.h"
#include "cmd_export.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#ifdef _OPENMP
#include <omp.h>
#endif

const char cli_usage_text[] =
    "usage: cai <command> [options]\n"
    "\n"
    "commands:\n"
    "  solve MODEL [--algorithm ALG] [--temperature ALPHA] [--horizon T]\n"
    "        [--tol X] [--max-iterations N] [--sweep S] [--threads N]\n"
    "        [--json [--full]]\n"
    "        [--query WHAT [--time t] [--states S1,S2,...]] [-o FILE]\n"
    "        mdp/gridworld: soft value iteration as inference; prints a summary\n"
    "        and the policy at t = 0 (its first 20 rows when there are more\n"
    "        than 50 states; gridworlds: an arrow per floor cell for its most\n"
    "        probable action, # wall, G goal, X pit, the top-left 40 x 100\n"
    "        cells of a larger map).\n"
    "        factor_graph: log Z and every marginal (sum-product) and the MAP\n"
    "        assignment (max-product); both are printed, --algorithm (exact or\n"
    "        map) says which one was asked for.\n"
    "        factored_mdp: its unrolled dynamic Bayes net as a factor graph\n"
    "        (junction tree, --algorithm loopy or meanfield); with --flatten the\n"
    "        joint state space as an mdp (sample and evaluate need it).\n"
    "        lqr: linear-quadratic control (--algorithm exact: risk-seeking, or\n"
    "        variational: certainty equivalence; --temperature, --horizon, --tol\n"
    "        and --max-iterations for the infinite horizon): the objective, the\n"
    "        log-evidence, the policy u ~ N(K x + k, policy_cov) and the\n"
    "        cost-to-go P, p at t = 0 (JSON: P [T+1][n][n], p, K [T][m][n], k,\n"
    "        policy_cov [T][m][m], state_mean [T+1][n], state_cov; the arrays\n"
    "        when (T+1)*n*n <= 1e6 or with --full).\n"
    "        lgssm: Kalman smoothing as inference: the log-likelihood and the\n"
    "        smoothed means (JSON: log_likelihood, smoothed_mean [T][n],\n"
    "        smoothed_cov [T][n][n], filtered_mean and filtered_cov, null when\n"
    "        not offered; the arrays when T*n*n <= 1e6 or with --full).\n"
    "  sample MODEL [--seed N] [--count K] [--max-steps N] [--json] [-o FILE]\n"
    "        and solve's --algorithm, --temperature, --horizon, --tol,\n"
    "        --max-iterations and --threads\n"
    "        K trajectories from the posterior policy under the true dynamics,\n"
    "        one per line as \"s0 a0 s1 a1 ... sT\" (JSON: {\"trajectories\":\n"
    "        [[names...], ...]}). Defaults --seed 0, --count 1. Discounted\n"
    "        models: a trajectory ends when the death state is drawn, or after\n"
    "        --max-steps actions (default 1000).\n"
    "  evaluate MODEL --policy FILE [--threads N] [--json] [-o FILE]\n"
    "        the soft return (rewards minus alpha KL(pi || pi0), the model's\n"
    "        alpha) and the plain return of a given policy under the true\n"
    "        dynamics. FILE is either the JSON written by 'cai solve --json'\n"
    "        (its \"policy\": [T][S][A], or [S][A] used at every step; its\n"
    "        \"states\" and \"actions\" must match the model; a model above the\n"
    "        --json limit needs 'solve --json --full') or a CSV table with\n"
    "        the header 'state,action,prob' (stationary) or 't,state,action,prob'\n"
    "        (t = 0..T-1), names as in the model, no quoting; missing entries\n"
    "        are 0, a state without rows takes the model's action prior, and\n"
    "        each row must sum to 1 within 1e-9. T is the model's horizon.\n"
    "  compare MODEL [--algorithms A,B,...] [--temperatures A,B,...]\n"
    "        [--trace FILE.csv] [--json|--csv] [-o FILE]\n"
    "        one row per algorithm and temperature. mdp/gridworld (and\n"
    "        factored_mdp with --flatten): exact, variational, map (default;\n"
    "        map needs a finite horizon), loopy and meanfield (on the exact\n"
    "        solve's graph, finite horizon; loopy is exact on that chain,\n"
    "        meanfield's policy is its q(a_t) at every state); log-evidence\n"
    "        (exact) or the algorithm's bound, mean KL(its policy || exact policy)\n"
    "        under the exact posterior state marginals (discounted: uniform over\n"
    "        states), the expected reward of its policy under the TRUE dynamics,\n"
    "        P(reach G) (finite-horizon gridworlds). Factor graphs and\n"
    "        factored_mdp nets: exact (junction tree), loopy, meanfield, map\n"
    "        (default all; --schedule, --damping, --tol, --max-iterations,\n"
    "        --max-clique-entries as for solve); log Z, its Bethe estimate, the\n"
    "        ELBO or the MAP log score, mean KL(q_i || exact marginal) over the\n"
    "        unobserved variables (blank when exact is refused). Always:\n"
    "        iterations, converged, seconds and the bytes of inference state\n"
    "        (messages, beliefs, cliques, scratch). --trace writes every\n"
    "        iteration of the iterative runs: algorithm,temperature,iteration,\n"
    "        residual,log_z (loopy: message residual and Bethe estimate;\n"
    "        meanfield: the ELBO; discounted MDPs: the relative change of V).\n"
    "  check MODEL... [--threads N]\n"
    "        load (and for factor graphs plan) each MODEL and print\n"
    "        \"MODEL: ok (...)\" or the first problem.\n"
    "  export MODEL --format uai|fg [-o|--out FILE] [--temperature ALPHA]\n"
    "        [--horizon T]\n"
    "        the model's factor graph as a UAI (MARKOV) or libDAI .fg file for\n"
    "        other tools, every factor a dense table of weights (tied potentials\n"
    "        written once per factor, evidence as indicator factors). mdp and\n"
    "        gridworld: the graph exact inference solves (s0 a0 s1 ... sT; its\n"
    "        log Z is the log-evidence), finite horizon and ALPHA > 0 only.\n"
    "        Refused: files of more than 10^8 table entries.\n"
    "\n"
    "MODEL is YAML, or by its extension UAI (.uai, with FILE.uai.evid when it\n"
    "exists), libDAI .fg or BIF (.bif); these three are factor graphs.\n"
    "\n"
    "options:\n"
    "  --algorithm ALG    exact (sum-product, the default), variational (dynamics\n"
    "                     in expectation mode; mdp/gridworld only) or map\n"
    "                     (max-product: the most probable optimal trajectory)\n"
    "  --temperature ALPHA  alpha >= 0 instead of the model's (0: hard limit)\n"
    "  --horizon T        T >= 1 steps instead of the model's (finite horizon)\n"
    "  --tol X            discounted: sup-norm tolerance on V (default 1e-12)\n"
    "  --max-iterations N discounted: iteration cap (default 100000)\n"
    "  --sweep S          discounted: jacobi (default) or gauss-seidel sweeps;\n"
    "                     both converge to the same fixed point\n"
    "  --algorithm loopy  factor graphs: loopy belief propagation (marginals and\n"
    "                     the Bethe estimate of log Z; the MAP by max-product),\n"
    "                     with --schedule flooding|sequential|residual (default\n"
    "                     sequential), --damping D in [0, 1) (default 0), --tol\n"
    "                     (default 1e-10) and --max-iterations (default 1000)\n"
    "  --algorithm meanfield  factor graphs: mean-field variational message\n"
    "                     passing (fully factorised q, or over the clusters of\n"
    "                     the model's inference: clusters; the ELBO, a lower\n"
    "                     bound on log Z; --tol, --max-iterations)\n"
    "  --max-clique-entries N  factor graphs with cycles are solved exactly by a\n"
    "                     junction tree; refused, before allocating, when its\n"
    "                     largest clique has more than N joint states (1e8)\n"
    "  --flatten          factored_mdp: solve (sample, evaluate, compare) the\n"
    "                     joint state space as an mdp (at most 1e6 states);\n"
    "                     without it solve and compare work on the unrolled\n"
    "                     dynamic Bayes net as a factor graph\n"
    "  --threads N        threads of the engine, 1..1024 (default: all cores, or\n"
    "                     OMP_NUM_THREADS); the results do not depend on it\n"
    "  --seed N, --count K, --max-steps N   see sample\n"
    "  --policy FILE      see evaluate\n"
    "  --json             print one JSON object instead of text. solve on an\n"
    "                     mdp/gridworld: kind, name, algorithm, n_states,\n"
    "                     n_actions, horizon (null when discounted), discount\n"
    "                     (null for a finite horizon), temperature,\n"
    "                     log_evidence (null unless exact with alpha > 0),\n"
    "                     objective, iterations, converged; and, when T*S*A <= 1e6\n"
    "                     (discounted: S*A) or with --full, the arrays: states,\n"
    "                     actions (names), V [T+1][S], Q and policy [T][S][A] (Q\n"
    "                     is null where the action prior is 0), state_marginals\n"
    "                     [T+1][S] (discounted: V [S], Q and policy [S][A],\n"
    "                     state_marginals null). Above that limit a \"note\" says\n"
    "                     how to ask for them (--full, or --query). map adds\n"
    "                     trajectory (state and action names) and log_score. On\n"
    "                     a factor graph: kind, name, algorithm, log_z,\n"
    "                     marginals, map, map_log_score. sample: trajectories.\n"
    "                     evaluate: soft_return, plain_return. Every JSON output\n"
    "                     ends with seconds_load (reading the input),\n"
    "                     seconds_solve (the computation) and seconds (their\n"
    "                     sum). Non-finite numbers are null.\n"
    "  --full             solve --json: the arrays whatever the model's size\n"
    "                     (a factor graph's output is always complete)\n"
    "  --query WHAT       solve, mdp/gridworld: print only WHAT, one of V, Q,\n"
    "                     policy or state_marginals, at one time step. JSON:\n"
    "                     {\"query\", \"time\" (null when discounted), \"states\",\n"
    "                     \"actions\" (null for V and state_marginals), \"values\"\n"
    "                     ([states] or [states][actions]), seconds_load,\n"
    "                     seconds_solve, seconds}; text: a table.\n"
    "  --time t           with --query: the time step, default 0 (V and\n"
    "                     state_marginals 0..T, Q and policy 0..T-1; not for a\n"
    "                     discounted model, whose answers are stationary)\n"
    "  --states S1,S2,... with --query: only these states (names as in the\n"
    "                     model, e.g. r3c4 in a gridworld), in this order.\n"
    "                     Default: every state (the text table shows the first\n"
    "                     20 of more than 50)\n"
    "  -o, --output FILE  write to FILE (through a temporary file and rename,\n"
    "                     so FILE is never half written)\n"
    "  -h, --help         show this help\n"
    "  --version          print the version\n"
    "\n"
    "Errors are printed as FILE:LINE:COL: error: MESSAGE.\n"
    "Exit status: 0 success, 1 failure writing output (or out of memory),\n"
    "2 bad input (usage, an unreadable or invalid model or policy file, a\n"
    "solve the model does not allow, such as exact inference with a discount\n"
    "and a positive reward).\n";

/* ---- errors ------------------------------------------------------------ */

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("cai: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs(" (see 'cai --help')\n", stderr);
    va_end(ap);
    return CLI_USAGE;
}

int cli_report(const cai_error *e, const char *path, int rc)
{
    cai_error copy = *e;
    if (copy.file[0] == '\0' && path != NULL)
        snprintf(copy.file, sizeof copy.file, "%s", path);
    char line[CAI_ERROR_MESSAGE_MAX + CAI_ERROR_FILE_MAX + 64];
    fprintf(stderr, "%s\n", cai_error_format(&copy, line, sizeof line));
    return rc;
}

int cli_input_status(cai_status st)
{
    if (st == CAI_OK)
        return CLI_OK;
    return st == CAI_ERR_NOMEM ? CLI_FAIL : CLI_USAGE;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- atomic output files ----------------------------------------------- */

/* A temporary file next to path (same directory, so rename is atomic). */
static FILE *open_temp(const char *path, char **out_tmp, cai_error *err)
{
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) + 1 : 0;
    const char *base = path + dir_len;
    size_t size = strlen(path) + 16;
    char *tmp = malloc(size);
    if (tmp == NULL) {
        cai_error_set(err, CAI_ERR_NOMEM, path, 0, 0, "out of memory");
        return NULL;
    }
    snprintf(tmp, size, "%.*s.%s.XXXXXX", (int)dir_len, path, base);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        cai_error_set(err, CAI_ERR_IO, path, 0, 0,
                      "cannot create a temporary file: %s", strerror(errno));
        free(tmp);
        return NULL;
    }
    mode_t mask = umask(0); /* give the result the usual 0666 & ~umask */
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        cai_error_set(err, CAI_ERR_IO, path, 0, 0, "cannot open: %s",
                      strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return NULL;
    }
    *out_tmp = tmp;
    return f;
}

int cli_output_open(cli_output *o, const char *path)
{
    cai_error err;
    cai_error_clear(&err);
    o->path = path;
    o->tmp = NULL;
    o->f = stdout;
    if (path == NULL)
        return CLI_OK;
    if ((o->f = open_temp(path, &o->tmp, &err)) == NULL)
        return cli_report(&err, NULL, CLI_FAIL);
    return CLI_OK;
}

int cli_output_open_after(cli_output *o, const char *path, cai_status st,
                          const cai_error *err, const char *input)
{
    if (st != CAI_OK)
        return cli_report(err, input, cli_input_status(st));
    return cli_output_open(o, path);
}

void cli_json_begin_solution(cai_json *j, const cai_model *m, const char *algorithm)
{
    cai_json_begin_object(j);
    cai_json_key(j, "kind");
    cai_json_string(j, cai_model_kind_name(cai_model_get_kind(m)));
    cai_json_key(j, "name");
    cai_json_string(j, cai_model_name(m));
    cai_json_key(j, "algorithm");
    cai_json_string(j, algorithm);
}

void cli_json_rows(cai_json *j, const double *buf, size_t rows, size_t cols)
{
    cai_json_begin_array(j);
    for (size_t r = 0; r < rows; r++) {
        if (cols == 0) {
            cai_json_number(j, buf[r] + 0.0);
            continue;
        }
        cai_json_begin_array(j);
        for (size_t c = 0; c < cols; c++)
            cai_json_number(j, buf[r * cols + c] + 0.0);
        cai_json_end_array(j);
    }
    cai_json_end_array(j);
}

void cli_json_seconds(cai_json *j, double load, double solve)
{
    cai_json_key(j, "seconds_load");
    cai_json_number(j, load);
    cai_json_key(j, "seconds_solve");
    cai_json_number(j, solve);
    cai_json_key(j, "seconds");
    cai_json_number(j, load + solve);
}

int cli_output_close(cli_output *o, cai_status st, cai_error *err)
{
    const char *name = o->path ? o->path : "<stdout>";
    if (st == CAI_OK && (fflush(o->f) != 0 || ferror(o->f)))
        st = cai_error_set(err, CAI_ERR_IO, name, 0, 0, "cannot write: %s",
                           strerror(errno));
    if (st != CAI_OK)
        snprintf(err->file, sizeof err->file, "%s", name);
    if (o->path != NULL) {
        bool ok = st == CAI_OK;
        if (fclose(o->f) != 0 && ok) {
            st = cai_error_set(err, CAI_ERR_IO, o->path, 0, 0, "cannot write: %s",
                               strerror(errno));
            ok = false;
        }
        if (ok && rename(o->tmp, o->path) != 0) {
            st = cai_error_set(err, CAI_ERR_IO, o->path, 0, 0, "cannot write: %s",
                               strerror(errno));
            ok = false;
        }
        if (!ok)
            unlink(o->tmp);
        free(o->tmp);
        o->tmp = NULL;
        o->f = NULL;
    }
    return st == CAI_OK ? CLI_OK : cli_report(err, NULL, CLI_FAIL);
}

/* ---- options ----------------------------------------------------------- */

/* Which commands take an option. */
enum {
    FOR_SOLVE = 1, FOR_SAMPLE = 2, FOR_EVALUATE = 4, FOR_CHECK = 8, FOR_COMPARE = 16,
    FOR_RUN = FOR_SOLVE | FOR_SAMPLE | FOR_EVALUATE | FOR_COMPARE, /* the ones that print */
    FOR_ALL = FOR_RUN | FOR_CHECK
};

typedef enum opt_id {
    OPT_HELP, OPT_JSON, OPT_OUTPUT, OPT_ALGORITHM, OPT_TEMPERATURE, OPT_HORIZON,
    OPT_TOL, OPT_MAX_ITERATIONS, OPT_SEED, OPT_COUNT, OPT_MAX_STEPS, OPT_POLICY,
    OPT_FULL, OPT_QUERY, OPT_TIME, OPT_STATES, OPT_THREADS, OPT_SWEEP, OPT_SCHEDULE,
    OPT_DAMPING, OPT_MAX_CLIQUE, OPT_ALGORITHMS, OPT_TEMPERATURES, OPT_CSV, OPT_FLATTEN, OPT_TRACE
} opt_id;

static const struct option_entry {
    const char *name;  /* "--name" */
    const char *alias; /* short form, or NULL */
    opt_id id;
    bool value;        /* takes a value */
    unsigned commands; /* FOR_* mask */
} option_table[] = {
    {"--help", "-h", OPT_HELP, false, FOR_ALL},
    {"--json", NULL, OPT_JSON, false, FOR_RUN},
    {"--output", "-o", OPT_OUTPUT, true, FOR_RUN},
    {"--algorithm", "-a", OPT_ALGORITHM, true, FOR_SOLVE | FOR_SAMPLE},
    {"--temperature", NULL, OPT_TEMPERATURE, true, FOR_SOLVE | FOR_SAMPLE},
    {"--horizon", NULL, OPT_HORIZON, true, FOR_SOLVE | FOR_SAMPLE},
    {"--tol", NULL, OPT_TOL, true, FOR_SOLVE | FOR_SAMPLE | FOR_COMPARE},
    {"--max-iterations", NULL, OPT_MAX_ITERATIONS, true, FOR_SOLVE | FOR_SAMPLE | FOR_COMPARE},
    {"--algorithms", NULL, OPT_ALGORITHMS, true, FOR_COMPARE},
    {"--temperatures", NULL, OPT_TEMPERATURES, true, FOR_COMPARE},
    {"--csv", NULL, OPT_CSV, false, FOR_COMPARE},
    {"--trace", NULL, OPT_TRACE, true, FOR_COMPARE},
    {"--sweep", NULL, OPT_SWEEP, true, FOR_SOLVE | FOR_SAMPLE},
    {"--schedule", NULL, OPT_SCHEDULE, true, FOR_SOLVE | FOR_COMPARE},
    {"--damping", NULL, OPT_DAMPING, true, FOR_SOLVE | FOR_COMPARE},
    {"--max-clique-entries", NULL, OPT_MAX_CLIQUE, true, FOR_SOLVE | FOR_COMPARE},
    {"--flatten", NULL, OPT_FLATTEN, false, FOR_RUN},
    {"--seed", NULL, OPT_SEED, true, FOR_SAMPLE},
    {"--count", NULL, OPT_COUNT, true, FOR_SAMPLE},
    {"--max-steps", NULL, OPT_MAX_STEPS, true, FOR_SAMPLE},
    {"--policy", NULL, OPT_POLICY, true, FOR_EVALUATE},
    {"--full", NULL, OPT_FULL, false, FOR_SOLVE},
    {"--query", NULL, OPT_QUERY, true, FOR_SOLVE},
    {"--time", NULL, OPT_TIME, true, FOR_SOLVE},
    {"--states", NULL, OPT_STATES, true, FOR_SOLVE},
    {"--threads", NULL, OPT_THREADS, true, FOR_ALL},
};

#define N_OPTIONS (sizeof option_table / sizeof option_table[0])

/* The option a names, with its value split off "--name=value" or "-oFILE";
 * NULL when unknown. */
static const struct option_entry *find_option(const char *a, const char **out_value)
{
    *out_value = NULL;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const struct option_entry *e = &option_table[i];
        size_t len = strlen(e->name);
        if (strcmp(a, e->name) == 0 || (e->alias && strcmp(a, e->alias) == 0))
            return e;
        if (e->value && strncmp(a, e->name, len) == 0 && a[len] == '=') {
            *out_value = a + len + 1;
            return e;
        }
        if (e->value && e->alias && strncmp(a, e->alias, 2) == 0 && a[1] != '-') {
            *out_value = a + 2;
            return e;
        }
    }
    return NULL;
}

static bool parse_size(const char *s, size_t *out)
{
    if (s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Store the value of option e in *o; a usage error when it is malformed. */
static int set_option(cli_options *o, const struct option_entry *e, const char *v)
{
    size_t n;
    switch (e->id) {
    case OPT_OUTPUT:
        if (v[0] == '\0')
            return cli_usage_error("%s", "empty output file name");
        o->output = v;
        return CLI_OK;
    case OPT_POLICY:
        if (v[0] == '\0')
            return cli_usage_error("%s", "empty policy file name");
        o->policy = v;
        return CLI_OK;
    case OPT_ALGORITHM:
        if (strcmp(v, "exact") != 0 && strcmp(v, "variational") != 0 &&
            strcmp(v, "map") != 0 && strcmp(v, "loopy") != 0 && strcmp(v, "meanfield") != 0)
            return cli_usage_error("unknown algorithm '%s' (expected exact, "
                                   "variational, map, loopy or meanfield)", v);
        o->has_algorithm = true;
        o->algorithm = v;
        return CLI_OK;
    case OPT_TEMPERATURE:
        if (!parse_double(v, &o->temperature) || o->temperature < 0.0)
            return cli_usage_error("--temperature: expected a finite number >= 0, "
                                   "got '%s'", v);
        o->has_temperature = true;
        return CLI_OK;
    case OPT_TOL:
        if (!parse_double(v, &o->tol) || !(o->tol > 0.0))
            return cli_usage_error("--tol: expected a finite number > 0, got '%s'", v);
        o->has_tol = true;
        return CLI_OK;
    case OPT_QUERY:
        if (strcmp(v, "V") != 0 && strcmp(v, "Q") != 0 && strcmp(v, "policy") != 0 &&
            strcmp(v, "state_marginals") != 0)
            return cli_usage_error("--query: unknown array '%s' (expected V, Q, policy "
                                   "or state_marginals)", v);
        o->query = v;
        return CLI_OK;
    case OPT_STATES:
        if (v[0] == '\0')
            return cli_usage_error("%s", "--states: empty list of states");
        o->states = v;
        return CLI_OK;
    case OPT_TIME:
        if (!parse_size(v, &o->time))
            return cli_usage_error("--time: expected an integer >= 0, got '%s'", v);
        o->has_time = true;
        return CLI_OK;
    case OPT_THREADS:
        if (!parse_size(v, &o->threads) || o->threads == 0 ||
            o->threads > CLI_MAX_THREADS)
            return cli_usage_error("--threads: expected an integer in 1..%d, got '%s'",
                                   CLI_MAX_THREADS, v);
        o->has_threads = true;
        return CLI_OK;
    case OPT_SEED:
        if (!parse_size(v, &n) || n > ULONG_MAX)
            return cli_usage_error("--seed: expected an integer >= 0, got '%s'", v);
        o->seed = (unsigned long)n;
        o->has_seed = true;
        return CLI_OK;
    case OPT_SCHEDULE:
        if (strcmp(v, "flooding") != 0 && strcmp(v, "sequential") != 0 &&
            strcmp(v, "residual") != 0)
            return cli_usage_error("--schedule: expected flooding, sequential or residual, "
                                   "got '%s'", v);
        o->schedule = v;
        return CLI_OK;
    case OPT_DAMPING:
        if (!parse_double(v, &o->damping) || !(o->damping >= 0.0 && o->damping < 1.0))
            return cli_usage_error("--damping: expected a number in [0, 1), got '%s'", v);
        o->has_damping = true;
        return CLI_OK;
    case OPT_ALGORITHMS:
        o->algorithms = v;
        return CLI_OK;
    case OPT_TEMPERATURES:
        o->temperatures = v;
        return CLI_OK;
    case OPT_TRACE:
        o->trace = v;
        return CLI_OK;
    case OPT_MAX_CLIQUE:
        if (!parse_double(v, &o->max_clique_entries) || !(o->max_clique_entries >= 1.0))
            return cli_usage_error("--max-clique-entries: expected a number >= 1, got '%s'",
                                   v);
        o->has_max_clique_entries = true;
        return CLI_OK;
    case OPT_SWEEP:
        if (strcmp(v, "jacobi") != 0 && strcmp(v, "gauss-seidel") != 0)
            return cli_usage_error("--sweep: expected jacobi or gauss-seidel, got '%s'", v);
        o->gauss_seidel = strcmp(v, "gauss-seidel") == 0;
        o->has_sweep = true;
        return CLI_OK;
    case OPT_HORIZON:
    case OPT_MAX_ITERATIONS:
    case OPT_COUNT:
    case OPT_MAX_STEPS:
        if (!parse_size(v, &n) || n == 0)
            return cli_usage_error("%s: expected an integer >= 1, got '%s'", e->name, v);
        if (e->id == OPT_HORIZON)
            o->horizon = n, o->has_horizon = true;
        else if (e->id == OPT_MAX_ITERATIONS)
            o->max_iterations = n, o->has_max_iterations = true;
        else if (e->id == OPT_COUNT)
            o->count = n, o->has_count = true;
        else
            o->max_steps = n, o->has_max_steps = true;
        return CLI_OK;
    default:
        return CLI_OK;
    }
}

/* Parse the arguments after the command name. *out_help is set when --help
 * was asked for (then nothing else is checked). */
static int parse_options(int argc, char **argv, cli_options *o, unsigned mask,
                         bool *out_help)
{
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == '\0') {
            if (o->model != NULL)
                return cli_usage_error("unexpected argument '%s'", a);
            o->model = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        const char *value;
        const struct option_entry *e = find_option(a, &value);
        if (e == NULL)
            return cli_usage_error("unknown option '%s'", a);
        if (!(e->commands & mask))
            return cli_usage_error("option '%s' does not apply to %s", e->name,
                                   o->command_name);
        if (e->id == OPT_HELP) {
            *out_help = true;
            return CLI_OK;
        }
        if (e->id == OPT_FLATTEN) {
            o->flatten = true;
            continue;
        }
        if (e->id == OPT_JSON || e->id == OPT_FULL || e->id == OPT_CSV) {
            *(e->id == OPT_JSON ? &o->json : e->id == OPT_FULL ? &o->full : &o->csv) = true;
            continue;
        }
        if (value == NULL) {
            if (i + 1 == argc)
                return cli_usage_error("option '%s' needs a value", a);
            value = argv[++i];
        }
        int rc = set_option(o, e, value);
        if (rc != CLI_OK)
            return rc;
    }
    if (o->model == NULL)
        return cli_usage_error("%s needs a MODEL file", o->command_name);
    if (o->json && o->csv)
        return cli_usage_error("%s", "--json and --csv exclude each other");
    if (o->command == CLI_EVALUATE && o->policy == NULL)
        return cli_usage_error("%s", "evaluate needs --policy FILE");
    if (o->query == NULL && (o->has_time || o->states != NULL))
        return cli_usage_error("option '%s' needs --query",
                               o->has_time ? "--time" : "--states");
    if (o->full && o->query != NULL)
        return cli_usage_error("%s", "--full and --query exclude each other (--query "
                                     "prints one array, --full all of them)");
    if (o->full && !o->json)
        return cli_usage_error("%s", "--full needs --json (the text output shows the "
                                     "first rows; --query prints chosen ones)");
    return CLI_OK;
}

/* --threads: the engine's OpenMP thread count for the rest of the run
 * (without OpenMP the engine runs on one thread, and n is accepted). */
static void set_threads(size_t n)
{
#ifdef _OPENMP
    omp_set_num_threads((int)n);
#else
    (void)n;
#endif
}

/* ---- commands ---------------------------------------------------------- */

static bool is_mdp_kind(cai_model_kind k)
{
    return k == CAI_MODEL_MDP || k == CAI_MODEL_GRIDWORLD;
}

/* solve, sample and evaluate: parse, load, hand over to the model's kind. */
static int run_command(cli_command cmd, const char *name, unsigned mask, int argc,
                       char **argv)
{
    cli_options opt;
    memset(&opt, 0, sizeof opt);
    opt.command = cmd;
    opt.command_name = name;
    opt.algorithm = "exact";
    opt.count = 1;
    bool help = false;
    int rc = parse_options(argc, argv, &opt, mask, &help);
    if (help) {
        fputs(cli_usage_text, stdout);
        return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
    }
    if (rc != CLI_OK)
        return rc;
    if (opt.has_threads)
        set_threads(opt.threads);

    cai_error err;
    cai_error_clear(&err);
    cai_model *m = NULL;
    double t0 = cli_now();
    cai_status st = cai_model_load(opt.model, &m, &err);
    opt.seconds_load = cli_now() - t0;
    if (st != CAI_OK)
        return cli_report(&err, opt.model, cli_input_status(st));
    cai_model_kind kind = cai_model_get_kind(m);
    if (kind == CAI_MODEL_LQR) {
        rc = cmd == CLI_SOLVE ? cmd_lqr_solve(m, &opt) /* cmd_lqr.c */
                              : cli_usage_error("%s needs a discrete model; %s is an lqr "
                                                "model (solve and check apply)", name,
                                                opt.model);
    } else if (kind == CAI_MODEL_LGSSM) {
        rc = cmd == CLI_SOLVE ? cmd_lgssm_solve(m, &opt) /* cmd_lgssm.c */
                              : cli_usage_error("%s needs a discrete model; %s is an lgssm "
                                                "model (solve and check apply)", name,
                                                opt.model);
    } else if (kind == CAI_MODEL_FACTORED_MDP || opt.flatten) {
        rc = cmd_factored_run(m, &opt); /* cmd_factored.c */
    } else if (cmd == CLI_COMPARE) {
        rc = cmd_compare(m, &opt);
    } else if (is_mdp_kind(kind)) {
        rc = cmd == CLI_SOLVE    ? cmd_mdp_solve(m, &opt)
             : cmd == CLI_SAMPLE ? cmd_mdp_sample(m, &opt)
                                 : cmd_mdp_evaluate(m, &opt);
    } else if (cmd == CLI_SOLVE) {
        rc = cmd_factor_graph_solve(m, &opt);
    } else {
        rc = cli_usage_error("%s needs an mdp or gridworld model; %s is a %s", name,
                             opt.model, cai_model_kind_name(kind));
    }
    cai_model_free(m);
    return rc;
}

static int check_one(const char *path)
{
    cai_error err;
    cai_error_clear(&err);
    cai_model *m = NULL;
    cai_status st = cai_model_load(path, &m, &err);
    if (st != CAI_OK)
        return cli_report(&err, path, cli_input_status(st));
    cai_model_kind kind = cai_model_get_kind(m);
    int rc = kind == CAI_MODEL_FACTORED_MDP ? cmd_factored_check(m, path)
             : kind == CAI_MODEL_LQR        ? cmd_lqr_check(m, path)
             : kind == CAI_MODEL_LGSSM      ? cmd_lgssm_check(m, path)
             : is_mdp_kind(kind)            ? cmd_mdp_check(m, path)
                                            : cmd_factor_graph_check(m, path);
    cai_model_free(m);
    return rc;
}

/* check MODEL... [--threads N]: the options (anywhere), then each model. */
static int cmd_check(int argc, char **argv)
{
    const char **models = malloc((argc ? (size_t)argc : 1) * sizeof *models);
    if (models == NULL) {
        fputs("cai: error: out of memory\n", stderr);
        return CLI_FAIL;
    }
    cli_options opt;
    memset(&opt, 0, sizeof opt);
    opt.command_name = "check";
    int n = 0, rc = CLI_OK;
    bool options_done = false;
    for (int i = 0; i < argc && rc == CLI_OK; i++) {
        const char *a = argv[i], *value;
        if (options_done || a[0] != '-' || a[1] == '\0') {
            models[n++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        const struct option_entry *e = find_option(a, &value);
        if (e == NULL) {
            rc = cli_usage_error("unknown option '%s'", a);
        } else if (!(e->commands & FOR_CHECK)) {
            rc = cli_usage_error("option '%s' does not apply to check", e->name);
        } else if (e->id == OPT_HELP) {
            free(models);
            fputs(cli_usage_text, stdout);
            return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
        } else if (value == NULL && i + 1 == argc) {
            rc = cli_usage_error("option '%s' needs a value", a);
        } else {
            rc = set_option(&opt, e, value ? value : argv[++i]);
        }
    }
    if (rc == CLI_OK && n == 0)
        rc = cli_usage_error("%s", "check needs a MODEL file");
    if (rc != CLI_OK) {
        free(models);
        return rc;
    }
    if (opt.has_threads)
        set_threads(opt.threads);
    for (int i = 0; i < n; i++) {
        int r = check_one(models[i]);
        rc = r > rc ? r : rc;
    }
    free(models);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "cai: error: cannot write output: %s\n", strerror(errno));
        return CLI_FAIL;
    }
    return rc;
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    if (argc < 2) {
        fputs(cli_usage_text, stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    int rc;
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
        strcmp(cmd, "help") == 0) {
        fputs(cli_usage_text, stdout);
        rc = CLI_OK;
    } else if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("cai %s\n", cai_version());
        rc = CLI_OK;
    } else if (strcmp(cmd, "solve") == 0) {
        return run_command(CLI_SOLVE, cmd, FOR_SOLVE, argc - 2, argv + 2);
    } else if (strcmp(cmd, "sample") == 0) {
        return run_command(CLI_SAMPLE, cmd, FOR_SAMPLE, argc - 2, argv + 2);
    } else if (strcmp(cmd, "evaluate") == 0) {
        return run_command(CLI_EVALUATE, cmd, FOR_EVALUATE, argc - 2, argv + 2);
    } else if (strcmp(cmd, "compare") == 0) {
        return run_command(CLI_COMPARE, cmd, FOR_COMPARE, argc - 2, argv + 2);
    } else if (strcmp(cmd, "check") == 0) {
        return cmd_check(argc - 2, argv + 2);
    } else if (strcmp(cmd, "export") == 0) {
        return cmd_export(argc - 2, argv + 2);
    } else if (cmd[0] == '-') {
        return cli_usage_error("unknown option '%s'", cmd);
    } else {
        return cli_usage_error("unknown command '%s'", cmd);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "cai: error: cannot write output: %s\n", strerror(errno));
        return CLI_FAIL;
    }
    return rc;
}
