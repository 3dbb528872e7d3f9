/*
 * infer_run.c — inference with trained weights (infer_run.h): the config
 * checked against the one the weights were trained with, the categories
 * stored in the weights, a dataset's val split or one image, the COCO
 * results file and its speed, and PNGs with the detections drawn (--vis).
 */
#include "harness/infer_run.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "coco/coco.h"
#include "coco/rle.h"
#include "core/detector.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/postprocess.h"
#include "core/safetensors.h"
#include "core/train.h"
#include "datasets/dataset.h"
#include "datasets/image.h"
#include "datasets/loader.h"
#include "harness/run_split.h"
#include "harness/speed.h"
#include "variants/config.h"

int stbi_write_png(char const *filename, int w, int h, int comp, const void *data, int stride);
const char *stbi_failure_reason(void);

/* ---- inference ---- */

static void draw_box(uint8_t *px, int w, int h, const float *b, const uint8_t col[3])
{
    int x0 = (int)b[0], y0 = (int)b[1], x1 = (int)b[2], y1 = (int)b[3];
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > w - 1) x1 = w - 1;
    if (y1 > h - 1) y1 = h - 1;
    for (int x = x0; x <= x1; x++)
        for (int c = 0; c < 3; c++) {
            px[((size_t)y0 * w + x) * 3 + c] = col[c];
            px[((size_t)y1 * w + x) * 3 + c] = col[c];
        }
    for (int y = y0; y <= y1; y++)
        for (int c = 0; c < 3; c++) {
            px[((size_t)y * w + x0) * 3 + c] = col[c];
            px[((size_t)y * w + x1) * 3 + c] = col[c];
        }
}

/* A one-image dataset (categories 1..K, no annotations) for --image. */
/* meta (a model's "categories", see categories_meta) into an array of K
 * objects, checked: increasing integer ids, string names, at most one
 * keypointed category with names. Errors name the weights file. */
static int parse_categories_meta(const char *meta, int K, const char *weights, cJSON **out, mr_err *e)
{
    cJSON *a = cJSON_Parse(meta);
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
    if (n != K) {
        cJSON_Delete(a);
        return mr_errf(e, MR_EUSER, "%s: metadata 'categories': expected a JSON array of the %d categories the weights "
                       "predict", weights, K);
    }
    double prev = -1;
    int nkp = 0;
    for (int k = 0; k < K; k++) {
        const cJSON *o = cJSON_GetArrayItem(a, k);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id"), *nm = cJSON_GetObjectItemCaseSensitive(o, "name");
        const cJSON *kn = cJSON_GetObjectItemCaseSensitive(o, "keypoints"), *x;
        int ok = cJSON_IsNumber(id) && id->valuedouble == floor(id->valuedouble) && id->valuedouble > prev &&
                 id->valuedouble < 9.007199254740992e15 && cJSON_IsString(nm);
        if (ok && kn) {
            ok = cJSON_IsArray(kn) && cJSON_GetArraySize(kn) >= 1 && cJSON_GetArraySize(kn) <= MR_DATASET_MAX_KP && !nkp++;
            cJSON_ArrayForEach(x, kn) ok = ok && cJSON_IsString(x);
        }
        if (!ok) {
            cJSON_Delete(a);
            return mr_errf(e, MR_EUSER, "%s: metadata 'categories'[%d]: expected {\"id\": an integer above the previous "
                           "one, \"name\": a string} and, for one category only, \"keypoints\": 1 to %d names",
                           weights, k, MR_DATASET_MAX_KP);
        }
        prev = id->valuedouble;
    }
    *out = a;
    return MR_OK;
}

/* --data: the dataset must have the categories the model was trained on */
static int check_categories(const mr_run_split *s, const cJSON *cats, const char *weights, mr_err *e)
{
    for (int k = 1; k <= s->ds.num_classes; k++) {
        const cJSON *o = cJSON_GetArrayItem(cats, k - 1);
        int64_t want = (int64_t)cJSON_GetObjectItemCaseSensitive(o, "id")->valuedouble;
        const char *wn = cJSON_GetObjectItemCaseSensitive(o, "name")->valuestring;
        int64_t id = mr_dataset_cat_of_label(&s->ds, k);
        long ci = mr_coco_cat_index(&s->ds.coco, id);
        const char *name = ci >= 0 ? s->ds.coco.cats[ci].name : "";
        if (id != want || strcmp(name, wn))
            return mr_errf(e, MR_EUSER, "%s: categories differ from those %s was trained on: label %d is category %lld "
                           "'%s' here, %lld '%s' there", s->ds.json_path, weights, k, (long long)id, name,
                           (long long)want, wn);
    }
    return MR_OK;
}

