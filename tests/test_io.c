/* tests/test_io.c — the YAML model loader and the JSON writer.
 *
 * Models are described here as C arrays (tmodel), written out as YAML text,
 * loaded, and checked twice: the built graph against the arrays (names,
 * cardinalities, states, evidence, every potential value), and the
 * inference results against brute-force enumeration over the arrays. Every
 * error path of the loader has a test of its status, line, column and a key
 * phrase of its message. */
#include "harness.h"
#include "support.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cai/cai.h"

/* ---- test-side models -------------------------------------------------- */

#define TMAXV 6
#define TMAXF 8
#define TMAXK 3
#define TMAXC 4
#define TMAXE 24

typedef struct tfactor {
    size_t k;
    size_t var[TMAXK];
    bool is_log;       /* written as log_table */
    double v[TMAXE];   /* as written in the YAML */
} tfactor;

typedef struct tmodel {
    const char *name;
    size_t n;
    const char *var[TMAXV];
    size_t card[TMAXV];
    const char *states[TMAXV][TMAXC]; /* NULL: no state names */
    size_t nf;
    tfactor f[TMAXF];
    size_t ev1[TMAXV]; /* 0: no evidence, s + 1: clamped to s */
} tmodel;

typedef struct tresult {
    double log_z;
    double marg[TMAXV][TMAXC];
    size_t map[TMAXV];
    double map_score;
} tresult;

/* A growing text buffer. */
typedef struct sbuf {
    char s[16384];
    size_t n;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
    va_end(ap);
    CU_ASSERT_FATAL(w >= 0 && (size_t)w < sizeof b->s - b->n);
    b->n += (size_t)w;
}

static size_t table_size(const tmodel *t, const tfactor *f)
{
    size_t s = 1;
    for (size_t i = 0; i < f->k; i++)
        s *= t->card[f->var[i]];
    return s;
}

/* The YAML text of t, numbers written with %.17g (-.inf for log 0). */
static void tmodel_yaml(const tmodel *t, sbuf *b)
{
    b->n = 0;
    b->s[0] = '\0';
    sb_printf(b, "kind: factor_graph\nname: %s\nvariables:\n", t->name);
    for (size_t v = 0; v < t->n; v++) {
        sb_printf(b, "  - {name: %s, card: %zu", t->var[v], t->card[v]);
        if (t->states[v][0] != NULL) {
            sb_printf(b, ", states: [");
            for (size_t s = 0; s < t->card[v]; s++)
                sb_printf(b, "%s%s", s ? ", " : "", t->states[v][s]);
            sb_printf(b, "]");
        }
        sb_printf(b, "}\n");
    }
    sb_printf(b, "factors:\n");
    for (size_t j = 0; j < t->nf; j++) {
        const tfactor *f = &t->f[j];
        sb_printf(b, "  - scope: [");
        for (size_t i = 0; i < f->k; i++)
            sb_printf(b, "%s%s", i ? ", " : "", t->var[f->var[i]]);
        sb_printf(b, "]\n    %s: [", f->is_log ? "log_table" : "table");
        for (size_t e = 0; e < table_size(t, f); e++) {
            if (isinf(f->v[e]))
                sb_printf(b, "%s-.inf", e ? ", " : "");
            else
                sb_printf(b, "%s%.17g", e ? ", " : "", f->v[e]);
        }
        sb_printf(b, "]\n");
    }
    bool any = false;
    for (size_t v = 0; v < t->n; v++) {
        if (t->ev1[v] == 0)
            continue;
        sb_printf(b, "%s%s: ", any ? ", " : "evidence: {", t->var[v]);
        if (t->states[v][0] != NULL) /* by name when there are names */
            sb_printf(b, "%s", t->states[v][t->ev1[v] - 1]);
        else
            sb_printf(b, "%zu", t->ev1[v] - 1);
        any = true;
    }
    if (any)
        sb_printf(b, "}\n");
}

/* Brute force over every joint assignment of t. */
static void tmodel_brute(const tmodel *t, tresult *r)
{
    size_t x[TMAXV] = {0};
    double z = 0.0, best = -1.0;
    memset(r, 0, sizeof *r);
    for (;;) {
        bool ok = true;
        for (size_t v = 0; v < t->n; v++)
            if (t->ev1[v] != 0 && x[v] != t->ev1[v] - 1)
                ok = false;
        if (ok) {
            double w = 1.0;
            for (size_t j = 0; j < t->nf; j++) {
                const tfactor *f = &t->f[j];
                size_t idx = 0;
                for (size_t i = 0; i < f->k; i++)
                    idx = idx * t->card[f->var[i]] + x[f->var[i]];
                w *= f->is_log ? exp(f->v[idx]) : f->v[idx];
            }
            z += w;
            for (size_t v = 0; v < t->n; v++)
                r->marg[v][x[v]] += w;
            if (w > best) {
                best = w;
                memcpy(r->map, x, sizeof x);
            }
        }
        size_t v = t->n;
        while (v > 0 && ++x[v - 1] == t->card[v - 1])
            x[--v] = 0;
        if (v == 0)
            break;
    }
    r->log_z = log(z);
    for (size_t v = 0; v < t->n; v++)
        for (size_t s = 0; s < t->card[v]; s++)
            r->marg[v][s] /= z;
    r->map_score = log(best);
}

/* The engine's answers on g: sum-product and max-product. */
static void infer(const cai_graph *g, tresult *r)
{
    cai_plan_options opt = cai_plan_options_default();
    cai_plan *plan = NULL;
    cai_workspace *ws = NULL;
    cai_error err;
    memset(r, 0, sizeof *r);
    for (int pass = 0; pass < 2; pass++) {
        opt.algorithm = pass == 0 ? CAI_SUM_PRODUCT : CAI_MAX_PRODUCT;
        CU_ASSERT_EQUAL_FATAL(cai_plan_create(g, &opt, &plan, &err), CAI_OK);
        CU_ASSERT_EQUAL_FATAL(cai_workspace_create(plan, &ws, &err), CAI_OK);
        CU_ASSERT_EQUAL_FATAL(cai_plan_execute(plan, ws, &err), CAI_OK);
        if (pass == 0) {
            r->log_z = cai_query_log_z(ws);
            for (size_t v = 0; v < cai_graph_n_variables(g); v++)
                CU_ASSERT_EQUAL(cai_query_marginal(ws, v, r->marg[v], &err),
                                CAI_OK);
        } else {
            CU_ASSERT_EQUAL(cai_query_map(ws, r->map, &r->map_score, &err),
                            CAI_OK);
        }
        cai_workspace_free(ws);
        cai_plan_free(plan);
        ws = NULL;
        plan = NULL;
    }
}

static void assert_results(const tmodel *t, const tresult *got,
                           const tresult *want)
{
    CAI_ASSERT_CLOSE(got->log_z, want->log_z, 1e-12);
    for (size_t v = 0; v < t->n; v++) {
        for (size_t s = 0; s < t->card[v]; s++)
            CAI_ASSERT_CLOSE(got->marg[v][s], want->marg[v][s], 1e-12);
        CU_ASSERT_EQUAL(got->map[v], want->map[v]);
    }
    CAI_ASSERT_CLOSE(got->map_score, want->map_score, 1e-12);
}

