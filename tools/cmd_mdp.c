/* tools/cmd_mdp.c — solve, sample, evaluate and check on mdp and gridworld
 * models: options to cai_solve_options, then the solution's queries printed
 * as text or JSON. Nothing here computes a control quantity itself. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows of the policy table a large model shows. */
#define TABLE_ALL_MAX 50
#define TABLE_HEAD 20
/* Steps of a MAP trajectory the text output shows. */
#define TRAJECTORY_HEAD 50
/* Default --max-steps for sampling a discounted model. */
#define DEFAULT_MAX_STEPS 1000

static cai_control_algorithm algorithm_of(const char *name)
{
    if (strcmp(name, "variational") == 0)
        return CAI_CONTROL_VARIATIONAL;
    if (strcmp(name, "map") == 0)
        return CAI_CONTROL_MAP;
    return CAI_CONTROL_EXACT;
}

static int nomem(void)
{
    fputs("cai: error: out of memory\n", stderr);
    return CLI_FAIL;
}

/* A buffer of n * size bytes (at least one), or NULL. */
static void *alloc_array(size_t n, size_t size)
{
    size_t bytes;
    if (!cai_size_mul(n ? n : 1, size, &bytes))
        return NULL;
    return malloc(bytes);
}

/* The options that must fit the model's horizon, then cai_solve_options. */
static int solve_options(const cai_mdp *mdp, const cli_options *opt,
                         cai_solve_options *so)
{
    bool discounted = cai_mdp_horizon(mdp) == 0;
    const char *finite_only = opt->has_horizon ? "--horizon" : NULL;
    const char *discounted_only = opt->has_tol              ? "--tol"
                                  : opt->has_max_iterations ? "--max-iterations"
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
    if (opt->has_temperature)
        so->temperature = opt->temperature;
    if (opt->has_horizon)
        so->horizon = opt->horizon;
    if (opt->has_tol)
        so->tol = opt->tol;
    if (opt->has_max_iterations)
        so->max_iterations = opt->max_iterations;
    return CLI_OK;
}

/* Solve as the options say; errors (a refused solve) are reported. */
static int solve(const cai_mdp *mdp, const cli_options *opt, cai_solution **out_sol,
                 double *out_seconds)
{
    cai_solve_options so;
    int rc = solve_options(mdp, opt, &so);
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

/* key: null, or the answers to q for t = 0..n_t-1 as [n_t][rows][cols]
 * (without the outer level when n_t == 0: the stationary answer at t = 0). */
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
        cai_json_begin_array(j);
        for (size_t r = 0; r < rows; r++) {
            if (cols > 1)
                cai_json_begin_array(j);
            for (size_t c = 0; c < cols; c++)
                cai_json_number(j, buf[r * cols + c]);
            if (cols > 1)
                cai_json_end_array(j);
        }
        cai_json_end_array(j);
    }
    if (!stationary)
        cai_json_end_array(j);
    return CAI_OK;
}

/* What the solution can answer, found before writing. */
typedef struct answers {
    bool value, q, policy, marginal;
    size_t *traj; /* map: 2T + 1 indices */
    double log_score;
    double *buf;  /* S * A scratch */
} answers;

static void answers_free(answers *a)
{
    free(a->traj);
    free(a->buf);
}

static int find_answers(const cai_mdp *mdp, const cai_solution *sol, const char *path,
                        answers *a)
{
    size_t S = cai_mdp_n_states(mdp), A = cai_mdp_n_actions(mdp), SA;
    size_t T = cai_solution_horizon(sol);
    cai_error err;
    cai_error_clear(&err);
    memset(a, 0, sizeof *a);
    if (!cai_size_mul(S, A, &SA) || (a->buf = alloc_array(SA, sizeof(double))) == NULL)
        return nomem();
    cai_status st = available(sol, Q_VALUE, a->buf, &a->value, &err);
    if (st == CAI_OK)
        st = available(sol, Q_Q, a->buf, &a->q, &err);
    if (st == CAI_OK)
        st = available(sol, Q_POLICY, a->buf, &a->policy, &err);
    if (st == CAI_OK && T > 0)
        st = available(sol, Q_MARGINAL, a->buf, &a->marginal, &err);
    if (st == CAI_OK && cai_solution_algorithm(sol) == CAI_CONTROL_MAP) {
        if ((a->traj = alloc_array(2 * T + 1, sizeof(size_t))) == NULL)
            return nomem();
        st = cai_solution_trajectory(sol, a->traj, &a->log_score, &err);
    }
    if (st != CAI_OK)
        return cli_report(&err, path, cli_input_status(st));
    return CLI_OK;
}

