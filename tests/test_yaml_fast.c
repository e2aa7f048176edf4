/* tests/test_yaml_fast.c — the fast YAML composer against libyaml.
 *
 * yr_fast_compose (lib/io/yaml_fast.c) must build exactly the document
 * yaml_parser_load builds, or decline. Composed again with a stream that
 * takes most items of the root mapping's block sequences, it must decline
 * the same texts and otherwise give libyaml's document without the items
 * taken. Every check here composes a text
 * both ways and, when the fast path accepts, compares the two documents
 * field by field: the document's marks and flags, and every node's type,
 * tag, style, value bytes and length, children in order, and start and end
 * marks (index, line and column). libyaml is the oracle. The texts: the
 * example models, the shapes cai's tools write, hand-written snippets of
 * every construct the fast path reads (which it must accept), snippets it
 * must decline (malformed ones, whose errors must stay libyaml's), random
 * documents of the subset, and random edits of all of those (which it may
 * accept or decline, but never get wrong). Texts are composed from exact
 * copies without a NUL after them, so the sanitizer build sees any read
 * past the end.
 *
 * For a longer search, build with -DMUTATION_REPS=3000 -DRANDOM_DOCS=200000
 * -DMUTATION_SEED=N; -DMUTATION_STATS prints how many texts were accepted
 * and -DSHOW_DECLINES the declined texts that libyaml reads. */
#include "harness.h"
#include "support.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "../lib/io/yaml_fast.h"
#include "cai/cai.h"

/* ---- comparing documents ----------------------------------------------- */

static bool same_mark(yaml_mark_t a, yaml_mark_t b)
{
    return a.index == b.index && a.line == b.line && a.column == b.column;
}

/* Print the text with escapes, for a failure report. */
static void show_text(const char *txt, size_t len)
{
    fputc('"', stderr);
    for (size_t i = 0; i < len && i < 400; i++) {
        unsigned char c = (unsigned char)txt[i];
        if (c == '\n')
            fputs("\\n", stderr);
        else if (c == '\r')
            fputs("\\r", stderr);
        else if (c == '\t')
            fputs("\\t", stderr);
        else if (c == '"' || c == '\\')
            fprintf(stderr, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(stderr, "\\x%02x", c);
        else
            fputc(c, stderr);
    }
    fputs(len > 400 ? "\"...\n" : "\"\n", stderr);
}

#define MARK_FMT "(%zu,%zu,%zu)"
#define MARK_ARGS(m) (m).index, (m).line, (m).column

/* The first difference between documents a (libyaml) and b (fast) into
 * why; false when they are the same. */
static bool doc_diff(const yaml_document_t *a, const yaml_document_t *b,
                     char *why, size_t size)
{
    if (!same_mark(a->start_mark, b->start_mark) ||
        !same_mark(a->end_mark, b->end_mark)) {
        snprintf(why, size,
                 "document marks " MARK_FMT "-" MARK_FMT " vs " MARK_FMT
                 "-" MARK_FMT,
                 MARK_ARGS(a->start_mark), MARK_ARGS(a->end_mark),
                 MARK_ARGS(b->start_mark), MARK_ARGS(b->end_mark));
        return true;
    }
    if (a->start_implicit != b->start_implicit ||
        a->end_implicit != b->end_implicit) {
        snprintf(why, size, "implicit flags %d,%d vs %d,%d", a->start_implicit,
                 a->end_implicit, b->start_implicit, b->end_implicit);
        return true;
    }
    if (a->version_directive != NULL || b->version_directive != NULL ||
        a->tag_directives.start != a->tag_directives.end ||
        b->tag_directives.start != b->tag_directives.end) {
        snprintf(why, size, "directives");
        return true;
    }
    size_t na = (size_t)(a->nodes.top - a->nodes.start);
    size_t nb = (size_t)(b->nodes.top - b->nodes.start);
    if (na != nb) {
        snprintf(why, size, "%zu nodes vs %zu", na, nb);
        return true;
    }
    for (size_t i = 0; i < na; i++) {
        const yaml_node_t *x = &a->nodes.start[i], *y = &b->nodes.start[i];
        if (x->type != y->type) {
            snprintf(why, size, "node %zu: type %d vs %d", i + 1, x->type,
                     y->type);
            return true;
        }
        if (strcmp((const char *)x->tag, (const char *)y->tag) != 0) {
            snprintf(why, size, "node %zu: tag %s vs %s", i + 1, x->tag,
                     y->tag);
            return true;
        }
        if (!same_mark(x->start_mark, y->start_mark) ||
            !same_mark(x->end_mark, y->end_mark)) {
            snprintf(why, size,
                     "node %zu: marks " MARK_FMT "-" MARK_FMT " vs " MARK_FMT
                     "-" MARK_FMT,
                     i + 1, MARK_ARGS(x->start_mark), MARK_ARGS(x->end_mark),
                     MARK_ARGS(y->start_mark), MARK_ARGS(y->end_mark));
            return true;
        }
        if (x->type == YAML_SCALAR_NODE) {
            const yaml_char_t *u = x->data.scalar.value;
            const yaml_char_t *v = y->data.scalar.value;
            size_t n = x->data.scalar.length;
            if (x->data.scalar.style != y->data.scalar.style ||
                n != y->data.scalar.length || memcmp(u, v, n + 1) != 0) {
                snprintf(why, size,
                         "node %zu: scalar style %d [%s] (%zu) vs style %d "
                         "[%s] (%zu)",
                         i + 1, x->data.scalar.style, u, n,
                         y->data.scalar.style, v, y->data.scalar.length);
                return true;
            }
        } else if (x->type == YAML_SEQUENCE_NODE) {
            size_t k = (size_t)(x->data.sequence.items.top -
                                x->data.sequence.items.start);
            if (x->data.sequence.style != y->data.sequence.style ||
                k != (size_t)(y->data.sequence.items.top -
                              y->data.sequence.items.start) ||
                memcmp(x->data.sequence.items.start,
                       y->data.sequence.items.start,
                       k * sizeof(yaml_node_item_t)) != 0) {
                snprintf(why, size, "node %zu: sequence style or items", i + 1);
                return true;
            }
        } else {
            size_t k = (size_t)(x->data.mapping.pairs.top -
                                x->data.mapping.pairs.start);
            if (x->data.mapping.style != y->data.mapping.style ||
                k != (size_t)(y->data.mapping.pairs.top -
                              y->data.mapping.pairs.start)) {
                snprintf(why, size, "node %zu: mapping style or size", i + 1);
                return true;
            }
            for (size_t j = 0; j < k; j++)
                if (x->data.mapping.pairs.start[j].key !=
                        y->data.mapping.pairs.start[j].key ||
                    x->data.mapping.pairs.start[j].value !=
                        y->data.mapping.pairs.start[j].value) {
                    snprintf(why, size, "node %zu: pair %zu", i + 1, j);
                    return true;
                }
        }
    }
    return false;
}

/* ---- items handed out while composing (yr_fast_stream) ----------------- */

/* A stream that asks for the items of every root mapping value and takes
 * them until an item whose position `refuse` picks; it records where the
 * items it took start, and checks what it is handed. */
typedef struct taker {
    size_t taken[4096];
    size_t n;
    bool bad; /* a callback got something it should not */
} taker;

static int taker_want(void *ctx, const yaml_document_t *doc, int key,
                      const int *pairs, size_t n_pairs)
{
    taker *t = ctx;
    const yaml_node_t *k = yaml_document_get_node((yaml_document_t *)doc, key);
    if (k == NULL || key != doc->nodes.top - doc->nodes.start)
        t->bad = true; /* the key is the newest node */
    for (size_t i = 0; i < 2 * n_pairs; i++)
        if (pairs[i] <= 1 || pairs[i] >= key)
            t->bad = true;
    return 1 + (int)(n_pairs % 3); /* a tag > 0 */
}

/* Refuse one item in five, by position: the rest of its sequence stays. */
static bool refuse(size_t index)
{
    return (index * 2654435761u >> 7) % 5 == 0;
}

static bool taker_take(void *ctx, const yaml_document_t *doc, int tag,
                       int seq, int item)
{
    taker *t = ctx;
    yaml_node_t *sq = yaml_document_get_node((yaml_document_t *)doc, seq);
    yaml_node_t *it = yaml_document_get_node((yaml_document_t *)doc, item);
    if (tag < 1 || tag > 3 || sq == NULL || it == NULL ||
        sq->type != YAML_SEQUENCE_NODE || item <= seq)
        t->bad = true;
    if (it == NULL || refuse(it->start_mark.index) || t->n == 4096)
        return false;
    t->taken[t->n++] = it->start_mark.index;
    return true;
}

/* The last id of the subtree of node id in a (libyaml numbers a subtree's
 * nodes consecutively, depth first). */
static size_t subtree_last(const yaml_document_t *a, size_t id)
{
    const yaml_node_t *x = &a->nodes.start[id - 1];
    size_t last = id;
    if (x->type == YAML_SEQUENCE_NODE) {
        for (const yaml_node_item_t *i = x->data.sequence.items.start;
             i < x->data.sequence.items.top; i++) {
            size_t l = subtree_last(a, (size_t)*i);
            last = l > last ? l : last;
        }
    } else if (x->type == YAML_MAPPING_NODE) {
        for (const yaml_node_pair_t *p = x->data.mapping.pairs.start;
             p < x->data.mapping.pairs.top; p++) {
            size_t l = subtree_last(a, (size_t)p->value);
            last = l > last ? l : last;
        }
    }
    return last;
}

static bool was_taken(const taker *t, size_t index)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->taken[i] == index)
            return true;
    return false;
}

