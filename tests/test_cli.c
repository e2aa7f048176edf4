/* tests/test_cli.c — the cai command line, run as a program (CAI_EXE) in a
 * temporary directory. Numbers are read back out of its output and compared
 * with brute-force enumeration over the arrays the test wrote the model
 * from; errors are checked for their exit status and their one-line
 * "FILE:LINE:COL: error: ..." form. */
#include "harness.h"
#include "support.h"

#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cai/cai.h"
#include "cai/version.h"

/* ---- running the program ----------------------------------------------- */

static bool exists(const char *name)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", cai_test_dir(), name);
    return stat(path, &st) == 0;
}

/* Files in the directory other than the captured streams and the models. */
static size_t stray_files(void)
{
    DIR *d = opendir(cai_test_dir());
    size_t n = 0;
    if (d == NULL)
        return 1000;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const char *s = e->d_name;
        size_t len = strlen(s);
        if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
            strcmp(s, "stdout.txt") == 0 || strcmp(s, "stderr.txt") == 0 ||
            (len > 5 && strcmp(s + len - 5, ".yaml") == 0) ||
            strcmp(s, "out.json") == 0 || strcmp(s, "out.txt") == 0)
            continue;
        n++;
    }
    closedir(d);
    return n;
}

static int suite_init(void)
{
    return cai_test_dir_create("/tmp/cai-test-cli-XXXXXX");
}

/* ---- the test model ---------------------------------------------------- */

/* A tree: P - Q - R plus S hanging off P; S observed. Layout: row-major,
 * last scope variable fastest. */
#define NV 4
static const char *const var_name[NV] = {"P", "Q", "R", "S"};
static const size_t card[NV] = {3, 2, 3, 2};
static const char *const p_states[3] = {"low", "medium", "high"};
static const size_t s_observed = 1;

static const double f_p[3] = {0.2, 0.5, 0.3};                   /* P */
static const double f_pq[6] = {0.9, 0.1, 0.4, 0.6, 0.25, 0.75}; /* P, Q */
static const double f_rq[6] = {1.5, 0.5, 0.2, 2.0, 0.7, 1.1};   /* R, Q */
static const double f_ps_log[6] = {-0.1, -1.0, -0.7, 0.3, -2.0, 0.0};

static double weight(const size_t *x)
{
    if (x[3] != s_observed)
        return 0.0;
    return f_p[x[0]] * f_pq[x[0] * 2 + x[1]] * f_rq[x[2] * 2 + x[1]] *
           exp(f_ps_log[x[0] * 2 + x[3]]);
}

typedef struct oracle {
    double log_z, marg[NV][3], map_score;
    size_t map[NV];
} oracle;

static oracle brute(void)
{
    oracle o;
    memset(&o, 0, sizeof o);
    double z = 0.0, best = -1.0;
    size_t x[NV];
    for (x[0] = 0; x[0] < card[0]; x[0]++)
        for (x[1] = 0; x[1] < card[1]; x[1]++)
            for (x[2] = 0; x[2] < card[2]; x[2]++)
                for (x[3] = 0; x[3] < card[3]; x[3]++) {
                    double w = weight(x);
                    z += w;
                    for (size_t v = 0; v < NV; v++)
                        o.marg[v][x[v]] += w;
                    if (w > best) {
                        best = w;
                        memcpy(o.map, x, sizeof x);
                    }
                }
    o.log_z = log(z);
    for (size_t v = 0; v < NV; v++)
        for (size_t s = 0; s < card[v]; s++)
            o.marg[v][s] /= z;
    o.map_score = log(best);
    return o;
}

static void list(char *buf, size_t size, const double *v, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(buf + o, size - o, "%s%.17g", i ? ", " : "", v[i]);
}

static void write_model(const char *name)
{
    char a[256], b[256], c[256], d[256], text[2048];
    list(a, sizeof a, f_p, 3);
    list(b, sizeof b, f_pq, 6);
    list(c, sizeof c, f_rq, 6);
    list(d, sizeof d, f_ps_log, 6);
    snprintf(text, sizeof text,
             "kind: factor_graph\n"
             "name: cli test\n"
             "variables:\n"
             "  - {name: P, states: [%s, %s, %s]}\n"
             "  - {name: Q, card: 2}\n"
             "  - {name: R, card: 3}\n"
             "  - {name: S, card: 2}\n"
             "factors:\n"
             "  - {scope: [P], table: [%s]}\n"
             "  - {scope: [P, Q], table: [%s]}\n"
             "  - {scope: [R, Q], table: [%s]}\n"
             "  - {scope: [P, S], log_table: [%s]}\n"
             "evidence: {S: %zu}\n",
             p_states[0], p_states[1], p_states[2], a, b, c, d, s_observed);
    cai_test_write_file(name, text);
}

