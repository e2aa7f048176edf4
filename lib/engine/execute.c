/* lib/engine/execute.c — run a plan: messages up to the roots, then
 * marginals (sum-product) or the MAP assignment (max-product) down. */
#include "plan_impl.h"

#include "cai/logmath.h"
#include "vecmath.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

void cluster_row_in(const cai_plan *plan, const double *U, const cluster *c,
                    size_t excl, double *row_out)
{
    size_t kp = c->k - 1, R = c->p->n_rows;
    const double *xrow = c->xrow;
    CAI_PARALLEL_FOR(R)
    for (size_t r = 0; r < R; r++)
        row_out[r] = xrow ? xrow[r] : 0.0;
    /* add each parent's message, in runs of equal state (stride) */
    size_t stride = R;
    for (size_t i = 0; i < kp; i++) {
        size_t card = c->p->cards[i];
        stride /= card;
        if (i == excl)
            continue;
        const double *u = U + plan->vars[c->vars[i]].off;
        size_t runs = R / stride;
        CAI_PARALLEL_FOR(runs)
        for (size_t q = 0; q < runs; q++) {
            double v = u[q % card];
            for (size_t j = 0; j < stride; j++)
                row_out[q * stride + j] += v;
        }
    }
}

size_t cluster_row_state(const cai_plan *plan, const cluster *c, size_t r, size_t i)
{
    (void)plan;
    size_t stride = 1;
    for (size_t j = i + 1; j + 1 < c->k; j++)
        stride *= c->p->cards[j];
    return (r / stride) % c->p->cards[i];
}

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

/* Local terms of v: its one-variable factors and its evidence; returns
 * their max. */
static double local_terms(const cai_plan *plan, const cai_workspace *ws, size_t v, double *out)
{
    const plan_var *pv = &plan->vars[v];
    size_t ev = ws->evidence[v];
    const double *soft = ws->soft[v];
    size_t card = pv->card;
    double m = -INFINITY;
    CAI_PARALLEL_MAX(card, m)
    for (size_t x = 0; x < card; x++) {
        double s = soft ? soft[x] : 0.0;
        for (size_t u = 0; u < pv->n_unary; u++)
            s += potential_log_value_sr(pv->unary[u], 0, x, pv->unary_sr[u]);
        out[x] = ev != CAI_NONE && x != ev ? -INFINITY : s;
        m = out[x] > m ? out[x] : m;
    }
    return m;
}

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

/* Rows per call of a potential's row kernels: enough for the gathers of a
 * block to overlap, small enough for the stack. */
enum { ROW_BLOCK = 256 };

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
static double array_max(const double *x, size_t n)
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
static void block_log_sum_shared(double o, const double *a, const double *v, size_t ns, size_t g,
                                 double *out)
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
    /* the sums term by term across the states: no chain of adds per state */
    CAI_SIMD
    for (size_t s = 0; s < ns; s++)
        z[s] = t[s * g];
    for (size_t j = 1; j < g; j++) {
        CAI_SIMD
        for (size_t s = 0; s < ns; s++)
            z[s] += t[s * g + j];
    }
    vm_log(lz, z, ns);
    for (size_t s = 0; s < ns; s++) {
        if (z[s] >= BLOCK_SUM_MIN)
            out[s] = mb + lz[s];
        else
            block_log_sum(o, a ? a + s * g : NULL, NULL, v + s * g, 1, g, out + s);
    }
}

/* Up states x0 <= x < x1 (at most ROW_BLOCK of them) of cluster c, over
 * their rows in blocks of whole states (or a state's rows in blocks when it
 * has more than ROW_BLOCK): scaled, out[x - x0] = sum of row weight * row
 * value; log, out = (+) of row terms + row value ((+) = max when `max`).
 * The rows of each state are taken in one fixed order, whoever runs the
 * block. */
