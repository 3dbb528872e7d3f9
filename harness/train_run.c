/*
 * train_run.c — one training run end to end and one inference run (see
 * train_run.h): config, dataset, model, the training loop with warm-up and
 * step decay, progress, train_log.jsonl, periodic atomic checkpoints and
 * --resume, evaluation on val (results_val.json, metrics.json), speed.json
 * (the fps protocol of docs/run_layout.md) and record.json.
 *
 * Data: the images of a COCO-format split are decoded once (stb_image),
 * resized so the shorter side is input.min_size (longer side at most
 * max_size, bilinear), kept as bytes; a batch is normalised (ImageNet
 * mean/std), optionally flipped and zero-padded to input.size_divisibility.
 * Which images and flips make up iteration `it` is a pure function of
 * (seed, it), so a resumed run sees the same batches as an uninterrupted
 * one. (The datasets module's threaded loader can replace this.)
 *
 * Determinism: same config + seed + threads => bitwise identical
 * checkpoints and metrics.
 */
#include "harness/train_run.h"

#include <dirent.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <cjson/cJSON.h>
#include <stb_image.h>

#include "core/detector.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/pcg32.h"
#include "core/progress.h"
#include "core/safetensors.h"
#include "core/train.h"
#include "eval/coco.h"
#include "eval/cocoeval.h"
#include "eval/mask.h"
#include "core/postprocess.h"
#include "datasets/image.h"
#include "harness/record.h"
#include "variants/config.h"

/* OpenBLAS (cblas.h pulls in complex.h, whose I clashes with eval/cocoeval.h) */
void openblas_set_num_threads(int);
int openblas_get_parallel(void);
int stbi_write_png(char const *filename, int w, int h, int comp, const void *data, int stride);

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the data side ---- */

typedef struct img_rec {
    int64_t id;
    int ow, oh, w, h;      /* original and resized */
    float scale;
    uint8_t *pix;          /* h x w x 3 */
    int ninst;
    float *boxes;          /* resized coordinates */
    int *labels;
    uint8_t *crowd;
    uint8_t **masks;       /* per kept instance: oh x ow row-major (heads.mask) */
    float *kps;            /* ninst x nk x 3 (resized coordinates), when the set has keypoints */
} img_rec;

typedef struct split {
    mr_coco coco;
    int n;
    img_rec *im;
    int maxh, maxw;
    int nskipped;          /* degenerate boxes skipped */
    int kp_cat, nk;        /* the keypointed category (index) and its keypoint count; -1 / 0 */
    int flipmap[64];       /* keypoint k <-> its left/right mirror */
} split;

static void split_free(split *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->im[i].pix);
        free(s->im[i].boxes);
        free(s->im[i].labels);
        free(s->im[i].crowd);
        free(s->im[i].kps);
        if (s->im[i].masks)
            for (int k = 0; k < s->im[i].ninst; k++) free(s->im[i].masks[k]);
        free(s->im[i].masks);
    }
    free(s->im);
    mr_coco_free(&s->coco);
    memset(s, 0, sizeof *s);
}

/* Load DIR/<name>.json and its images (file_name relative to DIR or
 * DIR/images). need_anns: a split without annotations is an error. */