/* ---- reading JSON back ------------------------------------------------- */

/* The number after "key": at or after from; NAN if absent. */
static double json_number(const char *text, const char *from, const char *key,
                          const char **out_end)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(from ? from : text, pat);
    if (p == NULL)
        return NAN;
    char *end;
    double v = strtod(p + strlen(pat), &end);
    if (out_end)
        *out_end = end;
    return v;
}

/* The array of n numbers after "key": [ at or after from. */
static bool json_array(const char *from, const char *key, double *out,
                       size_t n)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": [", key);
    const char *p = strstr(from, pat);
    if (p == NULL)
        return false;
    p += strlen(pat);
    for (size_t i = 0; i < n; i++) {
        char *end;
        out[i] = strtod(p, &end);
        if (end == p)
            return false;
        p = end;
        if (*p == ',')
            p += 2;
    }
    return *p == ']';
}

static void check_json(const char *text, const char *algorithm)
{
    oracle want = brute();
    char pat[64];
    snprintf(pat, sizeof pat, "\"algorithm\": \"%s\"", algorithm);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, pat));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"kind\": \"factor_graph\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "\"name\": \"cli test\""));
    CAI_ASSERT_CLOSE(json_number(text, NULL, "log_z", NULL), want.log_z, 1e-14);
    const char *marg = strstr(text, "\"marginals\": {");
    const char *map = strstr(text, "\"map\": {");
    CU_ASSERT_FATAL(marg != NULL && map != NULL && marg < map);
    for (size_t v = 0; v < NV; v++) {
        double got[3];
        CU_ASSERT_FATAL(json_array(marg, var_name[v], got, card[v]));
        for (size_t s = 0; s < card[v]; s++)
            CAI_ASSERT_CLOSE(got[s], want.marg[v][s], 1e-14);
        CU_ASSERT_EQUAL(json_number(text, map, var_name[v], NULL),
                        (double)want.map[v]);
    }
    CAI_ASSERT_CLOSE(json_number(text, NULL, "map_log_score", NULL),
                     want.map_score, 1e-14);
    double sec = json_number(text, NULL, "seconds", NULL);
    CU_ASSERT(sec >= 0.0 && sec < 10.0);
}

/* A 4-cycle of binary variables with a unary term. */
static const char RING_YAML[] = "kind: factor_graph\n"
                                "name: ring\n"
                                "variables: [{name: A, card: 2}, {name: B, card: 2}, "
                                "{name: C, card: 2}, {name: D, card: 2}]\n"
                                "factors:\n"
                                "  - {scope: [A, B], table: [3, 1, 1, 3]}\n"
                                "  - {scope: [B, C], table: [3, 1, 1, 3]}\n"
                                "  - {scope: [C, D], table: [3, 1, 1, 3]}\n"
                                "  - {scope: [D, A], table: [1, 2, 2, 1]}\n"
                                "  - {scope: [A], table: [2, 1]}\n";

/* RING_YAML by enumeration: Z, the largest weight and every marginal. */
static void ring_brute(double *z, double *best, double p[4][2])
{
    double f_ab[4] = {3, 1, 1, 3}, f_da[4] = {1, 2, 2, 1}, f_a[2] = {2, 1};
    *z = 0;
    *best = 0;
    memset(p, 0, 4 * sizeof p[0]);
    for (int x = 0; x < 16; x++) {
        int a = x >> 3 & 1, b = x >> 2 & 1, c = x >> 1 & 1, d = x & 1;
        double w = f_ab[2 * a + b] * f_ab[2 * b + c] * f_ab[2 * c + d] * f_da[2 * d + a]
                   * f_a[a];
        *z += w;
        *best = w > *best ? w : *best;
        p[0][a] += w, p[1][b] += w, p[2][c] += w, p[3][d] += w;
    }
    for (int v = 0; v < 4; v++)
        p[v][0] /= *z, p[v][1] /= *z;
}

