/* tests/test_formats.c — the community formats: UAI (with .evid), libDAI
 * .fg and BIF readers, the UAI and .fg writers, `cai export` and `cai solve`
 * on those files.
 *
 * Published example files are written here by hand (each cites its
 * source) and checked against hand-computed numbers and brute-force
 * enumeration over the graph the reader built (and against the engine
 * where the graph is a tree). Writers are checked by round trips (graph ->
 * file -> graph: the same marginals and log Z to 1e-12) and the .fg entry
 * order by a hand-computed example. Every error path has a test of its
 * status, file, line, column and a key phrase of its one-line message. */
#include "harness.h"
#include "support.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cai/cai.h"

/* ---- oracles ----------------------------------------------------------- */

#define MAXV 12
#define MAXC 8

typedef struct answer {
    double log_z;
    double marg[MAXV][MAXC];
} answer;

/* log Z and every marginal by enumerating all assignments of g (modes:
 * normal, or support = the 0/1 indicator; evidence restricts). */
static answer brute(const cai_graph *g)
{
    answer a;
    memset(&a, 0, sizeof a);
    size_t n = cai_graph_n_variables(g), nf = cai_graph_n_factors(g);
    CU_ASSERT_FATAL(n <= MAXV);
    size_t x[MAXV] = {0}, card[MAXV];
    cai_lse z, m[MAXV][MAXC];
    cai_lse_init(&z);
    for (size_t v = 0; v < n; v++) {
        card[v] = cai_graph_variable_card(g, v);
        CU_ASSERT_FATAL(card[v] <= MAXC);
        for (size_t s = 0; s < card[v]; s++)
            cai_lse_init(&m[v][s]);
    }
    for (;;) {
        bool ok = true;
        for (size_t v = 0; v < n; v++)
            if (cai_graph_evidence(g, v) != CAI_NONE && cai_graph_evidence(g, v) != x[v])
                ok = false;
        if (ok) {
            double lw = 0.0;
            for (size_t f = 0; f < nf; f++) {
                size_t k, idx[MAXV];
                const size_t *scope = cai_graph_factor_scope(g, f, &k);
                for (size_t i = 0; i < k; i++)
                    idx[i] = x[scope[i]];
                double v = cai_potential_log_value(cai_graph_factor_potential(g, f), idx);
                if (cai_graph_factor_mode(g, f) == CAI_MODE_SUPPORT)
                    v = v > -INFINITY ? 0.0 : -INFINITY;
                lw += v;
            }
            cai_lse_add(&z, lw);
            for (size_t v = 0; v < n; v++)
                cai_lse_add(&m[v][x[v]], lw);
        }
        size_t i = n;
        while (i > 0 && ++x[i - 1] == card[i - 1])
            x[--i] = 0;
        if (i == 0)
            break;
    }
    a.log_z = cai_lse_result(&z);
    for (size_t v = 0; v < n; v++)
        for (size_t s = 0; s < card[v]; s++)
            a.marg[v][s] = exp(cai_lse_result(&m[v][s]) - a.log_z);
    return a;
}

/* The same from sum-product (g must be a forest). */
static answer engine(const cai_graph *g)
{
    answer a;
    memset(&a, 0, sizeof a);
    cai_plan *plan = NULL;
    cai_workspace *ws = NULL;
    cai_error err;
    CU_ASSERT_EQUAL_FATAL(cai_plan_create(g, NULL, &plan, &err), CAI_OK);
    CU_ASSERT_EQUAL_FATAL(cai_workspace_create(plan, &ws, &err), CAI_OK);
    CU_ASSERT_EQUAL_FATAL(cai_plan_execute(plan, ws, &err), CAI_OK);
    a.log_z = cai_query_log_z(ws);
    for (size_t v = 0; v < cai_graph_n_variables(g); v++)
        CU_ASSERT_EQUAL(cai_query_marginal(ws, v, a.marg[v], &err), CAI_OK);
    cai_workspace_free(ws);
    cai_plan_free(plan);
    return a;
}

static void assert_same(const cai_graph *g, const answer *a, const answer *b, double tol)
{
    CAI_ASSERT_CLOSE(a->log_z, b->log_z, tol);
    for (size_t v = 0; v < cai_graph_n_variables(g); v++)
        for (size_t s = 0; s < cai_graph_variable_card(g, v); s++) {
            CAI_ASSERT_CLOSE(a->marg[v][s], b->marg[v][s], tol);
            if (!cai_test_close(a->marg[v][s], b->marg[v][s], tol))
                fprintf(stderr, "\n  marginal %zu[%zu]: %.17g vs %.17g\n", v, s,
                        a->marg[v][s], b->marg[v][s]);
        }
}

/* ---- reading ----------------------------------------------------------- */

static cai_model *parse_uai(const char *text, const char *evid)
{
    cai_model *m = NULL;
    cai_error err;
    cai_error_clear(&err);
    cai_status st = cai_model_parse_uai(text, strlen(text), "t.uai", evid,
                                        evid ? strlen(evid) : 0, "t.uai.evid", &m, &err);
    if (st != CAI_OK)
        fprintf(stderr, "\n  %s:%zu:%zu: %s\n", err.file, err.line, err.column, err.message);
    CU_ASSERT_EQUAL_FATAL(st, CAI_OK);
    CU_ASSERT_EQUAL(cai_model_get_kind(m), CAI_MODEL_FACTOR_GRAPH);
    return m;
}

static cai_model *parse_fg(const char *text)
{
    cai_model *m = NULL;
    cai_error err;
    cai_error_clear(&err);
    cai_status st = cai_model_parse_fg(text, strlen(text), "t.fg", &m, &err);
    if (st != CAI_OK)
        fprintf(stderr, "\n  %s:%zu:%zu: %s\n", err.file, err.line, err.column, err.message);
    CU_ASSERT_EQUAL_FATAL(st, CAI_OK);
    return m;
}

static cai_model *parse_bif(const char *text)
{
    cai_model *m = NULL;
    cai_error err;
    cai_error_clear(&err);
    cai_status st = cai_model_parse_bif(text, strlen(text), "t.bif", &m, &err);
    if (st != CAI_OK)
        fprintf(stderr, "\n  %s:%zu:%zu: %s\n", err.file, err.line, err.column, err.message);
    CU_ASSERT_EQUAL_FATAL(st, CAI_OK);
    return m;
}

static char *write_text(const cai_graph *g, bool fg, char **evid_text);

/* Factor f's linear value at the assignment given as arguments. */
static double value_at(const cai_graph *g, size_t f, size_t a, size_t b, size_t c)
{
    size_t idx[3] = {a, b, c};
    return exp(cai_potential_log_value(cai_graph_factor_potential(g, f), idx));
}

/* The UAI 2014 inference competition's model-format page (V. Gogate,
 * www.hlt.utdallas.edu/~vgogate/uai14-competition/modelformat.html): the
 * Markov network X, Y, Z (cardinalities 2 2 3) with cliques (X, Y) and
 * (Y, Z), and its evidence page's example.uai.evid "2 1 0 2 1" (Y = 0,
 * Z = 1). Z = 4*9.25 + 2.4*10 + 1*9.25 + 0*10 = 70.25; with the evidence
 * (4 + 1) * 3.25 = 16.25 and p(X = 0) = 4/5. */
static const char uai_markov[] =
    "MARKOV\n"
    "3\n"
    "2 2 3\n"
    "2\n"
    "2 0 1\n"
    "2 1 2\n"
    "\n"
    "4\n"
    " 4.000 2.400\n"
    " 1.000 0.000\n"
    "\n"
    "6\n"
    " 2.2500 3.2500 3.7500\n"
    " 0.0000 0.0000 10.0000\n";

