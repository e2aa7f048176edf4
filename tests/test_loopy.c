/* tests/test_loopy.c — loopy belief propagation: exact on random forests
 * (against brute force and the tree engine, every schedule, sum- and
 * max-product), approximate on single cycles and Ising grids (against brute
 * force and a Bethe free energy written here), damping, the trace, tying,
 * support mode, absorbed factors, evidence and the error paths. */
#include "harness.h"
#include "oracle.h"
#include "support.h"

#include "cai/logmath.h"
#include "cai/loopy.h"

static const cai_schedule schedules[3] = {CAI_SCHEDULE_FLOODING, CAI_SCHEDULE_SEQUENTIAL,
                                          CAI_SCHEDULE_RESIDUAL};
static const char *const schedule_names[3] = {"flooding", "sequential", "residual"};

/* Create and run loopy BP on g with options o; fatal on failure. */
static cai_loopy *run_loopy_opt(const cai_graph *g, const cai_loopy_options *o)
{
    cai_loopy *lp = NULL;
    cai_error err;
    cai_status st = cai_loopy_create(g, o, &lp, &err);
    if (st != CAI_OK)
        fprintf(stderr, "\n  cai_loopy_create: %s\n", err.message);
    CU_ASSERT_FATAL(st == CAI_OK);
    CU_ASSERT_FATAL(cai_loopy_run(lp, &err) == CAI_OK);
    return lp;
}

/* The same with the default options but these (max_iterations 0: default). */
static cai_loopy *run_loopy(const cai_graph *g, cai_algorithm alg, cai_schedule sched,
                            double damping, size_t max_iterations)
{
    cai_loopy_options o = cai_loopy_options_default();
    o.algorithm = alg;
    o.schedule = sched;
    o.damping = damping;
    if (max_iterations)
        o.max_iterations = max_iterations;
    return run_loopy_opt(g, &o);
}

static int failures_reported = 0;

static void note_failure(unsigned long seed, const char *schedule, const char *what)
{
    if (failures_reported++ < 10)
        fprintf(stderr, "\n  seed %lu, %s: %s\n", seed, schedule, what);
}

/* ------------------------------------------------------------------ */
/* random forests (as in test_engine.c: absorbed and one-variable       */
/* factors, CSR conditionals, tying, evidence, zeros)                   */

/* wide: log values in [-400, 400], so messages span beyond the scaled
 * linear domain of the kernels. */
static size_t make_pot(tm_model *m, gsl_rng *r, const size_t *scope, size_t k, double csr_prob,
                       int wide)
{
    size_t cards[TM_MAXK];
    for (size_t i = 0; i < k; i++)
        cards[i] = m->card[scope[i]];
    int csr = gsl_rng_uniform(r) < csr_prob;
    size_t tie = tm_find_pot(m, k, cards, csr);
    if (tie != CAI_NONE && gsl_rng_uniform(r) < 0.5)
        return tie;
    if (csr)
        return tm_pot_csr_random(m, r, k - 1, cards, cards[k - 1], 0.7, 0);
    return wide ? tm_pot_dense_random(m, r, k, cards, 0.05, -400.0, 400.0)
                : tm_pot_dense_random(m, r, k, cards, 0.05, -3.0, 3.0);
}

static void gen_forest(tm_model *m, gsl_rng *r, int wide)
{
    tm_init(m);
    size_t n = 2 + gsl_rng_uniform_int(r, 10);
    for (size_t v = 0; v < n; v++)
        tm_add_var(m, gsl_rng_uniform(r) < 0.05 ? 1 : 2 + gsl_rng_uniform_int(r, 3));
    tm_cap_joint(m, r, 5000);
    size_t perm[TM_MAXV];
    cai_test_permutation(r, perm, n);
    int placed[TM_MAXV] = {0};
    size_t list[TM_MAXV], n_placed = 0;
    for (size_t i = 0; i < n; i++) {
        size_t v = perm[i];
        if (placed[v])
            continue;
        if (n_placed == 0 || gsl_rng_uniform(r) < 0.15) {
            placed[v] = 1;
            list[n_placed++] = v;
            continue;
        }
        size_t scope[4], k = 2;
        scope[0] = list[gsl_rng_uniform_int(r, n_placed)];
        scope[1] = v;
        placed[v] = 1;
        list[n_placed++] = v;
        for (double p = 0.3; k < 4 && gsl_rng_uniform(r) < p; p = 0.25) {
            size_t u = tm_place_next(perm, i + 1, n, placed, list, &n_placed);
            if (u == CAI_NONE)
                break;
            scope[k++] = u;
        }
        cai_test_shuffle(r, scope, k);
        tm_add_factor(m, make_pot(m, r, scope, k, 0.3, wide), scope, k, CAI_MODE_NORMAL, 1);
    }
    size_t n_main = m->nf, n_abs = n_main ? gsl_rng_uniform_int(r, 4) : 0;
    for (size_t a = 0; a < n_abs; a++) {
        const tm_factor *host = &m->f[gsl_rng_uniform_int(r, n_main)];
        size_t scope[4];
        memcpy(scope, host->scope, host->k * sizeof(size_t));
        cai_test_shuffle(r, scope, host->k);
        size_t k = 2 + gsl_rng_uniform_int(r, host->k - 1);
        tm_add_factor(m, make_pot(m, r, scope, k, 0.3, wide), scope, k, CAI_MODE_NORMAL, 0);
    }
    size_t n_un = gsl_rng_uniform_int(r, 5);
    for (size_t u = 0; u < n_un; u++) {
        size_t v = gsl_rng_uniform_int(r, n);
        tm_add_factor(m, make_pot(m, r, &v, 1, 0.4, wide), &v, 1, CAI_MODE_NORMAL, 0);
    }
    for (size_t v = 0; v < n; v++)
        if (gsl_rng_uniform(r) < 0.15)
            m->ev[v] = gsl_rng_uniform_int(r, m->card[v]);
}

static struct {
    unsigned forests, zero_weight, absorbed, absorbed_col, csr, map_unique, map_tied;
    size_t iterations[3], runs;
} fcov;

/* Variables without factors are tied in every state: MAP takes the
 * evidence or state 0 there. */
static void map_fixed(const tm_model *m, size_t *fix)
{
    for (size_t v = 0; v < m->n; v++) {
        int has = 0;
        for (size_t i = 0; i < m->nf; i++)
            has |= tm_in_scope(&m->f[i], v);
        fix[v] = has ? CAI_NONE : (m->ev[v] != CAI_NONE ? m->ev[v] : 0);
    }
}

static void check_forest_sum(const tm_model *m, const tm_oracle *o, const cai_workspace *ws,
                             const cai_loopy *lp, unsigned long seed, const char *sname)
{
    const double tol = 1e-10;
    CU_ASSERT(cai_loopy_converged(lp));
    double lz = cai_loopy_log_z(lp);
    CAI_ASSERT_CLOSE(lz, o->log_z, tol);
    CAI_ASSERT_CLOSE(lz, cai_query_log_z(ws), tol);
    if (!cai_test_close(lz, o->log_z, tol))
        note_failure(seed, sname, "log Z");
    double out[4 * 4 * 4 * 4], ref[4 * 4 * 4 * 4];
    for (size_t v = 0; v < m->n; v++) {
        CU_ASSERT(cai_loopy_marginal(lp, v, out, NULL) == CAI_OK);
        CU_ASSERT(cai_query_marginal(ws, v, ref, NULL) == CAI_OK);
        for (size_t s = 0; s < m->card[v]; s++) {
            if (o->log_z == -INFINITY) {
                CU_ASSERT(isnan(out[s]));
                continue;
            }
            CAI_ASSERT_CLOSE(out[s], o->marg[v][s], tol);
            CAI_ASSERT_CLOSE(out[s], ref[s], tol);
            if (!cai_test_close(out[s], o->marg[v][s], tol))
                note_failure(seed, sname, "marginal");
        }
    }
    for (size_t f = 0; f < m->nf; f++) {
        size_t size = m->pot[m->f[f].pot].size;
        CU_ASSERT(cai_loopy_factor_belief(lp, f, out, NULL) == CAI_OK);
        for (size_t j = 0; j < size; j++) {
            if (o->log_z == -INFINITY) {
                CU_ASSERT(isnan(out[j]));
                continue;
            }
            CAI_ASSERT_CLOSE(out[j], o->belief[f][j], tol);
            if (!cai_test_close(out[j], o->belief[f][j], tol))
                note_failure(seed, sname, "factor belief");
        }
    }
}

