/*
 * read.c — reading COCO files (coco.h): the streaming reader for
 * ground-truth and results files (coco/json_fast.h) over a window that
 * slides through the file, and the second half of pycocotools' loadRes
 * (ids, areas and boxes of results).
 * The model it fills is model.c's.
 */
#include "coco/coco_impl.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "core/bigmem.h"
#include "coco/json_fast.h"

/* ---- the reader ---- */

/* a file read through a window (so that a large file needs neither its
 * size in fresh memory nor a mapping faulted page by page): records are
 * parsed from the window, which slides forward between records; a record
 * that does not fit is parsed again in a window twice the size. */
typedef struct stream {
    FILE *f;
    char *win; size_t cap;   /* window of cap bytes (+ MR_JR_PAD zeros) */
    size_t base;             /* file offset of win[0] */
    size_t size;             /* the file's size when opened */
    int eof, io_failed;
} stream;

typedef struct reader {
    mr_jr j;
    mr_coco *c;
    coco_impl *im;
    /* the record being read, for messages: "sect[idx]", "sect" (idx
     * NO_IDX) or nothing (sect NULL); formatted into where on error only */
    const char *sect; size_t idx;
    char where[160];
    double *nums; size_t nnums, cap_nums;   /* scratch for number arrays */
    uint32_t *cnt_tmp; size_t cap_cnt_tmp;  /* scratch for RLE counts */
    int lazy_rle;    /* keep compressed strings undecoded (results files) */
    int defer_masks; /* MR_COCO_RES_DEFER_MASKS: and do not measure them */
    int skip_segm;   /* MR_COCO_SKIP_SEGM: segmentations parsed only if needed */
    int kpt_xy;      /* MR_COCO_RES_XY: results' keypoints kept as x, y pairs */
    int poly_q;      /* MR_COCO_POLY_Q5: polygons kept quantised */
    stream *s;       /* the input is a file read through a window; NULL: one buffer */
} reader;

static int key_is(const char *k, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n == l && !memcmp(k, lit, l);
}

#define NO_IDX ((size_t)-1)
static const char *where_of(reader *r)
{
    if (!r->sect) r->where[0] = 0;
    else if (r->idx == NO_IDX) snprintf(r->where, sizeof r->where, "%s", r->sect);
    else snprintf(r->where, sizeof r->where, "%s[%zu]", r->sect, r->idx);
    return r->where;
}

#define FAIL(R, ...) mr_jr_fail(&(R)->j, where_of(R), __VA_ARGS__)

/* ---- the window ---- */

/* the window's first size: 4 MB with its padding (two huge pages) */
#define STREAM_CAP (((size_t)4 << 20) - MR_JR_PAD)

static int stream_io_fail(reader *r, int code, const char *what)
{
    stream *s = r->s;
    if (r->j.failed != 2) {
        if (code == MR_ENOMEM) mr_errf(r->j.e, MR_ENOMEM, "%s: out of memory (a record of more than %zu bytes)", r->j.file, s->cap);
        else mr_errf(r->j.e, MR_EIO, "%s: read failed at byte %zu: %s", r->j.file, s->base, what);
        r->j.failed = 2;
    }
    s->io_failed = code;
    return -1;
}

/* keep the bytes from `keep` on, in a window of cap bytes (a new one when
 * cap grows), fill it from the file, and go on reading at `at` */
static int stream_refill(reader *r, const char *keep, const char *at, size_t cap)
{
    stream *s = r->s;
    size_t have = (size_t)(r->j.end - keep), skip = (size_t)(keep - s->win), pos = (size_t)(at - keep);
    char *w = s->win;
    if (cap > s->cap) {
        w = mr_big_alloc(cap + MR_JR_PAD);
        if (!w) return stream_io_fail(r, MR_ENOMEM, "");
        memcpy(w, keep, have);
        free(s->win);
        s->win = w;
        s->cap = cap;
    } else if (skip) {
        memmove(w, keep, have);
    }
    s->base += skip;
    while (have < s->cap && !s->eof) {
        size_t got = fread(w + have, 1, s->cap - have, s->f);
        have += got;
        if (got == 0) {
            if (ferror(s->f)) return stream_io_fail(r, MR_EIO, strerror(errno));
            s->eof = 1;
        }
    }
    memset(w + have, 0, MR_JR_PAD);
    mr_jr_window(&r->j, w, have, w + pos, s->base, fileno(s->f));
    return 0;
}

/* before a record: at least STREAM_AHEAD bytes (half a smaller window)
 * ahead, or the rest of the file. The bytes left are moved to the
 * window's start, so fewer ahead means less moved; a record longer than
 * what is ahead fails at the window's end and is read again
 * (stream_retry) */
#define STREAM_AHEAD ((size_t)256 << 10)
static inline int stream_ahead(reader *r)
{
    stream *s = r->s;
    size_t ahead = s && s->cap / 2 < STREAM_AHEAD ? s->cap / 2 : STREAM_AHEAD;
    if (!s || s->eof || (size_t)(r->j.end - r->j.p) >= ahead) return 0;
    return stream_refill(r, r->j.p, r->j.p, s->cap);
}

/* a record starting at u0 failed: when more of the file could change
 * that, rewind to u0 and return 1 (parse the record again), with the
 * record at the start of the window, else (it started there: it is longer
 * than the window) in a window twice the size; 0 when the failure stands */
static int stream_retry(reader *r, const char *u0)
{
    stream *s = r->s;
    if (!s || s->eof || s->io_failed) return 0;
    if (stream_refill(r, u0, u0, u0 > s->win ? s->cap : s->cap * 2)) return 0;
    r->j.failed = 0;
    return 1;
}

/* the rest of the text after the top-level value is whitespace only? Load
 * until a non-space byte or the end of the file */
static int stream_peek(reader *r)
{
    int t;
    while ((t = mr_jr_peek(&r->j)) == MR_JT_END && r->s && !r->s->eof)
        if (stream_refill(r, r->j.p, r->j.p, r->s->cap)) return MR_JT_BAD;
    return t;
}

static int stream_open(stream *s, const char *path, mr_err *e)
{
    memset(s, 0, sizeof *s);
    s->f = mr_open_regular(path, "", e);
    if (!s->f) return e ? e->code : MR_EIO;
    struct stat st;
    if (fstat(fileno(s->f), &st) != 0) {
        fclose(s->f);
        return mr_errf(e, MR_EIO, "%s: cannot stat: %s", path, strerror(errno));
    }
    s->size = (size_t)st.st_size;
    /* a small file in one piece, as it was */
    s->cap = s->size < STREAM_CAP ? s->size : STREAM_CAP;
    s->win = mr_big_alloc(s->cap + MR_JR_PAD);
    if (!s->win) { fclose(s->f); return mr_errf(e, MR_ENOMEM, "%s: out of memory", path); }
    return MR_OK;
}