static void test_uai_markov(void)
{
    cai_model *m = parse_uai(uai_markov, NULL);
    const cai_graph *g = cai_model_graph(m);
    CU_ASSERT_EQUAL(cai_graph_n_variables(g), 3);
    CU_ASSERT_EQUAL(cai_graph_n_factors(g), 2);
    CU_ASSERT_STRING_EQUAL(cai_graph_variable_name(g, 2), "2");
    CU_ASSERT_EQUAL(cai_graph_variable_card(g, 2), 3);
    CU_ASSERT_PTR_NULL(cai_graph_state_name(g, 0, 0));
    CU_ASSERT_STRING_EQUAL(cai_model_name(m), "");
    /* the last scope variable fastest: (Y, Z) = (1, 2) is the 6th entry */
    CAI_ASSERT_CLOSE(value_at(g, 1, 1, 2, 0), 10.0, 1e-14);
    CAI_ASSERT_CLOSE(value_at(g, 1, 0, 1, 0), 3.25, 1e-14);
    CAI_ASSERT_CLOSE(value_at(g, 0, 0, 1, 0), 2.4, 1e-14);
    answer b = brute(g), e = engine(g);
    CAI_ASSERT_CLOSE(b.log_z, log(70.25), 1e-14);
    CAI_ASSERT_CLOSE(b.marg[0][0], (4 * 9.25 + 2.4 * 10) / 70.25, 1e-14);
    assert_same(g, &b, &e, 1e-12);
    cai_model_free(m);

    /* the evidence, in the UAI 2014 form and in the older one (a sample
     * count of 1 first) */
    const char *evid[] = {"2 1 0 2 1", "1\n2 1 0 2 1\n"};
    for (size_t i = 0; i < 2; i++) {
        m = parse_uai(uai_markov, evid[i]);
        g = cai_model_graph(m);
        CU_ASSERT_EQUAL(cai_graph_evidence(g, 0), CAI_NONE);
        CU_ASSERT_EQUAL(cai_graph_evidence(g, 1), 0);
        CU_ASSERT_EQUAL(cai_graph_evidence(g, 2), 1);
        b = brute(g);
        e = engine(g);
        CAI_ASSERT_CLOSE(b.log_z, log(16.25), 1e-14);
        CAI_ASSERT_CLOSE(b.marg[0][0], 0.8, 1e-14);
        assert_same(g, &b, &e, 1e-12);
        cai_model_free(m);
    }
    /* no evidence: an empty file, "0", the older "1 0"; comments */
    const char *none[] = {"", "0\n", "1 0"};
    for (size_t i = 0; i < 3; i++) {
        m = parse_uai(uai_markov, none[i]);
        CU_ASSERT_EQUAL(cai_graph_evidence(cai_model_graph(m), 1), CAI_NONE);
        cai_model_free(m);
    }
    m = parse_uai("c a comment\nMARKOV\n  c indented comment\n1 2 1\n1 0\n2 1 3\nc end\n", NULL);
    CAI_ASSERT_CLOSE(brute(cai_model_graph(m)).log_z, log(4.0), 1e-14);
    cai_model_free(m);
}

/* The UAI 2008 evaluation's format page (Darwiche, Dechter et al.,
 * graphmod.ics.uci.edu/uai08/FileFormat): the Bayesian network
 * P(X) P(Y | X) P(Z | Y) with cardinalities 2 2 3. */
static const char uai_bayes[] =
    "BAYES\n"
    "3\n"
    "2 2 3\n"
    "3\n"
    "1 0\n"
    "2 0 1\n"
    "2 1 2\n"
    "\n"
    "2\n"
    " 0.436 0.564\n"
    "\n"
    "4\n"
    " 0.128 0.872\n"
    " 0.920 0.080\n"
    "\n"
    "6\n"
    " 0.210 0.333 0.457\n"
    " 0.811 0.000 0.189\n";

static void test_uai_bayes(void)
{
    cai_model *m = parse_uai(uai_bayes, NULL);
    const cai_graph *g = cai_model_graph(m);
    answer b = brute(g), e = engine(g);
    CAI_ASSERT_CLOSE(b.log_z, 0.0, 1e-14);
    double y0 = 0.436 * 0.128 + 0.564 * 0.920;
    CAI_ASSERT_CLOSE(b.marg[1][0], y0, 1e-14);
    CAI_ASSERT_CLOSE(b.marg[2][2], y0 * 0.457 + (1 - y0) * 0.189, 1e-14);
    assert_same(g, &b, &e, 1e-12);
    cai_model_free(m);
}

/* The Schlandals documentation's UAI example (aia-uclouvain.github.io/
 * schlandals/modelization/bn/uai.html): A -> B, A -> C, (B, C) -> D, with
 * the evidence "1 3 0" (D = d0). A loop, so enumeration only:
 * p(D = 0) = 0.2 * 0.3875 + 0.8 * 0.67125 = 0.6145. */
static void test_uai_bayes_loop(void)
{
    cai_model *m = parse_uai("BAYES\n4\n2 2 2 2\n4\n1 0\n2 0 1\n2 0 2\n3 1 2 3\n\n"
                             "2\n0.2 0.8\n4\n0.6 0.4 0.3 0.7\n4\n0.25 0.75 0.75 0.25\n"
                             "8\n1.0 0.0 0.35 0.65 0.8 0.2 0.0 1.0\n",
                             "1 3 0");
    answer b = brute(cai_model_graph(m));
    CAI_ASSERT_CLOSE(b.log_z, log(0.6145), 1e-14);
    CAI_ASSERT_CLOSE(b.marg[0][0], 0.2 * 0.3875 / 0.6145, 1e-14);
    cai_model_free(m);
}

/* libDAI's documentation of the .fg format (include/dai/doc.h, "Factor
 * block format", libDAI 0.2.x): one factor over labels 4 8 7 with
 * cardinalities 3 2 2, entries numbered with x4 fastest, then x8, then x7.
 * The page lists 12 index-value lines under a count of 11, the 11th being
 * "12 6.4", an index past the 12 entries that its own table does not have:
 * here it is left out (the page's text as printed is an error case below).
 * Its table, read off the page, (x4, x8, x7) -> value: */
static const double dai_table[2][2][3] = {
    /* x7 = 0: x8 = 0 then 1, x4 = 0..2 */
    {{0.1, 3.5, 2.8}, {6.3, 8.4, 0.0}},
    /* x7 = 1 */
    {{7.4, 2.4, 8.9}, {1.3, 1.6, 2.6}},
};

static const char dai_example[] =
    "# libDAI doc.h example\n"
    "1\n"
    "\n"
    "3\n"
    "4 8 7\n"
    "3 2 2\n"
    "11\n"
    "0 0.1\n"
    "1 3.5\n"
    "2 2.8\n"
    "3 6.3\n"
    "4 8.4\n"
    "6 7.4\n"
    "7 2.4\n"
    "8 8.9\n"
    "9 1.3\n"
    "10 1.6\n"
    "11 2.6\n";

static void test_fg_libdai_example(void)
{
    cai_model *m = parse_fg(dai_example);
    const cai_graph *g = cai_model_graph(m);
    /* variables by increasing label */
    CU_ASSERT_EQUAL_FATAL(cai_graph_n_variables(g), 3);
    CU_ASSERT_STRING_EQUAL(cai_graph_variable_name(g, 0), "4");
    CU_ASSERT_STRING_EQUAL(cai_graph_variable_name(g, 1), "7");
    CU_ASSERT_STRING_EQUAL(cai_graph_variable_name(g, 2), "8");
    CU_ASSERT_EQUAL(cai_graph_variable_card(g, 0), 3);
    CU_ASSERT_EQUAL(cai_graph_variable_card(g, 1), 2);
    /* the scope keeps the file's order 4 8 7 */
    size_t k;
    const size_t *scope = cai_graph_factor_scope(g, 0, &k);
    CU_ASSERT_EQUAL_FATAL(k, 3);
    CU_ASSERT(scope[0] == 0 && scope[1] == 2 && scope[2] == 1);
    for (size_t x4 = 0; x4 < 3; x4++)
        for (size_t x8 = 0; x8 < 2; x8++)
            for (size_t x7 = 0; x7 < 2; x7++)
                CAI_ASSERT_CLOSE(value_at(g, 0, x4, x8, x7), dai_table[x7][x8][x4], 1e-14);
    CAI_ASSERT_CLOSE(brute(g).log_z, log(45.3), 1e-14);
    cai_model_free(m);
}

/* A chain of three factors with sparse labels and '#' comments: a tree,
 * so enumeration and sum-product must agree. */