/* The graph holds exactly what t says. */
static void assert_graph(const tmodel *t, const cai_graph *g)
{
    CU_ASSERT_EQUAL_FATAL(cai_graph_n_variables(g), t->n);
    CU_ASSERT_EQUAL_FATAL(cai_graph_n_factors(g), t->nf);
    for (size_t v = 0; v < t->n; v++) {
        CU_ASSERT_STRING_EQUAL(cai_graph_variable_name(g, v), t->var[v]);
        CU_ASSERT_EQUAL(cai_graph_variable_card(g, v), t->card[v]);
        CU_ASSERT_EQUAL(cai_graph_evidence(g, v),
                        t->ev1[v] ? t->ev1[v] - 1 : CAI_NONE);
        for (size_t s = 0; s < t->card[v]; s++) {
            const char *name = cai_graph_state_name(g, v, s);
            if (t->states[v][0] == NULL) {
                CU_ASSERT_PTR_NULL(name);
            } else {
                CU_ASSERT(name != NULL &&
                          strcmp(name, t->states[v][s]) == 0);
            }
        }
    }
    for (size_t j = 0; j < t->nf; j++) {
        const tfactor *f = &t->f[j];
        size_t k = 0;
        const size_t *scope = cai_graph_factor_scope(g, j, &k);
        CU_ASSERT_EQUAL_FATAL(k, f->k);
        for (size_t i = 0; i < k; i++)
            CU_ASSERT_EQUAL(scope[i], f->var[i]);
        const cai_potential *p = cai_graph_factor_potential(g, j);
        CU_ASSERT_EQUAL(cai_potential_get_kind(p), CAI_POTENTIAL_TABLE);
        CU_ASSERT_EQUAL_FATAL(cai_potential_arity(p), k);
        size_t idx[TMAXK] = {0};
        for (size_t e = 0; e < table_size(t, f); e++) {
            double want = f->is_log ? f->v[e] : log(f->v[e]);
            CAI_ASSERT_CLOSE(cai_potential_log_value(p, idx), want, 1e-15);
            size_t i = k;
            while (i > 0 && ++idx[i - 1] == t->card[f->var[i - 1]])
                idx[--i] = 0;
        }
    }
}

static cai_model *load_text(const char *text, cai_error *err)
{
    cai_model *m = NULL;
    cai_status st = cai_model_load_string(text, strlen(text), "test.yaml", &m,
                                          err);
    if (st != CAI_OK)
        fprintf(stderr, "\nunexpected error: %s:%zu:%zu: %s\n", err->file,
                err->line, err->column, err->message);
    CU_ASSERT_EQUAL(st, CAI_OK);
    return m;
}

/* Load t's YAML, check the graph and the answers against brute force. */
static void check_tmodel(const tmodel *t)
{
    sbuf *b = malloc(sizeof *b);
    CU_ASSERT_FATAL(b != NULL);
    tmodel_yaml(t, b);
    cai_error err;
    cai_model *m = load_text(b->s, &err);
    if (m != NULL) {
        CU_ASSERT_EQUAL(cai_model_get_kind(m), CAI_MODEL_FACTOR_GRAPH);
        CU_ASSERT_STRING_EQUAL(cai_model_name(m), t->name);
        assert_graph(t, cai_model_graph(m));
        tresult got, want;
        tmodel_brute(t, &want);
        infer(cai_model_graph(m), &got);
        assert_results(t, &got, &want);
    }
    cai_model_free(m);
    free(b);
}

/* A tree of four variables: layouts with the first scope variable not the
 * lowest index, log and linear tables, zeros and -inf. */
static tmodel tree4(void)
{
    tmodel t = {
        .name = "tree4",
        .n = 4,
        .var = {"X", "Y", "Z", "W"},
        .card = {2, 3, 2, 4},
        .states = {{NULL}, {"a", "b", "c"}, {"off", "on"}, {NULL}},
        .nf = 5,
        .f = {
            {1, {0}, false, {0.3, 1.7}},
            {2, {0, 1}, false, {1.0, 0.5, 2.0, 0.2, 1.5, 0.7}},
            {2, {1, 2}, true, {0.1, -0.4, -INFINITY, 0.3, 1.2, -2.0}},
            {2, {3, 1}, false,
             {0.5, 1, 1.5, 2, 0.1, 0.2, 0.3, 0.9, 1.1, 0, 0.4, 2.5}},
            {1, {2}, true, {0.25, -0.5}},
        },
    };
    return t;
}

static void test_tree4(void)
{
    tmodel t = tree4();
    check_tmodel(&t);
}

static void test_tree4_evidence_index(void)
{
    tmodel t = tree4();
    t.ev1[3] = 2; /* W: 1 */
    check_tmodel(&t);
}

static void test_tree4_evidence_names(void)
{
    tmodel t = tree4();
    t.ev1[1] = 2; /* Y: b */
    t.ev1[2] = 2; /* Z: on */
    check_tmodel(&t);
}

/* Evidence of zero weight (f(Y = b, Z = off) is log 0): log Z is -inf and
 * the marginals are undefined (NaN), as cai_query_marginal documents. */
static void test_tree4_impossible_evidence(void)
{
    tmodel t = tree4();
    t.ev1[1] = 2; /* Y: b */
    t.ev1[2] = 1; /* Z: off */
    sbuf *b = malloc(sizeof *b);
    CU_ASSERT_FATAL(b != NULL);
    tmodel_yaml(&t, b);
    cai_error err;
    cai_model *m = load_text(b->s, &err);
    if (m != NULL) {
        tresult want, got;
        tmodel_brute(&t, &want);
        CU_ASSERT(isinf(want.log_z) && want.log_z < 0);
        infer(cai_model_graph(m), &got);
        CU_ASSERT(isinf(got.log_z) && got.log_z < 0);
        CU_ASSERT(isnan(got.marg[0][0]) && isnan(got.marg[3][1]));
        CU_ASSERT(isinf(got.map_score) && got.map_score < 0);
    }
    cai_model_free(m);
    free(b);
}

/* A three-variable factor with a reversed-order subset factor on top: the
 * planner absorbs it, the layout must still be the YAML's. */
static void test_absorbed_layout(void)
{
    tmodel t = {
        .name = "absorbed",
        .n = 4,
        .var = {"A", "B", "C", "D"},
        .card = {2, 2, 3, 2},
        .states = {{NULL}, {NULL}, {"r", "g", "b"}, {NULL}},
        .nf = 4,
        .f = {
            {3, {0, 1, 2}, false,
             {1, 2, 3, 0.5, 0.25, 4, 2, 1, 0.1, 3, 0.7, 1.3}},
            {2, {2, 1}, false, {0.9, 0.2, 1.4, 0.6, 0.3, 2.2}},
            {2, {2, 3}, true, {-0.2, 0.4, 1.0, -1.1, 0.0, 0.35}},
            {1, {3}, true, {-0.3, 0.2}},
        },
        .ev1 = {0, 0, 0, 0},
    };
    check_tmodel(&t);
    t.ev1[0] = 2;
    check_tmodel(&t);
}

/* The example from the documentation, against values worked out by hand:
 * with A = 0 the weights of B = lo, mid, hi are 0.1 * 1, 2 * e^-1.5, 0. */
