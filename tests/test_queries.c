/* tests/test_queries.c — the engine queries the control layer stands on:
 * upward messages, cavities, soft evidence, support-mode factors and
 * max-product with expectation factors, each against hand-written loops or
 * enumeration written here. */
#include "harness.h"

#include "cai/cai.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAXS 6
#define MAXA 3
#define MAXT 5

/* A small random MDP-shaped chain s0 a0 s1 a1 ... sT, built into a graph. */
typedef struct chain {
    size_t S, A, T;
    double P[MAXS][MAXA][MAXS]; /* dynamics, rows sum to 1, some zeros */
    double r[MAXS][MAXA];       /* log reward factor over (s, a) */
    double term[MAXS];          /* log terminal factor on sT */
    double rho[MAXS];           /* initial distribution */
    size_t s[MAXT + 1], a[MAXT];
    cai_graph *g;
} chain;

static void chain_random(chain *c, gsl_rng *rng)
{
    c->S = 2 + gsl_rng_uniform_int(rng, MAXS - 1);
    c->A = 2 + gsl_rng_uniform_int(rng, MAXA - 1);
    c->T = 1 + gsl_rng_uniform_int(rng, MAXT);
    for (size_t s = 0; s < c->S; s++) {
        for (size_t a = 0; a < c->A; a++) {
            double tot = 0;
            for (size_t t = 0; t < c->S; t++) {
                c->P[s][a][t] = gsl_rng_uniform(rng) < 0.4 ? 0 : gsl_rng_uniform(rng);
                tot += c->P[s][a][t];
            }
            if (tot == 0) {
                c->P[s][a][s] = 1;
                tot = 1;
            }
            for (size_t t = 0; t < c->S; t++)
                c->P[s][a][t] /= tot;
            c->r[s][a] = 6 * gsl_rng_uniform(rng) - 3;
        }
        c->term[s] = 4 * gsl_rng_uniform(rng) - 2;
        c->rho[s] = gsl_rng_uniform(rng) + 0.1;
    }
    double tot = 0;
    for (size_t s = 0; s < c->S; s++)
        tot += c->rho[s];
    for (size_t s = 0; s < c->S; s++)
        c->rho[s] /= tot;
}

/* Build the graph with the dynamics in dyn_mode, the initial distribution
 * as a prior in prior_mode (a 1-row CSR). */
static void chain_build(chain *c, cai_factor_mode dyn_mode, cai_factor_mode prior_mode)
{
    cai_error e;
    CU_ASSERT_FATAL(cai_graph_create(&c->g, &e) == CAI_OK);
    for (size_t t = 0; t <= c->T; t++) {
        char nm[32];
        snprintf(nm, sizeof nm, "s%zu", t);
        CU_ASSERT_FATAL(cai_graph_add_variable(c->g, nm, c->S, NULL, &c->s[t], &e) == CAI_OK);
        if (t < c->T) {
            snprintf(nm, sizeof nm, "a%zu", t);
            CU_ASSERT_FATAL(cai_graph_add_variable(c->g, nm, c->A, NULL, &c->a[t], &e) == CAI_OK);
        }
    }
    size_t rp[MAXS * MAXA + 1], col[MAXS * MAXA * MAXS], n = 0;
    double pr[MAXS * MAXA * MAXS];
    rp[0] = 0;
    for (size_t s = 0; s < c->S; s++)
        for (size_t a = 0; a < c->A; a++) {
            for (size_t t = 0; t < c->S; t++)
                if (c->P[s][a][t] > 0) {
                    col[n] = t;
                    pr[n++] = c->P[s][a][t];
                }
            rp[s * c->A + a + 1] = n;
        }
    size_t pc[2] = {c->S, c->A}, one = c->S, prp[2] = {0, c->S}, pcol[MAXS];
    double rv[MAXS * MAXA];
    for (size_t s = 0; s < c->S; s++) {
        pcol[s] = s;
        for (size_t a = 0; a < c->A; a++)
            rv[s * c->A + a] = c->r[s][a];
    }
    cai_potential *dyn, *rew, *term, *prior;
    CU_ASSERT_FATAL(cai_potential_csr_create(2, pc, c->S, rp, col, pr, &dyn, &e) == CAI_OK);
    CU_ASSERT_FATAL(cai_potential_table_create(2, pc, rv, &rew, &e) == CAI_OK);
    CU_ASSERT_FATAL(cai_potential_table_create(1, &one, c->term, &term, &e) == CAI_OK);
    CU_ASSERT_FATAL(cai_potential_csr_create(0, NULL, c->S, prp, pcol, c->rho, &prior, &e) == CAI_OK);
    for (size_t t = 0; t < c->T; t++) {
        size_t sc[3] = {c->s[t], c->a[t], c->s[t + 1]};
        CU_ASSERT_FATAL(cai_graph_add_factor(c->g, dyn, sc, 3, dyn_mode, NULL, &e) == CAI_OK);
        CU_ASSERT_FATAL(cai_graph_add_factor(c->g, rew, sc, 2, CAI_MODE_NORMAL, NULL, &e) == CAI_OK);
    }
    CU_ASSERT_FATAL(cai_graph_add_factor(c->g, term, &c->s[c->T], 1, CAI_MODE_NORMAL, NULL, &e) == CAI_OK);
    CU_ASSERT_FATAL(cai_graph_add_factor(c->g, prior, &c->s[0], 1, prior_mode, NULL, &e) == CAI_OK);
    cai_potential_unref(dyn);
    cai_potential_unref(rew);
    cai_potential_unref(term);
    cai_potential_unref(prior);
}