static void test_fg_chain(void)
{
    cai_model *m = parse_fg("3 # factors\n\n1\n10\n2\n2\n0 0.3\n1 0.7\n\n"
                            "2\n10 3\n2 3\n5 # one zero\n0 1\n1 2\n2 3\n3 4\n5 6\n\n"
                            "2\n3 0\n3 2\n6\n0 1\n1 1\n2 1\n3 0.5\n4 0.25\n5 2\n");
    const cai_graph *g = cai_model_graph(m);
    CU_ASSERT_EQUAL(cai_graph_n_variables(g), 3);
    CU_ASSERT_STRING_EQUAL(cai_graph_variable_name(g, 0), "0");
    CU_ASSERT_STRING_EQUAL(cai_graph_variable_name(g, 2), "10");
    /* factor 1 over (10, 3): index 2 is (10 = 0, 3 = 1) -> 3; index 4 is zero */
    CAI_ASSERT_CLOSE(value_at(g, 1, 0, 1, 0), 3.0, 1e-14);
    CAI_ASSERT_CLOSE(value_at(g, 1, 0, 2, 0), 0.0, 1e-14);
    CAI_ASSERT_CLOSE(value_at(g, 1, 1, 2, 0), 6.0, 1e-14);
    answer b = brute(g), e = engine(g);
    assert_same(g, &b, &e, 1e-12);
    /* written back, the labels are kept (the names are decimal labels) */
    char *text = write_text(g, true, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\n2\n10 3\n2 3\n"));
    cai_model *back = parse_fg(text);
    const cai_graph *h = cai_model_graph(back);
    CU_ASSERT_STRING_EQUAL(cai_graph_variable_name(h, 2), "10");
    answer r = brute(h);
    assert_same(h, &b, &r, 1e-12);
    cai_model_free(back);
    free(text);
    cai_model_free(m);
}

/* bnlearn's asia.bif (www.bnlearn.com/bnrepository, Lauritzen and
 * Spiegelhalter 1988), as distributed. Its published marginals: p(tub) =
 * 0.0104, p(lung) = 0.055, p(bronc) = 0.45, p(either) = 0.064828,
 * p(xray) = 0.11029004, p(dysp) = 0.4359706 (the "yes" states). */
static const char asia_bif[] =
    "network unknown {\n"
    "}\n"
    "variable asia {\n"
    "  type discrete [ 2 ] { yes, no };\n"
    "}\n"
    "variable tub {\n"
    "  type discrete [ 2 ] { yes, no };\n"
    "}\n"
    "variable smoke {\n"
    "  type discrete [ 2 ] { yes, no };\n"
    "}\n"
    "variable lung {\n"
    "  type discrete [ 2 ] { yes, no };\n"
    "}\n"
    "variable bronc {\n"
    "  type discrete [ 2 ] { yes, no };\n"
    "}\n"
    "variable either {\n"
    "  type discrete [ 2 ] { yes, no };\n"
    "}\n"
    "variable xray {\n"
    "  type discrete [ 2 ] { yes, no };\n"
    "}\n"
    "variable dysp {\n"
    "  type discrete [ 2 ] { yes, no };\n"
    "}\n"
    "probability ( asia ) {\n"
    "  table 0.01, 0.99;\n"
    "}\n"
    "probability ( tub | asia ) {\n"
    "  (yes) 0.05, 0.95;\n"
    "  (no) 0.01, 0.99;\n"
    "}\n"
    "probability ( smoke ) {\n"
    "  table 0.5, 0.5;\n"
    "}\n"
    "probability ( lung | smoke ) {\n"
    "  (yes) 0.1, 0.9;\n"
    "  (no) 0.01, 0.99;\n"
    "}\n"
    "probability ( bronc | smoke ) {\n"
    "  (yes) 0.6, 0.4;\n"
    "  (no) 0.3, 0.7;\n"
    "}\n"
    "probability ( either | lung, tub ) {\n"
    "  (yes, yes) 1.0, 0.0;\n"
    "  (no, yes) 1.0, 0.0;\n"
    "  (yes, no) 1.0, 0.0;\n"
    "  (no, no) 0.0, 1.0;\n"
    "}\n"
    "probability ( xray | either ) {\n"
    "  (yes) 0.98, 0.02;\n"
    "  (no) 0.05, 0.95;\n"
    "}\n"
    "probability ( dysp | bronc, either ) {\n"
    "  (yes, yes) 0.9, 0.1;\n"
    "  (no, yes) 0.7, 0.3;\n"
    "  (yes, no) 0.8, 0.2;\n"
    "  (no, no) 0.1, 0.9;\n"
    "}\n";

static void test_bif_asia(void)
{
    cai_model *m = parse_bif(asia_bif);
    const cai_graph *g = cai_model_graph(m);
    CU_ASSERT_STRING_EQUAL(cai_model_name(m), "unknown");
    CU_ASSERT_EQUAL_FATAL(cai_graph_n_variables(g), 8);
    CU_ASSERT_EQUAL(cai_graph_n_factors(g), 8);
    CU_ASSERT_STRING_EQUAL(cai_graph_variable_name(g, 5), "either");
    CU_ASSERT_STRING_EQUAL(cai_graph_state_name(g, 5, 1), "no");
    /* factor 5 is p(either | lung, tub) over (lung, tub, either) */
    size_t k;
    const size_t *scope = cai_graph_factor_scope(g, 5, &k);
    CU_ASSERT_EQUAL_FATAL(k, 3);
    CU_ASSERT(scope[0] == 3 && scope[1] == 1 && scope[2] == 5);
    CAI_ASSERT_CLOSE(value_at(g, 5, 1, 0, 0), 1.0, 1e-14); /* (no, yes) -> yes */
    CAI_ASSERT_CLOSE(value_at(g, 5, 1, 1, 1), 1.0, 1e-14);
    CAI_ASSERT_CLOSE(value_at(g, 5, 1, 1, 0), 0.0, 1e-14);
    answer b = brute(g);
    CAI_ASSERT_CLOSE(b.log_z, 0.0, 1e-14);
    const double yes[8] = {0.01, 0.0104, 0.5, 0.055, 0.45, 0.064828, 0.11029004, 0.4359706};
    for (size_t v = 0; v < 8; v++)
        CAI_ASSERT_CLOSE(b.marg[v][0], yes[v], 1e-12);
    cai_model_free(m);
}

/* The rest of the grammar on a tree: comments, properties, quoted names,
 * a default row, rows in any order, probability blocks before the
 * variables they use, commas left out. */
static void test_bif_grammar(void)
{
    cai_model *m = parse_bif(
        "// a comment\n"
        "network \"my net\" { property version 1.0 ; }\n"
        "probability ( \"B b\" | A ) {\n"
        "  default 0.5 0.25 0.25;\n"
        "  (a2) 0.1, 0.2, 0.7;   /* a row */\n"
        "  property note = \"x\" ;\n"
        "}\n"
        "variable A { property position = (1, 2) ; type discrete [ 3 ] { a1, a2, a3 }; }\n"
        "variable \"B b\" { type discrete [ 3 ] { b1 b2 b3 } }\n"
        "probability ( A ) { table 0.2 0.3 0.5; }\n"
        "variable C { type discrete [ 2 ] { c1, c2 }; }\n"
        "probability ( C | \"B b\" ) { (b3) 0.9, 0.1; (b1) 0.5, 0.5; (b2) 0.0, 1.0; }\n");
    const cai_graph *g = cai_model_graph(m);
    CU_ASSERT_STRING_EQUAL(cai_model_name(m), "my net");
    CU_ASSERT_STRING_EQUAL(cai_graph_variable_name(g, 1), "B b");
    CU_ASSERT_STRING_EQUAL(cai_graph_state_name(g, 1, 2), "b3");
    /* factors in the order of the blocks: p(B | A), p(A), p(C | B) */
    CAI_ASSERT_CLOSE(value_at(g, 0, 0, 1, 0), 0.25, 1e-14);
    CAI_ASSERT_CLOSE(value_at(g, 0, 1, 2, 0), 0.7, 1e-14);
    CAI_ASSERT_CLOSE(value_at(g, 2, 2, 0, 0), 0.9, 1e-14);
    answer b = brute(g), e = engine(g);
    CAI_ASSERT_CLOSE(b.log_z, 0.0, 1e-14);
    CAI_ASSERT_CLOSE(b.marg[1][2], 0.2 * 0.25 + 0.3 * 0.7 + 0.5 * 0.25, 1e-14);
    assert_same(g, &b, &e, 1e-12);
    cai_model_free(m);
}

/* ---- files and dispatch ------------------------------------------------ */

static void write_path(const char *name, const char *text)
{
    cai_test_write_file(name, text);
}

static char *path_of(const char *name)
{
    static char buf[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", cai_test_dir(), name);
    return buf[i];
}

static void test_dispatch(void)
{
    CU_ASSERT_EQUAL(cai_model_format_of("a/b.uai"), CAI_FORMAT_UAI);
    CU_ASSERT_EQUAL(cai_model_format_of("B.UAI"), CAI_FORMAT_UAI);
    CU_ASSERT_EQUAL(cai_model_format_of("x.fg"), CAI_FORMAT_FG);
    CU_ASSERT_EQUAL(cai_model_format_of("x.bif"), CAI_FORMAT_BIF);
    CU_ASSERT_EQUAL(cai_model_format_of("x.yaml"), CAI_FORMAT_YAML);
    CU_ASSERT_EQUAL(cai_model_format_of("uai"), CAI_FORMAT_YAML);
    CU_ASSERT_EQUAL(cai_model_format_of("dir/.fg"), CAI_FORMAT_YAML);
    CU_ASSERT_STRING_EQUAL(cai_model_format_name(CAI_FORMAT_FG), "fg");

    /* cai_model_load picks the reader, and UAI its sibling .evid */
    write_path("m.uai", uai_markov);
    write_path("e.uai", uai_markov);
    write_path("e.uai.evid", "2 1 0 2 1\n");
    write_path("asia.bif", asia_bif);
    write_path("d.fg", dai_example);
    cai_model *m = NULL;
    cai_error err;
    CU_ASSERT_EQUAL_FATAL(cai_model_load(path_of("m.uai"), &m, &err), CAI_OK);
    CAI_ASSERT_CLOSE(brute(cai_model_graph(m)).log_z, log(70.25), 1e-14);
    cai_model_free(m);
    CU_ASSERT_EQUAL_FATAL(cai_model_load(path_of("e.uai"), &m, &err), CAI_OK);
    CAI_ASSERT_CLOSE(brute(cai_model_graph(m)).log_z, log(16.25), 1e-14);
    cai_model_free(m);
    CU_ASSERT_EQUAL_FATAL(cai_model_load(path_of("asia.bif"), &m, &err), CAI_OK);
    CU_ASSERT_EQUAL(cai_graph_n_variables(cai_model_graph(m)), 8);
    cai_model_free(m);
    CU_ASSERT_EQUAL_FATAL(cai_model_load(path_of("d.fg"), &m, &err), CAI_OK);
    CU_ASSERT_EQUAL(cai_graph_n_factors(cai_model_graph(m)), 1);
    cai_model_free(m);
    /* any extension, by request */
    write_path("asia.txt", asia_bif);
    CU_ASSERT_EQUAL_FATAL(cai_model_load_as(path_of("asia.txt"), CAI_FORMAT_BIF, &m, &err),
                          CAI_OK);
    cai_model_free(m);

    /* errors name the evidence file; unreadable files are CAI_ERR_IO */
    write_path("bad.uai", uai_markov);
    write_path("bad.uai.evid", "1 0 9\n");
    m = NULL;
    CU_ASSERT_EQUAL(cai_model_load(path_of("bad.uai"), &m, &err), CAI_ERR_MODEL);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_STRING_EQUAL(err.file, path_of("bad.uai.evid"));
    CU_ASSERT_EQUAL(err.line, 1);
    CU_ASSERT_EQUAL(err.column, 5);
    CU_ASSERT_EQUAL(cai_model_load(path_of("missing.fg"), &m, &err), CAI_ERR_IO);
    CU_ASSERT_STRING_EQUAL(err.file, path_of("missing.fg"));
    CU_ASSERT_PTR_NULL(m);
    write_path("dir.uai", uai_markov);
    CU_ASSERT_EQUAL_FATAL(mkdir(path_of("dir.uai.evid"), 0700), 0);
    CU_ASSERT_EQUAL(cai_model_load(path_of("dir.uai"), &m, &err), CAI_ERR_IO);
    CU_ASSERT_STRING_EQUAL(err.file, path_of("dir.uai.evid"));
    rmdir(path_of("dir.uai.evid"));
    CU_ASSERT_EQUAL(cai_model_load_as(path_of("m.uai"), (cai_model_format)9, &m, &err),
                    CAI_ERR_INVALID);
    CU_ASSERT_PTR_NULL(m);
}

/* ---- writers ----------------------------------------------------------- */

/* A graph with what the writers must flatten: a CSR conditional, a
 * potential tied into two factors, a support-mode factor, evidence, a
 * variable of no factor and a zero weight. A tree: (A, B) absorbs into
 * (A, B, C), then (C, D). */
static cai_graph *rich_graph(bool evidence)
{
    cai_graph *g = NULL;
    cai_error err;
    size_t A, B, C, D, E;
    CU_ASSERT_EQUAL_FATAL(cai_graph_create(&g, &err), CAI_OK);
    cai_graph_add_variable(g, "A", 3, NULL, &A, &err);
    cai_graph_add_variable(g, "B", 2, NULL, &B, &err);
    cai_graph_add_variable(g, "C", 4, NULL, &C, &err);
    cai_graph_add_variable(g, "D", 2, NULL, &D, &err);
    cai_graph_add_variable(g, "E", 3, NULL, &E, &err);
    cai_potential *ab = NULL, *c_ab = NULL, *u = NULL, *cd = NULL;
    size_t cab[2] = {3, 2}, ccd[2] = {4, 2}, two = 2;
    double lab[6] = {0.5, -1.0, -INFINITY, 2.0, 0.25, -0.75};
    double lcd[8] = {1.0, -INFINITY, 0.3, 0.7, -INFINITY, -INFINITY, 2.0, 0.1};
    double lu[2] = {-0.2, 0.9};
    size_t rp[7] = {0, 2, 3, 5, 6, 8, 10};
    size_t col[10] = {0, 3, 1, 0, 2, 3, 1, 2, 0, 3};
    double pr[10] = {0.25, 0.75, 1.0, 0.5, 0.5, 1.0, 0.9, 0.1, 0.4, 0.6};
    CU_ASSERT_EQUAL_FATAL(cai_potential_table_create(2, cab, lab, &ab, &err), CAI_OK);
    CU_ASSERT_EQUAL_FATAL(cai_potential_csr_create(2, cab, 4, rp, col, pr, &c_ab, &err), CAI_OK);
    CU_ASSERT_EQUAL_FATAL(cai_potential_table_create(1, &two, lu, &u, &err), CAI_OK);
    CU_ASSERT_EQUAL_FATAL(cai_potential_table_create(2, ccd, lcd, &cd, &err), CAI_OK);
    size_t s_ab[2] = {A, B}, s_abc[3] = {A, B, C}, s_cd[2] = {C, D};
    CU_ASSERT_EQUAL(cai_graph_add_factor(g, ab, s_ab, 2, CAI_MODE_NORMAL, NULL, &err), CAI_OK);
    CU_ASSERT_EQUAL(cai_graph_add_factor(g, c_ab, s_abc, 3, CAI_MODE_NORMAL, NULL, &err), CAI_OK);
    CU_ASSERT_EQUAL(cai_graph_add_factor(g, u, &B, 1, CAI_MODE_NORMAL, NULL, &err), CAI_OK);
    CU_ASSERT_EQUAL(cai_graph_add_factor(g, cd, s_cd, 2, CAI_MODE_SUPPORT, NULL, &err), CAI_OK);
    CU_ASSERT_EQUAL(cai_graph_add_factor(g, u, &D, 1, CAI_MODE_NORMAL, NULL, &err), CAI_OK);
    if (evidence)
        CU_ASSERT_EQUAL(cai_graph_set_evidence(g, C, 3, &err), CAI_OK);
    cai_potential_unref(ab);
    cai_potential_unref(c_ab);
    cai_potential_unref(u);
    cai_potential_unref(cd);
    return g;
}

/* g written by the writer (fg: .fg, else UAI; evid: UAI evidence to its own
 * text) into fresh strings. */
static char *write_text(const cai_graph *g, bool fg, char **evid_text)
{
    char *text = NULL, *etext = NULL;
    size_t len = 0, elen = 0;
    FILE *f = open_memstream(&text, &len);
    FILE *e = evid_text ? open_memstream(&etext, &elen) : NULL;
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    cai_error err;
    cai_status st = fg ? cai_model_write_fg(g, f, &err) : cai_model_write_uai(g, f, e, &err);
    if (st != CAI_OK)
        fprintf(stderr, "\n  write: %s\n", err.message);
    CU_ASSERT_EQUAL(st, CAI_OK);
    fclose(f);
    if (e != NULL) {
        fclose(e);
        *evid_text = etext;
    }
    return text;
}

static void test_round_trips(void)
{
    for (int ev = 0; ev < 2; ev++) {
        cai_graph *g = rich_graph(ev);
        answer want = brute(g), eng = engine(g);
        assert_same(g, &want, &eng, 1e-12);
        for (int way = 0; way < 3; way++) { /* UAI, UAI + .evid, .fg */
            char *evid = NULL;
            char *text = write_text(g, way == 2, way == 1 ? &evid : NULL);
            cai_model *m = way == 2 ? parse_fg(text) : parse_uai(text, evid);
            const cai_graph *h = cai_model_graph(m);
            CU_ASSERT_EQUAL(cai_graph_n_variables(h), 5);
            CU_ASSERT_EQUAL(cai_graph_variable_card(h, 2), 4);
            /* extra factors: indicators (UAI, .fg) and ones for E (.fg) */
            size_t extra = (way != 1 && ev) + (way == 2);
            CU_ASSERT_EQUAL(cai_graph_n_factors(h), 5 + extra);
            if (way == 1)
                CU_ASSERT_EQUAL(cai_graph_evidence(h, 2), ev ? 3 : CAI_NONE);
            answer b = brute(h), e = engine(h);
            assert_same(h, &want, &b, 1e-12);
            assert_same(h, &want, &e, 1e-12);
            cai_model_free(m);
            free(text);
            free(evid);
        }
        cai_graph_free(g);
    }
}

/* The .fg entry order by hand: one factor over (A: 3, B: 2) with cai's
 * row-major table [A0B0, A0B1, A1B0, A1B1, A2B0, A2B1] = [1 2 3 4 0 6]
 * is written with A fastest: index a + 3 b, so 0 1, 1 3, 3 2, 4 4, 5 6
 * (index 2, A2B0, is zero and not listed). */
static void test_fg_order(void)
{
    cai_graph *g = NULL;
    cai_error err;
    cai_potential *p = NULL;
    size_t a, b, cards[2] = {3, 2};
    double v[6] = {1, 2, 3, 4, 0, 6};
    cai_graph_create(&g, &err);
    cai_graph_add_variable(g, "A", 3, NULL, &a, &err);
    cai_graph_add_variable(g, "B", 2, NULL, &b, &err);
    CU_ASSERT_EQUAL_FATAL(cai_potential_table_create_linear(2, cards, v, &p, &err), CAI_OK);
    size_t scope[2] = {a, b};
    cai_graph_add_factor(g, p, scope, 2, CAI_MODE_NORMAL, NULL, &err);
    cai_potential_unref(p);
    char *text = write_text(g, true, NULL);
    size_t nf, k, l0, l1, c0, c1, nnz;
    int used = 0;
    CU_ASSERT_EQUAL_FATAL(sscanf(text, "%zu %zu %zu %zu %zu %zu %zu%n", &nf, &k, &l0, &l1, &c0,
                                 &c1, &nnz, &used),
                          7);
    CU_ASSERT(nf == 1 && k == 2 && l0 == 0 && l1 == 1 && c0 == 3 && c1 == 2);
    CU_ASSERT_EQUAL_FATAL(nnz, 5);
    const size_t want_i[5] = {0, 1, 3, 4, 5};
    const double want_v[5] = {1, 3, 2, 4, 6};
    const char *s = text + used;
    for (size_t e = 0; e < 5; e++) {
        size_t li;
        double x;
        int w = 0;
        CU_ASSERT_EQUAL_FATAL(sscanf(s, "%zu %lf%n", &li, &x, &w), 2);
        CU_ASSERT_EQUAL(li, want_i[e]);
        CAI_ASSERT_CLOSE(x, want_v[e], 1e-15);
        s += w;
    }
    /* and UAI keeps cai's order: "6" then the rows of B */
    free(text);
    text = write_text(g, false, NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "MARKOV\n2\n3 2\n1\n2 0 1\n\n6\n1 2\n"));
    free(text);
    cai_graph_free(g);
}

/* The UAI writer's evidence stream: "N v x ...", "0" without evidence. */
static void test_uai_evid_text(void)
{
    cai_graph *g = rich_graph(true);
    char *evid = NULL;
    free(write_text(g, false, &evid));
    CU_ASSERT_STRING_EQUAL(evid, "1 2 3\n");
    free(evid);
    cai_graph_free(g);
    g = rich_graph(false);
    free(write_text(g, false, &evid));
    CU_ASSERT_STRING_EQUAL(evid, "0\n");
    free(evid);
    cai_graph_free(g);
}

/* Refusals write nothing: absurd tables (one, or all together; CSR
 * potentials so the test itself stays small), weights a double cannot
 * hold. */
static void check_refused(const cai_graph *g, cai_status code, const char *phrase)
{
    for (int fg = 0; fg < 2; fg++) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        cai_error err;
        cai_error_clear(&err);
        cai_status st = fg ? cai_model_write_fg(g, f, &err) : cai_model_write_uai(g, f, NULL, &err);
        fclose(f);
        CU_ASSERT_EQUAL(st, code);
        CU_ASSERT_EQUAL(len, 0);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.message, phrase));
        if (strstr(err.message, phrase) == NULL)
            fprintf(stderr, "\n  got: %s\n", err.message);
        /* the check alone */
        CU_ASSERT_EQUAL(fg ? cai_model_write_fg(g, NULL, &err)
                           : cai_model_write_uai(g, NULL, NULL, &err), code);
        free(text);
    }
}

