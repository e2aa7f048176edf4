/* tests/test_io_csv.c — `transitions_file` and `rewards_file`: the CSV
 * tables of a `kind: mdp` model (lib/io/csv.c, lib/io/csv_mdp.c).
 *
 * The oracle is the YAML loader: each model is written twice, once with
 * `transitions`/`rewards` in the YAML and once with the same numbers, as
 * the same decimal text, in CSV files (rows shuffled, names or count
 * indices, quoting, blanks, CRLF, a byte order mark), and the two loaded
 * MDPs must agree exactly: names, every CSR row, r(s,a), everything else.
 * Numbers in many spellings are checked against strtod itself, since both
 * loaders read plain decimals with csv_decimal(). Every error kind is
 * checked for its status, file, line, column and a key phrase. Files go to
 * a temporary directory; the YAML file names its CSVs relative to itself.
 * Throughput is measured outside the tests. */
#include "harness.h"
#include "support.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gsl/gsl_rng.h>

#include "cai/cai.h"

/* ---- helpers ----------------------------------------------------------- */

/* dir/name, in one of a few rotating buffers. */
static const char *path_of(const char *name)
{
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", cai_test_dir(), name);
    return buf[k];
}

/* Write len bytes (NULs included) to dir/name. */
static void write_bytes(const char *name, const char *bytes, size_t len)
{
    FILE *f = fopen(path_of(name), "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fwrite(bytes, 1, len, f) == len);
    fclose(f);
}

/* A growing string for generated files. */
typedef struct text {
    char *s;
    size_t n, cap;
} text;

static void add(text *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void add(text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    CU_ASSERT_FATAL(w >= 0);
    if (t->n + (size_t)w + 1 > t->cap) {
        t->cap = 2 * (t->n + (size_t)w + 1);
        t->s = realloc(t->s, t->cap);
        CU_ASSERT_FATAL(t->s != NULL);
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    t->n += (size_t)w;
}

/* Load dir/name; NULL (and a failed assertion) when it fails. */
static cai_model *load_path(const char *name)
{
    cai_model *m = NULL;
    cai_error err;
    cai_error_clear(&err);
    cai_status st = cai_model_load(path_of(name), &m, &err);
    if (st != CAI_OK)
        fprintf(stderr, "\n  %s: %s:%zu:%zu: %s\n", name, err.file, err.line,
                err.column, err.message);
    CU_ASSERT_EQUAL(st, CAI_OK);
    return m;
}

/* Write text to dir/name and load it. */
static cai_model *load_text(const char *name, const char *yaml)
{
    cai_test_write_file(name, yaml);
    return load_path(name);
}

static bool same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

static bool same_doubles(const double *a, const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!same_double(a[i], b[i])) {
            fprintf(stderr, "\n  entry %zu: %.17g vs %.17g\n", i, a[i], b[i]);
            return false;
        }
    return true;
}

/* The two models hold the same MDP, bit for bit. */
static void check_same(const cai_model *ma, const cai_model *mb)
{
    CU_ASSERT_PTR_NOT_NULL_FATAL(ma);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mb);
    const cai_mdp *a = cai_model_mdp(ma), *b = cai_model_mdp(mb);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    size_t S = cai_mdp_n_states(a), A = cai_mdp_n_actions(a);
    CU_ASSERT_EQUAL_FATAL(cai_mdp_n_states(b), S);
    CU_ASSERT_EQUAL_FATAL(cai_mdp_n_actions(b), A);
    for (size_t s = 0; s < S; s++)
        CU_ASSERT_STRING_EQUAL(cai_mdp_state_name(a, s),
                               cai_mdp_state_name(b, s));
    for (size_t x = 0; x < A; x++)
        CU_ASSERT_STRING_EQUAL(cai_mdp_action_name(a, x),
                               cai_mdp_action_name(b, x));
    CU_ASSERT_EQUAL(cai_mdp_horizon(a), cai_mdp_horizon(b));
    CU_ASSERT(same_double(cai_mdp_discount(a), cai_mdp_discount(b)));
    CU_ASSERT(same_double(cai_mdp_temperature(a), cai_mdp_temperature(b)));
    CU_ASSERT(same_doubles(cai_mdp_initial(a), cai_mdp_initial(b), S));
    CU_ASSERT(same_doubles(cai_mdp_reward(a), cai_mdp_reward(b), S * A));
    CU_ASSERT(same_doubles(cai_mdp_terminal(a), cai_mdp_terminal(b), S));
    for (size_t i = 0; i < S * A; i++)
        CU_ASSERT(same_double(cai_mdp_action_prior_at(a, i / A, i % A),
                              cai_mdp_action_prior_at(b, i / A, i % A)));
    CU_ASSERT_EQUAL(cai_mdp_action_prior(a) == NULL, cai_mdp_action_prior(b) == NULL);
    const size_t *rpa, *rpb;
    const uint32_t *nxa, *nxb;
    const double *pra, *prb;
    cai_mdp_dynamics(a, &rpa, &nxa, &pra);
    cai_mdp_dynamics(b, &rpb, &nxb, &prb);
    CU_ASSERT_EQUAL_FATAL(cai_mdp_n_transitions(a), cai_mdp_n_transitions(b));
    bool rows_ok = true;
    for (size_t r = 0; r < S * A && rows_ok; r++) {
        rows_ok = rpa[r + 1] == rpb[r + 1];
        for (size_t i = rpa[r]; rows_ok && i < rpa[r + 1]; i++)
            rows_ok = nxa[i] == nxb[i] && same_double(pra[i], prb[i]);
        if (!rows_ok)
            fprintf(stderr, "\n  CSR row %zu differs\n", r);
    }
    CU_ASSERT(rows_ok);
}

/* Loading dir/yaml fails with code at file:line:column (file relative to
 * the directory) with phrase in a one-line message, and no model. */
static void check_error(const char *yaml, cai_status code, const char *file,
                        size_t line, size_t column, const char *phrase)
{
    cai_model *m = NULL;
    cai_error err;
    cai_error_clear(&err);
    cai_status st = cai_model_load(path_of(yaml), &m, &err);
    const char *want = path_of(file);
    CU_ASSERT_EQUAL(st, code);
    CU_ASSERT_EQUAL(err.code, code);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_STRING_EQUAL(err.file, want);
    CU_ASSERT_EQUAL(err.line, line);
    CU_ASSERT_EQUAL(err.column, column);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.message, phrase));
    CU_ASSERT_PTR_NULL(strchr(err.message, '\n'));
    if (st != code || strcmp(err.file, want) != 0 || err.line != line ||
        err.column != column || strstr(err.message, phrase) == NULL)
        fprintf(stderr,
                "\n  got %d %s:%zu:%zu: %s\n  want %d %s:%zu:%zu: ...%s...\n",
                (int)st, err.file, err.line, err.column, err.message, (int)code,
                want, line, column, phrase);
    cai_model_free(m);
}

