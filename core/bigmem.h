/*
 * bigmem.h — allocation of large, short-lived buffers (the COCO reader's
 * arena, the evaluator's tables). Buffers of 1 MB or more are 2 MB aligned, rounded up to 2 MB, and marked for
 * transparent huge pages: on virtual machines a page fault per 4 KB page
 * costs more than the work done on it. Free with free().
 *
 * defines: mr_big_alloc
 */
#ifndef MR_BIGMEM_H
#define MR_BIGMEM_H

#include <stdlib.h>
#include <sys/mman.h>

/* from this size on, whole huge pages: one fault (and a 2 MB clear) instead
 * of 128+ faults of 4 KB, which cost more on a virtual machine */
#ifndef MR_BIG_MIN
#define MR_BIG_MIN ((size_t)1 << 20)
#endif

static inline void *mr_big_alloc(size_t n)
{
    const size_t huge = (size_t)2 << 20;
    if (n < MR_BIG_MIN) return malloc(n ? n : 1);
    size_t sz = (n + huge - 1) & ~(huge - 1);
    void *p = aligned_alloc(huge, sz);
    if (p) madvise(p, sz, MADV_HUGEPAGE);
    return p;
}

#endif
