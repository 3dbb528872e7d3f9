/*
 * write.c — writing COCO files (coco.h): ground-truth datasets and results
 * files, atomically (core/fileio.h), numbers with %.17g so they read back
 * identical.
 */
#include "coco/coco.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coco/json_fast.h"
#include "core/fileio.h"

/* ---- writers ---- */

static void put_num(FILE *f, double v)
{
    if (v == floor(v) && fabs(v) < 1e15) fprintf(f, "%.1f", v);
    else fprintf(f, "%.17g", v);
}

static int put_seg(FILE *f, const mr_coco_seg *s, mr_err *e)
{
    if (s->kind == MR_SEG_POLY && s->poly_q)
        return mr_errf(e, MR_EUSAGE, "polygons read with MR_COCO_POLY_Q5 (quantised) cannot be saved");
    if (s->kind == MR_SEG_POLY) {
        fputc('[', f);
        for (int32_t i = 0; i < s->npoly; i++) {
            fputs(i ? ", [" : "[", f);
            for (int32_t k = 0; k < s->poly_len[i]; k++) {
                if (k) fputs(", ", f);
                put_num(f, s->poly[i][k]);
            }
            fputc(']', f);
        }
        fputc(']', f);
        return MR_OK;
    }
    fprintf(f, "{\"size\": [%u, %u], \"counts\": ", s->rle.h, s->rle.w);
    if (s->rle_str && !s->rle.cnts) {
        fputc('"', f);
        for (size_t i = 0; i < s->rle_str_len; i++) {
            if (s->rle_str[i] == '\\') fputc('\\', f);
            fputc(s->rle_str[i], f);
        }
        fputc('"', f);
    } else {
        char *str;
        int rc = mr_rle_to_string(&s->rle, &str, e);
        if (rc) return rc;
        mr_jw_str(f, str);
        free(str);
    }
    fputc('}', f);
    return MR_OK;
}

static int put_ann(FILE *f, const mr_coco_ann *a, int results, mr_err *e)
{
    fprintf(f, "{");
    if (!results) fprintf(f, "\"id\": %lld, ", (long long)a->id);
    fprintf(f, "\"image_id\": %lld, \"category_id\": %lld", (long long)a->image_id, (long long)a->category_id);
    if (a->has_bbox || !results) {
        fputs(", \"bbox\": [", f);
        for (int i = 0; i < 4; i++) { if (i) fputs(", ", f); put_num(f, a->bbox[i]); }
        fputc(']', f);
    }
    if (results) { fputs(", \"score\": ", f); put_num(f, a->score); }
    else {
        fputs(", \"area\": ", f); put_num(f, a->area);
        fprintf(f, ", \"iscrowd\": %d", a->iscrowd);
        if (a->has_ignore) fprintf(f, ", \"ignore\": %d", a->ignore);
    }
    if (mr_coco_ann_seg_kind(a) != MR_SEG_NONE) {
        fputs(", \"segmentation\": ", f);
        int rc = put_seg(f, a->seg, e);
        if (rc) return rc;
    }
    if (a->keypoints) {
        fputs(", \"keypoints\": [", f);
        for (int32_t i = 0; i < 3 * a->num_kpt; i++) { if (i) fputs(", ", f); put_num(f, a->keypoints[i]); }
        fputc(']', f);
        if (!results) fprintf(f, ", \"num_keypoints\": %d", a->num_keypoints);
    }
    fputc('}', f);
    return MR_OK;
}

int mr_coco_save(const mr_coco *c, const char *path, mr_err *e)
{
    if (c->poly_q)
        return mr_errf(e, MR_EUSAGE, "%s: this dataset was read with MR_COCO_POLY_Q5 (polygons kept quantised) and "
                       "cannot be saved", path);
    mr_atomic_file af;
    int rc = mr_atomic_open(&af, path, e);
    if (rc) return rc;
    FILE *f = af.f;
    fputs("{\"images\": [", f);
    for (size_t i = 0; i < c->num_images; i++) {
        const mr_coco_image *im = &c->images[i];
        fprintf(f, "%s\n{\"id\": %lld, \"width\": %d, \"height\": %d, \"file_name\": ", i ? "," : "",
                (long long)im->id, im->width, im->height);
        mr_jw_str(f, im->file_name ? im->file_name : "");
        fputc('}', f);
    }
    fputs("],\n\"categories\": [", f);
    for (size_t i = 0; i < c->num_cats; i++) {
        const mr_coco_cat *k = &c->cats[i];
        fprintf(f, "%s\n{\"id\": %lld, \"name\": ", i ? "," : "", (long long)k->id);
        mr_jw_str(f, k->name ? k->name : "");
        fputs(", \"supercategory\": ", f);
        mr_jw_str(f, k->supercategory ? k->supercategory : "");
        if (k->num_keypoints) {
            fputs(", \"keypoints\": [", f);
            for (int32_t j = 0; j < k->num_keypoints; j++) { if (j) fputs(", ", f); mr_jw_str(f, k->keypoint_names[j]); }
            fputs("], \"skeleton\": [", f);
            for (int32_t j = 0; j < k->num_skeleton; j++)
                fprintf(f, "%s[%d, %d]", j ? ", " : "", k->skeleton[2 * j], k->skeleton[2 * j + 1]);
            fputc(']', f);
        }
        if (k->num_sigmas) {
            fputs(", \"keypoint_sigmas\": [", f);
            for (int32_t j = 0; j < k->num_sigmas; j++) { if (j) fputs(", ", f); fprintf(f, "%.17g", k->keypoint_sigmas[j]); }
            fputc(']', f);
        }
        fputc('}', f);
    }
    fputs("],\n\"annotations\": [", f);
    for (size_t i = 0; i < c->num_anns; i++) {
        fputs(i ? ",\n" : "\n", f);
        if ((rc = put_ann(f, &c->anns[i], 0, e))) { mr_atomic_abort(&af); return rc; }
    }
    fputs("]}\n", f);
    return mr_atomic_commit(&af, e);
}

int mr_coco_save_results(const mr_coco *c, const char *path, mr_err *e)
{
    if (c->kpt_xy || c->poly_q)
        return mr_errf(e, MR_EUSAGE, "%s: these results were read with %s and cannot be saved", path,
                       c->kpt_xy ? "MR_COCO_RES_XY (keypoints without their third values)"
                                 : "MR_COCO_POLY_Q5 (polygons kept quantised)");
    mr_atomic_file af;
    int rc = mr_atomic_open(&af, path, e);
    if (rc) return rc;
    FILE *f = af.f;
    fputc('[', f);
    for (size_t i = 0; i < c->num_anns; i++) {
        fputs(i ? ",\n" : "\n", f);
        if ((rc = put_ann(f, &c->anns[i], 1, e))) { mr_atomic_abort(&af); return rc; }
    }
    fputs("]\n", f);
    return mr_atomic_commit(&af, e);
}
