/*
 * tensor.h — float32 NCHW tensors and the arena that holds activations.
 *
 * A tensor is a view: a data pointer plus shape and strides (in elements). It
 * owns nothing. Storage comes from an mr_arena: a bump allocator over large
 * blocks. A training step or a forward pass allocates its activations from an
 * arena and calls mr_arena_reset() at the end; after the first step the arena
 * has grown to its high-water mark and later steps call malloc zero times
 * (mr_arena_stats reports block allocations so tests can check that).
 *
 * defines: mr_tensor, mr_tensor_make, mr_tensor_numel, mr_tensor_is_contiguous,
 *          mr_arena, mr_arena_init, mr_arena_alloc, mr_arena_alloc_tensor,
 *          mr_arena_mark, mr_arena_release, mr_arena_reset, mr_arena_free
 */
#ifndef MR_TENSOR_H
#define MR_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#define MR_MAX_DIMS 4

typedef struct mr_tensor {
    float *data;
    int ndim;
    int shape[MR_MAX_DIMS];    /* N, C, H, W for 4-d tensors */
    long stride[MR_MAX_DIMS];  /* in elements */
} mr_tensor;

/* A contiguous view of data with the given shape (ndim <= 4). */
mr_tensor mr_tensor_make(float *data, int ndim, const int *shape);
mr_tensor mr_tensor_4d(float *data, int n, int c, int h, int w);
long mr_tensor_numel(const mr_tensor *t);
int mr_tensor_is_contiguous(const mr_tensor *t);

typedef struct mr_arena_block {
    struct mr_arena_block *next;
    size_t size, used;
    /* data follows, 64-byte aligned */
} mr_arena_block;

typedef struct mr_arena {
    mr_arena_block *head;      /* current block (blocks are a list, newest first) */
    size_t block_size;         /* default size of a new block */
    size_t total, high_water;  /* bytes handed out now, and the most ever */
    long block_allocs;         /* how many times malloc was called */
} mr_arena;

typedef struct mr_arena_mark { mr_arena_block *block; size_t used, total; } mr_arena_mark;

void mr_arena_init(mr_arena *a, size_t block_size);
/* 64-byte aligned, uninitialised; NULL when malloc fails or bytes is absurd
 * (over SIZE_MAX / 2, e.g. a negative size cast to size_t). */
void *mr_arena_alloc(mr_arena *a, size_t bytes);
float *mr_arena_floats(mr_arena *a, size_t n);          /* uninitialised */
float *mr_arena_zeros(mr_arena *a, size_t n);           /* zero-filled */
/* data NULL when malloc fails or the shape is negative or overflows */
mr_tensor mr_arena_tensor4(mr_arena *a, int n, int c, int h, int w);
mr_arena_mark mr_arena_get_mark(const mr_arena *a);
void mr_arena_release(mr_arena *a, mr_arena_mark m);    /* free everything after the mark */
/* Forget all allocations; when the arena spans several blocks it is
 * consolidated into one block of the high-water size so that the next cycle
 * needs no further malloc. */
void mr_arena_reset(mr_arena *a);
void mr_arena_free(mr_arena *a);

#endif
