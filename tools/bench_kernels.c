/* tools/bench_kernels.c — hand-written soft value iteration and SpMV.
 *
 * Written as the strongest straightforward code for these models. Exact:
 * one exp per state per step (w = exp((V' - max V') / alpha)), a dot product
 * per CSR row, and one log per state, the rows of a state combined linearly
 * with pi0 exp(r / alpha) computed once per solve; a state whose scaled sum
 * underflows (< 1e-280; never in the benchmark's models) is recomputed in
 * the log domain. Variational: a dot product per row and a log-sum-exp over
 * the actions per state. No engine code is used. */
#define _GNU_SOURCE /* MADV_HUGEPAGE */
#include "bench_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <sys/mman.h>

#ifdef _OPENMP
#define PRAGMA(x) _Pragma(#x)
#define PARALLEL_FOR PRAGMA(omp parallel for schedule(static))
#define PARALLEL_FOR_MAX(v) PRAGMA(omp parallel for schedule(static) reduction(max : v))
#else
#define PARALLEL_FOR
#define PARALLEL_FOR_MAX(v)
#endif

/* A state whose scaled sum is below this is redone in the log domain. */
static const double UNDERFLOW = 1e-280;

/* alpha log sum_j p_j exp(v[col_j] / alpha) for row r, in the log domain. */
static double row_log_domain(const bench_csr *m, size_t r, const double *v, double alpha)
{
    double top = -INFINITY, sum = 0;
    for (size_t j = m->row_ptr[r]; j < m->row_ptr[r + 1]; j++)
        top = fmax(top, v[m->col[j]]);
    for (size_t j = m->row_ptr[r]; j < m->row_ptr[r + 1]; j++)
        sum += m->prob[j] * exp((v[m->col[j]] - top) / alpha);
    return top + alpha * log(sum);
}

/* alpha log sum_a pi0 exp(q_a / alpha) with pi0 = exp(log_prior). */
static double soft_max(const double *q, size_t A, double alpha, double log_prior)
{
    double top = q[0];
    for (size_t a = 1; a < A; a++)
        top = fmax(top, q[a]);
    double sum = 0;
    for (size_t a = 0; a < A; a++)
        sum += exp((q[a] - top) / alpha);
    return top + alpha * (log(sum) + log_prior);
}

/* V_t(s) in the log domain, for a state whose scaled sum underflowed. */
static double state_log_domain(const bench_csr *m, size_t s, const double *next, double alpha,
                               double log_prior)
{
    double q[BENCH_MAX_ACTIONS];
    for (size_t a = 0; a < m->n_actions; a++) {
        size_t r = s * m->n_actions + a;
        q[a] = m->reward[r] + row_log_domain(m, r, next, alpha);
    }
    return soft_max(q, m->n_actions, alpha, log_prior);
}

void bench_soft_vi_exact(const bench_csr *m, size_t T, double alpha, double *V, double *w,
                         double *c)
{
    const size_t S = m->n_states, A = m->n_actions;
    const double log_prior = -log((double)A);
    /* V_t(s) = top + alpha log sum_a c(s,a) sum_j p_j w_j with
     * c = pi0 exp(r / alpha), w = exp((V_{t+1} - top) / alpha) */
    PARALLEL_FOR
    for (size_t r = 0; r < m->n_rows; r++)
        c[r] = exp(m->reward[r] / alpha + log_prior);
    double top = 0; /* max of the V just computed */
    for (size_t s = 0; s < S; s++)
        V[T * S + s] = 0;
    for (size_t t = T; t-- > 0;) {
        const double *next = V + (t + 1) * S, top_next = top;
        double *cur = V + t * S;
        PARALLEL_FOR
        for (size_t s = 0; s < S; s++)
            w[s] = exp((next[s] - top_next) / alpha);
        top = -INFINITY;
        PARALLEL_FOR_MAX(top)
        for (size_t s = 0; s < S; s++) {
            double sum = 0;
            for (size_t r = s * A; r < (s + 1) * A; r++) {
                double dot = 0;
                for (size_t j = m->row_ptr[r]; j < m->row_ptr[r + 1]; j++)
                    dot += m->prob[j] * w[m->col[j]];
                sum += c[r] * dot;
            }
            cur[s] = sum >= UNDERFLOW ? top_next + alpha * log(sum)
                                      : state_log_domain(m, s, next, alpha, log_prior);
            top = fmax(top, cur[s]);
        }
    }
}

void bench_soft_vi_variational(const bench_csr *m, size_t T, double alpha, double *V)
{
    const size_t S = m->n_states, A = m->n_actions;
    const double log_prior = -log((double)A);
    for (size_t s = 0; s < S; s++)
        V[T * S + s] = 0;
    for (size_t t = T; t-- > 0;) {
        const double *next = V + (t + 1) * S;
        double *cur = V + t * S;
        PARALLEL_FOR
        for (size_t s = 0; s < S; s++) {
            double q[BENCH_MAX_ACTIONS];
            for (size_t a = 0; a < A; a++) {
                size_t r = s * A + a;
                double dot = 0;
                for (size_t j = m->row_ptr[r]; j < m->row_ptr[r + 1]; j++)
                    dot += m->prob[j] * next[m->col[j]];
                q[a] = m->reward[r] + dot;
            }
            cur[s] = soft_max(q, A, alpha, log_prior);
        }
    }
}

void bench_spmv(const bench_csr *m, const double *x, double *y)
{
    PARALLEL_FOR
    for (size_t r = 0; r < m->n_rows; r++) {
        double dot = 0;
        for (size_t j = m->row_ptr[r]; j < m->row_ptr[r + 1]; j++)
            dot += m->prob[j] * x[m->col[j]];
        y[r] = dot;
    }
}

/* Mappings of whole 2 MiB pages: Linux places those on a 2 MiB boundary,
 * so all of the vector can be huge pages, as cai's are (bigmem.c). */
static const size_t HUGE_PAGE = (size_t)2 << 20;

int bench_alloc(bench_buffer *b, size_t n)
{
    b->bytes = ((n ? n : 1) * sizeof(double) + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
    void *p = mmap(NULL, b->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        *b = (bench_buffer){0};
        return -1;
    }
    madvise(p, b->bytes, MADV_HUGEPAGE);
    b->v = p;
    return 0;
}

void bench_free(bench_buffer *b)
{
    if (b->v != NULL)
        munmap(b->v, b->bytes);
    *b = (bench_buffer){0};
}
