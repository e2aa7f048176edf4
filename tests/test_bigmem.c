/* tests/test_bigmem.c — the engine's large buffers: zeroed when asked for;
 * a buffer cache giving its kept buffer back for a size it fits (at most a
 * quarter too large) and releasing the one it displaces; and a model's
 * solve whose message array comes back dirty from its earlier solve giving
 * the bits of a solve on fresh memory. */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cai/cai.h"

#include "../lib/engine/bigmem.h"

/* Doubles of a buffer big enough to be a mapping (BIG_MIN is 4 MiB). */
#define BIG_N ((size_t)1 << 20) /* 8 MiB */

static int all_zero(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] != 0.0)
            return 0;
    return 1;
}

static void fill(double *v, size_t n, double x)
{
    for (size_t i = 0; i < n; i++)
        v[i] = x + (double)i;
}

static void test_alloc(void)
{
    double *a = big_alloc(BIG_N, sizeof(double));
    CU_ASSERT_FATAL(a != NULL);
    CU_ASSERT(all_zero(a, BIG_N));
    fill(a, BIG_N, 7.0);
    CU_ASSERT(a[BIG_N - 1] == 7.0 + (double)(BIG_N - 1));
    big_free(a);
    double *u = big_alloc_uninit(BIG_N, sizeof(double));
    CU_ASSERT_FATAL(u != NULL);
    fill(u, BIG_N, 1.0);
    big_free(u);
    /* small buffers come from calloc, zeroed */
    double *s = big_alloc(1000, sizeof(double));
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT(all_zero(s, 1000));
    big_free(s);
    big_free(NULL);
    CU_ASSERT(big_alloc(SIZE_MAX / 4, 8) == NULL); /* n * elem overflows */
}

/* Whether v[i] = x + i for i < n. */
static int filled(const double *v, size_t n, double x)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] != x + (double)i)
            return 0;
    return 1;
}

/* big_realloc keeps the first min(old, new) entries across every pair of
 * kinds: small to small, small to mapped, mapped to a larger mapping (moved
 * by the kernel), mapped to small; NULL grows like an allocation. */
static void test_realloc(void)
{
    double *v = big_realloc(NULL, 1000, sizeof *v);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    fill(v, 1000, 1.0);
    v = big_realloc(v, 3000, sizeof *v); /* small, larger */
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT(filled(v, 1000, 1.0));
    fill(v, 3000, 2.0);
    v = big_realloc(v, BIG_N, sizeof *v); /* small to a mapping */
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT(filled(v, 3000, 2.0));
    fill(v, BIG_N, 3.0);
    v = big_realloc(v, 3 * BIG_N, sizeof *v); /* a larger mapping */
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT(filled(v, BIG_N, 3.0));
    fill(v, 3 * BIG_N, 4.0);
    v = big_realloc(v, 500, sizeof *v); /* a mapping to small */
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT(filled(v, 500, 4.0));
    double *w = big_realloc(v, SIZE_MAX / 4, sizeof *w); /* overflow: v kept */
    CU_ASSERT_PTR_NULL(w);
    CU_ASSERT(filled(v, 500, 4.0));
    big_free(v);
}

static void test_cache(void)
{
    cai_buffer_cache *c = NULL;
    cai_error err;
    CU_ASSERT_FATAL(cai_buffer_cache_create(&c, &err) == CAI_OK);
    double *a = big_alloc(BIG_N, sizeof(double));
    CU_ASSERT_FATAL(a != NULL);
    fill(a, BIG_N, 7.0);
    big_cache_put(c, a);
    /* the same buffer comes back, dirty, for the same size or a quarter less */
    double *b = big_cache_take(c, BIG_N - BIG_N / 5, sizeof(double));
    CU_ASSERT(b == a);
    CU_ASSERT(b[0] == 7.0);
    big_cache_put(c, b);
    /* too small for twice the size, too large for a third of it: new
     * buffers, the kept one stays */
    double *big = big_cache_take(c, 2 * BIG_N, sizeof(double));
    double *small = big_cache_take(c, BIG_N / 3, sizeof(double));
    CU_ASSERT_FATAL(big != NULL && small != NULL);
    CU_ASSERT(big != a && small != a);
    fill(big, 2 * BIG_N, 2.0);
    fill(small, BIG_N / 3, 3.0);
    double *again = big_cache_take(c, BIG_N, sizeof(double));
    CU_ASSERT(again == a);
    CU_ASSERT(big_cache_take(c, BIG_N, sizeof(double)) != a); /* taken: gone */
    /* putting one releases the one kept before */
    big_cache_put(c, again);
    big_cache_put(c, big);
    CU_ASSERT(big_cache_take(c, 2 * BIG_N, sizeof(double)) == big);
    big_cache_put(c, big);
    big_cache_put(c, small); /* a calloc'd buffer is freed, not kept */
    CU_ASSERT(big_cache_take(c, 2 * BIG_N, sizeof(double)) == big);
    big_cache_put(c, big);
    big_cache_put(c, NULL);
    cai_buffer_cache_free(c); /* releases big */
    cai_buffer_cache_free(NULL);
    /* no cache: plain allocation and release */
    double *n = big_cache_take(NULL, BIG_N, sizeof(double));
    CU_ASSERT_FATAL(n != NULL);
    fill(n, BIG_N, 4.0);
    big_cache_put(NULL, n);
}

