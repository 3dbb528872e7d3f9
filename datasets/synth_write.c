/*
 * synth_write.c — writes the synthetic dataset to disk (see synth.h):
 * PNG images (stb_image_write into memory, then an atomic write) and the
 * COCO-format train.json / val.json (cJSON, atomic), plus the statistics
 * that `mrcnn synth --stats` prints.
 *
 * Images are generated in parallel (OpenMP, `threads`), each into its own
 * slot; the JSON is then assembled in image order, so the files do not
 * depend on the thread count.
 */
#include "datasets/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <stb_image_write.h>

#include "core/fileio.h"
#include "coco/rle.h"

typedef struct membuf { unsigned char *p; size_t n, cap; int oom; } membuf;

static void membuf_put(void *ctx, void *data, int size)
{
    membuf *b = ctx;
    if (b->oom || size <= 0) return;
    if (b->n + (size_t)size > b->cap) {
        size_t c = (b->cap ? b->cap * 2 : 65536);
        while (c < b->n + (size_t)size) c *= 2;
        unsigned char *q = realloc(b->p, c);
        if (!q) { b->oom = 1; return; }
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->n, data, (size_t)size);
    b->n += (size_t)size;
}

/* one image's annotations, ready for JSON (masks already RLE strings) */
typedef struct prepared {
    int ninst;
    mr_synth_inst *inst;   /* masks freed, poly kept */
    char **rle;            /* compressed counts for use_rle instances */
    int rc;
    mr_err err;
} prepared;

static void prepared_free(prepared *p)
{
    for (int i = 0; i < p->ninst; i++) {
        mr_synth_inst *s = &p->inst[i];
        for (int q = 0; q < s->npoly; q++) free(s->poly[q]);
        free(s->poly);
        free(s->poly_len);
        free(s->mask);
        if (p->rle) free(p->rle[i]);
    }
    free(p->inst);
    free(p->rle);
    memset(p, 0, sizeof *p);
}

static const char *split_name(int s) { return s == 0 ? "train" : "val"; }

