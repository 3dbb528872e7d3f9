/*
 * run_split.c — what training, inference and the speed benchmark share
 * (run_split.h): a dataset split loaded and checked for a config, the
 * loader settings, inference over a batch and over a split into a COCO
 * results set (masks pasted and RLE-encoded, keypoints in image
 * coordinates), evaluation into metrics.json, and binding a config to its
 * data (number of classes, keypoints).
 *
 * Data: datasets/dataset.h loads and checks a split; datasets/loader.h
 * builds the batches (resize, flip, normalise, pad, mask targets) on a
 * prefetch thread, decoding images on demand. Which images and flips make
 * up iteration `it` is a pure function of (seed, it) (mr_loader_iteration),
 * so a resumed run sees the same batches as an uninterrupted one.
 */
#include "harness/run_split.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "coco/rle.h"
#include "core/json.h"
#include "core/postprocess.h"
#include "datasets/image.h"
#include "eval/cocoeval.h"

double mr_run_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the data side: datasets/dataset.h and the prefetching loader ---- */


void mr_run_split_free(mr_run_split *s)
{
    mr_dataset_free(&s->ds);
    memset(s, 0, sizeof *s);
}

/* Load DIR/<name>.json (images in DIR or DIR/images; the loader checks them
 * when it opens). need_anns: a split without annotations is an error. */
int mr_run_split_load(mr_run_split *s, const mr_config *c, const char *dir, const char *name, int need_anns,
                      mr_err *e)
{
    memset(s, 0, sizeof *s);
    s->kp_cat = -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    int rc = mr_dataset_load(&s->ds, path, NULL, 0, e);
    if (rc) return rc;
    const mr_coco *co = &s->ds.coco;
    if (co->num_images == 0) return mr_errf(e, MR_EUSER, "%s: no images", path);
    if (need_anns && co->num_anns == 0)
        return mr_errf(e, MR_EUSER, "%s: no annotations (nothing to train on)", path);
    if (co->num_cats == 0) return mr_errf(e, MR_EUSER, "%s: no categories", path);
    if (s->ds.kp_label > 0) {
        s->kp_cat = (int)mr_coco_cat_index(co, mr_dataset_cat_of_label(&s->ds, s->ds.kp_label));
    }
    for (int i = 0; i < s->ds.nimg; i++) {
        int w, h;
        float sc;
        mr_resized_size_kind(c->resize, s->ds.img[i].width, s->ds.img[i].height, c->min_size, c->max_size, &w, &h, &sc);
        if (h > s->maxh) s->maxh = h;
        if (w > s->maxw) s->maxw = w;
    }
    return MR_OK;
}

/* The model's categories, stored in its weights (metadata "categories") so
 * that inference without the dataset knows them: a JSON array in label
 * order (label k = entry k - 1; labels are the categories in increasing id
 * order), each {"id", "name"} and, for the keypointed category, its
 * "keypoints" names. Caller frees; NULL when out of memory. */
char *mr_run_categories_meta(const mr_dataset *ds)
{
    cJSON *a = cJSON_CreateArray();
    for (int k = 1; k <= ds->num_classes; k++) {
        int64_t id = mr_dataset_cat_of_label(ds, k);
        long ci = mr_coco_cat_index(&ds->coco, id);
        const mr_coco_cat *cat = ci >= 0 ? &ds->coco.cats[ci] : NULL;
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", (double)id);
        cJSON_AddStringToObject(o, "name", cat ? cat->name : "");
        if (cat && k == ds->kp_label) {
            cJSON *kn = cJSON_AddArrayToObject(o, "keypoints");
            for (int32_t i = 0; i < cat->num_keypoints; i++)
                cJSON_AddItemToArray(kn, cJSON_CreateString(cat->keypoint_names[i]));
        }
        cJSON_AddItemToArray(a, o);
    }
    char *txt = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return txt;
}

/* the loader settings of a config: training (shuffled epochs, flips from
 * the config) or inference (images in order, no flips); one prefetch
 * thread that uses no OpenMP team of its own (one pool: see
 * mr_run_set_threads) */
void mr_run_loader_cfg(const mr_config *c, int train, mr_loader_cfg *lc)
{
    mr_loader_cfg_default(lc);
    lc->min_size = (float)c->min_size;
    lc->max_size = (float)c->max_size;
    lc->resize = c->resize;
    lc->size_div = c->size_div;
    lc->flip = train && c->flip;
    lc->batch = c->batch_size;
    lc->seed = c->seed;
    lc->workers = 1;
    lc->shuffle = train;
}


/* ---- inference: one batch, and a split into a results mr_coco ---- */

