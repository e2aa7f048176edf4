/* tools/compare.h — what the two halves of `cai compare` share: the row
 * of the table, the trace collector, the list parsing. cmd_compare.c
 * compares MDP algorithms on mdp and gridworld models (and flattened
 * factored ones); cmd_compare_graph.c compares inference methods on factor
 * graphs and on the unrolled net of a factored_mdp. */
#ifndef CAI_TOOLS_COMPARE_H
#define CAI_TOOLS_COMPARE_H

#include "cli.h"

#define COMPARE_MAX_ALGORITHMS 8
#define COMPARE_MAX_TEMPERATURES 32

typedef struct compare_row {
    const char *algorithm;
    double temperature; /* NaN for a factor graph (it has none) */
    double log_z;       /* nats: log Z / log-evidence (exact), its Bethe
                           estimate (loopy), a lower bound (variational,
                           meanfield: the ELBO; map: the MAP log score) */
    double objective;   /* MDP: sum_s rho(s) V_0(s), reward units; else NaN */
    double kl;          /* from the exact answer; NaN when not defined */
    double ret;         /* MDP: return of the policy under the true dynamics */
    double soft_ret;    /* MDP: soft return at the model's temperature */
    double goal;        /* gridworld, finite horizon: P(reach G); else NaN */
    size_t iterations;
    bool converged;
    double seconds;
    size_t bytes;       /* inference state the algorithm held (messages,
                           beliefs, scratch; cai_*_message_bytes) */
    char note[160];     /* why the row has no numbers, or "" */
} compare_row;

/* A fresh row: every number NaN, no note. */
compare_row compare_row_init(const char *algorithm, double temperature);

/* Per-iteration records of the iterative algorithms, for --trace. The
 * records are kept in memory and written at the end, so a failed run
 * leaves no half-written file. */
typedef struct compare_trace {
    struct trace_record {
        const char *algorithm;
        double temperature, residual, log_z;
        size_t iteration;
    } *rec;
    size_t n, cap;
    bool nomem;
    const char *algorithm; /* the run being traced */
    double temperature;
} compare_trace;

/* The trace callbacks: the engine's (cai_infer_options.trace) and the MDP
 * solver's (cai_solve_options.trace; log_z NaN). ctx is a compare_trace. */
void compare_trace_add(void *ctx, size_t iteration, double residual, double log_z);
void compare_trace_change(void *ctx, size_t iteration, double change);

/* Split a comma list into at most max items (pointers into buf). */
size_t compare_split(char *buf, const char **items, size_t max);

/* The --temperatures list (default: the model's alpha) into temps
 * (COMPARE_MAX_TEMPERATURES), each finite and >= 0 (> 0 unless allow_zero);
 * a usage error otherwise. */
int compare_temperatures(const cli_options *opt, double model_alpha, bool allow_zero,
                         double *temps, size_t *n_temps);

/* The factor-graph half: m is a factor_graph (any format) or a factored_mdp
 * (its unrolled net, rebuilt at each temperature). */
int cmd_compare_graph(const cai_model *m, const cli_options *opt);

/* Print the rows (text, --csv or --json) and the trace file; the common
 * tail of both halves. */
int compare_output(const cai_model *m, const cli_options *opt, cai_status st,
                   cai_error *err, const compare_row *rows, size_t n, double seconds,
                   const compare_trace *trace);

#endif