/* ---- a model with names ------------------------------------------------ */

#define NAMED_HEAD                                                             \
    "kind: mdp\n"                                                              \
    "name: csv\n"                                                              \
    "states: [s0, s1, \"s,2\"]\n"                                              \
    "actions: [left, right]\n"                                                 \
    "initial: {s0: 0.5, s1: 0.5}\n"                                            \
    "reward_default: -1\n"                                                     \
    "terminal_rewards: {\"s,2\": 10}\n"                                        \
    "horizon: 7\n"                                                             \
    "temperature: 0.5\n"

static void test_names(void)
{
    cai_model *y = load_text(
        "named_yaml.yaml", NAMED_HEAD
        "transitions:\n"
        "  - {state: s0, action: left, next: {s0: 0.25, s1: 0.75}}\n"
        "  - {state: s0, action: right, next: {\"s,2\": 1}}\n"
        "  - {state: s1, action: left, next: {s0: 0.1, s1: 0.2, \"s,2\": "
        "0.7}}\n"
        "  - {state: s1, action: right, next: {s1: 1.0, s0: 0}}\n"
        "  - {state: \"s,2\", action: left, next: {\"s,2\": 1}}\n"
        "  - {state: \"s,2\", action: right, next: {s0: 0.5, \"s,2\": 0.5}}\n"
        "rewards:\n"
        "  - {state: s0, action: right, value: 2.5}\n"
        "  - {state: \"s,2\", action: left, value: -0.125}\n");
    /* shuffled rows, quoting, blanks, a zero, CRLF and blank lines */
    cai_test_write_file("named_t.csv",
                        "state,action,next,prob\r\n"
                        "\"s,2\",right,s0,0.5\r\n"
                        "s1,left,\"s,2\",0.7\r\n"
                        "  s0 , left , s1 , 0.75  \r\n"
                        "\r\n"
                        "s1,right,s0,0\n"
                        "\"s1\",\"left\",\"s0\",0.1\n"
                        "s0,right,\"s,2\",1\n"
                        "\n"
                        "s1,left,s1,0.2\n"
                        "\"s,2\",left,\"s,2\",1\n"
                        "s1,right,s1,1.0\n"
                        "\"s,2\",right,\"s,2\",0.5\n"
                        "s0,left,s0,0.25"); /* no final newline */
    cai_test_write_file("named_r.csv", "state,action,value\n"
                                       "\"s,2\",left,-0.125\n"
                                       "s0,right,2.5\n");
    cai_model *c =
        load_text("named_csv.yaml", NAMED_HEAD "transitions_file: named_t.csv\n"
                                               "rewards_file: named_r.csv\n");
    check_same(y, c);
    if (c != NULL) /* the zero is not stored: 11 rows, 10 entries */
        CU_ASSERT_EQUAL(cai_mdp_n_transitions(cai_model_mdp(c)), 10);
    cai_model_free(y);
    cai_model_free(c);
}

