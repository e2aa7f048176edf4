/* tests/test_control.c — MDPs solved as inference, against references
 * written here from the DESIGN.md equations (plain nested loops) and against
 * brute-force enumeration of every trajectory of tiny MDPs. */
#include "harness.h"

#include "cai/cai.h"

#include <gsl/gsl_rng.h>
#if defined(_OPENMP)
#include <omp.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MS 5
#define MA 4
#define MT 4

typedef struct ref_mdp {
    size_t S, A, T;
    double gamma, alpha;
    double P[MS][MA][MS], r[MS][MA], rT[MS], rho[MS], pi0[MS][MA];
} ref_mdp;

static void random_mdp(ref_mdp *m, gsl_rng *rng, bool discounted, bool nonpositive)
{
    memset(m, 0, sizeof *m);
    m->S = 2 + gsl_rng_uniform_int(rng, MS - 1);
    m->A = 2 + gsl_rng_uniform_int(rng, MA - 1);
    m->T = discounted ? 0 : 1 + gsl_rng_uniform_int(rng, MT);
    m->gamma = discounted ? 0.5 + 0.45 * gsl_rng_uniform(rng) : 0;
    m->alpha = 0.3 + 2 * gsl_rng_uniform(rng);
    double tr = 0;
    for (size_t s = 0; s < m->S; s++) {
        double tp = 0;
        for (size_t a = 0; a < m->A; a++) {
            double tot = 0;
            for (size_t n = 0; n < m->S; n++) {
                m->P[s][a][n] = gsl_rng_uniform(rng) < 0.4 ? 0 : gsl_rng_uniform(rng);
                tot += m->P[s][a][n];
            }
            if (tot == 0) {
                m->P[s][a][(s + a) % m->S] = 1;
                tot = 1;
            }
            for (size_t n = 0; n < m->S; n++)
                m->P[s][a][n] /= tot;
            m->r[s][a] = nonpositive ? -3 * gsl_rng_uniform(rng) : 4 * gsl_rng_uniform(rng) - 2;
            m->pi0[s][a] = gsl_rng_uniform(rng) < 0.2 ? 0 : 0.2 + gsl_rng_uniform(rng);
            tp += m->pi0[s][a];
        }
        if (tp == 0) {
            m->pi0[s][0] = 1;
            tp = 1;
        }
        for (size_t a = 0; a < m->A; a++)
            m->pi0[s][a] /= tp;
        m->rT[s] = discounted ? 0 : 2 * gsl_rng_uniform(rng) - 1;
        m->rho[s] = gsl_rng_uniform(rng) < 0.3 ? 0 : gsl_rng_uniform(rng);
        tr += m->rho[s];
    }
    if (tr == 0) {
        m->rho[0] = 1;
        tr = 1;
    }
    for (size_t s = 0; s < m->S; s++)
        m->rho[s] /= tr;
}

static cai_mdp *build(const ref_mdp *r)
{
    size_t rp[MS * MA + 1], next[MS * MA * MS], n = 0;
    double prob[MS * MA * MS], rew[MS * MA], pri[MS * MA];
    rp[0] = 0;
    for (size_t s = 0; s < r->S; s++)
        for (size_t a = 0; a < r->A; a++) {
            for (size_t x = 0; x < r->S; x++)
                if (r->P[s][a][x] > 0) {
                    next[n] = x;
                    prob[n++] = r->P[s][a][x];
                }
            rp[s * r->A + a + 1] = n;
            rew[s * r->A + a] = r->r[s][a];
            pri[s * r->A + a] = r->pi0[s][a];
        }
    cai_mdp_spec sp = {.n_states = r->S, .n_actions = r->A, .initial = r->rho,
                       .row_ptr = rp, .next = next, .prob = prob, .reward = rew,
                       .terminal = r->T ? r->rT : NULL, .action_prior = pri,
                       .horizon = r->T, .discount = r->gamma, .temperature = r->alpha};
    cai_mdp *m = NULL;
    cai_error e;
    CU_ASSERT_EQUAL(cai_mdp_create(&sp, &m, &e), CAI_OK);
    return m;
}

/* One backup of the DESIGN.md equations: Q from V' then V and pi. */
static void backup(const ref_mdp *m, bool exact, double alpha, const double *Vn,
                   double Q[MS][MA], double *V, double pi[MS][MA])
{
    for (size_t s = 0; s < m->S; s++) {
        for (size_t a = 0; a < m->A; a++) {
            double inner;
            if (exact && alpha > 0) {
                double z = 0;
                for (size_t n = 0; n < m->S; n++)
                    z += m->P[s][a][n] * exp(Vn[n] / alpha);
                if (m->gamma > 0)
                    z = m->gamma * z + (1 - m->gamma);
                inner = alpha * log(z);
            } else if (exact) {
                inner = m->gamma > 0 ? 0 : -INFINITY;
                for (size_t n = 0; n < m->S; n++)
                    if (m->P[s][a][n] > 0)
                        inner = fmax(inner, Vn[n]);
            } else {
                inner = 0;
                for (size_t n = 0; n < m->S; n++)
                    inner += m->P[s][a][n] * Vn[n];
                if (m->gamma > 0)
                    inner *= m->gamma;
            }
            Q[s][a] = m->r[s][a] + inner;
        }
        if (alpha > 0) {
            double z = 0;
            for (size_t a = 0; a < m->A; a++)
                z += m->pi0[s][a] * exp(Q[s][a] / alpha);
            V[s] = alpha * log(z);
            for (size_t a = 0; a < m->A; a++)
                pi[s][a] = m->pi0[s][a] * exp((Q[s][a] - V[s]) / alpha);
        } else {
            double best = -INFINITY;
            for (size_t a = 0; a < m->A; a++)
                if (m->pi0[s][a] > 0)
                    best = fmax(best, Q[s][a]);
            V[s] = best;
            size_t k = 0;
            for (size_t a = 0; a < m->A; a++)
                k += m->pi0[s][a] > 0 && Q[s][a] >= best - 1e-9 * fmax(1, fabs(best));
            for (size_t a = 0; a < m->A; a++)
                pi[s][a] = m->pi0[s][a] > 0 && Q[s][a] >= best - 1e-9 * fmax(1, fabs(best))
                               ? 1.0 / (double)k : 0.0;
        }
    }
}

