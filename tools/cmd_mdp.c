/* tools/cmd_mdp.c — solve and check on mdp and gridworld models (sample and
 * evaluate: cmd_mdp_run.c): options to cai_solve_options, then the
 * solution's queries printed as text or JSON. Nothing here computes a
 * control quantity itself.
 *
 * Output size is bounded unless asked for: solve --json prints the per-time
 * arrays only up to CLI_ARRAYS_MAX numbers per array (or with --full), the
 * text shows the first rows, and --query prints one array at one time for
 * chosen states. The solver keeps state marginals only when they are
 * printed (cai_solve_options.state_marginals). */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Steps of a MAP trajectory the text output shows. */
#define TRAJECTORY_HEAD 50

static cai_control_algorithm algorithm_of(const char *name)
{
    if (strcmp(name, "variational") == 0)
        return CAI_CONTROL_VARIATIONAL;
    if (strcmp(name, "map") == 0)
        return CAI_CONTROL_MAP;
    return CAI_CONTROL_EXACT;
}

int cli_nomem(void)
{
    fputs("cai: error: out of memory\n", stderr);
    return CLI_FAIL;
}

void *cli_alloc_array(size_t n, size_t size)
{
    size_t bytes;
    if (!cai_size_mul(n ? n : 1, size, &bytes))
        return NULL;
    return malloc(bytes);
}

/* The horizon the solve will have: --horizon, else the model's (0 when
 * discounted). */
static size_t horizon_of(const cai_mdp *mdp, const cli_options *opt)
{
    size_t T = cai_mdp_horizon(mdp);
    return T > 0 && opt->has_horizon ? opt->horizon : T;
}

/* The options that must fit the model's horizon, then cai_solve_options;
 * state marginals are kept only when marginals says they will be printed. */
static int solve_options(const cai_mdp *mdp, const cli_options *opt, bool marginals,
                         cai_solve_options *so)
{
    if (strcmp(opt->algorithm, "loopy") == 0 || strcmp(opt->algorithm, "meanfield") == 0)
        return cli_usage_error("--algorithm %s needs a factor_graph model; %s is an "
                               "MDP (use exact, variational or map)", opt->algorithm,
                               opt->model);
    if (opt->has_max_clique_entries)
        return cli_usage_error("option '--max-clique-entries' needs a factor_graph model; "
                               "%s is an MDP", opt->model);
    if (opt->schedule != NULL || opt->has_damping)
        return cli_usage_error("option '%s' needs --algorithm loopy on a factor_graph "
                               "model", opt->schedule ? "--schedule" : "--damping");
    bool discounted = cai_mdp_horizon(mdp) == 0;
    const char *finite_only = opt->has_horizon ? "--horizon" : NULL;
    const char *discounted_only = opt->has_tol              ? "--tol"
                                  : opt->has_max_iterations ? "--max-iterations"
                                  : opt->has_sweep          ? "--sweep"
                                  : opt->has_max_steps      ? "--max-steps"
                                                            : NULL;
    if (discounted && finite_only != NULL)
        return cli_usage_error("option '%s' needs a finite-horizon model; %s is "
                               "discounted (gamma = %g)", finite_only, opt->model,
                               cai_mdp_discount(mdp));
    if (!discounted && discounted_only != NULL)
        return cli_usage_error("option '%s' needs a discounted model; %s has a "
                               "finite horizon (T = %zu)", discounted_only,
                               opt->model, cai_mdp_horizon(mdp));
    *so = cai_solve_options_default();
    so->algorithm = algorithm_of(opt->algorithm);
    so->state_marginals = marginals;
    if (opt->has_temperature)
        so->temperature = opt->temperature;
    if (opt->has_horizon)
        so->horizon = opt->horizon;
    if (opt->has_tol)
        so->tol = opt->tol;
    if (opt->has_max_iterations)
        so->max_iterations = opt->max_iterations;
    so->sweep = opt->gauss_seidel ? CAI_SWEEP_GAUSS_SEIDEL : CAI_SWEEP_JACOBI;
    return CLI_OK;
}