static int split_load(split *s, const mr_config *c, const char *dir, const char *name, int need_anns,
                      mr_err *e)
{
    memset(s, 0, sizeof *s);
    mr_coco_init(&s->coco);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.json", dir, name);
    int rc = mr_coco_load(&s->coco, path, e);
    if (rc) return rc;
    mr_coco *co = &s->coco;
    if (co->num_images == 0) return mr_errf(e, MR_EUSER, "%s: no images", path);
    if (need_anns && co->num_anns == 0)
        return mr_errf(e, MR_EUSER, "%s: no annotations (nothing to train on)", path);
    if (co->num_cats == 0) return mr_errf(e, MR_EUSER, "%s: no categories", path);
    s->kp_cat = -1;
    for (size_t k = 0; k < co->num_cats; k++)
        if (co->cats[k].num_keypoints > 0) {
            if (co->cats[k].num_keypoints > 64)
                return mr_errf(e, MR_EUSER, "%s: category %lld: %d keypoints (at most 64)", path,
                               (long long)co->cats[k].id, co->cats[k].num_keypoints);
            s->kp_cat = (int)k;
            s->nk = co->cats[k].num_keypoints;
            /* flip map from the names: left_X <-> right_X */
            for (int q = 0; q < s->nk; q++) {
                s->flipmap[q] = q;
                const char *nm = co->cats[k].keypoint_names ? co->cats[k].keypoint_names[q] : "";
                const char *side = !strncmp(nm, "left_", 5) ? "right_" : !strncmp(nm, "right_", 6) ? "left_" : NULL;
                if (!side) continue;
                const char *rest = nm + (nm[0] == 'l' ? 5 : 6);
                for (int p2 = 0; p2 < s->nk; p2++) {
                    const char *n2 = co->cats[k].keypoint_names[p2];
                    if (!strncmp(n2, side, strlen(side)) && !strcmp(n2 + strlen(side), rest)) s->flipmap[q] = p2;
                }
            }
            break;
        }
    s->n = (int)co->num_images;
    s->im = calloc((size_t)s->n, sizeof *s->im);
    if (!s->im) return mr_errf(e, MR_ENOMEM, "%s: out of memory", path);
    for (int i = 0; i < s->n; i++) {
        const mr_coco_image *ci = &co->images[i];
        img_rec *r = &s->im[i];
        r->id = ci->id;
        char ip[8192];
        snprintf(ip, sizeof ip, "%s/%s", dir, ci->file_name);
        if (!mr_file_exists(ip)) snprintf(ip, sizeof ip, "%s/images/%s", dir, ci->file_name);
        int w, h, ch;
        uint8_t *px = stbi_load(ip, &w, &h, &ch, 3);
        if (!px)
            return mr_errf(e, MR_EUSER, "%s: image id %lld: cannot read '%s' (%s)", path,
                           (long long)ci->id, ip, stbi_failure_reason());
        if ((ci->width && ci->width != w) || (ci->height && ci->height != h)) {
            stbi_image_free(px);
            return mr_errf(e, MR_EUSER, "%s: image id %lld ('%s'): the file is %dx%d but the annotation says %dx%d",
                           path, (long long)ci->id, ci->file_name, w, h, ci->width, ci->height);
        }
        r->ow = w;
        r->oh = h;
        mr_resized_size(w, h, c->min_size, c->max_size, &r->w, &r->h, &r->scale);
        r->pix = malloc((size_t)r->w * r->h * 3);
        if (!r->pix) { stbi_image_free(px); return mr_errf(e, MR_ENOMEM, "out of memory"); }
        mr_image_resize_bilinear(px, w, h, r->pix, r->w, r->h);
        stbi_image_free(px);
        size_t a0 = co->img_off[i], a1 = co->img_off[i + 1];
        int na = (int)(a1 - a0);
        if (c->mask_on) {
            r->masks = calloc((size_t)(na + 1), sizeof *r->masks);
            if (!r->masks) return mr_errf(e, MR_ENOMEM, "out of memory");
        }
        if (s->nk) {
            r->kps = calloc((size_t)(na + 1) * s->nk * 3, sizeof(float));
            if (!r->kps) return mr_errf(e, MR_ENOMEM, "out of memory");
        }
        r->boxes = malloc(sizeof(float) * 4 * (size_t)(na + 1));
        r->labels = malloc(sizeof(int) * (size_t)(na + 1));
        r->crowd = malloc((size_t)(na + 1));
        if (!r->boxes || !r->labels || !r->crowd) return mr_errf(e, MR_ENOMEM, "out of memory");
        for (size_t k = a0; k < a1; k++) {
            const mr_coco_ann *an = &co->anns[co->img_anns[k]];
            if (!(an->bbox[2] > 0.0 && an->bbox[3] > 0.0)) { s->nskipped++; continue; }
            float *b = r->boxes + 4 * r->ninst;
            b[0] = (float)(an->bbox[0] * r->scale);
            b[1] = (float)(an->bbox[1] * r->scale);
            b[2] = (float)((an->bbox[0] + an->bbox[2]) * r->scale);
            b[3] = (float)((an->bbox[1] + an->bbox[3]) * r->scale);
            r->labels[r->ninst] = an->category_index + 1;
            r->crowd[r->ninst] = (uint8_t)(an->iscrowd != 0);
            if (r->kps && an->num_kpt > 0) {
                if (an->num_kpt != s->nk)
                    return mr_errf(e, MR_EUSER, "%s: annotation id %lld: field keypoints: %d keypoints, the category has %d",
                                   path, (long long)an->id, an->num_kpt, s->nk);
                float *k = r->kps + (size_t)r->ninst * s->nk * 3;
                for (int q = 0; q < s->nk; q++) {
                    k[3 * q] = (float)(an->keypoints[3 * q] * r->scale);
                    k[3 * q + 1] = (float)(an->keypoints[3 * q + 1] * r->scale);
                    k[3 * q + 2] = (float)an->keypoints[3 * q + 2];
                }
            }
            if (r->masks) {
                mr_rle rle = MR_RLE_INIT;
                int mrc = mr_coco_ann_rle(an, ci, &rle, e);
                r->masks[r->ninst] = malloc((size_t)w * h);
                if (mrc || !r->masks[r->ninst] || rle.h != (uint32_t)h || rle.w != (uint32_t)w) {
                    mr_rle_free(&rle);
                    return mrc ? mr_err_prefix(e, "%s: annotation id %lld", path, (long long)an->id)
                               : mr_errf(e, MR_EUSER, "%s: annotation id %lld: mask size differs from its image",
                                         path, (long long)an->id);
                }
                mr_rle_decode_rowmajor(&rle, r->masks[r->ninst]);
                mr_rle_free(&rle);
            }
            r->ninst++;
        }
        if (r->h > s->maxh) s->maxh = r->h;
        if (r->w > s->maxw) s->maxw = r->w;
    }
    return MR_OK;
}

/* what the mask-target callback of one batch slot sees */
typedef struct mask_ctx {
    const img_rec *r;
    int flip;
} mask_ctx;

/* Mask target of instance inst for a box (resized, possibly flipped
 * coordinates): the M x M average of 2 x 2 samples per cell of the
 * original-resolution mask (torchvision's project_masks_on_boxes samples
 * the full mask with roi_align likewise). */
