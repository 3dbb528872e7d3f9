/*
 * params.h — the detector's parameter table: every tensor of the model,
 * named as torchvision's maskrcnn_resnet50_fpn state_dict where a counterpart
 * exists, laid out in ONE allocation (and the gradients in a second one of
 * the same layout), llm.c's fill_in_parameter_sizes style.
 *
 * Building is two-phase. Modules first declare their tensors with
 * mr_params_add (name, shape, initialiser, trainable, and the addresses of
 * the module's `float *` fields that should point at the value and the
 * gradient); mr_params_alloc then makes the two allocations and fills every
 * registered field. Heads that describe themselves with mr_param_desc lists
 * (core/head_params.h) are added as a block with mr_params_add_block.
 * Offsets are 16-float aligned. Initialisation draws from one mr_pcg32 in
 * declaration order, so a seed gives bitwise identical weights.
 *
 * defines: mr_param_init, MR_INIT_*, mr_param_entry, mr_param_table,
 *   mr_params_add, mr_params_add_block, mr_params_alloc, mr_params_init,
 *   mr_params_find, mr_params_free, mr_params_trainable_numel
 */
#ifndef MR_PARAMS_H
#define MR_PARAMS_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "core/head_params.h"
#include "core/pcg32.h"

typedef enum mr_param_init {
    MR_INIT_ZERO = 0,
    MR_INIT_ONE,
    MR_INIT_NORMAL,          /* N(0, a^2) */
    MR_INIT_KAIMING_OUT,     /* N(0, 2 / fan_out): torchvision ResNet convs */
    MR_INIT_KAIMING_IN,      /* N(0, 2 / fan_in) */
    MR_INIT_KAIMING_UNIF_A1, /* U(+-sqrt(3 / fan_in)): FPN convs (kaiming_uniform_, a=1) */
    MR_INIT_TORCH_LINEAR,    /* U(+-1 / sqrt(fan_in)): PyTorch's default Linear/Conv */
    MR_INIT_EXTERNAL,        /* initialised by its owner (a head's *_init) */
} mr_param_init;

typedef struct mr_param_entry {
    mr_param_desc d;         /* name, shape, numel, offset (floats from base) */
    mr_param_init init;
    float init_a;
    int trainable;           /* 0: frozen (never updated, no gradient) */
    int decay;               /* weight decay applies (weights, not norms/biases) */
    float **slot, **gslot;   /* module fields to point at value / gradient */
} mr_param_entry;

typedef struct mr_param_table {
    mr_param_entry *e;
    int n, cap;
    size_t numel;            /* floats, alignment included */
    float *data, *grad;      /* the two allocations (after mr_params_alloc) */
    int failed;              /* an add failed (out of memory / bad shape) */
    char fail_msg[256];
} mr_param_table;

/* Declare a tensor of ndim <= 4 dims (shape in dims[]); slot/gslot may be
 * NULL. Returns the entry index, or -1 (recorded in t->failed). */
int mr_params_add(mr_param_table *t, const char *name, int ndim, const int *dims,
                  mr_param_init init, float init_a, int trainable, float **slot,
                  float **gslot);
/* Declare a head's tensors (descs from its *_params, offsets relative to a
 * block start) contiguously; *block / *gblock are pointed at the block start
 * after allocation. The head initialises them itself. Returns 0 or -1. */
int mr_params_add_block(mr_param_table *t, const mr_param_desc *descs, int n, int trainable,
                        float **block, float **gblock);
/* Allocate values and gradients (zeroed) and resolve every slot. */
int mr_params_alloc(mr_param_table *t, mr_err *e);
/* Draw every non-external tensor's initial values from rng, in order. */
void mr_params_init(mr_param_table *t, mr_pcg32 *rng);
/* the entry called name, or NULL */
const mr_param_entry *mr_params_find(const mr_param_table *t, const char *name);
size_t mr_params_trainable_numel(const mr_param_table *t);
void mr_params_free(mr_param_table *t);

#endif