/* Solve m (built from r) with alg and compare V, Q, the policy, the
 * objective, the log-evidence and (where defined as a push-forward) the state
 * distributions with the DESIGN.md equations written out above. */
static void compare_solution(const ref_mdp *rr, cai_mdp *m, cai_control_algorithm alg)
{
    ref_mdp r = *rr;
    cai_solve_options o = cai_solve_options_default();
    o.algorithm = alg;
    cai_solution *sol = NULL;
    cai_error e;
    CU_ASSERT_FATAL(cai_mdp_solve(m, &o, &sol, &e) == CAI_OK);
    bool exact = alg == CAI_CONTROL_EXACT;
    double V[MT + 1][MS], Q[MT][MS][MA], pi[MT][MS][MA];
    memcpy(V[r.T], r.rT, sizeof r.rT);
    for (size_t t = r.T; t-- > 0;)
        backup(&r, exact, r.alpha, V[t + 1], Q[t], V[t], pi[t]);
    double got[MS * MA];
    for (size_t t = 0; t <= r.T; t++) {
        CU_ASSERT_EQUAL(cai_solution_value(sol, t, got, &e), CAI_OK);
        for (size_t s = 0; s < r.S; s++)
            CAI_ASSERT_CLOSE(got[s], V[t][s], 1e-10);
        if (t == r.T)
            break;
        CU_ASSERT_EQUAL(cai_solution_q(sol, t, got, &e), CAI_OK);
        for (size_t s = 0; s < r.S; s++)
            for (size_t a = 0; a < r.A; a++)
                if (r.pi0[s][a] > 0)
                    CAI_ASSERT_CLOSE(got[s * r.A + a], Q[t][s][a], 1e-10);
        CU_ASSERT_EQUAL(cai_solution_policy(sol, t, got, &e), CAI_OK);
        for (size_t s = 0; s < r.S; s++)
            for (size_t a = 0; a < r.A; a++)
                CAI_ASSERT_CLOSE(got[s * r.A + a], pi[t][s][a], 1e-10);
    }
    double obj = 0, ev = 0;
    for (size_t s = 0; s < r.S; s++)
        if (r.rho[s] > 0) {
            obj += r.rho[s] * V[0][s];
            ev += r.alpha > 0 ? r.rho[s] * exp(V[0][s] / r.alpha) : 0;
        }
    CAI_ASSERT_CLOSE(cai_solution_objective(sol), obj, 1e-10);
    if (exact && r.alpha > 0) {
        CAI_ASSERT_CLOSE(cai_solution_log_evidence(sol), log(ev), 1e-10);
    } else {
        CU_ASSERT(isnan(cai_solution_log_evidence(sol)));
    }
    /* without state marginals: the upward pass only, no rho factor */
    cai_solve_options lean = o;
    lean.state_marginals = false;
    cai_solution *ls = NULL;
    CU_ASSERT_FATAL(cai_mdp_solve(m, &lean, &ls, &e) == CAI_OK);
    CAI_ASSERT_CLOSE(cai_solution_objective(ls), obj, 1e-10);
    if (exact && r.alpha > 0)
        CAI_ASSERT_CLOSE(cai_solution_log_evidence(ls), log(ev), 1e-10);
    CU_ASSERT_EQUAL(cai_solution_value(ls, 0, got, &e), CAI_OK);
    for (size_t s = 0; s < r.S; s++)
        CAI_ASSERT_CLOSE(got[s], V[0][s], 1e-10);
    CU_ASSERT_EQUAL(cai_solution_policy(ls, 0, got, &e), CAI_OK);
    for (size_t s = 0; s < r.S; s++)
        for (size_t a = 0; a < r.A; a++)
            CAI_ASSERT_CLOSE(got[s * r.A + a], pi[0][s][a], 1e-10);
    if (r.alpha > 0)
        CU_ASSERT_EQUAL(cai_solution_state_marginal(ls, 0, got, &e), CAI_ERR_STATE);
    cai_solution_free(ls);
    /* variational (and every hard limit): rho pushed through pi and P */
    if (!exact || r.alpha == 0) {
        double mu[MS];
        memcpy(mu, r.rho, sizeof mu);
        for (size_t t = 0; t <= r.T; t++) {
            CU_ASSERT_EQUAL(cai_solution_state_marginal(sol, t, got, &e), CAI_OK);
            for (size_t s = 0; s < r.S; s++)
                CAI_ASSERT_CLOSE(got[s], mu[s], 1e-10);
            double nu[MS] = {0};
            for (size_t s = 0; t < r.T && s < r.S; s++)
                for (size_t a = 0; a < r.A; a++)
                    for (size_t n = 0; n < r.S; n++)
                        nu[n] += mu[s] * pi[t][s][a] * r.P[s][a][n];
            memcpy(mu, nu, sizeof mu);
        }
    }
    cai_solution_free(sol);
}

static void check_finite(cai_control_algorithm alg, double alpha_override, int seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, (unsigned long)seed);
    for (int trial = 0; trial < 80; trial++) {
        ref_mdp r;
        random_mdp(&r, rng, false, false);
        if (alpha_override >= 0)
            r.alpha = alpha_override;
        cai_mdp *m = build(&r);
        compare_solution(&r, m, alg);
        cai_mdp_free(m);
    }
    gsl_rng_free(rng);
}