/* A random MDP with 2^16 states (its V is 11 x 2^16 doubles, a mapping). */
static cai_mdp *random_mdp(void)
{
    enum { S = 1 << 16, A = 2, B = 2, T = 10 };
    size_t *row_ptr = malloc((S * A + 1) * sizeof *row_ptr);
    size_t *next = malloc(S * A * B * sizeof *next);
    double *prob = malloc(S * A * B * sizeof *prob);
    double *reward = malloc(S * A * sizeof *reward);
    double *rho = calloc(S, sizeof *rho);
    cai_mdp *m = NULL;
    if (row_ptr && next && prob && reward && rho) {
        uint64_t x = 12345;
        for (size_t r = 0; r < S * A; r++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            size_t s0 = (size_t)(x >> 33) % (S - 1);
            row_ptr[r] = r * B;
            next[r * B] = s0;
            next[r * B + 1] = s0 + 1 + (size_t)(x >> 20) % (S - 1 - s0);
            prob[r * B] = 0.25 + 0.5 * (double)((x >> 11) & 1023) / 1023.0;
            prob[r * B + 1] = 1.0 - prob[r * B];
            reward[r] = -(double)((x >> 40) & 255) / 64.0;
        }
        row_ptr[S * A] = S * A * B;
        rho[0] = 1.0;
        cai_mdp_spec spec = {.n_states = S, .n_actions = A, .initial = rho,
                             .row_ptr = row_ptr, .next = next, .prob = prob,
                             .reward = reward, .horizon = T, .temperature = 1.0};
        cai_error err;
        if (cai_mdp_create(&spec, &m, &err) != CAI_OK)
            m = NULL;
    }
    free(row_ptr);
    free(next);
    free(prob);
    free(reward);
    free(rho);
    return m;
}

static cai_solution *solve(const cai_mdp *m, double alpha)
{
    cai_solve_options o = cai_solve_options_default();
    o.temperature = alpha;
    o.state_marginals = false;
    cai_solution *sol = NULL;
    cai_error err;
    return cai_mdp_solve(m, &o, &sol, &err) == CAI_OK ? sol : NULL;
}

static void test_dirty_messages(void)
{
    cai_mdp *m = random_mdp();
    CU_ASSERT_FATAL(m != NULL);
    size_t S = cai_mdp_n_states(m);
    double *v1 = malloc(S * sizeof *v1), *v2 = malloc(S * sizeof *v2);
    double *v3 = malloc(S * sizeof *v3);
    CU_ASSERT_FATAL(v1 && v2 && v3);
    cai_error err;
    /* alpha 1, released: its messages stay in the mapping */
    cai_solution *a = solve(m, 1.0);
    CU_ASSERT_FATAL(a != NULL);
    CU_ASSERT(cai_solution_value(a, 0, v1, &err) == CAI_OK);
    cai_solution_free(a);
    /* alpha 0.5 on that dirty mapping, then on fresh memory alongside it */
    cai_solution *b = solve(m, 0.5);
    cai_solution *c = solve(m, 0.5);
    CU_ASSERT_FATAL(b != NULL && c != NULL);
    CU_ASSERT(cai_solution_value(b, 0, v2, &err) == CAI_OK);
    CU_ASSERT(cai_solution_value(c, 0, v3, &err) == CAI_OK);
    CU_ASSERT(memcmp(v2, v3, S * sizeof *v2) == 0);
    CU_ASSERT(memcmp(v1, v2, S * sizeof *v1) != 0); /* the two solves differ */
    cai_solution_free(b);
    cai_solution_free(c);
    free(v1);
    free(v2);
    free(v3);
    cai_mdp_free(m);
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("bigmem", NULL, NULL);
    CU_add_test(s, "zeroed, uninitialised and small buffers", test_alloc);
    CU_add_test(s, "realloc keeps the contents between small buffers and mappings",
                test_realloc);
    CU_add_test(s, "a cache keeps one buffer for a size within a quarter", test_cache);
    CU_add_test(s, "a solve on a dirty message mapping = on fresh memory",
                test_dirty_messages);
}