static void test_example_by_hand(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/models/example.yaml", CAI_SOURCE_ROOT);
    cai_model *m = NULL;
    cai_error err;
    CU_ASSERT_EQUAL_FATAL(cai_model_load(path, &m, &err), CAI_OK);
    const cai_graph *g = cai_model_graph(m);
    CU_ASSERT_STRING_EQUAL(cai_model_name(m), "example");
    CU_ASSERT_EQUAL(cai_graph_n_variables(g), 2);
    CU_ASSERT_EQUAL(cai_graph_n_factors(g), 2);
    CU_ASSERT_EQUAL(cai_graph_evidence(g, 0), 0);
    CU_ASSERT_EQUAL(cai_graph_evidence(g, 1), CAI_NONE);
    CU_ASSERT_STRING_EQUAL(cai_graph_state_name(g, 1, 2), "hi");
    tresult r;
    infer(g, &r);
    double z = 0.1 + 2.0 * exp(-1.5);
    CAI_ASSERT_CLOSE(r.log_z, log(z), 1e-13);
    CAI_ASSERT_CLOSE(r.marg[0][0], 1.0, 1e-13);
    CAI_ASSERT_CLOSE(r.marg[0][1], 0.0, 1e-13);
    CAI_ASSERT_CLOSE(r.marg[1][0], 0.1 / z, 1e-13);
    CAI_ASSERT_CLOSE(r.marg[1][1], 2.0 * exp(-1.5) / z, 1e-13);
    CAI_ASSERT_CLOSE(r.marg[1][2], 0.0, 1e-13);
    CU_ASSERT_EQUAL(r.map[0], 0);
    CU_ASSERT_EQUAL(r.map[1], 1);
    CAI_ASSERT_CLOSE(r.map_score, log(2.0) - 1.5, 1e-13);
    cai_model_free(m);
}

/* Brute force over a loaded graph's own potentials (the values themselves
 * are checked against the file separately). */
static void graph_brute(const cai_graph *g, tresult *r)
{
    size_t n = cai_graph_n_variables(g), x[TMAXV] = {0};
    double z = 0.0, best = -1.0;
    memset(r, 0, sizeof *r);
    for (;;) {
        bool ok = true;
        for (size_t v = 0; v < n; v++)
            if (cai_graph_evidence(g, v) != CAI_NONE &&
                cai_graph_evidence(g, v) != x[v])
                ok = false;
        if (ok) {
            double w = 1.0;
            for (size_t j = 0; j < cai_graph_n_factors(g); j++) {
                size_t k, idx[TMAXK];
                const size_t *scope = cai_graph_factor_scope(g, j, &k);
                for (size_t i = 0; i < k; i++)
                    idx[i] = x[scope[i]];
                w *= exp(cai_potential_log_value(
                    cai_graph_factor_potential(g, j), idx));
            }
            z += w;
            for (size_t v = 0; v < n; v++)
                r->marg[v][x[v]] += w;
            if (w > best) {
                best = w;
                memcpy(r->map, x, sizeof x);
            }
        }
        size_t v = n;
        while (v > 0 && ++x[v - 1] == cai_graph_variable_card(g, v - 1))
            x[--v] = 0;
        if (v == 0)
            break;
    }
    r->log_z = log(z);
    for (size_t v = 0; v < n; v++)
        for (size_t s = 0; s < cai_graph_variable_card(g, v); s++)
            r->marg[v][s] /= z;
    r->map_score = log(best);
}

static void test_chain_file(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/models/umbrella.yaml", CAI_SOURCE_ROOT);
    cai_model *m = NULL;
    cai_error err;
    CU_ASSERT_EQUAL_FATAL(cai_model_load(path, &m, &err), CAI_OK);
    const cai_graph *g = cai_model_graph(m);
    CU_ASSERT_EQUAL_FATAL(cai_graph_n_variables(g), 6);
    CU_ASSERT_EQUAL(cai_graph_n_factors(g), 6);
    size_t w1 = cai_graph_find_variable(g, "weather_1");
    size_t u0 = cai_graph_find_variable(g, "umbrella_0");
    size_t u2 = cai_graph_find_variable(g, "umbrella_2");
    CU_ASSERT_FATAL(w1 != CAI_NONE && u0 != CAI_NONE && u2 != CAI_NONE);
    CU_ASSERT_EQUAL(cai_graph_variable_card(g, w1), 3); /* from states */
    CU_ASSERT_STRING_EQUAL(cai_graph_state_name(g, w1, 2), "rainy");
    CU_ASSERT_EQUAL(cai_graph_evidence(g, u0), 1); /* umbrella */
    CU_ASSERT_EQUAL(cai_graph_evidence(g, u2), 0); /* none */
    /* factor 2 is p(weather_1 | weather_0): rainy -> rainy is 0.5 */
    size_t idx[2] = {2, 2};
    CAI_ASSERT_CLOSE(cai_potential_log_value(cai_graph_factor_potential(g, 1),
                                             idx),
                     log(0.5), 1e-15);
    tresult got, want;
    graph_brute(g, &want);
    infer(g, &got);
    CAI_ASSERT_CLOSE(got.log_z, want.log_z, 1e-12);
    for (size_t v = 0; v < 6; v++) {
        for (size_t s = 0; s < cai_graph_variable_card(g, v); s++)
            CAI_ASSERT_CLOSE(got.marg[v][s], want.marg[v][s], 1e-12);
        CU_ASSERT_EQUAL(got.map[v], want.map[v]);
    }
    CAI_ASSERT_CLOSE(got.map_score, want.map_score, 1e-12);
    /* log evidence by hand: the first weather must explain an umbrella */
    CU_ASSERT(got.log_z < log(0.5));
    cai_model_free(m);
}

/* Number spellings YAML and C both use. */
static void test_number_spellings(void)
{
    const char *text =
        "kind: factor_graph\n"
        "variables: [{name: A, card: 7}]\n"
        "factors:\n"
        "  - {scope: [A], log_table: [-.inf, -.INF, -inf, -Inf, +.5, 1e-3, "
        "-2.5E+1]}\n"
        "  - {scope: [A], table: [0, 1e300, .5, 3., 0.0, 1e-320, +2]}\n";
    cai_error err;
    cai_model *m = load_text(text, &err);
    if (m == NULL)
        return;
    const cai_graph *g = cai_model_graph(m);
    const double logs[7] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY,
                            0.5, 1e-3, -25.0};
    const double lin[7] = {0, 1e300, 0.5, 3.0, 0.0, 1e-320, 2.0};
    for (size_t s = 0; s < 7; s++) {
        CAI_ASSERT_CLOSE(
            cai_potential_log_value(cai_graph_factor_potential(g, 0), &s),
            logs[s], 1e-15);
        CAI_ASSERT_CLOSE(
            cai_potential_log_value(cai_graph_factor_potential(g, 1), &s),
            log(lin[s]), 1e-15);
    }
    cai_model_free(m);
}

/* A plain integer is an index, a quoted one a state name; card may come
 * from the states; anchors and aliases work. */