/* Names with quotes and a byte order mark; keys in any order. */
static void test_quotes_and_bom(void)
{
    const char *head = "kind: mdp\n"
                       "states: ['say \"hi\"', b]\n"
                       "actions: [go]\n"
                       "initial: {b: 1}\n"
                       "discount: 0.5\n";
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "%s"
             "transitions:\n"
             "  - {state: 'say \"hi\"', action: go, next: {b: 1}}\n"
             "  - {state: b, action: go, next: {'say \"hi\"': 0.5, b: 0.5}}\n"
             "rewards: [{state: b, action: go, value: -3}]\n",
             head);
    cai_model *y = load_text("quotes_yaml.yaml", yaml);
    static const char csv[] = "\xEF\xBB\xBFstate,action,next,prob\n"
                              "b,go,b,0.5\n"
                              "\"say \"\"hi\"\"\",go,b,1\n"
                              "b,go,\"say \"\"hi\"\"\",0.5\n";
    write_bytes("quotes_t.csv", csv, sizeof csv - 1);
    cai_test_write_file("quotes_r.csv", "state,action,value\nb,go,-3\n");
    snprintf(yaml, sizeof yaml,
             "rewards_file: quotes_r.csv\n%stransitions_file: quotes_t.csv\n",
             head);
    cai_model *c = load_text("quotes_csv.yaml", yaml);
    check_same(y, c);
    cai_model_free(y);
    cai_model_free(c);
}

/* ---- count axes: 0-based indices --------------------------------------- */

static void test_counts(void)
{
    const char *head = "kind: mdp\n"
                       "states: 4\n"
                       "actions: 2\n"
                       "initial: {\"0\": 1}\n"
                       "horizon: 3\n";
    text y = {0}, c = {0};
    add(&y, "%stransitions:\n", head);
    add(&c, "state,action,next,prob\n");
    for (int s = 3; s >= 0; s--)
        for (int a = 0; a < 2; a++) {
            int n1 = (s + a + 1) % 4, n2 = (s + 2 * a + 3) % 4;
            if (n1 == n2) {
                add(&y, "  - {state: %d, action: %d, next: {%d: 1}}\n", s, a,
                    n1);
                add(&c, "%d,%d,%d,1\n", s, a, n1);
            } else {
                add(&y,
                    "  - {state: %d, action: %d, next: {%d: 0.375, %d: "
                    "0.625}}\n",
                    s, a, n1, n2);
                add(&c, "%d,%d,%d,0.625\n%d,%d,%d,0.375\n", s, a, n2, s, a, n1);
            }
        }
    add(&y, "rewards:\n  - {state: 2, action: 1, value: 4}\n"
            "  - {state: 0, action: 0, value: 1e-3}\n");
    cai_test_write_file("count_t.csv", c.s);
    cai_test_write_file("count_r.csv", "state,action,value\n2,1,4\n0,0,1e-3\n");
    cai_model *my = load_text("count_yaml.yaml", y.s);
    free(c.s);
    c = (text){0};
    add(&c, "%stransitions_file: count_t.csv\nrewards_file: count_r.csv\n",
        head);
    cai_model *mc = load_text("count_csv.yaml", c.s);
    check_same(my, mc);
    cai_model_free(my);
    cai_model_free(mc);
    free(y.s);
    free(c.s);
}

/* ---- random models against their YAML twins --------------------------- */

/* A random model with S states and A actions (names "st<i>" or counts):
 * 1 to 6 successors a pair, some zeros, probabilities printed with 17 or 6
 * digits, rewards for a random half of the pairs; CSV rows shuffled. */