static void check_forest_max(const tm_model *m, const tm_oracle *o, const size_t *fix,
                             const cai_loopy *lp, unsigned long seed, const char *sname)
{
    const double tol = 1e-10;
    size_t x[TM_MAXV];
    double sc = NAN;
    CU_ASSERT(cai_loopy_converged(lp));
    CU_ASSERT_FATAL(cai_loopy_map(lp, x, &sc, NULL) == CAI_OK);
    CU_ASSERT(cai_loopy_log_z(lp) == sc);
    /* a MAP assignment, ties included */
    CAI_ASSERT_CLOSE(sc, o->best, tol);
    CAI_ASSERT_CLOSE(tm_log_weight(m, x, m->ev, NULL), o->best, tol);
    if (!cai_test_close(sc, o->best, tol))
        note_failure(seed, sname, "MAP score");
    for (size_t v = 0; v < m->n; v++)
        if (fix[v] != CAI_NONE && o->best > -INFINITY)
            CU_ASSERT(x[v] == fix[v]);
    if (o->best > -INFINITY && o->best - o->second > 1e-9) {
        int same = memcmp(x, o->best_x, m->n * sizeof(size_t)) == 0;
        CU_ASSERT(same);
        if (!same)
            note_failure(seed, sname, "MAP assignment");
    }
}