/* generate image idx of split, write its PNG, keep its annotations */
static void make_one(const mr_synth_params *P, const char *outdir, int split, int idx, prepared *pr)
{
    mr_synth_image_t im;
    mr_err_clear(&pr->err);
    pr->rc = mr_synth_image(P, split, idx, &im, &pr->err);
    if (pr->rc) return;
    membuf b = {0};
    int S = P->size;
    /* stbi_write_png_compression_level is a library global: left at its
     * default (only affects file size, and is the same for all threads) */
    if (!stbi_write_png_to_func(membuf_put, &b, S, S, 3, im.rgb, 3 * S) || b.oom) {
        free(b.p);
        mr_synth_image_free(&im);
        pr->rc = mr_errf(&pr->err, MR_ENOMEM, "synth: PNG encoding of %s image %d failed", split_name(split), idx);
        return;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/images/%s_%06d.png", outdir, split_name(split), idx + 1);
    pr->rc = mr_write_file_atomic(path, b.p, b.n, &pr->err);
    free(b.p);
    pr->ninst = im.ninst;
    pr->inst = im.inst;
    im.inst = NULL;
    im.ninst = 0;
    mr_synth_image_free(&im);
    pr->rle = calloc((size_t)(pr->ninst ? pr->ninst : 1), sizeof *pr->rle);
    if (!pr->rle) { pr->rc = mr_errf(&pr->err, MR_ENOMEM, "synth: out of memory"); return; }
    for (int i = 0; i < pr->ninst && !pr->rc; i++) {
        mr_synth_inst *s = &pr->inst[i];
        if (s->use_rle) {
            mr_rle r = MR_RLE_INIT;
            pr->rc = mr_rle_encode_rowmajor(&r, s->mask, (uint32_t)S, (uint32_t)S, &pr->err);
            if (!pr->rc) pr->rc = mr_rle_to_string(&r, &pr->rle[i], &pr->err);
            mr_rle_free(&r);
        }
        free(s->mask);
        s->mask = NULL;
    }
}

static cJSON *num_array(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *categories_json(void)
{
    cJSON *cats = cJSON_CreateArray();
    for (int c = 0; c < MR_SYNTH_NCAT; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "id", c + 1);
        cJSON_AddStringToObject(o, "name", mr_synth_cat_names[c]);
        cJSON_AddStringToObject(o, "supercategory", c + 1 == MR_SYNTH_NCAT ? "figure" : "shape");
        if (c + 1 == MR_SYNTH_NCAT) {
            cJSON *kn = cJSON_CreateArray();
            for (int k = 0; k < MR_SYNTH_NKP; k++) cJSON_AddItemToArray(kn, cJSON_CreateString(mr_synth_kp_names[k]));
            cJSON_AddItemToObject(o, "keypoints", kn);
            cJSON *sk = cJSON_CreateArray();
            for (int k = 0; k < MR_SYNTH_NSKEL; k++) {
                double pr[2] = {mr_synth_skeleton[k][0], mr_synth_skeleton[k][1]};
                cJSON_AddItemToArray(sk, num_array(pr, 2));
            }
            cJSON_AddItemToObject(o, "skeleton", sk);
            cJSON_AddItemToObject(o, "keypoint_sigmas", num_array(mr_synth_kp_sigmas, MR_SYNTH_NKP));
        }
        cJSON_AddItemToArray(cats, o);
    }
    return cats;
}

static cJSON *params_json(const mr_synth_params *P)
{
    cJSON *o = cJSON_CreateObject();
#define PN(f) cJSON_AddNumberToObject(o, #f, (double)P->f)
    PN(size); PN(n_train); PN(n_val); PN(seed); PN(min_objects); PN(max_objects);
    PN(min_obj_size); PN(max_obj_frac); PN(max_aspect); PN(min_visible_frac);
    PN(max_outside_frac); PN(figure_prob); PN(min_figure_size); PN(worm_width_min);
    PN(worm_width_max); PN(crowd_prob); PN(min_distractors); PN(max_distractors);
    PN(bg_noise); PN(obj_noise); PN(bg_texture); PN(min_contrast);
    if (P->shape_cats) PN(shape_cats);   /* absent for the default: older files unchanged */
#undef PN
    return o;
}

static void stats_add(mr_synth_stats *st, int split, const prepared *pr, int S)
{
    if (!st) return;
    st->images[split]++;
    int n = pr->ninst < 15 ? pr->ninst : 15;
    st->per_image_hist[split][n]++;
    for (int i = 0; i < pr->ninst; i++) {
        const mr_synth_inst *s = &pr->inst[i];
        st->instances[split]++;
        st->per_cat[split][s->category - 1]++;
        if (s->iscrowd) st->crowd[split]++;
        if (s->use_rle) st->rle[split]++; else st->poly[split]++;
        st->coco_area[split][s->area < 32 * 32 ? 0 : s->area < 96 * 96 ? 1 : 2]++;
        double rel = sqrt((double)s->area) / S;
        st->rel_size[split][rel < 0.1 ? 0 : rel < 0.25 ? 1 : rel < 0.5 ? 2 : 3]++;
        if (st->min_area[split] == 0 || s->area < st->min_area[split]) st->min_area[split] = s->area;
        if (s->area > st->max_area[split]) st->max_area[split] = s->area;
        if (s->category == MR_SYNTH_NCAT)
            for (int k = 0; k < MR_SYNTH_NKP; k++) st->kp_vis[split][(int)s->kp[3 * k + 2]]++;
    }
}

static int write_split(const mr_synth_params *P, const char *outdir, int split, int threads,
                       mr_synth_stats *st, mr_err *e)
{
    int n = split == 0 ? P->n_train : P->n_val;
    int S = P->size;
    prepared *pr = calloc((size_t)(n ? n : 1), sizeof *pr);
    if (!pr) return mr_errf(e, MR_ENOMEM, "synth: out of memory");
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads > 0 ? threads : 1)
    for (int i = 0; i < n; i++) make_one(P, outdir, split, i, &pr[i]);
    int rc = MR_OK;
    for (int i = 0; i < n; i++)
        if (pr[i].rc) { rc = pr[i].rc; *e = pr[i].err; break; }
    cJSON *root = NULL;
    if (!rc) {
        root = cJSON_CreateObject();
        cJSON *info = cJSON_CreateObject();
        cJSON_AddStringToObject(info, "description", "mrcnn synthetic dataset (docs/synthetic.md)");
        cJSON_AddStringToObject(info, "split", split_name(split));
        cJSON_AddItemToObject(info, "params", params_json(P));
        cJSON_AddItemToObject(root, "info", info);
        cJSON *imgs = cJSON_CreateArray(), *anns = cJSON_CreateArray();
        long ann_id = 1;
        for (int i = 0; i < n; i++) {
            cJSON *im = cJSON_CreateObject();
            char fn[64];
            snprintf(fn, sizeof fn, "%s_%06d.png", split_name(split), i + 1);
            cJSON_AddNumberToObject(im, "id", i + 1);
            cJSON_AddStringToObject(im, "file_name", fn);
            cJSON_AddNumberToObject(im, "width", S);
            cJSON_AddNumberToObject(im, "height", S);
            cJSON_AddItemToArray(imgs, im);
            for (int k = 0; k < pr[i].ninst; k++) {
                const mr_synth_inst *s = &pr[i].inst[k];
                cJSON *a = cJSON_CreateObject();
                cJSON_AddNumberToObject(a, "id", (double)ann_id++);
                cJSON_AddNumberToObject(a, "image_id", i + 1);
                cJSON_AddNumberToObject(a, "category_id", s->category);
                cJSON_AddNumberToObject(a, "iscrowd", s->iscrowd);
                cJSON_AddNumberToObject(a, "area", (double)s->area);
                cJSON_AddItemToObject(a, "bbox", num_array(s->bbox, 4));
                if (s->use_rle) {
                    cJSON *sg = cJSON_CreateObject();
                    double sz[2] = {S, S};
                    cJSON_AddItemToObject(sg, "size", num_array(sz, 2));
                    cJSON_AddStringToObject(sg, "counts", pr[i].rle[k]);
                    cJSON_AddItemToObject(a, "segmentation", sg);
                } else {
                    cJSON *sg = cJSON_CreateArray();
                    for (int p = 0; p < s->npoly; p++) cJSON_AddItemToArray(sg, num_array(s->poly[p], s->poly_len[p]));
                    cJSON_AddItemToObject(a, "segmentation", sg);
                }
                if (s->category == MR_SYNTH_NCAT) {
                    cJSON_AddItemToObject(a, "keypoints", num_array(s->kp, 3 * MR_SYNTH_NKP));
                    cJSON_AddNumberToObject(a, "num_keypoints", s->num_keypoints);
                }
                cJSON_AddItemToArray(anns, a);
            }
            stats_add(st, split, &pr[i], S);
        }
        cJSON_AddItemToObject(root, "images", imgs);
        cJSON_AddItemToObject(root, "annotations", anns);
        cJSON_AddItemToObject(root, "categories", categories_json());
        char *txt = cJSON_PrintUnformatted(root);
        if (!txt) rc = mr_errf(e, MR_ENOMEM, "synth: out of memory printing %s.json", split_name(split));
        else {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s.json", outdir, split_name(split));
            size_t len = strlen(txt);
            txt[len] = '\n';   /* replace NUL: write a trailing newline */
            rc = mr_write_file_atomic(path, txt, len + 1, e);
            free(txt);
        }
        cJSON_Delete(root);
    }
    for (int i = 0; i < n; i++) prepared_free(&pr[i]);
    free(pr);
    return rc;
}