static void stream_close(stream *s)
{
    if (s->f) fclose(s->f);
    free(s->win);
    memset(s, 0, sizeof *s);
}

/* the reader on a stream: the first window read */
static int stream_start(reader *r, stream *s)
{
    r->s = s;
    s->win[0] = 0;
    mr_jr_window(&r->j, s->win, 0, s->win, 0, fileno(s->f));
    if (stream_refill(r, s->win, s->win, s->cap)) return -1;
    return stream_peek(r) == MR_JT_BAD && s->io_failed ? -1 : 0;
}

/* a number field; fails naming the field */
/* a number that did not read (syntax, or beyond double's range): the
 * reader's message with the field named */
static int num_fail(reader *r, const char *field)
{
    if (r->j.failed != 1 || !r->j.e) return FAIL(r, "%s", "");
    char what[sizeof r->j.e->msg];
    snprintf(what, sizeof what, "%s", r->j.e->msg);
    r->j.failed = 0;
    return FAIL(r, "field '%s': %s", field, what);
}

static int read_num(reader *r, const char *field, double *d)
{
    int64_t i; int ii;
    int t = mr_jr_peek(&r->j);
    if (t != MR_JT_NUM) {
        if (t == MR_JT_BAD || t == MR_JT_END) { mr_jr_skip(&r->j); return FAIL(r, "%s", ""); }
        return FAIL(r, "field '%s': expected a number", field);
    }
    if (mr_jr_number(&r->j, d, &i, &ii)) return num_fail(r, field);
    return 0;
}

/* an integer field (an integral number; true/false count as 1/0 where
 * allow_bool) */
static int read_int(reader *r, const char *field, int64_t *v, int allow_bool)
{
    int t = mr_jr_peek(&r->j);
    if (allow_bool && (t == MR_JT_TRUE || t == MR_JT_FALSE)) {
        int b;
        if (mr_jr_lit(&r->j, &b)) return FAIL(r, "%s", "");
        *v = b;
        return 0;
    }
    if (t != MR_JT_NUM) {
        if (t == MR_JT_BAD || t == MR_JT_END) { mr_jr_skip(&r->j); return FAIL(r, "%s", ""); }
        return FAIL(r, "field '%s': expected an integer", field);
    }
    double d; int64_t i; int ii;
    if (mr_jr_number(&r->j, &d, &i, &ii)) return num_fail(r, field);
    if (ii) { *v = i; return 0; }
    if (d == floor(d) && fabs(d) < 9e15) { *v = (int64_t)d; return 0; }
    return FAIL(r, "field '%s': expected an integer, got %.17g", field, d);
}

static int read_str(reader *r, const char *field, const char **out)
{
    if (mr_jr_peek(&r->j) != MR_JT_STR) return FAIL(r, "field '%s': expected a string", field);
    const char *s; size_t n; int esc;
    if (mr_jr_string(&r->j, &s, &n, &esc)) return FAIL(r, "%s", "");
    *out = coco_arena_strdup(r->im, s, n);
    if (esc) free((void *)s);
    if (!*out) return FAIL(r, "out of memory");
    return 0;
}

/* an array of numbers into r->nums (r->nnums of them) */
static int read_num_array(reader *r, const char *field)
{
    r->nnums = 0;
    if (mr_jr_peek(&r->j) != MR_JT_ARR) {
        if (mr_jr_peek(&r->j) == MR_JT_BAD || mr_jr_peek(&r->j) == MR_JT_END) { mr_jr_skip(&r->j); return FAIL(r, "%s", ""); }
        return FAIL(r, "field '%s': expected an array of numbers", field);
    }
    int rc = mr_jr_num_array(&r->j, &r->nums, &r->cap_nums, &r->nnums);
    if (rc == -2) {
        int t = mr_jr_peek(&r->j);
        if (t == MR_JT_BAD || t == MR_JT_END) { mr_jr_skip(&r->j); return FAIL(r, "%s", ""); }
        return FAIL(r, "field '%s'[%zu]: expected a number", field, r->nnums);
    }
    if (rc) return num_fail(r, field);
    return 0;
}

static double *arena_nums(reader *r)
{
    double *d = coco_arena_alloc(r->im, r->nnums * sizeof(double) + 8);
    if (d && r->nnums) memcpy(d, r->nums, r->nnums * sizeof(double));
    return d;
}

/* read_num_array straight into the arena (*out, r->nnums of them; what
 * arena_nums after read_num_array gives, without the copy): parsed in
 * place at the arena's free end, taken when the array fits in it; a
 * longer array is read again from its start into r->nums and copied */
#define ARENA_NUMS_MIN 4096
static int read_num_array_arena(reader *r, const char *field, double **out)
{
    *out = NULL;
    r->nnums = 0;
    if (mr_jr_peek(&r->j) == MR_JT_ARR) {
        size_t avail;
        double *d = coco_arena_tail(r->im, ARENA_NUMS_MIN * sizeof(double), &avail);
        if (!d) return FAIL(r, "out of memory");
        const char *u0 = r->j.p;
        int f0 = r->j.failed;
        size_t n = 0;
        /* one double of the block is kept free, as arena_nums allocates */
        int rc = mr_jr_num_array_into(&r->j, d, avail / sizeof(double) - 1, &n);
        if (rc == 0) {
            coco_arena_commit(r->im, (n + 1) * sizeof(double));
            r->nnums = n;
            *out = d;
            return 0;
        }
        /* too long, or failed: read_num_array from the same place (its
         * message, the same failure) */
        r->j.p = u0;
        r->j.failed = f0;
    }
    if (read_num_array(r, field)) return -1;
    *out = arena_nums(r);
    return *out ? 0 : FAIL(r, "out of memory");
}

/* the annotation's segmentation record, allocated from the arena on first
 * use (a repeated key or a skipped text read later reuses it) */
static mr_coco_seg *ann_seg(coco_impl *im, mr_coco_ann *a)
{
    if (!a->seg) {
        a->seg = coco_arena_alloc(im, sizeof *a->seg);
        if (!a->seg) return NULL;
        memset(a->seg, 0, sizeof *a->seg);
        a->seg->segm_area = -1;
    }
    return a->seg;
}

