/* tools/cmd_compare.c — `cai compare`: one control problem solved by several
 * inference algorithms at several temperatures, side by side.
 *
 * Every number comes from the library: the solution's log-evidence or bound,
 * its policies, their evaluation under the TRUE dynamics
 * (cai_mdp_evaluate, cai_mdp_policy_state_marginals). The KL column is
 * KL(policy || exact posterior policy) at the same temperature, the exact
 * policy in the log domain from Q and V (log pi = log pi0 + (Q - V) / alpha,
 * so it never underflows), weighted by the exact posterior state marginals
 * (finite horizon) or uniformly over states (discounted). */
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

compare_row compare_row_init(const char *algorithm, double temperature)
{
    compare_row r = {.algorithm = algorithm, .temperature = temperature, .log_z = NAN,
                     .objective = NAN, .kl = NAN, .ret = NAN, .soft_ret = NAN, .goal = NAN};
    return r;
}

void compare_trace_add(void *ctx, size_t iteration, double residual, double log_z)
{
    compare_trace *t = ctx;
    if (t->nomem)
        return;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        void *p = cli_alloc_array(cap, sizeof *t->rec);
        if (p == NULL) {
            t->nomem = true;
            return;
        }
        if (t->n)
            memcpy(p, t->rec, t->n * sizeof *t->rec);
        free(t->rec);
        t->rec = p;
        t->cap = cap;
    }
    t->rec[t->n++] = (struct trace_record){.algorithm = t->algorithm,
                                           .temperature = t->temperature,
                                           .residual = residual,
                                           .log_z = log_z,
                                           .iteration = iteration};
}

void compare_trace_change(void *ctx, size_t iteration, double change)
{
    compare_trace_add(ctx, iteration, change, NAN);
}

size_t compare_split(char *buf, const char **items, size_t max)
{
    size_t n = 0;
    for (char *p = strtok(buf, ","); p != NULL && n < max; p = strtok(NULL, ","))
        items[n++] = p;
    return n;
}

static cai_control_algorithm algorithm_of(const char *name)
{
    return strcmp(name, "variational") == 0 ? CAI_CONTROL_VARIATIONAL
           : strcmp(name, "map") == 0       ? CAI_CONTROL_MAP
                                            : CAI_CONTROL_EXACT;
}