static void run_forest(gsl_rng *r, unsigned long seed, int wide)
{
    tm_model m;
    gen_forest(&m, r, wide);
    cai_graph *g = tm_build_graph(&m, NULL, 1);
    size_t fix[TM_MAXV];
    map_fixed(&m, fix);
    tm_oracle o;
    tm_oracle_run(&m, m.ev, fix, &o);
    fcov.forests++;
    fcov.zero_weight += o.log_z == -INFINITY;
    if (o.log_z > -INFINITY) {
        fcov.map_unique += o.best - o.second > 1e-9;
        fcov.map_tied += o.best - o.second <= 1e-9;
    }
    for (size_t i = 0; i < m.nf; i++) {
        fcov.csr += m.pot[m.f[i].pot].is_csr;
        if (m.f[i].main || m.f[i].k < 2)
            continue;
        fcov.absorbed++;
        /* touches its host's last variable? (the host: the first main
         * factor of the largest arity containing it) */
        for (size_t h = 0; h < m.nf; h++) {
            const tm_factor *H = &m.f[h];
            int in = 1;
            for (size_t j = 0; j < m.f[i].k; j++)
                in &= tm_in_scope(H, m.f[i].scope[j]);
            if (H->main && in) {
                fcov.absorbed_col += tm_in_scope(&m.f[i], H->scope[H->k - 1]);
                break;
            }
        }
    }

    cai_plan *plan = NULL;
    cai_workspace *ws = NULL;
    CU_ASSERT_FATAL(cai_plan_create(g, NULL, &plan, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_workspace_create(plan, &ws, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_plan_execute(plan, ws, NULL) == CAI_OK);
    for (int si = 0; si < 3; si++) {
        cai_loopy *lp = run_loopy(g, CAI_SUM_PRODUCT, schedules[si], 0.0, 0);
        CU_ASSERT(cai_loopy_n_clusters(lp) == cai_plan_n_clusters(plan));
        fcov.iterations[si] += cai_loopy_iterations(lp);
        check_forest_sum(&m, &o, ws, lp, seed, schedule_names[si]);
        cai_loopy_free(lp);
        lp = run_loopy(g, CAI_MAX_PRODUCT, schedules[si], 0.0, 0);
        check_forest_max(&m, &o, fix, lp, seed, schedule_names[si]);
        cai_loopy_free(lp);
    }
    fcov.runs++;
    /* damping slows it down but reaches the same fixed point; the residual
     * of a damped message is (1 - damping) times its distance to it, so a
     * tighter tolerance keeps the answers within 1e-10 */
    cai_loopy_options opt = cai_loopy_options_default();
    opt.schedule = CAI_SCHEDULE_RESIDUAL;
    opt.damping = 0.3;
    opt.tol = 1e-13;
    cai_loopy *lp = run_loopy_opt(g, &opt);
    check_forest_sum(&m, &o, ws, lp, seed, "residual, damped");
    cai_loopy_free(lp);
    cai_workspace_free(ws);
    cai_plan_free(plan);
    cai_graph_free(g);
    tm_oracle_free(&o);
    tm_free(&m);
}

static void run_forests(unsigned long first, unsigned long count, int wide)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    memset(&fcov, 0, sizeof fcov);
    for (unsigned long t = 0; t < count; t++) {
        gsl_rng_set(r, first + t);
        run_forest(r, first + t, wide);
    }
    fprintf(stderr,
            "\n  %u forests: %u zero-weight, %u absorbed factors (%u touching the host's "
            "last variable), %u CSR factors, MAP %u unique / %u tied; mean iterations "
            "flooding %.2f, sequential %.2f, residual %.2f ",
            fcov.forests, fcov.zero_weight, fcov.absorbed, fcov.absorbed_col, fcov.csr,
            fcov.map_unique, fcov.map_tied, (double)fcov.iterations[0] / fcov.runs,
            (double)fcov.iterations[1] / fcov.runs, (double)fcov.iterations[2] / fcov.runs);
    gsl_rng_free(r);
}

static void test_random_forests(void)
{
    run_forests(7000, 120, 0);
}

static void test_random_forests_wide(void)
{
    run_forests(9000, 30, 1);
}

/* ------------------------------------------------------------------ */
/* loopy graphs                                                        */

/* Binary Ising model: log psi(x_i, x_j) = J s_i s_j, log phi(x_i) = h s_i
 * with s = +-1 (state 0 is s = +1). */
static size_t ising_pair(tm_model *m, size_t a, size_t b, double J)
{
    size_t cards[2] = {2, 2};
    double v[4] = {J, -J, -J, J};
    size_t p = tm_pot_dense(m, 2, cards, v, 0);
    size_t sc[2] = {a, b};
    return tm_add_factor(m, p, sc, 2, CAI_MODE_NORMAL, 1);
}

static void ising_field(tm_model *m, size_t a, double h)
{
    size_t cards[1] = {2};
    double v[2] = {h, -h};
    size_t p = tm_pot_dense(m, 1, cards, v, 0);
    tm_add_factor(m, p, &a, 1, CAI_MODE_NORMAL, 0);
}

/* A single cycle of n binary variables, couplings in [-jmax, jmax], fields
 * in [-hmax, hmax]. */
static void gen_cycle(tm_model *m, gsl_rng *r, size_t n, double jmax, double hmax)
{
    tm_init(m);
    for (size_t v = 0; v < n; v++)
        tm_add_var(m, 2);
    for (size_t v = 0; v < n; v++)
        ising_pair(m, v, (v + 1) % n, jmax * (2 * gsl_rng_uniform(r) - 1));
    for (size_t v = 0; v < n; v++)
        ising_field(m, v, hmax * (2 * gsl_rng_uniform(r) - 1));
}

/* side x side grid, couplings in [jlo, jhi] (attractive when jlo >= 0),
 * fields in [-hmax, hmax]. */
static void gen_grid(tm_model *m, gsl_rng *r, size_t side, double jlo, double jhi, double hmax)
{
    tm_init(m);
    for (size_t v = 0; v < side * side; v++)
        tm_add_var(m, 2);
    for (size_t i = 0; i < side; i++)
        for (size_t j = 0; j < side; j++) {
            size_t v = i * side + j;
            if (j + 1 < side)
                ising_pair(m, v, v + 1, jlo + (jhi - jlo) * gsl_rng_uniform(r));
            if (i + 1 < side)
                ising_pair(m, v, v + side, jlo + (jhi - jlo) * gsl_rng_uniform(r));
        }
    for (size_t v = 0; v < side * side; v++)
        ising_field(m, v, hmax * (2 * gsl_rng_uniform(r) - 1));
}

/* -F_Bethe of the returned beliefs, the factor-graph formula with every
 * factor (one-variable ones included) and d_i = factors touching i:
 * F = sum_f sum b_f (log b_f - log f) - sum_i (d_i - 1) sum b_i log b_i. */
static double bethe_from_beliefs(const tm_model *m, const cai_loopy *lp)
{
    double F = 0.0, b[256];
    for (size_t f = 0; f < m->nf; f++) {
        const tm_pot *p = &m->pot[m->f[f].pot];
        CU_ASSERT(cai_loopy_factor_belief(lp, f, b, NULL) == CAI_OK);
        for (size_t j = 0; j < p->size; j++)
            if (b[j] > 0)
                F += b[j] * (log(b[j]) - p->logv[j]);
    }
    for (size_t v = 0; v < m->n; v++) {
        size_t d = 0;
        for (size_t f = 0; f < m->nf; f++)
            d += tm_in_scope(&m->f[f], v);
        CU_ASSERT(cai_loopy_marginal(lp, v, b, NULL) == CAI_OK);
        for (size_t s = 0; s < m->card[v]; s++)
            if (b[s] > 0)
                F -= ((double)d - 1.0) * b[s] * log(b[s]);
    }
    return -F;
}

/* Largest |marginal - exact| over the variables. */
static double marginal_error(const tm_model *m, const tm_oracle *o, const cai_loopy *lp)
{
    double worst = 0.0, out[8];
    for (size_t v = 0; v < m->n; v++) {
        CU_ASSERT(cai_loopy_marginal(lp, v, out, NULL) == CAI_OK);
        double sum = 0.0;
        for (size_t s = 0; s < m->card[v]; s++) {
            worst = fmax(worst, fabs(out[s] - o->marg[v][s]));
            sum += out[s];
        }
        CAI_ASSERT_CLOSE(sum, 1.0, 1e-12);
    }
    return worst;
}

/* Run every schedule on m (sum-product): converged, the Bethe estimate
 * equals the formula written above, marginals within marg_tol of brute
 * force and the same fixed point for every schedule. Returns the largest
 * marginal error; adds the iterations to iters[3]. */
static double check_loopy_sum(const tm_model *m, double marg_tol, double damping,
                              size_t *iters, double *lz_err)
{
    tm_oracle o;
    tm_oracle_run(m, m->ev, NULL, &o);
    cai_graph *g = tm_build_graph(m, NULL, 1);
    double worst = 0.0, first[TM_MAXV][8];
    for (int si = 0; si < 3; si++) {
        cai_loopy *lp = run_loopy(g, CAI_SUM_PRODUCT, schedules[si], damping, 0);
        CU_ASSERT(cai_loopy_converged(lp));
        CU_ASSERT(cai_loopy_max_residual(lp, NULL, NULL) <= 1e-10);
        iters[si] += cai_loopy_iterations(lp);
        double lz = cai_loopy_log_z(lp);
        CAI_ASSERT_CLOSE(lz, bethe_from_beliefs(m, lp), 1e-9);
        *lz_err = fmax(*lz_err, fabs(lz - o.log_z));
        double e = marginal_error(m, &o, lp);
        CU_ASSERT(e <= marg_tol);
        if (e > marg_tol)
            fprintf(stderr, "\n  %s: marginal error %g > %g\n", schedule_names[si], e, marg_tol);
        worst = fmax(worst, e);
        for (size_t v = 0; v < m->n; v++) {
            double out[8];
            CU_ASSERT(cai_loopy_marginal(lp, v, out, NULL) == CAI_OK);
            for (size_t s = 0; s < m->card[v]; s++) {
                if (si == 0)
                    first[v][s] = out[s];
                else
                    CAI_ASSERT_CLOSE(out[s], first[v][s], 1e-8);
            }
        }
        cai_loopy_free(lp);
    }
    cai_graph_free(g);
    tm_oracle_free(&o);
    return worst;
}

/* Max-product on m, if its MAP is unique by more than gap: every schedule
 * converges, and with exact != 0 to the MAP (as on a single loop, where a
 * converged max-product assignment is optimal: Weiss 2000). On other loopy
 * graphs max-product may settle at another fixed point. Returns the number
 * of schedules that found the MAP (0 when the instance did not qualify). */
static int check_loopy_max(const tm_model *m, double gap, int exact)
{
    tm_oracle o;
    tm_oracle_run(m, m->ev, NULL, &o);
    int found = 0;
    cai_graph *g = tm_build_graph(m, NULL, 1);
    for (int si = 0; si < 3 && o.best - o.second > gap; si++) {
        cai_loopy *lp = run_loopy(g, CAI_MAX_PRODUCT, schedules[si], 0.0, 0);
        size_t x[TM_MAXV];
        double sc;
        CU_ASSERT(cai_loopy_converged(lp));
        CU_ASSERT(cai_loopy_map(lp, x, &sc, NULL) == CAI_OK);
        CAI_ASSERT_CLOSE(sc, tm_log_weight(m, x, m->ev, NULL), 1e-12);
        int same = memcmp(x, o.best_x, m->n * sizeof(size_t)) == 0;
        found += same;
        if (exact) {
            CU_ASSERT(same);
            CAI_ASSERT_CLOSE(sc, o.best, 1e-12);
        }
        cai_loopy_free(lp);
    }
    cai_graph_free(g);
    tm_oracle_free(&o);
    return found;
}

/* Single cycles of length 3..6, weak couplings |J| <= 0.3, fields
 * |h| <= 0.5: BP converges (a single loop has one fixed point) and its
 * marginals are within 1e-2 of the exact ones. */
static void test_cycles(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 4242);
    size_t iters[3] = {0, 0, 0};
    double worst = 0.0, lz_err = 0.0;
    int n_max = 0, n = 0;
    for (size_t len = 3; len <= 6; len++)
        for (int t = 0; t < 8; t++) {
            tm_model m;
            gen_cycle(&m, r, len, 0.3, 0.5);
            worst = fmax(worst, check_loopy_sum(&m, 1e-2, 0.0, iters, &lz_err));
            n_max += check_loopy_max(&m, 1e-6, 1);
            n++;
            tm_free(&m);
        }
    CU_ASSERT(n_max > 30);
    fprintf(stderr,
            "\n  %d cycles: largest marginal error %.2e, largest |log Z - Bethe| %.2e, mean "
            "iterations flooding %.1f, sequential %.1f, residual %.1f; max-product exact in "
            "%d runs ",
            n, worst, lz_err, (double)iters[0] / n, (double)iters[1] / n, (double)iters[2] / n,
            n_max);
    gsl_rng_free(r);
}