int cmd_mdp_run_solve(const cai_mdp *mdp, const cli_options *opt, bool marginals,
                 cai_solution **out_sol, double *out_seconds)
{
    cai_solve_options so;
    int rc = solve_options(mdp, opt, marginals, &so);
    if (rc != CLI_OK)
        return rc;
    cai_error err;
    cai_error_clear(&err);
    double t0 = cli_now();
    cai_status st = cai_mdp_solve(mdp, &so, out_sol, &err);
    *out_seconds = cli_now() - t0;
    if (st != CAI_OK)
        return cli_report(&err, opt->model, cli_input_status(st));
    return CLI_OK;
}

/* ---- solve: the queries ------------------------------------------------ */

typedef enum query { Q_VALUE, Q_Q, Q_POLICY, Q_MARGINAL } query;

static cai_status ask(const cai_solution *sol, query q, size_t t, double *out,
                      cai_error *err)
{
    switch (q) {
    case Q_VALUE:
        return cai_solution_value(sol, t, out, err);
    case Q_Q:
        return cai_solution_q(sol, t, out, err);
    case Q_POLICY:
        return cai_solution_policy(sol, t, out, err);
    default:
        return cai_solution_state_marginal(sol, t, out, err);
    }
}

/* Whether the solution answers query q: asked once at t = 0 before any
 * output is written. CAI_ERR_STATE (not for this algorithm) means no and
 * is written as null; other failures are errors. */
static cai_status available(const cai_solution *sol, query q, double *buf,
                            bool *out_yes, cai_error *err)
{
    cai_error e;
    cai_error_clear(&e);
    cai_status st = ask(sol, q, 0, buf, &e);
    *out_yes = st == CAI_OK;
    if (st == CAI_OK || st == CAI_ERR_STATE)
        return CAI_OK;
    if (err != NULL)
        *err = e;
    return st;
}

/* The rows (rows[i], or i when rows is NULL; i < n) of v, an array of
 * rows of cols numbers, as [n][cols]; cols == 0: one number per row, [n]. */
static void json_rows(cai_json *j, const double *v, const size_t *rows, size_t n,
                      size_t cols)
{
    size_t stride = cols ? cols : 1;
    cai_json_begin_array(j);
    for (size_t i = 0; i < n; i++) {
        const double *row = v + (rows ? rows[i] : i) * stride;
        if (cols > 0)
            cai_json_begin_array(j);
        for (size_t c = 0; c < stride; c++)
            cai_json_number(j, row[c]);
        if (cols > 0)
            cai_json_end_array(j);
    }
    cai_json_end_array(j);
}

/* key: null, or the answers to q for t = 0..n_t-1 as [n_t][rows][cols]
 * (without the outer level when n_t == 0: the stationary answer at t = 0;
 * cols == 0 drops the inner level: [n_t][rows]). */
static cai_status json_query(cai_json *j, const char *key, const cai_solution *sol,
                             query q, bool yes, size_t n_t, size_t rows, size_t cols,
                             double *buf, cai_error *err)
{
    cai_json_key(j, key);
    if (!yes)
        return cai_json_null(j);
    bool stationary = n_t == 0;
    if (stationary)
        n_t = 1;
    else
        cai_json_begin_array(j);
    for (size_t t = 0; t < n_t; t++) {
        cai_status st = ask(sol, q, t, buf, err);
        if (st != CAI_OK)
            return st;
        json_rows(j, buf, NULL, rows, cols);
    }
    if (!stationary)
        cai_json_end_array(j);
    return CAI_OK;
}

/* Whether solve --json prints the arrays of a T-step solution by default:
 * T*S*A (discounted: S*A) at most CLI_ARRAYS_MAX. *out_n gets that product
 * (as a double: it may not fit a size_t). */
static bool arrays_fit(const cai_mdp *mdp, size_t T, double *out_n)
{
    double n = (double)cai_mdp_n_states(mdp) * (double)cai_mdp_n_actions(mdp);
    if (T > 0)
        n *= (double)T;
    *out_n = n;
    return n <= (double)CLI_ARRAYS_MAX;
}

/* What solve prints. */
typedef enum output_kind {
    OUT_SUMMARY, /* --json above the limit: no per-state arrays */
    OUT_ARRAYS,  /* --json with every array */
    OUT_TEXT     /* the text: the policy at t = 0 */
} output_kind;

/* What the solution can answer, found before writing. */
typedef struct answers {
    output_kind kind;
    bool value, q, policy, marginal;
    size_t *traj; /* map: 2T + 1 indices */
    double log_score;
    double *buf;  /* S * A scratch; NULL for OUT_SUMMARY */
} answers;