/* Every policy table of sol: T of them, or one when discounted. */
static cai_status policies(const cai_mdp *mdp, const cai_solution *sol, double **out,
                           cai_error *err)
{
    size_t T = cai_solution_horizon(sol), n = T ? T : 1;
    size_t SA = cai_mdp_n_states(mdp) * cai_mdp_n_actions(mdp);
    double *pol = cli_alloc_array(n * SA, sizeof *pol);
    if (pol == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    cai_status st = CAI_OK;
    for (size_t t = 0; t < n && st == CAI_OK; t++)
        st = cai_solution_policy(sol, t, pol + t * SA, err);
    if (st != CAI_OK) {
        free(pol);
        return st;
    }
    *out = pol;
    return CAI_OK;
}

/* log pi of the exact solution sol at every t: log pi0 + (Q - V) / alpha. */
static cai_status exact_log_policies(const cai_mdp *mdp, const cai_solution *sol, double **out,
                                     cai_error *err)
{
    size_t T = cai_solution_horizon(sol), n = T ? T : 1;
    size_t S = cai_mdp_n_states(mdp), A = cai_mdp_n_actions(mdp);
    double alpha = cai_solution_temperature(sol);
    double *lp = cli_alloc_array(n * S * A, sizeof *lp), *V = cli_alloc_array(S, sizeof *V);
    cai_status st = lp && V ? CAI_OK
                            : cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    for (size_t t = 0; t < n && st == CAI_OK; t++) {
        double *q = lp + t * S * A;
        if ((st = cai_solution_q(sol, t, q, err)) != CAI_OK
            || (st = cai_solution_value(sol, t, V, err)) != CAI_OK)
            break;
        for (size_t s = 0; s < S; s++)
            for (size_t a = 0; a < A; a++) {
                double pi0 = cai_mdp_action_prior_at(mdp, s, a);
                q[s * A + a] = pi0 > 0 && q[s * A + a] > -INFINITY
                                   ? log(pi0) + (q[s * A + a] - V[s]) / alpha
                                   : -INFINITY;
            }
    }
    free(V);
    if (st != CAI_OK) {
        free(lp);
        return st;
    }
    *out = lp;
    return CAI_OK;
}

/* KL(p || q) = sum_a p (log p - log q) over p > 0, q given as logs. */
static double kl_row(const double *p, const double *log_q, size_t A)
{
    double kl = 0;
    for (size_t a = 0; a < A; a++)
        if (p[a] > 0)
            kl += log_q[a] > -INFINITY ? p[a] * (log(p[a]) - log_q[a]) : INFINITY;
    return kl;
}

/* Mean KL(pol || exact) over t, weighted by the exact state marginals w
 * ([T][S]) or uniform over states when w is NULL (one table). */
static double mean_kl(const cai_mdp *mdp, size_t n_tables, const double *log_exact,
                      const double *pol, const double *w)
{
    size_t S = cai_mdp_n_states(mdp), A = cai_mdp_n_actions(mdp);
    double total = 0;
    for (size_t t = 0; t < n_tables; t++)
        for (size_t s = 0; s < S; s++) {
            double ws = w ? w[t * S + s] : 1.0 / (double)S;
            if (ws > 0)
                total += ws * kl_row(pol + (t * S + s) * A, log_exact + (t * S + s) * A, A);
        }
    total /= (double)n_tables;
    return total > 0 ? total : 0.0; /* KL >= 0: a negative sum is rounding */
}

/* P(the policy reaches a goal cell) in a finite-horizon gridworld: a goal
 * moves to `done`, so the visits at different times are disjoint events. */
static cai_status goal_probability(const cai_mdp *mdp, const double *pol, double *out,
                                   cai_error *err)
{
    size_t rows, cols, S = cai_mdp_n_states(mdp), T = cai_mdp_horizon(mdp);
    const char *grid = cai_mdp_grid(mdp, &rows, &cols);
    *out = NAN;
    if (grid == NULL || T == 0)
        return CAI_OK;
    double *marg = cli_alloc_array((T + 1) * S, sizeof *marg);
    if (marg == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    cai_status st = cai_mdp_policy_state_marginals(mdp, pol, false, marg, err);
    double p = 0;
    for (size_t r = 0; r < rows && st == CAI_OK; r++)
        for (size_t c = 0; c < cols; c++) {
            if (grid[r * cols + c] != 'G')
                continue;
            char name[64];
            snprintf(name, sizeof name, "r%zuc%zu", r, c);
            size_t s = cai_mdp_find_state(mdp, name);
            for (size_t t = 0; s != CAI_NONE && t <= T; t++)
                p += marg[t * S + s];
        }
    free(marg);
    if (st == CAI_OK)
        *out = p;
    return st;
}

/* The policy loopy BP or mean field gives on the graph exact inference
 * solves (cai_mdp_export_graph: s0 a0 s1 ... sT): loopy's from its belief
 * over (s_t, a_t), pi_t(a|s) = b(s,a) / b(s) (the action prior where
 * b(s) = 0); mean field's q(a_t), the same at every state (an open-loop
 * plan). The loopy graph is a chain, so loopy BP is exact there; mean field
 * gives the ELBO of a fully factorised q (its objective: alpha * ELBO). */
static cai_status method_row(const cai_model *model, const cai_mdp *mdp, const cli_options *opt,
                             cai_method method, double alpha, compare_trace *trace,
                             compare_row *r, double **out_pol, cai_error *err)
{
    size_t T = cai_mdp_horizon(mdp), S = cai_mdp_n_states(mdp), A = cai_mdp_n_actions(mdp);
    if (T == 0 || alpha == 0) {
        snprintf(r->note, sizeof r->note, "not run: %s on an MDP needs a finite horizon and "
                 "alpha > 0", r->algorithm);
        return CAI_OK;
    }
    double t0 = cli_now();
    cai_graph *g = NULL;
    cai_status st = cai_mdp_export_graph(mdp, alpha, 0, &g, err);
    if (st != CAI_OK)
        return st;
    cai_infer_options o = cli_infer_options(model, opt, method);
    if (opt->trace != NULL) {
        o.trace = compare_trace_add;
        o.trace_ctx = trace;
    }
    cai_infer *inf = NULL;
    double *pol = cli_alloc_array(T * S * A, sizeof *pol), *b = cli_alloc_array(S * A, sizeof *b);
    if (pol == NULL || b == NULL)
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    if (st == CAI_OK && (st = cai_infer_create(g, &o, &inf, err)) == CAI_OK)
        st = cai_infer_run(inf, err);
    for (size_t t = 0; t < T && st == CAI_OK; t++) {
        char name[32];
        snprintf(name, sizeof name, "s%zu", t);
        size_t sv = cai_graph_find_variable(g, name);
        snprintf(name, sizeof name, "a%zu", t);
        size_t av = cai_graph_find_variable(g, name);
        double *p = pol + t * S * A;
        if (method == CAI_METHOD_MEANFIELD) {
            if ((st = cai_infer_marginal(inf, av, b, err)) != CAI_OK)
                break;
            for (size_t s = 0; s < S; s++)
                memcpy(p + s * A, b, A * sizeof *b);
            continue;
        }
        size_t f = 0, k = 0;
        for (; f < cai_graph_n_factors(g); f++) {
            const size_t *sc = cai_graph_factor_scope(g, f, &k);
            if (k == 2 && sc[0] == sv && sc[1] == av)
                break;
        }
        if ((st = cai_infer_factor_belief(inf, f, b, err)) != CAI_OK)
            break;
        for (size_t s = 0; s < S; s++) {
            double z = 0;
            for (size_t a = 0; a < A; a++)
                z += b[s * A + a];
            for (size_t a = 0; a < A; a++)
                p[s * A + a] = z > 0 ? b[s * A + a] / z : cai_mdp_action_prior_at(mdp, s, a);
        }
    }
    if (st == CAI_OK) {
        r->log_z = cai_infer_log_z(inf);
        r->objective = method == CAI_METHOD_MEANFIELD ? alpha * r->log_z : NAN;
        r->iterations = cai_infer_iterations(inf);
        r->converged = cai_infer_converged(inf);
        r->bytes = cai_infer_message_bytes(inf);
        r->seconds = cli_now() - t0;
        *out_pol = pol;
        pol = NULL;
    }
    cai_infer_free(inf);
    cai_graph_free(g);
    free(pol);
    free(b);
    return st;
}

/* Solve at one temperature with each algorithm; rows[k] for algorithm k.
 * The exact solve (when listed) provides the KL reference. */
static cai_status compare_at(const cai_model *model, const cli_options *opt,
                             const char **algs, size_t n_algs, double alpha, compare_row *rows,
                             compare_trace *trace, cai_error *err)
{
    const cai_mdp *mdp = cai_model_mdp(model);
    size_t T = cai_mdp_horizon(mdp), n_tables = T ? T : 1, S = cai_mdp_n_states(mdp);
    double *pols[COMPARE_MAX_ALGORITHMS] = {0}, *exact_w = NULL, *log_exact = NULL;
    size_t exact = CAI_NONE;
    cai_status st = CAI_OK;
    for (size_t k = 0; k < n_algs && st == CAI_OK; k++) {
        compare_row *r = &rows[k];
        *r = compare_row_init(algs[k], alpha);
        cai_solve_options so = cai_solve_options_default();
        trace->algorithm = algs[k];
        trace->temperature = alpha;
        so.trace = opt->trace != NULL ? compare_trace_change : NULL;
        so.trace_ctx = trace;
        bool loopy = strcmp(algs[k], "loopy") == 0;
        if (loopy || strcmp(algs[k], "meanfield") == 0) {
            cai_evaluation ev;
            st = method_row(model, mdp, opt, loopy ? CAI_METHOD_LOOPY : CAI_METHOD_MEANFIELD,
                            alpha, trace, r, &pols[k], err);
            if (st == CAI_OK && pols[k] != NULL
                && (st = cai_mdp_evaluate(mdp, pols[k], false, &ev, err)) == CAI_OK
                && (st = goal_probability(mdp, pols[k], &r->goal, err)) == CAI_OK) {
                r->ret = ev.plain_return;
                r->soft_ret = ev.soft_return;
            }
            continue;
        }
        so.algorithm = algorithm_of(algs[k]);
        so.temperature = alpha;
        bool reference = so.algorithm == CAI_CONTROL_EXACT && alpha > 0 && exact == CAI_NONE;
        so.state_marginals = reference && T > 0;
        if (opt->has_tol)
            so.tol = opt->tol;
        if (opt->has_max_iterations)
            so.max_iterations = opt->max_iterations;
        cai_solution *sol = NULL;
        double t0 = cli_now();
        if ((st = cai_mdp_solve(mdp, &so, &sol, err)) != CAI_OK)
            break;
        r->seconds = cli_now() - t0;
        r->iterations = cai_solution_iterations(sol);
        r->converged = cai_solution_converged(sol);
        r->bytes = cai_solution_message_bytes(sol);
        double lev = cai_solution_log_evidence(sol);
        r->objective = cai_solution_objective(sol);
        r->log_z = alpha == 0                                          ? NAN
                   : so.algorithm == CAI_CONTROL_EXACT && !isnan(lev) ? lev
                                                                      : r->objective / alpha;
        cai_evaluation ev;
        if ((st = policies(mdp, sol, &pols[k], err)) == CAI_OK
            && (st = cai_mdp_evaluate(mdp, pols[k], false, &ev, err)) == CAI_OK
            && (st = goal_probability(mdp, pols[k], &r->goal, err)) == CAI_OK) {
            r->ret = ev.plain_return;
            r->soft_ret = ev.soft_return;
        }
        if (st == CAI_OK && reference) {
            exact = k;
            st = exact_log_policies(mdp, sol, &log_exact, err);
            if (T > 0 && (exact_w = cli_alloc_array(T * S, sizeof *exact_w)) == NULL)
                st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
            for (size_t t = 0; T > 0 && t < T && st == CAI_OK; t++)
                st = cai_solution_state_marginal(sol, t, exact_w + t * S, err);
        }
        cai_solution_free(sol);
    }
    for (size_t k = 0; k < n_algs && st == CAI_OK && exact != CAI_NONE; k++)
        if (pols[k] != NULL)
            rows[k].kl = mean_kl(mdp, n_tables, log_exact, pols[k], exact_w);
    for (size_t k = 0; k < n_algs; k++)
        free(pols[k]);
    free(exact_w);
    free(log_exact);
    return st;
}

/* ---- output ------------------------------------------------------------ */

static const char *num(double v, char *buf, size_t size, const char *fmt)
{
    if (isnan(v))
        snprintf(buf, size, "%s", "");
    else
        snprintf(buf, size, fmt, v);
    return buf;
}

/* bytes in at most 6 characters: 512B, 12.3k, 4.56M, 1.23G */
static const char *human_bytes(size_t b, char *buf, size_t size)
{
    double v = (double)b;
    if (b < 1000)
        snprintf(buf, size, "%zuB", b);
    else if (v < 999.5e3)
        snprintf(buf, size, "%.3gk", v / 1e3);
    else if (v < 999.5e6)
        snprintf(buf, size, "%.3gM", v / 1e6);
    else
        snprintf(buf, size, "%.3gG", v / 1e9);
    return buf;
}

/* One table; MDP rows have return and goal columns, factor-graph rows a
 * converged column. Every line fits in 80 columns. */
static void write_text(FILE *f, const cai_model *m, const compare_row *rows, size_t n)
{
    const char *name = cai_model_name(m);
    bool mdp = cai_model_mdp(m) != NULL;
    fprintf(f, "model: %s (%s)\n\n", name[0] ? name : "(unnamed)",
            cai_model_kind_name(cai_model_get_kind(m)));
    if (mdp)
        fprintf(f, "%-11s %5s %11s %8s %10s %5s %5s %6s %7s\n", "algorithm", "alpha",
                "logZ|bound", "KL", "return", "goal", "iter", "mem", "seconds");
    else
        fprintf(f, "%-11s %5s %11s %8s %4s %5s %6s %7s\n", "algorithm", "alpha",
                "logZ|bound", "KL", "conv", "iter", "mem", "seconds");
    for (size_t i = 0; i < n; i++) {
        const compare_row *r = &rows[i];
        char b[6][32];
        num(r->temperature, b[0], sizeof b[0], "%.3g");
        if (r->note[0]) { /* wrapped at 80 columns under the numbers */
            fprintf(f, "%-11s %5s", r->algorithm, b[0]);
            for (const char *p = r->note; *p;) {
                size_t len = strlen(p);
                if (len > 62) {
                    len = 62;
                    while (len > 20 && p[len] != ' ')
                        len--;
                }
                fprintf(f, "%s%.*s\n", p == r->note ? " " : "                  ", (int)len, p);
                p += len;
                while (*p == ' ')
                    p++;
            }
            continue;
        }
        num(r->log_z, b[1], sizeof b[1], "%.6g");
        num(r->kl, b[2], sizeof b[2], "%.3g");
        human_bytes(r->bytes, b[3], sizeof b[3]);
        if (mdp)
            fprintf(f, "%-11s %5s %11s %8s %10s %5s %5zu %6s %7.2g\n", r->algorithm, b[0],
                    b[1], b[2], num(r->ret, b[4], sizeof b[4], "%.6g"),
                    num(r->goal, b[5], sizeof b[5], "%.3f"), r->iterations, b[3],
                    r->seconds);
        else
            fprintf(f, "%-11s %5s %11s %8s %4s %5zu %6s %7.2g\n", r->algorithm, b[0], b[1],
                    b[2], r->converged ? "yes" : "no", r->iterations, b[3], r->seconds);
    }
    if (mdp)
        fputs("\nlogZ|bound: exact log-evidence; variational and meanfield ELBO, map log"
              "\n  score (lower bounds); loopy: Bethe estimate (exact on this chain);"
              "\n  meanfield's policy is its q(a_t) at every state (an open-loop plan);"
              "\n  KL: mean KL(policy || exact policy) under the exact posterior state"
              "\n  marginals; return: expected reward of the policy under the true"
              "\n  dynamics; goal: P(reach G); mem: inference state held (messages, scratch)\n",
              f);
    else
        fputs("\nlogZ|bound: exact log Z (junction tree), loopy: the Bethe estimate,"
              "\n  meanfield: the ELBO (a lower bound), map: the MAP assignment's log score;"
              "\n  KL: mean over unobserved variables of KL(q_i || exact marginal p_i);"
              "\n  mem: inference state held (messages, beliefs, cliques, scratch)\n",
              f);
}

static void write_csv(FILE *f, const compare_row *rows, size_t n)
{
    fputs("algorithm,temperature,log_z,objective,kl,return,soft_return,goal,iterations,"
          "converged,seconds,message_bytes,note\n", f);
    for (size_t i = 0; i < n; i++) {
        const compare_row *r = &rows[i];
        char b[7][40];
        fprintf(f, "%s,%s,%s,%s,%s,%s,%s,%s,%zu,%s,%.6g,%zu,%s\n", r->algorithm,
                num(r->temperature, b[6], sizeof b[6], "%.17g"),
                num(r->log_z, b[0], sizeof b[0], "%.17g"),
                num(r->objective, b[5], sizeof b[5], "%.17g"),
                num(r->kl, b[1], sizeof b[1], "%.17g"), num(r->ret, b[2], sizeof b[2], "%.17g"),
                num(r->soft_ret, b[3], sizeof b[3], "%.17g"),
                num(r->goal, b[4], sizeof b[4], "%.17g"), r->iterations,
                r->converged ? "true" : "false", r->seconds, r->bytes, r->note);
    }
}

static cai_status write_json(FILE *f, const cai_model *m, const compare_row *rows, size_t n,
                             double seconds_load, double seconds, cai_error *err)
{
    cai_json *j = NULL;
    cai_status st = cai_json_create(f, 2, &j, err);
    if (st != CAI_OK)
        return st;
    cai_json_begin_object(j);
    cai_json_key(j, "kind");
    cai_json_string(j, cai_model_kind_name(cai_model_get_kind(m)));
    cai_json_key(j, "name");
    cai_json_string(j, cai_model_name(m));
    cai_json_key(j, "rows");
    cai_json_begin_array(j);
    for (size_t i = 0; i < n; i++) {
        const compare_row *r = &rows[i];
        cai_json_begin_object(j);
        cai_json_key(j, "algorithm");
        cai_json_string(j, r->algorithm);
        const char *keys[] = {"temperature", "log_z", "objective", "kl",
                              "return", "soft_return", "goal"};
        double vals[] = {r->temperature, r->log_z, r->objective, r->kl,
                         r->ret, r->soft_ret, r->goal};
        for (size_t k = 0; k < 7; k++) {
            cai_json_key(j, keys[k]);
            cai_json_number(j, vals[k]);
        }
        cai_json_key(j, "iterations");
        cai_json_size(j, r->iterations);
        cai_json_key(j, "converged");
        cai_json_bool(j, r->converged);
        cai_json_key(j, "seconds_algorithm");
        cai_json_number(j, r->seconds);
        cai_json_key(j, "message_bytes");
        cai_json_size(j, r->bytes);
        cai_json_key(j, "note");
        if (r->note[0])
            cai_json_string(j, r->note);
        else
            cai_json_null(j);
        cai_json_end_object(j);
    }
    cai_json_end_array(j);
    cli_json_seconds(j, seconds_load, seconds);
    cai_json_end_object(j);
    st = cai_json_finish(j, err);
    cai_json_free(j);
    return st;
}

/* The --trace file: one line per iteration of every iterative run. */
static int write_trace(const char *path, const compare_trace *t)
{
    cli_output out;
    int rc = cli_output_open(&out, path);
    if (rc != CLI_OK)
        return rc;
    fputs("algorithm,temperature,iteration,residual,log_z\n", out.f);
    for (size_t i = 0; i < t->n; i++) {
        char b[2][40], c[40];
        fprintf(out.f, "%s,%s,%zu,%s,%s\n", t->rec[i].algorithm,
                num(t->rec[i].temperature, c, sizeof c, "%.17g"), t->rec[i].iteration,
                num(t->rec[i].residual, b[0], sizeof b[0], "%.17g"),
                num(t->rec[i].log_z, b[1], sizeof b[1], "%.17g"));
    }
    cai_error err;
    cai_error_clear(&err);
    return cli_output_close(&out, CAI_OK, &err);
}

int compare_output(const cai_model *m, const cli_options *opt, cai_status st,
                   cai_error *err, const compare_row *rows, size_t n, double seconds,
                   const compare_trace *trace)
{
    if (st == CAI_OK && trace->nomem)
        st = cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory (trace)");
    cli_output out;
    int rc = cli_output_open_after(&out, opt->output, st, err, opt->model);
    if (rc != CLI_OK)
        return rc;
    if (opt->json)
        st = write_json(out.f, m, rows, n, opt->seconds_load, seconds, err);
    else if (opt->csv)
        write_csv(out.f, rows, n);
    else
        write_text(out.f, m, rows, n);
    rc = cli_output_close(&out, st, err);
    if (rc == CLI_OK && opt->trace != NULL)
        rc = write_trace(opt->trace, trace);
    return rc;
}

/* ---- the command ------------------------------------------------------- */

int cmd_compare(const cai_model *m, const cli_options *opt)
{
    const cai_mdp *mdp = cai_model_mdp(m);
    if (mdp == NULL)
        return cmd_compare_graph(m, opt);
    if (opt->schedule != NULL || opt->has_damping || opt->has_max_clique_entries)
        return cli_usage_error("options --schedule, --damping and --max-clique-entries are "
                               "for factor graphs; %s is an %s", opt->model,
                               cai_model_kind_name(cai_model_get_kind(m)));
    char abuf[256];
    /* map needs a finite horizon: left out of the default for discounted models */
    snprintf(abuf, sizeof abuf, "%s",
             opt->algorithms             ? opt->algorithms
             : cai_mdp_horizon(mdp) == 0 ? "exact,variational"
                                         : "exact,variational,map");
    const char *algs[COMPARE_MAX_ALGORITHMS];
    size_t n_algs = compare_split(abuf, algs, COMPARE_MAX_ALGORITHMS);
    for (size_t k = 0; k < n_algs; k++)
        if (strcmp(algs[k], "exact") != 0 && strcmp(algs[k], "variational") != 0
            && strcmp(algs[k], "map") != 0 && strcmp(algs[k], "loopy") != 0
            && strcmp(algs[k], "meanfield") != 0)
            return cli_usage_error("--algorithms: unknown algorithm '%s' for an MDP (expected "
                                   "exact, variational, loopy, meanfield or map)", algs[k]);
    double temps[COMPARE_MAX_TEMPERATURES];
    size_t n_temps = 0;
    int rc = compare_temperatures(opt, cai_mdp_temperature(mdp), true, temps, &n_temps);
    if (rc != CLI_OK)
        return rc;
    if (n_algs == 0)
        return cli_usage_error("%s", "compare: empty list of algorithms");
    compare_row *rows = cli_alloc_array(n_algs * n_temps, sizeof *rows);
    if (rows == NULL)
        return cli_nomem();
    cai_error err;
    cai_error_clear(&err);
    compare_trace trace = {0};
    cai_status st = CAI_OK;
    double t0 = cli_now();
    for (size_t i = 0; i < n_temps && st == CAI_OK; i++)
        st = compare_at(m, opt, algs, n_algs, temps[i], rows + i * n_algs, &trace, &err);
    rc = compare_output(m, opt, st, &err, rows, n_algs * n_temps, cli_now() - t0, &trace);
    free(trace.rec);
    free(rows);
    return rc;
}

int compare_temperatures(const cli_options *opt, double model_alpha, bool allow_zero,
                         double *temps, size_t *n_temps)
{
    *n_temps = 0;
    if (opt->temperatures == NULL) {
        temps[(*n_temps)++] = model_alpha;
        return CLI_OK;
    }
    char tbuf[512];
    snprintf(tbuf, sizeof tbuf, "%s", opt->temperatures);
    const char *items[COMPARE_MAX_TEMPERATURES];
    size_t n = compare_split(tbuf, items, COMPARE_MAX_TEMPERATURES);
    for (size_t i = 0; i < n; i++) {
        char *end;
        double a = strtod(items[i], &end);
        if (*end != '\0' || !(allow_zero ? a >= 0 : a > 0) || !isfinite(a))
            return cli_usage_error("--temperatures: expected numbers %s 0, got '%s'",
                                   allow_zero ? ">=" : ">", items[i]);
        temps[(*n_temps)++] = a;
    }
    if (*n_temps == 0)
        return cli_usage_error("%s", "compare: empty list of temperatures");
    return CLI_OK;
}