/* 3x3 and 4x4 attractive Ising grids, couplings in [0, 0.3], fields
 * |h| <= 0.3. */
static void test_grids(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 99);
    for (size_t side = 3; side <= 4; side++) {
        size_t iters[3] = {0, 0, 0};
        double worst = 0.0, lz_err = 0.0;
        int n = side == 3 ? 6 : 3, n_max = 0;
        for (int t = 0; t < n; t++) {
            tm_model m;
            gen_grid(&m, r, side, 0.0, 0.3, 0.3);
            worst = fmax(worst, check_loopy_sum(&m, 2e-2, 0.0, iters, &lz_err));
            n_max += check_loopy_max(&m, 1e-6, 0);
            tm_free(&m);
        }
        fprintf(stderr,
                "\n  %d %zux%zu grids: largest marginal error %.2e, largest |log Z - Bethe| "
                "%.2e, mean iterations flooding %.1f, sequential %.1f, residual %.1f; "
                "max-product found the MAP in %d of %d runs ",
                n, side, side, worst, lz_err, (double)iters[0] / n, (double)iters[1] / n,
                (double)iters[2] / n, n_max, 3 * n);
    }
    gsl_rng_free(r);
}

/* A strongly coupled attractive grid (J in [1, 2], |h| <= 0.5, seed 2024)
 * on which undamped flooding does not converge in 500 iterations (it
 * oscillates) but flooding with damping 0.5 does. */
static void test_damping(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 2024);
    tm_model m;
    gen_grid(&m, r, 4, 1.0, 2.0, 0.5);
    cai_graph *g = tm_build_graph(&m, NULL, 1);
    cai_loopy *plain = run_loopy(g, CAI_SUM_PRODUCT, CAI_SCHEDULE_FLOODING, 0.0, 500);
    cai_loopy *damped = run_loopy(g, CAI_SUM_PRODUCT, CAI_SCHEDULE_FLOODING, 0.5, 500);
    size_t f = 99, v = 99;
    double res = cai_loopy_max_residual(plain, &f, &v);
    fprintf(stderr, "\n  4x4 grid, J in [1, 2]: undamped %s after %zu iterations (residual %.2e "
            "at factor %zu -> variable %zu); damping 0.5 %s after %zu; ",
            cai_loopy_converged(plain) ? "converged" : "not converged",
            cai_loopy_iterations(plain), res, f, v,
            cai_loopy_converged(damped) ? "converged" : "not converged",
            cai_loopy_iterations(damped));
    for (int si = 1; si < 3; si++) { /* for the record: the other schedules */
        cai_loopy *lp = run_loopy(g, CAI_SUM_PRODUCT, schedules[si], 0.0, 500);
        fprintf(stderr, "%s undamped %s after %zu; ", schedule_names[si],
                cai_loopy_converged(lp) ? "converged" : "not converged",
                cai_loopy_iterations(lp));
        cai_loopy_free(lp);
    }
    CU_ASSERT(!cai_loopy_converged(plain));
    CU_ASSERT(cai_loopy_iterations(plain) == 500);
    CU_ASSERT(res > 1e-10);
    CU_ASSERT(f < m.nf && v < m.n);
    CU_ASSERT(cai_loopy_converged(damped));
    CU_ASSERT(cai_loopy_max_residual(damped, NULL, NULL) <= 1e-10);
    CAI_ASSERT_CLOSE(cai_loopy_log_z(damped), bethe_from_beliefs(&m, damped), 1e-9);
    tm_oracle o;
    tm_oracle_run(&m, m.ev, NULL, &o);
    fprintf(stderr, "damped: marginal error %.2e, log Z %.4f (exact %.4f) ",
            marginal_error(&m, &o, damped), cai_loopy_log_z(damped), o.log_z);
    tm_oracle_free(&o);
    cai_loopy_free(plain);
    cai_loopy_free(damped);
    cai_graph_free(g);
    tm_free(&m);
    gsl_rng_free(r);
}

/* ------------------------------------------------------------------ */
/* the trace                                                           */

typedef struct trace_log {
    size_t calls, last_iteration;
    int in_order;
    double last_residual, last_log_z;
} trace_log;

static void trace_fn(void *ctx, size_t iteration, double max_residual, double log_z)
{
    trace_log *t = ctx;
    t->calls++;
    t->in_order &= iteration == t->calls;
    t->last_iteration = iteration;
    t->last_residual = max_residual;
    t->last_log_z = log_z;
}

static void test_trace(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 77);
    tm_model m;
    gen_grid(&m, r, 3, 0.0, 0.5, 0.3);
    cai_graph *g = tm_build_graph(&m, NULL, 1);
    for (int alg = 0; alg < 2; alg++)
        for (int si = 0; si < 3; si++) {
            trace_log t = {.in_order = 1};
            cai_loopy_options o = cai_loopy_options_default();
            o.algorithm = alg ? CAI_MAX_PRODUCT : CAI_SUM_PRODUCT;
            o.schedule = schedules[si];
            o.trace = trace_fn;
            o.trace_ctx = &t;
            cai_loopy *lp = NULL;
            CU_ASSERT_FATAL(cai_loopy_create(g, &o, &lp, NULL) == CAI_OK);
            CU_ASSERT_FATAL(cai_loopy_run(lp, NULL) == CAI_OK);
            CU_ASSERT(cai_loopy_converged(lp));
            CU_ASSERT(t.calls == cai_loopy_iterations(lp));
            CU_ASSERT(t.calls > 1);
            CU_ASSERT(t.in_order);
            CU_ASSERT(t.last_residual == cai_loopy_max_residual(lp, NULL, NULL));
            CU_ASSERT(t.last_log_z == cai_loopy_log_z(lp));
            /* a second run traces again, from 1 */
            t.calls = 0;
            CU_ASSERT(cai_loopy_run(lp, NULL) == CAI_OK);
            CU_ASSERT(t.calls == cai_loopy_iterations(lp) && t.in_order);
            cai_loopy_free(lp);
        }
    /* capped: exactly max_iterations calls */
    trace_log t = {.in_order = 1};
    cai_loopy_options o = cai_loopy_options_default();
    o.max_iterations = 2;
    o.trace = trace_fn;
    o.trace_ctx = &t;
    cai_loopy *lp = NULL;
    CU_ASSERT_FATAL(cai_loopy_create(g, &o, &lp, NULL) == CAI_OK);
    CU_ASSERT(cai_loopy_run(lp, NULL) == CAI_OK);
    CU_ASSERT(!cai_loopy_converged(lp));
    CU_ASSERT(cai_loopy_iterations(lp) == 2 && t.calls == 2);
    cai_loopy_free(lp);
    cai_graph_free(g);
    tm_free(&m);
    gsl_rng_free(r);
}

/* ------------------------------------------------------------------ */
/* tying, support mode, absorbed factors, evidence                      */

/* One pairwise table tied over a ring of 10 and one CSR conditional tied
 * over a chain of 40: the object keeps its own references (the graph and
 * the caller's references are gone before the run). */