static void random_twins(gsl_rng *rng, size_t S, size_t A, bool names,
                         bool short_digits)
{
    text yaml = {0}, head = {0}, tcsv = {0}, rcsv = {0};
    add(&head, "kind: mdp\n");
    if (names) {
        add(&head, "states: [");
        for (size_t s = 0; s < S; s++)
            add(&head, "%sst%zu", s ? ", " : "", s);
        add(&head, "]\nactions: [");
        for (size_t a = 0; a < A; a++)
            add(&head, "%sac%zu", a ? ", " : "", a);
        add(&head, "]\ninitial: {st0: 1}\n");
    } else {
        add(&head, "states: %zu\nactions: %zu\ninitial: {\"0\": 1}\n", S, A);
    }
    add(&head, "horizon: 5\nreward_default: 0.5\n");
    const char *sp = names ? "st" : "", *ap = names ? "ac" : "";

    size_t cap = S * A * 6, n = 0;
    char **rows = malloc(cap * sizeof *rows);
    CU_ASSERT_FATAL(rows != NULL);
    add(&yaml, "%stransitions:\n", head.s);
    for (size_t s = 0; s < S; s++)
        for (size_t a = 0; a < A; a++) {
            size_t k = 1 + gsl_rng_uniform_int(rng, 6), next[6];
            double w[6], total = 0.0;
            size_t perm[64];
            cai_test_permutation(rng, perm, S < 64 ? S : 64);
            for (size_t i = 0; i < k; i++) {
                next[i] = perm[i] % S;
                w[i] = i == 1 && k > 2 ? 0.0 : gsl_rng_uniform_pos(rng);
                total += w[i];
            }
            /* the YAML entry and the CSV rows print the same text */
            char num[6][40];
            double sum = 0.0;
            for (size_t i = 0; i < k; i++) {
                double p = w[i] / total;
                if (short_digits && i + 1 < k)
                    p = floor(p * 1e6) / 1e6;
                if (short_digits && i + 1 == k)
                    p = 1.0 - sum; /* within 1e-9 of a 1 sum */
                snprintf(num[i], sizeof num[i], short_digits ? "%.6f" : "%.17g",
                         p);
                sum += strtod(num[i], NULL);
            }
            add(&yaml, "  - {state: %s%zu, action: %s%zu, next: {", sp, s, ap,
                a);
            for (size_t i = 0; i < k; i++) {
                add(&yaml, "%s%s%zu: %s", i ? ", " : "", sp, next[i], num[i]);
                text row = {0};
                add(&row, "%s%zu,%s%zu,%s%zu,%s\n", sp, s, ap, a, sp, next[i],
                    num[i]);
                rows[n++] = row.s;
            }
            add(&yaml, "}}\n");
        }
    add(&yaml, "rewards:\n");
    add(&rcsv, "state,action,value\n");
    for (size_t s = 0; s < S; s++)
        for (size_t a = 0; a < A; a++)
            if (gsl_rng_uniform(rng) < 0.5) {
                char v[40];
                snprintf(v, sizeof v, "%.17g",
                         2.0 * gsl_rng_uniform(rng) - 1.0);
                add(&yaml, "  - {state: %s%zu, action: %s%zu, value: %s}\n", sp,
                    s, ap, a, v);
                add(&rcsv, "%s%zu,%s%zu,%s\n", sp, s, ap, a, v);
            }
    size_t *order = malloc(n * sizeof *order);
    CU_ASSERT_FATAL(order != NULL);
    cai_test_permutation(rng, order, n);
    add(&tcsv, "state,action,next,prob\n");
    for (size_t i = 0; i < n; i++)
        add(&tcsv, "%s", rows[order[i]]);

    cai_test_write_file("rand_t.csv", tcsv.s);
    cai_test_write_file("rand_r.csv", rcsv.s);
    cai_model *my = load_text("rand_yaml.yaml", yaml.s);
    text csvyaml = {0};
    add(&csvyaml, "%stransitions_file: rand_t.csv\nrewards_file: rand_r.csv\n",
        head.s);
    cai_model *mc = load_text("rand_csv.yaml", csvyaml.s);
    check_same(my, mc);
    cai_model_free(my);
    cai_model_free(mc);
    for (size_t i = 0; i < n; i++)
        free(rows[i]);
    free(rows);
    free(order);
    free(yaml.s);
    free(head.s);
    free(tcsv.s);
    free(rcsv.s);
    free(csvyaml.s);
}

static void test_random(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rng);
    gsl_rng_set(rng, 4);
    random_twins(rng, 50, 3, true, false);
    random_twins(rng, 50, 3, false, false);
    random_twins(rng, 200, 4, false, true);
    random_twins(rng, 7, 1, true, true);
    gsl_rng_free(rng);
}

/* Numbers are read as strtod reads them, bit for bit (csv.c reads plain
 * decimals without it): rewards in many spellings against strtod. */
static void test_numbers(void)
{
    const size_t S = 600, A = 4;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rng);
    gsl_rng_set(rng, 9);
    static const char *const fmts[] = {"%.17g",  "%.16g", "%.15g", "%.6f",
                                       "%.3e",   "%.20f", "%.19g", "%.0f",
                                       "%+.12f", "%.25f"};
    char(*text)[64] = malloc(S * A * sizeof *text);
    CU_ASSERT_PTR_NOT_NULL_FATAL(text);
    struct text t = {0}, r = {0};
    add(&t, "state,action,next,prob\n");
    add(&r, "state,action,value\n");
    for (size_t k = 0; k < S * A; k++) {
        double x = gsl_rng_uniform(rng);
        if (k % 3 == 1)
            x *= pow(10.0, (double)gsl_rng_uniform_int(rng, 40) - 20.0);
        if (k % 2 == 1)
            x = -x;
        snprintf(text[k], sizeof text[k], fmts[k % 10], x);
        add(&t, "%zu,%zu,%zu,1\n", k / A, k % A, k / A);
        add(&r, "%zu,%zu,%s\n", k / A, k % A, text[k]);
    }
    cai_test_write_file("num_t.csv", t.s);
    cai_test_write_file("num_r.csv", r.s);
    char yaml[256];
    snprintf(yaml, sizeof yaml,
             "kind: mdp\nstates: %zu\nactions: %zu\ninitial: {\"0\": 1}\n"
             "horizon: 1\ntransitions_file: num_t.csv\n"
             "rewards_file: num_r.csv\n",
             S, A);
    cai_model *m = load_text("num.yaml", yaml);
    if (m != NULL) {
        const double *reward = cai_mdp_reward(cai_model_mdp(m));
        size_t bad = 0;
        for (size_t k = 0; k < S * A; k++)
            if (!same_double(reward[k], strtod(text[k], NULL)) && bad++ < 5)
                fprintf(stderr, "\n  '%s' read as %.17g\n", text[k], reward[k]);
        CU_ASSERT_EQUAL(bad, 0);
    }
    cai_model_free(m);
    free(text);
    free(t.s);
    free(r.s);
    gsl_rng_free(rng);
}