static void json_names(cai_json *j, const cai_mdp *mdp, bool states)
{
    size_t n = states ? cai_mdp_n_states(mdp) : cai_mdp_n_actions(mdp);
    cai_json_begin_array(j);
    for (size_t i = 0; i < n; i++)
        cai_json_string(j, states ? cai_mdp_state_name(mdp, i) : cai_mdp_action_name(mdp, i));
    cai_json_end_array(j);
}

static cai_status write_solve_json(FILE *f, const cai_model *model,
                                   const cai_solution *sol, answers *a, double seconds,
                                   cai_error *err)
{
    const cai_mdp *mdp = cai_model_mdp(model);
    size_t S = cai_mdp_n_states(mdp), A = cai_mdp_n_actions(mdp);
    size_t T = cai_solution_horizon(sol);
    cai_control_algorithm alg = cai_solution_algorithm(sol);
    cai_json *j = NULL;
    cai_status st = cai_json_create(f, 2, &j, err);
    if (st != CAI_OK)
        return st;
    cli_json_begin_solution(j, model, cai_control_algorithm_name(alg));
    cai_json_key(j, "states");
    json_names(j, mdp, true);
    cai_json_key(j, "actions");
    json_names(j, mdp, false);
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
    st = json_query(j, "V", sol, Q_VALUE, a->value, T ? T + 1 : 0, S, 1, a->buf, err);
    if (st == CAI_OK)
        st = json_query(j, "Q", sol, Q_Q, a->q, T, S, A, a->buf, err);
    if (st == CAI_OK)
        st = json_query(j, "policy", sol, Q_POLICY, a->policy, T, S, A, a->buf, err);
    if (st == CAI_OK)
        st = json_query(j, "state_marginals", sol, Q_MARGINAL, a->marginal && T > 0,
                        T + 1, S, 1, a->buf, err);
    if (st != CAI_OK) {
        cai_json_free(j);
        return st;
    }
    cai_json_key(j, "iterations");
    cai_json_size(j, cai_solution_iterations(sol));
    cai_json_key(j, "converged");
    cai_json_bool(j, cai_solution_converged(sol));
    cai_json_key(j, "seconds");
    cai_json_number(j, seconds);
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
    cai_json_end_object(j);
    st = cai_json_finish(j, err);
    cai_json_free(j);
    return st;
}

/* ---- solve: text ------------------------------------------------------- */

static int max_int(int a, int b)
{
    return a > b ? a : b;
}

/* The policy at t = 0 as a table; large models show their first rows. */
static void write_table(FILE *f, const cai_mdp *mdp, const double *pi)
{
    size_t S = cai_mdp_n_states(mdp), A = cai_mdp_n_actions(mdp);
    size_t shown = S > TABLE_ALL_MAX ? TABLE_HEAD : S;
    int ws = (int)strlen("state");
    for (size_t s = 0; s < shown; s++)
        ws = max_int(ws, (int)strlen(cai_mdp_state_name(mdp, s)));
    fprintf(f, "  %-*s", ws, "state");
    for (size_t a = 0; a < A; a++)
        fprintf(f, "  %*s", max_int(6, (int)strlen(cai_mdp_action_name(mdp, a))),
                cai_mdp_action_name(mdp, a));
    fputc('\n', f);
    for (size_t s = 0; s < shown; s++) {
        fprintf(f, "  %-*s", ws, cai_mdp_state_name(mdp, s));
        for (size_t a = 0; a < A; a++)
            fprintf(f, "  %*.4f", max_int(6, (int)strlen(cai_mdp_action_name(mdp, a))),
                    pi[s * A + a]);
        fputc('\n', f);
    }
    if (shown < S)
        fprintf(f, "  ... %zu more states omitted (--json prints them all)\n", S - shown);
}

