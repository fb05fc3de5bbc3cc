/*
 * head.c — multinomial logistic regression trained by full-batch L-BFGS (see head.h for the
 * objective, the choice of optimiser and the stopping rule).
 *
 * Parameters theta = [W (classes x dim, row-major) | b (classes)] live in the head's model buffer
 * during training (so no copy of them is kept in scratch); the standardisation is folded into them
 * at the end. Scratch layout (floats): mean[D] inv_sd[D] z[D] p[K] g[P] g_trial[P] d[P]
 * S[m][P] Y[m][P] rho[m] alpha[m], P = K (D + 1).
 */
#include "head.h"

#include <math.h>
#include <string.h>

#define HEAD_ARMIJO_C1 1e-4f        /* sufficient-decrease constant (Nocedal & Wright's choice) */
#define HEAD_MAX_BACKTRACKS 30u     /* halvings before giving up on a direction (2^-30 step) */
/* The loss rule looks at the decrease over this many iterations, not one: a single short
 * L-BFGS step (common on ill-conditioned features) must not end training early. */
#define HEAD_LOSS_WINDOW 10u

typedef struct {
    const head_set_t *set;
    uint32_t dim, classes;
    const float *mean, *inv_sd;     /* NULL: features used raw */
    float *z, *p;                   /* one standardised row, one probability vector */
    float inv_c;
    uint64_t macs, exps;
} head_problem_t;

head_train_cfg_t head_default_cfg(void)
{
    head_train_cfg_t cfg = {
        .c = 1.0f, .history = 5u, .max_iter = 300u, .grad_tol = 1e-4f, .rel_loss_tol = 5e-5f,
        .standardize = true,
    };
    return cfg;
}

static bool head_dims_ok(uint32_t dim, uint32_t classes)
{
    return dim >= 1u && dim <= HEAD_MAX_DIM && classes >= 2u && classes <= HEAD_MAX_CLASSES;
}

size_t head_model_bytes(uint32_t dim, uint32_t classes)
{
    if (!head_dims_ok(dim, classes))
        return 0;
    return (size_t)classes * (dim + 1u) * sizeof(float);
}

size_t head_train_buffer_bytes(uint32_t dim, uint32_t classes, uint32_t history)
{
    if (!head_dims_ok(dim, classes) || history < 1u || history > HEAD_MAX_HISTORY)
        return 0;
    size_t params = (size_t)classes * (dim + 1u);
    size_t floats = 3u * dim + classes + 3u * params + 2u * history * params + 2u * history;
    return floats * sizeof(float);
}

head_status_t head_init(head_t *head, uint32_t dim, uint32_t classes, void *model_buf,
                        size_t model_bytes)
{
    if (head == NULL || model_buf == NULL || !head_dims_ok(dim, classes) ||
        ((uintptr_t)model_buf & 3u) != 0)
        return HEAD_EINVAL;
    if (model_bytes < head_model_bytes(dim, classes))
        return HEAD_ENOSPACE;
    head->dim = (uint16_t)dim;
    head->classes = (uint16_t)classes;
    head->trained = false;
    head->weights = (float *)model_buf;
    head->bias = head->weights + (size_t)classes * dim;
    memset(model_buf, 0, head_model_bytes(dim, classes));
    return HEAD_OK;
}

static uint32_t head_row_of(const head_set_t *set, uint32_t k)
{
    return set->index != NULL ? set->index[k] : k;
}