static int mask_target(const void *ctx, int inst, const float box[4], int M, float *out)
{
    const mask_ctx *mc = ctx;
    const img_rec *r = mc->r;
    if (!r->masks || inst < 0 || inst >= r->ninst || !r->masks[inst]) return -1;
    const uint8_t *m = r->masks[inst];
    float bw = (box[2] - box[0]) / M, bh = (box[3] - box[1]) / M, inv = 1.0f / r->scale;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < M; j++) {
            float acc = 0;
            for (int sy = 0; sy < 2; sy++)
                for (int sx = 0; sx < 2; sx++) {
                    float x = box[0] + (j + 0.25f + 0.5f * sx) * bw, y = box[1] + (i + 0.25f + 0.5f * sy) * bh;
                    if (mc->flip) x = r->w - x;
                    int ox = (int)floorf(x * inv), oy = (int)floorf(y * inv);
                    if (ox >= 0 && oy >= 0 && ox < r->ow && oy < r->oh) acc += m[(size_t)oy * r->ow + ox] ? 1.0f : 0.0f;
                }
            out[i * M + j] = 0.25f * acc;
        }
    return 0;
}

typedef struct batcher {
    mr_batch b;
    mr_batch_image img[64];
    mask_ctx mctx[64];
    float *boxes[64];
    float *kps[64];
    int cap_h, cap_w;
} batcher;

static int round_up(int x, int d) { return (x + d - 1) / d * d; }

static int batcher_init(batcher *bt, int nmax, int maxh, int maxw, int div, int max_inst, int nk, mr_err *e)
{
    memset(bt, 0, sizeof *bt);
    bt->cap_h = round_up(maxh, div);
    bt->cap_w = round_up(maxw, div);
    bt->b.images = malloc(sizeof(float) * 3 * (size_t)nmax * bt->cap_h * bt->cap_w);
    bt->b.img = bt->img;
    if (!bt->b.images) return mr_errf(e, MR_ENOMEM, "batch: out of memory");
    for (int i = 0; i < nmax; i++) {
        bt->boxes[i] = malloc(sizeof(float) * 4 * (size_t)(max_inst + 1));
        bt->kps[i] = malloc(sizeof(float) * 3 * (size_t)(max_inst + 1) * (size_t)(nk + 1));
        if (!bt->boxes[i] || !bt->kps[i]) return mr_errf(e, MR_ENOMEM, "batch: out of memory");
    }
    return MR_OK;
}

static void batcher_free(batcher *bt)
{
    free(bt->b.images);
    for (int i = 0; i < 64; i++) { free(bt->boxes[i]); free(bt->kps[i]); }
}

/* fill the batch with images idx[0..n) of s, flips given per image */
static void batcher_fill(batcher *bt, const split *s, const int *idx, const int *flip, int n, int div)
{
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    int H = 0, W = 0;
    for (int i = 0; i < n; i++) {
        const img_rec *r = &s->im[idx[i]];
        if (r->h > H) H = r->h;
        if (r->w > W) W = r->w;
    }
    H = round_up(H, div);
    W = round_up(W, div);
    mr_batch *b = &bt->b;
    b->n = n;
    b->H = H;
    b->W = W;
    memset(b->images, 0, sizeof(float) * 3 * (size_t)n * H * W);
    for (int i = 0; i < n; i++) {
        const img_rec *r = &s->im[idx[i]];
        float *im = b->images + (size_t)i * 3 * H * W;
        for (int y = 0; y < r->h; y++)
            for (int x = 0; x < r->w; x++) {
                int sx = flip[i] ? r->w - 1 - x : x;
                const uint8_t *p = r->pix + ((size_t)y * r->w + sx) * 3;
                for (int c = 0; c < 3; c++)
                    im[(size_t)c * H * W + (size_t)y * W + x] = (p[c] / 255.0f - mean[c]) / std[c];
            }
        mr_batch_image *bi = &bt->img[i];
        memset(bi, 0, sizeof *bi);
        bi->image_id = (long)r->id;
        bi->orig_height = r->oh;
        bi->orig_width = r->ow;
        bi->height = r->h;
        bi->width = r->w;
        bi->scale = r->scale;
        bi->flipped = flip[i];
        bi->ninst = r->ninst;
        bi->boxes = bt->boxes[i];
        for (int k = 0; k < r->ninst; k++) {
            const float *sb = r->boxes + 4 * k;
            float *db = bi->boxes + 4 * k;
            if (flip[i]) {
                db[0] = r->w - sb[2]; db[1] = sb[1]; db[2] = r->w - sb[0]; db[3] = sb[3];
            } else {
                memcpy(db, sb, 4 * sizeof(float));
            }
        }
        bi->labels = r->labels;
        bi->iscrowd = r->crowd;
        if (r->kps) {
            int nk = s->nk;
            for (int k = 0; k < r->ninst; k++)
                for (int q = 0; q < nk; q++) {
                    const float *sk = r->kps + ((size_t)k * nk + q) * 3;
                    float *dk = bt->kps[i] + ((size_t)k * nk + (flip[i] ? s->flipmap[q] : q)) * 3;
                    dk[0] = flip[i] ? r->w - sk[0] : sk[0];
                    dk[1] = sk[1];
                    dk[2] = sk[2];
                }
            bi->nkp = nk;
            bi->keypoints = bt->kps[i];
        }
        if (r->masks) {
            bt->mctx[i].r = r;
            bt->mctx[i].flip = flip[i];
            bi->mask_target = mask_target;
            bi->mask_ctx = &bt->mctx[i];
        }
    }
}