/* Document a without the items t took: the subtrees of the root mapping's
 * block sequences' items that start where t took one, the other nodes
 * renumbered. Its arrays are freed by without_free. */
static void without_taken(const yaml_document_t *a, const taker *t,
                          yaml_document_t *out)
{
    size_t n = (size_t)(a->nodes.top - a->nodes.start);
    bool *gone = calloc(n + 1, sizeof *gone);
    int *id = calloc(n + 1, sizeof *id);
    CU_ASSERT_FATAL(gone != NULL && id != NULL);
    const yaml_node_t *root = n ? &a->nodes.start[0] : NULL;
    if (root != NULL && root->type == YAML_MAPPING_NODE &&
        root->data.mapping.style == YAML_BLOCK_MAPPING_STYLE)
        for (const yaml_node_pair_t *p = root->data.mapping.pairs.start;
             p < root->data.mapping.pairs.top; p++) {
            const yaml_node_t *v = &a->nodes.start[p->value - 1];
            if (v->type != YAML_SEQUENCE_NODE ||
                v->data.sequence.style != YAML_BLOCK_SEQUENCE_STYLE)
                continue;
            for (const yaml_node_item_t *i = v->data.sequence.items.start;
                 i < v->data.sequence.items.top; i++)
                if (was_taken(t, a->nodes.start[*i - 1].start_mark.index))
                    for (size_t j = (size_t)*i; j <= subtree_last(a, (size_t)*i); j++)
                        gone[j] = true;
        }
    size_t m = 0;
    for (size_t i = 1; i <= n; i++)
        id[i] = gone[i] ? 0 : (int)++m;
    *out = *a;
    out->nodes.start = calloc(m ? m : 1, sizeof(yaml_node_t));
    CU_ASSERT_FATAL(out->nodes.start != NULL);
    out->nodes.top = out->nodes.end = out->nodes.start + m;
    for (size_t i = 1; i <= n; i++) {
        if (gone[i])
            continue;
        yaml_node_t *y = &out->nodes.start[id[i] - 1];
        *y = a->nodes.start[i - 1];
        if (y->type == YAML_SEQUENCE_NODE) {
            size_t k = (size_t)(y->data.sequence.items.top -
                                y->data.sequence.items.start), kept = 0;
            yaml_node_item_t *v = calloc(k ? k : 1, sizeof *v);
            CU_ASSERT_FATAL(v != NULL);
            for (size_t j = 0; j < k; j++)
                if (!gone[y->data.sequence.items.start[j]])
                    v[kept++] = id[y->data.sequence.items.start[j]];
            y->data.sequence.items.start = v;
            y->data.sequence.items.top = y->data.sequence.items.end = v + kept;
        } else if (y->type == YAML_MAPPING_NODE) {
            size_t k = (size_t)(y->data.mapping.pairs.top -
                                y->data.mapping.pairs.start);
            yaml_node_pair_t *v = calloc(k ? k : 1, sizeof *v);
            CU_ASSERT_FATAL(v != NULL);
            for (size_t j = 0; j < k; j++)
                v[j] = (yaml_node_pair_t){id[y->data.mapping.pairs.start[j].key],
                                          id[y->data.mapping.pairs.start[j].value]};
            y->data.mapping.pairs.start = v;
            y->data.mapping.pairs.top = y->data.mapping.pairs.end = v + k;
        }
    }
    free(gone);
    free(id);
}