static void test_exact(void) { check_finite(CAI_CONTROL_EXACT, -1, 1); }
static void test_variational(void) { check_finite(CAI_CONTROL_VARIATIONAL, -1, 2); }
static void test_exact_hard(void) { check_finite(CAI_CONTROL_EXACT, 0, 3); }
static void test_variational_hard(void) { check_finite(CAI_CONTROL_VARIATIONAL, 0, 4); }

/* Enumerate every trajectory s0 a0 ... sT of a tiny MDP: its weight
 * rho * prod P pi0 exp(sum r / alpha + rT / alpha). */
typedef struct brute {
    double log_z;               /* log of the total weight */
    double marg[MT + 1][MS];    /* posterior p(s_t | O) */
    double best;                /* largest log weight */
    size_t best_traj[2 * MT + 1];
    double second;              /* second largest, for ties */
} brute;

static void enumerate(const ref_mdp *r, brute *b)
{
    size_t n = 2 * r->T + 1, x[2 * MT + 1] = {0};
    double Z = 0;
    memset(b, 0, sizeof *b);
    b->best = b->second = -INFINITY;
    for (;;) {
        double lw = log(r->rho[x[0]]);
        for (size_t t = 0; t < r->T; t++) {
            size_t s = x[2 * t], a = x[2 * t + 1], s2 = x[2 * t + 2];
            lw += log(r->P[s][a][s2]) + log(r->pi0[s][a]) + r->r[s][a] / r->alpha;
        }
        lw += r->rT[x[2 * r->T]] / r->alpha;
        if (lw > -INFINITY) {
            double w = exp(lw);
            Z += w;
            for (size_t t = 0; t <= r->T; t++)
                b->marg[t][x[2 * t]] += w;
            if (lw > b->best) {
                b->second = b->best;
                b->best = lw;
                memcpy(b->best_traj, x, n * sizeof *x);
            } else if (lw > b->second) {
                b->second = lw;
            }
        }
        size_t i = n;
        while (i-- > 0) {
            size_t card = i % 2 ? r->A : r->S;
            if (++x[i] < card)
                break;
            x[i] = 0;
        }
        if (i == (size_t)-1)
            break;
    }
    b->log_z = log(Z);
    for (size_t t = 0; t <= r->T; t++)
        for (size_t s = 0; s < r->S; s++)
            b->marg[t][s] /= Z;
}

static void test_brute_force(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    for (int trial = 0; trial < 60; trial++) {
        ref_mdp r;
        random_mdp(&r, rng, false, false);
        r.S = r.S > 3 ? 3 : r.S;
        r.T = r.T > 3 ? 3 : r.T;
        /* renormalise after the cut */
        for (size_t s = 0; s < r.S; s++)
            for (size_t a = 0; a < r.A; a++) {
                double z = 0;
                for (size_t n = 0; n < r.S; n++)
                    z += r.P[s][a][n];
                if (z == 0)
                    r.P[s][a][s] = z = 1;
                for (size_t n = 0; n < r.S; n++)
                    r.P[s][a][n] /= z;
            }
        double z = 0;
        for (size_t s = 0; s < r.S; s++)
            z += r.rho[s];
        if (z == 0)
            r.rho[0] = z = 1;
        for (size_t s = 0; s < r.S; s++)
            r.rho[s] /= z;
        cai_mdp *m = build(&r);
        brute b;
        enumerate(&r, &b);
        cai_solution *sol = NULL;
        cai_error e;
        cai_solve_options o = cai_solve_options_default();
        CU_ASSERT_FATAL(cai_mdp_solve(m, &o, &sol, &e) == CAI_OK);
        CAI_ASSERT_CLOSE(cai_solution_log_evidence(sol), b.log_z, 1e-10);
        double got[MS];
        for (size_t t = 0; t <= r.T; t++) {
            cai_solution_state_marginal(sol, t, got, &e);
            for (size_t s = 0; s < r.S; s++)
                CAI_ASSERT_CLOSE(got[s], b.marg[t][s], 1e-10);
        }
        cai_solution_free(sol);
        /* map: the most probable optimal trajectory and its log score */
        o.algorithm = CAI_CONTROL_MAP;
        CU_ASSERT_FATAL(cai_mdp_solve(m, &o, &sol, &e) == CAI_OK);
        size_t traj[2 * MT + 1];
        double score;
        CU_ASSERT_EQUAL(cai_solution_trajectory(sol, traj, &score, &e), CAI_OK);
        CAI_ASSERT_CLOSE(score, b.best, 1e-10);
        if (b.best - b.second > 1e-9)
            for (size_t i = 0; i < 2 * r.T + 1; i++)
                CU_ASSERT_EQUAL(traj[i], b.best_traj[i]);
        cai_solution_free(sol);
        cai_mdp_free(m);
    }
    gsl_rng_free(rng);
}