static cai_graph *csr_graph(size_t parent_card, size_t child_card, size_t copies)
{
    cai_graph *g = NULL;
    cai_error err;
    cai_graph_create(&g, &err);
    size_t *rp = malloc((parent_card + 1) * sizeof *rp), *col = malloc(parent_card * sizeof *col);
    double *pr = malloc(parent_card * sizeof *pr);
    for (size_t r = 0; r <= parent_card; r++)
        rp[r] = r;
    for (size_t r = 0; r < parent_card; r++) {
        col[r] = r % child_card;
        pr[r] = 1.0;
    }
    cai_potential *p = NULL;
    CU_ASSERT_EQUAL_FATAL(cai_potential_csr_create(1, &parent_card, child_card, rp, col, pr, &p,
                                                   &err), CAI_OK);
    for (size_t c = 0; c < copies; c++) {
        char name[32];
        size_t scope[2];
        snprintf(name, sizeof name, "p%zu", c);
        cai_graph_add_variable(g, name, parent_card, NULL, &scope[0], &err);
        snprintf(name, sizeof name, "c%zu", c);
        cai_graph_add_variable(g, name, child_card, NULL, &scope[1], &err);
        cai_graph_add_factor(g, p, scope, 2, CAI_MODE_NORMAL, NULL, &err);
    }
    cai_potential_unref(p);
    free(rp);
    free(col);
    free(pr);
    return g;
}