static void without_free(yaml_document_t *d)
{
    for (yaml_node_t *x = d->nodes.start; x < d->nodes.top; x++)
        if (x->type == YAML_SEQUENCE_NODE)
            free(x->data.sequence.items.start);
        else if (x->type == YAML_MAPPING_NODE)
            free(x->data.mapping.pairs.start);
    free(d->nodes.start);
}

/* Compose txt again with a taker: it accepts exactly when it did without
 * one (fast: that result), and then gives libyaml's document (o, or NULL)
 * without the items taken. */
static bool stream_diff(const char *txt, size_t len, int fast,
                        const yaml_document_t *o, char *why, size_t size)
{
    static taker t; /* 32 KiB: not on the stack */
    t.n = 0;
    t.bad = false;
    yr_fast_stream st = {taker_want, taker_take, &t};
    yaml_document_t doc;
    yr_fast_doc *own = NULL;
    int r = yr_fast_compose_stream(txt, len, &st, &doc, &own);
    bool bad = false;
    if (r != fast) {
        snprintf(why, size, "streamed: %d, without a stream: %d", r, fast);
        bad = true;
    } else if (t.bad) {
        snprintf(why, size, "streamed: a callback got bad arguments");
        bad = true;
    } else if (r == 1 && o != NULL) {
        yaml_document_t want;
        without_taken(o, &t, &want);
        char sub[400];
        if (doc_diff(&want, &doc, sub, sizeof sub)) {
            snprintf(why, size, "streamed (%zu taken): %s", t.n, sub);
            bad = true;
        }
        without_free(&want);
    }
    yr_fast_free(r == 1 ? own : NULL);
    return bad;
}

/* ---- composing both ways ----------------------------------------------- */

typedef enum expect {
    EITHER,  /* accept (then exactly as libyaml) or decline */
    ACCEPT,  /* must accept, exactly as libyaml */
    DECLINE, /* must decline */
} expect;

/* What libyaml makes of a text. */
typedef struct oracle {
    bool ok;              /* the stream is one document with a root */
    bool error;           /* libyaml reported an error */
    yaml_document_t doc;  /* when ok */
    yaml_parser_t parser; /* the error, when error */
} oracle;

static void oracle_load(oracle *o, const char *txt, size_t len)
{
    memset(o, 0, sizeof *o);
    CU_ASSERT_FATAL(yaml_parser_initialize(&o->parser));
    yaml_parser_set_input_string(&o->parser, (const unsigned char *)txt, len);
    if (!yaml_parser_load(&o->parser, &o->doc)) {
        o->error = true;
        return;
    }
    yaml_document_t extra;
    if (!yaml_parser_load(&o->parser, &extra)) {
        o->error = true;
        yaml_document_delete(&o->doc);
        return;
    }
    bool more = yaml_document_get_root_node(&extra) != NULL;
    yaml_document_delete(&extra);
    if (more || yaml_document_get_root_node(&o->doc) == NULL) {
        yaml_document_delete(&o->doc);
        return;
    }
    o->ok = true;
}

static void oracle_clear(oracle *o)
{
    if (o->ok)
        yaml_document_delete(&o->doc);
    yaml_parser_delete(&o->parser);
}

static size_t n_accepted, n_declined;

/* Compose txt both ways and check the fast path against libyaml; returns
 * the fast path's result (1 accepted, 0 declined). */
static int check_len(const char *text, size_t len, expect e)
{
    /* an exact copy without a NUL after it, so that the sanitizer build
     * catches any read past the end */
    char *txt = malloc(len ? len : 1);
    CU_ASSERT_FATAL(txt != NULL);
    memcpy(txt, text, len);
    yaml_document_t fast;
    yr_fast_doc *own = NULL;
    int r = yr_fast_compose(txt, len, &fast, &own);
    CU_ASSERT(r == 0 || r == 1);
    oracle o;
    oracle_load(&o, txt, len);
    char why[512] = "";
    bool bad = false;
    if (r == 1) {
        n_accepted++;
        if (!o.ok) {
            snprintf(why, sizeof why, "accepted, but libyaml %s",
                     o.error ? o.parser.problem : "gives no single document");
            bad = true;
        } else {
            bad = doc_diff(&o.doc, &fast, why, sizeof why);
        }
        yr_fast_free(own);
        if (!bad)
            bad = stream_diff(txt, len, 1, o.ok ? &o.doc : NULL, why, sizeof why);
        if (e == DECLINE) {
            snprintf(why, sizeof why, "accepted, expected a decline");
            bad = true;
        }
    } else {
        CU_ASSERT(own == NULL);
        n_declined++;
        bad = stream_diff(txt, len, 0, NULL, why, sizeof why);
#ifdef SHOW_DECLINES
        if (o.ok) {
            fprintf(stderr, "\ndeclined (libyaml reads it): ");
            show_text(txt, len);
        }
#endif
        if (e == ACCEPT) {
            snprintf(why, sizeof why, "declined, expected to accept");
            bad = true;
        }
    }
    CU_ASSERT(!bad);
    if (bad) {
        fprintf(stderr, "\nyaml_fast: %s for ", why);
        show_text(txt, len);
    }
    oracle_clear(&o);
    free(txt);
    return r;
}

static int check(const char *txt, expect e)
{
    return check_len(txt, strlen(txt), e);
}

/* ---- the example models ------------------------------------------------ */

static char *slurp(const char *path, size_t *out_len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        CU_ASSERT_FATAL(buf != NULL);
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
    }
    fclose(f);
    *out_len = n;
    return buf;
}