/* images and flips of iteration it: epoch-wise shuffles from (seed, epoch) */
static void iteration_batch(uint64_t seed, long it, int B, int n, int flip_on, int *idx, int *flip, int *perm)
{
    long first = it * B;
    long cur_epoch = -1;
    for (int k = 0; k < B; k++) {
        long g = first + k;
        long epoch = g / n;
        if (epoch != cur_epoch) {
            mr_pcg32 r;
            mr_pcg32_seed(&r, seed, 1000 + (uint64_t)epoch);
            for (int i = 0; i < n; i++) perm[i] = i;
            for (int i = n - 1; i > 0; i--) {
                int j = (int)mr_pcg32_bounded(&r, (uint32_t)(i + 1));
                int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
            }
            cur_epoch = epoch;
        }
        idx[k] = perm[g % n];
        mr_pcg32 fr;
        mr_pcg32_seed(&fr, seed, 0x666c6970 + (uint64_t)g);
        flip[k] = flip_on ? (int)(mr_pcg32_next(&fr) & 1) : 0;
    }
}

static int max_instances(const split *s)
{
    int m = 0;
    for (int i = 0; i < s->n; i++) if (s->im[i].ninst > m) m = s->im[i].ninst;
    return m;
}

/* ---- inference over a split into a results mr_coco ---- */

typedef struct infer_stats { double sec; long images; mr_stage_ms ms; } infer_stats;

static int infer_split(mr_detector *d, const split *s, const mr_config *c, mr_coco *res,
                       infer_stats *st, mr_err *e)
{
    int B = c->batch_size, rc;
    batcher bt;
    if ((rc = batcher_init(&bt, B, s->maxh, s->maxw, c->size_div, max_instances(s), s->nk, e))) { batcher_free(&bt); return rc; }
    mr_coco_init(res);
    int idx[64], flip[64] = {0};
    mr_dets dets[64];
    int maxo = 1;
    for (int i = 0; i < s->n; i++)
        if (s->im[i].oh * s->im[i].ow > maxo) maxo = s->im[i].oh * s->im[i].ow;
    uint8_t *paste = malloc((size_t)maxo);
    if (!paste) { batcher_free(&bt); return mr_errf(e, MR_ENOMEM, "out of memory"); }
    memset(&d->ms, 0, sizeof d->ms);
    double t0 = wall();
    for (int i0 = 0; i0 < s->n && !rc; i0 += B) {
        int n = s->n - i0 < B ? s->n - i0 : B;
        for (int k = 0; k < n; k++) idx[k] = i0 + k;
        batcher_fill(&bt, s, idx, flip, n, c->size_div);
        for (int k = 0; k < n; k++) bt.img[k].ninst = 0;  /* inference: no targets */
        if ((rc = mr_detector_infer(d, &bt.b, dets, e))) break;
        for (int k = 0; k < n && !rc; k++) {
            for (int q = 0; q < dets[k].n; q++) {
                mr_coco_ann a;
                memset(&a, 0, sizeof a);
                a.id = (int64_t)res->num_anns + 1;
                const float *bx = dets[k].boxes_orig + 4 * q;
                a.image_id = s->im[i0 + k].id;
                a.category_id = s->coco.cats[dets[k].labels[q] - 1].id;
                a.bbox[0] = bx[0];
                a.bbox[1] = bx[1];
                a.bbox[2] = bx[2] - bx[0];
                a.bbox[3] = bx[3] - bx[1];
                a.area = a.bbox[2] * a.bbox[3];
                a.score = dets[k].scores[q];
                a.has_bbox = a.has_score = a.has_area = 1;
                mr_rle rle = MR_RLE_INIT;
                if (dets[k].masks) {
                    const img_rec *r = &s->im[i0 + k];
                    double tp = wall();
                    mr_paste_mask(dets[k].masks + (size_t)q * dets[k].mask_size * dets[k].mask_size,
                                  dets[k].mask_size, bx, r->oh, r->ow, 0.5f, paste);
                    if ((rc = mr_rle_encode_rowmajor(&rle, paste, (uint32_t)r->oh, (uint32_t)r->ow, e))) break;
                    a.seg.kind = MR_SEG_RLE;
                    a.seg.rle = rle;
                    d->ms.mask_paste += (wall() - tp) * 1e3;
                }
                double kp[3 * 64];
                if (dets[k].kps && dets[k].labels[q] - 1 == s->kp_cat && dets[k].num_kp == s->nk) {
                    float inv = 1.0f / s->im[i0 + k].scale;
                    for (int p2 = 0; p2 < s->nk; p2++) {
                        kp[3 * p2] = dets[k].kps[((size_t)q * s->nk + p2) * 3] * inv;
                        kp[3 * p2 + 1] = dets[k].kps[((size_t)q * s->nk + p2) * 3 + 1] * inv;
                        kp[3 * p2 + 2] = 1;
                    }
                    a.num_kpt = s->nk;
                    a.keypoints = kp;
                }
                rc = mr_coco_add_ann(res, &a, e);
                mr_rle_free(&rle);
                if (rc) break;
            }
        }
    }
    st->sec = wall() - t0;
    st->images = s->n;
    st->ms = d->ms;
    free(paste);
    batcher_free(&bt);
    if (rc) return rc;
    for (size_t i = 0; i < s->coco.num_images && !rc; i++)
        rc = mr_coco_add_image(res, s->coco.images[i].id, s->coco.images[i].width, s->coco.images[i].height,
                               s->coco.images[i].file_name, e);
    for (size_t i = 0; i < s->coco.num_cats && !rc; i++) rc = mr_coco_add_category(res, &s->coco.cats[i], e);
    if (!rc) rc = mr_coco_finish(res, e);
    return rc;
}

