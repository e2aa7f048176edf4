/* lib/io/yaml_read.c — libyaml helpers shared by the model loaders.
 *
 * libyaml composes the whole document (yaml_parser_load), or yaml_fast.c
 * does, faster, when the text is in its subset; the kind loaders walk the
 * node tree with these helpers. Nothing here recurses over arbitrary YAML,
 * so self-referential aliases cannot make a walk loop. */
#include "yaml_read.h"
#include "yaml_fast.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cai/graph.h"
#include "cai/logmath.h"

/* ---- nodes ------------------------------------------------------------- */

yaml_node_t *yr_node_at(const yr_loader *L, yaml_node_item_t index)
{
    return yaml_document_get_node(L->doc, index);
}

const char *yr_text(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

bool yr_is_plain(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE &&
           n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

bool yr_is_null(const yaml_node_t *n)
{
    if (!yr_is_plain(n))
        return false;
    const char *s = yr_text(n);
    return n->data.scalar.length == 0 || strcmp(s, "~") == 0 ||
           strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

bool yr_is_string(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && !yr_is_null(n) &&
           strlen(yr_text(n)) == n->data.scalar.length;
}

bool yr_parse_number(const yaml_node_t *n, double *out)
{
    if (!yr_is_plain(n) || yr_is_null(n))
        return false;
    const char *s = yr_text(n);
    size_t len = n->data.scalar.length;
    if (strlen(s) != len)
        return false;
    const char *p = s;
    double sign = 1.0;
    if (*p == '+' || *p == '-')
        sign = (*p++ == '-') ? -1.0 : 1.0;
    const char *q = (*p == '.') ? p + 1 : p;
    if (strcasecmp(q, "inf") == 0) {
        *out = sign * INFINITY;
        return true;
    }
    if (strcasecmp(q, "nan") == 0) {
        *out = NAN;
        return true;
    }
    bool digit = false;
    for (const char *c = s; *c != '\0'; c++) {
        if (*c >= '0' && *c <= '9')
            digit = true;
        else if (strchr(".eE+-", *c) == NULL)
            return false;
    }
    if (!digit)
        return false;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end != s + len)
        return false;
    *out = v; /* 1e999 reads as inf, 1e-999 as 0: both are numbers */
    return true;
}

yr_int_result yr_parse_count(const yaml_node_t *n, double max, size_t *out)
{
    double v;
    if (!yr_parse_number(n, &v) || !isfinite(v) || v < 0.0 || v != floor(v))
        return YR_INT_BAD;
    if (v > max)
        return YR_INT_TOO_BIG;
    *out = (size_t)v;
    return YR_INT_OK;
}

/* ---- sequences --------------------------------------------------------- */

size_t yr_seq_len(const yaml_node_t *n)
{
    return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

yaml_node_t *yr_seq_item(const yr_loader *L, const yaml_node_t *n, size_t i)
{
    return yr_node_at(L, n->data.sequence.items.start[i]);
}

/* ---- mappings ---------------------------------------------------------- */

void yr_list_keys(const yr_field *f, size_t nf, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < nf && o < size; i++) {
        const char *sep = i == 0 ? "" : (i + 1 == nf ? " or " : ", ");
        int w = snprintf(buf + o, size - o, "%s%s", sep, f[i].key);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

cai_status yr_read_fields(const yr_loader *L, yaml_node_t *map,
                          const char *where, yr_field *f, size_t nf)
{
    for (size_t i = 0; i < nf; i++) {
        f[i].key_node = NULL;
        f[i].value = NULL;
    }
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start;
         pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yr_node_at(L, pr->key);
        yaml_node_t *v = yr_node_at(L, pr->value);
        if (k == NULL || v == NULL)
            return yr_fail_at(L, map, "malformed mapping in %s", where);
        if (!yr_is_string(k))
            return yr_fail_got(L, k, "keys in %s must be strings", where);
        size_t i = 0;
        while (i < nf && strcmp(f[i].key, yr_text(k)) != 0)
            i++;
        if (i == nf) {
            char expected[256];
            yr_list_keys(f, nf, expected, sizeof expected);
            return yr_fail_at(L, k, "unknown key '%s' in %s (expected %s)",
                              yr_show(yr_text(k)).s, where, expected);
        }
        if (f[i].key_node != NULL)
            return yr_fail_at(L, k, "duplicate key '%s' in %s", f[i].key,
                              where);
        f[i].key_node = k;
        f[i].value = v;
    }
    return CAI_OK;
}

cai_status yr_require(const yr_loader *L, const yaml_node_t *map,
                      const char *where, const yr_field *f)
{
    if (f->value == NULL)
        return yr_fail_at(L, map, "missing key '%s' in %s", f->key, where);
    return CAI_OK;
}

yaml_node_t *yr_lookup(const yr_loader *L, const yaml_node_t *map,
                       const char *key)
{
    for (yaml_node_pair_t *pr = map->data.mapping.pairs.start;
         pr < map->data.mapping.pairs.top; pr++) {
        yaml_node_t *k = yr_node_at(L, pr->key);
        yaml_node_t *v = yr_node_at(L, pr->value);
        if (k != NULL && v != NULL && yr_is_string(k) &&
            strcmp(yr_text(k), key) == 0)
            return v;
    }
    return NULL;
}

/* ---- values ------------------------------------------------------------ */

cai_status yr_read_string(const yr_loader *L, const yaml_node_t *n,
                          const char *where, const char *key, bool nonempty,
                          const char **out)
{
    if (!yr_is_string(n) || (nonempty && n->data.scalar.length == 0))
        return yr_fail_got(L, n, "%s'%s' must be a %sstring",
                           yr_prefix_of(where).s, key,
                           nonempty ? "non-empty " : "");
    *out = yr_text(n);
    return CAI_OK;
}

cai_status yr_read_bool(const yr_loader *L, const yaml_node_t *n,
                        const char *where, const char *key, bool *out)
{
    static const char *const words[] = {"true",  "True",  "TRUE",
                                        "false", "False", "FALSE"};
    for (size_t i = 0; i < 6 && yr_is_plain(n); i++)
        if (strcmp(yr_text(n), words[i]) == 0) {
            *out = i < 3;
            return CAI_OK;
        }
    return yr_fail_got(L, n, "%s'%s' must be true or false",
                       yr_prefix_of(where).s, key);
}

cai_status yr_read_doubles(const yr_loader *L, const yaml_node_t *n,
                           const char *where, const char *key, size_t count,
                           double *out)
{
    yr_prefix pre = yr_prefix_of(where);
    if (n->type != YAML_SEQUENCE_NODE)
        return yr_fail_got(L, n, "%s'%s' must be a sequence of numbers", pre.s,
                           key);
    size_t got = yr_seq_len(n);
    if (got != count)
        return yr_fail_at(L, n, "%s'%s' has %zu entries, expected %zu", pre.s,
                          key, got, count);
    for (size_t e = 0; e < count; e++) {
        yaml_node_t *x = yr_seq_item(L, n, e);
        double v;
        if (x == NULL || !yr_parse_number(x, &v) || !isfinite(v))
            return yr_fail_at(L, x ? x : n,
                              "%s%s entry %zu must be a finite number, got %s",
                              pre.s, key, e, x ? yr_describe(x).s : "nothing");
        out[e] = v;
    }
    return CAI_OK;
}

cai_status yr_read_number_map(const yr_loader *L, const yaml_node_t *n,
                              const char *where, const char *key,
                              yr_named_number **out_items, size_t *out_n)
{
    yr_prefix pre = yr_prefix_of(where);
    if (n->type != YAML_MAPPING_NODE)
        return yr_fail_got(L, n, "%s'%s' must map names to numbers", pre.s,
                           key);
    size_t count =
        (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    size_t m = count ? count : 1, item_bytes, name_bytes;
    if (!cai_size_mul(m, sizeof(yr_named_number), &item_bytes) ||
        !cai_size_mul(m, sizeof(const char *), &name_bytes))
        return yr_overflow(L, "%s'%s' has too many entries", pre.s, key);
    yr_named_number *items = malloc(item_bytes);
    const char **names = malloc(name_bytes); /* for yr_find_duplicate */
    cai_status st = CAI_OK;
    if (items == NULL || names == NULL) {
        st = yr_nomem(L);
        goto fail;
    }
    for (size_t i = 0; i < count; i++) {
        const yaml_node_pair_t *pr = &n->data.mapping.pairs.start[i];
        yaml_node_t *k = yr_node_at(L, pr->key), *x = yr_node_at(L, pr->value);
        if (k == NULL || x == NULL) {
            st = yr_fail_at(L, n, "%smalformed mapping in '%s'", pre.s, key);
            goto fail;
        }
        if (!yr_is_string(k) || k->data.scalar.length == 0) {
            st = yr_fail_got(L, k, "%skeys in '%s' must be names", pre.s, key);
            goto fail;
        }
        double v;
        if (!yr_parse_number(x, &v) || !isfinite(v)) {
            st = yr_fail_got(L, x, "%s%s for '%s' must be a finite number",
                             pre.s, key, yr_show(yr_text(k)).s);
            goto fail;
        }
        items[i] = (yr_named_number){yr_text(k), k, x, v};
        names[i] = items[i].name;
    }
    size_t dup, first;
    st = yr_find_duplicate(names, count, &dup, &first);
    if (st != CAI_OK) { /* not overflow: items is larger than its scratch */
        st = yr_nomem(L);
        goto fail;
    }
    if (dup != CAI_NONE) {
        st = yr_fail_at(L, items[dup].key,
                        "%sduplicate key '%s' in '%s' (first at line %zu)",
                        pre.s, yr_show(items[dup].name).s, key,
                        (size_t)items[first].key->start_mark.line + 1);
        goto fail;
    }
    free(names);
    *out_items = items;
    *out_n = count;
    return CAI_OK;
fail:
    free(names);
    free(items);
    return st;
}

/* ---- documents --------------------------------------------------------- */

/* The position of byte offset in text, counted as libyaml counts: 0-based
 * lines and characters. */
static void offset_mark(const char *txt, size_t len, size_t offset,
                        size_t *out_line, size_t *out_column)
{
    size_t line = 0, column = 0;
    for (size_t i = 0; i < offset && i < len; i++) {
        if (txt[i] == '\n') {
            line++;
            column = 0;
        } else if (((unsigned char)txt[i] & 0xC0) != 0x80) {
            column++;
        }
    }
    *out_line = line;
    *out_column = column;
}

/* The parser's error as CAI_ERR_SYNTAX (CAI_ERR_NOMEM for its memory
 * errors) at the problem position. */
static cai_status syntax_error(const yaml_parser_t *p, const char *path,
                               const char *txt, size_t len, cai_error *err)
{
    const char *problem = p->problem ? p->problem : "invalid YAML";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        return cai_error_set(err, CAI_ERR_NOMEM, path, 0, 0,
                             "out of memory while reading YAML");
    case YAML_READER_ERROR: {
        size_t line, column;
        offset_mark(txt, len, p->problem_offset, &line, &column);
        if (p->problem_value != -1)
            return cai_error_set(err, CAI_ERR_SYNTAX, path, line + 1,
                                 column + 1, "%s (byte 0x%02X)", problem,
                                 (unsigned)p->problem_value & 0xFFu);
        return cai_error_set(err, CAI_ERR_SYNTAX, path, line + 1, column + 1,
                             "%s", problem);
    }
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
    case YAML_COMPOSER_ERROR:
        if (p->context != NULL)
            return cai_error_set(
                err, CAI_ERR_SYNTAX, path, p->problem_mark.line + 1,
                p->problem_mark.column + 1, "%s (%s at line %zu, column %zu)",
                problem, p->context, p->context_mark.line + 1,
                p->context_mark.column + 1);
        return cai_error_set(err, CAI_ERR_SYNTAX, path,
                             p->problem_mark.line + 1,
                             p->problem_mark.column + 1, "%s", problem);
    default:
        return cai_error_set(err, CAI_ERR_SYNTAX, path, 0, 0, "%s", problem);
    }
}

cai_status yr_loader_parse(yr_loader *L, const char *txt, size_t len,
                           const char *empty_msg, yaml_node_t **out_root)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    cai_status st = CAI_OK;
    L->doc = NULL;
    L->fast = NULL;
    L->text = txt;
    L->text_len = len;
    /* most model files never need libyaml's scanner (yaml_fast.h); the
     * rest, errors included, go to libyaml below */
    int fast = yr_fast_compose_stream(txt, len, L->stream, &L->storage, &L->fast);
    if (fast < 0)
        return cai_error_set(L->err, CAI_ERR_NOMEM, L->path, 0, 0,
                             "out of memory while reading YAML");
    if (fast > 0) {
        L->doc = &L->storage;
        *out_root = yaml_document_get_root_node(L->doc);
        return CAI_OK;
    }
    if (!yaml_parser_initialize(&parser))
        return yr_nomem(L);
    yaml_parser_set_input_string(&parser, (const unsigned char *)txt, len);
    if (!yaml_parser_load(&parser, &L->storage)) {
        /* libyaml has already deleted the partial document */
        st = syntax_error(&parser, L->path, txt, len, L->err);
        goto fail;
    }
    L->doc = &L->storage;
    yaml_node_t *root = yaml_document_get_root_node(L->doc);
    if (root == NULL) {
        st = cai_error_set(L->err, CAI_ERR_MODEL, L->path,
                           L->doc->start_mark.line + 1,
                           L->doc->start_mark.column + 1, "%s", empty_msg);
        goto fail;
    }
    /* the stream must end after one document */
    if (!yaml_parser_load(&parser, &extra)) {
        st = syntax_error(&parser, L->path, txt, len, L->err);
        goto fail;
    }
    yaml_node_t *more = yaml_document_get_root_node(&extra);
    if (more != NULL)
        st = yr_fail_at(L, more, "a model file must hold one YAML document");
    yaml_document_delete(&extra);
    if (st != CAI_OK)
        goto fail;
    yaml_parser_delete(&parser);
    *out_root = root;
    return CAI_OK;
fail:
    yr_loader_clear(L);
    yaml_parser_delete(&parser);
    return st;
}

void yr_loader_clear(yr_loader *L)
{
    if (L->fast != NULL)
        yr_fast_free(L->fast);
    else if (L->doc != NULL)
        yaml_document_delete(L->doc);
    L->doc = NULL;
    L->fast = NULL;
}

cai_status yr_read_file(const char *path, char **out_buf, size_t *out_len,
                        cai_error *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return cai_error_set(err, CAI_ERR_IO, path, 0, 0, "cannot open: %s",
                             strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    cai_status st = CAI_OK;
    for (;;) {
        if (len == cap) {
            size_t ncap;
            if (!cai_size_mul(cap ? cap : 4096, 2, &ncap)) {
                st = cai_error_set(err, CAI_ERR_OVERFLOW, path, 0, 0,
                                   "file too large");
                goto fail;
            }
            char *nbuf = realloc(buf, ncap);
            if (nbuf == NULL) {
                st = cai_error_set(err, CAI_ERR_NOMEM, path, 0, 0,
                                   "out of memory");
                goto fail;
            }
            buf = nbuf;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        st = cai_error_set(err, CAI_ERR_IO, path, 0, 0, "cannot read: %s",
                           strerror(errno));
        goto fail;
    }
    *out_buf = buf;
    *out_len = len;
    buf = NULL;
fail:
    free(buf);
    fclose(f);
    return st;
}