static void test_models(void)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/models", CAI_SOURCE_ROOT);
    DIR *d = opendir(dir);
    CU_ASSERT_FATAL(d != NULL);
    size_t files = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 5, ".yaml") != 0)
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        size_t len = 0;
        char *txt = slurp(path, &len);
        CU_ASSERT_FATAL(txt != NULL);
        if (check_len(txt, len, ACCEPT) != 1)
            fprintf(stderr, "\nyaml_fast: declined %s\n", path);
        free(txt);
        files++;
    }
    closedir(d);
    CU_ASSERT(files >= 10);
}

/* ---- the shapes cai's tools write --------------------------------------- */


static unsigned long lcg(unsigned long *x)
{
    *x = *x * 6364136223846793005ul + 1442695040888963407ul;
    return (*x >> 33) & 0x7fffffff;
}

/* The model bench_write_yaml (tools/bench_model.c) writes; crlf: with \r\n
 * line breaks, last_newline: whether the text ends in one. */
static void bench_shape(cai_test_text *t, size_t S, size_t A, size_t B, bool crlf,
                        bool last_newline)
{
    const char *nl = crlf ? "\r\n" : "\n";
    unsigned long x = S * 31 + B;
    cai_test_put(t, "# cai-bench: a seeded random sparse MDP, %zu x %zu x %zu%s", S, A,
        B, nl);
    cai_test_put(t, "kind: mdp%sname: bench %zu states%sstates: %zu%sactions: %zu%s", nl,
        S, nl, S, nl, A, nl);
    cai_test_put(t, "initial: {\"0\": 1}%shorizon: 100%stemperature: 1%stransitions:%s",
        nl, nl, nl, nl);
    for (size_t r = 0; r < S * A; r++) {
        cai_test_put(t, "  - {state: %zu, action: %zu, next: {", r / A, r % A);
        double left = 1;
        for (size_t j = 0; j < B; j++) {
            double p = j + 1 < B ? (double)(lcg(&x) % 1000) / 1e4 : left;
            left -= p;
            cai_test_put(t, "%s%lu: %.6f", j ? ", " : "", lcg(&x) % S, p);
        }
        cai_test_put(t, "}}%s", nl);
    }
    cai_test_put(t, "rewards:%s", nl);
    for (size_t r = 0; r < S * A; r++)
        cai_test_put(t, "  - {state: %zu, action: %zu, value: %.6f}%s", r / A, r % A,
            -(double)(lcg(&x) % 100000) / 1e5,
            r + 1 < S * A || last_newline ? nl : "");
}

/* The model cai-random-mdp (tools/random_mdp.c) writes. */
static void random_mdp_shape(cai_test_text *t, size_t S, size_t A, size_t B,
                             double discount)
{
    unsigned long x = S * 7 + A;
    cai_test_put(t, "# A seeded random sparse MDP: cai-random-mdp %zu %zu %zu 1\n", S, A,
        B);
    cai_test_put(t, "kind: mdp\nname: random %zu states\nstates: %zu\nactions: %zu\n", S,
        S, A);
    cai_test_put(t, "initial: {\"0\": 1}\n");
    if (discount > 0)
        cai_test_put(t, "discount: %.17g\n", discount);
    else
        cai_test_put(t, "horizon: %d\n", 100);
    cai_test_put(t, "temperature: 1\ntransitions:\n");
    for (size_t s = 0; s < S; s++)
        for (size_t a = 0; a < A; a++) {
            cai_test_put(t, "  - {state: %zu, action: %zu, next: {", s, a);
            for (size_t k = 0; k < B; k++)
                cai_test_put(t, "%s%lu: %.6f", k ? ", " : "", lcg(&x) % S,
                    (double)(lcg(&x) % 1000000) / 1e6);
            cai_test_put(t, "}}\n");
        }
    cai_test_put(t, "rewards:\n");
    for (size_t s = 0; s < S; s++)
        for (size_t a = 0; a < A; a++)
            cai_test_put(t, "  - {state: %zu, action: %zu, value: %.4f}\n", s, a,
                -(double)(lcg(&x) % 10000) / 1e4);
}

static void test_tool_shapes(void)
{
    cai_test_text t = {0};
    bench_shape(&t, 200, 4, 5, false, true);
    check_len(t.s, t.n, ACCEPT);
    t.n = 0;
    bench_shape(&t, 50, 3, 2, true, true);
    check_len(t.s, t.n, ACCEPT);
    t.n = 0;
    bench_shape(&t, 50, 2, 3, false, false);
    check_len(t.s, t.n, ACCEPT);
    t.n = 0;
    random_mdp_shape(&t, 100, 4, 3, 0);
    check_len(t.s, t.n, ACCEPT);
    t.n = 0;
    random_mdp_shape(&t, 30, 2, 2, 0.95);
    check_len(t.s, t.n, ACCEPT);
    free(t.s);
}

/* ---- hand-written snippets --------------------------------------------- */

