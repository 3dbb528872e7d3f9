/*
 * train.h — one SGD step of the detector and its checkpoints.
 *
 * mr_trainer holds what training adds to a model: the learning-rate
 * schedule (linear warm-up, step decay: detectron's WarmupMultiStepLR), the
 * momentum buffer (one allocation of the parameter table's layout), the
 * iteration counter and the sampling RNG. SGD follows PyTorch: g = grad +
 * wd * w (weights only; norms and biases get no decay), v = m v + g,
 * w -= lr v; frozen tensors are never touched.
 *
 * Checkpoints (safetensors): every parameter under its torchvision name,
 * every momentum tensor as "momentum.<name>", and in __metadata__ the
 * iteration, the RNG state, the number of ranks (world_size, 1 for one
 * process) and the caller's config fingerprint; loading a
 * checkpoint restores all of it, so a resumed run continues bit for bit.
 * A checkpoint from another config fails naming the first tensor whose
 * shape differs (or that is missing).
 *
 * defines: mr_schedule, mr_schedule_lr, mr_trainer, mr_trainer_init,
 *   mr_trainer_set_dist, mr_trainer_step, mr_trainer_save, mr_trainer_load, mr_trainer_free,
 *   mr_detector_load_weights, mr_detector_save_weights
 */
#ifndef MR_TRAIN_H
#define MR_TRAIN_H

#include <stdint.h>
#include "core/batch.h"
#include "core/detector.h"
#include "core/dist.h"
#include "core/sgd.h"
#include "core/err.h"
#include "core/pcg32.h"

#define MR_SCHED_MAX_STEPS 8

typedef struct mr_schedule {
    long iters;
    double lr;
    long warmup_iters;
    double warmup_factor;      /* lr multiplier at iteration 0 (1/1000 in the paper's code) */
    int nsteps;
    long steps[MR_SCHED_MAX_STEPS];
    double gamma;              /* 0.1 */
    double momentum;           /* 0.9 */
    double weight_decay;       /* 1e-4 */
} mr_schedule;

/* learning rate at iteration it (0-based) */
double mr_schedule_lr(const mr_schedule *s, long it);
/* The schedule shortened or lengthened to `iters` iterations (--iters):
 * steps scale with it, the warm-up is at most half the run, and the steps
 * stay strictly increasing and >= 1 (a step that would collapse onto the
 * one before moves one iteration later), so the result is a schedule a
 * config may state: RUN/config.json reloads for resume and inference. */
void mr_schedule_scale(mr_schedule *s, long iters);

typedef struct mr_trainer {
    mr_detector *d;
    mr_schedule sch;
    mr_sgd opt;                /* the update (core/sgd.h) */
    float *momentum;           /* opt.buf: params.numel floats, saved in checkpoints */
    long iter;                 /* iterations done */
    mr_pcg32 rng;              /* RoI/anchor sampling */
    double last_lr;
    /* data-parallel training (mr_trainer_set_dist): NULL = one process */
    mr_dist *dist;
    int shard_first, global_batch;
    double grad_sum_sec;       /* wall time of the gradient sums so far */
    double grad_wait_sec;      /* wall time waiting for the slowest rank before them */
} mr_trainer;

int mr_trainer_init(mr_trainer *t, mr_detector *d, const mr_schedule *s, uint64_t seed, mr_err *e);
/* Train as one rank of dist (NULL: one process) on a global batch of
 * global_batch images: mr_trainer_step then takes this rank's images
 * (mr_dist_split), sums the gradients and losses over the ranks in rank
 * order and steps the same weights on every rank. Checkpoints record the
 * number of ranks; loading one written with another number fails. */
int mr_trainer_set_dist(mr_trainer *t, mr_dist *dist, int global_batch, mr_err *e);
/* forward + backward + SGD update; L gets the losses (of the global batch);
 * t->iter++ */
int mr_trainer_step(mr_trainer *t, const mr_batch *b, mr_losses *L, mr_err *e);
/* fingerprint: a string identifying the config (stored, checked on load
 * when non-NULL) */
int mr_trainer_save(const mr_trainer *t, const char *path, const char *fingerprint, mr_err *e);
int mr_trainer_load(mr_trainer *t, const char *path, const char *fingerprint, mr_err *e);
void mr_trainer_free(mr_trainer *t);

/* weights only (inference): every parameter must be present with its shape */
int mr_detector_load_weights(mr_detector *d, const char *path, mr_err *e);
/* Metadata, each NULL for none: categories, the training set's categories
 * as a JSON array in label order (see harness/train_run.c), so that
 * `mrcnn infer --image` names real category ids and keypoints; config, the
 * resolved config trained with (JSON), so that inference with another
 * variant can say what differs. */
int mr_detector_save_weights(const mr_detector *d, const char *path, const char *categories, const char *config,
                             mr_err *e);

#endif
