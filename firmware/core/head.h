/*
 * head.h — a classification head trained on the board: multinomial logistic regression
 * (linear layer + softmax, cross-entropy, L2), float32, on features cached in RAM.
 *
 * Objective, the one sklearn's LogisticRegression(C, lbfgs, multinomial) minimises:
 *     f(W, b) = sum_i CE(softmax(W z_i + b), y_i) + 1/(2C) ||W||^2      (bias not penalised)
 * where z_i is the feature standardised with the training set's per-dimension mean and standard
 * deviation, computed on the board (pooled int8 features differ in scale by 10-100x between
 * channels; without it the L2 term would shrink the small channels much harder and the optimiser
 * would need many more iterations on the ill-conditioned problem). After training the
 * standardisation is folded into W and b, so inference is a plain dot product on raw features.
 *
 * Optimiser: full-batch L-BFGS with a small history (default 5 pairs) and a backtracking Armijo
 * line search, from W = 0. The problem is smooth and strictly convex, so a quasi-Newton method
 * reaches the optimum in tens of passes over the cached features where first-order methods
 * (SGD/Nesterov/Adam) need hundreds; each pass is the whole cost (N x K x D multiply-adds twice),
 * so fewer passes is less energy. RAM is (3 + 2m) x K x (D + 1) floats plus 3 D + K, sized by
 * head_train_buffer_bytes() and passed by the caller. Stopping rule: the mean gradient's largest
 * component below grad_tol, or the relative decrease of f over the last 10 iterations below
 * 10 x rel_loss_tol (past that point test accuracy no longer moves: measured on real features,
 * docs/results.md), or max_iter (bound).
 * Training has no randomness: the same samples in the same order give bit-identical weights (the
 * seeded part of personalization is the hold-out split, in stage.h).
 *
 * C99, no heap, no OS calls.
 */
#ifndef MICROT_HEAD_H
#define MICROT_HEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEAD_MAX_DIM 2048u
#define HEAD_MAX_CLASSES 64u
#define HEAD_MAX_HISTORY 16u

typedef enum {
    HEAD_OK = 0,
    HEAD_EINVAL = -1,       /* bad argument: sizes out of range, label >= classes, NULL */
    HEAD_ENOSPACE = -2,     /* the caller's buffer is smaller than the *_bytes() function says */
    HEAD_ESTATE = -3,       /* predicting with a head that was never trained */
} head_status_t;

typedef enum {
    HEAD_STOP_GRADIENT = 0, /* mean gradient small enough: converged */
    HEAD_STOP_LOSS = 1,     /* loss no longer decreasing (relative change below tolerance) */
    HEAD_STOP_MAX_ITER = 2, /* iteration bound reached */
    HEAD_STOP_LINE_SEARCH = 3, /* no decrease found along the direction (at numerical precision) */
} head_stop_t;

/* A trained head. weights [classes][dim] row-major and bias [classes] apply to raw features. */
typedef struct {
    uint16_t dim;
    uint16_t classes;
    bool trained;
    float *weights;
    float *bias;
} head_t;

/* A set of cached samples: features [rows][dim] row-major, labels [rows]; `index` lists the rows
 * in the set (NULL: rows 0..count-1). */
typedef struct {
    const float *features;
    const uint8_t *labels;
    const uint16_t *index;
    uint32_t count;
} head_set_t;

typedef struct {
    float c;                /* inverse L2 strength, sklearn's C; > 0 */
    uint16_t history;       /* L-BFGS pairs kept, 1..HEAD_MAX_HISTORY */
    uint16_t max_iter;      /* bound on iterations, >= 1 */
    float grad_tol;         /* stop when max_j |df/dtheta_j| / N <= grad_tol */
    float rel_loss_tol;     /* stop when (f 10 iterations ago - f) / max(f, 1) <= 10 x this */
    bool standardize;       /* standardise features with the training set's mean/std */
} head_train_cfg_t;

typedef struct {
    uint32_t samples;
    uint32_t iterations;    /* accepted L-BFGS steps */
    uint32_t evaluations;   /* passes over the training set (loss + gradient) */
    float loss;             /* final objective f */
    float grad_max;         /* final max |gradient| / N */
    head_stop_t stop;
    uint64_t float_macs;    /* multiply-adds done, for the cost model (energy.h) */
    uint64_t float_exps;    /* expf/logf calls done */
    uint32_t scratch_bytes; /* RAM the training used besides the model */
} head_train_report_t;

/* Defaults: C = 1, history 5, max_iter 300, grad_tol 1e-4, rel_loss_tol 5e-5, standardize. */
head_train_cfg_t head_default_cfg(void);

/* Bytes of the model buffer (weights + bias) for dim x classes. 0 if out of range. */
size_t head_model_bytes(uint32_t dim, uint32_t classes);

/* Bytes of scratch head_train needs for dim x classes with `history` pairs. 0 if out of range. */
size_t head_train_buffer_bytes(uint32_t dim, uint32_t classes, uint32_t history);

/* Binds a head to model_buf (4-byte aligned, head_model_bytes long) and zeroes it. */
head_status_t head_init(head_t *head, uint32_t dim, uint32_t classes, void *model_buf,
                        size_t model_bytes);

/* Trains the head on `set`. scratch must be 4-byte aligned and head_train_buffer_bytes() long.
 * Labels must be < classes; at least one sample. report may be NULL. */
head_status_t head_train(head_t *head, const head_set_t *set, const head_train_cfg_t *cfg,
                         void *scratch, size_t scratch_bytes, head_train_report_t *report);

/* Class of one raw feature vector x [dim]. probs [classes] receives the softmax if not NULL,
 * confidence the max probability if not NULL. Returns the class (>= 0) or a negative status. */
int head_predict(const head_t *head, const float *x, float *probs, float *confidence);

/* Multiply-adds and exponentials of one head_predict, for the cost model. */
uint64_t head_predict_macs(const head_t *head);
uint64_t head_predict_exps(const head_t *head);

#endif /* MICROT_HEAD_H */