static void test_evidence_spellings(void)
{
    const char *text =
        "kind: factor_graph\n"
        "variables:\n"
        "  - {name: A, states: ['1', '0']}\n"
        "  - {name: B, states: &s [x, y, z]}\n"
        "  - {name: C, states: *s}\n"
        "factors: []\n"
        "evidence: {A: '1', B: 2, C: y}\n";
    cai_error err;
    cai_model *m = load_text(text, &err);
    if (m == NULL)
        return;
    const cai_graph *g = cai_model_graph(m);
    CU_ASSERT_STRING_EQUAL(cai_model_name(m), "");
    CU_ASSERT_EQUAL(cai_graph_variable_card(g, 0), 2);
    CU_ASSERT_EQUAL(cai_graph_evidence(g, 0), 0); /* the state called 1 */
    CU_ASSERT_EQUAL(cai_graph_evidence(g, 1), 2);
    CU_ASSERT_EQUAL(cai_graph_evidence(g, 2), 1);
    CU_ASSERT_STRING_EQUAL(cai_graph_state_name(g, 2, 0), "x");
    cai_model_free(m);

    const char *t2 = "kind: factor_graph\nvariables: [{name: A, states: [u, v]}]\n"
                     "factors: []\nevidence: {A: 1}\n";
    m = load_text(t2, &err);
    if (m != NULL) {
        CU_ASSERT_EQUAL(cai_graph_evidence(cai_model_graph(m), 0), 1);
    }
    cai_model_free(m);
}

static void test_load_file_errors(void)
{
    char dir[] = "/tmp/cai-test-io-XXXXXX";
    CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof path, "%s/bad.yaml", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("kind: factor_graph\nvariables: []\nfactors: []\nbogus: 1\n", f);
    fclose(f);
    cai_model *m = NULL;
    cai_error err;
    CU_ASSERT_EQUAL(cai_model_load(path, &m, &err), CAI_ERR_MODEL);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_STRING_EQUAL(err.file, path);
    CU_ASSERT_EQUAL(err.line, 4);
    CU_ASSERT_EQUAL(err.column, 1);
    char buf[1024], want[512];
    snprintf(want, sizeof want, "%s:4:1: error: unknown key 'bogus'", path);
    cai_error_format(&err, buf, sizeof buf);
    CU_ASSERT(strncmp(buf, want, strlen(want)) == 0);
    unlink(path);

    /* a file that does not exist, and a directory */
    CU_ASSERT_EQUAL(cai_model_load(path, &m, &err), CAI_ERR_IO);
    CU_ASSERT_STRING_EQUAL(err.file, path);
    CU_ASSERT_EQUAL(err.line, 0);
    CU_ASSERT(strstr(err.message, "cannot open") != NULL);
    CU_ASSERT_EQUAL(cai_model_load(dir, &m, &err), CAI_ERR_IO);
    CU_ASSERT_PTR_NULL(m);
    rmdir(dir);

    /* NULL err is allowed */
    CU_ASSERT_EQUAL(cai_model_load_string("[", 1, NULL, &m, NULL),
                    CAI_ERR_SYNTAX);
    CU_ASSERT_PTR_NULL(m);
    cai_model_free(NULL);
}

/* mode: expectation on a two-variable chain A -> B with a factor g(B): the
 * value is the ELBO of q(A, B) = q(A) p(B | A) with q(A) optimal, computed
 * here by enumeration: max over q(A) of sum_a q(a) (log f(a) + sum_b p(b|a)
 * log g(b)) + H(q(A)) = log sum_a f(a) exp(sum_b p(b|a) log g(b)). */