/* --algorithm loopy on a 4-cycle: the CLI prints what the library's loopy
 * BP gives (run here in-process on the same file), its diagnostics, and
 * says what to try when a run does not converge. */
static void test_solve_loopy(void)
{
    const char *text = RING_YAML;
    cai_test_write_file("ring.yaml", text);
    cai_model *m = NULL;
    cai_error err;
    CU_ASSERT_EQUAL_FATAL(cai_model_load_string(text, strlen(text), "ring.yaml", &m, &err),
                          CAI_OK);
    cai_loopy_options lo = cai_loopy_options_default();
    lo.schedule = CAI_SCHEDULE_RESIDUAL;
    cai_loopy *lp = NULL;
    CU_ASSERT_EQUAL_FATAL(cai_loopy_create(cai_model_graph(m), &lo, &lp, &err), CAI_OK);
    CU_ASSERT_EQUAL_FATAL(cai_loopy_run(lp, &err), CAI_OK);
    double want[4][2];
    for (size_t v = 0; v < 4; v++)
        CU_ASSERT_EQUAL(cai_loopy_marginal(lp, v, want[v], &err), CAI_OK);
    double log_z = cai_loopy_log_z(lp);
    cai_loopy_free(lp);
    cai_model_free(m);

    cai_test_outcome o = cai_test_run("solve ring.yaml --algorithm loopy --schedule residual "
                                      "--json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_DOUBLE_EQUAL(json_number(o.out, NULL, "log_z", NULL), log_z, 1e-12);
    const char *names[4] = {"A", "B", "C", "D"};
    for (size_t v = 0; v < 4; v++) {
        double got[2];
        CU_ASSERT_FATAL(json_array(o.out, names[v], got, 2));
        CU_ASSERT_DOUBLE_EQUAL(got[0], want[v][0], 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(got[1], want[v][1], 1e-12);
    }
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"loopy\": {"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"converged\": true"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"loopy_map\": {"));
    cai_test_outcome_free(&o);

    o = cai_test_run("solve ring.yaml --algorithm loopy");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "loopy BP (sum-product): "));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, ", converged, max residual"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "log Z (Bethe estimate) = "));
    cai_test_outcome_free(&o);

    /* exact on the cycle (a junction tree) against enumeration here */
    double z, best, pr[4][2];
    ring_brute(&z, &best, pr);
    double pa[2] = {pr[0][0] * z, pr[0][1] * z};
    o = cai_test_run("solve ring.yaml --json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_DOUBLE_EQUAL(json_number(o.out, NULL, "log_z", NULL), log(z), 1e-12);
    double got[2];
    CU_ASSERT_FATAL(json_array(o.out, "A", got, 2));
    CU_ASSERT_DOUBLE_EQUAL(got[0], pa[0] / z, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(got[1], pa[1] / z, 1e-12);
    cai_test_outcome_free(&o);
    o = cai_test_run("check ring.yaml");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "ring.yaml: ok (factor_graph, 4 variables, 5 factors; "
                                         "loopy: junction tree of 2 cliques, treewidth 2, "
                                         "largest clique 8 states)"));
    cai_test_outcome_free(&o);
    o = cai_test_run("solve ring.yaml --max-clique-entries 7");
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err, "the largest clique has 8 joint states"));
    CU_ASSERT_STRING_EQUAL(o.out, "");
    cai_test_outcome_free(&o);

    /* mean field: what the library gives, a lower bound on the exact log Z */
    CU_ASSERT_EQUAL_FATAL(cai_model_load_string(text, strlen(text), "ring.yaml", &m, &err),
                          CAI_OK);
    cai_meanfield *mf = NULL;
    CU_ASSERT_EQUAL_FATAL(cai_meanfield_create(cai_model_graph(m), NULL, &mf, &err), CAI_OK);
    CU_ASSERT_EQUAL_FATAL(cai_meanfield_run(mf, &err), CAI_OK);
    double q_a[2];
    CU_ASSERT_EQUAL(cai_meanfield_marginal(mf, 0, q_a, &err), CAI_OK);
    double elbo = cai_meanfield_elbo(mf);
    cai_meanfield_free(mf);
    cai_model_free(m);
    o = cai_test_run("solve ring.yaml --algorithm meanfield --json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_DOUBLE_EQUAL(json_number(o.out, NULL, "log_z", NULL), elbo, 1e-12);
    CU_ASSERT(elbo <= log(z) + 1e-12);
    CU_ASSERT_FATAL(json_array(o.out, "A", got, 2));
    CU_ASSERT_DOUBLE_EQUAL(got[0], q_a[0], 1e-12);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"meanfield\": {"));
    cai_test_outcome_free(&o);
    o = cai_test_run("solve ring.yaml --algorithm meanfield");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "mean field: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "ELBO = "));
    cai_test_outcome_free(&o);

    /* the model's inference defaults stand in for missing options */
    char with_defaults[2048];
    snprintf(with_defaults, sizeof with_defaults, "%sinference: {algorithm: loopy, schedule: "
             "flooding, max_iterations: 1}\n", text);
    cai_test_write_file("ring_defaults.yaml", with_defaults);
    o = cai_test_run("solve ring_defaults.yaml");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "algorithm: loopy"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "1 iterations, NOT converged"));
    cai_test_outcome_free(&o);
    o = cai_test_run("solve ring_defaults.yaml --algorithm exact --json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_DOUBLE_EQUAL(json_number(o.out, NULL, "log_z", NULL), log(z), 1e-12);
    cai_test_outcome_free(&o);

    /* one flooding iteration cannot settle a cycle: the diagnosis */
    o = cai_test_run("solve ring.yaml --algorithm loopy --schedule flooding "
                     "--max-iterations 1");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "1 iterations, NOT converged"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "the largest residual is the message of factor"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "try --damping 0.5"));
    cai_test_outcome_free(&o);
}