/* ---- where files are looked for ---------------------------------------- */

/* Relative to the YAML file, not the working directory; errors name the
 * path as resolved. */
static void test_relative_path(void)
{
    char sub[512];
    snprintf(sub, sizeof sub, "%s/sub", cai_test_dir());
    CU_ASSERT_FATAL(mkdir(sub, 0700) == 0);
    cai_test_write_file("sub/t.csv", "state,action,next,prob\n0,0,1,1\n"
                                     "1,0,1,1\n");
    cai_test_write_file("sub/bad.csv", "state,action,next,prob\n0,0,1,1\n"
                                       "1,0,2,1\n");
    static const char head[] = "kind: mdp\nstates: 2\nactions: 1\n"
                               "initial: {\"0\": 1}\nhorizon: 2\n";
    cai_test_write_file("rel.yaml", "kind: mdp\nstates: 2\nactions: 1\n"
                                    "initial: {\"0\": 1}\nhorizon: 2\n"
                                    "transitions_file: sub/t.csv\n");
    cai_model *m = load_path("rel.yaml");
    CU_ASSERT_PTR_NOT_NULL(m);
    if (m != NULL)
        CU_ASSERT_EQUAL(cai_mdp_n_transitions(cai_model_mdp(m)), 2);
    cai_model_free(m);
    char yaml[512];
    snprintf(yaml, sizeof yaml, "%stransitions_file: sub/bad.csv\n", head);
    cai_test_write_file("rel_bad.yaml", yaml);
    check_error("rel_bad.yaml", CAI_ERR_MODEL, "sub/bad.csv", 3, 5,
                "state index 2 is out of range (states: 0..1)");

    /* from a string, relative to the name it is given */
    snprintf(yaml, sizeof yaml, "%stransitions_file: t.csv\n", head);
    cai_error err;
    cai_error_clear(&err);
    CU_ASSERT_EQUAL(cai_model_load_string(yaml, strlen(yaml),
                                          path_of("sub/virtual.yaml"), &m,
                                          &err),
                    CAI_OK);
    cai_model_free(m);

    /* an absolute path is taken as it is */
    snprintf(yaml, sizeof yaml, "%stransitions_file: %s\n", head,
             path_of("sub/t.csv"));
    cai_test_write_file("abs.yaml", yaml);
    m = load_path("abs.yaml");
    CU_ASSERT_PTR_NOT_NULL(m);
    cai_model_free(m);
    remove(path_of("sub/t.csv"));
    remove(path_of("sub/bad.csv"));
    CU_ASSERT(rmdir(sub) == 0);
}

/* ---- errors ------------------------------------------------------------ */

/* e.yaml names e.csv as its transitions; e_r.csv as its rewards when
 * rewards is given (states s0 s1 s2, actions left right). */
static void write_case(const char *transitions, const char *rewards)
{
    cai_test_write_file("e.csv", transitions);
    if (rewards != NULL)
        cai_test_write_file("e_r.csv", rewards);
    cai_test_write_file("e.yaml", rewards != NULL
                                      ? "kind: mdp\n"
                                        "states: [s0, s1, s2]\n"
                                        "actions: [left, right]\n"
                                        "initial: {s0: 1}\n"
                                        "horizon: 2\n"
                                        "transitions_file: e.csv\n"
                                        "rewards_file: e_r.csv\n"
                                      : "kind: mdp\n"
                                        "states: [s0, s1, s2]\n"
                                        "actions: [left, right]\n"
                                        "initial: {s0: 1}\n"
                                        "horizon: 2\n"
                                        "transitions_file: e.csv\n");
}

/* Every pair goes to s0, after the given rows (which start on line 2). */
static void write_rows(const char *first_rows)
{
    char csv[2048];
    snprintf(csv, sizeof csv,
             "state,action,next,prob\n%s"
             "s0,left,s0,1\ns0,right,s0,1\ns1,left,s0,1\ns1,right,s0,1\n"
             "s2,left,s0,1\ns2,right,s0,1\n",
             first_rows);
    write_case(csv, NULL);
}