int coco_measure_string(mr_coco_seg *seg, const char *str, size_t slen, mr_err *e)
{
    uint64_t total, area;
    if (mr_rle_string_stats(str, slen, seg->rle.h, &total, &area, seg->mask_bbox, e)) return MR_EUSER;
    if (total != (uint64_t)seg->rle.h * seg->rle.w)
        return mr_errf(e, MR_EUSER, "RLE counts sum to %llu, expected h*w = %u*%u = %llu", (unsigned long long)total,
                       seg->rle.h, seg->rle.w, (unsigned long long)seg->rle.h * seg->rle.w);
    seg->segm_area = (double)area;
    seg->has_mask_bbox = 1;
    return MR_OK;
}

/* a polygon part of r->nnums doubles at xy (the arena's last allocation
 * when just read) replaced by its mr_poly_quantise points (through the
 * counts scratch, then over the doubles' first half), the rest given back
 * when it is the last */
static int quantise_part(reader *r, double *xy, int32_t part)
{
    size_t n = r->nnums;
    mr_err e2;
    if (coco_grow((void **)&r->cnt_tmp, &r->cap_cnt_tmp, n + 1, sizeof(uint32_t))) return FAIL(r, "out of memory");
    if (mr_poly_quantise(xy, n, (int32_t *)r->cnt_tmp, &e2)) return FAIL(r, "field 'segmentation'[%d]: %s", part, e2.msg);
    memcpy(xy, r->cnt_tmp, n * sizeof(int32_t));
    coco_arena_trim(r->im, xy, (n + 1) * sizeof(double), (n + 1) * sizeof(int32_t));
    return 0;
}

static int read_segmentation(reader *r, mr_coco_ann *a)
{
    mr_coco_seg *seg = ann_seg(r->im, a);
    if (!seg) return FAIL(r, "out of memory");
    int t = mr_jr_peek(&r->j);
    if (t == MR_JT_ARR) {
        /* polygons: a list of lists of numbers */
        r->j.p++;
        int first = 1, k;
        const double *polys[4096];
        int32_t lens[4096];
        int32_t np = 0;
        while ((k = mr_jr_next_item(&r->j, first)) == 1) {
            first = 0;
            if (np >= 4096) return FAIL(r, "field 'segmentation': more than 4096 polygons");
            if (mr_jr_peek(&r->j) != MR_JT_ARR)
                return FAIL(r, "field 'segmentation'[%d]: expected a polygon (array of numbers)", np);
            double *xy;
            if (read_num_array_arena(r, "segmentation", &xy)) return -1;
            if (r->nnums % 2)
                return FAIL(r, "field 'segmentation'[%d]: a polygon needs an even number of coordinates, got %zu",
                            np, r->nnums);
            /* MR_COCO_POLY_Q5: quantised in place, the doubles' second
             * half given back; a 4-number part waits (all of them 4: the
             * box form, which keeps its doubles) */
            if (r->poly_q && r->nnums != 4 && quantise_part(r, xy, np)) return -1;
            polys[np] = xy;
            lens[np] = (int32_t)r->nnums;
            np++;
        }
        if (k < 0) return FAIL(r, "%s", "");
        seg->kind = MR_SEG_POLY;
        seg->npoly = np;
        seg->poly_q = 0;
        if (r->poly_q) {
            int boxes = np > 0;
            for (int32_t i = 0; i < np; i++) boxes &= lens[i] == 4;
            if (!boxes) {
                for (int32_t i = 0; i < np; i++)
                    if (lens[i] == 4 && quantise_part(r, (double *)polys[i], i)) return -1;
                seg->poly_q = 1;
            }
        }
        double **pp = coco_arena_alloc(r->im, sizeof(double *) * (size_t)(np + 1));
        int32_t *pl = coco_arena_alloc(r->im, sizeof(int32_t) * (size_t)(np + 1));
        if (!pp || !pl) return FAIL(r, "out of memory");
        for (int32_t i = 0; i < np; i++) { pp[i] = (double *)polys[i]; pl[i] = lens[i]; }
        seg->poly = (const double *const *)pp;   /* polyq shares the place */
        seg->poly_len = pl;
        return 0;
    }
    if (t != MR_JT_OBJ) return FAIL(r, "field 'segmentation': expected polygons (array) or an RLE (object)");
    r->j.p++;
    const char *key; size_t kl;
    int first = 1, k, have_size = 0, have_counts = 0;
    int64_t hw[2] = {0, 0};
    const char *str = NULL; size_t slen = 0; int sesc = 0;
    uint32_t *cnts = NULL; size_t ncnt = 0;
    while ((k = mr_jr_next_key(&r->j, first, &key, &kl)) == 1) {
        first = 0;
        if (key_is(key, kl, "size")) {
            if (read_num_array(r, "segmentation.size")) goto fail;
            if (r->nnums != 2 || r->nums[0] != floor(r->nums[0]) || r->nums[1] != floor(r->nums[1]) ||
                r->nums[0] < 0 || r->nums[1] < 0 || r->nums[0] > 1e9 || r->nums[1] > 1e9) {
                FAIL(r, "field 'segmentation.size': expected [height, width], two non-negative integers");
                goto fail;
            }
            hw[0] = (int64_t)r->nums[0]; hw[1] = (int64_t)r->nums[1];
            if (hw[0] * hw[1] > MR_MASK_MAX_PIXELS) {
                FAIL(r, "field 'segmentation.size': %lld x %lld is more than the %lld pixels a mask may have",
                     (long long)hw[0], (long long)hw[1], MR_MASK_MAX_PIXELS);
                goto fail;
            }
            have_size = 1;
        } else if (key_is(key, kl, "counts")) {
            int tt = mr_jr_peek(&r->j);
            if (tt == MR_JT_STR) {
                if (str && sesc) free((void *)str);
                if (mr_jr_string(&r->j, &str, &slen, &sesc)) { FAIL(r, "%s", ""); goto fail; }
            } else if (tt == MR_JT_ARR) {
                if (read_num_array(r, "segmentation.counts")) goto fail;
                cnts = coco_arena_alloc(r->im, r->nnums * sizeof(uint32_t) + 4);
                if (!cnts) { FAIL(r, "out of memory"); goto fail; }
                for (size_t i = 0; i < r->nnums; i++) {
                    double v = r->nums[i];
                    if (v < 0 || v != floor(v) || v > 4294967295.0) {
                        FAIL(r, "field 'segmentation.counts'[%zu]: expected a non-negative integer", i);
                        goto fail;
                    }
                    cnts[i] = (uint32_t)v;
                }
                ncnt = r->nnums;
            } else {
                FAIL(r, "field 'segmentation.counts': expected a string or an array of integers");
                goto fail;
            }
            have_counts = 1;
        } else if (mr_jr_skip(&r->j)) { FAIL(r, "%s", ""); goto fail; }
    }
    if (k < 0) { FAIL(r, "%s", ""); goto fail; }
    if (!have_size) { FAIL(r, "field 'segmentation.size': missing"); goto fail; }
    if (!have_counts) { FAIL(r, "field 'segmentation.counts': missing"); goto fail; }
    seg->kind = MR_SEG_RLE;
    seg->rle.h = (uint32_t)hw[0];
    seg->rle.w = (uint32_t)hw[1];
    if (str && r->lazy_rle) {
        /* check and measure in one pass (unless deferred), keep only the
         * string */
        if (!r->defer_masks) {
            mr_err e2;
            if (coco_measure_string(seg, str, slen, &e2)) {
                FAIL(r, "field 'segmentation.counts': %s", e2.msg);
                goto fail;
            }
        }
        seg->rle_compressed = 1;
        char *k2 = coco_arena_strdup(r->im, str, slen);
        if (!k2) { FAIL(r, "out of memory"); goto fail; }
        if (sesc) free((void *)str);
        str = k2;
        seg->rle_str = str;
        seg->rle_str_len = slen;
        seg->rle.cnts = NULL;
        seg->rle.m = 0;
        return 0;
    }
    if (str) {
        mr_err e2;
        if (coco_grow((void **)&r->cnt_tmp, &r->cap_cnt_tmp, slen + 1, sizeof(uint32_t))) { FAIL(r, "out of memory"); goto fail; }
        if (mr_rle_counts_from_string(str, slen, r->cnt_tmp, &ncnt, &e2)) {
            FAIL(r, "field 'segmentation.counts': %s", e2.msg);
            goto fail;
        }
        seg->rle_compressed = 1;
        cnts = coco_arena_alloc(r->im, ncnt * sizeof(uint32_t) + 4);
        if (!cnts) { FAIL(r, "out of memory"); goto fail; }
        if (ncnt) memcpy(cnts, r->cnt_tmp, ncnt * sizeof(uint32_t));
        if (sesc) free((void *)str);
        str = NULL;
    }
    seg->rle.cnts = cnts;
    seg->rle.m = ncnt;
    seg->rle_str = NULL;   /* shares its place with the polygons' */
    seg->rle_str_len = 0;
    {
        mr_err e2;
        if (mr_rle_check(&seg->rle, &e2)) return FAIL(r, "field 'segmentation.counts': %s", e2.msg);
    }
    seg->segm_area = (double)mr_rle_area(&seg->rle);
    mr_rle_bbox(&seg->rle, seg->mask_bbox);
    seg->has_mask_bbox = 1;
    return 0;
fail:
    if (str && sesc) free((void *)str);
    return -1;
}

