/* lib/engine/rows.h — the upward pass of a cluster over its rows (rows.c):
 * how the rows line up for the up variable, the message of a block of up
 * states, and of all of them split among threads, in the scaled linear or
 * the log domain. Internal to libcai (not installed). */
#ifndef CAI_ENGINE_ROWS_H
#define CAI_ENGINE_ROWS_H

#include "plan_impl.h"

#include <stdbool.h>
#include <stddef.h>

/* How the rows of cluster c line up for its up variable at position u < k-1:
 * row r = (q card_u + x) stride + j, where x is the up state, j runs over the
 * joint states of the parents after u (the "inner" ones: a run of stride
 * consecutive rows per up state) and q over those before u (the "outer"
 * ones). For a fixed q the rows of consecutive up states are consecutive. */
typedef struct row_layout {
    size_t card_u, stride, runs;   /* runs = number of q */
    const double *rowc;            /* per row: the constant terms, or NULL */
    const double *inner;           /* per j: the inner parents' terms, or NULL */
    const double *const *outer;    /* per outer position: its vector */
    bool lin;                      /* terms multiply (scaled) or add (log) */
    double scale;                  /* scaled: the log of what was divided out */
} row_layout;

/* U_up[x] = mx when assign (the variable's first message), else
 * U_up[x] + mx; returns the max of m and the new U_up[x]. */
static inline double put_message(double *U_up, size_t x, double mx, bool assign, double m)
{
    U_up[x] = assign ? mx : U_up[x] + mx;
    return U_up[x] > m ? U_up[x] : m;
}

/* Rows per call of a potential's row kernels: enough for the gathers of a
 * block to overlap, small enough for the stack. */
enum { ROW_BLOCK = 256 };

/* Up states x0 <= x < x1 (at most ROW_BLOCK of them) of cluster c, over
 * their rows in blocks of whole states (or a state's rows in blocks when it
 * has more than ROW_BLOCK): scaled, out[x - x0] = sum of row weight * row
 * value; log, out = (+) of row terms + row value ((+) = max when `max`).
 * The rows of each state are taken in one fixed order, whoever runs the
 * block. */
void rows_up_states(const row_layout *L, const cluster *c, size_t x0, size_t x1,
                    const double *col_in, semiring sr, bool max, double *out);

/* The message of every up state of cluster c into M, each added into U_up
 * (or written, when assign; M may then be U_up itself) at once -- in the
 * scaled domain (L->lin) unless it is NaN, a sum near underflow left for
 * the log domain. Returns how many were left; *umax gets the max of U_up
 * over the entries added. The child's message U_child (K entries) enters as
 * w = exp(U_child - shift) in the scaled domain, as it is in the log
 * domain.
 *
 * Split among threads, each thread first makes its own copy of w when w is
 * small enough to stay in a core's cache: the rows gather from all of w at
 * random, and a copy the thread wrote itself is in its own cache, where one
 * written by all threads (or U_child, written in the last step) would be
 * spread over all the cores'. Each thread works out the exps of its share
 * of w and copies the rest from the others' copies. Each thread then takes
 * the blocks of whole states of its own run (the same run in every call), in
 * order, and when it is done, what is left of the others' runs, so a thread
 * the machine runs slower takes fewer. Each state's sum is the same whoever
 * computes it, and the max and the count do not depend on the order, so the
 * results are bit-identical for any number of threads. */
size_t rows_up_all_add(const row_layout *L, const cluster *c, const double *U_child,
                       double shift, cai_workspace *ws, semiring sr, bool max, double *M,
                       double *U_up, bool assign, double *umax);

/* Chunks 0 .. n-1 among nt threads: thread me owns the me-th of nt even
 * runs of them. Called by each thread for its own run before a barrier. */
void run_init(chunk_run *runs, size_t n, size_t me, size_t nt);

/* The next chunk for thread me: the next of its own run, then, its own run
 * done, the next of the others' runs (from their fronts, in turn from
 * me + 1); SIZE_MAX when all are taken. *k (0 at the start) is the run it
 * takes from, counted from me. Each chunk goes to exactly one caller,
 * however the calls of the threads interleave. */
size_t run_next(chunk_run *runs, size_t me, size_t nt, size_t *k);

/* The layout of cluster c for its up variable, in the log domain. */
row_layout rows_log_layout(const cai_plan *plan, cai_workspace *ws, const cluster *c);

#endif