static int one_image_split(mr_run_split *s, const mr_config *c, const char *image_path, int K, const cJSON *cats,
                           mr_err *e)
{
    memset(s, 0, sizeof *s);
    s->kp_cat = -1;
    mr_dataset *d = &s->ds;
    mr_coco_init(&d->coco);
    int w = 0, h = 0;
    int rc = mr_image_info(image_path, &w, &h, e);
    if (rc) return rc;
    rc = mr_coco_add_image(&d->coco, 1, w, h, image_path, e);
    /* the model's categories when its weights name them, else ids 1..K */
    for (int k = 1; k <= K && !rc; k++) {
        mr_coco_cat cat;
        memset(&cat, 0, sizeof cat);
        cat.id = k;
        cat.name = "";
        cat.supercategory = "";
        const cJSON *o = cats ? cJSON_GetArrayItem(cats, k - 1) : NULL;
        const char *kpn[MR_DATASET_MAX_KP];
        if (o) {
            const cJSON *kn = cJSON_GetObjectItemCaseSensitive(o, "keypoints"), *x;
            cat.id = (int64_t)cJSON_GetObjectItemCaseSensitive(o, "id")->valuedouble;
            cat.name = cJSON_GetObjectItemCaseSensitive(o, "name")->valuestring;
            cJSON_ArrayForEach(x, kn) kpn[cat.num_keypoints++] = x->valuestring;
            cat.keypoint_names = kpn;
            if (kn) { d->nkp = cat.num_keypoints; d->kp_label = k; }
        }
        rc = mr_coco_add_category(&d->coco, &cat, e);
    }
    /* without names: a single-class keypoint model (torchvision's
     * keypointrcnn) has its keypoints on label 1 */
    if (!cats && c->kp_on && K == 1) { d->nkp = c->spec.kp.num_kp; d->kp_label = 1; }
    if (!rc && c->kp_on && d->nkp && d->nkp != c->spec.kp.num_kp)
        rc = mr_errf(e, MR_EUSER, "%s: metadata 'categories' names %d keypoints, the weights predict %d", image_path,
                     d->nkp, c->spec.kp.num_kp);
    if (!rc) rc = mr_coco_finish(&d->coco, e);
    if (rc) return rc;
    d->json_path = strdup(image_path);
    d->image_dir = strdup(image_path[0] == '/' ? "" : ".");
    d->cat_of_label = calloc((size_t)K + 1, sizeof *d->cat_of_label);
    d->img = calloc(1, sizeof *d->img);
    if (!d->json_path || !d->image_dir || !d->cat_of_label || !d->img) return mr_errf(e, MR_ENOMEM, "out of memory");
    d->num_classes = K;
    for (int k = 1; k <= K; k++) d->cat_of_label[k] = d->coco.cats[k - 1].id;
    d->nimg = 1;
    d->img[0].id = 1;
    d->img[0].width = w;
    d->img[0].height = h;
    d->img[0].file_name = d->coco.images[0].file_name;
    mr_resized_size_kind(c->resize, w, h, c->min_size, c->max_size, &s->maxw, &s->maxh, &(float){0});
    return MR_OK;
}

/* draw the detections of image i (score >= 0.3) on its resized pixels and
 * write VIS_DIR/<id>.png */
static int write_vis(const mr_run_split *s, int i, const mr_coco *res, const mr_config *c, const char *vis_dir, mr_err *e)
{
    const mr_dataset_img *di = &s->ds.img[i];
    mr_image im;
    int rc = mr_dataset_load_image(&s->ds, i, &im, e);
    if (rc) return rc;
    int rw, rh;
    float sc;
    mr_resized_size_kind(c->resize, im.width, im.height, c->min_size, c->max_size, &rw, &rh, &sc);
    uint8_t *px = malloc((size_t)rw * rh * 3);
    if (!px) { mr_image_free(&im); return mr_errf(e, MR_ENOMEM, "out of memory"); }
    mr_image_resize_bilinear(im.rgb, im.width, im.height, px, rw, rh);
    mr_image_free(&im);
    long ii = mr_coco_image_index(res, di->id);
    for (size_t k = ii >= 0 ? res->img_off[ii] : 0; ii >= 0 && k < res->img_off[ii + 1]; k++) {
        const mr_coco_ann *a = &res->anns[res->img_anns[k]];
        if (a->score < 0.3) continue;
        float b[4] = {(float)(a->bbox[0] * sc), (float)(a->bbox[1] * sc), (float)((a->bbox[0] + a->bbox[2]) * sc),
                      (float)((a->bbox[1] + a->bbox[3]) * sc)};
        uint8_t col[3] = {(uint8_t)(80 * a->category_id), 255, (uint8_t)(255 - 60 * a->category_id)};
        draw_box(px, rw, rh, b, col);
    }
    char p[4096];
    snprintf(p, sizeof p, "%s/%lld.png", vis_dir, (long long)di->id);
    if (!stbi_write_png(p, rw, rh, 3, px, rw * 3)) rc = mr_errf(e, MR_EIO, "%s: cannot write", p);
    free(px);
    return rc;
}