static void test_mode_expectation(void)
{
    const char *text = "kind: factor_graph\n"
                       "variables: [{name: A, card: 2}, {name: B, card: 3}]\n"
                       "factors:\n"
                       "  - {scope: [A], table: [2, 1]}\n"
                       "  - {scope: [A, B], table: [0.5, 0.25, 0.25, 0, 0.1, 0.9], mode: expectation}\n"
                       "  - {scope: [B], log_table: [0, 1, -2], mode: normal}\n"
                       "  - {scope: [A, B], table: [1, 1, 0, 1, 1, 1], mode: support}\n";
    cai_error err;
    cai_model *m = load_text(text, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    const cai_graph *g = cai_model_graph(m);
    CU_ASSERT_EQUAL(cai_graph_factor_mode(g, 0), CAI_MODE_NORMAL);
    CU_ASSERT_EQUAL(cai_graph_factor_mode(g, 1), CAI_MODE_EXPECTATION);
    CU_ASSERT_EQUAL(cai_graph_factor_mode(g, 2), CAI_MODE_NORMAL);
    CU_ASSERT_EQUAL(cai_graph_factor_mode(g, 3), CAI_MODE_SUPPORT);
    cai_plan *plan = NULL;
    cai_workspace *ws = NULL;
    CU_ASSERT_EQUAL_FATAL(cai_plan_create(g, NULL, &plan, &err), CAI_OK);
    CU_ASSERT_EQUAL_FATAL(cai_workspace_create(plan, &ws, &err), CAI_OK);
    CU_ASSERT_EQUAL_FATAL(cai_plan_execute(plan, ws, &err), CAI_OK);
    /* the support factor is 1 except at (A=0, B=2): log 0 there */
    double f[2] = {2, 1}, p[2][3] = {{0.5, 0.25, 0.25}, {0, 0.1, 0.9}};
    double lg[2][3] = {{0, 1, -INFINITY}, {0, 1, -2}};
    double z = 0;
    for (int a = 0; a < 2; a++) {
        double e = 0;
        for (int b = 0; b < 3; b++)
            if (p[a][b] > 0)
                e += p[a][b] * lg[a][b];
        z += f[a] * exp(e);
    }
    /* A = 0 puts mass on B = 2, where the support factor is 0: E = -inf */
    CU_ASSERT_DOUBLE_EQUAL(cai_query_log_z(ws), log(z), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(log(z), log(1 * exp(0.1 * 1 + 0.9 * -2)), 1e-15);
    cai_workspace_free(ws);
    cai_plan_free(plan);
    cai_model_free(m);
}

/* `inference:` defaults are read as given; a model without them has none. */
static void test_inference_defaults(void)
{
    const char *text = "kind: factor_graph\nvariables: [{name: A, card: 2}]\nfactors: []\n"
                       "inference: {algorithm: loopy, schedule: residual, damping: 0.25, "
                       "tol: 1e-6, max_iterations: 7}\n";
    cai_error err;
    cai_model *m = load_text(text, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    cai_model_inference d = cai_model_inference_defaults(m);
    CU_ASSERT_STRING_EQUAL(d.algorithm, "loopy");
    CU_ASSERT_STRING_EQUAL(d.schedule, "residual");
    CU_ASSERT(d.has_damping && d.damping == 0.25);
    CU_ASSERT(d.has_tol && d.tol == 1e-6);
    CU_ASSERT(d.has_max_iterations && d.max_iterations == 7);
    cai_model_free(m);
    m = load_text("kind: factor_graph\nvariables: []\nfactors: []\n", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    d = cai_model_inference_defaults(m);
    CU_ASSERT(d.algorithm == NULL && d.schedule == NULL && !d.has_damping && !d.has_tol
              && !d.has_max_iterations);
    cai_model_free(m);
}

/* `clusters:` becomes the block index of every variable: the clusters in
 * file order, then each unlisted variable alone, in index order; the array
 * drives structured mean field as it is. */
static void test_inference_clusters(void)
{
    const char *text = "kind: factor_graph\n"
                       "variables: [{name: A, card: 2}, {name: B, card: 2}, {name: C, card: 2},\n"
                       "            {name: D, card: 2}, {name: E, card: 2}]\n"
                       "factors: [{scope: [A, B], table: [1, 2, 3, 1]},\n"
                       "          {scope: [B, C], table: [2, 1, 1, 2]},\n"
                       "          {scope: [C, A], table: [1, 3, 2, 1]},\n"
                       "          {scope: [C, D, E], table: [1, 2, 3, 4, 4, 3, 2, 1]}]\n"
                       "inference: {algorithm: meanfield, clusters: [[C, A], [D]]}\n";
    cai_error err;
    cai_model *m = load_text(text, &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    cai_model_inference d = cai_model_inference_defaults(m);
    CU_ASSERT_STRING_EQUAL(d.algorithm, "meanfield");
    CU_ASSERT_PTR_NOT_NULL_FATAL(d.blocks);
    size_t want[5] = {0, 2, 0, 1, 3};
    CU_ASSERT(memcmp(d.blocks, want, sizeof want) == 0);
    cai_meanfield_options o = cai_meanfield_options_default();
    o.blocks = d.blocks;
    cai_meanfield *mf = NULL;
    CU_ASSERT_FATAL(cai_meanfield_create(cai_model_graph(m), &o, &mf, &err) == CAI_OK);
    CU_ASSERT(cai_meanfield_run(mf, &err) == CAI_OK);
    CU_ASSERT(isfinite(cai_meanfield_elbo(mf)));
    cai_meanfield_free(mf);
    cai_model_free(m);
    /* no algorithm, an empty list of clusters: every variable alone */
    m = load_text("kind: factor_graph\nvariables: [{name: A, card: 2}, {name: B, card: 3}]\n"
                  "factors: []\ninference: {clusters: []}\n", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    d = cai_model_inference_defaults(m);
    CU_ASSERT(d.algorithm == NULL && d.blocks != NULL && d.blocks[0] == 0 && d.blocks[1] == 1);
    cai_model_free(m);
    /* without clusters: NULL */
    m = load_text("kind: factor_graph\nvariables: [{name: A, card: 2}]\nfactors: []\n"
                  "inference: {algorithm: meanfield}\n", &err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT(cai_model_inference_defaults(m).blocks == NULL);
    cai_model_free(m);
}

/* ---- error paths ------------------------------------------------------- */

#define HEAD "kind: factor_graph\n"
#define VARS_AB "variables: [{name: A, card: 2}, {name: B, card: 3, states: [lo, mid, hi]}]\n"
#define VARS_A "variables: [{name: A, card: 2}]\n"

/* name, YAML, code, line, column, phrase */
#define ERROR_CASES(X)                                                         \
    X(syntax_flow, HEAD "variables: [{name: A, card: 2}\nfactors: []\n",      \
      CAI_ERR_SYNTAX, 3, 1, "did not find expected ',' or ']'")               \
    X(syntax_tab, HEAD "\tvariables: []\n", CAI_ERR_SYNTAX, 2, 1,             \
      "found a tab character that violates indentation")                          \
    X(syntax_indent, HEAD "variables:\n  - {name: A, card: 2}\n - x\n",       \
      CAI_ERR_SYNTAX, 4, 2, "did not find expected key")                      \
    X(syntax_alias, "kind: *x\n", CAI_ERR_SYNTAX, 1, 7,                       \
      "found undefined alias")                                                \
    X(syntax_utf8, HEAD "name: \xff\n", CAI_ERR_SYNTAX, 2, 7,                 \
      "invalid leading UTF-8 octet")                                          \
    X(empty, "", CAI_ERR_MODEL, 1, 1, "empty model")                          \
    X(not_mapping, "- a\n- b\n", CAI_ERR_MODEL, 1, 1,                         \
      "must be a mapping with a 'kind', got a sequence")                      \
    X(two_documents, HEAD "variables: []\nfactors: []\n---\nkind: x\n",       \
      CAI_ERR_MODEL, 5, 1, "one YAML document")                               \
    X(missing_kind, "name: x\nvariables: []\nfactors: []\n", CAI_ERR_MODEL,   \
      1, 1, "missing key 'kind'")                                             \
    X(unknown_kind, "kind: bayes_net\n", CAI_ERR_MODEL, 1, 7,                 \
      "unknown kind 'bayes_net'")                                             \
    X(kind_not_string, "kind: [a]\n", CAI_ERR_MODEL, 1, 7,                    \
      "'kind' must be a string, got a sequence")                              \
    X(unknown_top_key, HEAD "variables: []\nfactors: []\nevidance: {}\n",     \
      CAI_ERR_MODEL, 4, 1, "unknown key 'evidance' in the model")             \
    X(key_not_string, HEAD "[a]: 1\n", CAI_ERR_MODEL, 2, 1,                   \
      "keys in the model must be strings, got a sequence")                    \
    X(duplicate_key, HEAD "variables: []\nfactors: []\nfactors: []\n",        \
      CAI_ERR_MODEL, 4, 1, "duplicate key 'factors'")                         \
    X(name_not_string, HEAD "name: [x]\nvariables: []\nfactors: []\n",        \
      CAI_ERR_MODEL, 2, 7, "'name' must be a string")                         \
    X(missing_variables, HEAD "factors: []\n", CAI_ERR_MODEL, 1, 1,           \
      "missing key 'variables'")                                              \
    X(missing_factors, HEAD "variables: []\n", CAI_ERR_MODEL, 1, 1,           \
      "missing key 'factors'")                                                \
    X(variables_not_seq, HEAD "variables: {A: 2}\nfactors: []\n",             \
      CAI_ERR_MODEL, 2, 12, "'variables' must be a sequence")                 \
    X(variable_not_mapping, HEAD "variables: [A]\nfactors: []\n",             \
      CAI_ERR_MODEL, 2, 13, "variable 0 must be a mapping")                   \
    X(variable_unknown_key,                                                   \
      HEAD "variables:\n  - {name: A, crd: 2}\nfactors: []\n", CAI_ERR_MODEL, \
      3, 15, "unknown key 'crd' in variable 0")                               \
    X(variable_name_type, HEAD "variables: [{name: [A], card: 2}]\nfactors: []\n",         \
      CAI_ERR_MODEL, 2, 20, "'name' must be a non-empty string, got a sequence") \
    X(variable_missing_name, HEAD "variables: [{card: 2}]\nfactors: []\n",    \
      CAI_ERR_MODEL, 2, 13, "missing key 'name' in variable 0")               \
    X(variable_missing_card, HEAD "variables: [{name: A}]\nfactors: []\n",    \
      CAI_ERR_MODEL, 2, 13, "missing key 'card' in variable 'A'")             \
    X(variable_duplicate,                                                     \
      HEAD "variables:\n  - {name: A, card: 2}\n  - {name: A, card: 3}\n"     \
           "factors: []\n",                                                   \
      CAI_ERR_MODEL, 4, 12, "duplicate variable 'A' (first defined at line 3)") \
    X(card_zero, HEAD "variables: [{name: A, card: 0}]\nfactors: []\n",       \
      CAI_ERR_MODEL, 2, 29, "card must be a positive integer, got '0'")       \
    X(card_negative, HEAD "variables: [{name: A, card: -2}]\nfactors: []\n",  \
      CAI_ERR_MODEL, 2, 29, "card must be a positive integer, got '-2'")      \
    X(card_fraction, HEAD "variables: [{name: A, card: 2.5}]\nfactors: []\n", \
      CAI_ERR_MODEL, 2, 29, "card must be a positive integer, got '2.5'")     \
    X(card_word, HEAD "variables: [{name: A, card: two}]\nfactors: []\n",     \
      CAI_ERR_MODEL, 2, 29, "card must be a positive integer, got 'two'")     \
    X(card_nan, HEAD "variables: [{name: A, card: .nan}]\nfactors: []\n",     \
      CAI_ERR_MODEL, 2, 29, "card must be a positive integer")                \
    X(card_quoted, HEAD "variables: [{name: A, card: \"2\"}]\nfactors: []\n", \
      CAI_ERR_MODEL, 2, 29, "got the quoted string \"2\"")                    \
    X(card_sequence, HEAD "variables: [{name: A, card: [2]}]\nfactors: []\n", \
      CAI_ERR_MODEL, 2, 29, "card must be a positive integer, got a sequence") \
    X(card_absurd, HEAD "variables: [{name: A, card: 1e30}]\nfactors: []\n",  \
      CAI_ERR_MODEL, 2, 29, "card 1e30 exceeds the maximum 1099511627776")    \
    X(card_over_max,                                                          \
      HEAD "variables: [{name: A, card: 1099511627777}]\nfactors: []\n",      \
      CAI_ERR_MODEL, 2, 29, "exceeds the maximum")                            \
    X(states_count,                                                           \
      HEAD "variables: [{name: B, card: 3, states: [lo, hi]}]\nfactors: []\n", \
      CAI_ERR_MODEL, 2, 40, "variable 'B': 2 state names for card 3")         \
    X(states_duplicate,                                                       \
      HEAD "variables: [{name: B, states: [lo, hi, lo]}]\nfactors: []\n",     \
      CAI_ERR_MODEL, 2, 40, "duplicate state name 'lo' (states 0 and 2)")     \
    X(states_not_seq, HEAD "variables: [{name: B, states: lo}]\nfactors: []\n", \
      CAI_ERR_MODEL, 2, 31, "'states' must be a sequence")                    \
    X(states_empty, HEAD "variables: [{name: B, states: []}]\nfactors: []\n", \
      CAI_ERR_MODEL, 2, 31, "'states' must not be empty")                     \
    X(state_null, HEAD "variables: [{name: B, states: [a, ~]}]\nfactors: []\n", \
      CAI_ERR_MODEL, 2, 35, "state 1 must be a non-empty string, got null")   \
    X(factors_not_seq, HEAD VARS_A "factors: {scope: [A]}\n", CAI_ERR_MODEL,  \
      3, 10, "'factors' must be a sequence")                                  \
    X(factor_not_mapping, HEAD VARS_A "factors: [[A]]\n", CAI_ERR_MODEL, 3,   \
      11, "factor 0 must be a mapping")                                       \
    X(factor_unknown_key, HEAD VARS_A "factors:\n  - {scope: [A], tabel: [1, 2]}\n", \
      CAI_ERR_MODEL, 4, 18, "unknown key 'tabel' in factor 0")                \
    X(factor_missing_scope, HEAD VARS_A "factors: [{table: [1, 2]}]\n",       \
      CAI_ERR_MODEL, 3, 11, "missing key 'scope' in factor 0")                \
    X(scope_unknown_variable,                                                 \
      HEAD VARS_A "factors: [{scope: [A, C], table: [1, 2, 3, 4]}]\n",        \
      CAI_ERR_MODEL, 3, 23, "unknown variable 'C' in scope")                  \
    X(scope_duplicate,                                                        \
      HEAD VARS_A "factors: [{scope: [A, A], table: [1, 2, 3, 4]}]\n",        \
      CAI_ERR_MODEL, 3, 23, "variable 'A' appears twice in scope")            \
    X(scope_empty, HEAD VARS_A "factors: [{scope: [], table: [1]}]\n",        \
      CAI_ERR_MODEL, 3, 19, "'scope' must not be empty")                      \
    X(scope_not_seq, HEAD VARS_A "factors: [{scope: A, table: [1, 2]}]\n",    \
      CAI_ERR_MODEL, 3, 19, "'scope' must be a sequence of variable names")   \
    X(scope_entry_type, HEAD VARS_A "factors: [{scope: [[A]], table: [1, 2]}]\n", \
      CAI_ERR_MODEL, 3, 20, "scope entry 0 must be a variable name")          \
    X(table_length,                                                           \
      HEAD VARS_AB "factors: [{scope: [A, B], table: [1, 2, 3, 4, 5]}]\n",    \
      CAI_ERR_MODEL, 3, 34,                                                   \
      "factor 0: table has 5 entries, expected 6 (2 x 3)")                    \
    X(table_not_seq, HEAD VARS_A "factors: [{scope: [A], table: 1}]\n",       \
      CAI_ERR_MODEL, 3, 31, "'table' must be a sequence of numbers")          \
    X(table_negative, HEAD VARS_A "factors: [{scope: [A], table: [1, -2]}]\n", \
      CAI_ERR_MODEL, 3, 35, "factor 0: table entry 1 is negative")            \
    X(table_neg_inf, HEAD VARS_A "factors: [{scope: [A], table: [1, -.inf]}]\n", \
      CAI_ERR_MODEL, 3, 35, "table entry 1 is negative")                      \
    X(table_nan, HEAD VARS_A "factors: [{scope: [A], table: [1, .nan]}]\n",   \
      CAI_ERR_MODEL, 3, 35, "table entry 1 is NaN")                           \
    X(table_inf, HEAD VARS_A "factors: [{scope: [A], table: [1, .inf]}]\n",   \
      CAI_ERR_MODEL, 3, 35, "table entry 1 is infinite")                      \
    X(table_overflowing_number,                                               \
      HEAD VARS_A "factors: [{scope: [A], table: [1, 1e999]}]\n",             \
      CAI_ERR_MODEL, 3, 35, "table entry 1 is infinite")                      \
    X(table_word, HEAD VARS_A "factors: [{scope: [A], table: [1, x]}]\n",     \
      CAI_ERR_MODEL, 3, 35, "table entry 1 is not a number, got 'x'")         \
    X(table_trailing, HEAD VARS_A "factors: [{scope: [A], table: [1, 1.5x]}]\n", \
      CAI_ERR_MODEL, 3, 35, "not a number, got '1.5x'")                       \
    X(table_hex, HEAD VARS_A "factors: [{scope: [A], table: [1, 0x10]}]\n",   \
      CAI_ERR_MODEL, 3, 35, "not a number, got '0x10'")                       \
    X(table_mapping_entry,                                                    \
      HEAD VARS_A "factors: [{scope: [A], table: [1, {a: 1}]}]\n",            \
      CAI_ERR_MODEL, 3, 35, "not a number, got a mapping")                    \
    X(log_table_nan, HEAD VARS_A "factors: [{scope: [A], log_table: [0, nan]}]\n", \
      CAI_ERR_MODEL, 3, 39, "log_table entry 1 is NaN")                       \
    X(log_table_pos_inf,                                                      \
      HEAD VARS_A "factors: [{scope: [A], log_table: [0, +.inf]}]\n",         \
      CAI_ERR_MODEL, 3, 39, "log_table entry 1 is +inf")                      \
    X(log_table_length,                                                       \
      HEAD VARS_AB "factors: [{scope: [B], log_table: [0, 0]}]\n",            \
      CAI_ERR_MODEL, 3, 35, "log_table has 2 entries, expected 3 (3)")        \
    X(both_tables,                                                            \
      HEAD VARS_A "factors: [{scope: [A], table: [1, 2], log_table: [0, 0]}]\n", \
      CAI_ERR_MODEL, 3, 39, "has both 'table' and 'log_table'")               \
    X(neither_table, HEAD VARS_A "factors: [{scope: [A]}]\n", CAI_ERR_MODEL,  \
      3, 11, "missing key 'table' or 'log_table'")                            \
    X(size_overflow,                                                          \
      HEAD "variables: [{name: A, card: 1099511627776}, "                     \
           "{name: B, card: 1099511627776}]\n"                                \
           "factors: [{scope: [A, B], table: [1]}]\n",                        \
      CAI_ERR_MODEL, 3, 19,                                                   \
      "table size 1099511627776 x 1099511627776 overflows")                   \
    X(evidence_not_mapping, HEAD VARS_A "factors: []\nevidence: [A]\n",       \
      CAI_ERR_MODEL, 4, 11, "'evidence' must be a mapping")                   \
    X(evidence_unknown_variable, HEAD VARS_A "factors: []\nevidence: {C: 0}\n", \
      CAI_ERR_MODEL, 4, 12, "unknown variable 'C' in evidence")               \
    X(evidence_duplicate, HEAD VARS_A "factors: []\nevidence: {A: 0, A: 1}\n", \
      CAI_ERR_MODEL, 4, 18, "duplicate evidence for 'A'")                     \
    X(evidence_out_of_range, HEAD VARS_A "factors: []\nevidence: {A: 2}\n",   \
      CAI_ERR_MODEL, 4, 15, "evidence for 'A': state 2 is out of range (card 2)") \
    X(evidence_negative, HEAD VARS_A "factors: []\nevidence: {A: -1}\n",      \
      CAI_ERR_MODEL, 4, 15, "nonnegative integer, got '-1'")                  \
    X(evidence_fraction, HEAD VARS_A "factors: []\nevidence: {A: 0.5}\n",     \
      CAI_ERR_MODEL, 4, 15, "nonnegative integer, got '0.5'")                 \
    X(evidence_no_state_names, HEAD VARS_A "factors: []\nevidence: {A: hot}\n", \
      CAI_ERR_MODEL, 4, 15, "'hot' is not a state index and 'A' has no state names") \
    X(evidence_unknown_state, HEAD VARS_AB "factors: []\nevidence: {B: top}\n", \
      CAI_ERR_MODEL, 4, 15, "unknown state 'top' (states: lo, mid, hi)")      \
    X(evidence_value_type, HEAD VARS_AB "factors: []\nevidence: {B: [lo]}\n", \
      CAI_ERR_MODEL, 4, 15, "expected a state index or name, got a sequence") \
    X(inference_not_mapping, HEAD VARS_A "factors: []\ninference: loopy\n",   \
      CAI_ERR_MODEL, 4, 12, "'inference' must be a mapping like {algorithm: loopy}") \
    X(inference_unknown_key, HEAD VARS_A "factors: []\ninference: {damp: 1}\n", \
      CAI_ERR_MODEL, 4, 13, "unknown key 'damp' in 'inference'")               \
    X(inference_algorithm, HEAD VARS_A "factors: []\ninference: {algorithm: bp}\n", \
      CAI_ERR_MODEL, 4, 24, "inference: 'algorithm' must be exact, map, loopy or meanfield, got 'bp'") \
    X(inference_schedule, HEAD VARS_A "factors: []\ninference: {schedule: random}\n", \
      CAI_ERR_MODEL, 4, 23, "inference: 'schedule' must be flooding, sequential or residual") \
    X(inference_damping, HEAD VARS_A "factors: []\ninference: {damping: 1}\n", \
      CAI_ERR_MODEL, 4, 22, "inference: 'damping' must be a number in [0, 1), got '1'") \
    X(inference_tol, HEAD VARS_A "factors: []\ninference: {tol: 0}\n",         \
      CAI_ERR_MODEL, 4, 18, "inference: 'tol' must be a finite number > 0")     \
    X(inference_iterations, HEAD VARS_A "factors: []\ninference: {max_iterations: 2.5}\n", \
      CAI_ERR_MODEL, 4, 29, "inference: 'max_iterations' must be an integer >= 1") \
    X(clusters_unknown_variable, HEAD VARS_AB "factors: []\ninference: {algorithm: meanfield, clusters: [[A], [C]]}\n", \
      CAI_ERR_MODEL, 4, 52, "inference: cluster 1: unknown variable 'C'") \
    X(clusters_twice, HEAD VARS_AB "factors: []\ninference: {clusters: [[A, B], [B]]}\n", \
      CAI_ERR_MODEL, 4, 33, "inference: variable 'B' is in cluster 0 and again in cluster 1 (first at line 4, column 28)") \
    X(clusters_twice_same, HEAD VARS_AB "factors: []\ninference: {clusters: [[A, A]]}\n", \
      CAI_ERR_MODEL, 4, 28, "inference: variable 'A' is in cluster 0 and again in cluster 0") \
    X(clusters_empty, HEAD VARS_AB "factors: []\ninference: {clusters: [[A], []]}\n", \
      CAI_ERR_MODEL, 4, 29, "inference: cluster 1 is empty") \
    X(clusters_algorithm, HEAD VARS_AB "factors: []\ninference: {algorithm: loopy, clusters: [[A, B]]}\n", \
      CAI_ERR_MODEL, 4, 31, "inference: 'clusters' needs algorithm meanfield (the algorithm is loopy)") \
    X(clusters_not_sequence, HEAD VARS_AB "factors: []\ninference: {clusters: A}\n", \
      CAI_ERR_MODEL, 4, 23, "inference: 'clusters' must be a sequence of sequences of variable names like [[x1, x2], [x3]], got 'A'") \
    X(clusters_item_not_sequence, HEAD VARS_AB "factors: []\ninference: {clusters: [A, B]}\n", \
      CAI_ERR_MODEL, 4, 24, "inference: cluster 0 must be a sequence of variable names like [x1, x2], got 'A'") \
    X(clusters_name_not_string, HEAD VARS_AB "factors: []\ninference: {clusters: [[A, [B]]]}\n", \
      CAI_ERR_MODEL, 4, 28, "inference: cluster 0: expected a variable name, got a sequence") \
    X(mode_unknown, HEAD VARS_A "factors: [{scope: [A], table: [1, 1], mode: exact}]\n", \
      CAI_ERR_MODEL, 3, 45, "'mode' must be normal, expectation or support, got 'exact'") \
    X(mode_expectation_unary, HEAD VARS_A                                     \
      "factors: [{scope: [A], table: [0.5, 0.5], mode: expectation}]\n",      \
      CAI_ERR_MODEL, 3, 49, "mode expectation needs a conditional")           \
    X(mode_expectation_rows, HEAD VARS_AB                                     \
      "factors: [{scope: [A, B], table: [0.5, 0.5, 0, 1, 0, 0.5], mode: expectation}]\n", \
      CAI_ERR_MODEL, 3, 11, "factor 0: row 1 sums to 1.5, not 1")

ERROR_CASES(CAI_TEST_DEFINE_ERROR_CASE)

/* ---- the JSON writer --------------------------------------------------- */

/* Run body on a writer to a memory file and return the text. */
static char *json_text(unsigned indent, void (*body)(cai_json *),
                       cai_status *out_st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CU_ASSERT_FATAL(f != NULL);
    cai_json *j = NULL;
    CU_ASSERT_EQUAL_FATAL(cai_json_create(f, indent, &j, NULL), CAI_OK);
    body(j);
    cai_error err;
    *out_st = cai_json_finish(j, &err);
    cai_json_free(j);
    fclose(f);
    return buf;
}

static void body_all(cai_json *j)
{
    cai_json_begin_object(j);
    cai_json_key(j, "s");
    cai_json_string(j, "a\"b\\c\n\t\x01/é");
    cai_json_key(j, "x");
    cai_json_begin_array(j);
    cai_json_number(j, 0.1);
    cai_json_number(j, -0.375);
    cai_json_number(j, NAN);
    cai_json_number(j, -INFINITY);
    cai_json_size(j, (size_t)18446744073709551615ull);
    cai_json_bool(j, true);
    cai_json_bool(j, false);
    cai_json_null(j);
    cai_json_string(j, NULL);
    cai_json_end_array(j);
    cai_json_key(j, "o");
    cai_json_begin_object(j);
    cai_json_end_object(j);
    cai_json_key(j, "e");
    cai_json_begin_array(j);
    cai_json_end_array(j);
    cai_json_end_object(j);
}

static void test_json_compact(void)
{
    cai_status st;
    char *s = json_text(0, body_all, &st);
    CU_ASSERT_EQUAL(st, CAI_OK);
    CU_ASSERT_STRING_EQUAL(
        s, "{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001/é\",\"x\":[0.10000000000000001,"
           "-0.375,null,null,18446744073709551615,true,"
           "false,null,null],\"o\":{},\"e\":[]}\n");
    free(s);
}

static void body_nested(cai_json *j)
{
    cai_json_begin_object(j);
    cai_json_key(j, "a");
    cai_json_size(j, 1);
    cai_json_key(j, "m");
    cai_json_begin_object(j);
    cai_json_key(j, "p");
    cai_json_begin_array(j);
    cai_json_number(j, 0.5);
    cai_json_number(j, 0.25);
    cai_json_end_array(j);
    cai_json_end_object(j);
    cai_json_end_object(j);
}

static void test_json_indented(void)
{
    cai_status st;
    char *s = json_text(2, body_nested, &st);
    CU_ASSERT_EQUAL(st, CAI_OK);
    CU_ASSERT_STRING_EQUAL(s, "{\n"
                              "  \"a\": 1,\n"
                              "  \"m\": {\n"
                              "    \"p\": [0.5, 0.25]\n"
                              "  }\n"
                              "}\n");
    free(s);
}

static void body_no_key(cai_json *j)
{
    cai_json_begin_object(j);
    CU_ASSERT_EQUAL(cai_json_number(j, 1), CAI_ERR_INVALID);
    CU_ASSERT_EQUAL(cai_json_end_object(j), CAI_ERR_INVALID); /* sticky */
}

static void body_unclosed(cai_json *j)
{
    cai_json_begin_array(j);
    cai_json_size(j, 3);
}

static void body_mismatch(cai_json *j)
{
    cai_json_begin_array(j);
    CU_ASSERT_EQUAL(cai_json_end_object(j), CAI_ERR_INVALID);
}

static void body_two_values(cai_json *j)
{
    cai_json_null(j);
    CU_ASSERT_EQUAL(cai_json_null(j), CAI_ERR_INVALID);
}

static void body_key_outside(cai_json *j)
{
    CU_ASSERT_EQUAL(cai_json_key(j, "k"), CAI_ERR_INVALID);
}

static void body_scalar(cai_json *j)
{
    cai_json_number(j, HUGE_VAL);
}

static void test_json_misuse(void)
{
    void (*bodies[])(cai_json *) = {body_no_key, body_unclosed, body_mismatch,
                                    body_two_values, body_key_outside};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        cai_status st;
        free(json_text(0, bodies[i], &st));
        CU_ASSERT_EQUAL(st, CAI_ERR_INVALID);
    }
    cai_status st;
    char *s = json_text(0, body_scalar, &st);
    CU_ASSERT_EQUAL(st, CAI_OK);
    CU_ASSERT_STRING_EQUAL(s, "null\n");
    free(s);
    cai_json_free(NULL);
}

static void test_json_write_error(void)
{
    FILE *f = fopen("/dev/full", "w");
    if (f == NULL)
        return; /* no /dev/full here */
    cai_json *j = NULL;
    CU_ASSERT_EQUAL_FATAL(cai_json_create(f, 0, &j, NULL), CAI_OK);
    cai_json_begin_array(j);
    for (int i = 0; i < 10000; i++)
        cai_json_number(j, i);
    cai_json_end_array(j);
    cai_error err;
    CU_ASSERT_EQUAL(cai_json_finish(j, &err), CAI_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, "write failed"));
    cai_json_free(j);
    fclose(f);
}

/* ---- registration ------------------------------------------------------ */

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("io", NULL, NULL);
    CU_add_test(s, "tree4", test_tree4);
    CU_add_test(s, "tree4 evidence by index", test_tree4_evidence_index);
    CU_add_test(s, "tree4 evidence by name", test_tree4_evidence_names);
    CU_add_test(s, "tree4 impossible evidence", test_tree4_impossible_evidence);
    CU_add_test(s, "absorbed factor layout", test_absorbed_layout);
    CU_add_test(s, "example.yaml by hand", test_example_by_hand);
    CU_add_test(s, "umbrella.yaml", test_chain_file);
    CU_add_test(s, "number spellings", test_number_spellings);
    CU_add_test(s, "evidence spellings", test_evidence_spellings);
    CU_add_test(s, "file errors", test_load_file_errors);
    CU_add_test(s, "factor modes", test_mode_expectation);
    CU_add_test(s, "inference defaults", test_inference_defaults);
    CU_add_test(s, "inference clusters", test_inference_clusters);
    ERROR_CASES(CAI_TEST_REGISTER_ERROR_CASE)
    CU_add_test(s, "json compact", test_json_compact);
    CU_add_test(s, "json indented", test_json_indented);
    CU_add_test(s, "json misuse", test_json_misuse);
    CU_add_test(s, "json write error", test_json_write_error);
}