static float head_dot(const float *a, const float *b, size_t n)
{
    float s = 0.0f;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

/* Standardised copy of one row into pb->z (or the raw row if no standardisation). */
static const float *head_input(head_problem_t *pb, uint32_t k)
{
    const float *x = pb->set->features + (size_t)head_row_of(pb->set, k) * pb->dim;
    if (pb->mean == NULL)
        return x;
    for (uint32_t j = 0; j < pb->dim; j++)
        pb->z[j] = (x[j] - pb->mean[j]) * pb->inv_sd[j];
    pb->macs += pb->dim;
    return pb->z;
}

/* Objective and gradient at theta (see head.h). The loss is summed in double: near the optimum
 * successive values differ by less than float's resolution of a sum of N terms, and the line
 * search compares them. */
static float head_eval(head_problem_t *pb, const float *theta, float *grad)
{
    const uint32_t D = pb->dim, K = pb->classes;
    const float *W = theta, *b = theta + (size_t)K * D;
    float *gW = grad, *gb = grad + (size_t)K * D;
    double loss = 0.0;
    float reg = 0.0f;

    for (size_t j = 0; j < (size_t)K * D; j++) {
        reg += W[j] * W[j];
        gW[j] = W[j] * pb->inv_c;
    }
    for (uint32_t k = 0; k < K; k++)
        gb[k] = 0.0f;
    pb->macs += 2u * (uint64_t)K * D;

    for (uint32_t i = 0; i < pb->set->count; i++) {
        const float *z = head_input(pb, i);
        uint8_t y = pb->set->labels[head_row_of(pb->set, i)];
        float smax = -INFINITY;
        for (uint32_t k = 0; k < K; k++) {
            pb->p[k] = b[k] + head_dot(W + (size_t)k * D, z, D);
            if (pb->p[k] > smax)
                smax = pb->p[k];
        }
        float score_y = pb->p[y], sum = 0.0f;
        for (uint32_t k = 0; k < K; k++) {
            pb->p[k] = expf(pb->p[k] - smax);
            sum += pb->p[k];
        }
        loss += (double)(smax + logf(sum) - score_y);
        float inv_sum = 1.0f / sum;
        for (uint32_t k = 0; k < K; k++) {
            float r = pb->p[k] * inv_sum - (k == y ? 1.0f : 0.0f);  /* dCE/dscore_k */
            float *gk = gW + (size_t)k * D;
            for (uint32_t j = 0; j < D; j++)
                gk[j] += r * z[j];
            gb[k] += r;
        }
        pb->macs += 2u * (uint64_t)K * D;
        pb->exps += K + 1u;
    }
    return (float)(loss + 0.5 * (double)pb->inv_c * (double)reg);
}

/* Mean and 1/std (population, as sklearn's StandardScaler) per dimension; zero-variance
 * dimensions get scale 1. Accumulated in double: one pass per dimension, done once. */
static void head_standardizer(const head_set_t *set, uint32_t D, float *mean, float *inv_sd,
                              uint64_t *macs)
{
    for (uint32_t j = 0; j < D; j++) {
        double s = 0.0, ss = 0.0;
        for (uint32_t i = 0; i < set->count; i++) {
            double v = set->features[(size_t)head_row_of(set, i) * D + j];
            s += v;
            ss += v * v;
        }
        double m = s / set->count;
        double var = ss / set->count - m * m;
        mean[j] = (float)m;
        inv_sd[j] = var > 1e-12 ? (float)(1.0 / sqrt(var)) : 1.0f;
    }
    *macs += 2u * (uint64_t)D * set->count;
}

head_status_t head_train(head_t *head, const head_set_t *set, const head_train_cfg_t *cfg,
                         void *scratch, size_t scratch_bytes, head_train_report_t *report)
{
    head_status_t st = HEAD_OK;
    if (head == NULL || set == NULL || cfg == NULL || scratch == NULL || set->features == NULL ||
        set->labels == NULL || set->count == 0 || ((uintptr_t)scratch & 3u) != 0 ||
        head->weights == NULL || !(cfg->c > 0.0f) || cfg->max_iter == 0)
        return HEAD_EINVAL;
    const uint32_t D = head->dim, K = head->classes, m = cfg->history;
    size_t need = head_train_buffer_bytes(D, K, m);
    if (need == 0)
        return HEAD_EINVAL;
    if (scratch_bytes < need)
        return HEAD_ENOSPACE;
    for (uint32_t i = 0; i < set->count; i++)
        if (set->labels[head_row_of(set, i)] >= K)
            return HEAD_EINVAL;

    const size_t P = (size_t)K * (D + 1u);
    float *f32 = (float *)scratch;
    float *mean = f32, *inv_sd = mean + D, *z = inv_sd + D, *p = z + D;
    float *g = p + K, *gt = g + P, *d = gt + P, *S = d + P, *Y = S + (size_t)m * P;
    float *rho = Y + (size_t)m * P, *alpha = rho + m;
    float *x = head->weights;   /* theta lives in the model buffer, bias right after W */

    head_problem_t pb = {
        .set = set, .dim = D, .classes = K, .z = z, .p = p, .inv_c = 1.0f / cfg->c,
    };
    if (cfg->standardize) {
        head_standardizer(set, D, mean, inv_sd, &pb.macs);
        pb.mean = mean;
        pb.inv_sd = inv_sd;
    }

    memset(x, 0, P * sizeof(float));
    head->trained = false;
    const float n = (float)set->count;
    uint32_t stored = 0, newest = 0, iter = 0, evals = 0;
    float gamma = 1.0f;
    head_stop_t stop = HEAD_STOP_MAX_ITER;
    float f = head_eval(&pb, x, g);
    float f_hist[HEAD_LOSS_WINDOW];     /* ring: slot i % W holds f after iteration i */
    f_hist[0] = f;
    evals++;

    for (;;) {
        float gmax = 0.0f;
        for (size_t j = 0; j < P; j++)
            if (fabsf(g[j]) > gmax)
                gmax = fabsf(g[j]);
        if (gmax / n <= cfg->grad_tol) {
            stop = HEAD_STOP_GRADIENT;
            break;
        }
        if (iter >= cfg->max_iter) {
            stop = HEAD_STOP_MAX_ITER;
            break;
        }

        /* Two-loop recursion: d = -H g with H built from the stored (s, y) pairs. */
        memcpy(d, g, P * sizeof(float));
        for (uint32_t c = 0; c < stored; c++) {
            uint32_t slot = (newest + m - c) % m;
            alpha[slot] = rho[slot] * head_dot(S + (size_t)slot * P, d, P);
            const float *ys = Y + (size_t)slot * P;
            for (size_t j = 0; j < P; j++)
                d[j] -= alpha[slot] * ys[j];
        }
        for (size_t j = 0; j < P; j++)
            d[j] *= gamma;
        for (uint32_t c = stored; c-- > 0;) {
            uint32_t slot = (newest + m - c) % m;
            float beta = rho[slot] * head_dot(Y + (size_t)slot * P, d, P);
            const float *ss = S + (size_t)slot * P;
            for (size_t j = 0; j < P; j++)
                d[j] += (alpha[slot] - beta) * ss[j];
        }
        for (size_t j = 0; j < P; j++)
            d[j] = -d[j];
        pb.macs += (uint64_t)(4u * stored + 2u) * P;
        float gd = head_dot(g, d, P);
        float t = 1.0f;
        if (!(gd < 0.0f) || stored == 0) {
            /* No curvature yet, or a non-descent direction from round-off: restart on the
             * steepest descent, scaled so the first step moves theta by at most ~1. */
            stored = 0;
            for (size_t j = 0; j < P; j++)
                d[j] = -g[j];
            gd = -head_dot(g, g, P);
            t = 1.0f / sqrtf(-gd);
        }

        /* Backtracking Armijo line search, stepping x in place (x += (t - t_prev) d). */
        float t_prev = 0.0f, f_new = f;
        bool accepted = false;
        for (uint32_t ls = 0; ls < HEAD_MAX_BACKTRACKS; ls++) {
            float delta = t - t_prev;
            for (size_t j = 0; j < P; j++)
                x[j] += delta * d[j];
            t_prev = t;
            f_new = head_eval(&pb, x, gt);
            evals++;
            pb.macs += P;
            if (f_new <= f + HEAD_ARMIJO_C1 * t * gd) {
                accepted = true;
                break;
            }
            t *= 0.5f;
        }
        if (!accepted) {
            for (size_t j = 0; j < P; j++)
                x[j] -= t_prev * d[j];
            stop = HEAD_STOP_LINE_SEARCH;
            break;
        }

        /* Store s = t d, y = g_new - g; skip the pair if curvature is not positive (cannot
         * happen for this strictly convex f in exact arithmetic, can by round-off). */
        uint32_t slot = stored == 0 ? 0 : (newest + 1u) % m;
        float *s_new = S + (size_t)slot * P, *y_new = Y + (size_t)slot * P;
        for (size_t j = 0; j < P; j++) {
            s_new[j] = t * d[j];
            y_new[j] = gt[j] - g[j];
        }
        float sy = head_dot(s_new, y_new, P), yy = head_dot(y_new, y_new, P);
        pb.macs += 4u * P;
        if (sy > 1e-10f * yy && yy > 0.0f) {
            rho[slot] = 1.0f / sy;
            gamma = sy / yy;
            newest = slot;
            if (stored < m)
                stored++;
        }
        float *tmp = g;
        g = gt;
        gt = tmp;
        /* Loss rule: the relative decrease over the last W iterations. */
        iter++;
        f = f_new;
        float f_old = iter >= HEAD_LOSS_WINDOW ? f_hist[iter % HEAD_LOSS_WINDOW] : INFINITY;
        f_hist[iter % HEAD_LOSS_WINDOW] = f;
        float rel = (f_old - f) / (fabsf(f) > 1.0f ? fabsf(f) : 1.0f);
        if (rel <= cfg->rel_loss_tol * (float)HEAD_LOSS_WINDOW) {
            stop = HEAD_STOP_LOSS;
            break;
        }
    }

    /* Fold the standardisation into the weights: W z + b = (W / sd) x + (b - W mean / sd). */
    if (cfg->standardize) {
        for (uint32_t k = 0; k < K; k++) {
            float *wk = x + (size_t)k * D;
            float shift = 0.0f;
            for (uint32_t j = 0; j < D; j++) {
                wk[j] *= inv_sd[j];
                shift += wk[j] * mean[j];
            }
            head->bias[k] -= shift;
        }
        pb.macs += 2u * (uint64_t)K * D;
    }
    head->trained = true;

    if (report != NULL) {
        float gmax = 0.0f;
        for (size_t j = 0; j < P; j++)
            if (fabsf(g[j]) > gmax)
                gmax = fabsf(g[j]);
        report->samples = set->count;
        report->iterations = iter;
        report->evaluations = evals;
        report->loss = f;
        report->grad_max = gmax / n;
        report->stop = stop;
        report->float_macs = pb.macs;
        report->float_exps = pb.exps;
        report->scratch_bytes = (uint32_t)need;
    }
    return st;
}

int head_predict(const head_t *head, const float *x, float *probs, float *confidence)
{
    if (head == NULL || x == NULL || head->weights == NULL)
        return HEAD_EINVAL;
    if (!head->trained)
        return HEAD_ESTATE;
    float local[HEAD_MAX_CLASSES];
    float *p = probs != NULL ? probs : local;
    const uint32_t D = head->dim, K = head->classes;
    float smax = -INFINITY;
    int best = 0;
    for (uint32_t k = 0; k < K; k++) {
        p[k] = head->bias[k] + head_dot(head->weights + (size_t)k * D, x, D);
        if (p[k] > smax) {
            smax = p[k];
            best = (int)k;
        }
    }
    float sum = 0.0f;
    for (uint32_t k = 0; k < K; k++) {
        p[k] = expf(p[k] - smax);
        sum += p[k];
    }
    for (uint32_t k = 0; k < K; k++)
        p[k] /= sum;
    if (confidence != NULL)
        *confidence = p[best];
    return best;
}

uint64_t head_predict_macs(const head_t *head)
{
    return head == NULL ? 0 : (uint64_t)head->classes * head->dim;
}

uint64_t head_predict_exps(const head_t *head)
{
    return head == NULL ? 0 : head->classes;
}