/* '{' opening an element of images / annotations / categories; else the
 * reader's error (a syntax error where there is one, "expected an object"
 * for any other value) */
static int open_object(reader *r)
{
    if (mr_jr_eat(&r->j, '{')) return 0;
    int t = mr_jr_peek(&r->j);
    if (t == MR_JT_BAD || t == MR_JT_END) { mr_jr_expect(&r->j, '{'); return FAIL(r, "%s", ""); }
    return FAIL(r, "expected an object");
}

/* one annotation / detection object */
static int read_ann(reader *r, mr_coco_ann *a, int results)
{
    memset(a, 0, sizeof *a);
    a->image_index = a->category_index = -1;
    const char *skip_str = NULL; size_t skip_len = 0;   /* a skipped segmentation's text */
    if (open_object(r)) return -1;
    const char *key; size_t kl;
    int first = 1, k, have_id = 0, have_img = 0, have_cat = 0;
    while ((k = mr_jr_next_key(&r->j, first, &key, &kl)) == 1) {
        first = 0;
        int64_t v;
        if (key_is(key, kl, "id")) {
            if (read_int(r, "id", &a->id, 0)) return -1;
            have_id = 1;
        } else if (key_is(key, kl, "image_id")) {
            if (read_int(r, "image_id", &a->image_id, 0)) return -1;
            have_img = 1;
        } else if (key_is(key, kl, "category_id")) {
            if (read_int(r, "category_id", &a->category_id, 0)) return -1;
            have_cat = 1;
        } else if (key_is(key, kl, "bbox")) {
            if (read_num_array(r, "bbox")) return -1;
            if (r->nnums == 0) continue;   /* [] counts as absent (loadRes) */
            if (r->nnums != 4) return FAIL(r, "field 'bbox': expected 4 numbers [x, y, w, h], got %zu", r->nnums);
            if (r->nums[2] < 0 || r->nums[3] < 0)
                return FAIL(r, "field 'bbox': negative width or height (%g, %g)", r->nums[2], r->nums[3]);
            for (int k = 0; k < 4; k++)   /* finite numbers whose products stay finite */
                if (fabs(r->nums[k]) > MR_POLY_MAX_COORD)
                    return FAIL(r, "field 'bbox': %s %g beyond +-%g pixels", k == 0 ? "x" : k == 1 ? "y" : k == 2 ? "width" : "height",
                                r->nums[k], MR_POLY_MAX_COORD);
            memcpy(a->bbox, r->nums, sizeof a->bbox);
            a->has_bbox = 1;
        } else if (key_is(key, kl, "area")) {
            if (read_num(r, "area", &a->area)) return -1;
            if (!(a->area >= 0)) return FAIL(r, "field 'area': expected a non-negative number, got %g", a->area);
            a->has_area = 1;
        } else if (key_is(key, kl, "score")) {
            if (read_num(r, "score", &a->score)) return -1;
            a->has_score = 1;
        } else if (key_is(key, kl, "iscrowd")) {
            if (read_int(r, "iscrowd", &v, 1)) return -1;
            a->iscrowd = (int32_t)v; a->has_iscrowd = 1;
        } else if (key_is(key, kl, "ignore")) {
            if (read_int(r, "ignore", &v, 1)) return -1;
            a->ignore = (int32_t)v; a->has_ignore = 1;
        } else if (key_is(key, kl, "num_keypoints")) {
            if (read_int(r, "num_keypoints", &v, 0)) return -1;
            if (v < 0) return FAIL(r, "field 'num_keypoints': expected a non-negative integer");
            a->num_keypoints = (int32_t)v; a->has_num_keypoints = 1;
        } else if (key_is(key, kl, "keypoints")) {
            double *kp;
            if (read_num_array_arena(r, "keypoints", &kp)) return -1;
            if (r->nnums % 3)
                return FAIL(r, "field 'keypoints': expected x,y,v triplets, got %zu numbers", r->nnums);
            a->num_kpt = (int32_t)(r->nnums / 3);
            /* the coordinates checked; with MR_COCO_RES_XY (results) the
             * x, y of each triplet moved together in place (forward: 2q
             * and 2q + 1 are at or before the 3q read) */
            const int xy = results && r->kpt_xy;
            for (size_t q = 0; q < (size_t)a->num_kpt; q++) {
                double x = kp[3 * q], y = kp[3 * q + 1];
                if (fabs(x) > MR_POLY_MAX_COORD || fabs(y) > MR_POLY_MAX_COORD) {
                    size_t k = fabs(x) > MR_POLY_MAX_COORD ? 3 * q : 3 * q + 1;
                    return FAIL(r, "field 'keypoints': coordinate %g (element %zu) beyond +-%g pixels", kp[k], k,
                                MR_POLY_MAX_COORD);
                }
                if (xy) { kp[2 * q] = x; kp[2 * q + 1] = y; }
            }
            if (xy)   /* the rest given back */
                coco_arena_trim(r->im, kp, (r->nnums + 1) * sizeof(double), (2 * (size_t)a->num_kpt + 1) * sizeof(double));
            a->keypoints = kp;
        } else if (key_is(key, kl, "segmentation")) {
            if (r->skip_segm && !results) {
                /* remember where it is: parsed in finish only if area or
                 * bbox must be derived from it */
                mr_jr_peek(&r->j);
                const char *s0 = r->j.p;
                if (mr_jr_skip_fast(&r->j)) return FAIL(r, "%s", "");
                skip_str = s0;
                skip_len = (size_t)(r->j.p - s0);
                a->seg_skipped = 1;
            } else if (read_segmentation(r, a)) return -1;
        } else if (mr_jr_skip(&r->j)) return FAIL(r, "%s", "");
    }
    if (k < 0) return FAIL(r, "%s", "");
    if (a->seg_skipped && (!a->has_bbox || !a->has_area)) {
        /* keep the text (in the segmentation record's rle_str, kind still
         * MR_SEG_NONE) only where finish needs it; copied when the window
         * moves on */
        mr_coco_seg *seg = ann_seg(r->im, a);
        if (!seg) return FAIL(r, "out of memory");
        seg->rle_str = r->s ? coco_arena_strdup(r->im, skip_str, skip_len) : skip_str;
        seg->rle_str_len = skip_len;
        if (!seg->rle_str) return FAIL(r, "out of memory");
    }
    if (!have_img) return FAIL(r, "field 'image_id': missing");
    if (!have_cat) return FAIL(r, "field 'category_id': missing");
    if (!results && !have_id) return FAIL(r, "field 'id': missing");
    if (results && !a->has_score) return FAIL(r, "field 'score': missing");
    return 0;
}