/* Mean KL(q || p) over the four binary variables of ring.yaml. */
static double ring_kl(const double q[4][2], const double p[4][2])
{
    double kl = 0;
    for (int v = 0; v < 4; v++)
        for (int s = 0; s < 2; s++)
            if (q[v][s] > 0)
                kl += q[v][s] * log(q[v][s] / p[v][s]);
    return kl / 4;
}

/* The row of algorithm alg in compare --json output. */
static const char *json_row(const char *text, const char *alg)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"algorithm\": \"%s\"", alg);
    return strstr(text, pat);
}

/* cai compare on a loopy factor graph: the exact row is log Z by
 * enumeration here, map the largest weight, loopy and meanfield what the
 * library's methods give (run in-process), their KL columns the mean KL of
 * those marginals from the enumerated ones; the trace file has one line per
 * iteration of the iterative rows; a refused junction tree leaves the exact
 * row with a note and the KL column blank. */
static void test_compare_graph(void)
{
    const char *text = RING_YAML;
    cai_test_write_file("cring.yaml", text);
    double z, best, p[4][2];
    ring_brute(&z, &best, p);
    /* the library's loopy BP and mean field on the same file */
    cai_model *m = NULL;
    cai_error err;
    CU_ASSERT_EQUAL_FATAL(cai_model_load_string(text, strlen(text), "cring.yaml", &m, &err),
                          CAI_OK);
    double q_lp[4][2], q_mf[4][2], bethe, elbo;
    size_t it_lp, it_mf;
    cai_loopy *lp = NULL;
    CU_ASSERT_EQUAL_FATAL(cai_loopy_create(cai_model_graph(m), NULL, &lp, &err), CAI_OK);
    CU_ASSERT_EQUAL_FATAL(cai_loopy_run(lp, &err), CAI_OK);
    cai_meanfield *mf = NULL;
    CU_ASSERT_EQUAL_FATAL(cai_meanfield_create(cai_model_graph(m), NULL, &mf, &err), CAI_OK);
    CU_ASSERT_EQUAL_FATAL(cai_meanfield_run(mf, &err), CAI_OK);
    for (size_t v = 0; v < 4; v++) {
        CU_ASSERT_EQUAL(cai_loopy_marginal(lp, v, q_lp[v], &err), CAI_OK);
        CU_ASSERT_EQUAL(cai_meanfield_marginal(mf, v, q_mf[v], &err), CAI_OK);
    }
    bethe = cai_loopy_log_z(lp);
    elbo = cai_meanfield_elbo(mf);
    it_lp = cai_loopy_iterations(lp);
    it_mf = cai_meanfield_iterations(mf);
    cai_loopy_free(lp);
    cai_meanfield_free(mf);
    cai_model_free(m);

    cai_test_outcome o = cai_test_run("compare cring.yaml --json --trace cring_trace.csv");
    CU_ASSERT_EQUAL_FATAL(o.status, 0);
    const char *ex = json_row(o.out, "exact"), *lo = json_row(o.out, "loopy");
    const char *me = json_row(o.out, "meanfield"), *mp = json_row(o.out, "map");
    CU_ASSERT_FATAL(ex && lo && me && mp && ex < lo && lo < me && me < mp);
    CU_ASSERT_DOUBLE_EQUAL(json_number(o.out, ex, "log_z", NULL), log(z), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(json_number(o.out, ex, "kl", NULL), 0.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(json_number(o.out, lo, "log_z", NULL), bethe, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(json_number(o.out, lo, "kl", NULL), ring_kl(q_lp, p), 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(json_number(o.out, me, "log_z", NULL), elbo, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(json_number(o.out, me, "kl", NULL), ring_kl(q_mf, p), 1e-9);
    CU_ASSERT(elbo <= log(z));
    CU_ASSERT(json_number(o.out, me, "kl", NULL) > 1e-3); /* mean field is not exact here */
    CU_ASSERT_DOUBLE_EQUAL(json_number(o.out, mp, "log_z", NULL), log(best), 1e-12);
    CU_ASSERT_EQUAL(json_number(o.out, lo, "iterations", NULL), (double)it_lp);
    CU_ASSERT_EQUAL(json_number(o.out, me, "iterations", NULL), (double)it_mf);
    CU_ASSERT(json_number(o.out, ex, "message_bytes", NULL) >= 2 * 8 * sizeof(double));
    CU_ASSERT(json_number(o.out, lo, "message_bytes", NULL) >= 2 * 8 * 2 * sizeof(double));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\"temperature\": null"));
    cai_test_outcome_free(&o);
    /* the trace: a header, then it_lp loopy lines and it_mf meanfield lines */
    char *trace = cai_test_slurp("cring_trace.csv");
    CU_ASSERT_PTR_NOT_NULL_FATAL(trace);
    CU_ASSERT(strncmp(trace, "algorithm,temperature,iteration,residual,log_z\n", 47) == 0);
    size_t n_lp = 0, n_mf = 0, other = 0;
    double last_lp = NAN, prev_mf = -INFINITY;
    for (const char *line = strchr(trace, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        size_t iter;
        double residual, log_z;
        if (sscanf(line, "loopy,,%zu,%lf,%lf", &iter, &residual, &log_z) == 3) {
            CU_ASSERT_EQUAL(iter, ++n_lp);
            last_lp = log_z;
        } else if (sscanf(line, "meanfield,,%zu,,%lf", &iter, &log_z) == 2) {
            CU_ASSERT_EQUAL(iter, ++n_mf);
            CU_ASSERT(log_z >= prev_mf - 1e-12);
            prev_mf = log_z;
        } else {
            other++;
        }
    }
    CU_ASSERT_EQUAL(n_lp, it_lp);
    CU_ASSERT_EQUAL(n_mf, it_mf);
    CU_ASSERT_EQUAL(other, 0);
    CU_ASSERT_DOUBLE_EQUAL(last_lp, bethe, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(prev_mf, elbo, 1e-12);
    free(trace);
    char path[4096];
    snprintf(path, sizeof path, "%s/cring_trace.csv", cai_test_dir());
    CU_ASSERT_EQUAL(remove(path), 0);

    /* the human table fits 80 columns and names every algorithm */
    o = cai_test_run("compare cring.yaml");
    CU_ASSERT_EQUAL(o.status, 0);
    cai_test_check_columns(o.out, 80);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\nexact "));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\nloopy "));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\nmeanfield "));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "\nmap "));
    cai_test_outcome_free(&o);

    /* exact refused: a note, blank KL, the other rows still there */
    o = cai_test_run("compare cring.yaml --max-clique-entries 7 --csv");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "the largest clique has 8 joint states"));
    const char *row = strstr(o.out, "\nloopy,,");
    CU_ASSERT_PTR_NOT_NULL_FATAL(row);
    double lz;
    CU_ASSERT_EQUAL(sscanf(row, "\nloopy,,%lf,,,", &lz), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(row, ",,,,,")); /* objective, kl, return, soft, goal */
    cai_test_outcome_free(&o);

    /* structured mean field: one cluster of every variable is exact */
    char clustered[2048];
    snprintf(clustered, sizeof clustered, "%sinference: {clusters: [[A, B, C, D]]}\n", text);
    cai_test_write_file("cring_clusters.yaml", clustered);
    o = cai_test_run("compare cring_clusters.yaml --algorithms meanfield --json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_DOUBLE_EQUAL(json_number(o.out, NULL, "log_z", NULL), log(z), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(json_number(o.out, NULL, "kl", NULL), 0.0, 1e-12);
    cai_test_outcome_free(&o);
    o = cai_test_run("solve cring_clusters.yaml --algorithm meanfield --json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_DOUBLE_EQUAL(json_number(o.out, NULL, "log_z", NULL), log(z), 1e-12);
    double qa[2];
    CU_ASSERT_FATAL(json_array(o.out, "A", qa, 2));
    CU_ASSERT_DOUBLE_EQUAL(qa[0], p[0][0], 1e-12);
    cai_test_outcome_free(&o);

    o = cai_test_run("compare cring.yaml --temperatures 1,2");
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err, "--temperatures needs a model with a temperature"));
    CU_ASSERT_STRING_EQUAL(o.out, "");
    cai_test_outcome_free(&o);
    o = cai_test_run("compare cring.yaml --algorithms exact,variational");
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err, "unknown algorithm 'variational' for a factor_graph"));
    cai_test_outcome_free(&o);
}