typedef enum backup { EXACT, VARIATIONAL, EXACT_HARD, VARIATIONAL_HARD } backup;

/* Reference backward recursion written from the definitions:
 *   EXACT            V = log sum_a exp(r + log sum_s' P exp V')
 *   VARIATIONAL      V = log sum_a exp(r + sum_s' P V')
 *   EXACT_HARD       V = max_a (r + max_{s': P > 0} V')
 *   VARIATIONAL_HARD V = max_a (r + sum_s' P V')
 * Q[t][s][a] is the term inside the sum/max over a. */
static void reference(const chain *c, backup b, double V[MAXT + 1][MAXS],
                      double Q[MAXT][MAXS][MAXA])
{
    for (size_t s = 0; s < c->S; s++)
        V[c->T][s] = c->term[s];
    for (size_t t = c->T; t-- > 0;) {
        for (size_t s = 0; s < c->S; s++) {
            double best = -INFINITY, sum = 0;
            for (size_t a = 0; a < c->A; a++) {
                double inner;
                if (b == EXACT) {
                    double m = -INFINITY, z = 0;
                    for (size_t n = 0; n < c->S; n++)
                        if (c->P[s][a][n] > 0)
                            m = fmax(m, V[t + 1][n]);
                    for (size_t n = 0; n < c->S; n++)
                        if (c->P[s][a][n] > 0)
                            z += c->P[s][a][n] * exp(V[t + 1][n] - m);
                    inner = m + log(z);
                } else if (b == EXACT_HARD) {
                    inner = -INFINITY;
                    for (size_t n = 0; n < c->S; n++)
                        if (c->P[s][a][n] > 0)
                            inner = fmax(inner, V[t + 1][n]);
                } else {
                    inner = 0;
                    for (size_t n = 0; n < c->S; n++)
                        inner += c->P[s][a][n] * V[t + 1][n];
                }
                Q[t][s][a] = c->r[s][a] + inner;
                best = fmax(best, Q[t][s][a]);
            }
            for (size_t a = 0; a < c->A; a++)
                sum += exp(Q[t][s][a] - best);
            V[t][s] = b == EXACT || b == VARIATIONAL ? best + log(sum) : best;
        }
    }
}

