/*
 * head_params.h — how a head describes its parameters to the detector.
 *
 * The detector keeps all parameters in one allocation (and all gradients in a
 * second one of the same layout), llm.c style. A head does not allocate: it
 * lists its tensors (torchvision state_dict name, shape, offset within the
 * head's block) with its *_params() function, the detector reserves
 * *_numel() floats for it inside its block, and hands the head pointers with
 * *_bind(). Offsets are in floats from the start of the head's block, in the
 * order listed; every tensor starts 16-float aligned within the block.
 *
 * mr_param_lister (core/head_params.c) is the listing loop a head's
 * *_params() can run twice: once to count (out NULL), once to fill.
 *
 * defines: mr_param_desc, MR_PARAM_NAME_MAX, mr_param_align, mr_param_lister,
 *          mr_param_lister_add
 */
#ifndef MR_HEAD_PARAMS_H
#define MR_HEAD_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#define MR_PARAM_NAME_MAX 96

typedef struct mr_param_desc {
    char name[MR_PARAM_NAME_MAX];  /* e.g. "roi_heads.mask_head.0.0.weight" */
    int ndim;
    int64_t shape[4];
    size_t numel;
    size_t offset;                 /* floats from the start of the head's block */
} mr_param_desc;

/* round a float count up to the 16-float (64-byte) boundary used for offsets */
static inline size_t mr_param_align(size_t n) { return (n + 15) & ~(size_t)15; }

/* Lists tensors into out[0..max) (out NULL: only counts); n counts every
 * tensor added, off is the next aligned offset (the block's numel at the end). */
typedef struct mr_param_lister {
    mr_param_desc *out;
    int max, n;
    size_t off;
    const char *prefix;   /* prepended to every name ("" for none) */
} mr_param_lister;

/* the next tensor: name (after the prefix), ndim of the shape d0..d3 */
void mr_param_lister_add(mr_param_lister *l, const char *name, int ndim, int64_t d0, int64_t d1,
                         int64_t d2, int64_t d3);

#endif
