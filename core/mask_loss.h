/*
 * mask_loss.h — the interface of a mask loss (paper, Table 2b). The variants
 * live in variants/ (mask_loss_sigmoid.c, mask_loss_softmax.c) and are chosen
 * by name through variants/registry.h; the detector only sees this struct.
 *
 * Inputs, for R positive RoIs: logits (R, K, M, M) from the mask head,
 * labels (R) in 1..K-1 (the RoI's ground-truth class; channel 0 is the
 * background), targets (R, M, M) with values in [0, 1] (a pixel counts as
 * foreground when its target is >= 0.5 where a variant needs a hard label).
 *  sigmoid  per-pixel binary cross-entropy on channel labels[r] only; the
 *           other classes get no gradient (torchvision's maskrcnn_loss).
 *  softmax  per-pixel softmax over the K channels, multinomial loss with
 *           target class labels[r] on foreground pixels and 0 elsewhere.
 * Both return the MEAN over R*M*M pixels (0 when R == 0). backward ADDS
 * dloss * d(mean)/d(logits) into dlogits (zero elsewhere untouched). probs
 * gives the inference-time probability map of class `label` for one RoI.
 *
 * defines: mr_mask_loss
 */
#ifndef MR_MASK_LOSS_H
#define MR_MASK_LOSS_H

typedef struct mr_mask_loss {
    const char *name;  /* "sigmoid", "softmax" */
    double (*forward)(int R, int K, int M, const float *logits, const int *labels,
                      const float *targets);
    void (*backward)(int R, int K, int M, const float *logits, const int *labels,
                     const float *targets, float dloss, float *dlogits);
    /* logits of ONE RoI (K, M, M) -> out (M, M) probabilities of `label` */
    void (*probs)(int K, int M, const float *logits, int label, float *out);
} mr_mask_loss;

#endif