static void answers_free(answers *a)
{
    free(a->traj);
    free(a->buf);
}

static int find_answers(const cai_mdp *mdp, const cai_solution *sol, const char *path,
                        output_kind kind, answers *a)
{
    size_t S = cai_mdp_n_states(mdp), A = cai_mdp_n_actions(mdp), SA;
    size_t T = cai_solution_horizon(sol);
    cai_error err;
    cai_error_clear(&err);
    memset(a, 0, sizeof *a);
    a->kind = kind;
    cai_status st = CAI_OK;
    if (kind != OUT_SUMMARY) {
        if (!cai_size_mul(S, A, &SA) ||
            (a->buf = cli_alloc_array(SA, sizeof(double))) == NULL)
            return cli_nomem();
        st = available(sol, Q_POLICY, a->buf, &a->policy, &err);
    }
    if (st == CAI_OK && kind == OUT_ARRAYS) {
        st = available(sol, Q_VALUE, a->buf, &a->value, &err);
        if (st == CAI_OK)
            st = available(sol, Q_Q, a->buf, &a->q, &err);
        if (st == CAI_OK && T > 0)
            st = available(sol, Q_MARGINAL, a->buf, &a->marginal, &err);
    }
    if (st == CAI_OK && cai_solution_algorithm(sol) == CAI_CONTROL_MAP) {
        if ((a->traj = cli_alloc_array(2 * T + 1, sizeof(size_t))) == NULL)
            return cli_nomem();
        st = cai_solution_trajectory(sol, a->traj, &a->log_score, &err);
    }
    if (st != CAI_OK)
        return cli_report(&err, path, cli_input_status(st));
    return CLI_OK;
}

/* The names of the states (or actions) listed in rows, or of all when rows
 * is NULL. */
static void json_names(cai_json *j, const cai_mdp *mdp, bool states, const size_t *rows,
                       size_t n)
{
    if (rows == NULL)
        n = states ? cai_mdp_n_states(mdp) : cai_mdp_n_actions(mdp);
    cai_json_begin_array(j);
    for (size_t i = 0; i < n; i++) {
        size_t k = rows ? rows[i] : i;
        cai_json_string(j, states ? cai_mdp_state_name(mdp, k) : cai_mdp_action_name(mdp, k));
    }
    cai_json_end_array(j);
}

/* The note that replaces the arrays of a model above the limit. */
static void json_note(cai_json *j, size_t T, double n)
{
    char note[256];
    snprintf(note, sizeof note,
             "arrays omitted (%s = %.0f > 1e6): pass --full, or --query %s%s "
             "[--states a,b,c]",
             T ? "T*S*A" : "S*A", n, T ? "V|Q|policy|state_marginals" : "V|Q|policy",
             T ? " [--time t]" : "");
    cai_json_key(j, "note");
    cai_json_string(j, note);
}