static void check_discounted(cai_control_algorithm alg, double alpha, int seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, (unsigned long)seed);
    for (int trial = 0; trial < 30; trial++) {
        ref_mdp r;
        random_mdp(&r, rng, true, alg == CAI_CONTROL_EXACT);
        if (alpha >= 0)
            r.alpha = alpha;
        cai_mdp *m = build(&r);
        cai_solve_options o = cai_solve_options_default();
        o.algorithm = alg;
        cai_solution *sol = NULL;
        cai_error e;
        CU_ASSERT_FATAL(cai_mdp_solve(m, &o, &sol, &e) == CAI_OK);
        CU_ASSERT(cai_solution_converged(sol));
        CU_ASSERT(cai_solution_iterations(sol) > 1);
        /* reference: iterate the backup far past the tolerance */
        double V[MS] = {0}, Vn[MS], Q[MS][MA], pi[MS][MA];
        for (int it = 0; it < 20000; it++) {
            backup(&r, alg == CAI_CONTROL_EXACT, r.alpha, V, Q, Vn, pi);
            memcpy(V, Vn, sizeof V);
        }
        backup(&r, alg == CAI_CONTROL_EXACT, r.alpha, V, Q, Vn, pi);
        double got[MS * MA];
        cai_solution_value(sol, 0, got, &e);
        for (size_t s = 0; s < r.S; s++)
            CAI_ASSERT_CLOSE(got[s], V[s], 1e-10);
        cai_solution_policy(sol, 0, got, &e);
        for (size_t s = 0; s < r.S; s++)
            for (size_t a = 0; a < r.A; a++)
                CAI_ASSERT_CLOSE(got[s * r.A + a], pi[s][a], 1e-9);
        cai_solution_free(sol);
        /* Gauss-Seidel sweeps reach the same fixed point */
        o.sweep = CAI_SWEEP_GAUSS_SEIDEL;
        CU_ASSERT_FATAL(cai_mdp_solve(m, &o, &sol, &e) == CAI_OK);
        CU_ASSERT(cai_solution_converged(sol));
        cai_solution_value(sol, 0, got, &e);
        for (size_t s = 0; s < r.S; s++)
            CAI_ASSERT_CLOSE(got[s], V[s], 1e-10);
        cai_solution_free(sol);
        cai_mdp_free(m);
    }
    gsl_rng_free(rng);
}

static void test_discounted_exact(void) { check_discounted(CAI_CONTROL_EXACT, -1, 6); }
static void test_discounted_variational(void) { check_discounted(CAI_CONTROL_VARIATIONAL, -1, 7); }
static void test_discounted_hard(void) { check_discounted(CAI_CONTROL_VARIATIONAL, 0, 8); }

/* Exact inference with a discount and a positive reward is refused. */
static void test_refuse_positive(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 9);
    ref_mdp r;
    random_mdp(&r, rng, true, true);
    r.r[1][0] = 0.5;
    cai_mdp *m = build(&r);
    cai_solution *sol = NULL;
    cai_error e;
    CU_ASSERT_EQUAL(cai_mdp_solve(m, NULL, &sol, &e), CAI_ERR_INVALID);
    CU_ASSERT_PTR_NULL(sol);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "reward <= 0"));
    cai_mdp_free(m);
    gsl_rng_free(rng);
}

/* The model of sp (into *m) and its variational solution. */
static cai_solution *solve_variational(const cai_mdp_spec *sp, cai_mdp **m)
{
    cai_error e;
    CU_ASSERT_FATAL(cai_mdp_create(sp, m, &e) == CAI_OK);
    cai_solve_options o = cai_solve_options_default();
    o.algorithm = CAI_CONTROL_VARIATIONAL;
    cai_solution *sol = NULL;
    CU_ASSERT_FATAL(cai_mdp_solve(*m, &o, &sol, &e) == CAI_OK);
    return sol;
}

/* Sutton & Barto, example 3.5: the 5x5 grid, gamma 0.9, the optimal values
 * of the book (figure 3.5), here as the hard variational limit. */
static void test_sutton_barto(void)
{
    size_t S = 25, A = 4, rp[101], next[100];
    double prob[100], rew[100], rho[25] = {0};
    const int dr[4] = {-1, 1, 0, 0}, dc[4] = {0, 0, -1, 1};
    rho[0] = 1;
    for (size_t s = 0; s < S; s++) {
        int row = (int)s / 5, col = (int)s % 5;
        for (size_t a = 0; a < A; a++) {
            size_t i = s * A + a, to;
            double rw = 0;
            if (s == 1) { /* A -> A' with +10 */
                to = 21;
                rw = 10;
            } else if (s == 3) { /* B -> B' with +5 */
                to = 13;
                rw = 5;
            } else {
                int nr = row + dr[a], nc = col + dc[a];
                if (nr < 0 || nr > 4 || nc < 0 || nc > 4) {
                    to = s;
                    rw = -1;
                } else {
                    to = (size_t)(nr * 5 + nc);
                }
            }
            rp[i] = i;
            next[i] = to;
            prob[i] = 1;
            rew[i] = rw;
        }
    }
    rp[100] = 100;
    cai_mdp_spec sp = {.n_states = S, .n_actions = A, .initial = rho, .row_ptr = rp,
                       .next = next, .prob = prob, .reward = rew, .discount = 0.9,
                       .temperature = 0};
    cai_mdp *m = NULL;
    cai_error e;
    cai_solution *sol = solve_variational(&sp, &m);
    static const double book[25] = {22.0, 24.4, 22.0, 19.4, 17.5, 19.8, 22.0, 19.8, 17.8,
                                    16.0, 17.8, 19.8, 17.8, 16.0, 14.4, 16.0, 17.8, 16.0,
                                    14.4, 13.0, 14.4, 16.0, 14.4, 13.0, 11.7};
    double V[25];
    cai_solution_value(sol, 0, V, &e);
    for (size_t s = 0; s < S; s++)
        CU_ASSERT(fabs(V[s] - book[s]) < 0.05 + 1e-12);
    CU_ASSERT(fabs(V[1] - 24.419428) < 1e-5); /* 10 / (1 - 0.9^5) ... to 6 digits */
    cai_solution_free(sol);
    cai_mdp_free(m);
}

/* Levine section 3.1: exact inference is optimistic under stochastic
 * dynamics. A lottery: safe pays 0 surely; gamble pays 10 with 0.05 and -1
 * otherwise (expected -0.45). Exact prefers the gamble, variational not. */