static int read_image(reader *r, mr_coco_image *img)
{
    memset(img, 0, sizeof *img);
    img->file_name = "";
    if (open_object(r)) return -1;
    const char *key; size_t kl;
    int first = 1, k, have_id = 0, have_w = 0, have_h = 0;
    while ((k = mr_jr_next_key(&r->j, first, &key, &kl)) == 1) {
        first = 0;
        int64_t v;
        if (key_is(key, kl, "id")) {
            if (read_int(r, "id", &img->id, 0)) return -1;
            have_id = 1;
        } else if (key_is(key, kl, "width") || key_is(key, kl, "height")) {
            int isw = key[0] == 'w';
            if (read_int(r, isw ? "width" : "height", &v, 0)) return -1;
            if (v <= 0 || v > 1000000)
                return FAIL(r, "field '%s': expected a positive integer, got %lld", isw ? "width" : "height", (long long)v);
            if (isw) { img->width = (int32_t)v; have_w = 1; } else { img->height = (int32_t)v; have_h = 1; }
        } else if (key_is(key, kl, "file_name")) {
            if (read_str(r, "file_name", &img->file_name)) return -1;
        } else if (mr_jr_skip(&r->j)) return FAIL(r, "%s", "");
    }
    if (k < 0) return FAIL(r, "%s", "");
    if (!have_id) return FAIL(r, "field 'id': missing");
    if (!have_w) return FAIL(r, "field 'width': missing");
    if (!have_h) return FAIL(r, "field 'height': missing");
    if ((int64_t)img->width * img->height > MR_MASK_MAX_PIXELS)
        return FAIL(r, "fields 'width' x 'height': %d x %d is more than the %lld pixels an image may have",
                    img->width, img->height, MR_MASK_MAX_PIXELS);
    return 0;
}

static int read_cat(reader *r, mr_coco_cat *cat)
{
    memset(cat, 0, sizeof *cat);
    cat->name = cat->supercategory = "";
    if (open_object(r)) return -1;
    const char *key; size_t kl;
    int first = 1, k, have_id = 0;
    while ((k = mr_jr_next_key(&r->j, first, &key, &kl)) == 1) {
        first = 0;
        if (key_is(key, kl, "id")) {
            if (read_int(r, "id", &cat->id, 0)) return -1;
            have_id = 1;
        } else if (key_is(key, kl, "name")) {
            if (read_str(r, "name", &cat->name)) return -1;
        } else if (key_is(key, kl, "supercategory")) {
            if (read_str(r, "supercategory", &cat->supercategory)) return -1;
        } else if (key_is(key, kl, "keypoints")) {
            if (!mr_jr_eat(&r->j, '[')) return FAIL(r, "field 'keypoints': expected an array of names");
            const char *names[1024];
            int n = 0, f2 = 1, kk;
            while ((kk = mr_jr_next_item(&r->j, f2)) == 1) {
                f2 = 0;
                if (n >= 1024) return FAIL(r, "field 'keypoints': more than 1024 names");
                if (read_str(r, "keypoints", &names[n])) return -1;
                n++;
            }
            if (kk < 0) return FAIL(r, "%s", "");
            const char **nm = coco_arena_alloc(r->im, sizeof(char *) * (size_t)(n + 1));
            if (!nm) return FAIL(r, "out of memory");
            memcpy(nm, names, sizeof(char *) * (size_t)n);
            cat->keypoint_names = (const char *const *)nm;
            cat->num_keypoints = n;
        } else if (key_is(key, kl, "skeleton")) {
            if (!mr_jr_eat(&r->j, '[')) return FAIL(r, "field 'skeleton': expected an array of pairs");
            int32_t pairs[2 * 1024];
            int n = 0, f2 = 1, kk;
            while ((kk = mr_jr_next_item(&r->j, f2)) == 1) {
                f2 = 0;
                if (read_num_array(r, "skeleton")) return -1;
                if (r->nnums != 2 || n >= 1024) return FAIL(r, "field 'skeleton'[%d]: expected a pair of keypoint indices", n);
                pairs[2 * n] = (int32_t)r->nums[0];
                pairs[2 * n + 1] = (int32_t)r->nums[1];
                n++;
            }
            if (kk < 0) return FAIL(r, "%s", "");
            int32_t *sk = coco_arena_alloc(r->im, sizeof(int32_t) * (size_t)(2 * n + 2));
            if (!sk) return FAIL(r, "out of memory");
            memcpy(sk, pairs, sizeof(int32_t) * (size_t)(2 * n));
            cat->skeleton = sk;
            cat->num_skeleton = n;
        } else if (key_is(key, kl, "keypoint_sigmas")) {
            if (read_num_array(r, "keypoint_sigmas")) return -1;
            for (size_t i = 0; i < r->nnums; i++)
                if (!(r->nums[i] > 0)) return FAIL(r, "field 'keypoint_sigmas'[%zu]: expected a positive number", i);
            cat->keypoint_sigmas = arena_nums(r);
            cat->num_sigmas = (int32_t)r->nnums;
        } else if (mr_jr_skip(&r->j)) return FAIL(r, "%s", "");
    }
    if (k < 0) return FAIL(r, "%s", "");
    if (!have_id) return FAIL(r, "field 'id': missing");
    if (cat->num_sigmas && cat->num_keypoints && cat->num_sigmas != cat->num_keypoints)
        return FAIL(r, "field 'keypoint_sigmas': %d sigmas for %d keypoints", cat->num_sigmas, cat->num_keypoints);
    return 0;
}