static void check_chain_scaled(backup b, double spread)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 42 + (unsigned long)b + (unsigned long)spread);
    for (int trial = 0; trial < 60; trial++) {
        chain c;
        chain_random(&c, rng);
        /* spread > 1 puts the rewards thousands of nats apart, so many groups
         * of rows underflow in the scaled kernels and take the log domain */
        for (size_t s = 0; s < c.S; s++) {
            for (size_t a = 0; a < c.A; a++)
                c.r[s][a] *= spread;
            c.term[s] *= spread;
        }
        bool var = b == VARIATIONAL || b == VARIATIONAL_HARD;
        bool hard = b == EXACT_HARD || b == VARIATIONAL_HARD;
        cai_factor_mode dyn = var ? CAI_MODE_EXPECTATION : hard ? CAI_MODE_SUPPORT : CAI_MODE_NORMAL;
        chain_build(&c, dyn, var ? CAI_MODE_EXPECTATION : CAI_MODE_NORMAL);
        cai_plan_options o = cai_plan_options_default();
        o.algorithm = hard ? CAI_MAX_PRODUCT : CAI_SUM_PRODUCT;
        o.max_expectation = hard && var;
        cai_plan *plan = NULL;
        cai_workspace *ws = NULL;
        cai_error e;
        CU_ASSERT_FATAL(cai_plan_create(c.g, &o, &plan, &e) == CAI_OK);
        CU_ASSERT_FATAL(cai_workspace_create(plan, &ws, &e) == CAI_OK);
        CU_ASSERT_FATAL(cai_plan_execute(plan, ws, &e) == CAI_OK);
        double V[MAXT + 1][MAXS], Q[MAXT][MAXS][MAXA];
        reference(&c, b, V, Q);
        for (size_t t = 0; t <= c.T; t++) {
            double U[MAXS];
            CU_ASSERT_EQUAL(cai_query_upward(ws, c.s[t], U, &e), CAI_OK);
            for (size_t s = 0; s < c.S; s++) {
                /* a normal-mode initial prior is a local term of s0 */
                double want = V[t][s] + (t == 0 && !var ? log(c.rho[s]) : 0);
                CAI_ASSERT_CLOSE(U[s], want, 1e-10);
            }
            if (t == c.T)
                break;
            double cav[MAXS * MAXA];
            CU_ASSERT_EQUAL(cai_query_cavity(ws, c.a[t], c.s[t], cav, &e), CAI_OK);
            for (size_t s = 0; s < c.S; s++)
                for (size_t a = 0; a < c.A; a++)
                    CAI_ASSERT_CLOSE(cav[s * c.A + a], Q[t][s][a], 1e-10);
        }
        /* log Z: log sum rho exp V0 (exact), sum rho V0 (variational), the
         * max over s0 of log rho + V0 (hard exact) */
        double want = 0, best = -INFINITY, sum = 0;
        for (size_t s = 0; s < c.S; s++)
            best = fmax(best, log(c.rho[s]) + V[0][s]);
        for (size_t s = 0; s < c.S; s++) {
            want += c.rho[s] * V[0][s];
            sum += exp(log(c.rho[s]) + V[0][s] - best);
        }
        if (!var)
            want = hard ? best : best + log(sum);
        CAI_ASSERT_CLOSE(cai_query_log_z(ws), want, 1e-10);
        if (hard && var) {
            size_t as[2 * MAXT + 2];
            CU_ASSERT_EQUAL(cai_query_map(ws, as, NULL, &e), CAI_ERR_STATE);
        }
        cai_workspace_free(ws);
        cai_plan_free(plan);
        cai_graph_free(c.g);
    }
    gsl_rng_free(rng);
}

static void check_chain(backup b) { check_chain_scaled(b, 1.0); }
static void test_exact_chain(void) { check_chain(EXACT); }
static void test_exact_chain_wide(void) { check_chain_scaled(EXACT, 3000.0); }
static void test_variational_chain_wide(void) { check_chain_scaled(VARIATIONAL, 3000.0); }
static void test_variational_chain(void) { check_chain(VARIATIONAL); }
static void test_support_max_chain(void) { check_chain(EXACT_HARD); }
static void test_max_expectation_chain(void) { check_chain(VARIATIONAL_HARD); }

/* Soft evidence on a variable equals an extra one-variable factor: compare
 * log Z and marginals with the graph that has the factor, by enumeration
 * over a 3-variable chain. */