/* Every construct of the subset: the fast path must accept these. */
static const char *const accepted[] = {
    /* block mappings, plain scalars, comments */
    "a: 1\n",
    "a: 1",
    "a: 1\nb: 2\n",
    "key with spaces: value with spaces\n",
    "a:   spaced   \n",
    "a : 1\n",
    "a: x # comment\n",
    "# lead\na: 1 # c\n# tail\n",
    "a: 1 # c",
    "a: 1\n# no newline at the end",
    "\n\n# blank lines first\n\na: 1\n\n\n",
    "  a: 1\n  b: 2\n",
    "a: http://x.y/z\nb: x:y\nc: 12:30\n",
    "a: b#c\nb: x - y\nc: x,y [z] {w}\n",
    "a: -1\nb: -.inf\nc: .nan\nd: +2e3\ne: 0x1F\n",
    "a: ~\nb: null\nc: true\n",
    "a: it's\nb: say \"hi\"\n",
    "a: 1\n   ",
    "a: 1\n  # indented comment\nb: 2\n",
    "x\n",
    "-x\n",
    "a: ---\nb: ...\n",
    /* empty values */
    "a:\nb: 2\n",
    "a:\n",
    "a:",
    "a:   # comment\nb:\n",
    "a:\n  b:\n  c: 1\n",
    /* quoted scalars */
    "a: 'single'\nb: \"double\"\n",
    "a: 'it''s'\nb: ''''\nc: 'x'''\n",
    "a: \"\"\nb: ''\n",
    "a: '  padded  '\nb: \"  padded  \"\n",
    "a: \"tab\tinside\"\nb: 'tab\tinside'\n",
    "a: \"esc \\\" \\\\ \\/ \\n \\t \\0 \\a \\b \\v \\f \\r \\e \\  end\"\n",
    "a: \"\\x41\\x7e\\xe9 \\u00e9\\u20AC \\U0001F600\"\n",
    "a: \"\\N \\_ \\L \\P\"\n",
    "a: \"\\\t|\"\n",
    "a: \"back\\\\slash\" # c\n",
    "a: 'back\\slash'\n",
    "a: \"#not a comment\"\nb: 'x: y'\nc: \"[1, 2]\"\n",
    "\"quoted key\": 1\n'single key': 2\n\"k\\ty\": 3\n",
    "a: \"x\"#c\nb: 'y'#c\n",
    "'x'\n",
    "\"x\" # root\n",
    /* flow collections */
    "a: []\nb: {}\nc: [ ]\nd: { }\n",
    "[]\n",
    "{}\n",
    "a: [1, 2, 3]\n",
    "a: [1,2,3]\n",
    "a: [1, [2, [3, []]], {b: {c: d}}]\n",
    "{a: 1, b: [x, y]}\n",
    "[a, b]\n",
    "a: [\"x\", 'y', z]\n",
    "a: [a b, c d]\n",
    "a: [a#b, c?d, e-f, -1]\n",
    "a: {\"k\": 1, 'l': 2}\n",
    "a: {\"k\":1, 'l':2}\n",
    "a: {k: }\n",
    "a: {k: , l: 1}\n",
    "a: {k: 1, }\n",
    "a: [a, b, ]\n",
    "a: [1]#c\n",
    "a: {b: [1, 2], c: {d: e}} # c\n",
    "- {state: 12, action: 3, next: {4170: 0.474297, 7203: 0.445026}}\n",
    "a: [1,\n    2,\n    3]\n",
    "a: {b: 1,\n    c: 2}\n",
    "a: [\n  1, 2,\n  3\n  ]\n",
    "a: [x, # comment\n    y]\n",
    "a: [x\n    , y]\n",
    "a: [\n\n    x]\n",
    "[a,\nb]\n",
    "{a: 1,\n\n# c\nb: 2}\n",
    "- [a,\n  b]\n",
    /* block sequences */
    "- a\n- b\n",
    "- a\n- b",
    "- a: 1\n  b: 2\n- c: 3\n",
    "- - x\n  - y\n- - z\n",
    "- - - deep\n",
    "-\n  a: 1\n",
    "- \n- x\n",
    "-\n-\n",
    "- # comment\n  x\n",
    "- - a: 1\n    b: 2\n  - c\n",
    "- \"q\": 1\n  'r': 2\n",
    "- [1, 2]\n- {a: b}\n",
    "  - a\n  - b\n",
    /* indentless sequences */
    "a:\n- x\n- y\nb: 1\n",
    "a:\n- x\n- y",
    "a:\n-\n- x\n",
    "a:\n- \nb: 1\n",
    "a:\n- b: 1\n  c: 2\n- d\ne: f\n",
    "a:\n- - x\n  - y\n- z\n",
    "- a:\n  - x\n  b: 1\n",
    /* nesting */
    "a:\n  - x\n  - y\nb: 1\n",
    "a:\n  b:\n    c: 1\n  d: 2\ne: 3\n",
    "a:\n  # comment between\n  b: 1\n",
    "a:\n\n  b: 1\n",
    "a: # comment\n  b: 1\n",
    "a: # comment\n  value\n",
    "a:\n  value\n",
    "a:\n  [1, 2]\n",
    "a:\n  b: 1\n# col0 comment\n  c: 2\n",
    "a:\n  b: 1\n  ",
    "a:\n  b:\n    c: 1\n  ",
    "a:\n  b:\n    c: 1\n  # c",
    "a:\n  - x\n  - y\n  ",
    "a:\n    b: 1\n    c:\n        - 1\n        - 2\nd: 4\n",
    /* literal block scalars */
    "a: |\n  line1\n  line2\nb: 1\n",
    "a: |\n  x\n\n  y\n\nb: 1\n",
    "a: |\n  x\n    indented\n  y\n",
    "a: |  # comment\n  x\n",
    "a: |#comment\n  x\n",
    "a: |\n  x",
    "a: |\n  x\n  ",
    "a: |\n  x\n  \n",
    "a: |\n  x\n   \n  y\n",
    "a: |\n  x\n \n  y\n",
    "a: |\n  with # hash and: colon\n",
    "- |\n  text\n- |\n  more\n",
    "|\n  root literal\n",
    "a: |\n  S..#..\n  .#...X\nslip: 0\n",
    "a:\n  |\n    text\n",
    "a:\n  b: |\n    x\n  c: 1\n",
    /* line breaks and UTF-8 */
    "a: 1\r\nb: [x, y]\r\nc: |\r\n  l1\r\n\r\n  l2\r\nd: 'q'\r\n",
    "a: 1\r\n# c\r\nb: 2",
    "name: é\nstates: [ü, \"ñ\", 'ø']\n",
    "é: 1\nü: 2\n",
    "- é: [ä, ö]\n  ü: 1\n",
    "a: 日本語 テキスト # コメント\nb: \"𝄞\"\n",
    "a: |\n  é\n  ü\nb: 1\n",
    /* document markers */
    "---\na: 1\n",
    "--- # comment\na: 1\n",
    "---   \n- x\n",
    "a: 1\n...\n",
    "a: 1\n... # c\n# more\n",
    "---\n- x\n...\n",
    "---\n[a]\n...",
    "x\n...\n",
    "'x'\n... # end\n",
};