static cai_status write_solve_json(FILE *f, const cai_model *model,
                                   const cai_solution *sol, answers *a,
                                   double seconds_load, double seconds_solve,
                                   cai_error *err)
{
    const cai_mdp *mdp = cai_model_mdp(model);
    size_t S = cai_mdp_n_states(mdp), A = cai_mdp_n_actions(mdp);
    size_t T = cai_solution_horizon(sol);
    bool arrays = a->kind == OUT_ARRAYS;
    cai_control_algorithm alg = cai_solution_algorithm(sol);
    cai_json *j = NULL;
    cai_status st = cai_json_create(f, 2, &j, err);
    if (st != CAI_OK)
        return st;
    cli_json_begin_solution(j, model, cai_control_algorithm_name(alg));
    cai_json_key(j, "n_states");
    cai_json_size(j, S);
    cai_json_key(j, "n_actions");
    cai_json_size(j, A);
    if (arrays) {
        cai_json_key(j, "states");
        json_names(j, mdp, true, NULL, 0);
        cai_json_key(j, "actions");
        json_names(j, mdp, false, NULL, 0);
    }
    cai_json_key(j, "horizon");
    if (T > 0)
        cai_json_size(j, T);
    else
        cai_json_null(j);
    cai_json_key(j, "discount");
    if (T > 0)
        cai_json_null(j);
    else
        cai_json_number(j, cai_mdp_discount(mdp));
    cai_json_key(j, "temperature");
    cai_json_number(j, cai_solution_temperature(sol));
    cai_json_key(j, "log_evidence");
    cai_json_number(j, cai_solution_log_evidence(sol)); /* NaN: null */
    cai_json_key(j, "objective");
    cai_json_number(j, cai_solution_objective(sol));
    /* discounted: n_t = 0 drops the time level */
    if (arrays)
        st = json_query(j, "V", sol, Q_VALUE, a->value, T ? T + 1 : 0, S, 0, a->buf, err);
    if (arrays && st == CAI_OK)
        st = json_query(j, "Q", sol, Q_Q, a->q, T, S, A, a->buf, err);
    if (arrays && st == CAI_OK)
        st = json_query(j, "policy", sol, Q_POLICY, a->policy, T, S, A, a->buf, err);
    if (arrays && st == CAI_OK)
        st = json_query(j, "state_marginals", sol, Q_MARGINAL, a->marginal && T > 0,
                        T + 1, S, 0, a->buf, err);
    if (st != CAI_OK) {
        cai_json_free(j);
        return st;
    }
    cai_json_key(j, "iterations");
    cai_json_size(j, cai_solution_iterations(sol));
    cai_json_key(j, "converged");
    cai_json_bool(j, cai_solution_converged(sol));
    cli_json_seconds(j, seconds_load, seconds_solve);
    if (a->traj != NULL) {
        cai_json_key(j, "trajectory");
        cai_json_begin_array(j);
        for (size_t i = 0; i <= 2 * T; i++)
            cai_json_string(j, i % 2 ? cai_mdp_action_name(mdp, a->traj[i])
                                     : cai_mdp_state_name(mdp, a->traj[i]));
        cai_json_end_array(j);
        cai_json_key(j, "log_score");
        cai_json_number(j, a->log_score);
    }
    if (!arrays) {
        double n;
        arrays_fit(mdp, T, &n);
        json_note(j, T, n);
    }
    cai_json_end_object(j);
    st = cai_json_finish(j, err);
    cai_json_free(j);
    return st;
}

/* ---- solve: text ------------------------------------------------------- */

static void write_solve_text(FILE *f, const cai_model *model, const cai_solution *sol,
                             const answers *a, double seconds_load, double seconds_solve,
                             cai_error *err)
{
    const cai_mdp *mdp = cai_model_mdp(model);
    const char *name = cai_model_name(model);
    size_t T = cai_solution_horizon(sol), A = cai_mdp_n_actions(mdp);
    cai_control_algorithm alg = cai_solution_algorithm(sol);
    fprintf(f, "model: %s (%s, %zu states, %zu actions, %zu transitions)\n",
            name[0] ? name : "(unnamed)", cai_model_kind_name(cai_model_get_kind(model)),
            cai_mdp_n_states(mdp), A, cai_mdp_n_transitions(mdp));
    if (T > 0)
        fprintf(f, "horizon: %zu\n", T);
    else
        fprintf(f, "discount: %.10g\n", cai_mdp_discount(mdp));
    fprintf(f, "temperature: %.10g\n", cai_solution_temperature(sol));
    fprintf(f, "algorithm: %s\n", cai_control_algorithm_name(alg));
    double log_ev = cai_solution_log_evidence(sol);
    if (!isnan(log_ev))
        fprintf(f, "log evidence: %.10g\n", log_ev);
    fprintf(f, "objective: %.10g\n", cai_solution_objective(sol));
    if (T == 0)
        fprintf(f, "iterations: %zu (%s)\n", cai_solution_iterations(sol),
                cai_solution_converged(sol) ? "converged" : "NOT converged");
    fprintf(f, "seconds: %.3g (load %.3g, solve %.3g)\n", seconds_load + seconds_solve,
            seconds_load, seconds_solve);
    if (a->traj != NULL) {
        size_t shown = T > TRAJECTORY_HEAD ? TRAJECTORY_HEAD : T;
        fprintf(f, "\nMAP trajectory (log score %.10g):\n ", a->log_score);
        for (size_t i = 0; i <= 2 * shown; i++)
            fprintf(f, " %s", i % 2 ? cai_mdp_action_name(mdp, a->traj[i])
                                    : cai_mdp_state_name(mdp, a->traj[i]));
        if (shown < T)
            fprintf(f, " ... (%zu more steps)", T - shown);
        fputc('\n', f);
    }
    fputc('\n', f);
    if (!a->policy) {
        fprintf(f, "(no policy for algorithm %s)\n", cai_control_algorithm_name(alg));
        return;
    }
    if (cai_solution_policy(sol, 0, a->buf, err) != CAI_OK)
        return;
    size_t rows, cols;
    const char *grid = cai_mdp_grid(mdp, &rows, &cols);
    if (grid != NULL && cai_model_get_kind(model) == CAI_MODEL_GRIDWORLD) {
        cli_mdp_grid(f, mdp, grid, rows, cols, a->buf);
    } else {
        fputs("policy at t = 0:\n", f);
        cli_mdp_table(f, mdp, NULL, 0, NULL, a->buf, true);
    }
}

