/* tools/cmd_lqr.c — `cai solve` and `cai check` on lqr models: the
 * cost-to-go, the posterior policy's gains and covariance, the state
 * trajectory, the objective and the log-evidence, every one read from the
 * library's solution (cai/lqr.h). */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The per-time queries of a solution, one array of `size` numbers per t. */
typedef enum lqr_array { ARR_P, ARR_P_VEC, ARR_K, ARR_K_VEC, ARR_COV, ARR_MEAN, ARR_SCOV } lqr_array;

static cai_status query(const cai_lqr_solution *sol, lqr_array a, size_t t, double *out,
                        cai_error *err)
{
    switch (a) {
    case ARR_P:
        return cai_lqr_solution_value(sol, t, out, NULL, err);
    case ARR_P_VEC:
        return cai_lqr_solution_value(sol, t, NULL, out, err);
    case ARR_K:
        return cai_lqr_solution_policy(sol, t, out, NULL, NULL, err);
    case ARR_K_VEC:
        return cai_lqr_solution_policy(sol, t, NULL, out, NULL, err);
    case ARR_COV:
        return cai_lqr_solution_policy(sol, t, NULL, NULL, out, err);
    case ARR_MEAN:
        return cai_lqr_solution_state(sol, t, out, NULL, err);
    default:
        return cai_lqr_solution_state(sol, t, NULL, out, err);
    }
}

/* key: [times][rows][cols] (cols 0: [times][rows]). */
static cai_status json_array(cai_json *j, const cai_lqr_solution *sol, const char *key,
                             lqr_array a, size_t times, size_t rows, size_t cols,
                             double *buf, cai_error *err)
{
    cai_json_key(j, key);
    cai_json_begin_array(j);
    cai_status st = CAI_OK;
    for (size_t t = 0; t < times && st == CAI_OK; t++) {
        if ((st = query(sol, a, t, buf, err)) != CAI_OK)
            break;
        cli_json_rows(j, buf, rows, cols);
    }
    cai_json_end_array(j);
    return st;
}

static cai_status write_json(FILE *out, const cai_model *m, const cli_options *opt,
                             const cai_lqr_solution *sol, double seconds, cai_error *err)
{
    const cai_lqr *l = cai_model_lqr(m);
    size_t n = cai_lqr_n(l), mm = cai_lqr_m(l), T = cai_lqr_solution_horizon(sol);
    size_t steps = T ? T : 1, values = T ? T + 1 : 1;
    cai_json *j = NULL;
    cai_status st = cai_json_create(out, 2, &j, err);
    if (st != CAI_OK)
        return st;
    cli_json_begin_solution(j, m, opt->algorithm);
    cai_json_key(j, "n");
    cai_json_size(j, n);
    cai_json_key(j, "m");
    cai_json_size(j, mm);
    cai_json_key(j, "horizon");
    T ? cai_json_size(j, T) : cai_json_null(j);
    cai_json_key(j, "discount");
    cai_json_number(j, cai_lqr_discount(l));
    cai_json_key(j, "temperature");
    cai_json_number(j, cai_lqr_solution_temperature(sol));
    cai_json_key(j, "log_evidence");
    cai_json_number(j, cai_lqr_solution_log_evidence(sol));
    cai_json_key(j, "objective");
    cai_json_number(j, cai_lqr_solution_objective(sol));
    cai_json_key(j, "iterations");
    cai_json_size(j, cai_lqr_solution_iterations(sol));
    cai_json_key(j, "converged");
    cai_json_bool(j, cai_lqr_solution_converged(sol));
    double numbers = (double)values * (double)n * (double)n;
    if (numbers > CLI_ARRAYS_MAX && !opt->full) {
        cai_json_key(j, "note");
        cai_json_string(j, "P, p, K, k, policy_cov, state_mean and state_cov are left out: "
                           "(T+1)*n*n is above 1e6; ask with --full");
    } else {
        double *buf = cli_alloc_array(n * n + mm * n + mm * mm + 1, sizeof *buf);
        if (buf == NULL) {
            st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
        } else {
            struct {
                const char *key;
                lqr_array a;
                size_t times, rows, cols;
            } arrays[] = {{"P", ARR_P, values, n, n},          {"p", ARR_P_VEC, values, n, 0},
                          {"K", ARR_K, steps, mm, n},          {"k", ARR_K_VEC, steps, mm, 0},
                          {"policy_cov", ARR_COV, steps, mm, mm},
                          {"state_mean", ARR_MEAN, values, n, 0},
                          {"state_cov", ARR_SCOV, values, n, n}};
            for (size_t i = 0; i < sizeof arrays / sizeof arrays[0] && st == CAI_OK; i++) {
                if (T == 0 && arrays[i].a >= ARR_MEAN) {
                    cai_json_key(j, arrays[i].key);
                    cai_json_null(j);
                    continue;
                }
                st = json_array(j, sol, arrays[i].key, arrays[i].a, arrays[i].times,
                                arrays[i].rows, arrays[i].cols, buf, err);
            }
            free(buf);
        }
    }
    cli_json_seconds(j, opt->seconds_load, seconds);
    cai_json_end_object(j);
    if (st == CAI_OK)
        st = cai_json_finish(j, err);
    cai_json_free(j);
    return st;
}