/* ---- tests ------------------------------------------------------------- */

static void test_version(void)
{
    cai_test_outcome o = cai_test_run("--version");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.out, "cai " CAI_VERSION "\n");
    CU_ASSERT_STRING_EQUAL(o.out, "cai 0.1.0\n");
    CU_ASSERT_STRING_EQUAL(o.err, "");
    cai_test_outcome_free(&o);
}

static void test_help(void)
{
    cai_test_outcome o = cai_test_run("--help");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "usage: cai"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "solve MODEL"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "check MODEL"));
    CU_ASSERT_STRING_EQUAL(o.err, "");
    cai_test_outcome_free(&o);
    o = cai_test_run("solve --help");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "--algorithm"));
    cai_test_outcome_free(&o);
}

static void test_usage_errors(void)
{
    const char *cases[][2] = {
        {"", "usage: cai"},
        {"frobnicate", "cai: error: unknown command 'frobnicate'"},
        {"--frob", "cai: error: unknown option '--frob'"},
        {"solve", "cai: error: solve needs a MODEL file"},
        {"solve m.yaml --bogus", "cai: error: unknown option '--bogus'"},
        {"solve m.yaml --algorithm frob",
         "cai: error: unknown algorithm 'frob' (expected exact, variational, map, loopy or "
         "meanfield)"},
        {"solve m.yaml --tol 1e-6",
         "cai: error: option '--tol' needs --algorithm loopy or meanfield on a factor_graph"},
        {"solve m.yaml --algorithm meanfield --damping 0.5",
         "cai: error: option '--damping' needs --algorithm loopy on a factor_graph"},
        {"solve m.yaml --algorithm loopy --damping 1",
         "cai: error: --damping: expected a number in [0, 1), got '1'"},
        {"solve m.yaml --algorithm loopy --schedule random",
         "cai: error: --schedule: expected flooding, sequential or residual"},
        {"solve m.yaml --algorithm", "cai: error: option '--algorithm' needs"},
        {"solve m.yaml -o", "cai: error: option '-o' needs a value"},
        {"solve m.yaml other.yaml", "cai: error: unexpected argument"},
        {"check", "cai: error: check needs a MODEL file"},
    };
    write_model("m.yaml");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cai_test_outcome o = cai_test_run("%s", cases[i][0]);
        CU_ASSERT_EQUAL(o.status, 2);
        CU_ASSERT(strncmp(o.err, cases[i][1], strlen(cases[i][1])) == 0);
        if (i > 0) /* one line */
            CU_ASSERT_PTR_EQUAL(strchr(o.err, '\n'), o.err + strlen(o.err) - 1);
        CU_ASSERT_STRING_EQUAL(o.out, "");
        cai_test_outcome_free(&o);
    }
}