static void test_lottery(void)
{
    /* states start, sure, lose, win; actions safe, gamble; rows (start, safe)
     * -> sure, (start, gamble) -> lose 0.95 / win 0.05, then each absorbing */
    const char *states[4] = {"start", "sure", "lose", "win"};
    const char *actions[2] = {"safe", "gamble"};
    size_t rp8[9] = {0, 1, 3, 4, 5, 6, 7, 8, 9}, next8[9] = {1, 2, 3, 1, 1, 2, 2, 3, 3};
    double prob8[9] = {1, 0.95, 0.05, 1, 1, 1, 1, 1, 1}, rew8[8] = {0};
    double term4[4] = {0, 0, -1, 10}, rho4[4] = {1, 0, 0, 0};
    cai_mdp_spec sp = {.n_states = 4, .n_actions = 2, .state_names = states,
                       .action_names = actions, .initial = rho4, .row_ptr = rp8,
                       .next = next8, .prob = prob8, .reward = rew8, .terminal = term4,
                       .horizon = 1, .temperature = 1};
    cai_mdp *m = NULL;
    cai_error e;
    CU_ASSERT_FATAL(cai_mdp_create(&sp, &m, &e) == CAI_OK);
    double pol[8];
    cai_solution *sol = NULL;
    cai_solve_options o = cai_solve_options_default();
    CU_ASSERT_FATAL(cai_mdp_solve(m, &o, &sol, &e) == CAI_OK);
    cai_solution_policy(sol, 0, pol, &e);
    CU_ASSERT(pol[1] > pol[0]); /* exact: gamble */
    /* Q(start, gamble) = log(0.95 e^-1 + 0.05 e^10) */
    double q[8];
    cai_solution_q(sol, 0, q, &e);
    CAI_ASSERT_CLOSE(q[1], log(0.95 * exp(-1) + 0.05 * exp(10)), 1e-12);
    cai_solution_free(sol);
    o.algorithm = CAI_CONTROL_VARIATIONAL;
    CU_ASSERT_FATAL(cai_mdp_solve(m, &o, &sol, &e) == CAI_OK);
    cai_solution_policy(sol, 0, pol, &e);
    CU_ASSERT(pol[0] > pol[1]); /* variational: safe */
    cai_solution_q(sol, 0, q, &e);
    CAI_ASSERT_CLOSE(q[1], 0.95 * -1 + 0.05 * 10, 1e-12);
    cai_solution_free(sol);
    cai_mdp_free(m);
}

/* The soft return of the variational policy, evaluated under the true
 * dynamics, is the variational objective; the plain return matches a
 * forward computation here. */
static void test_evaluate(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 10);
    for (int trial = 0; trial < 30; trial++) {
        ref_mdp r;
        random_mdp(&r, rng, trial % 3 == 0, false);
        cai_mdp *m = build(&r);
        cai_solve_options o = cai_solve_options_default();
        o.algorithm = CAI_CONTROL_VARIATIONAL;
        cai_solution *sol = NULL;
        cai_error e;
        CU_ASSERT_FATAL(cai_mdp_solve(m, &o, &sol, &e) == CAI_OK);
        size_t T = r.T ? r.T : 1, SA = r.S * r.A;
        double *pol = malloc(T * SA * sizeof *pol);
        for (size_t t = 0; t < T; t++)
            cai_solution_policy(sol, t, pol + t * SA, &e);
        cai_evaluation ev;
        CU_ASSERT_EQUAL(cai_mdp_evaluate(m, pol, false, &ev, &e), CAI_OK);
        CAI_ASSERT_CLOSE(ev.soft_return, cai_solution_objective(sol), 1e-9);
        if (r.T) {
            /* plain return by pushing rho forward; the same state
             * distributions from cai_mdp_policy_state_marginals */
            double mu[MS], ret = 0, marg[(MT + 1) * MS];
            CU_ASSERT_EQUAL(cai_mdp_policy_state_marginals(m, pol, false, marg, &e), CAI_OK);
            memcpy(mu, r.rho, sizeof mu);
            for (size_t t = 0; t < r.T; t++) {
                for (size_t s = 0; s < r.S; s++)
                    CAI_ASSERT_CLOSE(marg[t * r.S + s], mu[s], 1e-12);
                double nu[MS] = {0};
                for (size_t s = 0; s < r.S; s++)
                    for (size_t a = 0; a < r.A; a++) {
                        double p = pol[t * SA + s * r.A + a];
                        ret += mu[s] * p * r.r[s][a];
                        for (size_t n = 0; n < r.S; n++)
                            nu[n] += mu[s] * p * r.P[s][a][n];
                    }
                memcpy(mu, nu, sizeof mu);
            }
            for (size_t s = 0; s < r.S; s++) {
                ret += mu[s] * r.rT[s];
                CAI_ASSERT_CLOSE(marg[r.T * r.S + s], mu[s], 1e-12);
            }
            CAI_ASSERT_CLOSE(ev.plain_return, ret, 1e-10);
        } else {
            double marg[MS];
            CU_ASSERT_EQUAL(cai_mdp_policy_state_marginals(m, pol, false, marg, &e),
                            CAI_ERR_INVALID);
        }
        /* a policy that does not sum to one is refused */
        pol[0] += 0.5;
        CU_ASSERT_EQUAL(cai_mdp_evaluate(m, pol, false, &ev, &e), CAI_ERR_NUMERIC);
        free(pol);
        cai_solution_free(sol);
        cai_mdp_free(m);
    }
    gsl_rng_free(rng);
}

