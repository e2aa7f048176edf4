/* lib/engine/logmath.c — the one log-sum-exp, and checked size arithmetic. */
#include "cai/logmath.h"

#include <math.h>
#include <stdint.h>

double cai_logsumexp(const double *x, size_t n)
{
    double m = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]))
            return NAN;
        if (x[i] > m)
            m = x[i];
    }
    if (m == -INFINITY || m == INFINITY)
        return m;
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += exp(x[i] - m);
    return m + log(s);
}

void cai_lse_add(cai_lse *a, double x)
{
    if (isnan(x) || isnan(a->max)) {
        a->max = NAN;
        return;
    }
    if (x == -INFINITY)
        return;
    if (x == INFINITY || a->max == INFINITY) {
        a->max = INFINITY;
        a->sum = 1.0;
        return;
    }
    if (x > a->max) {
        /* rescale what we have to the new maximum (exp(-inf) = 0 on the first term) */
        a->sum = (a->max == -INFINITY ? 0.0 : a->sum * exp(a->max - x)) + 1.0;
        a->max = x;
    } else {
        a->sum += exp(x - a->max);
    }
}

double cai_lse_result(const cai_lse *a)
{
    if (isnan(a->max))
        return NAN;
    if (a->max == -INFINITY || a->max == INFINITY)
        return a->max;
    return a->max + log(a->sum);
}

bool cai_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

bool cai_size_add(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return false;
    *out = a + b;
    return true;
}