static void test_tied(void)
{
    tm_model m;
    tm_init(&m);
    const size_t n = 10;
    for (size_t v = 0; v < n; v++)
        tm_add_var(&m, 3);
    size_t cards[2] = {3, 3};
    double v9[9] = {0.4, -0.2, 0.1, -0.3, 0.5, 0.0, 0.2, 0.1, 0.3};
    size_t p = tm_pot_dense(&m, 2, cards, v9, 0);
    for (size_t v = 0; v < n; v++) {
        size_t sc[2] = {v, (v + 1) % n};
        tm_add_factor(&m, p, sc, 2, CAI_MODE_NORMAL, 1);
    }
    tm_oracle o;
    tm_oracle_run(&m, m.ev, NULL, &o);
    cai_graph *g = tm_build_graph(&m, NULL, 1);
    CU_ASSERT(cai_graph_n_potentials(g) == 1);
    cai_loopy *lp[3];
    for (int si = 0; si < 3; si++) {
        cai_loopy_options opt = cai_loopy_options_default();
        opt.schedule = schedules[si];
        CU_ASSERT_FATAL(cai_loopy_create(g, &opt, &lp[si], NULL) == CAI_OK);
    }
    cai_graph_free(g);
    tm_free(&m); /* drops the test's reference too */
    double first[3] = {0}, ring_err = 0.0;
    for (int si = 0; si < 3; si++) {
        CU_ASSERT_FATAL(cai_loopy_run(lp[si], NULL) == CAI_OK);
        CU_ASSERT(cai_loopy_converged(lp[si]));
        CU_ASSERT(cai_loopy_n_messages(lp[si]) == 2 * n);
        double out[3];
        for (size_t v = 0; v < n; v++) {
            CU_ASSERT(cai_loopy_marginal(lp[si], v, out, NULL) == CAI_OK);
            for (size_t s = 0; s < 3; s++) {
                if (v == 0 && si == 0)
                    first[s] = out[s];
                CAI_ASSERT_CLOSE(out[s], first[s], 1e-9); /* the ring is symmetric */
                CU_ASSERT(fabs(out[s] - o.marg[v][s]) < 1e-5);
                ring_err = fmax(ring_err, fabs(out[s] - o.marg[v][s]));
            }
        }
        cai_loopy_free(lp[si]);
    }
    tm_oracle_free(&o);
    fprintf(stderr, "\n  tied ring of 10: largest marginal error %.2e", ring_err);

    /* a chain of 40 ternary variables, one tied CSR transition: exact */
    cai_graph *c = NULL;
    CU_ASSERT_FATAL(cai_graph_create(&c, NULL) == CAI_OK);
    size_t rp[4] = {0, 2, 4, 5}, col[5] = {0, 1, 1, 2, 0};
    double pr[5] = {0.7, 0.3, 0.6, 0.4, 1.0};
    size_t pc[1] = {3};
    cai_potential *csr = NULL;
    CU_ASSERT_FATAL(cai_potential_csr_create(1, pc, 3, rp, col, pr, &csr, NULL) == CAI_OK);
    double lv[3] = {0.5, -1.0, 0.0};
    cai_potential *unary = NULL;
    CU_ASSERT_FATAL(cai_potential_table_create(1, pc, lv, &unary, NULL) == CAI_OK);
    for (size_t v = 0; v < 40; v++) {
        char name[16];
        snprintf(name, sizeof name, "x%zu", v);
        CU_ASSERT_FATAL(cai_graph_add_variable(c, name, 3, NULL, NULL, NULL) == CAI_OK);
        CU_ASSERT_FATAL(cai_graph_add_factor(c, unary, &v, 1, CAI_MODE_NORMAL, NULL, NULL)
                        == CAI_OK);
        if (v > 0) {
            size_t sc[2] = {v - 1, v};
            CU_ASSERT_FATAL(cai_graph_add_factor(c, csr, sc, 2, CAI_MODE_NORMAL, NULL, NULL)
                            == CAI_OK);
        }
    }
    CU_ASSERT(cai_graph_set_evidence(c, 20, 2, NULL) == CAI_OK);
    cai_plan *plan = NULL;
    cai_workspace *ws = NULL;
    CU_ASSERT_FATAL(cai_plan_create(c, NULL, &plan, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_workspace_create(plan, &ws, NULL) == CAI_OK);
    CU_ASSERT_FATAL(cai_plan_execute(plan, ws, NULL) == CAI_OK);
    cai_loopy *chain[3];
    for (int si = 0; si < 3; si++) {
        cai_loopy_options opt = cai_loopy_options_default();
        opt.schedule = schedules[si];
        CU_ASSERT_FATAL(cai_loopy_create(c, &opt, &chain[si], NULL) == CAI_OK);
    }
    cai_graph_free(c);
    cai_potential_unref(csr);
    cai_potential_unref(unary);
    for (int si = 0; si < 3; si++) {
        CU_ASSERT_FATAL(cai_loopy_run(chain[si], NULL) == CAI_OK);
        CU_ASSERT(cai_loopy_converged(chain[si]));
        fprintf(stderr, "%s%s %zu%s", si ? ", " : "\n  chain of 40, iterations: ",
                schedule_names[si], cai_loopy_iterations(chain[si]), si == 2 ? " " : "");
        CAI_ASSERT_CLOSE(cai_loopy_log_z(chain[si]), cai_query_log_z(ws), 1e-10);
        for (size_t v = 0; v < 40; v++) {
            double a[3], b[3];
            CU_ASSERT(cai_loopy_marginal(chain[si], v, a, NULL) == CAI_OK);
            CU_ASSERT(cai_query_marginal(ws, v, b, NULL) == CAI_OK);
            for (size_t s = 0; s < 3; s++)
                CAI_ASSERT_CLOSE(a[s], b[s], 1e-10);
        }
        cai_loopy_free(chain[si]);
    }
    cai_workspace_free(ws);
    cai_plan_free(plan);
}

/* Results of a sum- and a max-product run, for comparisons. */
typedef struct answers {
    double log_z, marg[TM_MAXV][8], belief[TM_MAXF][64], score;
    size_t map[TM_MAXV];
    size_t iterations;
} answers;

static void collect(const tm_model *m, const cai_graph *g, cai_schedule sched, answers *a)
{
    memset(a, 0, sizeof *a);
    cai_loopy *lp = run_loopy(g, CAI_SUM_PRODUCT, sched, 0.0, 0);
    CU_ASSERT(cai_loopy_converged(lp));
    a->log_z = cai_loopy_log_z(lp);
    a->iterations = cai_loopy_iterations(lp);
    for (size_t v = 0; v < m->n; v++)
        CU_ASSERT(cai_loopy_marginal(lp, v, a->marg[v], NULL) == CAI_OK);
    for (size_t f = 0; f < cai_graph_n_factors(g) && f < TM_MAXF; f++)
        CU_ASSERT(cai_loopy_factor_belief(lp, f, a->belief[f], NULL) == CAI_OK);
    cai_loopy_free(lp);
    lp = run_loopy(g, CAI_MAX_PRODUCT, sched, 0.0, 0);
    CU_ASSERT(cai_loopy_map(lp, a->map, &a->score, NULL) == CAI_OK);
    cai_loopy_free(lp);
}

static void assert_same_answers(const tm_model *m, const answers *a, const answers *b,
                                size_t n_factors, double tol)
{
    CAI_ASSERT_CLOSE(a->log_z, b->log_z, tol);
    for (size_t v = 0; v < m->n; v++)
        for (size_t s = 0; s < m->card[v]; s++)
            CAI_ASSERT_CLOSE(a->marg[v][s], b->marg[v][s], tol);
    for (size_t f = 0; f < n_factors; f++)
        for (size_t j = 0; j < m->pot[m->f[f].pot].size; j++)
            CAI_ASSERT_CLOSE(a->belief[f][j], b->belief[f][j], tol);
    CU_ASSERT(memcmp(a->map, b->map, m->n * sizeof(size_t)) == 0);
    CAI_ASSERT_CLOSE(a->score, b->score, tol);
}

/* A support-mode factor counts as the 0/1 pattern of its potential: the
 * same loopy graph with that pattern as an ordinary table answers the same. */
static void test_support_mode(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 5);
    for (int t = 0; t < 6; t++) {
        /* a: a 4-cycle plus p(x2 | x0) in support mode, rows {0.25, 0.75}
         * and {1 - q, q}; b: the same with the pattern as a table */
        tm_model a, b;
        gen_cycle(&a, r, 4, 0.5, 0.5);
        double q = t % 2 ? 0.5 : 0.0;
        double rows[4] = {0.25, 0.75, 1.0 - q, q}, pattern[4];
        for (int i = 0; i < 4; i++)
            pattern[i] = rows[i] > 0 ? 0.0 : -INFINITY;
        size_t pc[1] = {2}, cards[2] = {2, 2}, sc[2] = {0, 2};
        tm_init(&b);
        for (size_t v = 0; v < a.n; v++)
            tm_add_var(&b, 2);
        for (size_t f = 0; f < a.nf; f++) {
            const tm_pot *p = &a.pot[a.f[f].pot];
            size_t pb = tm_pot_dense(&b, p->k, p->cards, p->logv, 0);
            tm_add_factor(&b, pb, a.f[f].scope, a.f[f].k, CAI_MODE_NORMAL, a.f[f].main);
        }
        tm_add_factor(&a, tm_pot_csr(&a, NULL, 1, pc, 2, rows, 0), sc, 2, CAI_MODE_SUPPORT, 1);
        tm_add_factor(&b, tm_pot_dense(&b, 2, cards, pattern, 0), sc, 2, CAI_MODE_NORMAL, 1);
        cai_graph *ga = tm_build_graph(&a, NULL, 1), *gb = tm_build_graph(&b, NULL, 1);
        for (int si = 0; si < 3; si++) {
            answers xa, xb;
            collect(&a, ga, schedules[si], &xa);
            collect(&b, gb, schedules[si], &xb);
            assert_same_answers(&b, &xa, &xb, b.nf, 1e-12);
        }
        /* and against brute force of b: the support factor counts as 0/1 */
        tm_oracle o;
        tm_oracle_run(&b, b.ev, NULL, &o);
        cai_loopy *lp = run_loopy(ga, CAI_SUM_PRODUCT, CAI_SCHEDULE_SEQUENTIAL, 0.0, 0);
        CU_ASSERT(marginal_error(&b, &o, lp) < 5e-2);
        cai_loopy_free(lp);
        tm_oracle_free(&o);
        cai_graph_free(ga);
        cai_graph_free(gb);
        tm_free(&a);
        tm_free(&b);
    }
    gsl_rng_free(r);
}