static void test_solve_json(void)
{
    write_model("m.yaml");
    cai_test_outcome o = cai_test_run("solve m.yaml --json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.err, "");
    check_json(o.out, "exact");
    cai_test_outcome_free(&o);
    o = cai_test_run("solve --algorithm=map --json m.yaml");
    CU_ASSERT_EQUAL(o.status, 0);
    check_json(o.out, "map");
    cai_test_outcome_free(&o);
    o = cai_test_run("solve m.yaml --algorithm map --json");
    CU_ASSERT_EQUAL(o.status, 0);
    check_json(o.out, "map");
    cai_test_outcome_free(&o);
}

/* The human summary of the documented example, against hand-computed
 * values: with A = 0, B's weights are 0.1, 2 e^-1.5 and 0. */
static void test_solve_text(void)
{
    cai_test_outcome o =
        cai_test_run("solve '%s/models/example.yaml'", CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.err, "");
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "example"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "2 variables, 2 factors"));
    const char *p = strstr(o.out, "log Z = ");
    CU_ASSERT_FATAL(p != NULL);
    double z = 0.1 + 2.0 * exp(-1.5);
    CAI_ASSERT_CLOSE(strtod(p + 8, NULL), log(z), 1e-9);
    p = strstr(o.out, "mid ");
    CU_ASSERT_FATAL(p != NULL);
    CAI_ASSERT_CLOSE(strtod(p + 4, NULL), 2.0 * exp(-1.5) / z, 1e-5);
    p = strstr(o.out, "log score ");
    CU_ASSERT_FATAL(p != NULL);
    CAI_ASSERT_CLOSE(strtod(p + 10, NULL), log(2.0) - 1.5, 1e-9);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "B = mid"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "A = 0"));
    cai_test_outcome_free(&o);

    /* the README's first demo */
    o = cai_test_run("solve '%s/models/umbrella.yaml'", CAI_SOURCE_ROOT);
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "weather_1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "rainy"));
    cai_test_outcome_free(&o);
}