/* Gridworld semantics on a hand-worked map. */
static void test_gridworld(void)
{
    cai_gridworld_spec sp = {.map = "S.#\n.GX\n", .slip = 0.2, .step = -1, .goal = 10,
                             .pit = -5, .horizon = 4, .temperature = 1};
    cai_mdp *m = NULL;
    cai_error e;
    CU_ASSERT_FATAL(cai_gridworld_create(&sp, &m, &e) == CAI_OK);
    /* states r0c0 r0c1 r1c0 r1c1 r1c2 done */
    CU_ASSERT_EQUAL(cai_mdp_n_states(m), 6);
    CU_ASSERT_STRING_EQUAL(cai_mdp_state_name(m, 1), "r0c1");
    CU_ASSERT_STRING_EQUAL(cai_mdp_state_name(m, 5), "done");
    CU_ASSERT_STRING_EQUAL(cai_mdp_action_name(m, 3), "right");
    const size_t *rp;
    const uint32_t *nx;
    const double *pr;
    cai_mdp_dynamics(m, &rp, &nx, &pr);
    /* r0c1, right: a wall -> stay 0.8; slips up (off grid: stay) and down
     * (r1c1) 0.1 each: {r0c1: 0.9, r1c1: 0.1} */
    size_t row = 1 * 4 + 3;
    CU_ASSERT_EQUAL(rp[row + 1] - rp[row], 2);
    CU_ASSERT_EQUAL(nx[rp[row]], 1);
    CAI_ASSERT_CLOSE(pr[rp[row]], 0.9, 1e-15);
    CU_ASSERT_EQUAL(nx[rp[row] + 1], 3);
    CAI_ASSERT_CLOSE(pr[rp[row] + 1], 0.1, 1e-15);
    /* G (r1c1) and X (r1c2): to done with their rewards; done absorbing */
    for (size_t a = 0; a < 4; a++) {
        CU_ASSERT_EQUAL(nx[rp[3 * 4 + a]], 5);
        CAI_ASSERT_CLOSE(cai_mdp_reward(m)[3 * 4 + a], 10, 0);
        CAI_ASSERT_CLOSE(cai_mdp_reward(m)[4 * 4 + a], -5, 0);
        CU_ASSERT_EQUAL(nx[rp[5 * 4 + a]], 5);
        CAI_ASSERT_CLOSE(cai_mdp_reward(m)[5 * 4 + a], 0, 0);
    }
    CAI_ASSERT_CLOSE(cai_mdp_initial(m)[0], 1, 0);
    /* name lookups, both ways */
    for (size_t s = 0; s < cai_mdp_n_states(m); s++)
        CU_ASSERT_EQUAL(cai_mdp_find_state(m, cai_mdp_state_name(m, s)), s);
    for (size_t a = 0; a < 4; a++)
        CU_ASSERT_EQUAL(cai_mdp_find_action(m, cai_mdp_action_name(m, a)), a);
    CU_ASSERT_EQUAL(cai_mdp_find_state(m, "r9c9"), CAI_NONE);
    CU_ASSERT_EQUAL(cai_mdp_find_action(m, "jump"), CAI_NONE);
    cai_mdp_free(m);
    /* no S, two S, a bad character */
    sp.map = "..\n.G";
    CU_ASSERT_EQUAL(cai_gridworld_create(&sp, &m, &e), CAI_ERR_INVALID);
    sp.map = "SS\n.G";
    CU_ASSERT_EQUAL(cai_gridworld_create(&sp, &m, &e), CAI_ERR_INVALID);
    sp.map = "S?\n.G";
    CU_ASSERT_EQUAL(cai_gridworld_create(&sp, &m, &e), CAI_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(e.message, "column 2"));
}

/* A gridworld solved by every algorithm against the same reference: its
 * arrays copied into the reference's form. */
static void test_gridworld_solve(void)
{
    const char *maps[2] = {"S.G\n", "S.\nXG\n"};
    for (int k = 0; k < 2; k++) {
        cai_gridworld_spec sp = {.map = maps[k], .slip = 0.2, .step = -1, .goal = 10,
                                 .pit = -5, .horizon = 4, .temperature = 0.8};
        cai_mdp *m = NULL;
        cai_error e;
        CU_ASSERT_FATAL(cai_gridworld_create(&sp, &m, &e) == CAI_OK);
        ref_mdp r;
        memset(&r, 0, sizeof r);
        r.S = cai_mdp_n_states(m);
        r.A = cai_mdp_n_actions(m);
        CU_ASSERT_FATAL(r.S <= MS && r.A == 4);
        r.T = 4;
        r.alpha = 0.8;
        const size_t *rp;
        const uint32_t *nx;
        const double *pr;
        cai_mdp_dynamics(m, &rp, &nx, &pr);
        for (size_t s = 0; s < r.S; s++) {
            r.rho[s] = cai_mdp_initial(m)[s];
            for (size_t a = 0; a < r.A; a++) {
                size_t row = s * r.A + a;
                for (size_t j = rp[row]; j < rp[row + 1]; j++)
                    r.P[s][a][nx[j]] = pr[j];
                r.r[s][a] = cai_mdp_reward(m)[row];
                r.pi0[s][a] = 0.25;
            }
        }
        for (cai_control_algorithm alg = CAI_CONTROL_EXACT; alg <= CAI_CONTROL_VARIATIONAL; alg++)
            compare_solution(&r, m, alg);
        cai_mdp_free(m);
    }
}

