/* lib/gauss/gauss_impl.h — what the Gaussian engine's files share: the
 * structs behind cai/gauss.h, the plan's layout of clusters and the small
 * dense kernels (row-major, CBLAS underneath). */
#ifndef CAI_GAUSS_IMPL_H
#define CAI_GAUSS_IMPL_H

#include "cai/gauss.h"

#include <stdbool.h>
#include <stddef.h>

#define LOG_2PI 1.8378770664093454836

/* ---- dense kernels (linalg.c) ----------------------------------------- */
/* All matrices row-major with a leading dimension (ld >= columns). Every
 * kernel accepts zero sizes and then does nothing (GSL views of size 0
 * would call GSL's error handler). */

/* C = alpha op(A) op(B) + beta C; C is m x n, op(A) m x k, op(B) k x n. */
void gl_gemm(bool ta, bool tb, size_t m, size_t n, size_t k, double alpha,
             const double *A, size_t lda, const double *B, size_t ldb,
             double beta, double *C, size_t ldc);

/* y = alpha op(A) x + beta y, A stored m x n. */
void gl_gemv(bool ta, size_t m, size_t n, double alpha, const double *A,
             size_t lda, const double *x, double beta, double *y);

double gl_dot(size_t n, const double *x, const double *y);

/* A = (A + A') / 2 for the n x n matrix A. */
void gl_symmetrise(double *A, size_t n, size_t lda);

/* Cholesky A = L L' in place (lower triangle; the strict upper triangle is
 * left alone). Returns n on success, else the index of the first pivot that
 * is not positive (relative to its diagonal entry) or not finite. Used
 * instead of gsl_linalg_cholesky_decomp1, whose failure goes through GSL's
 * (aborting) error handler; the solves use gsl_linalg_cholesky_svx* and
 * triangular CBLAS. */
size_t gl_chol(double *A, size_t n, size_t lda);

/* sum log L_ii of a Cholesky factor (log det A = 2 * this). */
double gl_chol_logdet_half(const double *L, size_t n, size_t lda);

/* B (n x m) = L^-1 B, or L^-T B when trans. */
void gl_trsm_left(bool trans, size_t n, size_t m, const double *L, size_t ldl,
                  double *B, size_t ldb);

/* B (m x n) = B L^-T. */
void gl_trsm_right_lt(size_t m, size_t n, const double *L, size_t ldl,
                      double *B, size_t ldb);

/* x = L^-1 x, or L^-T x when trans. */
void gl_trsv(bool trans, size_t n, const double *L, size_t ldl, double *x);

/* Rank-revealing pivoted Cholesky of the PSD matrix S (n x n, not
 * modified): writes F (n x n; columns 0..r-1 used) with S = F F' and returns
 * r, or (size_t)-1 when S is not positive semidefinite (a Schur complement
 * entry above 1e-10 max |S| is left). R (n*n) and perm (n) are scratch. */
size_t gl_psd_factor(const double *S, size_t n, double *F, double *R,
                     size_t *perm);

/* Checks with an error naming the matrix: every entry finite, and (sym)
 * |A_ij - A_ji| <= 1e-10 max |A|. */
cai_status gl_check_finite(const double *x, size_t n, const char *what,
                           cai_error *err);
cai_status gl_check_symmetric(const double *A, size_t n, const char *what,
                              cai_error *err);

/* Checked allocation of n doubles (NULL on overflow or failure). */
double *gl_alloc(size_t n);

/* ---- messages (message.c) --------------------------------------------- */

struct cai_gauss_message {
    size_t n;
    double *J; /* n*n then h: one allocation */
    double *h;
    double c;
};

/* ---- potentials (potential.c) ------------------------------------------ */

struct cai_gauss_potential {
    cai_gauss_potential_kind kind;
    size_t refs;
    size_t k;     /* positions */
    size_t *dims; /* k dims then k offsets into z: one allocation */
    size_t *offs;
    size_t D;     /* sum of dims */
    size_t bytes;
    /* the quadratic, or a linear-Gaussian's log density over (parents,
     * child) when Sigma is positive definite (has_density) */
    bool has_density;
    double *H, *h; /* D*D, D */
    double c;
    /* linear-Gaussian: child dim n, A (n x (D - n)), cv (n), L (n x rank,
     * Sigma = L L') */
    size_t n, rank;
    double *A, *cv, *L;
    double *mem; /* the one allocation behind H, h, A, cv, L */
};

/* ---- graphs (graph.c) --------------------------------------------------- */

typedef struct gfactor {
    cai_gauss_potential *pot;
    size_t *scope;
    size_t k;
    cai_factor_mode mode;
} gfactor;

struct cai_gauss_graph {
    size_t nv, capv;
    char **name;
    size_t *dim;
    double **ev; /* NULL or the clamped value */
    size_t *hidx, hcap; /* name index: variable or CAI_NONE, hcap a power of 2 */
    size_t nf, capf;
    gfactor *f;
};