static void test_writer_refusals(void)
{
    cai_graph *g = csr_graph(100000, 10000, 1); /* 10^9 entries */
    check_refused(g, CAI_ERR_OVERFLOW, "factor 0: its table would have more than 100000000");
    cai_graph_free(g);
    g = csr_graph(1000, 1000, 101); /* 101 tied factors of 10^6 */
    check_refused(g, CAI_ERR_OVERFLOW, "more than 100000000 table entries");
    cai_graph_free(g);

    for (int under = 0; under < 2; under++) {
        cai_error err;
        cai_potential *p = NULL;
        size_t two = 2, v;
        double lv[2] = {0.0, under ? -800.0 : 800.0};
        g = NULL;
        cai_graph_create(&g, &err);
        cai_graph_add_variable(g, "x", 2, NULL, &v, &err);
        cai_potential_table_create(1, &two, lv, &p, &err);
        cai_graph_add_factor(g, p, &v, 1, CAI_MODE_NORMAL, NULL, &err);
        cai_potential_unref(p);
        check_refused(g, CAI_ERR_NUMERIC, under ? "underflows to 0" : "overflows");
        cai_graph_free(g);
    }
}

/* ---- the compiled graph of an MDP -------------------------------------- */

static void test_mdp_export(void)
{
    cai_model *m = NULL;
    cai_error err;
    CU_ASSERT_EQUAL_FATAL(cai_model_load(CAI_SOURCE_ROOT "/models/lottery.yaml", &m, &err),
                          CAI_OK);
    const cai_mdp *mdp = cai_model_mdp(m);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mdp);
    cai_solve_options opt = cai_solve_options_default();
    opt.horizon = 3;
    opt.temperature = 2.0;
    cai_solution *sol = NULL;
    CU_ASSERT_EQUAL_FATAL(cai_mdp_solve(mdp, &opt, &sol, &err), CAI_OK);
    cai_graph *g = NULL;
    CU_ASSERT_EQUAL_FATAL(cai_mdp_export_graph(mdp, 2.0, 3, &g, &err), CAI_OK);
    CU_ASSERT_EQUAL(cai_graph_n_variables(g), 7); /* s0 a0 s1 a1 s2 a2 s3 */
    answer want = brute(g);
    CAI_ASSERT_CLOSE(want.log_z, cai_solution_log_evidence(sol), 1e-12);
    double marg[4];
    CU_ASSERT_EQUAL(cai_solution_state_marginal(sol, 1, marg, &err), CAI_OK);
    for (size_t s = 0; s < 4; s++)
        CAI_ASSERT_CLOSE(want.marg[2][s], marg[s], 1e-12);
    for (int fg = 0; fg < 2; fg++) {
        char *text = write_text(g, fg, NULL);
        cai_model *back = fg ? parse_fg(text) : parse_uai(text, NULL);
        const cai_graph *h = cai_model_graph(back);
        answer b = brute(h), e = engine(h);
        assert_same(h, &want, &b, 1e-12);
        assert_same(h, &want, &e, 1e-12);
        cai_model_free(back);
        free(text);
    }
    cai_graph_free(g);
    cai_solution_free(sol);
    /* refused: alpha = 0 */
    g = NULL;
    CU_ASSERT_EQUAL(cai_mdp_export_graph(mdp, 0.0, 0, &g, &err), CAI_ERR_INVALID);
    CU_ASSERT_PTR_NULL(g);
    cai_model_free(m);
    /* refused: discounted */
    CU_ASSERT_EQUAL_FATAL(cai_model_load(CAI_SOURCE_ROOT "/models/discounted.yaml", &m, &err),
                          CAI_OK);
    CU_ASSERT_EQUAL(cai_mdp_export_graph(cai_model_mdp(m), NAN, 0, &g, &err), CAI_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "discounted"));
    CU_ASSERT_PTR_NULL(g);
    cai_model_free(m);
}

