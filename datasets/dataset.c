/*
 * dataset.c — COCO-format dataset loading and checks; see dataset.h.
 */
#include "datasets/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"

/* stb_image's header probe (libstb provides the implementation) */

void mr_keypoint_flip_map(const char *const *names, int n, int *map)
{
    for (int q = 0; q < n; q++) map[q] = q;
    if (!names) return;
    for (int q = 0; q < n; q++) {
        const char *nm = names[q] ? names[q] : "";
        const char *other, *rest;
        if (!strncmp(nm, "left_", 5)) { other = "right_"; rest = nm + 5; }
        else if (!strncmp(nm, "right_", 6)) { other = "left_"; rest = nm + 6; }
        else continue;
        size_t ol = strlen(other);
        for (int p = 0; p < n; p++)
            if (names[p] && !strncmp(names[p], other, ol) && !strcmp(names[p] + ol, rest)) { map[q] = p; break; }
    }
}

void mr_dataset_free(mr_dataset *d)
{
    if (!d) return;
    mr_coco_free(&d->coco);
    free(d->json_path);
    free(d->image_dir);
    free(d->cat_of_label);
    free(d->img);
    free(d->inst);
    free(d->kps);
    memset(d, 0, sizeof *d);
}

int64_t mr_dataset_cat_of_label(const mr_dataset *d, int label)
{
    return label >= 1 && label <= d->num_classes ? d->cat_of_label[label] : -1;
}

