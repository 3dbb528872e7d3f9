/*
 * bigmem.h — allocation of large, short-lived buffers (the COCO reader's
 * arena, the evaluator's tables). Buffers of 2 MB or more are 2 MB aligned and marked for
 * transparent huge pages: on virtual machines a page fault per 4 KB page
 * costs more than the work done on it. Free with free().
 *
 * defines: mr_big_alloc
 */
#ifndef MR_BIGMEM_H
#define MR_BIGMEM_H

#include <stdlib.h>
#include <sys/mman.h>

static inline void *mr_big_alloc(size_t n)
{
    const size_t huge = (size_t)2 << 20;
    if (n < huge) return malloc(n ? n : 1);
    size_t sz = (n + huge - 1) & ~(huge - 1);
    void *p = aligned_alloc(huge, sz);
    if (p) madvise(p, sz, MADV_HUGEPAGE);
    return p;
}

#endif