/* ---- errors ------------------------------------------------------------ */

typedef enum efmt { E_UAI, E_EVID, E_FG, E_BIF } efmt;

static const char *const efile[] = {"bad.uai", "bad.uai.evid", "bad.fg", "bad.bif"};

/* The one-function model evidence cases are read against. */
#define EVID_MODEL "MARKOV\n2\n2 3\n1\n2 0 1\n6\n1 1 1 1 1 1\n"

static void check_error(efmt f, const char *text, cai_status code, size_t line,
                        size_t column, const char *phrase)
{
    cai_model *m = NULL;
    cai_error err;
    cai_error_clear(&err);
    size_t len = strlen(text);
    cai_status st;
    switch (f) {
    case E_UAI:
        st = cai_model_parse_uai(text, len, efile[f], NULL, 0, NULL, &m, &err);
        break;
    case E_EVID:
        st = cai_model_parse_uai(EVID_MODEL, strlen(EVID_MODEL), "bad.uai", text, len,
                                 efile[f], &m, &err);
        break;
    case E_FG:
        st = cai_model_parse_fg(text, len, efile[f], &m, &err);
        break;
    default:
        st = cai_model_parse_bif(text, len, efile[f], &m, &err);
        break;
    }
    CU_ASSERT_EQUAL(st, code);
    CU_ASSERT_EQUAL(err.code, code);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_STRING_EQUAL(err.file, efile[f]);
    CU_ASSERT_EQUAL(err.line, line);
    CU_ASSERT_EQUAL(err.column, column);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, phrase));
    CU_ASSERT_PTR_NULL(strchr(err.message, '\n'));
    if (st != code || err.line != line || err.column != column ||
        strstr(err.message, phrase) == NULL)
        fprintf(stderr, "\n  got %d %zu:%zu: %s\n  want %d %zu:%zu: ...%s...\n", (int)st,
                err.line, err.column, err.message, (int)code, line, column, phrase);
    cai_model_free(m);
}