static void test_check(void)
{
    write_model("m.yaml");
    cai_test_outcome o = cai_test_run("check m.yaml");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.out,
                           "m.yaml: ok (factor_graph, 4 variables, 4 factors)\n");
    CU_ASSERT_STRING_EQUAL(o.err, "");
    cai_test_outcome_free(&o);
}

static void test_model_errors(void)
{
    cai_test_write_file("bad.yaml", "kind: factor_graph\n"
                           "variables: [{name: A, card: 2}]\n"
                           "factors:\n"
                           "  - {scope: [A], tabel: [1, 2]}\n");
    const char *want = "bad.yaml:4:18: error: unknown key 'tabel' in factor 0";
    for (int i = 0; i < 3; i++) {
        cai_test_outcome o = cai_test_run(i == 0 ? "check bad.yaml"
                        : i == 1 ? "solve bad.yaml"
                                 : "solve --json bad.yaml");
        CU_ASSERT_EQUAL(o.status, 2);
        CU_ASSERT(strncmp(o.err, want, strlen(want)) == 0);
        CU_ASSERT_PTR_EQUAL(strchr(o.err, '\n'), o.err + strlen(o.err) - 1);
        CU_ASSERT_STRING_EQUAL(o.out, "");
        cai_test_outcome_free(&o);
    }

    cai_test_write_file("syntax.yaml", "kind: factor_graph\nvariables: [\n");
    cai_test_outcome o = cai_test_run("solve syntax.yaml");
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT(strncmp(o.err, "syntax.yaml:3:1: error: ", 24) == 0);
    cai_test_outcome_free(&o);

    /* a cycle is solved by a junction tree; one whose clique is over the
     * limit is a model error, attributed to the file */
    cai_test_write_file("loop.yaml", "kind: factor_graph\n"
                            "variables: [{name: A, card: 2}, {name: B, card: 2},"
                            " {name: C, card: 2}]\n"
                            "factors:\n"
                            "  - {scope: [A, B], table: [1, 2, 3, 4]}\n"
                            "  - {scope: [B, C], table: [1, 2, 3, 4]}\n"
                            "  - {scope: [C, A], table: [1, 2, 3, 4]}\n");
    o = cai_test_run("solve loop.yaml --max-clique-entries 4");
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT(strncmp(o.err, "loop.yaml: error: ", 18) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.err, "more than max_clique_entries = 4"));
    CU_ASSERT_STRING_EQUAL(o.out, "");
    cai_test_outcome_free(&o);
    o = cai_test_run("check loop.yaml m.yaml");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "loop.yaml: ok (factor_graph, 3 variables, 3 factors; "
                                         "loopy: junction tree"));
    CU_ASSERT_PTR_NOT_NULL(strstr(o.out, "m.yaml: ok"));
    cai_test_outcome_free(&o);

    /* a file that is not there is bad input, like a bad model */
    o = cai_test_run("solve missing.yaml");
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT(strncmp(o.err, "missing.yaml: error: cannot open", 32) == 0);
    cai_test_outcome_free(&o);
}