/* evaluate results_path against the split's gt for bbox (and segm when
 * masks were predicted); metrics.json {"bbox": EVAL, "segm": EVAL} */
static int evaluate(const split *val, const char *results_path, const char *out_dir, int segm, int kps,
                    double *ap, mr_err *e)
{
    mr_coco dt;
    mr_coco_init(&dt);
    int rc = mr_coco_load_results(&dt, &val->coco, results_path, e);
    if (rc) { mr_coco_free(&dt); return rc; }
    cJSON *m = cJSON_CreateObject();
    static const char *const names[3] = {"bbox", "segm", "keypoints"};
    for (int t = 0; t < 3 && !rc; t++) {
        if ((t == 1 && !segm) || (t == 2 && !(kps && val->kp_cat >= 0))) continue;
        mr_eval ev;
        memset(&ev, 0, sizeof ev);
        mr_eval_params p;
        mr_eval_params_default(&p, t == 0 ? MR_IOU_BBOX : t == 1 ? MR_IOU_SEGM : MR_IOU_KEYPOINTS);
        int64_t kcat = t == 2 ? val->coco.cats[val->kp_cat].id : 0;
        if (t == 2) { p.cat_ids = &kcat; p.num_cat_ids = 1; }
        rc = mr_eval_run(&ev, &val->coco, &dt, &p, e);
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

/* Threads for a run: one pool. With OpenBLAS's OpenMP build (what the
 * Makefile links; openblas_get_parallel() == 2) BLAS runs on our OpenMP team
 * and both get n. With its pthread build OpenBLAS keeps a second pool whose
 * idle threads spin (sched_yield) while the OpenMP team spins at its
 * barriers: 3 or more spinning threads on 2 cores made bench_fpn 2.7x
 * slower at 2 threads than at 1 (perf: 60% of cycles in libgomp's spin
 * loop, 27% in sched_yield). Then BLAS stays on one thread and only the
 * OpenMP loops use n. */
const char *mr_run_set_threads(int n)
{
    if (n < 1) n = 1;
    omp_set_num_threads(n);
    int par = openblas_get_parallel();
    if (par == 1 && n > 1) {
        openblas_set_num_threads(1);
        return "pthread build: BLAS on 1 thread, OpenMP loops on n";
    }
    openblas_set_num_threads(n);
    return par == 2 ? "openmp build: one OpenMP pool" : par == 1 ? "pthread build, 1 thread" : "serial build";
}

/* newest checkpoint_NNNNNNN.safetensors in dir into path; 0 if none */
static long newest_checkpoint(const char *dir, char *path, size_t n)
{
    DIR *d = opendir(dir);
    long best = -1;
    if (!d) return 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        long it;
        char tail[64];
        if (sscanf(de->d_name, "checkpoint_%ld.%63s", &it, tail) == 2 && !strcmp(tail, "safetensors") && it > best) {
            best = it;
            snprintf(path, n, "%s/%s", dir, de->d_name);
        }
    }
    closedir(d);
    return best > 0 ? best : 0;
}

static int write_speed(const char *out_dir, const mr_config *c, int threads, int H, int W, double train_ips,
                       const infer_stats *is, const mr_stage_ms *tms, long titers, mr_err *e)
{
    mr_machine m;
    mr_machine_detect(&m, threads);
    cJSON *j = cJSON_CreateObject(), *p = cJSON_AddObjectToObject(j, "protocol");
    cJSON_AddNumberToObject(p, "warmup", 3);
    cJSON_AddNumberToObject(p, "iters", (double)is->images);
    cJSON_AddNumberToObject(p, "batch", c->batch_size);
    cJSON_AddNumberToObject(p, "threads", threads);
    cJSON_AddStringToObject(p, "blas_core", m.blas_core);
    cJSON_AddStringToObject(p, "cpu", m.cpu);
    cJSON *in = cJSON_AddArrayToObject(p, "input");
    cJSON_AddItemToArray(in, cJSON_CreateNumber(H));
    cJSON_AddItemToArray(in, cJSON_CreateNumber(W));
    cJSON_AddStringToObject(p, "note", "train: all iterations after the first 3; infer: the whole val split, post-processing included");
    double ni = is->images > 0 ? (double)is->images : 1;
    cJSON_AddNumberToObject(j, "infer_img_per_s", is->sec > 0 ? is->images / is->sec : 0);
    cJSON_AddNumberToObject(j, "train_iter_per_s", train_ips);
    cJSON *s = cJSON_AddObjectToObject(j, "stages_ms");
    cJSON_AddNumberToObject(s, "backbone", is->ms.backbone / ni);
    cJSON_AddNumberToObject(s, "rpn", is->ms.rpn / ni);
    cJSON_AddNumberToObject(s, "roi_extract", is->ms.roi_extract / ni);
    cJSON_AddNumberToObject(s, "heads", is->ms.heads / ni);
    cJSON_AddNumberToObject(s, "postprocess", is->ms.postprocess / ni);
    cJSON_AddNumberToObject(s, "mask_paste", is->ms.mask_paste / ni);
    /* training: per iteration (forward + backward), over the whole run */
    double nt = titers > 0 ? (double)titers : 1;
    s = cJSON_AddObjectToObject(j, "train_stages_ms");
    cJSON_AddNumberToObject(s, "backbone", tms->backbone / nt);
    cJSON_AddNumberToObject(s, "rpn", tms->rpn / nt);
    cJSON_AddNumberToObject(s, "roi_extract", tms->roi_extract / nt);
    cJSON_AddNumberToObject(s, "heads", tms->heads / nt);
    char path[4096];
    snprintf(path, sizeof path, "%s/speed.json", out_dir);
    int rc = mr_json_write_file(path, j, e);
    cJSON_Delete(j);
    return rc;
}

/* keep the lines of train_log.jsonl whose iter <= upto (resume) */
static void truncate_log(const char *path, long upto)
{
    char *buf = NULL;
    size_t len = 0;
    mr_err e;
    if (mr_read_file(path, &buf, &len, &e)) return;
    FILE *f = fopen(path, "w");
    if (f) {
        char *save = NULL;
        for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            long it = -1;
            const char *p = strstr(line, "\"iter\":");
            if (p) it = strtol(p + 7, NULL, 10);
            if (it >= 0 && it <= upto) fprintf(f, "%s\n", line);
        }
        fclose(f);
    }
    free(buf);
}