/* A CSV for a count model (states: 3, actions: 2) with the given rows. */
static void write_count_rows(const char *rows)
{
    char csv[2048];
    snprintf(csv, sizeof csv, "state,action,next,prob\n%s", rows);
    cai_test_write_file("ec.csv", csv);
    cai_test_write_file("ec.yaml", "kind: mdp\nstates: 3\nactions: 2\n"
                                   "initial: {\"0\": 1}\nhorizon: 2\n"
                                   "transitions_file: ec.csv\n");
}

static void test_err_header(void)
{
    write_case("state,action,nxt,prob\ns0,left,s0,1\n", NULL);
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 1, 14,
                "expected the header line 'state,action,next,prob', got "
                "'state,action,nxt,prob'");
    write_case("state,action,next\n", NULL);
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 1, 18,
                "expected the header line");
    write_case("state,action,next,prob,extra\n", NULL);
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 1, 24,
                "expected the header line");
    write_case("s0,left,s0,1\n", NULL);
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 1, 1,
                "expected the header line");
    write_case("", NULL);
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 1, 1,
                "empty file: expected the header line "
                "'state,action,next,prob'");
    write_rows("");
    cai_test_write_file("e_r.csv", "state,action,reward\n");
    cai_test_write_file("e2.yaml", "kind: mdp\nstates: [s0, s1, s2]\n"
                                   "actions: [left, right]\n"
                                   "initial: {s0: 1}\nhorizon: 2\n"
                                   "transitions_file: e.csv\n"
                                   "rewards_file: e_r.csv\n");
    check_error("e2.yaml", CAI_ERR_MODEL, "e_r.csv", 1, 14,
                "expected the header line 'state,action,value'");
}

static void test_err_width(void)
{
    write_rows("s0,left,s1\n");
    check_error("e.yaml", CAI_ERR_SYNTAX, "e.csv", 2, 11,
                "expected 4 fields (state,action,next,prob), got 3");
    write_rows("s0,left,s1,0.5,0.5\r\n");
    check_error("e.yaml", CAI_ERR_SYNTAX, "e.csv", 2, 16,
                "expected 4 fields (state,action,next,prob), got 5");
    write_rows("s0,left,\"s1,0.5\n");
    check_error("e.yaml", CAI_ERR_SYNTAX, "e.csv", 2, 9,
                "unterminated quoted field");
    write_rows("s0,left,\"s1\"x,0.5\n");
    check_error("e.yaml", CAI_ERR_SYNTAX, "e.csv", 2, 13,
                "expected ',' or the end of the line after a quoted field");
    static const char nul[] = "state,action,next,prob\ns0,le\0ft,s0,1\n";
    write_bytes("e.csv", nul, sizeof nul - 1);
    check_error("e.yaml", CAI_ERR_SYNTAX, "e.csv", 2, 6, "NUL byte");
}

static void test_err_names(void)
{
    write_rows("s0,left,s1,0.5\nzz,left,s1,0.5\n");
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 3, 1,
                "unknown state 'zz' (states: s0, s1, s2)");
    write_rows("s0, up ,s1,1\n");
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 2, 5,
                "unknown action 'up' (actions: left, right)");
    write_rows("s0,left,\"s 1\",1\n");
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 2, 9,
                "unknown state 's 1' (states: s0, s1, s2)");
    write_rows("s0,,s1,1\n");
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 2, 4, "empty action field");
    write_rows("*,left,s1,1\n");
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 2, 1,
                "wildcards are not supported in CSV files");
    write_rows("s0,\"*\",s1,1\n");
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 2, 4,
                "wildcards are not supported in CSV files");

    write_count_rows("0,0,1,1\n0,2,1,1\n");
    check_error("ec.yaml", CAI_ERR_MODEL, "ec.csv", 3, 3,
                "action index 2 is out of range (actions: 0..1)");
    write_count_rows("0,0,3,1\n");
    check_error("ec.yaml", CAI_ERR_MODEL, "ec.csv", 2, 5,
                "state index 3 is out of range (states: 0..2)");
    write_count_rows("01,0,1,1\n");
    check_error("ec.yaml", CAI_ERR_MODEL, "ec.csv", 2, 1,
                "unknown state '01' (states: 0..2)");
    write_count_rows("s0,0,1,1\n");
    check_error("ec.yaml", CAI_ERR_MODEL, "ec.csv", 2, 1,
                "unknown state 's0' (states: 0..2)");
    write_count_rows("0,0,-1,1\n");
    check_error("ec.yaml", CAI_ERR_MODEL, "ec.csv", 2, 5,
                "unknown state '-1' (states: 0..2)");
    write_count_rows("0,*,1,1\n");
    check_error("ec.yaml", CAI_ERR_MODEL, "ec.csv", 2, 3,
                "wildcards are not supported in CSV files");
}

