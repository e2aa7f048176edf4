/* lib/engine/rows.c — the upward pass of a cluster over its rows: the hot
 * loop of an MDP's backward pass (see rows.h). */
#include "rows.h"

#include "cai/logmath.h"
#include "vecmath.h"

#include <stdint.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

/* On x86-64 GCC builds rows_up_states twice, for SSE2 and for AVX2 (four
 * lanes instead of two in the block loops; no FMA, so both give the same
 * bits), picked at load time; the block loops it calls are inlined into
 * each. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ROWS_CLONES __attribute__((target_clones("avx2", "default")))
#define ROWS_INLINE static inline __attribute__((always_inline))
#else
#define ROWS_CLONES
#define ROWS_INLINE static inline
#endif

/* Entries per array call when exps are split among threads. */
enum { EXP_PIECE = 4096 };

/* Piece b of out[i] = exp(x[i] - shift), i < n. */
static void exp_piece(double *out, const double *x, double shift, size_t n, size_t b)
{
    size_t i0 = b * EXP_PIECE;
    vm_exp_shift(out + i0, x + i0, shift, n - i0 < EXP_PIECE ? n - i0 : EXP_PIECE);
}

static size_t exp_pieces(size_t n)
{
    return (n + EXP_PIECE - 1) / EXP_PIECE;
}

void exp_shift_threads(double *out, const double *x, double shift, size_t n)
{
    size_t n_pieces = exp_pieces(n);
    CAI_PARALLEL_FOR(n)
    for (size_t b = 0; b < n_pieces; b++)
        exp_piece(out, x, shift, n, b);
}

/* Thread `me` of n_threads (in a parallel region, all of them calling):
 * its own copy copies + me K of w = exp(x - shift), K entries. Each thread
 * works out the exps of its share of the pieces, and after a barrier takes
 * the other shares from the other threads' copies: a copy is cheaper than
 * the exps, and every entry is the one a single thread would compute. */
static void exp_own_copy(double *copies, const double *x, double shift, size_t K, size_t me,
                         size_t n_threads)
{
    size_t n_pieces = exp_pieces(K);
    double *own = copies + me * K;
    for (size_t b = n_pieces * me / n_threads; b < n_pieces * (me + 1) / n_threads; b++)
        exp_piece(own, x, shift, K, b);
    if (n_threads == 1)
        return;
    CAI_BARRIER;
    for (size_t t = 0; t < n_threads; t++) {
        if (t == me)
            continue;
        size_t i0 = n_pieces * t / n_threads * EXP_PIECE;
        size_t i1 = n_pieces * (t + 1) / n_threads * EXP_PIECE;
        i1 = i1 < K ? i1 : K;
        if (i1 > i0)
            memcpy(own + i0, copies + t * K + i0, (i1 - i0) * sizeof *own);
    }
}

static size_t up_stride(const cluster *c)
{
    size_t stride = 1;
    for (size_t j = c->up + 1; j + 1 < c->k; j++)
        stride *= c->p->cards[j];
    return stride;
}

/* Product (scaled) or sum (log) of the outer parents' terms at run q. */
static double outer_term(const row_layout *L, const cluster *c, size_t q)
{
    double o = L->lin ? 1.0 : 0.0;
    for (size_t i = c->up; i-- > 0;) {
        size_t card = c->p->cards[i], d = q % card;
        q /= card;
        o = L->lin ? o * L->outer[i][d] : o + L->outer[i][d];
    }
    return o;
}

/* The inner parents' log terms per offset j into buf; NULL when every term
 * is 0, so the kernels skip them. */
static const double *inner_terms(const cai_plan *plan, const cai_workspace *ws, const cluster *c,
                                 size_t stride, double *buf)
{
    size_t kp = c->k - 1;
    if (c->up + 1 == kp)
        return NULL;
    bool any = false;
    for (size_t j = 0; j < stride; j++)
        buf[j] = 0.0;
    size_t st = stride;
    for (size_t i = c->up + 1; i < kp; i++) {
        size_t card = c->p->cards[i];
        st /= card;
        const double *Ui = ws->U + plan->vars[c->vars[i]].off;
        for (size_t x = 0; x < card; x++)
            any |= Ui[x] != 0.0;
        for (size_t j = 0; j < stride; j++)
            buf[j] += Ui[(j / st) % card];
    }
    return any ? buf : NULL;
}