/* Inference on batch b and its post-processing: each mask pasted into the
 * original image and RLE-encoded (timed into d->ms.mask_paste), keypoints
 * back to original coordinates; appended to res unless res is NULL (the
 * benchmark, which does the same work). paste: scratch of at least the
 * largest original image (pixels). */
int mr_run_infer_batch(mr_detector *d, const mr_batch *b, const mr_run_split *s, mr_dets *dets, uint8_t *paste,
                       mr_coco *res, mr_err *e)
{
    int rc = mr_detector_infer(d, b, dets, e);
    if (rc) return rc;
    const int nk = s->ds.nkp;
    for (int k = 0; k < b->n; k++) {
        const mr_batch_image *bi = &b->img[k];
        for (int q = 0; q < dets[k].n; q++) {
            mr_coco_ann a;
            memset(&a, 0, sizeof a);
            mr_coco_seg sg;   /* the mask, when there is one (add_ann copies it) */
            memset(&sg, 0, sizeof sg);
            const float *bx = dets[k].boxes_orig + 4 * q;
            a.id = res ? (int64_t)res->num_anns + 1 : 0;
            a.image_id = bi->image_id;
            a.category_id = mr_dataset_cat_of_label(&s->ds, dets[k].labels[q]);
            a.bbox[0] = bx[0];
            a.bbox[1] = bx[1];
            a.bbox[2] = bx[2] - bx[0];
            a.bbox[3] = bx[3] - bx[1];
            a.area = a.bbox[2] * a.bbox[3];
            a.score = dets[k].scores[q];
            a.has_bbox = a.has_score = a.has_area = 1;
            mr_rle rle = MR_RLE_INIT;
            if (dets[k].masks) {
                double tp = mr_run_wall();
                mr_paste_mask(dets[k].masks + (size_t)q * dets[k].mask_size * dets[k].mask_size,
                              dets[k].mask_size, bx, bi->orig_height, bi->orig_width, 0.5f, paste);
                rc = mr_rle_encode_rowmajor(&rle, paste, (uint32_t)bi->orig_height, (uint32_t)bi->orig_width, e);
                d->ms.mask_paste += (mr_run_wall() - tp) * 1e3;
                if (rc) return rc;
                sg.kind = MR_SEG_RLE;
                sg.rle = rle;
                a.seg = &sg;
            }
            double kp[3 * MR_DATASET_MAX_KP];
            if (dets[k].kps && nk > 0 && dets[k].labels[q] == s->ds.kp_label && dets[k].num_kp == nk) {
                /* per axis, original / resized side, as the boxes (torchvision's resize_keypoints) */
                float rx = bi->width > 0 ? (float)bi->orig_width / (float)bi->width : 1.0f / bi->scale;
                float ry = bi->height > 0 ? (float)bi->orig_height / (float)bi->height : 1.0f / bi->scale;
                for (int p2 = 0; p2 < nk; p2++) {
                    kp[3 * p2] = dets[k].kps[((size_t)q * nk + p2) * 3] * rx;
                    kp[3 * p2 + 1] = dets[k].kps[((size_t)q * nk + p2) * 3 + 1] * ry;
                    kp[3 * p2 + 2] = 1;
                }
                a.num_kpt = nk;
                a.keypoints = kp;
            }
            if (res) rc = mr_coco_add_ann(res, &a, e);
            mr_rle_free(&rle);
            if (rc) return rc;
        }
    }
    return MR_OK;
}

/* the largest original image of a split, in pixels */
size_t mr_run_max_orig_pixels(const mr_run_split *s)
{
    size_t m = 1;
    for (int i = 0; i < s->ds.nimg; i++) {
        size_t p = (size_t)s->ds.img[i].width * s->ds.img[i].height;
        if (p > m) m = p;
    }
    return m;
}