/* Outside the subset, or malformed: the fast path must decline these. */
static const char *const declined[] = {
    /* no document, or more than one */
    "",
    "# only a comment\n",
    "---\n",
    "...\n",
    "a: 1\n---\nb: 2\n",
    "a: 1\n...\nb: 2\n",
    "a: 1\n...\n...\n",
    "--- a: 1\n",
    "--- x\n",
    /* properties, directives, complex keys, other scalar styles */
    "&a x\n",
    "a: &x 1\n",
    "a: *x\n",
    "a: !!str x\n",
    "a: !x y\n",
    "%YAML 1.1\n---\na: 1\n",
    "? a\n: b\n",
    "a: >\n  folded\n",
    "a: |-\n  x\n",
    "a: |+\n  x\n",
    "a: |2\n  x\n",
    "a: |\n\n  x\n",
    "a: |\nb: 1\n",
    "a: |",
    "a: | x\n",
    /* over lines */
    "a: b\n  c\n",
    "b\nc\n",
    "- a\n  b\n",
    "a: 'x\n  y'\n",
    "a: \"x\n  y\"\n",
    "a: \"x\\\n  y\"\n",
    "a: [x\n  y]\n",
    "a: [1,\n2]\n",
    "{a\n: 1}\n",
    /* tabs, odd breaks, odd characters */
    "a:\tb\n",
    "\ta: 1\n",
    "a: 1\t# c\n",
    "a: |\n\tx\n",
    "a: 1\rb: 2\n",
    "\xef\xbb\xbf"
    "a: 1\n",
    "a: x\xef\xbb\xbfy\n",
    "a: x\x01\n",
    "a: x\x7f\n",
    "a: \xff\n",
    "a: \xc0\xaf\n",
    "a: \xed\xa0\x80\n",
    "a: \xc2\x85\n",
    "a: \xe2\x80\xa8\n",
    /* bad escapes */
    "a: \"\\q\"\n",
    "a: \"\\x4\"\n",
    "a: \"\\ud800\"\n",
    "a: \"\\U00110000\"\n",
    /* malformed structure */
    "a: b: c\n",
    "a: - b\n",
    "- a\nb: 1\n",
    "a: 1\n- b\n",
    "a: 1\nb\n",
    "a: 1\n  b: 2\n",
    "a: \"1\"\n  b: 2\n",
    "a: [1, 2\n",
    "a: {b: 1\n",
    "a: [1,,2]\n",
    "a: [,]\n",
    "a: [1]]\n",
    "a: 'unterminated\n",
    "a: \"x\" y\n",
    "[a]: 1\n",
    "{a: 1}: 2\n",
    "a: [b: 1]\n",
    "a: {b}\n",
    "a: {: b}\n",
    "key: {a:1}\n",
    "a: @x\n",
    "a: `x`\n",
    "a: [1] x\n",
    "-\nfoo\n",
    ":x\n",
    "a:\n  b: 1\n c: 2\n",
    "a: |\n    deep\n   less\n",
    "- |\n   x\n  - y\n",
};

static void test_accepted(void)
{
    for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++)
        check(accepted[i], ACCEPT);
}

static void test_declined(void)
{
    for (size_t i = 0; i < sizeof declined / sizeof *declined; i++)
        check(declined[i], DECLINE);
}

/* Long keys (libyaml's simple keys reach 1024 characters) and deep
 * nesting. */
static void test_limits(void)
{
    cai_test_text t = {0};
    cai_test_put(&t, "a: 1\n");
    for (int i = 0; i < 990; i++)
        cai_test_put(&t, "k");
    cai_test_put(&t, ": 2\n");
    check_len(t.s, t.n, ACCEPT);
    t.n = 0;
    for (int i = 0; i < 1100; i++)
        cai_test_put(&t, "k");
    cai_test_put(&t, ": 2\n");
    check_len(t.s, t.n, DECLINE);
    t.n = 0;
    for (int i = 0; i < 30; i++)
        cai_test_put(&t, "[");
    for (int i = 0; i < 30; i++)
        cai_test_put(&t, "]");
    check_len(t.s, t.n, ACCEPT);
    t.n = 0;
    for (int i = 0; i < 200; i++)
        cai_test_put(&t, "[");
    for (int i = 0; i < 200; i++)
        cai_test_put(&t, "]");
    check_len(t.s, t.n, DECLINE);
    t.n = 0;
    for (int i = 0; i < 20; i++)
        cai_test_put(&t, "%*sk%d:\n", 2 * i, "", i);
    cai_test_put(&t, "%*sleaf\n", 40, "");
    check_len(t.s, t.n, ACCEPT);
    free(t.s);
}

/* What cai_model_load_string reports for the declined snippets libyaml
 * rejects: libyaml's problem at libyaml's mark, as before the fast path. */
static void test_errors_stay(void)
{
    size_t errors = 0;
    for (size_t i = 0; i < sizeof declined / sizeof *declined; i++) {
        const char *txt = declined[i];
        size_t len = strlen(txt);
        oracle o;
        oracle_load(&o, txt, len);
        if (o.error) {
            cai_model *m = NULL;
            cai_error err;
            cai_status st = cai_model_load_string(txt, len, "t.yaml", &m, &err);
            CU_ASSERT(st == CAI_ERR_SYNTAX);
            CU_ASSERT(m == NULL);
            const char *problem = o.parser.problem;
            CU_ASSERT(strncmp(err.message, problem, strlen(problem)) == 0);
            if (o.parser.error != YAML_READER_ERROR) {
                CU_ASSERT(err.line == o.parser.problem_mark.line + 1);
                CU_ASSERT(err.column == o.parser.problem_mark.column + 1);
            }
            errors++;
        }
        oracle_clear(&o);
    }
    CU_ASSERT(errors >= 30);
}

/* ---- mutations --------------------------------------------------------- */

/* Edits per snippet and the generators' seed. */
#ifndef MUTATION_REPS
#define MUTATION_REPS 150
#endif
#ifndef MUTATION_SEED
#define MUTATION_SEED 12345
#endif

/* Random edits of the snippets and small models, with the characters that
 * matter to YAML: the fast path may decline them but must never compose
 * one differently from libyaml. */
/* Pieces of YAML syntax to insert. */
static const char *const bits[] = {
    " ",   "  ",   "\n",   "\r\n", "-",    "- ",   ":",        ": ",
    "#",   " #",   "[",    "]",    "{",    "}",    ",",        "\"",
    "'",   "|",    "a",    "1",    "\t",   "é",    "\\",       "---\n",
    "...", "? ",   "&",    "*",    "!",    "\r",   "\xc2\x85", "''",
    "\\n", "\\x4", "  - ", "\n  ", "\n- ", "{a: ", "[x, ",     "|\n  "};

