/*
 * tensor.c — tensor views and the activation arena (see tensor.h).
 */
#include "core/tensor.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN 64

mr_tensor mr_tensor_make(float *data, int ndim, const int *shape)
{
    mr_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.ndim = ndim;
    long s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        t.shape[i] = shape[i];
        t.stride[i] = s;
        if (i > 0) s *= shape[i];  /* the outermost size is not needed for strides */
    }
    return t;
}

mr_tensor mr_tensor_4d(float *data, int n, int c, int h, int w)
{
    int shape[4] = {n, c, h, w};
    return mr_tensor_make(data, 4, shape);
}

long mr_tensor_numel(const mr_tensor *t)
{
    long n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

int mr_tensor_is_contiguous(const mr_tensor *t)
{
    long s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}

static size_t block_header(void)
{
    return (sizeof(mr_arena_block) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

static mr_arena_block *block_new(mr_arena *a, size_t size)
{
    void *p = NULL;
    if (posix_memalign(&p, ARENA_ALIGN, block_header() + size) != 0) return NULL;
    mr_arena_block *b = p;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    a->block_allocs++;
    return b;
}

void mr_arena_init(mr_arena *a, size_t block_size)
{
    memset(a, 0, sizeof *a);
    a->block_size = block_size ? block_size : ((size_t)64 << 20);
}

void *mr_arena_alloc(mr_arena *a, size_t bytes)
{
    if (bytes > SIZE_MAX / 2) return NULL;  /* absurd (or a negative size cast): refuse, do not wrap */
    size_t need = (bytes + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need == 0) need = ARENA_ALIGN;
    mr_arena_block *b = a->head;
    if (!b || b->used + need > b->size) {
        size_t size = need > a->block_size ? need : a->block_size;
        mr_arena_block *nb = block_new(a, size);
        if (!nb) return NULL;
        nb->next = b;
        a->head = b = nb;
    }
    void *p = (char *)b + block_header() + b->used;
    b->used += need;
    a->total += need;
    if (a->total > a->high_water) a->high_water = a->total;
    return p;
}

float *mr_arena_floats(mr_arena *a, size_t n)
{
    if (n > SIZE_MAX / sizeof(float)) return NULL;
    return mr_arena_alloc(a, n * sizeof(float));
}

float *mr_arena_zeros(mr_arena *a, size_t n)
{
    float *p = mr_arena_floats(a, n);
    if (p) memset(p, 0, n * sizeof(float));
    return p;
}

mr_tensor mr_arena_tensor4(mr_arena *a, int n, int c, int h, int w)
{
    size_t numel = 0;
    int bad = n < 0 || c < 0 || h < 0 || w < 0 ||
              __builtin_mul_overflow((size_t)n, (size_t)c, &numel) ||
              __builtin_mul_overflow(numel, (size_t)h, &numel) ||
              __builtin_mul_overflow(numel, (size_t)w, &numel);
    return mr_tensor_4d(bad ? NULL : mr_arena_floats(a, numel), n, c, h, w);
}

mr_arena_mark mr_arena_get_mark(const mr_arena *a)
{
    mr_arena_mark m = {a->head, a->head ? a->head->used : 0, a->total};
    return m;
}

void mr_arena_release(mr_arena *a, mr_arena_mark m)
{
    /* Blocks allocated after the mark are freed; they will be folded into one
     * block at the next reset, so steady-state cycles stop allocating. */
    while (a->head && a->head != m.block) {
        mr_arena_block *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    if (a->head) a->head->used = m.used;
    a->total = m.total;
}

void mr_arena_reset(mr_arena *a)
{
    if (a->head && (a->head->next || a->head->size < a->high_water)) {
        /* several blocks, or one smaller than the most ever used: replace
         * them with one block of the high-water size plus a quarter. The
         * headroom matters in training, where the step's peak moves with the
         * number of proposals and positive RoIs: replacing the block at
         * exactly the high water made nearly every step that set a new peak
         * by a few KB map a fresh block of hundreds of MB (83k page faults,
         * ~0.5 s, per step of the torchvision training benchmark). */
        size_t size = a->high_water + a->high_water / 4;
        mr_arena_free(a);
        mr_arena_block *b = block_new(a, size > a->block_size ? size : a->block_size);
        a->head = b;
    }
    if (a->head) a->head->used = 0;
    a->total = 0;
}

void mr_arena_free(mr_arena *a)
{
    while (a->head) {
        mr_arena_block *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    a->total = 0;
}