static void test_soft_evidence(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    for (int trial = 0; trial < 50; trial++) {
        size_t K = 2 + gsl_rng_uniform_int(rng, 3);
        double f01[25], f12[25], soft[5];
        for (size_t i = 0; i < K * K; i++) {
            f01[i] = gsl_rng_uniform(rng) < 0.2 ? -INFINITY : 2 * gsl_rng_uniform(rng) - 1;
            f12[i] = 2 * gsl_rng_uniform(rng) - 1;
        }
        size_t sv = gsl_rng_uniform_int(rng, 3);
        for (size_t i = 0; i < K; i++)
            soft[i] = gsl_rng_uniform(rng) < 0.2 ? -INFINITY : 3 * gsl_rng_uniform(rng) - 1.5;
        cai_error e;
        cai_graph *g;
        size_t v[3], cards[2] = {K, K};
        cai_graph_create(&g, &e);
        for (int i = 0; i < 3; i++) {
            char nm[4] = {'x', (char)('0' + i), 0};
            cai_graph_add_variable(g, nm, K, NULL, &v[i], &e);
        }
        cai_potential *p01, *p12;
        cai_potential_table_create(2, cards, f01, &p01, &e);
        cai_potential_table_create(2, cards, f12, &p12, &e);
        size_t s01[2] = {v[0], v[1]}, s12[2] = {v[1], v[2]};
        cai_graph_add_factor(g, p01, s01, 2, CAI_MODE_NORMAL, NULL, &e);
        cai_graph_add_factor(g, p12, s12, 2, CAI_MODE_NORMAL, NULL, &e);
        cai_plan *plan;
        cai_workspace *ws;
        CU_ASSERT_FATAL(cai_plan_create(g, NULL, &plan, &e) == CAI_OK);
        CU_ASSERT_FATAL(cai_workspace_create(plan, &ws, &e) == CAI_OK);
        CU_ASSERT_EQUAL(cai_workspace_set_soft_evidence(ws, v[sv], soft, &e), CAI_OK);
        CU_ASSERT_FATAL(cai_plan_execute(plan, ws, &e) == CAI_OK);
        /* enumeration with the soft term as a factor */
        double Z = 0, marg[3][5] = {{0}};
        for (size_t a = 0; a < K; a++)
            for (size_t b = 0; b < K; b++)
                for (size_t c = 0; c < K; c++) {
                    size_t x[3] = {a, b, c};
                    double w = exp(f01[a * K + b] + f12[b * K + c] + soft[x[sv]]);
                    Z += w;
                    for (int i = 0; i < 3; i++)
                        marg[i][x[i]] += w;
                }
        CAI_ASSERT_CLOSE(cai_query_log_z(ws), log(Z), 1e-10);
        for (int i = 0; i < 3; i++) {
            double m[5];
            cai_query_marginal(ws, v[i], m, &e);
            for (size_t x = 0; x < K; x++) {
                if (Z > 0) {
                    CAI_ASSERT_CLOSE(m[x], marg[i][x] / Z, 1e-10);
                } else {
                    CU_ASSERT(isnan(m[x])); /* no mass: undefined */
                }
            }
        }
        /* removing it restores the plain model */
        CU_ASSERT_EQUAL(cai_workspace_set_soft_evidence(ws, v[sv], NULL, &e), CAI_OK);
        cai_plan_execute(plan, ws, &e);
        double Z0 = 0;
        for (size_t a = 0; a < K; a++)
            for (size_t b = 0; b < K; b++)
                for (size_t c = 0; c < K; c++)
                    Z0 += exp(f01[a * K + b] + f12[b * K + c]);
        CAI_ASSERT_CLOSE(cai_query_log_z(ws), log(Z0), 1e-10);
        /* NaN and +inf are refused */
        double bad[5] = {0, NAN, 0, 0, 0};
        CU_ASSERT_EQUAL(cai_workspace_set_soft_evidence(ws, v[0], bad, &e), CAI_ERR_NUMERIC);
        bad[1] = INFINITY;
        CU_ASSERT_EQUAL(cai_workspace_set_soft_evidence(ws, v[0], bad, &e), CAI_ERR_NUMERIC);
        cai_potential_unref(p01);
        cai_potential_unref(p12);
        cai_workspace_free(ws);
        cai_plan_free(plan);
        cai_graph_free(g);
    }
    gsl_rng_free(rng);
}