/* Absorbed factors are folded into their host: a loopy graph of 3-variable
 * factors with pairwise factors inside them (touching the host's last
 * variable or not, so both the per-entry path and the kernels with row
 * terms run, on tables and CSR hosts) answers the same as the graph whose
 * hosts are the products, built here. */
static void test_absorbed(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 31);
    for (int t = 0; t < 8; t++) {
        tm_model a, b;
        tm_init(&a);
        tm_init(&b);
        for (size_t v = 0; v < 5; v++) {
            size_t k = 2 + gsl_rng_uniform_int(r, 2);
            tm_add_var(&a, k);
            tm_add_var(&b, k);
        }
        /* hosts (0 1 2), (2 3 4), (4 0 1)... a cycle through 0, 2, 4 */
        size_t hosts[3][3] = {{0, 1, 2}, {2, 3, 4}, {4, 1, 0}};
        for (int h = 0; h < 3; h++) {
            size_t cards[3];
            for (int i = 0; i < 3; i++)
                cards[i] = a.card[hosts[h][i]];
            size_t ph = (h == 1 && t % 2) ? tm_pot_csr_random(&a, r, 2, cards, cards[2], 0.7, 0)
                                          : tm_pot_dense_random(&a, r, 3, cards, 0.05, -2, 2);
            tm_add_factor(&a, ph, hosts[h], 3, CAI_MODE_NORMAL, 1);
            /* two pairwise factors inside: (last, first) and (first, second);
             * for t % 4 >= 2 (second, first) instead of the first, so that no
             * absorbed factor touches the last variable and the kernels run
             * with row terms */
            size_t in1[2] = {hosts[h][t % 4 < 2 ? 2 : 1], hosts[h][0]};
            size_t in2[2] = {hosts[h][0], hosts[h][1]};
            size_t c1[2] = {a.card[in1[0]], a.card[in1[1]]}, c2[2] = {a.card[in2[0]],
                                                                     a.card[in2[1]]};
            tm_add_factor(&a, tm_pot_dense_random(&a, r, 2, c1, 0.05, -1, 1), in1, 2,
                          CAI_MODE_NORMAL, 0);
            tm_add_factor(&a, tm_pot_dense_random(&a, r, 2, c2, 0.0, -1, 1), in2, 2,
                          CAI_MODE_NORMAL, 0);
        }
        /* b: the products, as tables over the hosts */
        for (int h = 0; h < 3; h++) {
            const tm_factor *H = &a.f[3 * h];
            size_t size = a.pot[H->pot].size, x[TM_MAXV] = {0};
            double *v = malloc(size * sizeof(double));
            size_t cards[3];
            for (int i = 0; i < 3; i++)
                cards[i] = a.card[H->scope[i]];
            for (size_t e = 0; e < size; e++) {
                x[H->scope[0]] = e / (cards[1] * cards[2]);
                x[H->scope[1]] = (e / cards[2]) % cards[1];
                x[H->scope[2]] = e % cards[2];
                double s = 0;
                for (int j = 0; j < 3; j++) {
                    const tm_factor *F = &a.f[3 * h + j];
                    s += a.pot[F->pot].logv[tm_factor_index(&a, F, x)];
                }
                v[e] = s;
            }
            size_t pb = tm_pot_dense(&b, 3, cards, v, 0);
            tm_add_factor(&b, pb, H->scope, 3, CAI_MODE_NORMAL, 1);
            free(v);
        }
        cai_graph *ga = tm_build_graph(&a, NULL, 1), *gb = tm_build_graph(&b, NULL, 1);
        for (int si = 0; si < 3; si++) {
            answers xa, xb;
            collect(&a, ga, schedules[si], &xa);
            collect(&b, gb, schedules[si], &xb);
            for (int h = 0; h < 3; h++) /* host beliefs against the products' */
                memcpy(xb.belief[3 * h], xb.belief[h], sizeof xb.belief[h]);
            CAI_ASSERT_CLOSE(xa.log_z, xb.log_z, 1e-10);
            for (size_t v = 0; v < a.n; v++)
                for (size_t s = 0; s < a.card[v]; s++)
                    CAI_ASSERT_CLOSE(xa.marg[v][s], xb.marg[v][s], 1e-10);
            for (int h = 0; h < 3; h++)
                for (size_t j = 0; j < a.pot[a.f[3 * h].pot].size; j++)
                    CAI_ASSERT_CLOSE(xa.belief[3 * h][j], xb.belief[3 * h][j], 1e-10);
            CU_ASSERT(memcmp(xa.map, xb.map, a.n * sizeof(size_t)) == 0);
            CAI_ASSERT_CLOSE(xa.score, xb.score, 1e-10);
        }
        cai_graph *g = ga;
        cai_loopy *lp = run_loopy(g, CAI_SUM_PRODUCT, CAI_SCHEDULE_SEQUENTIAL, 0.0, 0);
        CU_ASSERT(cai_loopy_n_clusters(lp) == 3);
        CU_ASSERT(cai_loopy_n_messages(lp) == 9);
        cai_loopy_free(lp);
        cai_graph_free(ga);
        cai_graph_free(gb);
        tm_free(&a);
        tm_free(&b);
    }
    gsl_rng_free(r);
}