/* the reader on an in-memory text (buf, len), or on a stream (buf NULL,
 * len the file's size) that stream_start then loads */
static int reader_open(reader *r, mr_coco *c, const char *buf, size_t len, const char *name, mr_err *e)
{
    memset(r, 0, sizeof *r);
    mr_jr_init(&r->j, buf ? buf : "", buf ? len : 0, name, e);
    r->c = c;
    r->im = coco_impl_of(c);
    if (!r->im) return mr_errf(e, MR_ENOMEM, "%s: out of memory", name);
    r->im->arena_hint = len;
    free(c->path);
    c->path = strdup(name);
    /* no record is shorter than 32 bytes: reserve that many (address space
     * only; untouched huge pages cost nothing) */
    size_t n = len / 32 + 16;
    if (n > 4096) {
        c->anns = mr_big_alloc(n * sizeof(mr_coco_ann));
        if (!c->anns) return mr_errf(e, MR_ENOMEM, "%s: out of memory", name);
        r->im->cap_anns = n;
    }
    return 0;
}

/* one element of an array being read (images, annotations, categories or
 * detections) into place; with a stream, parsed again in a larger window
 * when it did not fit. 1: read, 0: the array ended, -1: failed (the
 * message is set; for a syntax error before the element, FAIL's). */
enum { REC_IMAGE = 1, REC_ANN, REC_CAT, REC_RESULT };

static int next_record(reader *r, int first, int which, const char *sect, size_t idx)
{
    mr_coco *c = r->c;
    coco_impl *im = r->im;
    for (;;) {
        if (stream_ahead(r)) return -1;
        const char *u0 = r->j.p;
        int kk = mr_jr_next_item(&r->j, first);
        if (kk == 0) return 0;
        int bad = kk < 0;
        if (!bad) {
            r->sect = sect; r->idx = idx;
            if (which == REC_IMAGE) {
                if (coco_grow((void **)&c->images, &im->cap_images, c->num_images + 1, sizeof(mr_coco_image))) { FAIL(r, "out of memory"); return -1; }
                bad = read_image(r, &c->images[c->num_images]) != 0;
            } else if (which == REC_CAT) {
                if (coco_grow((void **)&c->cats, &im->cap_cats, c->num_cats + 1, sizeof(mr_coco_cat))) { FAIL(r, "out of memory"); return -1; }
                bad = read_cat(r, &c->cats[c->num_cats]) != 0;
            } else {
                if (coco_grow((void **)&c->anns, &im->cap_anns, c->num_anns + 1, sizeof(mr_coco_ann))) { FAIL(r, "out of memory"); return -1; }
                bad = read_ann(r, &c->anns[c->num_anns], which == REC_RESULT) != 0;
            }
        }
        if (bad && stream_retry(r, u0)) continue;
        if (kk < 0) {
            r->sect = sect; r->idx = idx;
            FAIL(r, "%s", "");
        }
        if (bad) return -1;
        if (which == REC_IMAGE) c->num_images++;
        else if (which == REC_CAT) c->num_cats++;
        else c->num_anns++;
        return 1;
    }
}

static int parse_gt(mr_coco *c, const char *json, size_t len, const char *name, unsigned flags, stream *st, mr_err *e)
{
    mr_coco_free(c);
    reader R, *r = &R;
    if (reader_open(r, c, json, st ? st->size : len, name, e)) return MR_ENOMEM;
    r->skip_segm = (flags & MR_COCO_SKIP_SEGM) != 0;
    r->poly_q = (flags & MR_COCO_POLY_Q5) != 0;
    c->poly_q = r->poly_q;
    int rc = MR_EUSER;
    if (st && stream_start(r, st)) goto out;
    if (!mr_jr_eat(&r->j, '{')) {
        if (mr_jr_peek(&r->j) == MR_JT_ARR)
            mr_jr_fail(&r->j, "", "expected a ground-truth object {images, annotations, categories}, found an array (a results file?)");
        else { mr_jr_skip(&r->j); mr_jr_fail(&r->j, "", "expected a JSON object"); }
        goto out;
    }
    const char *key; size_t kl;
    int first = 1, k, seen_images = 0, seen_cats = 0;
    for (;;) {
        if (stream_ahead(r)) goto out;
        const char *u0 = r->j.p;
        k = mr_jr_next_key(&r->j, first, &key, &kl);
        if (k < 0 && stream_retry(r, u0)) continue;
        if (k != 1) break;
        int which = key_is(key, kl, "images") ? REC_IMAGE : key_is(key, kl, "annotations") ? REC_ANN
                  : key_is(key, kl, "categories") ? REC_CAT : 0;
        if (!which) {
            if (mr_jr_skip(&r->j)) {
                if (stream_retry(r, u0)) continue;
                mr_jr_fail(&r->j, "", "%s", "");
                goto out;
            }
            first = 0;
            continue;
        }
        const char *sect = which == REC_IMAGE ? "images" : which == REC_ANN ? "annotations" : "categories";
        if (!mr_jr_eat(&r->j, '[')) {
            if (stream_retry(r, u0)) continue;
            r->sect = sect; r->idx = NO_IDX;
            FAIL(r, "expected an array");
            goto out;
        }
        first = 0;
        int f2 = 1, kk;
        size_t idx = 0;
        while ((kk = next_record(r, f2, which, sect, idx)) == 1) { f2 = 0; idx++; }
        if (kk < 0) goto out;
        seen_images |= which == REC_IMAGE;
        seen_cats |= which == REC_CAT;
    }
    r->sect = NULL;
    if (k < 0) { FAIL(r, "%s", ""); goto out; }
    if (stream_peek(r) != MR_JT_END) {
        if (!(st && st->io_failed)) mr_jr_fail(&r->j, "", "unexpected text after the top-level object");
        goto out;
    }
    if (!seen_images) { mr_jr_fail(&r->j, "", "field 'images': missing"); goto out; }
    if (!seen_cats) { mr_jr_fail(&r->j, "", "field 'categories': missing"); goto out; }
    if (st) { r->im->scratch = st->win; r->im->scratch_len = st->cap; }
    rc = mr_coco_finish(c, e);
    r->im->scratch = NULL; r->im->scratch_len = 0;
out:
    if (rc && st && st->io_failed) rc = st->io_failed;
    free(r->nums);
    free(r->cnt_tmp);
    return rc ? coco_fail_free(c, rc, e) : MR_OK;
}

