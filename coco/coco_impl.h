/*
 * coco_impl.h — private to coco/: the state behind mr_coco.impl (the arena
 * that owns every string and array, the id maps) and the helpers model.c,
 * read.c and write.c share. Nothing outside coco/ includes it.
 *
 * defines: coco_impl, coco_arena_blk, coco_idmap, coco_impl_of,
 *          coco_arena_alloc, coco_arena_tail, coco_arena_commit, coco_arena_trim, coco_arena_strdup, coco_grow, coco_fail_free,
 *          coco_build_lists, coco_seg_area_box,
 *          coco_read_skipped_segm, coco_measure_string
 */
#ifndef MR_COCO_IMPL_H
#define MR_COCO_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include "coco/coco.h"

typedef struct arena_blk { struct arena_blk *next; size_t used, cap; char data[]; } arena_blk;

typedef struct idmap { int64_t *keys; int32_t *vals; size_t cap; } idmap;

typedef struct coco_impl {
    arena_blk *blk;
    idmap imgs, cats;
    size_t cap_images, cap_cats, cap_anns;
    size_t arena_hint;   /* the input's size, when known: sizes the arena's first block */
    int borrowed;   /* results: images/cats arrays and their id maps borrowed from gt */
    /* while the reader finishes: its window, no longer needed, lent to
     * mr_coco_finish for the annotation-id check's table (memory already
     * touched, instead of fresh pages); NULL otherwise */
    void *scratch;
    size_t scratch_len;
} coco_impl;

/* model.c */
coco_impl *coco_impl_of(mr_coco *c);                 /* created on first use; NULL when out of memory */
void *coco_arena_alloc(coco_impl *im, size_t n);     /* 8-byte aligned, owned by the arena */
/* the free end of the arena's current block, at least min bytes (a new
 * block when fewer are left), *avail of them; nothing is allocated until
 * coco_arena_commit(n) takes the first n (8-aligned). For data written in
 * place whose size is known only after (numbers parsed into the arena) */
void *coco_arena_tail(coco_impl *im, size_t min, size_t *avail);
void coco_arena_commit(coco_impl *im, size_t n);
/* give back the end of the arena's last allocation p (n bytes, now keep) */
void coco_arena_trim(coco_impl *im, void *p, size_t n, size_t keep);
char *coco_arena_strdup(coco_impl *im, const char *s, size_t n);
int coco_grow(void **arr, size_t *cap, size_t need, size_t elem);   /* 0, or -1 when out of memory */
int coco_fail_free(mr_coco *c, int rc, const mr_err *e);            /* frees c; the error's code */
int coco_build_lists(mr_coco *c, mr_err *e);
int coco_seg_area_box(const mr_coco_ann *a, const mr_coco_image *img, double *area, double bb[4], mr_err *e);

/* read.c */
/* a compressed string's check (alphabet, counts summing to h*w) and its
 * area and box into seg (segm_area, mask_bbox, has_mask_bbox) */
int coco_measure_string(mr_coco_seg *seg, const char *str, size_t slen, mr_err *e);
int coco_read_skipped_segm(mr_coco *c, mr_coco_ann *a, size_t i, mr_err *e);

#endif
