/* tools/random_mdp.c — write a seeded random sparse MDP as a cai YAML model.
 *
 *   cai-random-mdp STATES ACTIONS SUCCESSORS SEED [--horizon T | --discount G]
 *
 * States and actions are counts (named "0".."n-1"); each (state, action)
 * moves to SUCCESSORS distinct random states with random probabilities
 * (GSL's mt19937, so the same arguments give the same file); rewards are
 * uniform in (-1, 0] per (state, action); the initial state is 0. */
#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void)
{
    fputs("usage: cai-random-mdp STATES ACTIONS SUCCESSORS SEED [--horizon T | --discount G]\n",
          stderr);
    return 2;
}

static int parse_size(const char *s, unsigned long *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v == 0)
        return 0;
    *out = v;
    return 1;
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    unsigned long S, A, B, seed, T = 100;
    double gamma = 0;
    if (argc < 5 || !parse_size(argv[1], &S) || !parse_size(argv[2], &A)
        || !parse_size(argv[3], &B) || !parse_size(argv[4], &seed) || B > S)
        return usage();
    for (int i = 5; i < argc; i++) {
        if (strcmp(argv[i], "--horizon") == 0 && i + 1 < argc && parse_size(argv[i + 1], &T)) {
            i++;
        } else if (strcmp(argv[i], "--discount") == 0 && i + 1 < argc) {
            gamma = strtod(argv[++i], NULL);
            if (!(gamma > 0 && gamma < 1))
                return usage();
        } else {
            return usage();
        }
    }
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    unsigned long *succ = malloc(B * sizeof *succ);
    double *w = malloc(B * sizeof *w);
    if (rng == NULL || succ == NULL || w == NULL)
        return 1;
    gsl_rng_set(rng, seed);
    printf("# A seeded random sparse MDP: cai-random-mdp %lu %lu %lu %lu\n", S, A, B, seed);
    printf("kind: mdp\nname: random %lu states\nstates: %lu\nactions: %lu\n", S, S, A);
    printf("initial: {\"0\": 1}\n");
    if (gamma > 0)
        printf("discount: %.17g\n", gamma);
    else
        printf("horizon: %lu\n", T);
    printf("temperature: 1\ntransitions:\n");
    for (unsigned long s = 0; s < S; s++)
        for (unsigned long a = 0; a < A; a++) {
            double tot = 0;
            for (unsigned long k = 0; k < B; k++) {
                unsigned long x;
                int fresh;
                do { /* distinct successors */
                    x = gsl_rng_uniform_int(rng, S);
                    fresh = 1;
                    for (unsigned long j = 0; j < k; j++)
                        fresh &= succ[j] != x;
                } while (!fresh);
                succ[k] = x;
                w[k] = 0.05 + gsl_rng_uniform(rng);
                tot += w[k];
            }
            printf("  - {state: %lu, action: %lu, next: {", s, a);
            double left = 1;
            for (unsigned long k = 0; k < B; k++) {
                /* six decimals each; the last takes the rest, so the printed row sums
                 * to 1 up to the parse's rounding */
                double p = k + 1 < B ? round(w[k] / tot * 1e6) / 1e6 : left;
                left -= p;
                printf("%s%lu: %.6f", k ? ", " : "", succ[k], p);
            }
            printf("}}\n");
        }
    printf("rewards:\n");
    for (unsigned long s = 0; s < S; s++)
        for (unsigned long a = 0; a < A; a++)
            printf("  - {state: %lu, action: %lu, value: %.4f}\n", s, a,
                   -gsl_rng_uniform(rng));
    free(succ);
    free(w);
    gsl_rng_free(rng);
    return ferror(stdout) ? 1 : 0;
}