/* The arrow of a gridworld action (up, down, left, right). */
static char arrow(const char *action)
{
    switch (action[0]) {
    case 'u': return '^';
    case 'd': return 'v';
    case 'l': return '<';
    case 'r': return '>';
    default: return '?';
    }
}

/* The map with an arrow per floor cell for its most probable action at
 * t = 0 (the first of equally probable ones). */
static void write_grid(FILE *f, const cai_mdp *mdp, const char *grid, size_t rows,
                       size_t cols, const double *pi)
{
    size_t A = cai_mdp_n_actions(mdp);
    fputs("policy at t = 0 (most probable action; # wall, G goal, X pit):\n", f);
    for (size_t r = 0; r < rows; r++) {
        fputs("  ", f);
        for (size_t c = 0; c < cols; c++) {
            char ch = grid[r * cols + c], name[64];
            snprintf(name, sizeof name, "r%zuc%zu", r, c);
            size_t s = cai_mdp_find_state(mdp, name);
            if ((ch == '.' || ch == 'S') && s != CAI_NONE && A > 0) {
                size_t best = 0;
                for (size_t a = 1; a < A; a++)
                    if (pi[s * A + a] > pi[s * A + best])
                        best = a;
                ch = arrow(cai_mdp_action_name(mdp, best));
            }
            fputc(ch, f);
        }
        fputc('\n', f);
    }
}

static void write_solve_text(FILE *f, const cai_model *model, const cai_solution *sol,
                             const answers *a, double seconds, cai_error *err)
{
    const cai_mdp *mdp = cai_model_mdp(model);
    const char *name = cai_model_name(model);
    size_t T = cai_solution_horizon(sol);
    cai_control_algorithm alg = cai_solution_algorithm(sol);
    fprintf(f, "model: %s (%s, %zu states, %zu actions, %zu transitions)\n",
            name[0] ? name : "(unnamed)", cai_model_kind_name(cai_model_get_kind(model)),
            cai_mdp_n_states(mdp), cai_mdp_n_actions(mdp), cai_mdp_n_transitions(mdp));
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
    fprintf(f, "seconds: %.3g\n", seconds);
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
        write_grid(f, mdp, grid, rows, cols, a->buf);
    } else {
        fputs("policy at t = 0:\n", f);
        write_table(f, mdp, a->buf);
    }
}

int cmd_mdp_solve(const cai_model *model, const cli_options *opt)
{
    const cai_mdp *mdp = cai_model_mdp(model);
    cai_solution *sol = NULL;
    answers a;
    memset(&a, 0, sizeof a);
    double seconds = 0.0;
    int rc = solve(mdp, opt, &sol, &seconds);
    if (rc == CLI_OK)
        rc = find_answers(mdp, sol, opt->model, &a);
    cli_output out;
    if (rc == CLI_OK && (rc = cli_output_open(&out, opt->output)) == CLI_OK) {
        cai_error err;
        cai_error_clear(&err);
        cai_status st = CAI_OK;
        if (opt->json) {
            st = write_solve_json(out.f, model, sol, &a, seconds, &err);
        } else {
            write_solve_text(out.f, model, sol, &a, seconds, &err);
            st = err.code;
        }
        rc = cli_output_close(&out, st, &err);
    }
    answers_free(&a);
    cai_solution_free(sol);
    return rc;
}

/* ---- sample ------------------------------------------------------------ */

