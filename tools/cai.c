/* tools/cai.c — the cai command line, a thin layer over the public API:
 * option parsing and dispatch. The help text is in cli_usage.c, error
 * reporting and atomic output files in cli_output.c, the commands of each
 * model kind in cmd_*.c (cmd_factor_graph.c, cmd_mdp.c, ...).
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
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#ifdef _OPENMP
#include <omp.h>
#endif

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