/* Sampling: deterministic for a seed, every step a legal move. */
static void test_sample(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 12);
    ref_mdp r;
    random_mdp(&r, rng, false, false);
    cai_mdp *m = build(&r);
    cai_solution *sol = NULL;
    cai_error e;
    CU_ASSERT_FATAL(cai_mdp_solve(m, NULL, &sol, &e) == CAI_OK);
    size_t K = 50, W = 2 * r.T + 1, *a = malloc(K * W * sizeof *a), *b = malloc(K * W * sizeof *b);
    size_t sa[50], sb[50];
    CU_ASSERT_EQUAL(cai_solution_sample(sol, 77, K, r.T, a, sa, &e), CAI_OK);
    CU_ASSERT_EQUAL(cai_solution_sample(sol, 77, K, r.T, b, sb, &e), CAI_OK);
    CU_ASSERT(memcmp(a, b, K * W * sizeof *a) == 0);
    for (size_t k = 0; k < K; k++) {
        CU_ASSERT_EQUAL(sa[k], r.T);
        CU_ASSERT(r.rho[a[k * W]] > 0);
        for (size_t t = 0; t < r.T; t++) {
            size_t s = a[k * W + 2 * t], act = a[k * W + 2 * t + 1], n = a[k * W + 2 * t + 2];
            CU_ASSERT(r.pi0[s][act] > 0);
            CU_ASSERT(r.P[s][act][n] > 0);
        }
    }
    free(a);
    free(b);
    cai_solution_free(sol);
    cai_mdp_free(m);
    gsl_rng_free(rng);
}

/* Rewards of magnitude 1e6 and a long horizon stay finite and exact. */
static void test_large_rewards(void)
{
    size_t rp[5] = {0, 1, 2, 3, 4}, next[4] = {0, 1, 1, 0};
    double prob[4] = {1, 1, 1, 1}, rew[4] = {-1e6, 0, 1e6, -1e6}, rho[2] = {0.5, 0.5};
    cai_mdp_spec sp = {.n_states = 2, .n_actions = 2, .initial = rho, .row_ptr = rp,
                       .next = next, .prob = prob, .reward = rew, .horizon = 100000,
                       .temperature = 1};
    cai_mdp *m = NULL;
    cai_error e;
    CU_ASSERT_FATAL(cai_mdp_create(&sp, &m, &e) == CAI_OK);
    cai_solution *sol = NULL;
    CU_ASSERT_FATAL(cai_mdp_solve(m, NULL, &sol, &e) == CAI_OK);
    /* from state 1, action 0 earns 1e6 and stays: V_0(1) = 1e11 up to log 2
     * terms of the other action, exactly 1e6 * T + log(1 + e^{-2e6}) per step */
    double V[2];
    cai_solution_value(sol, 0, V, &e);
    /* 1e5 sequential additions of ~1e6 to ~1e11 round to ~1e-12 relative */
    CAI_ASSERT_CLOSE(V[1], 1e6 * 100000 + 100000 * log(0.5), 1e-11);
    CAI_ASSERT_CLOSE(V[0], V[1] - 1e6, 1e-11);
    CU_ASSERT(isfinite(cai_solution_log_evidence(sol)));
    cai_solution_free(sol);
    cai_mdp_free(m);
}

/* Variational values whose soft-max terms spread over a few nats, over
 * hundreds, and over thousands within one block of states (the engine takes
 * a block's log-sum-exps under one shift where the terms allow it, each
 * state's own max where they do not), with forbidden actions (prior 0):
 * against the soft Bellman recursion written out with each state's own max. */
static void spread_case(double c)
{
    enum { S = 300, A = 3, T = 6 };
    double alpha = 0.5;
    size_t rp[S * A + 1], next[2 * S * A];
    double prob[2 * S * A], rew[S * A], pri[S * A], rho[S] = {1};
    for (size_t s = 0; s < S; s++)
        for (size_t a = 0; a < A; a++) {
            size_t r = s * A + a;
            rp[r] = 2 * r;
            size_t n1 = (s * 7 + a * 13 + 1) % S, n2 = (n1 + 1 + s % 4) % S;
            bool up = n1 < n2; /* successors in increasing order */
            next[2 * r] = up ? n1 : n2;
            next[2 * r + 1] = up ? n2 : n1;
            prob[2 * r] = up ? 0.6 : 0.4;
            prob[2 * r + 1] = up ? 0.4 : 0.6;
            rew[r] = -c * (double)(s % 5) - 0.3 * (double)a;
            pri[r] = s % 3 ? 1.0 / 3 : a == 2 ? 0.0 : 0.5;
        }
    rp[S * A] = 2 * S * A;
    cai_mdp_spec sp = {.n_states = S, .n_actions = A, .initial = rho, .row_ptr = rp,
                       .next = next, .prob = prob, .reward = rew, .action_prior = pri,
                       .horizon = T, .temperature = alpha};
    cai_mdp *m = NULL;
    cai_error e;
    cai_solution *sol = solve_variational(&sp, &m);
    double V[S] = {0}, Vn[S], got[S];
    for (size_t t = T; t-- > 0;) {
        memcpy(Vn, V, sizeof V);
        for (size_t s = 0; s < S; s++) {
            double Q[A], mq = -INFINITY, z = 0;
            for (size_t a = 0; a < A; a++) {
                size_t r = s * A + a;
                Q[a] = rew[r] + prob[2 * r] * Vn[next[2 * r]]
                       + prob[2 * r + 1] * Vn[next[2 * r + 1]];
                if (pri[r] > 0)
                    mq = fmax(mq, Q[a]);
            }
            for (size_t a = 0; a < A; a++)
                if (pri[s * A + a] > 0)
                    z += pri[s * A + a] * exp((Q[a] - mq) / alpha);
            V[s] = mq + alpha * log(z);
        }
        CU_ASSERT_EQUAL(cai_solution_value(sol, t, got, &e), CAI_OK);
        for (size_t s = 0; s < S; s++)
            CAI_ASSERT_CLOSE(got[s], V[s], 1e-12);
    }
    cai_solution_free(sol);
    cai_mdp_free(m);
}

static void test_variational_spread(void)
{
    spread_case(3);
    spread_case(60);
    spread_case(4000);
}

/* Tying: whatever the horizon, the compiled graph holds one transition and
 * one reward/prior potential (plus rho and the terminal rewards), so its
 * potential memory does not grow with T. */