/* A support-mode factor acts as the 0/1 table of its potential's zero
 * pattern: sum-product and MAP against the same graph with that table. */
static void test_support_equals_indicator(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    for (int trial = 0; trial < 40; trial++) {
        chain c;
        chain_random(&c, rng);
        chain_build(&c, CAI_MODE_SUPPORT, CAI_MODE_NORMAL);
        /* the same chain with the indicator written out as a dense table */
        chain d = c;
        cai_error e;
        CU_ASSERT_FATAL(cai_graph_create(&d.g, &e) == CAI_OK);
        for (size_t i = 0; i < cai_graph_n_variables(c.g); i++)
            cai_graph_add_variable(d.g, cai_graph_variable_name(c.g, i),
                                   cai_graph_variable_card(c.g, i), NULL, NULL, &e);
        size_t cards[3] = {c.S, c.A, c.S};
        double ind[MAXS * MAXA * MAXS];
        for (size_t s = 0; s < c.S; s++)
            for (size_t a = 0; a < c.A; a++)
                for (size_t n = 0; n < c.S; n++)
                    ind[(s * c.A + a) * c.S + n] = c.P[s][a][n] > 0 ? 0.0 : -INFINITY;
        cai_potential *pind;
        cai_potential_table_create(3, cards, ind, &pind, &e);
        for (size_t f = 0; f < cai_graph_n_factors(c.g); f++) {
            size_t k;
            const size_t *sc = cai_graph_factor_scope(c.g, f, &k);
            cai_factor_mode mode = cai_graph_factor_mode(c.g, f);
            cai_potential *p = mode == CAI_MODE_SUPPORT
                                   ? pind
                                   : (cai_potential *)cai_graph_factor_potential(c.g, f);
            cai_graph_add_factor(d.g, p, sc, k, CAI_MODE_NORMAL, NULL, &e);
        }
        cai_potential_unref(pind);
        for (int alg = 0; alg < 2; alg++) {
            cai_plan_options o = cai_plan_options_default();
            o.algorithm = alg ? CAI_MAX_PRODUCT : CAI_SUM_PRODUCT;
            cai_plan *pc, *pd;
            cai_workspace *wc, *wd;
            CU_ASSERT_FATAL(cai_plan_create(c.g, &o, &pc, &e) == CAI_OK);
            CU_ASSERT_FATAL(cai_plan_create(d.g, &o, &pd, &e) == CAI_OK);
            cai_workspace_create(pc, &wc, &e);
            cai_workspace_create(pd, &wd, &e);
            cai_plan_execute(pc, wc, &e);
            cai_plan_execute(pd, wd, &e);
            CAI_ASSERT_CLOSE(cai_query_log_z(wc), cai_query_log_z(wd), 1e-10);
            for (size_t i = 0; i < cai_graph_n_variables(c.g); i++) {
                double mc[MAXS], md[MAXS];
                if (alg == 0) {
                    cai_query_marginal(wc, i, mc, &e);
                    cai_query_marginal(wd, i, md, &e);
                    for (size_t x = 0; x < cai_graph_variable_card(c.g, i); x++)
                        CAI_ASSERT_CLOSE(mc[x], md[x], 1e-10);
                }
            }
            cai_workspace_free(wc);
            cai_workspace_free(wd);
            cai_plan_free(pc);
            cai_plan_free(pd);
        }
        cai_graph_free(c.g);
        cai_graph_free(d.g);
    }
    gsl_rng_free(rng);
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("queries", NULL, NULL);
    CU_add_test(s, "upward and cavity, exact chain", test_exact_chain);
    CU_add_test(s, "upward and cavity, variational chain", test_variational_chain);
    CU_add_test(s, "exact chain, rewards 1e4 apart (log-domain fallback)", test_exact_chain_wide);
    CU_add_test(s, "variational chain, rewards 1e4 apart", test_variational_chain_wide);
    CU_add_test(s, "support mode with max-product (hard exact)", test_support_max_chain);
    CU_add_test(s, "max-product with expectation (hard variational)", test_max_expectation_chain);
    CU_add_test(s, "soft evidence", test_soft_evidence);
    CU_add_test(s, "support mode equals the indicator table", test_support_equals_indicator);
}