int mr_dataset_label_of_cat(const mr_dataset *d, int64_t cat_id)
{
    /* cat_of_label is sorted: binary search */
    int lo = 1, hi = d->num_classes;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (d->cat_of_label[mid] == cat_id) return mid;
        if (d->cat_of_label[mid] < cat_id) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

const char *mr_dataset_image_path(const mr_dataset *d, int i, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", d->image_dir, d->img[i].file_name);
    return buf;
}

int mr_dataset_load_image(const mr_dataset *d, int i, mr_image *im, mr_err *e)
{
    char p[8192];
    mr_dataset_image_path(d, i, p, sizeof p);
    int rc = mr_image_load(p, im, e);
    if (rc) return mr_err_prefix(e, "%s: images[%d] (id %lld)", d->json_path, i, (long long)d->img[i].id);
    if (im->width != d->img[i].width || im->height != d->img[i].height) {
        int w = im->width, h = im->height;
        mr_image_free(im);
        return mr_errf(e, MR_EUSER, "%s: images[%d] (id %lld): '%s' is %dx%d but the JSON says %dx%d",
                       d->json_path, i, (long long)d->img[i].id, p, w, h, d->img[i].width, d->img[i].height);
    }
    return MR_OK;
}

int mr_dataset_check_image(const mr_dataset *d, int i, mr_err *e)
{
    char p[8192];
    mr_dataset_image_path(d, i, p, sizeof p);
    if (!mr_file_exists(p))
        return mr_errf(e, MR_EIO, "%s: images[%d] (id %lld): cannot open '%s'", d->json_path, i,
                       (long long)d->img[i].id, p);
    int w = 0, h = 0;
    int rc = mr_image_info(p, &w, &h, e);
    if (rc) return mr_err_prefix(e, "%s: images[%d] (id %lld)", d->json_path, i, (long long)d->img[i].id);
    if (w != d->img[i].width || h != d->img[i].height)
        return mr_errf(e, MR_EUSER, "%s: images[%d] (id %lld): '%s' is %dx%d but the JSON says %dx%d",
                       d->json_path, i, (long long)d->img[i].id, p, w, h, d->img[i].width, d->img[i].height);
    return MR_OK;
}

int mr_dataset_inst_rle(const mr_dataset *d, int k, mr_rle *out, mr_err *e)
{
    const mr_coco_ann *a = &d->coco.anns[d->inst[k].ann];
    int rc = mr_coco_ann_rle(a, &d->coco.images[a->image_index], out, e);
    if (rc) return mr_err_prefix(e, "%s: annotation id %lld", d->json_path, (long long)a->id);
    return MR_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

int mr_dataset_load(mr_dataset *d, const char *json_path, const char *image_dir, int check_files,
                    mr_err *e)
{
    memset(d, 0, sizeof *d);
    mr_coco_init(&d->coco);
    int rc = mr_coco_load(&d->coco, json_path, e);
    if (rc) { mr_dataset_free(d); return rc; }
    const mr_coco *c = &d->coco;
    const char *J = json_path;
    d->json_path = strdup(json_path);
    if (!d->json_path) { mr_dataset_free(d); return mr_errf(e, MR_ENOMEM, "out of memory"); }
    /* image folder */
    char buf[8192];
    if (image_dir) {
        d->image_dir = strdup(image_dir);
    } else {
        const char *slash = strrchr(json_path, '/');
        int dl = slash ? (int)(slash - json_path) : 1;
        const char *dir = slash ? json_path : ".";
        snprintf(buf, sizeof buf, "%.*s", dl, dir);
        char p[8300];
        if (c->num_images > 0) {
            snprintf(p, sizeof p, "%s/%s", buf, c->images[0].file_name);
            if (!mr_file_exists(p)) {
                size_t l = strlen(buf);
                snprintf(buf + l, sizeof buf - l, "/images");
            }
        }
        d->image_dir = strdup(buf);
    }
    if (!d->image_dir) { mr_dataset_free(d); return mr_errf(e, MR_ENOMEM, "out of memory"); }

    /* labels: categories in increasing id order */
    d->num_classes = (int)c->num_cats;
    d->cat_of_label = calloc((size_t)d->num_classes + 1, sizeof *d->cat_of_label);
    d->img = calloc(c->num_images ? c->num_images : 1, sizeof *d->img);
    d->inst = calloc(c->num_anns ? c->num_anns : 1, sizeof *d->inst);
    if (!d->cat_of_label || !d->img || !d->inst) { mr_dataset_free(d); return mr_errf(e, MR_ENOMEM, "out of memory"); }
    for (int k = 0; k < d->num_classes; k++) d->cat_of_label[k + 1] = c->cats[k].id;
    qsort(d->cat_of_label + 1, (size_t)d->num_classes, sizeof(int64_t), cmp_i64);
    int *label_of_index = calloc(c->num_cats ? c->num_cats : 1, sizeof(int));
    if (!label_of_index) { mr_dataset_free(d); return mr_errf(e, MR_ENOMEM, "out of memory"); }
    for (size_t k = 0; k < c->num_cats; k++) label_of_index[k] = mr_dataset_label_of_cat(d, c->cats[k].id);

    /* keypoints */
    for (size_t k = 0; k < c->num_cats; k++)
        if (c->cats[k].num_keypoints > 0) {
            if (c->cats[k].num_keypoints > MR_DATASET_MAX_KP) {
                free(label_of_index);
                rc = mr_errf(e, MR_EUSER, "%s: categories[%zu] (id %lld): field keypoints: %d names (at most %d)", J, k,
                             (long long)c->cats[k].id, c->cats[k].num_keypoints, MR_DATASET_MAX_KP);
                mr_dataset_free(d);
                return rc;
            }
            d->nkp = c->cats[k].num_keypoints;
            d->kp_label = label_of_index[k];
            mr_keypoint_flip_map(c->cats[k].keypoint_names, d->nkp, d->flip_map);
            break;
        }
    if (d->nkp) {
        d->kps = calloc((c->num_anns ? c->num_anns : 1) * (size_t)d->nkp * 3, sizeof(float));
        if (!d->kps) { free(label_of_index); mr_dataset_free(d); return mr_errf(e, MR_ENOMEM, "out of memory"); }
    }

    d->nimg = (int)c->num_images;
    for (int i = 0; i < d->nimg && !rc; i++) {
        const mr_coco_image *ci = &c->images[i];
        mr_dataset_img *di = &d->img[i];
        di->id = ci->id;
        di->width = ci->width;
        di->height = ci->height;
        di->file_name = ci->file_name;
        di->first = d->ninst;
        if (check_files) {
            mr_dataset_image_path(d, i, buf, sizeof buf);
            if (!mr_file_exists(buf)) {
                rc = mr_errf(e, MR_EUSER, "%s: images[%d] (id %lld): field file_name: image file '%s' not found", J, i,
                             (long long)ci->id, buf);
                break;
            }
        }
        for (size_t q = c->img_off[i]; q < c->img_off[i + 1] && !rc; q++) {
            size_t ai = c->img_anns[q];
            const mr_coco_ann *a = &c->anns[ai];
            const mr_coco_cat *cat = &c->cats[a->category_index];
            long long aid = (long long)a->id;
            if (mr_coco_ann_seg_kind(a) == MR_SEG_POLY)
                for (int p = 0; p < a->seg->npoly; p++)
                    if (a->seg->poly_len[p] < 6) {
                        rc = mr_errf(e, MR_EUSER,
                                     "%s: annotations[%zu] (id %lld): field segmentation[%d]: polygon with %d point(s), at least 3 expected",
                                     J, ai, aid, p, a->seg->poly_len[p] / 2);
                        break;
                    }
            if (rc) break;
            if (a->num_kpt > 0 && a->num_kpt != cat->num_keypoints) {
                rc = mr_errf(e, MR_EUSER,
                             "%s: annotations[%zu] (id %lld): field keypoints: %d values, expected %d (3 x the %d keypoints of category %lld)",
                             J, ai, aid, 3 * a->num_kpt, 3 * cat->num_keypoints, cat->num_keypoints,
                             (long long)cat->id);
                break;
            }
            const double *b = a->bbox;
            if (b[2] <= 0 || b[3] <= 0) { d->skipped_degenerate++; continue; }
            const double tol = 1.0;
            if (b[0] < -tol || b[1] < -tol || b[0] + b[2] > ci->width + tol || b[1] + b[3] > ci->height + tol) {
                rc = mr_errf(e, MR_EUSER,
                             "%s: annotations[%zu] (id %lld): field bbox: [%g, %g, %g, %g] lies outside the %dx%d image %lld",
                             J, ai, aid, b[0], b[1], b[2], b[3], ci->width, ci->height, (long long)ci->id);
                break;
            }
            if (!a->iscrowd && mr_coco_ann_seg_kind(a) != MR_SEG_NONE && a->has_area && a->area <= 0) {
                d->skipped_zero_area++;
                continue;
            }
            mr_dataset_inst *in = &d->inst[d->ninst];
            in->ann = ai;
            in->box[0] = (float)b[0];
            in->box[1] = (float)b[1];
            in->box[2] = (float)(b[0] + b[2]);
            in->box[3] = (float)(b[1] + b[3]);
            in->label = label_of_index[a->category_index];
            in->iscrowd = (uint8_t)(a->iscrowd != 0);
            in->has_mask = mr_coco_ann_seg_kind(a) != MR_SEG_NONE;
            if (in->iscrowd) d->num_crowd++;
            if (d->nkp && a->num_kpt == d->nkp) {
                float *k = d->kps + (size_t)d->ninst * d->nkp * 3;
                for (int t = 0; t < 3 * d->nkp; t++) k[t] = (float)a->keypoints[t];
            }
            d->ninst++;
            di->ninst++;
        }
    }
    free(label_of_index);
    if (rc) mr_dataset_free(d);
    return rc;
}