int mr_coco_parse(mr_coco *c, const char *json, size_t len, const char *name, mr_err *e)
{
    return parse_gt(c, json, len, name, 0, NULL, e);
}

int mr_coco_load_opts(mr_coco *c, const char *path, unsigned flags, mr_err *e)
{
    stream st;
    mr_coco_init(c);
    int rc = stream_open(&st, path, e);
    if (rc) return rc;
    rc = parse_gt(c, NULL, 0, path, flags, &st, e);
    stream_close(&st);
    return rc;
}

int mr_coco_load(mr_coco *c, const char *path, mr_err *e)
{
    return mr_coco_load_opts(c, path, 0, e);
}

/* the second half of loadRes: ids, images and categories from gt, areas
 * and boxes by the first record's branch. On error res is freed. */
static int resolve_results(mr_coco *res, const mr_coco *gt, mr_err *e)
{
    coco_impl *im = res->impl;
    const char *name = res->path ? res->path : "";
    int rc = MR_EUSER;
    /* loadRes: images and categories are gt's (borrowed) */
    im->borrowed = 1;
    res->images = gt->images; res->num_images = gt->num_images;
    res->cats = gt->cats; res->num_cats = gt->num_cats;
    im->imgs = (idmap){0};
    im->cats = (idmap){0};
    {
        coco_impl *gi = gt->impl;
        if (!gi) { mr_errf(e, MR_EUSER, "%s: the ground truth is empty", name); goto out; }
        /* the maps are borrowed too (lookups on res are gt's: res lives
         * no longer than gt, whose images it already borrows) */
        im->imgs = gi->imgs;
        im->cats = gi->cats;
    }
    int kind = 0;   /* 1 bbox, 2 segmentation, 3 keypoints */
    if (res->num_anns) {
        const mr_coco_ann *a0 = &res->anns[0];
        kind = a0->has_bbox ? 1 : mr_coco_ann_seg_kind(a0) != MR_SEG_NONE ? 2 : a0->keypoints ? 3 : 0;
        if (!kind) { mr_errf(e, MR_EUSER, "%s: [0]: no 'bbox', 'segmentation' or 'keypoints' field", name); goto out; }
    }
    res->res_kind = kind == 1 ? "bbox" : kind == 2 ? "segmentation" : kind == 3 ? "keypoints" : "";
    for (size_t i = 0; i < res->num_anns; i++) {
        mr_coco_ann *a = &res->anns[i];
        long ii = mr_coco_image_index(gt, a->image_id);
        if (ii < 0) { mr_errf(e, MR_EUSER, "%s: [%zu]: field 'image_id': image %lld is not in the ground truth %s",
                              name, i, (long long)a->image_id, gt->path ? gt->path : ""); goto out; }
        long ci = mr_coco_cat_index(gt, a->category_id);
        if (ci < 0) { mr_errf(e, MR_EUSER, "%s: [%zu]: field 'category_id': category %lld is not in the categories of %s",
                              name, i, (long long)a->category_id, gt->path ? gt->path : ""); goto out; }
        if (!(a->score == a->score)) { mr_errf(e, MR_EUSER, "%s: [%zu]: field 'score': not a number", name, i); goto out; }
        a->image_index = (int32_t)ii;
        a->category_index = (int32_t)ci;
        a->id = (int64_t)i + 1;
        const mr_coco_cat *cat = &gt->cats[ci];
        int32_t want = cat->num_keypoints ? cat->num_keypoints : cat->num_sigmas;
        if (a->keypoints && want && a->num_kpt != want) {
            mr_errf(e, MR_EUSER, "%s: [%zu]: field 'keypoints': expected %d values (%d keypoints of category %lld), got %d",
                    name, i, 3 * want, want, (long long)a->category_id, 3 * a->num_kpt);
            goto out;
        }
        const mr_coco_image *img = &gt->images[ii];
        if (kind == 1) {
            if (!a->has_bbox) { mr_errf(e, MR_EUSER, "%s: [%zu]: field 'bbox': missing (the first record has one)", name, i); goto out; }
            a->area = a->bbox[2] * a->bbox[3];
            a->iscrowd = 0;
        } else if (kind == 2) {
            if (mr_coco_ann_seg_kind(a) == MR_SEG_NONE) { mr_errf(e, MR_EUSER, "%s: [%zu]: field 'segmentation': missing (the first record has one)", name, i); goto out; }
            /* loadRes needs the mask's area here: a string left unmeasured
             * (MR_COCO_RES_DEFER_MASKS) is measured and checked now */
            if (a->seg->kind == MR_SEG_RLE && a->seg->rle_str && !a->seg->rle.cnts && !a->seg->has_mask_bbox &&
                coco_measure_string(a->seg, a->seg->rle_str, a->seg->rle_str_len, e)) {
                mr_err_prefix(e, "%s: [%zu]: field 'segmentation.counts'", name, i);
                goto out;
            }
            double bb[4];
            if (coco_seg_area_box(a, img, &a->area, bb, e)) { mr_err_prefix(e, "%s: [%zu]: field 'segmentation'", name, i); goto out; }
            if (!a->has_bbox) memcpy(a->bbox, bb, sizeof bb);
            if (a->seg->kind == MR_SEG_RLE &&
                (a->seg->rle.h != (uint32_t)img->height || a->seg->rle.w != (uint32_t)img->width) &&
                !res->mask_size_mismatch++)
                res->first_mask_size_mismatch = i;
            a->seg->segm_area = a->area;
            a->iscrowd = 0;
        } else {
            if (!a->keypoints || a->num_kpt == 0) { mr_errf(e, MR_EUSER, "%s: [%zu]: field 'keypoints': missing or empty (the first record has keypoints)", name, i); goto out; }
            double x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
            const int ks = res->kpt_xy ? 2 : 3;
            for (int32_t k = 0; k < a->num_kpt; k++) {
                double x = a->keypoints[ks * k], y = a->keypoints[ks * k + 1];
                x0 = x < x0 ? x : x0; x1 = x > x1 ? x : x1;
                y0 = y < y0 ? y : y0; y1 = y > y1 ? y : y1;
            }
            a->area = (x1 - x0) * (y1 - y0);
            a->bbox[0] = x0; a->bbox[1] = y0; a->bbox[2] = x1 - x0; a->bbox[3] = y1 - y0;
        }
        a->has_area = a->has_bbox = 1;
    }
    rc = coco_build_lists(res, e);
out:
    return rc ? coco_fail_free(res, rc, e) : MR_OK;
}