int cmd_mdp_sample(const cai_model *model, const cli_options *opt)
{
    const cai_mdp *mdp = cai_model_mdp(model);
    cai_solution *sol = NULL;
    size_t *traj = NULL, *steps = NULL;
    double seconds;
    int rc = solve(mdp, opt, &sol, &seconds);
    if (rc != CLI_OK)
        goto done;
    size_t T = cai_solution_horizon(sol);
    size_t max_steps = T ? T : opt->has_max_steps ? opt->max_steps : DEFAULT_MAX_STEPS;
    size_t width, total;
    if (!cai_size_mul(max_steps, 2, &width) || !cai_size_add(width, 1, &width) ||
        !cai_size_mul(width, opt->count, &total) ||
        (traj = alloc_array(total, sizeof(size_t))) == NULL ||
        (steps = alloc_array(opt->count, sizeof(size_t))) == NULL) {
        rc = nomem();
        goto done;
    }
    cai_error err;
    cai_error_clear(&err);
    cai_status st = cai_solution_sample(sol, opt->seed, opt->count, max_steps, traj, steps,
                                        &err);
    cli_output out;
    rc = cli_output_open_after(&out, opt->output, st, &err, opt->model);
    if (rc != CLI_OK)
        goto done;
    cai_json *j = NULL;
    if (opt->json && (st = cai_json_create(out.f, 2, &j, &err)) == CAI_OK) {
        cai_json_begin_object(j);
        cai_json_key(j, "trajectories");
        cai_json_begin_array(j);
    }
    for (size_t k = 0; k < opt->count && st == CAI_OK; k++) {
        const size_t *x = traj + k * width;
        size_t n = 2 * (steps[k] < max_steps ? steps[k] : max_steps) + 1;
        if (j != NULL)
            cai_json_begin_array(j);
        for (size_t i = 0; i < n; i++) {
            const char *name = i % 2 ? cai_mdp_action_name(mdp, x[i])
                                     : cai_mdp_state_name(mdp, x[i]);
            if (j != NULL)
                cai_json_string(j, name);
            else
                fprintf(out.f, "%s%s", i ? " " : "", name);
        }
        if (j != NULL)
            cai_json_end_array(j);
        else
            fputc('\n', out.f);
    }
    if (j != NULL) {
        cai_json_end_array(j);
        cai_json_end_object(j);
        st = cai_json_finish(j, &err);
        cai_json_free(j);
    }
    rc = cli_output_close(&out, st, &err);
done:
    free(traj);
    free(steps);
    cai_solution_free(sol);
    return rc;
}

/* ---- evaluate ---------------------------------------------------------- */

int cmd_mdp_evaluate(const cai_model *model, const cli_options *opt)
{
    const cai_mdp *mdp = cai_model_mdp(model);
    cai_error err;
    cai_error_clear(&err);
    double *policy = NULL;
    bool stationary;
    cai_evaluation ev;
    cai_status st = cli_policy_read(opt->policy, mdp, &policy, &stationary, &err);
    if (st != CAI_OK) {
        int rc = cli_report(&err, opt->policy, cli_input_status(st));
        free(policy);
        return rc;
    }
    st = cai_mdp_evaluate(mdp, policy, stationary, &ev, &err);
    free(policy);
    cli_output out;
    int rc = cli_output_open_after(&out, opt->output, st, &err, opt->policy);
    if (rc != CLI_OK)
        return rc;
    if (opt->json) {
        cai_json *j = NULL;
        if ((st = cai_json_create(out.f, 2, &j, &err)) == CAI_OK) {
            cai_json_begin_object(j);
            cai_json_key(j, "soft_return");
            cai_json_number(j, ev.soft_return);
            cai_json_key(j, "plain_return");
            cai_json_number(j, ev.plain_return);
            cai_json_end_object(j);
            st = cai_json_finish(j, &err);
            cai_json_free(j);
        }
    } else {
        fprintf(out.f, "soft_return: %.17g\nplain_return: %.17g\n", ev.soft_return,
                ev.plain_return);
    }
    return cli_output_close(&out, st, &err);
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
