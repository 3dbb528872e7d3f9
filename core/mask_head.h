/*
 * mask_head.h — THE interface of a mask head, the mask branch of Mask R-CNN:
 * per-RoI features in, K class mask logits out, forward and backward over a
 * batch of RoIs. The detector (core/) calls only this header; the heads live
 * one per file in variants/mask_head_*.c and are found by name through
 * variants/registry.h (registry kind "mask_head"). Core never asks which
 * head it has.
 *
 * A head is a constant descriptor (struct mr_mask_head: its knobs and
 * function pointers) plus its own state (state_size bytes, zeroed, owned by
 * the caller), which configure() fills from the input shape the detector
 * gives (mr_mask_head_io) and the values of the head's knobs. The registered
 * heads (paper, Table 2e, and one more):
 *   fcn         nconv x [3x3 conv + ReLU], 2x2 stride-2 deconv + ReLU, 1x1
 *               conv to K logits (torchvision's MaskRCNNHeads +
 *               MaskRCNNPredictor); on the C4 tap's res5 output no convs
 *   mlp         flatten, nfc x [fc + ReLU], fc to K*28*28 (Table 2e's MLP rows)
 *   fcn_resize  as fcn, with nearest 2x upsampling + 3x3 conv + ReLU in place
 *               of the deconv (the resize-convolution of Odena et al. 2016,
 *               free of the deconv's checkerboard pattern)
 * Layouts: x (R, in_ch, in_size, in_size), logits (R, K, out, out) with out
 * given by out_size() after configure. K counts the background (channel 0),
 * as torchvision's num_classes does.
 *
 * Knobs: each head declares the fields of the config's "heads" object it
 * reads besides the shared ones (mask_width), as named integers with a
 * default and a range; variants/config.c parses them generically and the
 * detector spec carries their values (mr_detector_spec.mask_knobs, in the
 * head's order). A knob at its default is left out of the resolved config
 * (unless `always`) and of the model fingerprint, so adding one changes
 * nothing for existing runs.
 *
 * Parameters: params() lists the head's tensors (torchvision 0.14 names
 * where a counterpart exists; every name starts with "mask_") as
 * core/head_params.h describes: the detector reserves the block and hands
 * it to bind(). Activations and scratch come from the caller's arena;
 * backward ADDS into the bound gradients (and into dx), as the layers do.
 *
 * ADDING A HEAD: one file in variants/ defining `const struct mr_mask_head
 * mr_mask_head_<x>` and one X(MASK_HEAD, ...) line in variants/registry.c,
 * plus its row in tests/test_variants.c; nothing in core/.
 *
 * defines: MR_MASK_MAX_KNOBS, MR_MASK_ACTS_MAX, mr_mask_knob, mr_mask_head_io,
 *   mr_mask_head_acts, mr_mask_head, mr_mask_head_knob_defaults,
 *   mr_mask_head_knob_index, mr_mask_head_check_desc, mr_mask_head_configure,
 *   mr_mask_head_numel,
 *   mr_mask_head_bad, mr_mask_head_oom
 */
#ifndef MR_MASK_HEAD_H
#define MR_MASK_HEAD_H

#include <stddef.h>
#include "core/err.h"
#include "core/head_params.h"
#include "core/pcg32.h"
#include "core/tensor.h"

#define MR_MASK_MAX_KNOBS 4
#define MR_MASK_ACTS_MAX 256   /* bytes of a head's acts (what forward keeps) */

/* One integer field of the config's "heads" object that a head reads. */
typedef struct mr_mask_knob {
    const char *name;   /* the config field, e.g. "mask_mlp_layers" */
    int def, lo, hi;    /* default and inclusive range */
    const char *fp;     /* fingerprint tag (" <fp><value>" when not the default) */
    int always;         /* 1: written to the resolved config even at its default */
    const char *doc;    /* one line for docs and --help */
} mr_mask_knob;