/* ---- solve --query ----------------------------------------------------- */

static query query_of(const char *name)
{
    return strcmp(name, "V") == 0        ? Q_VALUE
           : strcmp(name, "Q") == 0      ? Q_Q
           : strcmp(name, "policy") == 0 ? Q_POLICY
                                         : Q_MARGINAL;
}

/* The rows of --states as state indices, in the order given (*out_rows
 * NULL when --states is absent: every state). Usage errors name an empty
 * or unknown state; checked before solving, so a typo costs no solve. */
static int parse_states(const cai_mdp *mdp, const cli_options *opt, size_t **out_rows,
                        size_t *out_n)
{
    *out_rows = NULL;
    *out_n = 0;
    if (opt->states == NULL)
        return CLI_OK;
    size_t n = 1;
    for (const char *p = opt->states; *p; p++)
        n += *p == ',';
    size_t *rows = cli_alloc_array(n, sizeof *rows);
    char *copy = strdup(opt->states);
    int rc = CLI_OK;
    if (rows == NULL || copy == NULL) {
        rc = cli_nomem();
        goto done;
    }
    char *name = copy;
    for (size_t i = 0; i < n; i++) {
        char *comma = strchr(name, ',');
        if (comma != NULL)
            *comma = '\0';
        if (name[0] == '\0') {
            rc = cli_usage_error("--states: empty state name in '%s'", opt->states);
            goto done;
        }
        if ((rows[i] = cai_mdp_find_state(mdp, name)) == CAI_NONE) {
            rc = cli_usage_error("--states: unknown state '%s' (not in %s)", name,
                                 opt->model);
            goto done;
        }
        if (comma != NULL)
            name = comma + 1;
    }
    *out_rows = rows;
    *out_n = n;
    rows = NULL;
done:
    free(rows);
    free(copy);
    return rc;
}

/* --query against the model, before solving: state marginals and --time
 * need a finite horizon, and --time must be a step of the array. */
static int check_query(const cai_mdp *mdp, const cli_options *opt, query q, size_t T)
{
    if (T == 0 && (q == Q_MARGINAL || opt->has_time))
        return cli_usage_error("%s needs a finite-horizon model; %s is discounted "
                               "(gamma = %g)%s",
                               q == Q_MARGINAL ? "--query state_marginals" : "option '--time'",
                               opt->model, cai_mdp_discount(mdp),
                               q == Q_MARGINAL ? "" : " and its answers are stationary");
    size_t last = q == Q_Q || q == Q_POLICY ? T - 1 : T;
    if (T > 0 && opt->time > last)
        return cli_usage_error("--time %zu: %s has the steps 0..%zu (T = %zu)", opt->time,
                               opt->query, last, T);
    return CLI_OK;
}

/* The answer v (every state's row of cols numbers, or of one when cols is
 * 0) for the states rows[0..n-1] (all when rows is NULL). */
static cai_status write_query_json(FILE *f, const cai_mdp *mdp, const cli_options *opt,
                                   size_t T, const size_t *rows, size_t n, size_t cols,
                                   const double *v, double seconds_solve, cai_error *err)
{
    cai_json *j = NULL;
    cai_status st = cai_json_create(f, 2, &j, err);
    if (st != CAI_OK)
        return st;
    cai_json_begin_object(j);
    cai_json_key(j, "query");
    cai_json_string(j, opt->query);
    cai_json_key(j, "time");
    if (T > 0)
        cai_json_size(j, opt->time);
    else
        cai_json_null(j);
    if (rows == NULL)
        n = cai_mdp_n_states(mdp);
    cai_json_key(j, "states");
    json_names(j, mdp, true, rows, n);
    cai_json_key(j, "actions");
    if (cols > 0)
        json_names(j, mdp, false, NULL, 0);
    else
        cai_json_null(j);
    cai_json_key(j, "values");
    json_rows(j, v, rows, n, cols);
    cli_json_seconds(j, opt->seconds_load, seconds_solve);
    cai_json_end_object(j);
    st = cai_json_finish(j, err);
    cai_json_free(j);
    return st;
}