int mr_synth_write(const mr_synth_params *P, const char *outdir, int threads, mr_synth_stats *st,
                   mr_err *e)
{
    if (st) memset(st, 0, sizeof *st);
    if (P->n_train < 0 || P->n_val < 0)
        return mr_errf(e, MR_EUSAGE, "synth: negative image count (train %d, val %d)", P->n_train, P->n_val);
    if (P->size < 16 || P->size > 4096)
        return mr_errf(e, MR_EUSAGE, "synth: size %d (expected 16..4096)", P->size);
    if (P->min_objects < 0 || P->max_objects < P->min_objects || P->max_objects > 64)
        return mr_errf(e, MR_EUSAGE, "synth: objects per image %d..%d (expected 0 <= min <= max <= 64)",
                       P->min_objects, P->max_objects);
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/images", outdir);
    int rc = mr_mkdir_p(dir, e);
    if (rc) return rc;
    for (int s = 0; s < 2 && !rc; s++) rc = write_split(P, outdir, s, threads, st, e);
    return rc;
}

void mr_synth_stats_format(const mr_synth_params *P, const mr_synth_stats *st, char *buf, size_t n)
{
    size_t o = 0;
#define OUT(...) do { if (o < n) { int w_ = snprintf(buf + o, n - o, __VA_ARGS__); if (w_ > 0) o += (size_t)w_; } } while (0)
    buf[0] = 0;
    OUT("synthetic dataset: %dx%d images, seed %llu\n", P->size, P->size, (unsigned long long)P->seed);
    for (int s = 0; s < 2; s++) {
        long ni = st->images[s], na = st->instances[s];
        OUT("\n[%s] %ld images, %ld instances (%.2f per image), %ld polygon, %ld RLE, %ld crowd\n",
            split_name(s), ni, na, ni ? (double)na / ni : 0.0, st->poly[s], st->rle[s], st->crowd[s]);
        OUT("  instances per image:");
        for (int k = 0; k < 16; k++)
            if (st->per_image_hist[s][k]) OUT(" %d%s:%ld", k, k == 15 ? "+" : "", st->per_image_hist[s][k]);
        OUT("\n  per category:");
        for (int c = 0; c < MR_SYNTH_NCAT; c++) OUT(" %s:%ld", mr_synth_cat_names[c], st->per_cat[s][c]);
        OUT("\n  COCO area range: small(<32^2):%ld medium(<96^2):%ld large:%ld\n", st->coco_area[s][0],
            st->coco_area[s][1], st->coco_area[s][2]);
        OUT("  relative size sqrt(area)/S: <0.1:%ld 0.1-0.25:%ld 0.25-0.5:%ld >=0.5:%ld  (area %ld..%ld px)\n",
            st->rel_size[s][0], st->rel_size[s][1], st->rel_size[s][2], st->rel_size[s][3], st->min_area[s],
            st->max_area[s]);
        OUT("  keypoint visibility: v=0 (outside):%ld v=1 (occluded):%ld v=2 (visible):%ld\n", st->kp_vis[s][0],
            st->kp_vis[s][1], st->kp_vis[s][2]);
    }
#undef OUT
}