/* sum_j a[j] b[j] v[j] over one state's n rows; a or b NULL for ones.
 * Inlined with constant flags, so each case is a plain loop. */
static inline double group_lin(const double *a, const double *b, const double *v, size_t n,
                               bool has_a, bool has_b)
{
    double s = 0.0;
    for (size_t j = 0; j < n; j++)
        s += (has_a ? a[j] : 1.0) * (has_b ? b[j] : 1.0) * v[j];
    return s;
}

static double group_lin_any(const double *a, const double *b, const double *v, size_t n)
{
    if (a && b)
        return group_lin(a, b, v, n, true, true);
    if (a)
        return group_lin(a, b, v, n, true, false);
    if (b)
        return group_lin(a, b, v, n, false, true);
    return group_lin(a, b, v, n, false, false);
}

/* The max over one state's n rows of o + a[j] + b[j] + v[j] (a term whose
 * a + b is -inf is left out; NaN if a term is NaN). a or b NULL for zeros. */
static double group_max(double o, const double *a, const double *b, const double *v, size_t n)
{
    double m = -INFINITY;
    for (size_t j = 0; j < n; j++) {
        double ab = (a ? a[j] : 0.0) + (b ? b[j] : 0.0);
        double t = ab > -INFINITY ? o + ab + v[j] : -INFINITY;
        if (isnan(t))
            return NAN;
        m = t > m ? t : m;
    }
    return m;
}

/* out[s] = log-sum-exp over j < g of o + a[s g + j] + b[j] + v[s g + j]
 * for ns whole states (ns g <= ROW_BLOCK; a term whose a + b is -inf is left
 * out; a or b NULL for zeros), in two passes with the exps and the logs of
 * the block in two array calls. A NaN term makes its state's sum NaN
 * (through the exps), which the last loop keeps. */
static inline void block_log_sum(double o, const double *a, const double *b, const double *v,
                                 size_t ns, size_t g, double *out)
{
    double t[ROW_BLOCK], m[ROW_BLOCK], lz[ROW_BLOCK];
    t[0] = 0.0; /* for GCC's uninitialized-use analysis, which loses track of the loops */
    for (size_t s = 0; s < ns; s++) {
        double ms = -INFINITY;
        for (size_t j = 0, i = s * g; j < g; j++, i++) {
            double ab = (a ? a[i] : 0.0) + (b ? b[j] : 0.0);
            double x = ab > -INFINITY ? o + ab + v[i] : -INFINITY;
            t[i] = x;
            ms = x > ms ? x : ms;
        }
        m[s] = ms;
        double shift = ms > -INFINITY && ms < INFINITY ? ms : 0.0;
        for (size_t j = 0, i = s * g; j < g; j++, i++)
            t[i] -= shift;
    }
    vm_exp_shift(t, t, 0.0, ns * g);
    for (size_t s = 0; s < ns; s++) {
        double z = 0.0;
        for (size_t j = 0, i = s * g; j < g; j++, i++)
            z += t[i];
        lz[s] = z;
    }
    vm_log(lz, lz, ns);
    for (size_t s = 0; s < ns; s++)
        out[s] = isnan(lz[s])                            ? NAN
                 : m[s] > -INFINITY && m[s] < INFINITY ? m[s] + lz[s]
                                                        : m[s];
}

/* The max of x[0 .. n-1], NaN left out (-inf when n is 0), over four
 * accumulators, which GCC vectorizes. */