static void test_err_numbers(void)
{
    write_rows("s0,left,s1,abc\n");
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 2, 12,
                "the probability must be a number, got 'abc'");
    write_rows("s0,left,s1,0.5x\n");
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 2, 12,
                "the probability must be a number, got '0.5x'");
    write_rows("s0,left,s1,\n");
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 2, 12,
                "the probability must be a number, got ''");
    write_rows("s0,left,s1,nan\n");
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 2, 12,
                "the probability must be a finite number, got 'nan'");
    write_rows("s0,left,s1,-inf\n");
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 2, 12,
                "the probability must be a finite number, got '-inf'");
    write_rows("s0,left,s1,1e999\n");
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 2, 12,
                "the probability must be a finite number, got '1e999'");
    write_rows("s0,left,s1, -0.5\n");
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 2, 13,
                "negative probability -0.5");
    write_rows("s0,left,s1,1.5\n");
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 2, 12,
                "probability 1.5 is greater than 1");
    write_rows("");
    cai_test_write_file("e_r.csv", "state,action,value\ns1,left,inf\n");
    cai_test_write_file("e2.yaml", "kind: mdp\nstates: [s0, s1, s2]\n"
                                   "actions: [left, right]\n"
                                   "initial: {s0: 1}\nhorizon: 2\n"
                                   "transitions_file: e.csv\n"
                                   "rewards_file: e_r.csv\n");
    check_error("e2.yaml", CAI_ERR_MODEL, "e_r.csv", 2, 9,
                "the reward must be a finite number, got 'inf'");
}

static void test_err_duplicates(void)
{
    /* the earliest second row in the file, whatever the pairs' order */
    write_case("state,action,next,prob\n"
               "s2,right,s1,0.5\n"
               "s0,left,s1,0.5\n"
               "s2,right,s1,0.5\n"
               "s0,left,s1,0.5\n",
               NULL);
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 4, 1,
                "duplicate row for state 's2', action 'right', next 's1' "
                "(first at line 2)");
    /* short rows (the bucketed rows do not fit in the file's buffer) */
    write_count_rows("0,0,1,1\n0,1,0,1\n1,0,1,1\n0,0,1,1\n");
    check_error("ec.yaml", CAI_ERR_MODEL, "ec.csv", 5, 1,
                "duplicate row for state '0', action '0', next '1' (first "
                "at line 2)");
    write_count_rows("0,0,1,1\n0,1,0,.5\n");
    check_error("ec.yaml", CAI_ERR_MODEL, "ec.csv", 3, 7,
                "probabilities for state '0', action '1' sum to 0.5");
    /* a duplicate is reported before a bad sum */
    write_rows("s1,left,s2,0.5\ns1,left,s2,0.25\n");
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 3, 1,
                "duplicate row for state 's1', action 'left', next 's2' "
                "(first at line 2)");
    write_rows("");
    cai_test_write_file("e_r.csv", "state,action,value\n"
                                   "s1,left,1\ns0,left,2\n\n s1 ,left,3\n");
    cai_test_write_file("e2.yaml", "kind: mdp\nstates: [s0, s1, s2]\n"
                                   "actions: [left, right]\n"
                                   "initial: {s0: 1}\nhorizon: 2\n"
                                   "transitions_file: e.csv\n"
                                   "rewards_file: e_r.csv\n");
    check_error("e2.yaml", CAI_ERR_MODEL, "e_r.csv", 5, 2,
                "duplicate row for state 's1', action 'left' (first at "
                "line 2)");
}

static void test_err_sums(void)
{
    /* pair (s2, left) comes first in the file; its rows are spread out */
    write_case("state,action,next,prob\n"
               "s0,left,s0,1\n"
               "s2,left,s1,0.5\n"
               "s0,right,s0,0.5\n"
               "s1,left,s0,1\n"
               "s1,right,s0,1\n"
               "s2,left,s2,0.25\n"
               "s2,right,s0,1\n"
               "s0,right,s1,0.25\n",
               NULL);
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 3, 12,
                "probabilities for state 's2', action 'left' sum to 0.75, "
                "not 1 (within 1e-9); this is the first of its 2 rows (the "
                "last is at line 7)");
    write_case("state,action,next,prob\n"
               "s0,left,s0,1\ns0,right,s0,1\ns1,left,s0,1\ns1,right,s0,1\n"
               "s2,left,s0,1\ns2,right,s0,0.999999\n",
               NULL);
    check_error("e.yaml", CAI_ERR_MODEL, "e.csv", 7, 13,
                "'right' sum to 0.99999899999999997, not 1 (within 1e-9); "
                "this is its only row");
    /* within 1e-9 is fine */
    write_rows("");
    write_case("state,action,next,prob\n"
               "s0,left,s0,0.9999999999\ns0,right,s0,1\ns1,left,s0,1\n"
               "s1,right,s0,1\ns2,left,s0,1\ns2,right,s0,1\n",
               NULL);
    cai_model *m = load_path("e.yaml");
    CU_ASSERT_PTR_NOT_NULL(m);
    cai_model_free(m);
}