static void test_tying(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 13);
    ref_mdp r;
    random_mdp(&r, rng, false, false);
    size_t bytes = 0;
    for (size_t T = 1; T <= 1000; T *= 10) {
        r.T = T;
        cai_mdp *m = build(&r);
        cai_solution *sol = NULL;
        cai_error e;
        CU_ASSERT_FATAL(cai_mdp_solve(m, NULL, &sol, &e) == CAI_OK);
        const cai_graph *g = cai_solution_graph(sol);
        CU_ASSERT_EQUAL(cai_graph_n_variables(g), 2 * T + 1);
        CU_ASSERT_EQUAL(cai_graph_n_factors(g), 2 * T + 2);
        CU_ASSERT_EQUAL(cai_graph_n_potentials(g), 4);
        /* the graph's transitions are the model's own potential, not a copy */
        CU_ASSERT_PTR_EQUAL(cai_graph_factor_potential(g, 0), cai_mdp_transition_potential(m));
        if (T == 1)
            bytes = cai_graph_potential_bytes(g);
        CU_ASSERT_EQUAL(cai_graph_potential_bytes(g), bytes);
        cai_solution_free(sol);
        cai_mdp_free(m);
    }
    gsl_rng_free(rng);
}

#if defined(_OPENMP)
/* One to three threads give the same bits on a random model of S states,
 * 4 actions, 5 successors (4 S rows: parallel from 65536). */
static void threads_case(size_t S)
{
    size_t A = 4, B = 5, SA = S * A, T = 4;
    size_t *rp = malloc((SA + 1) * sizeof *rp), *next = malloc(SA * B * sizeof *next);
    double *prob = malloc(SA * B * sizeof *prob), *rew = malloc(SA * sizeof *rew);
    double *rho = calloc(S, sizeof *rho);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 14);
    rho[0] = 1;
    rp[0] = 0;
    for (size_t r = 0; r < SA; r++) {
        size_t base = gsl_rng_uniform_int(rng, S - B);
        double left = 1;
        for (size_t k = 0; k < B; k++) {
            next[r * B + k] = base + k;
            double p = k + 1 < B ? left * gsl_rng_uniform(rng) : left;
            prob[r * B + k] = p;
            left -= p;
        }
        rp[r + 1] = (r + 1) * B;
        rew[r] = -3 * gsl_rng_uniform(rng);
    }
    cai_mdp_spec sp = {.n_states = S, .n_actions = A, .initial = rho, .row_ptr = rp,
                       .next = next, .prob = prob, .reward = rew, .horizon = T,
                       .temperature = 0.7};
    cai_mdp *m = NULL;
    cai_error e;
    CU_ASSERT_FATAL(cai_mdp_create(&sp, &m, &e) == CAI_OK);
    for (int alg = 0; alg < 2; alg++) {
        double *V[3], *pi[3];
        for (int k = 0; k < 3; k++) {
            omp_set_num_threads(k + 1);
            cai_solve_options o = cai_solve_options_default();
            o.algorithm = alg ? CAI_CONTROL_VARIATIONAL : CAI_CONTROL_EXACT;
            cai_solution *sol = NULL;
            CU_ASSERT_FATAL(cai_mdp_solve(m, &o, &sol, &e) == CAI_OK);
            V[k] = malloc(S * sizeof(double));
            pi[k] = malloc(SA * sizeof(double));
            cai_solution_value(sol, 0, V[k], &e);
            cai_solution_policy(sol, 1, pi[k], &e);
            cai_solution_free(sol);
        }
        for (int k = 1; k < 3; k++) {
            CU_ASSERT(memcmp(V[0], V[k], S * sizeof(double)) == 0);
            CU_ASSERT(memcmp(pi[0], pi[k], SA * sizeof(double)) == 0);
        }
        for (int k = 0; k < 3; k++) {
            free(V[k]);
            free(pi[k]);
        }
    }
    omp_set_num_threads(omp_get_num_procs());
    cai_mdp_free(m);
    gsl_rng_free(rng);
    free(rp);
    free(next);
    free(prob);
    free(rew);
    free(rho);
}
#endif

/* Threads split rows, never a sum: the same bits for any number of threads,
 * with each thread's own copy of the child's message (20000 states) and
 * with one copy for all (140000 states, past COPY_MAX). */
static void test_threads_bit_identical(void)
{
#if defined(_OPENMP)
    threads_case(20000);
    threads_case(140000);
#endif
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("control", NULL, NULL);
    CU_add_test(s, "exact, finite horizon", test_exact);
    CU_add_test(s, "variational, finite horizon", test_variational);
    CU_add_test(s, "exact, alpha = 0", test_exact_hard);
    CU_add_test(s, "variational, alpha = 0", test_variational_hard);
    CU_add_test(s, "brute force over trajectories", test_brute_force);
    CU_add_test(s, "discounted exact", test_discounted_exact);
    CU_add_test(s, "discounted variational", test_discounted_variational);
    CU_add_test(s, "discounted alpha = 0", test_discounted_hard);
    CU_add_test(s, "exact discount with positive reward refused", test_refuse_positive);
    CU_add_test(s, "Sutton & Barto example 3.5", test_sutton_barto);
    CU_add_test(s, "lottery: the optimism of exact inference", test_lottery);
    CU_add_test(s, "policy evaluation", test_evaluate);
    CU_add_test(s, "gridworld semantics", test_gridworld);
    CU_add_test(s, "gridworlds solved against the reference", test_gridworld_solve);
    CU_add_test(s, "sampling", test_sample);
    CU_add_test(s, "rewards of 1e6 over 1e5 steps", test_large_rewards);
    CU_add_test(s, "variational values spread within a block", test_variational_spread);
    CU_add_test(s, "tied potentials", test_tying);
    CU_add_test(s, "one and two threads: the same bits", test_threads_bit_identical);
}