ROWS_INLINE double array_max(const double *x, size_t n)
{
    double m[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (size_t k = 0; k < 4; k++)
            m[k] = x[i + k] > m[k] ? x[i + k] : m[k];
    for (; i < n; i++)
        m[0] = x[i] > m[0] ? x[i] : m[0];
    m[0] = m[1] > m[0] ? m[1] : m[0];
    m[2] = m[3] > m[2] ? m[3] : m[2];
    return m[2] > m[0] ? m[2] : m[0];
}

/* z[s] = the sum of t[s g .. s g + g - 1] for s < ns, term by term across
 * the states (no chain of adds per state), in the order j = 0, 1, ...:
 * inlined, with g a constant where the caller knows it. */
ROWS_INLINE void state_sums(const double *t, size_t ns, size_t g, double *z)
{
    CAI_SIMD
    for (size_t s = 0; s < ns; s++)
        z[s] = t[s * g];
    for (size_t j = 1; j < g; j++) {
        CAI_SIMD
        for (size_t s = 0; s < ns; s++)
            z[s] += t[s * g + j];
    }
}

/* A state's sum under its block's shift must reach this for the block's
 * result: its largest term is then within 41.6 nats of the shift, and the
 * result is as accurate as with the state's own max as shift, to a few
 * units in the last place of the larger of |shift| and 41.6. */
#define BLOCK_SUM_MIN 0x1p-60

/* block_log_sum with b NULL and one shift for the whole block, the max of
 * all its terms (a deterministic function of the block, not of the thread
 * that runs it): one vectorized pass for the terms and their max, one array
 * exp, the sums, one array log -- where the per-state shifts cost a branchy
 * loop per state. A state whose sum falls below BLOCK_SUM_MIN (its terms far
 * below the block's max, all -inf, or NaN -- which includes a row term of
 * -inf met by a value of inf or NaN, a term block_log_sum leaves out), or a
 * block whose max is not finite, goes through block_log_sum. */
ROWS_INLINE void block_log_sum_shared(double o, const double *a, const double *v, size_t ns,
                                      size_t g, double *out)
{
    size_t n = ns * g;
    double t[ROW_BLOCK], z[ROW_BLOCK], lz[ROW_BLOCK];
    if (a) {
        CAI_SIMD
        for (size_t i = 0; i < n; i++)
            t[i] = o + a[i] + v[i];
    } else {
        CAI_SIMD
        for (size_t i = 0; i < n; i++)
            t[i] = o + v[i];
    }
    double mb = array_max(t, n);
    if (!(mb > -INFINITY && mb < INFINITY)) {
        block_log_sum(o, a, NULL, v, ns, g, out);
        return;
    }
    vm_exp_shift(t, t, mb, n);
    if (g == 4) /* the usual action count: a constant stride vectorizes with shuffles */
        state_sums(t, ns, 4, z);
    else
        state_sums(t, ns, g, z);
    vm_log(lz, z, ns);
    for (size_t s = 0; s < ns; s++) {
        if (z[s] >= BLOCK_SUM_MIN)
            out[s] = mb + lz[s];
        else
            block_log_sum(o, a ? a + s * g : NULL, NULL, v + s * g, 1, g, out + s);
    }
}

/* Whether the up states of L are summed in the scaled domain state by
 * state, each state's rows one group: no parent before the up one (so one
 * run) and no terms from those after it (L->inner NULL), an MDP's backward
 * step. Blocks of such states run through rows_up_groups. */
static bool plain_groups(const row_layout *L, const cluster *c, bool max)
{
    return L->lin && !max && !L->inner && c->up == 0 && L->stride <= ROW_BLOCK
           && c->p->ops->rows_lin_groups;
}

/* Scaled sums out[0..ns) of a block to logs plus L->scale, over the
 * array (buf: ns doubles of scratch); NaN marks a sum too near underflow
 * to trust, left for the log domain. */
static inline void scaled_logs(const row_layout *L, double *out, double *buf, size_t ns)
{
    vm_log(buf, out, ns);
    for (size_t s = 0; s < ns; s++)
        out[s] = out[s] >= SCALED_GROUP_MIN ? L->scale + buf[s] : NAN;
}

/* rows_up_states for plain_groups, for ns <= ROW_BLOCK states: one kernel
 * call for the sums of the block, one array log. */
static void rows_up_groups(const row_layout *L, const cluster *c, size_t x0, size_t ns,
                           const double *w, semiring sr, double *out)
{
    const cai_potential *p = c->p;
    size_t g = L->stride;
    double lz[ROW_BLOCK];
    p->ops->rows_lin_groups(p, x0 * g, ns, g, L->rowc ? L->rowc + x0 * g : NULL, w, out, sr);
    scaled_logs(L, out, lz, ns);
}

ROWS_CLONES
void rows_up_states(const row_layout *L, const cluster *c, size_t x0, size_t x1,
                    const double *col_in, semiring sr, bool max, double *out)
{
    const cai_potential *p = c->p;
    size_t ns = x1 - x0, g = L->stride;
    bool lin = L->lin, one_run = L->runs == 1;
    /* log sums: of whole states in one block of rows each, or added up in
     * acc over several */
    bool whole = !lin && !max && one_run && g <= ROW_BLOCK;
    bool use_acc = !lin && !max && !whole;
    /* scaled sums of whole states in one kernel call per block */
    bool grouped = lin && !max && !L->inner && g <= ROW_BLOCK && p->ops->rows_lin_groups;
    double buf[ROW_BLOCK];
    cai_lse acc[ROW_BLOCK];
    for (size_t s = 0; !whole && s < ns; s++) /* whole blocks write every out[s] */
        out[s] = lin ? 0.0 : -INFINITY;
    for (size_t s = 0; use_acc && s < ns; s++)
        cai_lse_init(&acc[s]);
    /* whole states per block of rows, or one state in pieces */
    size_t per = g <= ROW_BLOCK ? ROW_BLOCK / g : 1, piece = g <= ROW_BLOCK ? g : ROW_BLOCK;
    for (size_t q = 0; q < L->runs; q++) {
        double o = outer_term(L, c, q);
        if (lin ? o == 0.0 : o == -INFINITY) {
            for (size_t s = 0; whole && s < ns; s++)
                out[s] = -INFINITY;
            continue;
        }
        size_t rq = (q * L->card_u + x0) * g;
        for (size_t s0 = 0; s0 < ns; s0 += per) {
            size_t s1 = s0 + per < ns ? s0 + per : ns;
            for (size_t j0 = 0; j0 < g; j0 += piece) {
                /* rows (s, j0 .. j0+n-1) for s0 <= s < s1: one block */
                size_t n = g - j0 < piece ? g - j0 : piece, r = rq + s0 * g + j0;
                size_t nr = g <= ROW_BLOCK ? (s1 - s0) * g : n;
                if (L->rowc && !grouped) /* fetched while the rows gather */
                    for (size_t i = 0; i < nr; i += 8)
                        CAI_PREFETCH(L->rowc + r + i);
                if (grouped) {
                    p->ops->rows_lin_groups(p, r, s1 - s0, g, L->rowc ? L->rowc + r : NULL,
                                            col_in, buf, sr);
                    for (size_t s = s0; s < s1; s++)
                        out[s] += o * buf[s - s0];
                    continue;
                }
                if (lin)
                    p->ops->rows_lin(p, r, nr, col_in, buf, sr);
                else
                    p->ops->rows_log(p, r, nr, col_in, buf, sr);
                if (whole) {
                    const double *a = L->rowc ? L->rowc + r : NULL;
                    if (L->inner)
                        block_log_sum(o, a, L->inner, buf, s1 - s0, g, out + s0);
                    else
                        block_log_sum_shared(o, a, buf, s1 - s0, g, out + s0);
                    continue;
                }
                for (size_t s = s0; s < s1; s++, r += g) {
                    const double *v = buf + (s - s0) * g;
                    const double *a = L->rowc ? L->rowc + r : NULL;
                    const double *b = L->inner ? L->inner + j0 : NULL;
                    if (lin) {
                        out[s] += o * group_lin_any(a, b, v, n);
                        continue;
                    }
                    double x;
                    if (max)
                        x = group_max(o, a, b, v, n);
                    else
                        block_log_sum(o, a, b, v, 1, n, &x);
                    if (one_run && n == g)
                        out[s] = x;
                    else if (max)
                        out[s] = x > out[s] || isnan(x) ? x : out[s];
                    else
                        cai_lse_add(&acc[s], x);
                }
            }
        }
    }
    if (lin) {
        scaled_logs(L, out, buf, ns);
    } else if (use_acc) {
        for (size_t s = 0; s < ns; s++)
            out[s] = cai_lse_result(&acc[s]);
    }
}

/* Rows from which the upward pass is split among threads: 64 blocks of
 * ROW_BLOCK rows, or 16 of plain_groups' blocks at 4 actions. (Below 65536
 * rows, the other loops of the engine run on one thread; this one, the hot
 * loop of an MDP, measured 1.6x faster on two threads than on one at 40000
 * rows.) */
enum { THREADED_ROWS = 16384 };

void run_init(chunk_run *runs, size_t n, size_t me, size_t nt)
{
    atomic_store_explicit(&runs[me].next, n * me / nt, memory_order_relaxed);
    runs[me].end = n * (me + 1) / nt;
}

size_t run_next(chunk_run *runs, size_t me, size_t nt, size_t *k)
{
    for (; *k < nt; ++*k) {
        chunk_run *r = &runs[(me + *k) % nt];
        size_t ch = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed);
        if (ch < r->end)
            return ch;
    }
    return SIZE_MAX;
}