/* Evidence from the graph and through cai_loopy_set_evidence; evidence
 * that makes everything impossible gives log Z -inf and NaN beliefs. */
static void test_evidence(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 8);
    tm_model m;
    gen_grid(&m, r, 3, 0.0, 0.3, 0.3);
    /* a zero: x0 = 1 and x1 = 1 together are impossible */
    m.pot[m.f[0].pot].logv[3] = -INFINITY;
    cai_potential_unref(m.pot[m.f[0].pot].p);
    size_t cards[2] = {2, 2};
    CU_ASSERT_FATAL(cai_potential_table_create(2, cards, m.pot[m.f[0].pot].logv,
                                               &m.pot[m.f[0].pot].p, NULL) == CAI_OK);
    m.ev[4] = 1;
    cai_graph *g = tm_build_graph(&m, NULL, 1);
    tm_oracle o;
    tm_oracle_run(&m, m.ev, NULL, &o);
    cai_loopy *lp = run_loopy(g, CAI_SUM_PRODUCT, CAI_SCHEDULE_RESIDUAL, 0.0, 0);
    double out[2];
    CU_ASSERT(cai_loopy_marginal(lp, 4, out, NULL) == CAI_OK);
    CU_ASSERT(out[0] == 0.0 && out[1] == 1.0);
    CU_ASSERT(marginal_error(&m, &o, lp) < 2e-2);
    double b4[4];
    CU_ASSERT(cai_loopy_factor_belief(lp, 0, b4, NULL) == CAI_OK);
    CU_ASSERT(b4[3] == 0.0); /* the zero */
    tm_oracle_free(&o);

    /* moved through the object: x4 free, x0 = x1 = 1 impossible */
    cai_error err;
    CU_ASSERT(cai_loopy_set_evidence(lp, 4, CAI_NONE, &err) == CAI_OK);
    CU_ASSERT(cai_loopy_set_evidence(lp, 0, 1, &err) == CAI_OK);
    CU_ASSERT(cai_loopy_marginal(lp, 0, out, &err) == CAI_ERR_STATE); /* results dropped */
    CU_ASSERT(cai_loopy_set_evidence(lp, 1, 1, &err) == CAI_OK);
    CU_ASSERT(cai_loopy_run(lp, &err) == CAI_OK);
    double lz = cai_loopy_log_z(lp);
    CU_ASSERT(isinf(lz) && lz < 0);
    for (size_t v = 0; v < m.n; v++) {
        CU_ASSERT(cai_loopy_marginal(lp, v, out, NULL) == CAI_OK);
        CU_ASSERT(isnan(out[0]) && isnan(out[1]));
    }
    CU_ASSERT(cai_loopy_factor_belief(lp, 0, b4, NULL) == CAI_OK);
    CU_ASSERT(isnan(b4[0]));
    cai_loopy_free(lp);

    /* max-product: the score of an impossible model is -inf, evidence kept */
    cai_loopy_options opt = cai_loopy_options_default();
    opt.algorithm = CAI_MAX_PRODUCT;
    CU_ASSERT_FATAL(cai_loopy_create(g, &opt, &lp, NULL) == CAI_OK);
    CU_ASSERT(cai_loopy_set_evidence(lp, 0, 1, NULL) == CAI_OK);
    CU_ASSERT(cai_loopy_set_evidence(lp, 1, 1, NULL) == CAI_OK);
    CU_ASSERT(cai_loopy_run(lp, NULL) == CAI_OK);
    size_t x[TM_MAXV];
    double sc = 0;
    CU_ASSERT(cai_loopy_map(lp, x, &sc, NULL) == CAI_OK);
    CU_ASSERT(isinf(sc) && sc < 0);
    CU_ASSERT(x[0] == 1 && x[1] == 1 && x[4] == 1);
    cai_loopy_free(lp);
    cai_graph_free(g);
    tm_free(&m);
    gsl_rng_free(r);
}

/* Running twice, or a second object, gives bit-identical answers; max-product
 * max-marginals peak at one. */
static void test_deterministic(void)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 12);
    tm_model m;
    gen_grid(&m, r, 4, -0.5, 0.5, 0.5);
    cai_graph *g = tm_build_graph(&m, NULL, 1);
    for (int si = 0; si < 3; si++) {
        answers a, b;
        collect(&m, g, schedules[si], &a);
        collect(&m, g, schedules[si], &b);
        CU_ASSERT(memcmp(&a, &b, sizeof a) == 0);
    }
    cai_loopy *lp = run_loopy(g, CAI_MAX_PRODUCT, CAI_SCHEDULE_SEQUENTIAL, 0.0, 0);
    double out[2], bel[4];
    for (size_t v = 0; v < m.n; v++) {
        CU_ASSERT(cai_loopy_marginal(lp, v, out, NULL) == CAI_OK);
        CU_ASSERT(fmax(out[0], out[1]) == 1.0);
    }
    CU_ASSERT(cai_loopy_factor_belief(lp, 0, bel, NULL) == CAI_OK);
    CU_ASSERT(fmax(fmax(bel[0], bel[1]), fmax(bel[2], bel[3])) == 1.0);
    cai_loopy_free(lp);
    cai_graph_free(g);
    tm_free(&m);
    gsl_rng_free(r);
}

/* ------------------------------------------------------------------ */
/* errors                                                              */

static void assert_error(cai_status st, const cai_error *err, cai_status want,
                         const char *phrase)
{
    CU_ASSERT(st == want);
    CU_ASSERT(err->code == want);
    if (phrase) {
        CU_ASSERT(strstr(err->message, phrase) != NULL);
        if (!strstr(err->message, phrase))
            fprintf(stderr, "\n  message '%s' lacks '%s'\n", err->message, phrase);
    }
    CU_ASSERT(err->file[0] == '\0');
    CU_ASSERT(err->line == 0 && err->column == 0);
}