/* solve --query WHAT [--time t] [--states ...]: one array at one time. */
static int solve_query(const cai_model *model, const cli_options *opt)
{
    const cai_mdp *mdp = cai_model_mdp(model);
    query q = query_of(opt->query);
    size_t T = horizon_of(mdp, opt), S = cai_mdp_n_states(mdp);
    /* a row of A numbers per state, or one (cols = 0: no inner JSON level) */
    size_t cols = q == Q_Q || q == Q_POLICY ? cai_mdp_n_actions(mdp) : 0, n, size;
    size_t *rows = NULL;
    double *v = NULL, seconds = 0.0;
    cai_solution *sol = NULL;
    int rc = check_query(mdp, opt, q, T);
    if (rc == CLI_OK)
        rc = parse_states(mdp, opt, &rows, &n);
    if (rc == CLI_OK && (!cai_size_mul(S, cols ? cols : 1, &size) ||
                         (v = cli_alloc_array(size, sizeof *v)) == NULL))
        rc = cli_nomem();
    if (rc == CLI_OK)
        rc = cmd_mdp_run_solve(mdp, opt, q == Q_MARGINAL, &sol, &seconds);
    if (rc != CLI_OK)
        goto done;
    cai_error err;
    cai_error_clear(&err);
    cai_status st = ask(sol, q, opt->time, v, &err);
    cli_output out;
    if ((rc = cli_output_open_after(&out, opt->output, st, &err, opt->model)) != CLI_OK)
        goto done;
    if (opt->json) {
        st = write_query_json(out.f, mdp, opt, T, rows, n, cols, v, seconds, &err);
    } else {
        if (T > 0)
            fprintf(out.f, "%s at t = %zu:\n", opt->query, opt->time);
        else
            fprintf(out.f, "%s (stationary):\n", opt->query);
        cli_mdp_table(out.f, mdp, rows, n,
                    cols ? NULL : q == Q_VALUE ? "V" : "probability", v, false);
    }
    rc = cli_output_close(&out, st, &err);
done:
    cai_solution_free(sol);
    free(rows);
    free(v);
    return rc;
}

/* ---- solve ------------------------------------------------------------- */

int cmd_mdp_solve(const cai_model *model, const cli_options *opt)
{
    if (opt->query != NULL)
        return solve_query(model, opt);
    const cai_mdp *mdp = cai_model_mdp(model);
    double n;
    output_kind kind = OUT_TEXT;
    if (opt->json)
        kind = opt->full || arrays_fit(mdp, horizon_of(mdp, opt), &n) ? OUT_ARRAYS
                                                                      : OUT_SUMMARY;
    cai_solution *sol = NULL;
    answers a;
    memset(&a, 0, sizeof a);
    double seconds = 0.0;
    int rc = cmd_mdp_run_solve(mdp, opt, kind == OUT_ARRAYS, &sol, &seconds);
    if (rc == CLI_OK)
        rc = find_answers(mdp, sol, opt->model, kind, &a);
    cli_output out;
    if (rc == CLI_OK && (rc = cli_output_open(&out, opt->output)) == CLI_OK) {
        cai_error err;
        cai_error_clear(&err);
        cai_status st = CAI_OK;
        if (opt->json) {
            st = write_solve_json(out.f, model, sol, &a, opt->seconds_load, seconds, &err);
        } else {
            write_solve_text(out.f, model, sol, &a, opt->seconds_load, seconds, &err);
            st = err.code;
        }
        rc = cli_output_close(&out, st, &err);
    }
    answers_free(&a);
    cai_solution_free(sol);
    return rc;
}

/* ---- check ------------------------------------------------------------- */

int cmd_mdp_check(const cai_model *model, const char *path)
{
    const cai_mdp *mdp = cai_model_mdp(model);
    printf("%s: ok (%s, %zu states, %zu actions, %zu transitions)\n", path,
           cai_model_kind_name(cai_model_get_kind(model)), cai_mdp_n_states(mdp),
           cai_mdp_n_actions(mdp), cai_mdp_n_transitions(mdp));
    return CLI_OK;
}