int mr_train_run(const char *config_path, const char *data_dir, const char *out_dir,
                 const mr_train_opts *o, mr_err *e)
{
    mr_train_opts defo = {0};
    defo.seed = -1;
    if (!o) o = &defo;
    int threads = o->threads > 0 ? o->threads : 1;
    mr_run_set_threads(threads);
    mr_config c;
    int rc = mr_config_load(&c, config_path, e);
    if (rc) return rc;
    if (o->max_iters > 0) {
        /* scale the schedule's steps and warm-up with the shortened run */
        double f = (double)o->max_iters / (double)c.sched.iters;
        for (int i = 0; i < c.sched.nsteps; i++) c.sched.steps[i] = (long)(c.sched.steps[i] * f);
        if (c.sched.warmup_iters > o->max_iters / 2) c.sched.warmup_iters = o->max_iters / 2;
        c.sched.iters = o->max_iters;
    }
    if (o->seed >= 0) c.seed = (uint64_t)o->seed;
    split tr, va;
    memset(&tr, 0, sizeof tr);
    memset(&va, 0, sizeof va);
    mr_detector *d = NULL;
    mr_trainer t;
    memset(&t, 0, sizeof t);
    batcher bt;
    memset(&bt, 0, sizeof bt);
    int *perm = NULL;
    FILE *log = NULL;
    if ((rc = split_load(&tr, &c, data_dir, "train", 1, e))) goto done;
    if ((rc = split_load(&va, &c, data_dir, "val", 0, e))) goto done;
    int K = (int)tr.coco.num_cats;
    if (c.num_classes && c.num_classes != K) {
        rc = mr_errf(e, MR_EUSER, "%s: field num_classes: %d, but %s/train.json has %d categories",
                     config_path, c.num_classes, data_dir, K);
        goto done;
    }
    if (va.coco.num_cats != tr.coco.num_cats) {
        rc = mr_errf(e, MR_EUSER, "%s/val.json: %zu categories, train.json has %zu", data_dir,
                     va.coco.num_cats, tr.coco.num_cats);
        goto done;
    }
    c.num_classes = K;
    c.spec.box.num_classes = K + 1;
    if (c.kp_on) {
        if (tr.nk == 0) {
            rc = mr_errf(e, MR_EUSER, "%s: field heads.keypoints: on, but %s/train.json has no category with keypoints",
                         config_path, data_dir);
            goto done;
        }
        c.spec.kp.num_kp = tr.nk;
    }
    if ((rc = mr_mkdir_p(out_dir, e))) goto done;
    char path[4096], fp[32];
    snprintf(path, sizeof path, "%s/config.json", out_dir);
    if ((rc = mr_config_write(&c, path, e))) goto done;
    mr_config_fingerprint(&c, fp, sizeof fp);
    if ((rc = mr_detector_create(&d, &c.spec, e))) { mr_err_prefix(e, "%s", config_path); goto done; }
    mr_detector_init_weights(d, c.seed);
    if ((rc = mr_trainer_init(&t, d, &c.sched, c.seed, e))) goto done;
    char logpath[4096];
    snprintf(logpath, sizeof logpath, "%s/train_log.jsonl", out_dir);
    if (o->resume) {
        char ck[4096];
        long it = newest_checkpoint(out_dir, ck, sizeof ck);
        if (it > 0) {
            if ((rc = mr_trainer_load(&t, ck, fp, e))) goto done;
            truncate_log(logpath, t.iter);
        } else {
            remove(logpath);
        }
    } else {
        remove(logpath);
    }
    log = fopen(logpath, "a");
    if (!log) { rc = mr_errf(e, MR_EIO, "%s: cannot open for writing", logpath); goto done; }
    int B = c.batch_size;
    if (B > 64) B = 64;
    if ((rc = batcher_init(&bt, B, tr.maxh, tr.maxw, c.size_div, max_instances(&tr), tr.nk, e))) goto done;
    perm = malloc(sizeof(int) * (size_t)tr.n);
    if (!perm) { rc = mr_errf(e, MR_ENOMEM, "out of memory"); goto done; }
    mr_progress pg;
    if (!o->quiet) {
        mr_progress_init(&pg, stderr, "train", c.sched.iters);
        mr_progress_resume(&pg, t.iter);
    }
    int idx[64], flip[64];
    double t0 = wall(), t_timed = 0;
    long timed_iters = 0, start_iter = t.iter;
    memset(&d->ms, 0, sizeof d->ms);
    while (t.iter < c.sched.iters) {
        iteration_batch(c.seed, t.iter, B, tr.n, c.flip, idx, flip, perm);
        batcher_fill(&bt, &tr, idx, flip, B, c.size_div);
        double ts = wall();
        mr_losses L;
        if ((rc = mr_trainer_step(&t, &bt.b, &L, e))) goto done;
        if (t.iter - start_iter > 3) { t_timed += wall() - ts; timed_iters++; }
        if (t.iter % c.log_every == 0 || t.iter == c.sched.iters) {
            fprintf(log, "{\"iter\": %ld, \"lr\": %.8g, \"loss\": %.6g, \"loss_rpn_cls\": %.6g, \"loss_rpn_box\": %.6g, "
                         "\"loss_cls\": %.6g, \"loss_box\": %.6g, ",
                    t.iter, t.last_lr, L.total, L.rpn_cls, L.rpn_box, L.cls, L.box);
            if (L.has_mask) fprintf(log, "\"loss_mask\": %.6g, ", L.mask);
            if (L.has_kp) fprintf(log, "\"loss_kp\": %.6g, ", L.kp);
            fprintf(log, "\"sec\": %.3f}\n", wall() - t0);
            fflush(log);
        }
        if (!o->quiet) {
            mr_progress_set(&pg, "loss", L.total);
            mr_progress_set(&pg, "rpn_cls", L.rpn_cls);
            mr_progress_set(&pg, "rpn_box", L.rpn_box);
            mr_progress_set(&pg, "cls", L.cls);
            mr_progress_set(&pg, "box", L.box);
            if (L.has_mask) mr_progress_set(&pg, "mask", L.mask);
            if (L.has_kp) mr_progress_set(&pg, "kp", L.kp);
            mr_progress_update(&pg, t.iter);
        }
        if (t.iter % c.checkpoint_every == 0 || t.iter == c.sched.iters) {
            snprintf(path, sizeof path, "%s/checkpoint_%07ld.safetensors", out_dir, t.iter);
            if ((rc = mr_trainer_save(&t, path, fp, e))) goto done;
        }
    }
    if (!o->quiet) mr_progress_finish(&pg);
    mr_stage_ms train_ms = d->ms;
    long train_done = t.iter - start_iter;
    snprintf(path, sizeof path, "%s/model_final.safetensors", out_dir);
    if ((rc = mr_detector_save_weights(d, path, e))) goto done;
    /* evaluation on val */
    mr_coco res;
    infer_stats is;
    memset(&is, 0, sizeof is);
    if ((rc = infer_split(d, &va, &c, &res, &is, e))) { mr_coco_free(&res); goto done; }
    snprintf(path, sizeof path, "%s/results_val.json", out_dir);
    rc = mr_coco_save_results(&res, path, e);
    mr_coco_free(&res);
    if (rc) goto done;
    double ap = 0;
    if ((rc = evaluate(&va, path, out_dir, c.mask_on, c.kp_on, &ap, e))) goto done;
    double train_ips = timed_iters > 0 && t_timed > 0 ? timed_iters / t_timed : 0;
    if ((rc = write_speed(out_dir, &c, threads, bt.cap_h, bt.cap_w, train_ips, &is, &train_ms, train_done, e))) goto done;
    cJSON *rec = NULL;
    if ((rc = mr_record_build(out_dir, o->config_name ? o->config_name : c.name, (long)c.seed, threads, &rec, e)))
        goto done;
    rc = mr_record_commit(out_dir, rec, o->store, e);
    cJSON_Delete(rec);
done:
    if (log) fclose(log);
    free(perm);
    batcher_free(&bt);
    mr_trainer_free(&t);
    mr_detector_free(d);
    split_free(&tr);
    split_free(&va);
    return rc;
}

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