static void test_output_file(void)
{
    char path[256];
    struct stat st;
    write_model("m.yaml");
    snprintf(path, sizeof path, "%s/out.json", cai_test_dir());
    remove(path);
    cai_test_outcome o = cai_test_run("solve m.yaml --json -o out.json");
    CU_ASSERT_EQUAL(o.status, 0);
    CU_ASSERT_STRING_EQUAL(o.out, "");
    CU_ASSERT_STRING_EQUAL(o.err, "");
    cai_test_outcome_free(&o);
    char *text = cai_test_slurp("out.json");
    CU_ASSERT_FATAL(text != NULL);
    check_json(text, "exact");
    free(text);
    CU_ASSERT_EQUAL(stray_files(), 0);

    /* replaced whole, with the ordinary permissions */
    o = cai_test_run("solve m.yaml --output=out.json --json --algorithm map");
    CU_ASSERT_EQUAL(o.status, 0);
    cai_test_outcome_free(&o);
    text = cai_test_slurp("out.json");
    CU_ASSERT_FATAL(text != NULL);
    check_json(text, "map");
    free(text);
    CU_ASSERT(stat(path, &st) == 0 && (st.st_mode & 0444) != 0);

    /* text output to a file */
    o = cai_test_run("solve m.yaml -o out.txt");
    CU_ASSERT_EQUAL(o.status, 0);
    cai_test_outcome_free(&o);
    text = cai_test_slurp("out.txt");
    CU_ASSERT_FATAL(text != NULL);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "log Z = "));
    free(text);

    /* a failing solve leaves neither the file nor a temporary behind */
    cai_test_write_file("bad.yaml", "kind: factor_graph\nvariables: []\n");
    o = cai_test_run("solve bad.yaml --json -o fresh.json");
    CU_ASSERT_EQUAL(o.status, 2);
    CU_ASSERT(strncmp(o.err, "bad.yaml:1:1: error: missing key 'factors'",
                      42) == 0);
    cai_test_outcome_free(&o);
    CU_ASSERT(!exists("fresh.json"));
    CU_ASSERT_EQUAL(stray_files(), 0);

    /* an output directory that does not exist */
    o = cai_test_run("solve m.yaml -o no/such/dir/out.json");
    CU_ASSERT_EQUAL(o.status, 1);
    CU_ASSERT(strncmp(o.err, "no/such/dir/out.json: error: ", 29) == 0);
    cai_test_outcome_free(&o);
    CU_ASSERT_EQUAL(stray_files(), 0);
}

static void test_write_failure(void)
{
    struct stat st;
    if (stat("/dev/full", &st) != 0)
        return;
    write_model("m.yaml");
    CU_ASSERT(cai_test_run_to_full("solve m.yaml --json") == 1);
    char *err = cai_test_slurp("stderr.txt");
    CU_ASSERT(err != NULL && strstr(err, "error: ") != NULL);
    free(err);
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("cli", suite_init, cai_test_dir_remove);
    CU_add_test(s, "--version", test_version);
    CU_add_test(s, "--help", test_help);
    CU_add_test(s, "usage errors", test_usage_errors);
    CU_add_test(s, "solve --json", test_solve_json);
    CU_add_test(s, "solve text", test_solve_text);
    CU_add_test(s, "solve --algorithm loopy", test_solve_loopy);
    CU_add_test(s, "compare on a factor graph", test_compare_graph);
    CU_add_test(s, "check", test_check);
    CU_add_test(s, "model errors", test_model_errors);
    CU_add_test(s, "-o FILE", test_output_file);
    CU_add_test(s, "write failure", test_write_failure);
}