static void up_states(const row_layout *L, const cluster *c, size_t x0, size_t x1,
                      const double *col_in, semiring sr, bool max, double *out)
{
    const cai_potential *p = c->p;
    size_t ns = x1 - x0, g = L->stride;
    bool lin = L->lin, one_run = L->runs == 1;
    /* log sums: of whole states in one block of rows each, or added up in
     * acc over several */
    bool whole = !lin && !max && one_run && g <= ROW_BLOCK;
    bool use_acc = !lin && !max && !whole;
    double buf[ROW_BLOCK];
    cai_lse acc[ROW_BLOCK];
    for (size_t s = 0; s < ns; s++)
        out[s] = lin ? 0.0 : -INFINITY;
    for (size_t s = 0; use_acc && s < ns; s++)
        cai_lse_init(&acc[s]);
    /* whole states per block of rows, or one state in pieces */
    size_t per = g <= ROW_BLOCK ? ROW_BLOCK / g : 1, piece = g <= ROW_BLOCK ? g : ROW_BLOCK;
    for (size_t q = 0; q < L->runs; q++) {
        double o = outer_term(L, c, q);
        if (lin ? o == 0.0 : o == -INFINITY)
            continue;
        size_t rq = (q * L->card_u + x0) * g;
        for (size_t s0 = 0; s0 < ns; s0 += per) {
            size_t s1 = s0 + per < ns ? s0 + per : ns;
            for (size_t j0 = 0; j0 < g; j0 += piece) {
                /* rows (s, j0 .. j0+n-1) for s0 <= s < s1: one block */
                size_t n = g - j0 < piece ? g - j0 : piece, r = rq + s0 * g + j0;
                size_t nr = g <= ROW_BLOCK ? (s1 - s0) * g : n;
                if (L->rowc) /* fetched while the rows gather */
                    for (size_t i = 0; i < nr; i += 8)
                        CAI_PREFETCH(L->rowc + r + i);
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
    if (lin) { /* NaN marks a sum too near underflow to trust */
        vm_log(buf, out, ns);
        for (size_t s = 0; s < ns; s++)
            out[s] = out[s] >= SCALED_GROUP_MIN ? L->scale + buf[s] : NAN;
    } else if (use_acc) {
        for (size_t s = 0; s < ns; s++)
            out[s] = cai_lse_result(&acc[s]);
    }
}

/* U_up[x] = mx when assign (the variable's first message), else
 * U_up[x] + mx; returns the max of m and the new U_up[x]. */
static inline double put_message(double *U_up, size_t x, double mx, bool assign, double m)
{
    U_up[x] = assign ? mx : U_up[x] + mx;
    return U_up[x] > m ? U_up[x] : m;
}

/* The message of every up state of cluster c into M, each added into U_up
 * (or written, when assign) at once -- in the scaled domain (L->lin) unless
 * it is NaN, a sum near underflow left for the log domain. Returns how many
 * were left; *umax gets the max of U_up over the entries added. The child's
 * message U_child (K entries) enters as w = exp(U_child - shift) in the
 * scaled domain, as it is in the log domain.
 *
 * Split among threads, each thread first makes its own copy of w when w is
 * small enough to stay in a core's cache: the rows gather from all of w at
 * random, and a copy the thread wrote itself is in its own cache, where one
 * written by all threads (or U_child, written in the last step) would be
 * spread over all the cores'. Blocks of whole states are handed out in
 * pieces, about 16 per thread, so a thread slowed by the machine takes
 * fewer; each state's sum is the same whoever computes it, and the max and
 * the count do not depend on the order, so the results are bit-identical
 * for any number of threads. */
static size_t up_all_add(const row_layout *L, const cluster *c, const double *U_child,
                         double shift, cai_workspace *ws, semiring sr, bool max, double *M,
                         double *U_up, bool assign, double *umax)
{
    size_t K = c->p->n_cols, R = c->p->n_rows, left = 0;
    size_t per = L->stride >= ROW_BLOCK ? 1 : ROW_BLOCK / L->stride;
    size_t n_blocks = (L->card_u + per - 1) / per;
    bool lin = L->lin, copies = K <= COPY_MAX;
    int n_threads = R < 65536 ? 1 : cai_threads_max(copies ? (int)ws->n_col_t : INT_MAX);
    /* few enough pieces that each thread streams long runs of rows (the
     * prefetchers ramp up per run) */
    size_t chunk = n_blocks / (16 * (size_t)n_threads);
    chunk = chunk > 4 ? chunk : 4;
    double m = -INFINITY;
    (void)n_threads;
    (void)chunk;
    CAI_PARALLEL_REGION(n_threads, m, left)
    {
        const double *w = lin ? ws->col_t : U_child;
        if (copies) {
            double *own = ws->col_t + (size_t)cai_thread_num() * K;
            if (lin)
                vm_exp_shift(own, U_child, shift, K);
            else
                memcpy(own, U_child, K * sizeof *own);
            w = own;
        } else if (lin) { /* one w, its pieces split among the threads */
            size_t n_pieces = exp_pieces(K);
            CAI_FOR_STATIC
            for (size_t b = 0; b < n_pieces; b++)
                exp_piece(ws->col_t, U_child, shift, K, b);
        }
        CAI_FOR_DYNAMIC(chunk)
        for (size_t b = 0; b < n_blocks; b++) {
            size_t x0 = b * per, x1 = x0 + per < L->card_u ? x0 + per : L->card_u;
            up_states(L, c, x0, x1, w, sr, max, M + x0);
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

/* The layout of cluster c for its up variable, in the log domain. */
static row_layout log_layout(const cai_plan *plan, cai_workspace *ws, const cluster *c)
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

/* Whether cluster c writes its message into U of its up variable instead
 * of adding it: the first message of a variable without local terms. */
static bool assigns(const cai_workspace *ws, const cluster *c)
{
    return c->first_in && ws->fresh[c->vars[c->up]];
}

/* Sum-product message of cluster c to its up variable (a parent) in the
 * scaled linear domain, added into that variable's U: one exp per state of
 * each neighbour, one pass over the potential's rows (a sparse
 * matrix-vector product fused with the row weights, the sum per up state
 * and the add), one log per up state -- against an exp and a log per row in
 * the log domain. A sum near underflow is recomputed in the log domain, so
 * the result is the same to rounding. */
static void upward_scaled(const cai_plan *plan, cai_workspace *ws, const cluster *c, double *M)
{
    const cai_potential *p = c->p;
    size_t kp = c->k - 1, u = c->up;
    size_t up_var = c->vars[u];
    double *U_up = ws->U + plan->vars[up_var].off;
    bool assign = assigns(ws, c);
    semiring sr = cluster_sr(plan, c);
    const double *U_child = ws->U + plan->vars[c->vars[kp]].off;
    /* the child's message, scaled: w = exp(U - max U) */
    double scale = ws->umax[c->vars[kp]], w_shift = scale;
    scale += c->xmax + potential_lin_shift(p, sr);
    /* the outer parents' messages, scaled */
    const double **outer = ws->vecs + c->k;
    double *E = (double *)ws->acc; /* their exps, one block per parent */
    for (size_t i = 0, e_off = 0; i < u; i++) {
        size_t card = p->cards[i];
        const double *Ui = ws->U + plan->vars[c->vars[i]].off;
        double mi = ws->umax[c->vars[i]];
        scale += mi;
        for (size_t x = 0; x < card; x++)
            E[e_off + x] = exp(Ui[x] - mi);
        outer[i] = E + e_off;
        e_off += card;
    }
    row_layout L = log_layout(plan, ws, c);
    /* the inner parents' terms, scaled */
    const double *xin = L.inner;
    if (xin) {
        double mi = -INFINITY;
        for (size_t j = 0; j < L.stride; j++)
            mi = xin[j] > mi ? xin[j] : mi;
        scale += mi;
        double *ein = ws->inner + L.stride;
        for (size_t j = 0; j < L.stride; j++)
            ein[j] = exp(xin[j] - mi);
        L.inner = ein;
    }
    size_t card_u = L.card_u;
    if (!(scale > -INFINITY)) { /* some neighbour has no mass at all */
        double m = -INFINITY;
        CAI_PARALLEL_MAX(card_u, m)
        for (size_t x = 0; x < card_u; x++) {
            M[x] = -INFINITY;
            m = put_message(U_up, x, M[x], assign, m);
        }
        ws->umax[up_var] = m;
        return;
    }
    row_layout S = L;
    S.rowc = c->wrow;
    S.outer = outer;
    S.lin = true;
    S.scale = scale;
    double umax;
    size_t left = up_all_add(&S, c, U_child, w_shift, ws, sr, false, M, U_up, assign, &umax);
    /* the sums near underflow, exactly, in the log domain */
    L.inner = xin;
    for (size_t x = 0; left > 0 && x < card_u; x++)
        if (isnan(M[x])) {
            up_states(&L, c, x, x + 1, U_child, sr, false, M + x);
            umax = put_message(U_up, x, M[x], assign, umax);
            left--;
        }
    ws->umax[up_var] = umax;
}

/* M of cluster c toward its up variable, added into U of that variable. */
static void upward(const cai_plan *plan, cai_workspace *ws, const cluster *c)
{
    bool max = plan->alg == CAI_MAX_PRODUCT;
    const cai_potential *p = c->p;
    size_t kp = c->k - 1, u = c->up;
    size_t up_var = c->vars[u], card_u = plan->vars[up_var].card;
    double *M = ws->M ? ws->M + c->m_off : ws->mbuf;
    if (u < kp && !max && !c->expect) {
        upward_scaled(plan, ws, c, M);
        return;
    }
    double *U_up = ws->U + plan->vars[up_var].off, m = -INFINITY;
    bool assign = assigns(ws, c);
    if (u < kp) {
        row_layout L = log_layout(plan, ws, c);
        up_all_add(&L, c, ws->U + plan->vars[c->vars[kp]].off, 0.0, ws, cluster_sr(plan, c), max,
                   M, U_up, assign, &m);
        ws->umax[up_var] = m;
        return;
    }
    cluster_row_in(plan, ws->U, c, CAI_NONE, ws->row_a);
    p->ops->rows_to_col(p, ws->row_a, M, cluster_sr_plain(plan, c), ws->col_a);
    CAI_PARALLEL_MAX(card_u, m)
    for (size_t x = 0; x < card_u; x++) {
        m = put_message(U_up, x, M[x], assign, m);
    }
    ws->umax[up_var] = m;
}

/* Normalise a log vector in place; NaN everywhere if it has no mass. */
static void log_normalise(double *v, size_t n)
{
    double z = cai_logsumexp(v, n);
    for (size_t i = 0; i < n; i++)
        v[i] = z > -INFINITY && z < INFINITY ? v[i] - z : NAN;
}

/* q of the variables below cluster c, from q of its up variable. */
static void downward_marginals(const cai_plan *plan, cai_workspace *ws, const cluster *c)
{
    const cai_potential *p = c->p;
    size_t kp = c->k - 1, u = c->up, R = p->n_rows;
    const plan_var *vu = &plan->vars[c->vars[u]];
    const double *lq_u = ws->q + vu->off, *M = ws->M + c->m_off;
    double *shift = ws->vbuf;
    for (size_t x = 0; x < vu->card; x++)
        shift[x] = cond_shift(lq_u[x], M[x]);
    const plan_var *vc = &plan->vars[c->vars[kp]];
    const double *U_child = ws->U + vc->off;
    double *q_child = ws->q + vc->off;
    double *lw = ws->row_a, *rv = ws->row_b;
    if (u < kp) {
        p->ops->cols_to_row(p, U_child, rv, cluster_sr(plan, c), ws->col_a);
        cluster_row_in(plan, ws->U, c, u, lw);
        size_t stride = 1;
        for (size_t j = u + 1; j < kp; j++)
            stride *= p->cards[j];
        for (size_t r = 0; r < R; r++)
            lw[r] += shift[(r / stride) % vu->card];
    } else {
        p->ops->cols_to_row(p, shift, rv, cluster_sr_plain(plan, c), ws->col_a);
        cluster_row_in(plan, ws->U, c, CAI_NONE, lw);
    }
    /* parents other than the up variable: sum the row weights by state */
    size_t *idx = ws->idx;
    cai_lse *acc = ws->acc;
    size_t n_acc = 0;
    for (size_t i = 0; i < kp; i++)
        n_acc += p->cards[i];
    for (size_t a = 0; a < n_acc; a++)
        cai_lse_init(&acc[a]);
    for (size_t i = 0; i < kp; i++)
        idx[i] = 0;
    for (size_t r = 0; r < R; r++) {
        double w = lw[r] + rv[r];
        size_t base = 0;
        for (size_t i = 0; i < kp; i++) {
            if (i != u)
                cai_lse_add(&acc[base + idx[i]], w);
            base += p->cards[i];
        }
        for (size_t i = kp; i-- > 0;) {
            if (++idx[i] < p->cards[i])
                break;
            idx[i] = 0;
        }
    }
    size_t base = 0;
    for (size_t i = 0; i < kp; i++) {
        if (i != u) {
            double *qi = ws->q + plan->vars[c->vars[i]].off;
            for (size_t x = 0; x < p->cards[i]; x++)
                qi[x] = cai_lse_result(&acc[base + x]);
            log_normalise(qi, p->cards[i]);
        }
        base += p->cards[i];
    }
    if (u == kp)
        return;
    if (c->expect) {
        /* the conditional is copied into q: q(c) = sum_r q(r) p(c | r) */
        for (size_t r = 0; r < R; r++)
            lw[r] += rv[r];
        p->ops->rows_to_col(p, lw, q_child, cluster_sr_plain(plan, c), ws->col_a);
    } else {
        p->ops->rows_to_col(p, lw, q_child, cluster_sr_plain(plan, c), ws->col_a);
        for (size_t x = 0; x < vc->card; x++)
            q_child[x] += U_child[x];
    }
    log_normalise(q_child, vc->card);
}

/* MAP states of the variables below cluster c, given the up variable's. */
static void downward_decode(const cai_plan *plan, cai_workspace *ws, const cluster *c)
{
    const cai_potential *p = c->p;
    size_t kp = c->k - 1, u = c->up, R = p->n_rows;
    size_t xu = ws->assign[c->vars[u]];
    const double *U_child = ws->U + plan->vars[c->vars[kp]].off;
    double *row_in = ws->row_a;
    size_t best_r = CAI_NONE, best_c = 0;
    double best = -INFINITY;
    if (u < kp) {
        cluster_row_in(plan, ws->U, c, u, row_in);
        size_t stride = 1;
        for (size_t j = u + 1; j < kp; j++)
            stride *= p->cards[j];
        for (size_t r = 0; r < R; r++) {
            if ((r / stride) % p->cards[u] != xu)
                continue;
            double v;
            size_t col = p->ops->row_argmax(p, r, U_child, cluster_sr_plain(plan, c), &v);
            v += row_in[r];
            if (best_r == CAI_NONE || v > best) {
                best = v;
                best_r = r;
                best_c = col;
            }
        }
        ws->assign[c->vars[kp]] = best_c;
    } else {
        cluster_row_in(plan, ws->U, c, CAI_NONE, row_in);
        for (size_t r = 0; r < R; r++) {
            double v = row_in[r] + potential_log_value_sr(p, r, xu, c->support);
            if (best_r == CAI_NONE || v > best) {
                best = v;
                best_r = r;
            }
        }
    }
    for (size_t i = 0; i < kp; i++)
        if (i != u)
            ws->assign[c->vars[i]] = cluster_row_state(plan, c, best_r, i);
}

cai_status cai_plan_execute(const cai_plan *plan, cai_workspace *ws, cai_error *err)
{
    if (plan == NULL || ws == NULL)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL argument");
    if (ws->plan != plan)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "the workspace belongs to another plan");
    bool max = plan->alg == CAI_MAX_PRODUCT;
    for (size_t v = 0; v < plan->n_vars; v++) {
        /* a variable without local terms gets U from its first message */
        ws->fresh[v] = plan->vars[v].has_in && plan->vars[v].n_unary == 0 && ws->soft[v] == NULL
                       && ws->evidence[v] == CAI_NONE;
        if (!ws->fresh[v])
            ws->umax[v] = local_terms(plan, ws, v, ws->U + plan->vars[v].off);
    }
    for (size_t i = plan->n_clusters; i-- > 0;)
        upward(plan, ws, &plan->clusters[i]);

    double log_z = 0.0;
    for (size_t t = 0; t < plan->n_trees; t++) {
        const plan_tree *tr = &plan->trees[t];
        const plan_var *pv = &plan->vars[tr->root];
        const double *U = ws->U + pv->off;
        double lz;
        if (tr->prior) {
            /* parentless expectation prior: E_rho[log of the upward belief] */
            lz = 0.0;
            for (size_t x = 0; x < pv->card; x++) {
                double lp = tr->prior->ops->log_value_rc(tr->prior, 0, x);
                if (lp > -INFINITY)
                    lz += exp(lp) * U[x];
            }
        } else if (max) {
            size_t best = 0;
            for (size_t x = 1; x < pv->card; x++)
                if (U[x] > U[best])
                    best = x;
            ws->assign[tr->root] = best;
            lz = U[best];
        } else {
            lz = cai_logsumexp(U, pv->card);
        }
        log_z += lz;
    }
    ws->log_z = log_z;

    if (plan->upward_only || (max && plan->max_expect)) {
        /* no downward pass: upward messages, cavities and log Z only */
    } else if (max) {
        for (size_t i = 0; i < plan->n_clusters; i++)
            downward_decode(plan, ws, &plan->clusters[i]);
        if (log_z == -INFINITY) /* nothing has weight: report the lowest assignment */
            for (size_t v = 0; v < plan->n_vars; v++)
                ws->assign[v] = ws->evidence[v] != CAI_NONE ? ws->evidence[v] : 0;
    } else if (!(log_z > -INFINITY && log_z < INFINITY)) {
        for (size_t i = 0; i < plan->var_total; i++)
            ws->q[i] = NAN;
    } else {
        for (size_t t = 0; t < plan->n_trees; t++) {
            const plan_tree *tr = &plan->trees[t];
            const plan_var *pv = &plan->vars[tr->root];
            double *q = ws->q + pv->off;
            for (size_t x = 0; x < pv->card; x++)
                q[x] = tr->prior ? tr->prior->ops->log_value_rc(tr->prior, 0, x)
                                 : ws->U[pv->off + x];
            log_normalise(q, pv->card);
        }
        for (size_t i = 0; i < plan->n_clusters; i++)
            downward_marginals(plan, ws, &plan->clusters[i]);
    }
    ws->executed = true;
    return CAI_OK;
}

/* One Gauss-Seidel sweep over the single cluster c (up variable `from` at
 * position 0, child `to` last): the up states in order, each message fed
 * back into `to` before the next state's rows read it. Log domain per row,
 * since every state changes the child message. Returns the sup-norm change. */
static double gauss_seidel_sweep(const cai_plan *plan, cai_workspace *ws, const cluster *c,
                                 double *soft, double *norm)
{
    size_t kp = c->k - 1;
    const plan_var *vf = &plan->vars[c->vars[0]];
    double *U_from = ws->U + vf->off, *U_to = ws->U + plan->vars[c->vars[kp]].off;
    bool max = plan->alg == CAI_MAX_PRODUCT;
    semiring sr = cluster_sr(plan, c);
    double *local = ws->vbuf;
    row_layout L = log_layout(plan, ws, c);
    local_terms(plan, ws, c->vars[0], local);
    double diff = 0.0, big = 1.0;
    for (size_t x = 0; x < vf->card; x++) {
        double u;
        up_states(&L, c, x, x + 1, U_to, sr, max, &u);
        u += local[x];
        double d = fabs(u - soft[x]); /* the change of what is fed back */
        if (u != soft[x])
            diff = d > diff || isnan(d) ? d : diff;
        big = fabs(u) > big ? fabs(u) : big;
        U_from[x] = u;
        U_to[x] = soft[x] = u; /* fed back at once */
    }
    *norm = big;
    return diff;
}

cai_status cai_plan_iterate(const cai_plan *plan, cai_workspace *ws, size_t from, size_t to,
                            const double *tail, cai_sweep sweep, double tol,
                            size_t max_iterations, size_t *out_iterations,
                            bool *out_converged, cai_error *err)
{
    return cai_plan_iterate_traced(plan, ws, from, to, tail, sweep, tol, max_iterations,
                                   NULL, NULL, out_iterations, out_converged, err);
}

cai_status cai_plan_iterate_traced(const cai_plan *plan, cai_workspace *ws, size_t from,
                                   size_t to, const double *tail, cai_sweep sweep,
                                   double tol, size_t max_iterations,
                                   cai_iterate_trace trace, void *trace_ctx,
                                   size_t *out_iterations, bool *out_converged,
                                   cai_error *err)
{
    if (plan == NULL || ws == NULL || ws->plan != plan)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0, "NULL or mismatched argument");
    if (from >= plan->n_vars || to >= plan->n_vars || from == to)
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "iterate needs two distinct variables");
    size_t nf = plan->vars[from].card, nt = plan->vars[to].card;
    if (nt < nf || (nt > nf && tail == NULL))
        return cai_error_set(err, CAI_ERR_INVALID, NULL, 0, 0,
                             "variable %zu has %zu states, fewer than %zu or more without a "
                             "tail", to, nt, nf);
    if (!(tol > 0) || max_iterations == 0)
        return cai_error_set(err, CAI_ERR_RANGE, NULL, 0, 0,
                             "the tolerance and the iteration cap must be positive");
    const cluster *c = &plan->clusters[0];
    bool gs = sweep == CAI_SWEEP_GAUSS_SEIDEL;
    if (gs && (plan->n_clusters != 1 || c->vars[0] != from || c->up != 0
               || c->vars[c->k - 1] != to))
        return cai_error_set(err, CAI_ERR_STRUCTURE, NULL, 0, 0,
                             "Gauss-Seidel needs one cluster from variable %zu (first, the "
                             "root) to variable %zu (last)", from, to);
    double *soft = alloc_array(nt, sizeof(double));
    if (soft == NULL)
        return cai_error_set(err, CAI_ERR_NOMEM, NULL, 0, 0, "out of memory");
    if (ws->soft[to])
        memcpy(soft, ws->soft[to], nt * sizeof *soft);
    for (size_t x = nf; x < nt; x++)
        soft[x] = tail[x - nf];
    cai_status st = CAI_OK;
    size_t it = 0;
    bool converged = false;
    /* Gauss-Seidel: one execute sets every other message, then sweeps update
     * from's message and to's soft evidence in place */
    if (gs && (st = cai_workspace_set_soft_evidence(ws, to, soft, err)) == CAI_OK)
        st = cai_plan_execute(plan, ws, err);
    while (st == CAI_OK && !converged && it < max_iterations) {
        it++;
        double diff = 0.0, big = 1.0;
        if (gs) {
            diff = gauss_seidel_sweep(plan, ws, c, soft, &big);
        } else {
            if ((st = cai_workspace_set_soft_evidence(ws, to, soft, err)) != CAI_OK
                || (st = cai_plan_execute(plan, ws, err)) != CAI_OK)
                break;
            const double *U = ws->U + plan->vars[from].off;
            for (size_t x = 0; x < nf; x++) {
                double d = fabs(U[x] - soft[x]);
                if (U[x] != soft[x])
                    diff = d > diff || isnan(d) ? d : diff;
                big = fabs(U[x]) > big ? fabs(U[x]) : big;
                soft[x] = U[x];
            }
        }
        converged = diff <= tol * big;
        if (trace != NULL)
            trace(trace_ctx, it, diff / big);
    }
    /* leave the workspace executed on the final message */
    if (st == CAI_OK && (st = cai_workspace_set_soft_evidence(ws, to, soft, err)) == CAI_OK)
        st = cai_plan_execute(plan, ws, err);
    free(soft);
    if (st != CAI_OK)
        return st;
    if (out_iterations)
        *out_iterations = it;
    if (out_converged)
        *out_converged = converged;
    return CAI_OK;
}
