/* tools/cli.h — what the files of the cai command line share: the parsed
 * options, the error and exit-status conventions and atomic output files.
 *
 * cai.c parses the options and loads the model, then hands both to the
 * command of the model's kind (cmd_factor_graph.c, cmd_mdp.c). The error,
 * clock, output-file and JSON helpers below are in cli_output.c, the help
 * text in cli_usage.c. */
#ifndef CAI_TOOLS_CLI_H
#define CAI_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "cai/cai.h"

/* Exit statuses: 2 for every bad input (usage, an unreadable or invalid
 * model or policy file, a solve the library refuses), 1 for a failure that
 * is not the input's fault (writing the output, out of memory). */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

typedef enum cli_command { CLI_SOLVE, CLI_SAMPLE, CLI_EVALUATE, CLI_COMPARE } cli_command;

/* The options of solve, sample and evaluate, checked for syntax and range
 * by cai.c; whether they fit the model is up to the command of its kind.
 * A has_* flag says the option was given. */
typedef struct cli_options {
    cli_command command;
    const char *command_name;    /* "solve", ... */
    const char *model;           /* MODEL */
    const char *output;          /* -o FILE, or NULL for stdout */
    const char *policy;          /* --policy FILE (evaluate) */
    bool json;                   /* --json */
    bool has_algorithm;
    const char *algorithm;       /* "exact", "variational" or "map" */
    bool has_temperature;
    double temperature;          /* finite, >= 0 */
    bool has_horizon;
    size_t horizon;              /* >= 1 */
    bool has_tol;
    double tol;                  /* finite, > 0 */
    bool has_max_iterations;
    size_t max_iterations;       /* >= 1 */
    bool has_sweep;
    bool gauss_seidel;           /* --sweep gauss-seidel */
    const char *schedule;        /* --schedule (loopy): "flooding", "sequential",
                                    "residual", or NULL */
    bool has_damping;
    double damping;              /* --damping (loopy), in [0, 1) */
    const char *algorithms;      /* compare --algorithms a,b,... or NULL */
    const char *temperatures;    /* compare --temperatures x,y,... or NULL */
    bool csv;                    /* compare --csv */
    const char *trace;           /* compare --trace FILE.csv, or NULL */
    bool flatten;                /* --flatten (factored_mdp) */
    bool has_max_clique_entries;
    double max_clique_entries;   /* --max-clique-entries (junction tree), >= 1 */
    bool has_seed;
    unsigned long seed;          /* default 0 */
    bool has_count;
    size_t count;                /* >= 1, default 1 */
    bool has_max_steps;
    size_t max_steps;            /* >= 1 */
    bool full;                   /* --full: every array in solve --json */
    const char *query;           /* --query: "V", "Q", "policy",
                                    "state_marginals", or NULL */
    bool has_time;
    size_t time;                 /* --time (with --query), default 0 */
    const char *states;          /* --states "a,b,c" (with --query), or NULL */
    bool has_threads;
    size_t threads;              /* --threads, 1..CLI_MAX_THREADS */
    double seconds_load;         /* set by cai.c: loading MODEL took this long */
} cli_options;

/* The largest --threads. */
#define CLI_MAX_THREADS 1024

/* solve --json prints the per-time arrays (V, Q, policy, state_marginals and
 * the state and action names) only when T*S*A (discounted: S*A) is at most
 * this, unless --full; above it, the summary and a note. */
#define CLI_ARRAYS_MAX 1000000

/* Print "cai: error: MESSAGE (see 'cai --help')" and return CLI_USAGE. */
int cli_usage_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* Print e as one line "FILE:LINE:COL: error: MESSAGE" (the known parts; an
 * error without a file is attributed to path when path is not NULL) and
 * return rc. */
int cli_report(const cai_error *e, const char *path, int rc);

/* The exit status of a failure while reading input or solving: CLI_FAIL for
 * out of memory, CLI_USAGE for everything else. */
int cli_input_status(cai_status st);

/* Seconds on a monotonic clock. */
double cli_now(void);

/* Where the output goes: stdout, or a temporary file next to path that
 * replaces path only when everything was written. */
typedef struct cli_output {
    FILE *f;
    char *tmp;        /* the temporary file, NULL for stdout */
    const char *path; /* -o FILE, or NULL */
} cli_output;

/* Open the output; on failure report it and return CLI_FAIL. */
int cli_output_open(cli_output *o, const char *path);

/* Open the output once the work that produces it is done: when that failed
 * (st, err), report it against input with cli_input_status(st) and open
 * nothing; otherwise as cli_output_open(). */
int cli_output_open_after(cli_output *o, const char *path, cai_status st,
                          const cai_error *err, const char *input);

/* Finish the output. st/err say whether writing it went well (a JSON
 * writer's status); a stream error is detected here as well. On success the
 * temporary file is renamed onto the destination and CLI_OK returned; on
 * failure it is removed, the error reported and CLI_FAIL returned. */
int cli_output_close(cli_output *o, cai_status st, cai_error *err);

/* Begin the JSON object `solve --json` writes for model m: its "kind",
 * "name" and "algorithm" members come first, whatever the kind. */