static int parse_results(mr_coco *res, const mr_coco *gt, const char *json, size_t len,
                         const char *name, stream *st, unsigned flags, mr_err *e)
{
    mr_coco_free(res);
    reader R, *r = &R;
    if (reader_open(r, res, json, st ? st->size : len, name, e)) return MR_ENOMEM;
    r->lazy_rle = 1;
    r->kpt_xy = (flags & MR_COCO_RES_XY) != 0;
    res->kpt_xy = r->kpt_xy;
    r->poly_q = (flags & MR_COCO_POLY_Q5) != 0;
    res->poly_q = r->poly_q;
    r->defer_masks = (flags & MR_COCO_RES_DEFER_MASKS) != 0;
    int rc = MR_EUSER;
    res->is_results = 1;
    if (st && stream_start(r, st)) goto out;
    if (!mr_jr_eat(&r->j, '[')) {
        if (mr_jr_peek(&r->j) == MR_JT_OBJ)
            mr_jr_fail(&r->j, "", "expected a results array of detections, found an object (a ground-truth file?)");
        else { mr_jr_skip(&r->j); mr_jr_fail(&r->j, "", "expected a JSON array of detections"); }
        goto out;
    }
    int f2 = 1, kk;
    size_t idx = 0;
    while ((kk = next_record(r, f2, REC_RESULT, "", idx)) == 1) { f2 = 0; idx++; }
    if (kk < 0) goto out;
    r->sect = NULL;
    if (stream_peek(r) != MR_JT_END) {
        if (!(st && st->io_failed)) mr_jr_fail(&r->j, "", "unexpected text after the top-level array");
        goto out;
    }

    if (!gt) rc = MR_OK;   /* raw records: resolve_results completes them */
    else rc = resolve_results(res, gt, e);
out:
    if (rc && st && st->io_failed) rc = st->io_failed;
    free(r->nums);
    free(r->cnt_tmp);
    return rc ? coco_fail_free(res, rc, e) : MR_OK;
}

int mr_coco_parse_results(mr_coco *res, const mr_coco *gt, const char *json, size_t len,
                          const char *name, mr_err *e)
{
    return parse_results(res, gt, json, len, name, NULL, 0, e);
}

/* read a results file's records without a ground truth (thread body) */
typedef struct raw_job { mr_coco *res; const char *path; unsigned flags; int rc; mr_err err; } raw_job;

/* a results file read through a window and parsed; without gt only its
 * raw records (resolve_results completes them) */
static int load_results_file(mr_coco *res, const mr_coco *gt, const char *path, unsigned flags, mr_err *e)
{
    stream st;
    mr_coco_init(res);
    int rc = stream_open(&st, path, e);
    if (rc) return rc;
    rc = parse_results(res, gt, NULL, 0, path, &st, flags, e);
    stream_close(&st);
    return rc;
}

static void *raw_thread(void *arg)
{
    raw_job *j = arg;
    mr_err_clear(&j->err);
    j->rc = load_results_file(j->res, NULL, j->path, j->flags, &j->err);
    return NULL;
}

int mr_coco_load_both(mr_coco *gt, const char *gt_path, unsigned flags, mr_coco *dt,
                      const char *dt_path, int threads, mr_err *e)
{
    mr_coco_init(gt);
    mr_coco_init(dt);
    raw_job job = {dt, dt_path, flags & (MR_COCO_RES_XY | MR_COCO_POLY_Q5 | MR_COCO_RES_DEFER_MASKS), 0, {0, {0}}};
    pthread_t th;
    int par = threads > 1 && pthread_create(&th, NULL, raw_thread, &job) == 0;
    int rc = mr_coco_load_opts(gt, gt_path, flags & ~(unsigned)(MR_COCO_RES_XY | MR_COCO_RES_DEFER_MASKS), e);
    if (par) pthread_join(th, NULL);
    else if (!rc) raw_thread(&job);
    /* errors in the order one thread meets them: ground truth first */
    if (rc) { mr_coco_free(dt); return rc; }
    if (job.rc) { if (e) *e = job.err; mr_coco_free(gt); return job.rc; }
    rc = resolve_results(dt, gt, e);
    if (rc) { mr_coco_free(gt); return rc; }
    return MR_OK;
}

int mr_coco_load_results(mr_coco *res, const mr_coco *gt, const char *path, mr_err *e)
{
    return load_results_file(res, gt, path, 0, e);
}

/* mr_coco_finish: a segmentation skipped under MR_COCO_SKIP_SEGM is read
 * after all when the annotation's area or box must be derived from it */
int coco_read_skipped_segm(mr_coco *c, mr_coco_ann *a, size_t i, mr_err *e)
{
    const char *f = c->path ? c->path : "";
    reader sub;
    memset(&sub, 0, sizeof sub);
    mr_jr_init(&sub.j, a->seg ? a->seg->rle_str : NULL, a->seg ? a->seg->rle_str_len : 0, f, e);
    sub.c = c;
    sub.im = c->impl;
    sub.poly_q = c->poly_q;
    sub.sect = "annotations"; sub.idx = i;
    if (a->seg) { a->seg->rle_str = NULL; a->seg->rle_str_len = 0; }
    int src = read_segmentation(&sub, a);
    free(sub.nums);
    free(sub.cnt_tmp);
    return src ? MR_EUSER : MR_OK;
}