/* ---- plans (plan.c, plan_layout.c) -------------------------------------- */

/* Variable slots of a cluster. */
enum { GS_UP = 0, GS_FREE = 1, GS_SUBST = 2, GS_CLAMP = 3 };

/* Factor roles. */
enum {
    GR_LOCAL = 0,   /* one-variable quadratic: a local term of its variable */
    GR_QUAD = 1,    /* quadratic in a cluster */
    GR_DENSITY = 2, /* linear-Gaussian evaluated as a log density */
    GR_SUBST = 3,   /* linear-Gaussian: child = A pa + c + L w, w integrated */
    GR_EXPECT = 4   /* the same with w averaged (expectation mode) */
};

/* Base coordinates of a cluster: [U | E | X]: the variable toward the root
 * (U, nu), the integrated ones (E: the w of GR_SUBST factors, then the free
 * variables), the averaged ones (X: the w of GR_EXPECT factors). */
typedef struct gcluster {
    size_t up;           /* variable toward the root; CAI_NONE for the
                            integral at a root */
    size_t tree;
    size_t slot0, nslot; /* slots; the up slot first when up != CAI_NONE */
    size_t fac0, nfac;   /* factors: substitutions in topological order first */
    size_t nu, ne, nx, nb;
    size_t rows;         /* sum of the slots' dimensions */
    size_t label;        /* a factor of the cluster, for messages (CAI_NONE at
                            a root integral) */
} gcluster;

struct cai_gauss_plan {
    size_t nv, nf, ncl, nreal, ntree;
    bool upward_only;
    /* variables */
    size_t *dim, *name_off;
    char *names;
    unsigned char *clamped;
    size_t *ev_off, ev_total;
    double *ev_default;
    size_t *msg_off, msg_total;   /* J (n*n), h (n), c (1) */
    size_t *marg_off, marg_total; /* mean (n), cov (n*n) */
    size_t *up_cluster, *tree_of;
    size_t *loc0, *nloc, *loc_fac;
    /* trees */
    size_t *root;
    /* clusters; order: pre-order (each tree's root integral first) */
    gcluster *cl;
    size_t *order;
    size_t *slot_var, *slot_off, *slot_row, *slot_by;
    unsigned char *slot_stat;
    size_t *cl_fac;
    /* factors */
    cai_gauss_potential **pot;
    cai_factor_mode *mode;
    unsigned char *role;
    size_t *fk, *fslot0, *fslot, *fvar0, *fvar, *woff, *fcluster;
    /* scratch sizes */
    size_t max_nb, max_rows, max_ne, max_nu, max_D, max_dim;
};

static inline const char *gp_name(const cai_gauss_plan *p, size_t v)
{
    return p->names + p->name_off[v];
}

/* plan_layout.c: roles, orders and offsets of every cluster, and the
 * workspace sizes; called by cai_gauss_plan_create once the forest is
 * rooted. */
cai_status gp_layout(cai_gauss_plan *p, cai_error *err);

/* ---- cluster kernels (cluster.c) ----------------------------------------- */

typedef struct gscratch {
    double *H, *hv, *T, *t, *tmp, *ts, *g, *Lc, *X, *y, *Z, *M, *W;
} gscratch;

size_t gs_doubles(const cai_gauss_plan *p);
void gs_carve(const cai_gauss_plan *p, double *mem, gscratch *s);

/* Where a cluster computation reads its inputs. */
typedef struct gctx {
    const cai_gauss_plan *p;
    const double *up; /* upward messages */
    const double *ev; /* evidence values */
    gscratch *s;
} gctx;

/* Build cluster c's integrand over its base coordinates and factor the
 * integrated block. *out_ok is false when that block is not positive
 * definite (the integral diverges); then *out_fail is the failing pivot.
 * *out_const is the integrand's constant after averaging X. Errors only for
 * non-finite numbers. */
cai_status gc_build_factor(const gctx *x, size_t c, double *out_const,
                           bool *out_ok, size_t *out_fail, cai_error *err);

/* After gc_build_factor succeeded: the message to the up variable (added to
 * J, h, *cst; J and h are skipped when nu == 0) and its constant. */
void gc_message(const gctx *x, size_t c, double cst, double *J, double *h,
                double *out_c);

/* After gc_build_factor succeeded: slot s's variable given the up variable,
 * x_s = K x_u + k + noise of covariance S (any output NULL to skip). */
void gc_conditional(const gctx *x, size_t c, size_t s, double *K, double *k,
                    double *S);

/* The error for a divergent integral in cluster c at pivot fail. */
cai_status gc_divergence_error(const cai_gauss_plan *p, size_t c, size_t fail,
                               cai_error *err);

#endif
