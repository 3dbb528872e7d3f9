/*
 * sgd.h — stochastic gradient descent with momentum and weight decay over
 * the one flat parameter allocation, and the learning-rate schedule of the
 * paper (linear warm-up, then step decay), as PyTorch / detectron2 define
 * them:
 *   step      g = grad + wd * p;  buf = momentum * buf + g;  p -= lr * lr_mult * buf
 *             (torch.optim.SGD, dampening 0, no Nesterov; buf starts at 0,
 *             so the first step sets buf = g exactly as PyTorch does)
 *   schedule  lr(it) = base_lr * warm(it) * gamma^(number of steps <= it)
 *             warm(it) = warmup_factor * (1 - a) + a, a = it / warmup_iters,
 *             for it < warmup_iters, else 1 (detectron2's WarmupMultiStepLR,
 *             method "linear"); it counts from 0.
 * Parameters are grouped by ranges of the flat array, each with its own
 * weight decay (e.g. 0 for norm parameters) and lr multiplier; elements in no
 * group are frozen (never updated). Element-wise OpenMP loops with static
 * schedules: the result does not depend on the thread count.
 *
 * defines: mr_sgd_group, mr_lr_schedule, MR_LR_MAX_STEPS, mr_lr_schedule_check,
 *   mr_lr_at, mr_sgd, mr_sgd_init, mr_sgd_step, mr_sgd_free
 */
#ifndef MR_SGD_H
#define MR_SGD_H

#include <stddef.h>

#include "core/err.h"

/* params[offset, offset + count) share weight_decay and lr_mult */
typedef struct mr_sgd_group {
    size_t offset, count;
    float weight_decay;
    float lr_mult;     /* 1 for the usual case */
} mr_sgd_group;

#define MR_LR_MAX_STEPS 8

typedef struct mr_lr_schedule {
    float base_lr;
    long warmup_iters;    /* 0: no warm-up */
    float warmup_factor;  /* lr factor at iteration 0, in (0, 1] */
    int nsteps;
    long steps[MR_LR_MAX_STEPS];  /* strictly increasing iterations */
    float gamma;          /* decay factor at each step */
} mr_lr_schedule;

/* MR_EUSER naming the field when the schedule is not usable */
int mr_lr_schedule_check(const mr_lr_schedule *s, mr_err *e);
/* learning rate at iteration it (0-based) */
float mr_lr_at(const mr_lr_schedule *s, long it);

typedef struct mr_sgd {
    size_t n;            /* parameters in the flat array */
    float momentum;
    float *buf;          /* momentum, n floats (saved in checkpoints) */
    mr_sgd_group *groups;
    int ngroups;
} mr_sgd;

/* Validates the groups (inside [0, n), not overlapping, finite values) and
 * allocates a zeroed momentum buffer. */
int mr_sgd_init(mr_sgd *o, size_t n, float momentum, const mr_sgd_group *groups, int ngroups,
                mr_err *e);
/* one update of params (n floats) from grads at learning rate lr */
void mr_sgd_step(mr_sgd *o, float *params, const float *grads, float lr);
void mr_sgd_free(mr_sgd *o);

#endif
