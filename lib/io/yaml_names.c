/* lib/io/yaml_names.c — the name tables of the model loaders
 * (yaml_read.h): duplicates found by sorting, lookups by hashing, and the
 * hint listing a table's first names in an "unknown name" message. */
#include "yaml_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cai/error.h"
#include "cai/graph.h"
#include "cai/logmath.h"

/* ---- names ------------------------------------------------------------- */

typedef struct named {
    const char *name;
    size_t index;
} named;

static int cmp_named(const void *a, const void *b)
{
    const named *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    return (x->index > y->index) - (x->index < y->index);
}

cai_status yr_find_duplicate(const char *const *names, size_t n,
                             size_t *out_dup, size_t *out_first)
{
    size_t bytes;
    if (!cai_size_mul(n, sizeof(named), &bytes))
        return CAI_ERR_OVERFLOW;
    named *v = malloc(bytes ? bytes : 1);
    if (v == NULL)
        return CAI_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        v[i].name = names[i];
        v[i].index = i;
    }
    qsort(v, n, sizeof *v, cmp_named);
    size_t dup = CAI_NONE, first = CAI_NONE;
    for (size_t i = 1; i < n; i++)
        if (strcmp(v[i].name, v[i - 1].name) == 0 &&
            (i < 2 || strcmp(v[i - 1].name, v[i - 2].name) != 0) &&
            v[i].index < dup) {
            dup = v[i].index; /* the second occurrence of its group */
            first = v[i - 1].index;
        }
    free(v);
    *out_dup = dup;
    *out_first = first;
    return CAI_OK;
}

/* FNV-1a, 64 bits folded into size_t. */
static size_t hash_name(const char *s)
{
    unsigned long long h = 14695981039346656037ull;
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return (size_t)(h ^ (h >> 32));
}

cai_status yr_names_init(yr_names *t, const char *const *names, size_t n,
                         size_t *out_dup, size_t *out_first)
{
    *t = (yr_names){.n = n, .names = names};
    *out_dup = CAI_NONE;
    *out_first = CAI_NONE;
    if (names == NULL)
        return CAI_OK;
    size_t cap = 16; /* a power of two >= 2n keeps probes short */
    while (cap / 2 < n)
        if (!cai_size_mul(cap, 2, &cap))
            return CAI_ERR_OVERFLOW;
    t->slots = calloc(cap, sizeof *t->slots);
    if (t->slots == NULL)
        return CAI_ERR_NOMEM;
    t->mask = cap - 1;
    for (size_t i = 0; i < n; i++) {
        size_t h = hash_name(names[i]) & t->mask;
        while (t->slots[h] != 0) {
            size_t j = t->slots[h] - 1;
            if (strcmp(names[j], names[i]) == 0) {
                if (*out_dup == CAI_NONE) {
                    *out_dup = i;
                    *out_first = j;
                }
                break;
            }
            h = (h + 1) & t->mask;
        }
        if (t->slots[h] == 0)
            t->slots[h] = i + 1;
    }
    return CAI_OK;
}

size_t yr_names_find(const yr_names *t, const char *name)
{
    if (t->names == NULL) {
        /* canonical decimal below n: no sign, no leading zero */
        size_t v = 0;
        if (name[0] == '\0' || (name[0] == '0' && name[1] != '\0'))
            return CAI_NONE;
        for (const char *c = name; *c != '\0'; c++) {
            if (*c < '0' || *c > '9')
                return CAI_NONE;
            size_t d = (size_t)(*c - '0');
            if (v > (t->n - d) / 10 || v * 10 + d >= t->n)
                return CAI_NONE; /* also catches n == 0 */
            v = v * 10 + d;
        }
        return v;
    }
    if (t->slots == NULL)
        return CAI_NONE;
    for (size_t h = hash_name(name) & t->mask; t->slots[h] != 0;
         h = (h + 1) & t->mask)
        if (strcmp(t->names[t->slots[h] - 1], name) == 0)
            return t->slots[h] - 1;
    return CAI_NONE;
}

const char *yr_names_get(const yr_names *t, size_t i, char *buf, size_t size)
{
    if (t->names != NULL)
        return t->names[i];
    snprintf(buf, size, "%zu", i);
    return buf;
}

void yr_names_hint(const yr_names *t, char *buf, size_t size)
{
    if (t->names == NULL) {
        snprintf(buf, size, "0..%zu", t->n - 1);
        return;
    }
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < t->n && i < 6 && o < size; i++) {
        int w = snprintf(buf + o, size - o, "%s%s", i ? ", " : "",
                         i < 5 || t->n == 6 ? yr_show(t->names[i]).s : "...");
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

void yr_names_clear(yr_names *t)
{
    free(t->slots);
    t->slots = NULL;
}