static void test_err_coverage(void)
{
    write_case("state,action,next,prob\n"
               "s0,left,s0,1\ns0,right,s0,1\ns1,left,s0,1\ns1,right,s0,1\n"
               "s2,right,s0,1\n",
               NULL);
    check_error("e.yaml", CAI_ERR_MODEL, "e.yaml", 6, 1,
                "does not cover state 's2', action 'left' (every pair needs "
                "a row)");
    write_case("state,action,next,prob\n", NULL);
    check_error("e.yaml", CAI_ERR_MODEL, "e.yaml", 6, 1,
                "does not cover state 's0', action 'left'");
}

static void test_err_keys(void)
{
    write_rows("");
    cai_test_write_file("e_r.csv", "state,action,value\n");
    cai_test_write_file("k1.yaml", "kind: mdp\nstates: [s0, s1, s2]\n"
                                   "actions: [left, right]\n"
                                   "initial: {s0: 1}\nhorizon: 2\n"
                                   "transitions_file: e.csv\n"
                                   "transitions: []\n");
    check_error("k1.yaml", CAI_ERR_MODEL, "k1.yaml", 7, 1,
                "give either 'transitions' or 'transitions_file', not both "
                "('transitions_file' is at line 6)");
    cai_test_write_file("k2.yaml", "kind: mdp\nstates: [s0, s1, s2]\n"
                                   "actions: [left, right]\n"
                                   "rewards: []\n"
                                   "initial: {s0: 1}\nhorizon: 2\n"
                                   "transitions_file: e.csv\n"
                                   "rewards_file: e_r.csv\n");
    check_error("k2.yaml", CAI_ERR_MODEL, "k2.yaml", 8, 1,
                "give either 'rewards' or 'rewards_file', not both "
                "('rewards' is at line 4)");
    cai_test_write_file("k3.yaml", "kind: mdp\nstates: [s0, s1, s2]\n"
                                   "actions: [left, right]\n"
                                   "initial: {s0: 1}\nhorizon: 2\n"
                                   "transitions_file: missing.csv\n");
    check_error("k3.yaml", CAI_ERR_IO, "k3.yaml", 6, 19,
                "'transitions_file': cannot open '");
    cai_test_write_file("k4.yaml", "kind: mdp\nstates: [s0, s1, s2]\n"
                                   "actions: [left, right]\n"
                                   "initial: {s0: 1}\nhorizon: 2\n"
                                   "transitions_file: e.csv\n"
                                   "rewards_file: [e_r.csv]\n");
    check_error("k4.yaml", CAI_ERR_MODEL, "k4.yaml", 7, 15,
                "'rewards_file' must be a non-empty string, got a sequence");
    cai_test_write_file("k5.yaml", "kind: mdp\nstates: [s0, s1, s2]\n"
                                   "actions: [left, right]\n"
                                   "initial: {s0: 1}\nhorizon: 2\n"
                                   "transitions_file: ''\n");
    check_error("k5.yaml", CAI_ERR_MODEL, "k5.yaml", 6, 19,
                "'transitions_file' must be a non-empty string");
    cai_test_write_file("k6.yaml", "kind: mdp\nstates: [s0, s1, s2]\n"
                                   "actions: [left, right]\n"
                                   "initial: {s0: 1}\nhorizon: 2\n");
    check_error("k6.yaml", CAI_ERR_MODEL, "k6.yaml", 1, 1,
                "missing key 'transitions' in the model");
}

/* ---- registration ------------------------------------------------------ */

static int suite_init(void)
{
    return cai_test_dir_create("/tmp/cai-test-io-csv-XXXXXX");
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("io_csv", suite_init, cai_test_dir_remove);
    CU_add_test(s, "names, quoting, blanks, CRLF, zeros", test_names);
    CU_add_test(s, "quotes inside names, byte order mark", test_quotes_and_bom);
    CU_add_test(s, "count axes: 0-based indices", test_counts);
    CU_add_test(s, "random models against their YAML twins", test_random);
    CU_add_test(s, "numbers read as strtod reads them", test_numbers);
    CU_add_test(s, "paths relative to the YAML file", test_relative_path);
    CU_add_test(s, "error: header", test_err_header);
    CU_add_test(s, "error: fields and quoting", test_err_width);
    CU_add_test(s, "error: names and indices", test_err_names);
    CU_add_test(s, "error: numbers", test_err_numbers);
    CU_add_test(s, "error: duplicate rows", test_err_duplicates);
    CU_add_test(s, "error: sums", test_err_sums);
    CU_add_test(s, "error: coverage", test_err_coverage);
    CU_add_test(s, "error: keys and files", test_err_keys);
}