/* A matrix (a vector: one row) of at most 6 columns row by row, within 80
 * columns; a wider one is only named (--json has every entry). */
static void print_matrix(FILE *f, const char *name, const double *a, size_t rows, size_t cols)
{
    if (cols > 6) {
        fprintf(f, "  %-10s %zu x %zu (see --json)\n", name, rows, cols);
        return;
    }
    for (size_t r = 0; r < rows; r++) {
        fprintf(f, "  %-10s [", r == 0 ? name : "");
        for (size_t c = 0; c < cols; c++)
            fprintf(f, "%s%10.4g", c ? " " : "", a[r * cols + c]);
        fprintf(f, "]\n");
    }
}

static cai_status write_text(FILE *f, const cai_model *m, const cli_options *opt,
                             const cai_lqr_solution *sol, cai_error *err)
{
    const cai_lqr *l = cai_model_lqr(m);
    size_t n = cai_lqr_n(l), mm = cai_lqr_m(l), T = cai_lqr_solution_horizon(sol);
    const char *name = cai_model_name(m);
    fprintf(f, "model: %s (lqr, n = %zu, m = %zu)\n", name[0] ? name : "(unnamed)", n, mm);
    if (T)
        fprintf(f, "horizon %zu", T);
    else
        fprintf(f, "infinite horizon, discount %g", cai_lqr_discount(l));
    fprintf(f, ", temperature %g\nalgorithm: %s\n", cai_lqr_solution_temperature(sol),
            opt->algorithm);
    if (T == 0)
        fprintf(f, "stationary Riccati fixed point: %zu iterations, %s\n",
                cai_lqr_solution_iterations(sol),
                cai_lqr_solution_converged(sol) ? "converged" : "NOT converged");
    fprintf(f, "objective    %.10g\n", cai_lqr_solution_objective(sol));
    if (!isnan(cai_lqr_solution_log_evidence(sol)))
        fprintf(f, "log-evidence %.10g\n", cai_lqr_solution_log_evidence(sol));
    double *buf = cli_alloc_array(n * n + n + mm * n + mm + mm * mm, sizeof *buf);
    if (buf == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    double *P = buf, *p = P + n * n, *K = p + n, *k = K + mm * n, *S = k + mm;
    cai_status st = cai_lqr_solution_value(sol, 0, P, p, err);
    if (st == CAI_OK)
        st = cai_lqr_solution_policy(sol, 0, K, k, S, err);
    if (st == CAI_OK) {
        fprintf(f, "\npolicy at t = 0: u ~ N(K x + k, policy_cov)\n");
        print_matrix(f, "K", K, mm, n);
        print_matrix(f, "k", k, 1, mm);
        print_matrix(f, "policy_cov", S, mm, mm);
        fprintf(f, "\ncost-to-go at t = 0: V(x) = -1/2 x'Px + p'x + const\n");
        print_matrix(f, "P", P, n, n);
        print_matrix(f, "p", p, 1, n);
    }
    free(buf);
    return st;
}

int cmd_lqr_solve(const cai_model *m, const cli_options *opt)
{
    const char *bad = opt->query != NULL     ? "--query"
                      : opt->has_sweep       ? "--sweep"
                      : opt->schedule        ? "--schedule"
                      : opt->has_damping     ? "--damping"
                      : opt->has_max_clique_entries ? "--max-clique-entries"
                                             : NULL;
    if (bad != NULL)
        return cli_usage_error("option '%s' does not apply to an lqr model", bad);
    cai_lqr_options o = cai_lqr_options_default();
    if (strcmp(opt->algorithm, "variational") == 0)
        o.algorithm = CAI_CONTROL_VARIATIONAL;
    else if (strcmp(opt->algorithm, "exact") != 0)
        return cli_usage_error("--algorithm %s: an lqr model is solved exact or variational",
                               opt->algorithm);
    if (opt->has_temperature)
        o.temperature = opt->temperature;
    if (opt->has_horizon)
        o.horizon = opt->horizon;
    if (opt->has_tol)
        o.tol = opt->tol;
    if (opt->has_max_iterations)
        o.max_iterations = opt->max_iterations;
    cai_error err;
    cai_error_clear(&err);
    cai_lqr_solution *sol = NULL;
    double t0 = cli_now();
    cai_status st = cai_lqr_solve(cai_model_lqr(m), &o, &sol, &err);
    double seconds = cli_now() - t0;
    cli_output out;
    int rc = cli_output_open_after(&out, opt->output, st, &err, opt->model);
    if (rc == CLI_OK) {
        st = opt->json ? write_json(out.f, m, opt, sol, seconds, &err)
                       : write_text(out.f, m, opt, sol, &err);
        rc = cli_output_close(&out, st, &err);
    }
    cai_lqr_solution_free(sol);
    return rc;
}

int cmd_lqr_check(const cai_model *m, const char *path)
{
    const cai_lqr *l = cai_model_lqr(m);
    printf("%s: ok (lqr, n = %zu, m = %zu, ", path, cai_lqr_n(l), cai_lqr_m(l));
    if (cai_lqr_horizon(l))
        printf("horizon %zu", cai_lqr_horizon(l));
    else
        printf("infinite horizon, discount %g", cai_lqr_discount(l));
    printf(", temperature %g)\n", cai_lqr_temperature(l));
    return CLI_OK;
}