/* What the detector tells a head before it declares its tensors. */
typedef struct mr_mask_head_io {
    int in_ch;          /* RoI feature channels: 256 (FPN), res5's (C4) */
    int in_size;        /* RoI feature side: 14 (FPN), 7 (C4's res5 output) */
    int num_classes;    /* K, background included */
    int width;          /* heads.mask_width: the head's layer width */
    int res5_input;     /* 1: x is the C4 tap's res5 head output (paper Fig. 4
                         * left), already convolved: FCN heads skip their convs */
    const int *knobs;   /* the values of the head's knobs, in its order */
} mr_mask_head_io;

/* What forward keeps for backward: opaque to the caller, laid out by the head
 * (acts_size <= MR_MASK_ACTS_MAX bytes). */
typedef union mr_mask_head_acts {
    unsigned char bytes[MR_MASK_ACTS_MAX];
    void *align_p;
    double align_d;
} mr_mask_head_acts;

struct mr_mask_head {
    const char *name;       /* registry name */
    const char *summary;    /* one line */
    int nknobs;
    mr_mask_knob knobs[MR_MASK_MAX_KNOBS];
    size_t state_size;      /* bytes of the configured head (its sizes and tensor pointers) */
    size_t acts_size;       /* bytes of its mr_mask_head_acts use */
    /* validate io (MR_EUSER "mask head: <field> = <v>, expected ...") and
     * fill state (zeroed, state_size bytes) */
    int (*configure)(void *state, const mr_mask_head_io *io, mr_err *e);
    /* side of the output masks */
    int (*out_size)(const void *state);
    /* describe the tensors into out[0..max) (out may be NULL to count),
     * names prefixed by prefix (NULL = ""); returns how many there are */
    int (*params)(const void *state, const char *prefix, mr_param_desc *out, int max);
    /* point the head at params (and grads, NULL for inference), blocks of
     * mr_mask_head_numel floats laid out as params lists them */
    void (*bind)(void *state, float *params, float *grads);
    /* initial weights (deterministic for an rng state) */
    void (*init)(void *state, mr_pcg32 *rng);
    /* forward R RoIs (R may be 0): the activations in a, *logits (R, K, out,
     * out) among them; MR_ENOMEM when the arena cannot grow */
    int (*forward)(const void *state, int R, const float *x, mr_arena *a, mr_mask_head_acts *acts,
                   float **logits, mr_err *e);
    /* from dlogits: parameter gradients += (if bound), dx += (NULL = not
     * needed); scratch from a, released before returning */
    int (*backward)(const void *state, const float *x, const mr_mask_head_acts *acts,
                    const float *dlogits, float *dx, mr_arena *a, mr_err *e);
};
typedef struct mr_mask_head mr_mask_head;

/* vals[0 .. h->nknobs) = the knobs' defaults */
void mr_mask_head_knob_defaults(const mr_mask_head *h, int *vals);
/* index of the knob called name, or -1 */
int mr_mask_head_knob_index(const mr_mask_head *h, const char *name);
/* MR_EINTERNAL naming the head when its descriptor is incomplete (a NULL
 * function, too many knobs, acts larger than MR_MASK_ACTS_MAX) */
int mr_mask_head_check_desc(const mr_mask_head *h, mr_err *e);
/* Check io's knob values against h's ranges (MR_EUSER "mask head <name>:
 * <knob> = <v>, expected lo..hi"), then h->configure(state, io). What the
 * detector calls; state is zeroed, h->state_size bytes. */
int mr_mask_head_configure(const mr_mask_head *h, void *state, const mr_mask_head_io *io, mr_err *e);
/* floats of the head's parameter block (aligned offsets included) */
size_t mr_mask_head_numel(const mr_mask_head *h, const void *state);
/* for implementations: MR_EUSER "mask head: <field> = <v>, expected <want>" */
int mr_mask_head_bad(mr_err *e, const char *field, int v, const char *want);
/* MR_ENOMEM: "mask head: out of memory for WHAT (R RoIs)" */
int mr_mask_head_oom(mr_err *e, const char *what, int R);

#endif