int mr_infer_run(const char *config_path, const char *weights, const char *data_dir,
                 const char *image_path, const char *out_json, const mr_infer_opts *o,
                 mr_err *e)
{
    mr_infer_opts defo = {1, NULL, -1.0f};
    if (!o) o = &defo;
    mr_run_set_threads(o->threads);
    mr_config c;
    int rc = mr_config_load(&c, config_path, e);
    if (rc) return rc;
    if (o->score_thresh >= 0) c.spec.box.score_thresh = o->score_thresh;
    /* the class count comes from the weights */
    mr_st_file f;
    if ((rc = mr_st_read(&f, weights, e))) return rc;
    const mr_st_tensor *cs = mr_st_find(&f, "roi_heads.box_predictor.cls_score.bias");
    int K1 = cs && cs->ndim == 1 ? (int)cs->shape[0] : 0;
    const mr_st_tensor *kb = mr_st_find(&f, "roi_heads.keypoint_predictor.kps_score_lowres.bias");
    if (c.kp_on && kb && kb->ndim == 1) c.spec.kp.num_kp = (int)kb->shape[0];
    mr_st_close(&f);
    if (K1 < 2) return mr_errf(e, MR_EUSER, "%s: no roi_heads.box_predictor.cls_score.bias: not a detector checkpoint", weights);
    c.num_classes = K1 - 1;
    c.spec.box.num_classes = K1;
    split s;
    memset(&s, 0, sizeof s);
    mr_detector *d = NULL;
    if (image_path) {
        /* a one-image split with categories 1..K */
        mr_coco_init(&s.coco);
        int w, h, ch;
        uint8_t *px = stbi_load(image_path, &w, &h, &ch, 3);
        if (!px) return mr_errf(e, MR_EUSER, "%s: cannot read image (%s)", image_path, stbi_failure_reason());
        s.n = 1;
        s.im = calloc(1, sizeof *s.im);
        img_rec *r = &s.im[0];
        r->id = 1;
        r->ow = w;
        r->oh = h;
        mr_resized_size(w, h, c.min_size, c.max_size, &r->w, &r->h, &r->scale);
        r->pix = malloc((size_t)r->w * r->h * 3);
        mr_image_resize_bilinear(px, w, h, r->pix, r->w, r->h);
        stbi_image_free(px);
        s.maxh = r->h;
        s.maxw = r->w;
        rc = mr_coco_add_image(&s.coco, 1, w, h, image_path, e);
        for (int k = 1; k <= K1 - 1 && !rc; k++) {
            mr_coco_cat cat;
            memset(&cat, 0, sizeof cat);
            cat.id = k;
            cat.name = "";
            cat.supercategory = "";
            rc = mr_coco_add_category(&s.coco, &cat, e);
        }
        if (!rc) rc = mr_coco_finish(&s.coco, e);
    } else {
        rc = split_load(&s, &c, data_dir, "val", 0, e);
        if (!rc && (int)s.coco.num_cats != K1 - 1)
            rc = mr_errf(e, MR_EUSER, "%s: %zu categories but %s was trained for %d", data_dir,
                         s.coco.num_cats, weights, K1 - 1);
    }
    if (!rc) rc = mr_detector_create(&d, &c.spec, e);
    if (!rc) rc = mr_detector_load_weights(d, weights, e);
    mr_coco res;
    mr_coco_init(&res);
    infer_stats is;
    if (!rc) rc = infer_split(d, &s, &c, &res, &is, e);
    if (!rc) rc = mr_coco_save_results(&res, out_json, e);
    if (!rc && o->vis_dir) {
        rc = mr_mkdir_p(o->vis_dir, e);
        for (int i = 0; i < s.n && !rc; i++) {
            img_rec *r = &s.im[i];
            uint8_t *px = malloc((size_t)r->w * r->h * 3);
            if (!px) { rc = mr_errf(e, MR_ENOMEM, "out of memory"); break; }
            memcpy(px, r->pix, (size_t)r->w * r->h * 3);
            long ii = mr_coco_image_index(&res, r->id);
            for (size_t k = ii >= 0 ? res.img_off[ii] : 0; ii >= 0 && k < res.img_off[ii + 1]; k++) {
                const mr_coco_ann *a = &res.anns[res.img_anns[k]];
                if (a->score < 0.3) continue;
                float b[4] = {(float)(a->bbox[0] * r->scale), (float)(a->bbox[1] * r->scale),
                              (float)((a->bbox[0] + a->bbox[2]) * r->scale), (float)((a->bbox[1] + a->bbox[3]) * r->scale)};
                uint8_t col[3] = {(uint8_t)(80 * a->category_id), 255, (uint8_t)(255 - 60 * a->category_id)};
                draw_box(px, r->w, r->h, b, col);
            }
            char p[4096];
            snprintf(p, sizeof p, "%s/%lld.png", o->vis_dir, (long long)r->id);
            if (!stbi_write_png(p, r->w, r->h, 3, px, r->w * 3)) rc = mr_errf(e, MR_EIO, "%s: cannot write", p);
            free(px);
        }
    }
    mr_coco_free(&res);
    mr_detector_free(d);
    split_free(&s);
    return rc;
}