#define M CAI_ERR_MODEL
/* X(name, format, text, code, line, column, phrase) */
#define ERROR_CASES(X)                                                                         \
    X(uai_empty, E_UAI, "c only a comment\n", M, 2, 1, "empty UAI file")                       \
    X(uai_type, E_UAI, "MARKOVV\n1\n2\n0\n", M, 1, 1, "expected the network type")             \
    X(uai_nvars, E_UAI, "MARKOV\nx\n", M, 2, 1, "expected the number of variables")            \
    X(uai_nvars_huge, E_UAI, "MARKOV\n123456789012\n", M, 2, 1, "exceeds the maximum")         \
    X(uai_nvars_absurd, E_UAI, "MARKOV\n99999999\n2\n", M, 4, 1,                               \
      "the file ends before the 99999999 cardinalities")                                       \
    X(uai_card0, E_UAI, "MARKOV\n2\n2 0\n0\n", M, 3, 3, "variable 1: cardinality must be")     \
    X(uai_scope_range, E_UAI, "MARKOV\n2\n2 2\n1\n2 0 2\n", M, 5, 5, "out of range 0..1")      \
    X(uai_scope_twice, E_UAI, "MARKOV\n2\n2 2\n1\n2 0 0\n", M, 5, 5, "appears twice")          \
    X(uai_scope_empty, E_UAI, "MARKOV\n1\n2\n1\n0\n", M, 5, 1, "empty scope")                  \
    X(uai_table_huge, E_UAI, "MARKOV\n3\n100000 100000 100000\n1\n3 0 1 2\n", M, 5, 1,         \
      "more than 100000000 entries")                                                           \
    X(uai_count, E_UAI, "MARKOV\n1\n2\n1\n1 0\n3 0.5 0.5 0.5\n", M, 6, 1,                      \
      "function 0: 3 entries, expected 2 (cardinalities 2)")                                   \
    X(uai_negative, E_UAI, "MARKOV\n1\n2\n1\n1 0\n2 0.5 -1\n", M, 6, 7,                        \
      "function 0 entry 1 is negative")                                                        \
    X(uai_nan, E_UAI, "MARKOV\n1\n2\n1\n1 0\n2 nan 1\n", M, 6, 3, "entry 0 is NaN")            \
    X(uai_inf, E_UAI, "MARKOV\n1\n2\n1\n1 0\n2 1 inf\n", M, 6, 5, "is infinite")               \
    X(uai_not_number, E_UAI, "MARKOV\n1\n2\n1\n1 0\n2 1 x1\n", M, 6, 5, "is not a number")     \
    X(uai_truncated, E_UAI, "MARKOV\n1\n2\n1\n1 0\n2 0.5", M, 6, 6,                            \
      "the file ends before function 0 entry 1")                                               \
    X(uai_truncated_scope, E_UAI, "MARKOV\n2\n2 2\n1\n2 0", M, 5, 4,                           \
      "ends before variable 1 of the scope of function 0")                                     \
    X(uai_trailing, E_UAI, "MARKOV\n1\n2\n1\n1 0\n2 0.5 0.5\nextra\n", M, 7, 1,                \
      "unexpected 'extra' after the last function table")                                      \
    X(uai_bayes_row, E_UAI, "BAYES\n1\n2\n1\n1 0\n2 0.5 0.6\n", M, 6, 3,                       \
      "row 0 (entries 0..1) sums to 1.1, not 1")                                               \
    X(uai_bayes_row2, E_UAI, "BAYES\n2\n2 2\n2\n1 0\n2 0 1\n2 1 0\n4\n1 0\n0.5 0.4\n", M,      \
      10, 1, "function 1: row 1")                                                              \
    X(uai_bayes_child, E_UAI, "BAYES\n2\n2 2\n2\n1 0\n2 1 0\n", M, 6, 1,                       \
      "variable 0 is already the child of function 0")                                         \
    X(uai_bayes_orphan, E_UAI, "BAYES\n2\n2 2\n1\n1 0\n2 0.5 0.5\n", M, 4, 1,                  \
      "variable 1 is the child of no function")                                                \
    X(uai_bayes_cycle, E_UAI, "BAYES\n3\n2 2 2\n3\n1 0\n2 2 1\n2 1 2\n", M, 7, 1,              \
      "directed cycle 2 -> 1 -> 2")                                                            \
    X(evid_var, E_EVID, "1 5 0", M, 1, 3, "variable 5 is out of range 0..1")                   \
    X(evid_value, E_EVID, "1 1 3", M, 1, 5, "value 3 of variable 1 is out of range 0..2")      \
    X(evid_twice, E_EVID, "2 0 1 0 1", M, 1, 7, "variable 0 is observed twice")                \
    X(evid_truncated, E_EVID, "2 0 1", M, 1, 6, "ends before the 2 variable-value pairs")      \
    X(evid_trailing, E_EVID, "1 0 1 1 2", M, 1, 7, "unexpected '1' after the 1")               \
    X(evid_old_truncated, E_EVID, "1\n2 0 1\n", M, 3, 1, "ends before the 2 variable")         \
    X(evid_samples, E_EVID, "2\n1 0 1\n1 1 2\n", M, 1, 1, "2 samples; only one")               \
    X(evid_not_int, E_EVID, "1 x 0", M, 1, 3, "expected the variable of evidence pair 0")      \
    X(fg_empty, E_FG, "# nothing\n", M, 2, 1, "ends before the number of factors")             \
    X(fg_no_vars, E_FG, "1\n\n0\n", M, 3, 1, "factor 0 has no variables")                      \
    X(fg_label_twice, E_FG, "1\n\n2\n0 0\n2 2\n0\n", M, 4, 3, "label 0 appears twice")         \
    X(fg_card0, E_FG, "1\n\n1\n0\n0\n0\n", M, 5, 1, "label 0 has cardinality 0")               \
    X(fg_card_clash, E_FG, "2\n\n1\n0\n2\n0\n\n1\n0\n3\n0\n", M, 10, 1,                        \
      "label 0 has cardinality 3 here but 2 in factor 0 (line 4)")                             \
    X(fg_nnz, E_FG, "1\n\n1\n0\n2\n3\n", M, 6, 1, "3 nonzero entries, but its table has")      \
    X(fg_index_range, E_FG, "1\n\n1\n0\n2\n1\n2 0.5\n", M, 7, 1,                               \
      "entry index 2 is out of range 0..1")                                                    \
    X(fg_index_twice, E_FG, "1\n\n1\n0\n2\n2\n0 1\n0 2\n", M, 8, 1,                            \
      "entry index 0 is listed twice")                                                         \
    X(fg_negative, E_FG, "1\n\n1\n0\n2\n1\n0 -1\n", M, 7, 3, "factor 0 entry 0 is negative")   \
    X(fg_truncated, E_FG, "1\n\n1\n0\n2\n2\n0 1\n", M, 8, 1,                                   \
      "ends before the 4 numbers of the index-value pairs of factor 0")                        \
    X(fg_truncated_value, E_FG, "1\n\n1\n0\n2\n2\n0 1\n1", M, 8, 2,                            \
      "ends before factor 0 entry 1")                                                          \
    X(fg_trailing, E_FG, "1\n\n1\n0\n1\n1\n0 1\nx\n", M, 8, 1,                                 \
      "unexpected 'x' after the last factor")                                                  \
    X(fg_absurd, E_FG, "99999999\n", M, 2, 1, "ends before the 99999999 factor blocks")        \
    X(fg_huge, E_FG, "1\n\n2\n0 1\n100000 100000\n0\n", M, 3, 1,                               \
      "more than 100000000 entries")                                                           \
    /* libDAI's doc example as printed: 12 lines under a count of 11; the 11th */              \
    X(fg_libdai_doc, E_FG, "1\n\n3\n4 8 7\n3 2 2\n11\n0 0.1\n1 3.5\n2 2.8\n3 6.3\n4 8.4\n"     \
      "6 7.4\n7 2.4\n8 8.9\n9 1.3\n10 1.6\n12 6.4\n11 2.6\n", M, 17, 1,                        \
      "entry index 12 is out of range 0..11")                                                  \
    X(bif_empty, E_BIF, "// nothing\n", M, 2, 1, "empty BIF file")                             \
    X(bif_top, E_BIF, "netwerk x { }\n", M, 1, 1, "expected network, variable or prob")        \
    X(bif_comment, E_BIF, "network x { }\n/* open", M, 2, 1, "unterminated comment")           \
    X(bif_string, E_BIF, "network \"x { }\n", M, 1, 9, "unterminated string")                  \
    X(bif_network2, E_BIF, "network a { }\nnetwork b { }\n", M, 2, 1, "a second network")      \
    X(bif_var_twice, E_BIF, V2 "variable a { type discrete [ 1 ] { z }; }\n", M, 2, 10,        \
      "variable 'a' is declared twice (first at line 1)")                                      \
    X(bif_no_type, E_BIF, "variable a { }\n", M, 1, 10, "variable 'a' has no type")            \
    X(bif_continuous, E_BIF, "variable a { type continuous; }\n", M, 1, 19,                    \
      "only discrete variables are supported")                                                 \
    X(bif_card0, E_BIF, "variable a { type discrete [ 0 ] { }; }\n", M, 1, 30,                 \
      "the number of states must be an integer in 1..")                                        \
    X(bif_card_absurd, E_BIF, "variable a { type discrete [ 99999999 ] { x }; }\n", M, 2, 1,   \
      "the file ends before the 99999999 state names")                                         \
    X(bif_few_states, E_BIF, "variable a { type discrete [ 3 ] { x, y }; }\n", M, 1, 41,       \
      "2 state names for discrete [ 3 ]")                                                      \
    X(bif_many_states, E_BIF, "variable a { type discrete [ 1 ] { x, y }; }\n", M, 1, 39,      \
      "more than the 1 states")                                                                \
    X(bif_state_twice, E_BIF, "variable a { type discrete [ 2 ] { x, x }; }\n", M, 1, 39,      \
      "state 'x' appears twice")                                                               \
    X(bif_truncated, E_BIF, "variable a { type discrete [ 2 ] { x, y };", M, 1, 43,            \
      "the file ends before '}' to close the variable block")                                  \
    X(bif_unknown_child, E_BIF, V2 "probability ( b ) { table 1; }\n", M, 2, 15,               \
      "unknown variable 'b'")                                                                  \
    X(bif_unknown_parent, E_BIF, V2 "probability ( a | c ) { table 1; }\n", M, 2, 19,          \
      "unknown variable 'c'")                                                                  \
    X(bif_parent_twice, E_BIF, V3 "probability ( b | a, a ) { }\n", M, 3, 22,                     \
      "parent 'a' of 'b' is listed twice")                                                    \
    X(bif_own_parent, E_BIF, V2 "probability ( a | a ) { }\n", M, 2, 19,                       \
      "'a' is its own parent")                                                                 \
    X(bif_few_probs, E_BIF, V2 "probability ( a ) { table 0.5; }\n", M, 2, 30,                 \
      "probability ( a ): 1 probabilities for the 2 states of 'a'")                            \
    X(bif_many_probs, E_BIF, V2 "probability ( a ) { table 0.2, 0.3, 0.5; }\n", M, 2, 37,      \
      "too many probabilities ('a' has 2 states)")                                             \
    X(bif_sum, E_BIF, V2 "probability ( a ) { table 0.5, 0.6; }\n", M, 2, 27,                  \
      "the probabilities sum to 1.1, not 1")                                                   \
    X(bif_negative, E_BIF, V2 "probability ( a ) { table -0.5, 1.5; }\n", M, 2, 27,            \
      "probability 0 is negative")                                                             \
    X(bif_nan, E_BIF, V2 "probability ( a ) { table 0.5, nan; }\n", M, 2, 32,                  \
      "probability 1 is NaN")                                                                  \
    X(bif_not_number, E_BIF, V2 "probability ( a ) { table 0.5, x; }\n", M, 2, 32,             \
      "expected a probability (a number), got 'x'")                                            \
    X(bif_no_semicolon, E_BIF, V2 "probability ( a ) { table 0.5, 0.5 }\n", M, 2, 36,          \
      "expected ';' after the probabilities, got '}'")                                         \
    X(bif_unknown_state, E_BIF, V3 "probability ( b | a ) { (z) 0.5, 0.5; }\n", M, 3, 26,      \
      "probability ( b | a ): unknown state 'z' of 'a' (states: x, y)")                        \
    X(bif_missing_row, E_BIF, V3 "probability ( b | a ) { (y) 0.5, 0.5; }\n", M, 3, 39,        \
      "no probabilities for (x) and no default")                                               \
    X(bif_row_twice, E_BIF, V3 "probability ( b | a ) { (x) 0.5, 0.5; (x) 1, 0; }\n", M, 3,    \
      39, "this row of parent states is given twice")                                          \
    X(bif_row_short, E_BIF, V3 "probability ( b | a, c ) { (x) 0.5, 0.5; }\n", M, 3, 30,       \
      "1 parent states in a row, expected 2")                                                  \
    X(bif_table_parents, E_BIF, V3 "probability ( b | a ) { table 0.5, 0.5, 0.5, 0.5; }\n",    \
      M, 3, 25, "'table' with parents is ambiguous")                                           \
    X(bif_row_no_parents, E_BIF, V2 "probability ( a ) { (x) 0.5, 0.5; }\n", M, 2, 21,         \
      "'a' has no parents, so no rows")                                                        \
    X(bif_no_block, E_BIF, V2, M, 1, 10, "variable 'a' has no probability block")              \
    X(bif_block_twice, E_BIF, V2 "probability ( a ) { table 1, 0; }\n"                         \
      "probability ( a ) { table 1, 0; }\n", M, 3, 1, "a second probability block for 'a'")    \
    X(bif_cycle, E_BIF, V3 "probability ( c ) { table 1; }\n"                                  \
      "probability ( a | b ) { default 0.5, 0.5; }\n"                                          \
      "probability ( b | a ) { default 0.5, 0.5; }\n", M, 5, 1,                                \
      "the parents form a directed cycle b -> a -> b")                                         \
    X(bif_block_truncated, E_BIF, V2 "probability ( a ) { table 1, 0;", M, 2, 32,              \
      "the file ends inside the probability block at line 2")