int mr_run_infer_split(mr_detector *d, const mr_run_split *s, const mr_config *c, mr_coco *res,
                       mr_run_infer_stats *st, mr_err *e)
{
    memset(st, 0, sizeof *st);
    mr_coco_init(res);
    mr_loader_cfg lc;
    mr_run_loader_cfg(c, 0, &lc);
    mr_loader *L = NULL;
    int rc = mr_loader_open(&L, &s->ds, &lc, e);
    if (rc) return rc;
    mr_dets *dets = calloc((size_t)lc.batch, sizeof *dets);
    uint8_t *paste = malloc(mr_run_max_orig_pixels(s));
    if (!dets || !paste) rc = mr_errf(e, MR_ENOMEM, "out of memory");
    const long nb = (s->ds.nimg + lc.batch - 1) / lc.batch;
    st->warmup = nb > MR_FPS_WARMUP ? MR_FPS_WARMUP : 0;
    memset(&d->ms, 0, sizeof d->ms);
    for (long it = 0; it < nb && !rc; it++) {
        const mr_batch *b;
        if ((rc = mr_loader_get(L, it, &b, e))) break;
        if (it == st->warmup) memset(&d->ms, 0, sizeof d->ms);
        double t0 = mr_run_wall();
        rc = mr_run_infer_batch(d, b, s, dets, paste, res, e);
        if (it >= st->warmup) {
            st->sec += mr_run_wall() - t0;
            st->images += b->n;
            st->batches++;
        }
    }
    st->ms = d->ms;
    free(paste);
    free(dets);
    mr_loader_close(L);
    if (rc) return rc;
    const mr_coco *co = &s->ds.coco;
    for (size_t i = 0; i < co->num_images && !rc; i++)
        rc = mr_coco_add_image(res, co->images[i].id, co->images[i].width, co->images[i].height,
                               co->images[i].file_name, e);
    for (size_t i = 0; i < co->num_cats && !rc; i++) rc = mr_coco_add_category(res, &co->cats[i], e);
    if (!rc) rc = mr_coco_finish(res, e);
    return rc;
}

/* evaluate results_path against the split's gt for bbox (and segm when
 * masks were predicted, keypoints when predicted and the set has them);
 * metrics.json {"bbox": EVAL, "segm": EVAL, "keypoints": EVAL} */
int mr_run_evaluate(const mr_run_split *val, const char *results_path, const char *out_dir, int segm, int kps,
                    double *ap, mr_err *e)
{
    const mr_coco *gt = &val->ds.coco;
    mr_coco dt;
    mr_coco_init(&dt);
    int rc = mr_coco_load_results(&dt, gt, results_path, e);
    if (rc) { mr_coco_free(&dt); return rc; }
    cJSON *m = cJSON_CreateObject();
    static const char *const names[3] = {"bbox", "segm", "keypoints"};
    for (int t = 0; t < 3 && !rc; t++) {
        if ((t == 1 && !segm) || (t == 2 && !(kps && val->kp_cat >= 0))) continue;
        mr_eval ev;
        memset(&ev, 0, sizeof ev);
        mr_eval_params p;
        mr_eval_params_default(&p, t == 0 ? MR_IOU_BBOX : t == 1 ? MR_IOU_SEGM : MR_IOU_KEYPOINTS);
        int64_t kcat = t == 2 ? gt->cats[val->kp_cat].id : 0;
        if (t == 2) { p.cat_ids = &kcat; p.num_cat_ids = 1; }
        rc = mr_eval_run(&ev, gt, &dt, &p, e);
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s/eval_%s.json", out_dir, names[t]);
        if (!rc) rc = mr_eval_write_json(&ev, tmp, e);
        if (!rc) {
            if (t == 0) *ap = ev.stats[0];
            cJSON *evj = NULL;
            rc = mr_json_load_file(tmp, &evj, e);
            if (!rc) cJSON_AddItemToObject(m, names[t], evj);
        }
        mr_eval_free(&ev);
    }
    char mpath[4096];
    snprintf(mpath, sizeof mpath, "%s/metrics.json", out_dir);
    if (!rc) rc = mr_json_write_file(mpath, m, e);
    cJSON_Delete(m);
    mr_coco_free(&dt);
    return rc;
}

/* Load the train and val splits for config c and complete c from them
 * (num_classes, keypoint count); errors name the config field or file. */
int mr_run_bind_data(mr_config *c, const char *config_path, const char *data_dir, mr_run_split *tr, mr_run_split *va, mr_err *e)
{
    int rc;
    if ((rc = mr_run_split_load(tr, c, data_dir, "train", 1, e))) return rc;
    if ((rc = mr_run_split_load(va, c, data_dir, "val", 0, e))) return rc;
    int K = tr->ds.num_classes;
    if (c->num_classes && c->num_classes != K)
        return mr_errf(e, MR_EUSER, "%s: field num_classes: %d, but %s/train.json has %d categories",
                       config_path, c->num_classes, data_dir, K);
    if (va->ds.coco.num_cats != tr->ds.coco.num_cats)
        return mr_errf(e, MR_EUSER, "%s/val.json: %zu categories, train.json has %zu", data_dir,
                       va->ds.coco.num_cats, tr->ds.coco.num_cats);
    c->num_classes = K;
    c->spec.box.num_classes = K + 1;
    if (c->kp_on) {
        if (tr->ds.nkp == 0)
            return mr_errf(e, MR_EUSER, "%s: field heads.keypoints: on, but %s/train.json has no category with keypoints",
                           config_path, data_dir);
        c->spec.kp.num_kp = tr->ds.nkp;
    }
    return MR_OK;
}