static void test_errors(void)
{
    tm_model m;
    tm_init(&m);
    for (int i = 0; i < 3; i++)
        tm_add_var(&m, 2);
    for (size_t i = 0; i < 3; i++)
        ising_pair(&m, i, (i + 1) % 3, 0.2);
    cai_graph *g = tm_build_graph(&m, NULL, 1);
    cai_error err;
    cai_loopy *lp = (cai_loopy *)&m; /* must stay untouched */
    cai_loopy *const sentinel = lp;

    assert_error(cai_loopy_create(NULL, NULL, &lp, &err), &err, CAI_ERR_INVALID, "NULL");
    assert_error(cai_loopy_create(g, NULL, NULL, &err), &err, CAI_ERR_INVALID, "NULL");
    CU_ASSERT(cai_loopy_create(NULL, NULL, &lp, NULL) == CAI_ERR_INVALID);

    const struct {
        double damping, tol;
        size_t max_it;
        int alg, sched;
        cai_status want;
        const char *phrase;
    } bad[] = {
        {-0.1, 1e-10, 10, 0, 1, CAI_ERR_RANGE, "damping"},
        {1.0, 1e-10, 10, 0, 1, CAI_ERR_RANGE, "damping"},
        {NAN, 1e-10, 10, 0, 1, CAI_ERR_RANGE, "damping"},
        {0.0, 0.0, 10, 0, 1, CAI_ERR_RANGE, "tolerance"},
        {0.0, -1.0, 10, 0, 1, CAI_ERR_RANGE, "tolerance"},
        {0.0, NAN, 10, 0, 1, CAI_ERR_RANGE, "tolerance"},
        {0.0, 1e-10, 0, 0, 1, CAI_ERR_RANGE, "max_iterations"},
        {0.0, 1e-10, 10, 7, 1, CAI_ERR_INVALID, "algorithm"},
        {0.0, 1e-10, 10, 0, 9, CAI_ERR_INVALID, "schedule"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cai_loopy_options o = cai_loopy_options_default();
        o.damping = bad[i].damping;
        o.tol = bad[i].tol;
        o.max_iterations = bad[i].max_it;
        o.algorithm = (cai_algorithm)bad[i].alg;
        o.schedule = (cai_schedule)bad[i].sched;
        assert_error(cai_loopy_create(g, &o, &lp, &err), &err, bad[i].want, bad[i].phrase);
        CU_ASSERT(lp == sentinel);
    }
    cai_loopy_options d = cai_loopy_options_default();
    CU_ASSERT(d.algorithm == CAI_SUM_PRODUCT && d.schedule == CAI_SCHEDULE_SEQUENTIAL);
    CU_ASSERT(d.damping == 0.0 && d.tol == 1e-10 && d.max_iterations == 1000);
    CU_ASSERT(d.trace == NULL);

    /* expectation-mode factors are refused, naming the factor */
    cai_graph *ge = tm_build_graph(&m, NULL, 1);
    size_t rp[3] = {0, 1, 2}, col[2] = {1, 0};
    double pr[2] = {1.0, 1.0};
    size_t pc[1] = {2};
    cai_potential *csr = NULL;
    CU_ASSERT_FATAL(cai_potential_csr_create(1, pc, 2, rp, col, pr, &csr, NULL) == CAI_OK);
    size_t sc[2] = {0, 2};
    CU_ASSERT(cai_graph_add_factor(ge, csr, sc, 2, CAI_MODE_EXPECTATION, NULL, NULL) == CAI_OK);
    cai_potential_unref(csr);
    assert_error(cai_loopy_create(ge, NULL, &lp, &err), &err, CAI_ERR_STRUCTURE, "factor 3");
    CU_ASSERT(strstr(err.message, "expectation") != NULL);
    CU_ASSERT(lp == sentinel);
    cai_loopy_options mo = cai_loopy_options_default();
    mo.algorithm = CAI_MAX_PRODUCT;
    CU_ASSERT(cai_loopy_create(ge, &mo, &lp, NULL) == CAI_ERR_STRUCTURE);
    cai_graph_free(ge);

    /* queries before a run, and NULL objects */
    CU_ASSERT_FATAL(cai_loopy_create(g, NULL, &lp, &err) == CAI_OK);
    double out[4] = {7, 7, 7, 7};
    size_t x[3] = {9, 9, 9};
    double score = 7;
    assert_error(cai_loopy_marginal(lp, 0, out, &err), &err, CAI_ERR_STATE, "cai_loopy_run");
    CU_ASSERT(out[0] == 7);
    assert_error(cai_loopy_factor_belief(lp, 0, out, &err), &err, CAI_ERR_STATE, "run");
    assert_error(cai_loopy_map(lp, x, &score, &err), &err, CAI_ERR_STATE, "run");
    CU_ASSERT(x[0] == 9 && score == 7);
    CU_ASSERT(isnan(cai_loopy_log_z(lp)));
    CU_ASSERT(isnan(cai_loopy_max_residual(lp, NULL, NULL)));
    CU_ASSERT(cai_loopy_iterations(lp) == 0 && !cai_loopy_converged(lp));
    assert_error(cai_loopy_run(NULL, &err), &err, CAI_ERR_INVALID, "NULL");
    assert_error(cai_loopy_marginal(NULL, 0, out, &err), &err, CAI_ERR_INVALID, "NULL");
    CU_ASSERT(isnan(cai_loopy_log_z(NULL)));
    CU_ASSERT(cai_loopy_iterations(NULL) == 0);
    CU_ASSERT(cai_loopy_n_messages(NULL) == 0);
    cai_loopy_free(NULL);

    /* bad indices, wrong algorithm */
    CU_ASSERT(cai_loopy_run(lp, &err) == CAI_OK);
    assert_error(cai_loopy_marginal(lp, 3, out, &err), &err, CAI_ERR_INVALID, "variable");
    assert_error(cai_loopy_marginal(lp, 0, NULL, &err), &err, CAI_ERR_INVALID, "NULL");
    assert_error(cai_loopy_factor_belief(lp, 0, NULL, &err), &err, CAI_ERR_INVALID, "NULL");
    assert_error(cai_loopy_factor_belief(lp, 3, out, &err), &err, CAI_ERR_INVALID, "factor");
    assert_error(cai_loopy_map(lp, x, &score, &err), &err, CAI_ERR_STATE, "max-product");
    assert_error(cai_loopy_set_evidence(lp, 3, 0, &err), &err, CAI_ERR_INVALID, "variable");
    assert_error(cai_loopy_set_evidence(lp, 0, 2, &err), &err, CAI_ERR_RANGE, "state 2");
    assert_error(cai_loopy_set_evidence(NULL, 0, 0, &err), &err, CAI_ERR_INVALID, "NULL");
    CU_ASSERT(cai_loopy_converged(lp)); /* failed calls leave the results */
    cai_loopy_free(lp);
    cai_graph_free(g);
    tm_free(&m);
}

/* A graph with no cluster at all (one-variable factors, isolated variables)
 * runs one iteration and is exact. */
static void test_no_messages(void)
{
    tm_model m;
    tm_init(&m);
    tm_add_var(&m, 3);
    tm_add_var(&m, 2);
    size_t c3[1] = {3};
    double u[3] = {0.1, -0.4, 1.0};
    tm_add_factor(&m, tm_pot_dense(&m, 1, c3, u, 0), (size_t[]){0}, 1, CAI_MODE_NORMAL, 0);
    tm_oracle o;
    tm_oracle_run(&m, m.ev, NULL, &o);
    cai_graph *g = tm_build_graph(&m, NULL, 1);
    for (int si = 0; si < 3; si++) {
        cai_loopy *lp = run_loopy(g, CAI_SUM_PRODUCT, schedules[si], 0.0, 0);
        size_t f = 0, v = 0;
        CU_ASSERT(cai_loopy_n_messages(lp) == 0 && cai_loopy_n_clusters(lp) == 0);
        CU_ASSERT(cai_loopy_iterations(lp) == 1 && cai_loopy_converged(lp));
        CU_ASSERT(cai_loopy_max_residual(lp, &f, &v) == 0.0);
        CU_ASSERT(f == CAI_NONE && v == CAI_NONE);
        CAI_ASSERT_CLOSE(cai_loopy_log_z(lp), o.log_z, 1e-14);
        CU_ASSERT(marginal_error(&m, &o, lp) < 1e-15);
        cai_loopy_free(lp);
    }
    cai_graph_free(g);
    tm_oracle_free(&o);
    tm_free(&m);
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("loopy", NULL, NULL);
    CU_add_test(s, "120 random forests: exact, every schedule, sum and max", test_random_forests);
    CU_add_test(s, "30 random forests with log values in [-400, 400]", test_random_forests_wide);
    CU_add_test(s, "single cycles of length 3..6", test_cycles);
    CU_add_test(s, "3x3 and 4x4 attractive Ising grids", test_grids);
    CU_add_test(s, "damping makes a strongly coupled grid converge", test_damping);
    CU_add_test(s, "the trace: once per iteration", test_trace);
    CU_add_test(s, "tied potentials outlive the graph", test_tied);
    CU_add_test(s, "support mode is the 0/1 pattern", test_support_mode);
    CU_add_test(s, "absorbed factors equal their product", test_absorbed);
    CU_add_test(s, "evidence and zero weight", test_evidence);
    CU_add_test(s, "deterministic; max-marginals peak at one", test_deterministic);
    CU_add_test(s, "no clusters", test_no_messages);
    CU_add_test(s, "errors", test_errors);
}