size_t rows_up_all_add(const row_layout *L, const cluster *c, const double *U_child,
                       double shift, cai_workspace *ws, semiring sr, bool max, double *M,
                       double *U_up, bool assign, double *umax)
{
    size_t K = c->p->n_cols, R = c->p->n_rows, left = 0;
    /* blocks of whole states, ROW_BLOCK rows at most (ROW_BLOCK states for
     * plain groups, whose kernel keeps one number per state) */
    bool plain = plain_groups(L, c, max);
    size_t per = plain ? ROW_BLOCK : L->stride >= ROW_BLOCK ? 1 : ROW_BLOCK / L->stride;
    size_t n_blocks = (L->card_u + per - 1) / per;
    bool lin = L->lin, copies = K <= COPY_MAX, in_place = M == U_up && assign;
    int n_threads =
        R < THREADED_ROWS ? 1 : cai_threads_max(copies ? (int)ws->n_col_t : CAI_MAX_COPIES);
    double m = -INFINITY;
    (void)n_threads;
    CAI_PARALLEL_REGION(n_threads, m, left)
    {
        size_t me = (size_t)cai_thread_num(), nt = (size_t)cai_num_threads();
        run_init(ws->runs, n_blocks, me, nt);
        const double *w = lin ? ws->col_t : U_child;
        if (copies) {
            double *own = ws->col_t + me * K;
            if (lin)
                exp_own_copy(ws->col_t, U_child, shift, K, me, nt);
            else
                memcpy(own, U_child, K * sizeof *own);
            w = own;
        } else if (lin) { /* one w, its pieces taken by runs as the blocks are */
            chunk_run *pieces = ws->runs + CAI_MAX_COPIES;
            run_init(pieces, exp_pieces(K), me, nt);
            CAI_BARRIER;
            for (size_t k = 0, b; (b = run_next(pieces, me, nt, &k)) != SIZE_MAX;)
                exp_piece(ws->col_t, U_child, shift, K, b);
        }
        CAI_BARRIER; /* every run set, and w */
        /* Each thread streams its own run of blocks, the same in every call
         * (the prefetchers ramp up per run, and the rows it gathered last
         * time step may still be in its core's cache), then helps with what
         * is left of the others': a thread the machine runs slower takes
         * fewer blocks. A block's result does not depend on who computes
         * it. */
        for (size_t k = 0, b; (b = run_next(ws->runs, me, nt, &k)) != SIZE_MAX;) {
            size_t x0 = b * per, x1 = x0 + per < L->card_u ? x0 + per : L->card_u;
            if (plain)
                rows_up_groups(L, c, x0, x1 - x0, w, sr, M + x0);
            else
                rows_up_states(L, c, x0, x1, w, sr, max, M + x0);
            if (in_place) { /* U_up holds the block already: its max, its NaNs */
                double mb = array_max(M + x0, x1 - x0);
                m = mb > m ? mb : m;
                for (size_t x = x0; lin && x < x1; x++)
                    left += isnan(M[x]) ? 1 : 0;
                continue;
            }
            for (size_t x = x0; x < x1; x++) {
                if (lin && isnan(M[x])) {
                    left++;
                    continue;
                }
                m = put_message(U_up, x, M[x], assign, m);
            }
        }
    }
    *umax = m;
    return left;
}

row_layout rows_log_layout(const cai_plan *plan, cai_workspace *ws, const cluster *c)
{
    const double **outer = ws->vecs;
    for (size_t i = 0; i < c->up; i++)
        outer[i] = ws->U + plan->vars[c->vars[i]].off;
    row_layout L = {.card_u = plan->vars[c->vars[c->up]].card, .stride = up_stride(c),
                    .rowc = c->xrow, .outer = outer, .lin = false};
    L.runs = c->p->n_rows / (L.stride * L.card_u);
    L.inner = inner_terms(plan, ws, c, L.stride, ws->inner);
    return L;
}