/* One variable a {x, y} (line 1), and a second b {x, y} with c {u} (line 2). */
#define V2 "variable a { type discrete [ 2 ] { x, y }; }\n"
#define V3                                                                                 \
    "variable a { type discrete [ 2 ] { x, y }; }\n"                                         \
    "variable b { type discrete [ 2 ] { x, y }; } "                                          \
    "variable c { type discrete [ 1 ] { u }; }\n"

#define DEFINE_CASE(name, f, text, code, line, column, phrase) \
    static void test_err_##name(void) { check_error(f, text, code, line, column, phrase); }
ERROR_CASES(DEFINE_CASE)

/* A repeated label among many (the sorted search): reported at its second
 * occurrence, the 40th label. */
static void test_err_fg_many_labels(void)
{
    char text[1024];
    size_t o = (size_t)snprintf(text, sizeof text, "1\n\n40\n");
    for (int i = 0; i < 39; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "%d ", 38 - i);
    o += (size_t)snprintf(text + o, sizeof text - o, "7\n");
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(text + o, sizeof text - o, "1 ");
    snprintf(text + o, sizeof text - o, "\n1\n0 1\n");
    check_error(E_FG, text, CAI_ERR_MODEL, 4, 108, "factor 0: label 7 appears twice");
}

/* ---- the command line -------------------------------------------------- */

/* The number after "KEY": in a JSON text. */
static double json_number(const char *json, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(json, pat);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    return strtod(p + strlen(pat), NULL);
}

static void test_cli_solve(void)
{
    cai_test_write_file("x.uai", uai_markov);
    cai_test_write_file("x.uai.evid", "2 1 0 2 1\n");
    cai_test_outcome o = cai_test_run("solve x.uai --json");
    CU_ASSERT_EQUAL(o.status, 0);
    CAI_ASSERT_CLOSE(json_number(o.out, "log_z"), log(16.25), 1e-14);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"kind\": \"factor_graph\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"0\": [0.80000000000000004, 0.19999999999999998]") ||
                           strstr(o.out, "\"0\": [0.80000000000000004, 0.20000000000000001]"));
    cai_test_outcome_free(&o);

    /* .fg and BIF by their extension, with the map algorithm too */
    cai_test_write_file("c.fg",
                        "2\n\n1\n3\n2\n2\n0 1\n1 3\n\n2\n3 5\n2 2\n4\n0 1\n1 2\n2 3\n3 4\n");
    o = cai_test_run("solve c.fg --json --algorithm map");
    CU_ASSERT_EQUAL(o.status, 0);
    /* Z = 1*(1+3) + 3*(2+4) = 22; the MAP is (3 = 1, 5 = 1): 3 * 4 */
    CAI_ASSERT_CLOSE(json_number(o.out, "log_z"), log(22.0), 1e-14);
    CAI_ASSERT_CLOSE(json_number(o.out, "map_log_score"), log(12.0), 1e-14);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"5\": 1"));
    cai_test_outcome_free(&o);
    cai_test_write_file("t.bif", "network t { }\nvariable a { type discrete [ 2 ] { on, off }; }\n"
                                 "probability ( a ) { table 0.25, 0.75; }\n");
    o = cai_test_run("solve t.bif");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "model: t (factor_graph, 1 variables, 1 factors)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "off    0.75"));
    cai_test_outcome_free(&o);

    /* a bad file: one line FILE:LINE:COL, exit 2 */
    cai_test_write_file("bad.fg", "1\n\n1\n0\n2\n1\n5 1\n");
    o = cai_test_run("solve bad.fg");
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT_STRING_EQUAL(o.err, "bad.fg:7:1: error: factor 0: entry index 5 is out of "
                                  "range 0..1\n");
    cai_test_outcome_free(&o);
}

static void test_cli_export(void)
{
    /* the chain MDP: its exported graph solves to the MDP's log-evidence */
    cai_test_outcome o = cai_test_run("solve '%s/models/chain.yaml' --json", CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL_FATAL(o.status, 0);
    double want = json_number(o.out, "log_evidence");
    cai_test_outcome_free(&o);
    const char *fmt[2] = {"uai", "fg"};
    for (int i = 0; i < 2; i++) {
        o = cai_test_run("export '%s/models/chain.yaml' --format %s -o chain.%s",
                         CAI_SOURCE_ROOT, fmt[i], fmt[i]);
        CU_ASSERT_EQUAL(o.status, 0);
        CU_ASSERT_STRING_EQUAL(o.out, "");
        cai_test_outcome_free(&o);
        o = cai_test_run("solve chain.%s --json", fmt[i]);
        CU_ASSERT_EQUAL(o.status, 0);
        CAI_ASSERT_CLOSE(json_number(o.out, "log_z"), want, 1e-12);
        cai_test_outcome_free(&o);
    }
    /* to stdout; a factor graph; a conversion */
    o = cai_test_run("export '%s/models/chain.yaml' --format uai --temperature 2 --horizon 3",
                     CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT(strncmp(o.out, "MARKOV\n7\n50 2 50 2 50 2 50\n8\n", 29) == 0);
    cai_test_outcome_free(&o);
    cai_test_write_file("asia.bif", asia_bif);
    o = cai_test_run("export asia.bif --out asia.fg --format fg");
    CU_ASSERT_EQUAL(o.status, 0);
    cai_test_outcome_free(&o);
    cai_model *m = NULL;
    cai_error err;
    char path[256];
    snprintf(path, sizeof path, "%s/asia.fg", cai_test_dir());
    CU_ASSERT_EQUAL_FATAL(cai_model_load(path, &m, &err), CAI_OK);
    CAI_ASSERT_CLOSE(brute(cai_model_graph(m)).marg[7][0], 0.4359706, 1e-12);
    cai_model_free(m);

    /* refusals: exit 2, one line, no output file */
    struct {
        const char *args, *err;
    } bad[] = {
        {"export asia.bif", "cai: error: export needs --format uai or --format fg"},
        {"export asia.bif --format dot", "cai: error: --format: expected uai or fg"},
        {"export asia.bif --format uai --horizon 3", "needs an mdp or gridworld model"},
        {"export '" CAI_SOURCE_ROOT "/models/discounted.yaml' --format uai -o no.uai",
         "the model is discounted"},
        {"export missing.uai --format fg -o no.fg", "missing.uai: error: cannot open"},
        {"export '" CAI_SOURCE_ROOT "/models/chain.yaml' --format fg --horizon 100000 -o no.fg",
         "more than 100000000 table entries"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = cai_test_run("%s", bad[i].args);
        CU_ASSERT_EQUAL(o.status, 2);
        CU_ASSERT_PTR_NOT_NULL(strstr(o.err, bad[i].err));
        if (strstr(o.err, bad[i].err) == NULL)
            fprintf(stderr, "\n  %s: %s", bad[i].args, o.err);
        CU_ASSERT(strchr(o.err, '\n') == o.err + strlen(o.err) - 1); /* one line */
        cai_test_outcome_free(&o);
    }
    struct stat st;
    CU_ASSERT_NOT_EQUAL(stat(path_of("no.uai"), &st), 0);
    CU_ASSERT_NOT_EQUAL(stat(path_of("no.fg"), &st), 0);
    o = cai_test_run("export --help");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "export MODEL --format uai|fg"));
    cai_test_outcome_free(&o);
}

/* ---- registration ------------------------------------------------------ */

static int suite_init(void)
{
    return cai_test_dir_create("/tmp/cai-test-formats-XXXXXX");
}

#define REGISTER_CASE(name, f, text, code, line, column, phrase) \
    CU_add_test(s, "error " #name, test_err_##name);

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("formats", suite_init, cai_test_dir_remove);
    CU_add_test(s, "uai markov (UAI 2014 page)", test_uai_markov);
    CU_add_test(s, "uai bayes (UAI 2008 page)", test_uai_bayes);
    CU_add_test(s, "uai bayes with a loop (Schlandals)", test_uai_bayes_loop);
    CU_add_test(s, "fg libDAI doc example", test_fg_libdai_example);
    CU_add_test(s, "fg chain", test_fg_chain);
    CU_add_test(s, "bif asia (bnlearn)", test_bif_asia);
    CU_add_test(s, "bif grammar", test_bif_grammar);
    CU_add_test(s, "dispatch and files", test_dispatch);
    CU_add_test(s, "round trips", test_round_trips);
    CU_add_test(s, "fg order by hand", test_fg_order);
    CU_add_test(s, "uai evidence text", test_uai_evid_text);
    CU_add_test(s, "writer refusals", test_writer_refusals);
    CU_add_test(s, "mdp export", test_mdp_export);
    ERROR_CASES(REGISTER_CASE)
    CU_add_test(s, "error fg_many_labels", test_err_fg_many_labels);
    CU_add_test(s, "cli solve", test_cli_solve);
    CU_add_test(s, "cli export", test_cli_export);
}