/* Apply 1 to 3 random edits (insert a piece of syntax, delete a few bytes,
 * replace one) to t in place. */
static void mutate(cai_test_text *t, unsigned long *x)
{
    const size_t nbits = sizeof bits / sizeof *bits;
    int edits = 1 + (int)(lcg(x) % 3);
    for (int e = 0; e < edits; e++) {
        size_t n = t->n, at = n ? lcg(x) % (n + 1) : 0;
        unsigned long op = lcg(x) % 4;
        if (op < 2) { /* insert */
            const char *b = bits[lcg(x) % nbits];
            size_t bl = strlen(b);
            cai_test_put(t, "%s", b); /* room, then move into place */
            memmove(t->s + at + bl, t->s + at, n - at);
            memcpy(t->s + at, b, bl);
        } else if (op == 2) { /* delete */
            size_t k = 1 + lcg(x) % 4;
            if (at + k > n)
                k = n - at;
            memmove(t->s + at, t->s + at + k, n - at - k);
            t->n -= k;
        } else if (at < n) { /* replace */
            t->s[at] = bits[lcg(x) % nbits][0];
        }
    }
}

static void test_mutations(void)
{
    size_t before = n_accepted;
    unsigned long x = MUTATION_SEED;
    cai_test_text t = {0};
    size_t nseeds = sizeof accepted / sizeof *accepted;
    for (size_t seed = 0; seed < nseeds; seed++)
        for (int rep = 0; rep < MUTATION_REPS; rep++) {
            t.n = 0;
            cai_test_put(&t, "%s", accepted[seed]);
            mutate(&t, &x);
            check_len(t.s, t.n, EITHER);
        }
    /* two snippets in one text, whole and cut anywhere */
    for (int rep = 0; rep < 300; rep++) {
        t.n = 0;
        cai_test_put(&t, "%s", accepted[lcg(&x) % nseeds]);
        cai_test_put(&t, "%s", accepted[lcg(&x) % nseeds]);
        check_len(t.s, t.n, EITHER);
        check_len(t.s, t.n - lcg(&x) % (t.n + 1), EITHER);
    }
    free(t.s);
    /* many of them are still in the subset */
    CU_ASSERT(n_accepted - before > 2000);
#ifdef MUTATION_STATS
    fprintf(stderr, "\n%zu accepted, %zu declined\n", n_accepted - before,
            n_declined);
#endif
}

/* ---- random documents -------------------------------------------------- */

/* Random documents of the subset with random layout: nested block
 * mappings and sequences (also indentless and "- - x"), flow collections
 * over lines, every scalar style, comments and blank lines anywhere,
 * document markers, \r\n breaks, a missing last break. Mostly accepted;
 * each compared with libyaml. */

typedef struct gen {
    cai_test_text t;
    unsigned long x;
} gen;

static unsigned long pick(gen *g, unsigned long n)
{
    return lcg(&g->x) % n;
}

static void gen_scalar(gen *g, bool flow)
{
    static const char *const plain[] = {
        "a",    "bc",  "a b",   "-1",  "0.5",  "1e-3", "~", "null", "é",
        "日本", "a#b", "-.inf", "s12", "it's", "x-y",  "_", "1",    "a?b"};
    static const char *const block_only[] = {"a, b", "x[y]", "a {z}", "a:b c",
                                             "x:y"};
    static const char *const quoted[] = {
        "'q'",    "''",         "'it''s'",   "'a: b'",
        "\"d\"",  "\"\"",       "\"e\\tf\"", "\"\\x41\\u00e9\"",
        "\"#x\"", "\"a\\\\b\"", "\"\\\"\"",  "' s '"};
    unsigned long r = pick(g, 10);
    if (r < 6)
        cai_test_put(&g->t, "%s", plain[pick(g, sizeof plain / sizeof *plain)]);
    else if (r < 7 && !flow)
        cai_test_put(&g->t, "%s",
            block_only[pick(g, sizeof block_only / sizeof *block_only)]);
    else
        cai_test_put(&g->t, "%s", quoted[pick(g, sizeof quoted / sizeof *quoted)]);
}

static void gen_flow(gen *g, int depth, int col);

/* Between flow entries: ", ", maybe a break and a continuation line
 * indented past col, maybe a comment. */
static void gen_flow_gap(gen *g, int col, bool comma)
{
    cai_test_put(&g->t, "%s", comma ? "," : "");
    unsigned long r = pick(g, 8);
    if (r == 0)
        cai_test_put(&g->t, " # c\n%*s", col + 1 + (int)pick(g, 4), "");
    else if (r == 1)
        cai_test_put(&g->t, "\n%*s", col + 1 + (int)pick(g, 4), "");
    else
        cai_test_put(&g->t, "%s", comma ? " " : pick(g, 2) ? " " : "");
}

static void gen_flow_node(gen *g, int depth, int col)
{
    if (depth < 4 && pick(g, 4) == 0)
        gen_flow(g, depth + 1, col);
    else
        gen_scalar(g, true);
}

static void gen_flow(gen *g, int depth, int col)
{
    bool map = pick(g, 2);
    cai_test_put(&g->t, "%s", map ? "{" : "[");
    unsigned long n = pick(g, 4);
    if (n > 0)
        gen_flow_gap(g, col, false);
    for (unsigned long i = 0; i < n; i++) {
        if (map) {
            gen_scalar(g, true);
            cai_test_put(&g->t, ": ");
            if (pick(g, 6) != 0)
                gen_flow_node(g, depth, col);
        } else {
            gen_flow_node(g, depth, col);
        }
        if (i + 1 < n || pick(g, 5) == 0)
            gen_flow_gap(g, col, true);
    }
    cai_test_put(&g->t, "%s", map ? "}" : "]");
}

/* The end of a line that holds a complete node: maybe a comment, then
 * maybe blank or comment lines. */