int mr_infer_run(const char *config_path, const char *weights, const char *data_dir,
                 const char *image_path, const char *out_json, const mr_infer_opts *o,
                 mr_err *e)
{
    mr_infer_opts defo = {1, NULL, -1.0f, NULL, 0, NULL, 0, NULL, 0};
    if (!o) o = &defo;
    int threads = o->threads > 0 ? o->threads : 1;
    mr_run_set_threads(threads);
    mr_config c;
    int rc = mr_config_load_set(&c, config_path, o->sets, o->nsets, e);
    if (rc) return rc;
    /* the class count comes from the weights */
    mr_st_file f;
    if ((rc = mr_st_read(&f, weights, e))) return rc;
    const mr_st_tensor *cs = mr_st_find(&f, "roi_heads.box_predictor.cls_score.bias");
    int K1 = cs && cs->ndim == 1 ? (int)cs->shape[0] : 0;
    const mr_st_tensor *kb = mr_st_find(&f, "roi_heads.keypoint_predictor.kps_score_lowres.bias");
    if (c.kp_on && kb && kb->ndim == 1) c.spec.kp.num_kp = (int)kb->shape[0];
    cJSON *cats = NULL;
    if (K1 >= 2 && mr_st_meta(&f, "categories"))
        rc = parse_categories_meta(mr_st_meta(&f, "categories"), K1 - 1, weights, &cats, e);
    if (!rc && o->changed && o->changed_n) {
        /* what the weights were trained with that this config changes */
        o->changed[0] = 0;
        if (o->changed_set && o->changed_set_n) o->changed_set[0] = 0;
        cJSON *was = mr_st_meta(&f, "config") ? cJSON_Parse(mr_st_meta(&f, "config")) : NULL;
        cJSON *now = mr_config_to_json(&c);
        /* weights described by scripts/torchvision_reference.py carry
         * torchvision's model description, not an mrcnn config: nothing to compare */
        if (cJSON_IsObject(was) && now && !cJSON_GetObjectItemCaseSensitive(was, "torchvision")) {
            cJSON_DeleteItemFromObjectCaseSensitive(was, "schedule");
            cJSON_DeleteItemFromObjectCaseSensitive(was, "num_classes");
            /* where training started and how the config was given shape no inference */
            const char *skip[2] = {"init", "overrides"};
            for (int k = 0; k < 2; k++) {
                cJSON_DeleteItemFromObjectCaseSensitive(was, skip[k]);
                cJSON_DeleteItemFromObjectCaseSensitive(now, skip[k]);
            }
            mr_json_diff_keys(was, now, 1, o->sets, o->nsets, 0, o->changed, o->changed_n);
            if (o->changed_set && o->changed_set_n)
                mr_json_diff_keys(was, now, 1, o->sets, o->nsets, 1, o->changed_set, o->changed_set_n);
        }
        cJSON_Delete(was);
        cJSON_Delete(now);
    }
    mr_st_close(&f);
    if (o->score_thresh >= 0) c.spec.box.score_thresh = o->score_thresh;   /* after the comparison: an option, not the config */
    if (rc) return rc;
    if (K1 < 2) return mr_errf(e, MR_EUSER, "%s: no roi_heads.box_predictor.cls_score.bias: not a detector checkpoint", weights);
    c.num_classes = K1 - 1;
    c.spec.box.num_classes = K1;
    mr_run_split s;
    memset(&s, 0, sizeof s);
    mr_detector *d = NULL;
    if (image_path) {
        rc = one_image_split(&s, &c, image_path, K1 - 1, cats, e);
    } else {
        rc = mr_run_split_load(&s, &c, data_dir, "val", 0, e);
        if (!rc && (int)s.ds.coco.num_cats != K1 - 1)
            rc = mr_errf(e, MR_EUSER, "%s: %zu categories but %s was trained for %d", data_dir,
                         s.ds.coco.num_cats, weights, K1 - 1);
        if (!rc && cats) rc = check_categories(&s, cats, weights, e);
    }
    cJSON_Delete(cats);
    if (!rc) rc = mr_detector_create(&d, &c.spec, e);
    if (!rc) rc = mr_detector_load_weights(d, weights, e);
    mr_coco res;
    mr_coco_init(&res);
    mr_run_infer_stats is;
    if (!rc) rc = mr_run_infer_split(d, &s, &c, &res, &is, e);
    if (!rc) rc = mr_coco_save_results(&res, out_json, e);
    if (!rc) {
        char sp[4096];
        size_t l = strlen(out_json);
        if (l > 5 && !strcmp(out_json + l - 5, ".json")) snprintf(sp, sizeof sp, "%.*s.speed.json", (int)(l - 5), out_json);
        else snprintf(sp, sizeof sp, "%s.speed.json", out_json);
        mr_fps fp;
        memset(&fp, 0, sizeof fp);
        mr_run_fps_machine(&fp, threads);
        fp.rounds = 1;
        fp.stat = "mean over the split";
        fp.batch = c.batch_size;
        fp.input_h = mr_run_round_up(s.maxh, c.size_div);
        fp.input_w = mr_run_round_up(s.maxw, c.size_div);
        mr_run_fps_infer(&fp, &is);
        rc = mr_run_write_fps(sp, &fp, e);
    }
    if (!rc && o->vis_dir) {
        rc = mr_mkdir_p(o->vis_dir, e);
        for (int i = 0; i < s.ds.nimg && !rc; i++) rc = write_vis(&s, i, &res, &c, o->vis_dir, e);
    }
    mr_coco_free(&res);
    mr_detector_free(d);
    mr_run_split_free(&s);
    return rc;
}