void cli_json_begin_solution(cai_json *j, const cai_model *m, const char *algorithm);

/* The timing members every --json output ends with: "seconds_load" (loading
 * the input), "seconds_solve" (the computation) and "seconds", their sum. */
void cli_json_seconds(cai_json *j, double load, double solve);

/* buf as one JSON value: an array of rows numbers (cols == 0) or of rows
 * arrays of cols numbers (row-major); -0 is written as 0. */
void cli_json_rows(cai_json *j, const double *buf, size_t rows, size_t cols);

/* The command-line help, printed by --help. */
extern const char cli_usage_text[];

/* ---- the commands of each kind ---- */

/* factor_graph: solve (exact and map); the MDP options are usage errors. */
int cmd_factor_graph_solve(const cai_model *m, const cli_options *opt);

/* lqr models: solve (exact or variational) and check (cmd_lqr.c). */
int cmd_lqr_solve(const cai_model *m, const cli_options *opt);
int cmd_lqr_check(const cai_model *m, const char *path);

/* lgssm models: solve (Kalman smoothing, exact only) and check
 * (cmd_lgssm.c). */
int cmd_lgssm_solve(const cai_model *m, const cli_options *opt);
int cmd_lgssm_check(const cai_model *m, const char *path);

/* The options, with the model's `inference:` defaults (algorithm, schedule,
 * damping, tol, max_iterations) where the command line gives none. */
cli_options cli_with_inference_defaults(const cai_model *m, const cli_options *given);

/* The inference options of method from the command line (--schedule,
 * --damping, --tol, --max-iterations, --max-clique-entries) and the model's
 * `inference:` clusters (opt should already carry the model's defaults). */
cai_infer_options cli_infer_options(const cai_model *m, const cli_options *opt,
                                    cai_method method);

/* check a factor graph: plan it and print "PATH: ok (...)". */
int cmd_factor_graph_check(const cai_model *m, const char *path);

/* mdp and gridworld: solve, sample, evaluate, check. */
int cmd_mdp_solve(const cai_model *m, const cli_options *opt);
int cmd_mdp_sample(const cai_model *m, const cli_options *opt);
int cmd_mdp_evaluate(const cai_model *m, const cli_options *opt);
int cmd_mdp_check(const cai_model *m, const char *path);

/* factored_mdp (cmd_factored.c): with --flatten, flatten m and run the mdp
 * command; without, solve the unrolled DBN as a factor graph. --flatten on
 * another kind is a usage error. */
int cmd_factored_run(cai_model *m, const cli_options *opt);

/* check a factored_mdp: sizes of the model and of its unrolled graph. */
int cmd_factored_check(const cai_model *m, const char *path);

/* compare: MDP algorithms on mdp and gridworld models (cmd_compare.c),
 * inference methods on factor graphs and factored_mdp nets
 * (cmd_compare_graph.c). */
int cmd_compare(const cai_model *m, const cli_options *opt);

/* Shared by the mdp commands: solve as the options say (the options that
 * need a finite or a discounted model checked first; a refused solve is
 * reported), keeping state marginals only when asked; the time it took. */
int cmd_mdp_run_solve(const cai_mdp *mdp, const cli_options *opt, bool marginals,
                      cai_solution **out_sol, double *out_seconds);

/* A table of states by columns: the actions, or when single is not NULL one
 * column headed single. v holds every state's row (v[s * cols + c]). The
 * rows are the states rows[0..n-1], or when rows is NULL the first ones (all
 * of them up to 50, else 20 and a line saying how many more there are).
 * fixed: %.4f (probabilities at a glance), else %.10g. */
void cli_mdp_table(FILE *f, const cai_mdp *mdp, const size_t *rows, size_t n,
                   const char *single, const double *v, bool fixed);

/* A gridworld's map with an arrow per floor cell for its most probable
 * action in pi (S x A; the first of equally probable ones); of a large map,
 * the top-left 40 x 100 cells. */
void cli_mdp_grid(FILE *f, const cai_mdp *mdp, const char *grid, size_t rows, size_t cols,
                  const double *pi);

/* Print "cai: error: out of memory" and return CLI_FAIL. */
int cli_nomem(void);

/* A buffer of n * size bytes (at least one), or NULL on overflow or when
 * out of memory. */
void *cli_alloc_array(size_t n, size_t size);

/* ---- policy files (policy_file.c) ---- */

/* Read the policy in path for m: either the JSON object `cai solve --json`
 * writes (its "policy" member, [T][S][A] or [S][A]; "states" and "actions",
 * when present, must name m's states and actions in order) or a CSV table
 * with the header "state,action,prob" (stationary) or "t,state,action,prob"
 * (missing entries are 0; a state, at a t, without any row takes the model's
 * action prior). Every row (t, s) must sum to 1 within 1e-9.
 * On success *out_policy (free()) holds T*S*A values, or S*A when
 * *out_stationary. Errors carry the file, line and column (CAI_ERR_IO,
 * CAI_ERR_SYNTAX for malformed JSON or CSV, CAI_ERR_MODEL for content). */
cai_status cli_policy_read(const char *path, const cai_mdp *m, double **out_policy,
                           bool *out_stationary, cai_error *err);

#endif