static void gen_eol(gen *g)
{
    if (pick(g, 6) == 0)
        cai_test_put(&g->t, "%*s# c", 1 + (int)pick(g, 2), "");
    else if (pick(g, 8) == 0)
        cai_test_put(&g->t, " ");
    cai_test_put(&g->t, "\n");
    if (pick(g, 8) == 0)
        cai_test_put(&g->t, "%s", pick(g, 2) ? "\n" : "# line\n");
}

static void gen_block_map(gen *g, int depth, int col, bool first_inline);
static void gen_block_seq(gen *g, int depth, int col, bool first_inline);

/* The value after "key:" of a mapping at column col (or an item after
 * "-" of a sequence at column col, seq true). */
static void gen_value(gen *g, int depth, int col, bool seq)
{
    unsigned long r = pick(g, depth < 5 ? 12 : 6);
    int step = 1 + (int)pick(g, 4);
    if (r < 3) {
        cai_test_put(&g->t, " ");
        gen_scalar(g, false);
        gen_eol(g);
    } else if (r < 4) {
        cai_test_put(&g->t, " ");
        gen_flow(g, depth + 1, col);
        gen_eol(g);
    } else if (r < 5) {
        cai_test_put(&g->t, pick(g, 3) ? "\n" : " # c\n");
    } else if (r < 6) {
        cai_test_put(&g->t, " |%s\n", pick(g, 4) ? "" : " # c");
        unsigned long lines = 1 + pick(g, 3);
        for (unsigned long i = 0; i < lines; i++) {
            cai_test_put(&g->t, "%*s%s\n", col + step, "",
                pick(g, 3) ? "x # y" : " more");
            if (pick(g, 4) == 0)
                cai_test_put(&g->t, "\n");
        }
    } else if (r < 8) {
        cai_test_put(&g->t, "\n");
        gen_block_map(g, depth + 1, col + step, false);
    } else if (r < 9 && seq) {
        cai_test_put(&g->t, " ");
        gen_block_map(g, depth + 1, col + 2, true);
    } else if (r < 10) {
        if (seq) {
            cai_test_put(&g->t, " ");
            gen_block_seq(g, depth + 1, col + 2, true);
        } else {
            cai_test_put(&g->t, "\n");
            gen_block_seq(g, depth + 1, pick(g, 2) ? col : col + step, false);
        }
    } else {
        cai_test_put(&g->t, "\n%*s", col + step, "");
        gen_scalar(g, false);
        gen_eol(g);
    }
}

/* A block mapping at column col; first_inline: its first key goes on the
 * current line (after "- "). */
static void gen_block_map(gen *g, int depth, int col, bool first_inline)
{
    unsigned long n = 1 + pick(g, 3);
    for (unsigned long i = 0; i < n; i++) {
        if (i > 0 || !first_inline)
            cai_test_put(&g->t, "%*s", col, "");
        gen_scalar(g, false);
        cai_test_put(&g->t, "%s:", pick(g, 8) ? "" : " ");
        gen_value(g, depth, col, false);
    }
}

static void gen_block_seq(gen *g, int depth, int col, bool first_inline)
{
    unsigned long n = 1 + pick(g, 3);
    for (unsigned long i = 0; i < n; i++) {
        if (i > 0 || !first_inline)
            cai_test_put(&g->t, "%*s", col, "");
        cai_test_put(&g->t, "-");
        gen_value(g, depth, col, true);
    }
}

static void gen_document(gen *g)
{
    g->t.n = 0;
    if (pick(g, 5) == 0)
        cai_test_put(&g->t, "# head\n\n");
    if (pick(g, 6) == 0)
        cai_test_put(&g->t, "---%s\n", pick(g, 2) ? "" : " # doc");
    int col = pick(g, 6) ? 0 : 1 + (int)pick(g, 2);
    unsigned long r = pick(g, 10);
    if (r < 6) {
        gen_block_map(g, 0, col, false);
    } else if (r < 9) {
        gen_block_seq(g, 0, col, false);
    } else {
        gen_flow(g, 0, -1);
        cai_test_put(&g->t, "\n");
    }
    if (pick(g, 8) == 0)
        cai_test_put(&g->t, "...\n");
    if (pick(g, 6) == 0) { /* \r\n breaks */
        cai_test_text c = {0};
        for (size_t i = 0; i < g->t.n; i++)
            cai_test_put(&c, "%s", g->t.s[i] == '\n' ? "\r\n" : (char[]){g->t.s[i], 0});
        free(g->t.s);
        g->t = c;
    }
    if (pick(g, 5) == 0 && g->t.n > 0 && g->t.s[g->t.n - 1] == '\n')
        g->t.n -= g->t.n > 1 && g->t.s[g->t.n - 2] == '\r' ? 2 : 1;
}

#ifndef RANDOM_DOCS
#define RANDOM_DOCS 3000
#endif

static void test_random_documents(void)
{
    gen g = {.x = MUTATION_SEED};
    size_t before = n_accepted, edited = 0;
    for (int i = 0; i < RANDOM_DOCS; i++) {
        gen_document(&g);
        check_len(g.t.s, g.t.n, EITHER);
        mutate(&g.t, &g.x);
        edited += check_len(g.t.s, g.t.n, EITHER) == 1;
    }
    free(g.t.s);
    /* nearly all of the unedited ones are in the subset */
    CU_ASSERT(n_accepted - before - edited > RANDOM_DOCS * 3 / 4);
#ifdef MUTATION_STATS
    fprintf(stderr, "\nrandom documents: %zu of %d accepted, edited %zu\n",
            n_accepted - before - edited, RANDOM_DOCS, edited);
#endif
}

void cai_test_register(void)
{
    CU_pSuite s = CU_add_suite("yaml_fast", NULL, NULL);
    CU_add_test(s, "the example models", test_models);
    CU_add_test(s, "the shapes cai-bench and cai-random-mdp write",
                test_tool_shapes);
    CU_add_test(s, "every construct of the subset", test_accepted);
    CU_add_test(s, "declined: outside the subset or malformed", test_declined);
    CU_add_test(s, "long keys and deep nesting", test_limits);
    CU_add_test(s, "libyaml's errors stay", test_errors_stay);
    CU_add_test(s, "random edits", test_mutations);
    CU_add_test(s, "random documents", test_random_documents);
}
