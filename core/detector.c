/*
 * detector.c — assembling the detector and its training step (forward,
 * losses, backward; see detector.h), and the stages inference shares with
 * it (core/detector_run.h). Inference itself is core/detector_infer.c, the
 * torchvision model-description mapping core/detector_torchvision.c.
 *
 * The data flow of one step, for every tap:
 *   image -> stem -> layer1..layer3 (-> layer4 unless C4) -> [FPN] -> maps
 *   maps -> RPN head -> anchor targets + losses; proposals (no gradient)
 *   proposals (+ gt, sampled) -> RoI extractor -> [res5 + avg pool] -> box head
 *   positives (training) / detections (inference) -> mask head, keypoint head
 * Backward walks the same path in reverse, the RoI extractor and the RPN
 * adding into the same feature-map gradients. Every RoI extraction (box,
 * mask, keypoint; one map or FPN's four) goes through core/roi_extractor.h's
 * mr_roi_multilevel_forward / _backward, the path the torchvision tests check.
 */
#include "core/detector.h"
#include "core/detector_run.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/layers.h"
#include "core/postprocess.h"

double mr_det_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

mr_detector_spec mr_detector_spec_default(const mr_tap *tap, const mr_roi_extractor *roi,
                                          int num_classes)
{
    mr_detector_spec s;
    memset(&s, 0, sizeof s);
    s.backbone = (mr_resnet_cfg){50, 1.0f, NULL, 32, 2, 4, 1};  /* the caller sets the norm */
    s.tap = tap;
    s.fpn_channels = 256;
    mr_rpn_cfg *r = &s.rpn;
    int multi = tap && tap->rpn_levels > 1;
    r->nlevels = tap ? tap->rpn_levels : 1;
    r->sizes_per_level = multi ? 1 : 5;
    for (int i = 0; i < 5; i++) r->sizes[i] = (float)(32 << i);
    r->nratios = 3;
    r->ratios[0] = 0.5f; r->ratios[1] = 1.0f; r->ratios[2] = 2.0f;
    r->pre_nms_train = 2000; r->post_nms_train = 2000;
    r->pre_nms_test = 1000; r->post_nms_test = 1000;
    r->nms_thresh = 0.7f; r->min_size = 1e-3f;
    r->fg_iou = 0.7f; r->bg_iou = 0.3f;
    r->batch_per_image = 256; r->positive_fraction = 0.5f;
    r->beta = 1.0f / 9.0f;
    mr_box_head_cfg *b = &s.box;
    b->kind = tap ? tap->box_head : MR_BOX_HEAD_FC2;
    b->num_classes = num_classes + 1;
    b->fc_dim = 1024;
    b->batch_per_image = tap ? tap->default_batch : 512;
    b->positive_fraction = 0.25f;
    b->fg_iou = 0.5f; b->bg_iou = 0.5f;
    b->beta = 1.0f / 9.0f;
    b->score_thresh = 0.05f; b->nms_thresh = 0.5f;
    b->detections_per_img = 100; b->min_size = 1e-2f;
    s.roi = roi;
    s.roi_params = mr_roi_params_default(roi);
    if (tap) s.roi_params.pooled_h = s.roi_params.pooled_w = tap->default_pooled;
    s.canonical_scale = 224;
    s.canonical_level = 4;
    return s;
}

/* the box head is res5 + average pool on the RoI features (the C4 design):
 * the mask head then runs on those res5 outputs */
int mr_det_res5_head(const mr_detector *d)
{
    return d->s.box.kind == MR_BOX_HEAD_RES5;
}

/* ---- one-map taps (c4, c5, dc5) ---- */

int mr_tap_single_declare(void *state, const mr_detector_spec *s, const int body_ch[4],
                          mr_param_table *t, int *map_ch, mr_err *e)
{
    (void)state; (void)t; (void)e;
    *map_ch = body_ch[s->tap->body_stages - 1];
    return MR_OK;
}

int mr_tap_single_forward(const void *state, const mr_detector_spec *s, int N, const int H[4],
                          const int W[4], const float *const c[4], mr_arena *a, void *act,
                          mr_tap_maps *out, mr_err *e)
{
    (void)state; (void)N; (void)a; (void)act; (void)e;
    int l = s->tap->body_stages - 1;
    out->nrpn = 1;
    out->rpn[0] = out->lv.feat[0] = c[l];
    out->rh[0] = out->lv.H[0] = H[l];
    out->rw[0] = out->lv.W[0] = W[l];
    out->lv.nlevels = 1;
    out->lv.scale[0] = s->tap->roi_scale;
    return MR_OK;
}

int mr_tap_single_backward(const void *state, const mr_detector_spec *s, const void *act, int N,
                           int map_ch, const mr_tap_maps *out, float *const *dmaps, float *const dc[4],
                           mr_arena *a, mr_err *e)
{
    (void)state; (void)act; (void)a; (void)e;
    float *dst = dc[s->tap->body_stages - 1];
    size_t n = (size_t)N * map_ch * out->rh[0] * out->rw[0];
    for (size_t i = 0; i < n; i++) dst[i] += dmaps[0][i];
    return MR_OK;
}

int mr_detector_create(mr_detector **out, const mr_detector_spec *spec, mr_err *e)
{
    *out = NULL;
    if (!spec->tap) return mr_errf(e, MR_EUSER, "tap: no backbone tap given");
    if (!spec->roi) return mr_errf(e, MR_EUSER, "roi.extractor: no RoI extractor given");
    int rc = mr_roi_check(spec->roi, &spec->roi_params, e);
    if (rc) return mr_err_prefix(e, "roi");
    mr_detector *d = calloc(1, sizeof *d);
    if (!d) return mr_errf(e, MR_ENOMEM, "detector: out of memory");
    d->s = *spec;
    d->s.rpn.nlevels = spec->tap->rpn_levels;
    d->s.box.kind = spec->tap->box_head;
    d->s.backbone.res5_dilation = spec->tap->res5_dilation;
    mr_arena_init(&d->arena, 0);
    mr_param_table *t = &d->params;
    if ((rc = mr_resnet_declare(&d->rn, &d->s.backbone, t, e))) goto fail;
    const mr_tap *tap = spec->tap;
    if (tap->body_stages < 1 || tap->body_stages > 4 || !tap->declare || !tap->forward || !tap->backward) {
        rc = mr_errf(e, MR_EINTERNAL, "tap %s: incomplete descriptor", tap->name);
        goto fail;
    }
    if (tap->state_size && !(d->tap_state = calloc(1, tap->state_size))) {
        rc = mr_errf(e, MR_ENOMEM, "detector: out of memory");
        goto fail;
    }
    int P = d->s.roi_params.pooled_h;
    if (d->s.roi_params.pooled_w != P) {
        rc = mr_errf(e, MR_EUSER, "roi.pooled: expected a square output, got %dx%d", P,
                     d->s.roi_params.pooled_w);
        goto fail;
    }
    int rpn_ch, head_in;
    if ((rc = tap->declare(d->tap_state, &d->s, d->rn.out_ch, t, &rpn_ch, e))) goto fail;
    d->roi_in_ch = rpn_ch;
    if (mr_det_res5_head(d)) {
        head_in = d->rn.out_ch[3];
        if (P % 2) {
            rc = mr_errf(e, MR_EUSER, "roi.pooled: %d: the %s tap runs res5 (stride 2) on the RoI "
                         "features and needs an even size (14)", P, tap->name);
            goto fail;
        }
    } else {
        head_in = d->roi_in_ch * P * P;
    }
    if ((rc = mr_rpn_declare(&d->rpn, &d->s.rpn, rpn_ch, t, e))) goto fail;
    if ((rc = mr_box_head_declare(&d->box, &d->s.box, head_in, t, e))) goto fail;
    /* the mask branch: the head variant, configured for its input, and a
     * block of its own tensors */
    if (d->s.mask_on) {
        const mr_mask_head *mh = d->s.mask_head;
        if (!d->s.mask_loss) { rc = mr_errf(e, MR_EUSER, "heads.mask_loss: no mask loss given"); goto fail; }
        if (!mh) { rc = mr_errf(e, MR_EUSER, "heads.mask_head: no mask head given"); goto fail; }
        if ((rc = mr_mask_head_check_desc(mh, e))) goto fail;
        if (d->s.mask_pooled < 1) d->s.mask_pooled = 14;
        mr_mask_head_io *io = &d->mask_io;
        io->in_ch = d->roi_in_ch;
        io->in_size = d->s.mask_pooled;
        if (mr_det_res5_head(d)) {
            /* C4: the head runs on the res5 output of the box head's RoIs
             * (paper Fig. 4 left) */
            d->s.mask_pooled = P;
            io->in_ch = d->rn.out_ch[3];
            io->in_size = P / 2;
            io->res5_input = 1;
        }
        io->num_classes = d->s.box.num_classes;
        io->width = d->s.mask_width;
        io->knobs = d->s.mask_knobs;
        if (!(d->mh_state = calloc(1, mh->state_size + 1))) {
            rc = mr_errf(e, MR_ENOMEM, "detector: out of memory");
            goto fail;
        }
        if ((rc = mr_mask_head_configure(mh, d->mh_state, io, e))) { mr_err_prefix(e, "heads"); goto fail; }
        d->mask_out = mh->out_size(d->mh_state);
        int np = mh->params(d->mh_state, "roi_heads.", NULL, 0);
        mr_param_desc *descs = calloc((size_t)np + 1, sizeof *descs);
        if (!descs) { rc = mr_errf(e, MR_ENOMEM, "detector: out of memory"); goto fail; }
        mh->params(d->mh_state, "roi_heads.", descs, np);
        /* the block must start 16-float aligned: params offsets already are */
        int brc = mr_params_add_block(t, descs, np, 1, NULL, NULL);
        free(descs);
        if (brc) { rc = mr_errf(e, MR_EINTERNAL, "mask head: %s", t->fail_msg); goto fail; }
    }
    mr_kp_head_cfg kcfg = d->s.kp;
    if (d->s.kp_on) {
        if (mr_det_res5_head(d)) {
            rc = mr_errf(e, MR_EUSER, "heads.keypoints: the keypoint branch is not available with the %s tap yet "
                         "(its RoI head is res5; use a tap with a 2fc box head)", tap->name);
            goto fail;
        }
        if (d->s.kp_pooled < 1) d->s.kp_pooled = 14;
        kcfg.in_ch = d->roi_in_ch;
        kcfg.in_size = d->s.kp_pooled;
        if ((rc = mr_kp_head_check(&kcfg, e))) { mr_err_prefix(e, "heads"); goto fail; }
        int np = mr_kp_head_params(&kcfg, "roi_heads.", NULL, 0);
        mr_param_desc *descs = calloc((size_t)np + 1, sizeof *descs);
        if (!descs) { rc = mr_errf(e, MR_ENOMEM, "detector: out of memory"); goto fail; }
        mr_kp_head_params(&kcfg, "roi_heads.", descs, np);
        int brc = mr_params_add_block(t, descs, np, 1, NULL, NULL);
        free(descs);
        if (brc) { rc = mr_errf(e, MR_EINTERNAL, "keypoint head: %s", t->fail_msg); goto fail; }
        d->s.kp = kcfg;
    }
    if ((rc = mr_params_alloc(t, e))) goto fail;
    if (d->s.kp_on) {
        const mr_param_entry *first = NULL;
        for (int i = 0; i < t->n; i++)
            if (!strncmp(t->e[i].d.name, "roi_heads.keypoint_", 19)) { first = &t->e[i]; break; }
        if (!first) { rc = mr_errf(e, MR_EINTERNAL, "keypoint head: no tensors"); goto fail; }
        mr_kp_head_bind(&d->kh, &kcfg, t->data + first->d.offset, t->grad + first->d.offset);
    }
    if (d->s.mask_on) {
        /* the head's block starts at its first tensor */
        const mr_param_entry *first = NULL;
        for (int i = 0; i < t->n; i++)
            if (!strncmp(t->e[i].d.name, "roi_heads.mask_", 15)) { first = &t->e[i]; break; }
        if (!first) { rc = mr_errf(e, MR_EINTERNAL, "mask head: no tensors"); goto fail; }
        d->s.mask_head->bind(d->mh_state, t->data + first->d.offset, t->grad + first->d.offset);
    }
    *out = d;
    return MR_OK;
fail:
    mr_detector_free(d);
    return rc;
}

void mr_detector_init_weights(mr_detector *d, uint64_t seed)
{
    mr_pcg32 rng;
    mr_pcg32_seed(&rng, seed, 0x6d7263636e6e /* "mrcnn" */);
    mr_params_init(&d->params, &rng);
    if (d->s.mask_on) d->s.mask_head->init(d->mh_state, &rng);
    if (d->s.kp_on) mr_kp_head_init(&d->kh, &rng);
}

void mr_detector_set_trace(mr_detector *d, mr_trace_fn fn, void *ctx)
{
    d->trace = fn;
    d->trace_ctx = ctx;
}

/* hand one intermediate to the observer, if any (dims: ndim sizes) */
void mr_det_trace(const mr_detector *d, const char *name, const float *x, int ndim, int64_t d0,
                  int64_t d1, int64_t d2, int64_t d3)
{
    if (!d->trace) return;
    const int64_t shape[4] = {d0, d1, d2, d3};
    d->trace(d->trace_ctx, name, x, ndim, shape);
}

void mr_detector_free(mr_detector *d)
{
    if (!d) return;
    mr_params_free(&d->params);
    mr_arena_free(&d->arena);
    free(d->tap_state);
    free(d->mh_state);
    free(d);
}

int mr_detector_check_batch(const mr_detector *d, const mr_batch *b, mr_err *e)
{
    int div = d->s.tap->size_divisor;
    if (b->n < 1) return mr_errf(e, MR_EUSER, "batch: no images");
    if (b->H < div || b->W < div || b->H % div || b->W % div)
        return mr_errf(e, MR_EUSER,
                       "batch: padded image size %dx%d: the %s tap needs multiples of %d "
                       "(input.size_divisibility)", b->H, b->W, d->s.tap->name, div);
    for (int n = 0; n < b->n; n++) {
        const mr_batch_image *im = &b->img[n];
        if (im->height < 1 || im->width < 1 || im->height > b->H || im->width > b->W)
            return mr_errf(e, MR_EUSER, "batch image %d (id %ld): size %dx%d outside the padded %dx%d",
                           n, im->image_id, im->height, im->width, b->H, b->W);
        for (int i = 0; i < im->ninst; i++)
            if (im->labels[i] < 1 || im->labels[i] >= d->s.box.num_classes)
                return mr_errf(e, MR_EUSER,
                               "batch image %d (id %ld) instance %d: label %d outside 1..%d (num_classes)",
                               n, im->image_id, i, im->labels[i], d->s.box.num_classes - 1);
    }
    return MR_OK;
}

/* ---- the shared forward state of one batch ---- */

int mr_det_backbone_forward(mr_detector *d, const mr_batch *b, mr_det_fwd *f, mr_err *e)
{
    int rc, N = b->n;
    mr_arena *a = &d->arena;
    if ((rc = mr_resnet_stem_forward(&d->rn, N, b->H, b->W, b->images, a, &f->stem, e))) return rc;
    const float *x = f->stem.out;
    int h = f->stem.OH, w = f->stem.OW;
    int nst = d->s.tap->body_stages;
    int H[4] = {0}, W[4] = {0};
    const float *c[4] = {0};
    for (int s = 0; s < nst; s++) {
        if ((rc = mr_stage_forward(&d->rn, s, N, h, w, x, a, &f->st[s], e))) return rc;
        x = c[s] = f->st[s].out;
        h = H[s] = f->st[s].OH;
        w = W[s] = f->st[s].OW;
    }
    f->tap_act = d->s.tap->act_size ? mr_arena_alloc(a, d->s.tap->act_size) : NULL;
    if (d->s.tap->act_size && !f->tap_act) return mr_errf(e, MR_ENOMEM, "tap: out of memory");
    if ((rc = d->s.tap->forward(d->tap_state, &d->s, N, H, W, c, a, f->tap_act, &f->maps, e))) return rc;
    double t0 = mr_det_now_ms();
    rc = mr_rpn_forward(&d->rpn, N, b->H, b->W, d->s.rpn.nlevels, f->maps.rh, f->maps.rw, f->maps.rpn, a,
                        &f->rpn, e);
    d->ms.rpn_head += mr_det_now_ms() - t0;
    return rc;
}

/* the backbone, FPN and RPN-head outputs of an inference batch, to the
 * observer (torchvision's names: body.cN, fpn.L / fpn.pool, rpn.*.L) */
void mr_det_trace_backbone(const mr_detector *d, const mr_det_fwd *f)
{
    static const char *const body[4] = {"body.c2", "body.c3", "body.c4", "body.c5"};
    const char *const *names = d->s.tap->trace_names;
    int N = f->rpn.N, nst = d->s.tap->body_stages;
    for (int s = 0; s < nst; s++)
        mr_det_trace(d, body[s], f->st[s].out, 4, N, d->rn.out_ch[s], f->st[s].OH, f->st[s].OW);
    for (int l = 0; names && l < f->maps.nrpn; l++)
        mr_det_trace(d, names[l], f->maps.rpn[l], 4, N, d->roi_in_ch, f->maps.rh[l], f->maps.rw[l]);
    for (int l = 0; l < f->rpn.nlevels; l++) {
        char name[40];
        snprintf(name, sizeof name, "rpn.objectness.%d", l);
        mr_det_trace(d, name, f->rpn.logits[l], 4, N, d->rpn.A, f->rpn.H[l], f->rpn.W[l]);
        snprintf(name, sizeof name, "rpn.deltas.%d", l);
        mr_det_trace(d, name, f->rpn.deltas[l], 4, N, 4 * d->rpn.A, f->rpn.H[l], f->rpn.W[l]);
    }
}

/* the extraction parameters of job j: the spec's, at j's output size */
static mr_roi_params job_params(const mr_detector *d, const mr_det_roi_job *j)
{
    mr_roi_params p = d->s.roi_params;
    p.pooled_h = p.pooled_w = j->P;
    return p;
}

/* RoI features of j->rois (j->R x 5) at j->P x j->P into j->pooled */
int mr_det_roi_forward(mr_detector *d, mr_det_fwd *f, mr_det_roi_job *j, mr_err *e)
{
    mr_arena *a = &d->arena;
    int R = j->R, C = d->roi_in_ch;
    mr_roi_params p = job_params(d, j);
    j->pooled = mr_arena_floats(a, (R ? (size_t)R : 1) * C * j->P * j->P);
    j->ws = mr_arena_alloc(a, mr_roi_multilevel_workspace(d->s.roi, &p, R, C));
    if (!j->pooled || !j->ws) return mr_errf(e, MR_ENOMEM, "RoI stage: out of memory");
    return mr_roi_multilevel_forward(d->s.roi, &p, &f->maps.lv, f->rpn.N, C, R, j->rois, j->pooled, j->ws, e);
}

/* dpooled (R, C, P, P) in RoI order -> dmaps[l] += */
static void roi_backward(const mr_detector *d, const mr_det_fwd *f, const mr_det_roi_job *j,
                         const float *dpooled, float *const *dmaps)
{
    mr_roi_params p = job_params(d, j);
    mr_roi_multilevel_backward(d->s.roi, &p, &f->maps.lv, f->rpn.N, d->roi_in_ch, j->R, j->rois, dpooled,
                               j->ws, dmaps);
}

/* pooled -> box head input (C4: res5 + avg pool), then the box head */
int mr_det_heads_forward(mr_detector *d, mr_det_fwd *f, mr_err *e)
{
    mr_arena *a = &d->arena;
    const float *x = f->pooled;
    int rc;
    if (mr_det_res5_head(d)) {
        int P = d->s.roi_params.pooled_h, C5 = d->rn.out_ch[3];
        f->pool5 = mr_arena_floats(a, (f->R ? (size_t)f->R : 1) * C5);
        if (!f->pool5) return mr_errf(e, MR_ENOMEM, "box head: out of memory");
        if (f->R) {
            if ((rc = mr_stage_forward(&d->rn, 3, f->R, P, P, f->pooled, a, &f->res5, e))) return rc;
            mr_avgpool_global_forward(f->R, C5, f->res5.OH, f->res5.OW, f->res5.out, f->pool5);
        }
        x = f->pool5;
    }
    return mr_box_head_forward(&d->box, f->R, x, a, &f->box, e);
}

/* the mask branch of a training step */
typedef struct mask_state {
    int P;                           /* positive RoIs */
    const float *x;                  /* the mask head's input */
    int *rows;                       /* C4: box-sample row of each positive */
    mr_mask_head_acts acts;
    float *logits;
    float *dlogits;
} mask_state;

static int mask_forward_train(mr_detector *d, mr_det_fwd *f, const mr_batch *b, const mr_box_samples *smp,
                              mask_state *ms, mr_losses *L, mr_err *e)
{
    mr_arena *a = &d->arena;
    int P = 0, M = d->mask_out, K1 = d->s.box.num_classes;
    for (int r = 0; r < smp->R; r++) P += smp->labels[r] > 0;
    float *rois = mr_arena_floats(a, (size_t)(P + 1) * 5);
    int *labels = mr_arena_alloc(a, sizeof(int) * (size_t)(P + 1));
    float *tg = mr_arena_floats(a, (size_t)(P + 1) * M * M);
    ms->rows = mr_arena_alloc(a, sizeof(int) * (size_t)(P + 1));
    if (!rois || !labels || !tg || !ms->rows) return mr_errf(e, MR_ENOMEM, "mask head: out of memory");
    int k = 0;
    for (int r = 0; r < smp->R; r++) {
        if (smp->labels[r] <= 0) continue;
        ms->rows[k] = r;
        memcpy(rois + 5 * k, smp->rois + 5 * r, 5 * sizeof(float));
        labels[k] = smp->labels[r];
        const mr_batch_image *im = &b->img[(int)smp->rois[5 * r]];
        if (!im->mask_target)
            return mr_errf(e, MR_EUSER, "heads.mask is on but image id %ld of the dataset has no masks", im->image_id);
        int rc = im->mask_target(im->mask_ctx, smp->gt[r], smp->rois + 5 * r + 1, M, tg + (size_t)k * M * M);
        if (rc) return mr_errf(e, MR_EUSER, "image id %ld instance %d: cannot make its mask target", im->image_id, smp->gt[r]);
        k++;
    }
    ms->P = P;
    double t0 = mr_det_now_ms();
    int rc;
    if (mr_det_res5_head(d)) {
        /* the positives' res5 outputs, computed for the box head */
        size_t per = (size_t)d->mask_io.in_ch * d->mask_io.in_size * d->mask_io.in_size;
        float *x = mr_arena_floats(a, (size_t)(P + 1) * per);
        if (!x) return mr_errf(e, MR_ENOMEM, "mask head: out of memory");
        for (int i = 0; i < P; i++) memcpy(x + i * per, f->res5.out + (size_t)ms->rows[i] * per, per * sizeof(float));
        ms->x = x;
    } else {
        f->mask_job.R = P;
        f->mask_job.P = d->s.mask_pooled;
        f->mask_job.rois = rois;
        if ((rc = mr_det_roi_forward(d, f, &f->mask_job, e))) return rc;
        ms->x = f->mask_job.pooled;
    }
    double t1 = mr_det_now_ms();
    d->ms.roi_extract += t1 - t0;
    if ((rc = d->s.mask_head->forward(d->mh_state, P, ms->x, a, &ms->acts, &ms->logits, e))) return rc;
    ms->dlogits = mr_arena_zeros(a, (size_t)(P + 1) * K1 * M * M);
    if (!ms->dlogits) return mr_errf(e, MR_ENOMEM, "mask head: out of memory");
    if (P > 0) {
        float w = d->s.mask_loss_weight > 0 ? d->s.mask_loss_weight : 1.0f;
        /* one rank of a global batch: its part of the mean over the global positives */
        if (smp->norm > 0 && smp->npos_global > 0) w *= (float)P / (float)smp->npos_global;
        L->mask = w * d->s.mask_loss->forward(P, K1, M, ms->logits, labels, tg);
        d->s.mask_loss->backward(P, K1, M, ms->logits, labels, tg, w, ms->dlogits);
    }
    L->has_mask = 1;
    d->ms.heads += mr_det_now_ms() - t1;
    return MR_OK;
}

typedef struct kp_state {
    int P;
    mr_kp_head_acts acts;
    float *dlogits;
} kp_state;

static int kp_forward_train(mr_detector *d, mr_det_fwd *f, const mr_batch *b, const mr_box_samples *smp,
                            const mr_shard *sh, kp_state *ks, mr_losses *L, mr_err *e)
{
    mr_arena *a = &d->arena;
    int NK = d->s.kp.num_kp, H = mr_kp_head_out_size(&d->s.kp), P = 0;
    for (int r = 0; r < smp->R; r++) P += smp->labels[r] > 0;
    float *rois = mr_arena_floats(a, (size_t)(P + 1) * 5);
    int *tg = mr_arena_alloc(a, sizeof(int) * (size_t)(P + 1) * NK);
    float *probs = mr_arena_floats(a, (size_t)(P + 1) * NK * H * H);
    if (!rois || !tg || !probs) return mr_errf(e, MR_ENOMEM, "keypoint head: out of memory");
    int k = 0;
    for (int r = 0; r < smp->R; r++) {
        if (smp->labels[r] <= 0) continue;
        memcpy(rois + 5 * k, smp->rois + 5 * r, 5 * sizeof(float));
        const mr_batch_image *im = &b->img[(int)smp->rois[5 * r]];
        if (im->nkp && im->nkp != NK)
            return mr_errf(e, MR_EUSER, "image id %ld: %d keypoints per instance, the model has %d", im->image_id, im->nkp, NK);
        if (im->nkp && im->keypoints)
            mr_keypoints_to_heatmap(NK, im->keypoints + (size_t)smp->gt[r] * NK * 3, smp->rois + 5 * r + 1, H,
                                    tg + (size_t)k * NK);
        else
            for (int q = 0; q < NK; q++) tg[(size_t)k * NK + q] = -1;
        k++;
    }
    ks->P = P;
    double t0 = mr_det_now_ms();
    f->kp_job.R = P;
    f->kp_job.P = d->s.kp_pooled;
    f->kp_job.rois = rois;
    int rc = mr_det_roi_forward(d, f, &f->kp_job, e);
    if (rc) return rc;
    double t1 = mr_det_now_ms();
    d->ms.roi_extract += t1 - t0;
    if ((rc = mr_kp_head_forward(&d->kh, P, f->kp_job.pooled, a, &ks->acts, e))) return rc;
    ks->dlogits = mr_arena_zeros(a, (size_t)(P + 1) * NK * H * H);
    if (!ks->dlogits) return mr_errf(e, MR_ENOMEM, "keypoint head: out of memory");
    /* one rank of a global batch: its part of the mean over the global
     * batch's valid keypoints (every rank takes part, with or without any) */
    float kw = 1.0f;
    if (sh) {
        int nv = 0;
        for (long q = 0; q < (long)P * NK; q++) nv += tg[q] >= 0;
        long gv = 0;
        if ((rc = mr_shard_sum_int(sh, nv, &gv, e))) return mr_err_prefix(e, "keypoint loss");
        kw = gv > 0 ? (float)nv / (float)gv : 0.0f;
    }
    if (P > 0) {
        int nvalid = 0;
        L->kp = mr_kp_loss_forward(P * NK, H * H, ks->acts.logits, tg, probs, &nvalid);
        if (sh) L->kp *= kw;
        if (nvalid > 0) mr_kp_loss_backward(P * NK, H * H, probs, tg, kw, ks->dlogits);
    }
    L->has_kp = 1;
    d->ms.heads += mr_det_now_ms() - t1;
    return MR_OK;
}

int mr_detector_train_step_grads(mr_detector *d, const mr_batch *b, mr_pcg32 *rng, mr_losses *L,
                                 mr_err *e)
{
    return mr_detector_train_step_grads_shard(d, b, NULL, rng, L, e);
}

int mr_detector_train_step_grads_shard(mr_detector *d, const mr_batch *b, const mr_shard *sh, mr_pcg32 *rng,
                                       mr_losses *L, mr_err *e)
{
    int rc;
    if (sh && mr_dist_size(sh->dist) <= 1) sh = NULL;
    memset(L, 0, sizeof *L);
    if ((rc = mr_detector_check_batch(d, b, e))) return rc;
    mr_arena *a = &d->arena;
    mr_arena_reset(a);
    memset(d->params.grad, 0, d->params.numel * sizeof(float));
    mr_det_fwd f;
    memset(&f, 0, sizeof f);
    double t0 = mr_det_now_ms();
    if ((rc = mr_det_backbone_forward(d, b, &f, e))) return rc;
    double t1 = mr_det_now_ms();
    d->ms.backbone += t1 - t0;
    /* RPN losses and proposals */
    mr_rpn_targets tg;
    if ((rc = mr_rpn_assign_shard(&d->rpn, &f.rpn, b, sh, rng, a, &tg, e))) return rc;
    float *dlog[MR_RPN_MAX_LEVELS], *ddel[MR_RPN_MAX_LEVELS];
    int A = d->rpn.A, N = b->n;
    for (int l = 0; l < f.rpn.nlevels; l++) {
        size_t hw = (size_t)f.rpn.H[l] * f.rpn.W[l];
        dlog[l] = mr_arena_zeros(a, (size_t)N * A * hw);
        ddel[l] = mr_arena_zeros(a, (size_t)N * 4 * A * hw);
        if (!dlog[l] || !ddel[l]) return mr_errf(e, MR_ENOMEM, "rpn: out of memory");
    }
    mr_rpn_loss(&d->rpn, &f.rpn, &tg, dlog, ddel, &L->rpn_cls, &L->rpn_box);
    mr_proposals props;
    if ((rc = mr_rpn_proposals(&d->rpn, &f.rpn, b, 1, a, &props, e))) return rc;
    mr_box_samples smp;
    if ((rc = mr_box_assign_shard(&d->box, &props, b, sh, rng, a, &smp, e))) return rc;
    double t2 = mr_det_now_ms();
    d->ms.rpn += t2 - t1;
    L->rois = smp.R;
    L->pos_rois = smp.npos;
    f.R = smp.R;
    f.rois = smp.rois;
    f.box_job.R = smp.R;
    f.box_job.P = d->s.roi_params.pooled_h;
    f.box_job.rois = smp.rois;
    if ((rc = mr_det_roi_forward(d, &f, &f.box_job, e))) return rc;
    f.pooled = f.box_job.pooled;
    double t3 = mr_det_now_ms();
    d->ms.roi_extract += t3 - t2;
    if ((rc = mr_det_heads_forward(d, &f, e))) return rc;
    int K1 = d->s.box.num_classes, R = f.R;
    float *dcls = mr_arena_zeros(a, (size_t)(R + 1) * K1), *ddl = mr_arena_zeros(a, (size_t)(R + 1) * 4 * K1);
    if (!dcls || !ddl) return mr_errf(e, MR_ENOMEM, "box head: out of memory");
    mr_box_loss(&d->box, &f.box, &smp, dcls, ddl, &L->cls, &L->box);
    /* the mask branch: positive RoIs -> RoI features (mask_pooled) -> mask
     * head -> loss against the dataset's mask targets */
    mask_state ms;
    memset(&ms, 0, sizeof ms);
    if (d->s.mask_on && (rc = mask_forward_train(d, &f, b, &smp, &ms, L, e))) return rc;
    /* the keypoint branch: positive RoIs -> RoI features -> keypoint head ->
     * heatmap loss against b->img[n].keypoints */
    kp_state ks;
    memset(&ks, 0, sizeof ks);
    if (d->s.kp_on && (rc = kp_forward_train(d, &f, b, &smp, sh, &ks, L, e))) return rc;
    L->total = L->rpn_cls + L->rpn_box + L->cls + L->box + L->mask + L->kp;
    /* before any gradient: the caller's weights stay as they are. One rank
     * of a global batch leaves the check to mr_trainer_step, on the global
     * loss every rank has (so they all stop alike, with one message) */
    if (!sh && !isfinite(L->total)) {
        char extra[64] = "";
        if (d->s.mask_on) snprintf(extra, sizeof extra, " mask %g", L->mask);
        if (d->s.kp_on) snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " kp %g", L->kp);
        return mr_errf(e, MR_EUSER, "training diverged: loss is %g (rpn_cls %g rpn_box %g cls %g box %g%s); "
                       "lower schedule.lr or lengthen schedule.warmup_iters", L->total, L->rpn_cls, L->rpn_box,
                       L->cls, L->box, extra);
    }
    /* ---- backward ---- */
    int C = d->roi_in_ch, P = d->s.roi_params.pooled_h;
    float *dpooled = mr_arena_zeros(a, (size_t)(R + 1) * C * P * P);
    if (!dpooled) return mr_errf(e, MR_ENOMEM, "box head: out of memory in backward");
    if (mr_det_res5_head(d)) {
        int C5 = d->rn.out_ch[3];
        float *dp5 = mr_arena_zeros(a, (size_t)(R + 1) * C5);
        if (!dp5) return mr_errf(e, MR_ENOMEM, "box head: out of memory in backward");
        if ((rc = mr_box_head_backward(&d->box, &f.box, dcls, ddl, dp5, a, e))) return rc;
        if (R) {
            float *dres5 = mr_arena_zeros(a, (size_t)R * C5 * f.res5.OH * f.res5.OW);
            if (!dres5) return mr_errf(e, MR_ENOMEM, "box head: out of memory in backward");
            mr_avgpool_global_backward(R, C5, f.res5.OH, f.res5.OW, dp5, dres5);
            if (d->s.mask_on && ms.P > 0) {
                /* the mask head's gradient joins its RoIs' res5 outputs */
                size_t per = (size_t)C5 * f.res5.OH * f.res5.OW;
                float *dx = mr_arena_zeros(a, (size_t)ms.P * per);
                if (!dx) return mr_errf(e, MR_ENOMEM, "mask head: out of memory in backward");
                if ((rc = d->s.mask_head->backward(d->mh_state, ms.x, &ms.acts, ms.dlogits, dx, a, e))) return rc;
                for (int i = 0; i < ms.P; i++) {
                    float *dst = dres5 + (size_t)ms.rows[i] * per;
                    const float *src = dx + (size_t)i * per;
                    for (size_t q = 0; q < per; q++) dst[q] += src[q];
                }
            }
            if ((rc = mr_stage_backward(&d->rn, 3, &f.res5, dres5, dpooled, a, e))) return rc;
        }
    } else {
        if ((rc = mr_box_head_backward(&d->box, &f.box, dcls, ddl, dpooled, a, e))) return rc;
    }
    double t4 = mr_det_now_ms();
    d->ms.heads += t4 - t3;
    /* feature-map gradients */
    float *dmaps[5] = {0};
    for (int l = 0; l < f.rpn.nlevels; l++) {
        dmaps[l] = mr_arena_zeros(a, (size_t)N * d->rpn.C * f.rpn.H[l] * f.rpn.W[l]);
        if (!dmaps[l]) return mr_errf(e, MR_ENOMEM, "out of memory in backward");
    }
    roi_backward(d, &f, &f.box_job, dpooled, dmaps);
    d->ms.roi_extract += mr_det_now_ms() - t4;
    if (d->s.mask_on && ms.P > 0 && !mr_det_res5_head(d)) {
        float *dx = mr_arena_zeros(a, (size_t)ms.P * C * f.mask_job.P * f.mask_job.P);
        if (!dx) return mr_errf(e, MR_ENOMEM, "mask head: out of memory in backward");
        double tm = mr_det_now_ms();
        if ((rc = d->s.mask_head->backward(d->mh_state, ms.x, &ms.acts, ms.dlogits, dx, a, e))) return rc;
        double tr = mr_det_now_ms();
        d->ms.heads += tr - tm;
        roi_backward(d, &f, &f.mask_job, dx, dmaps);
        d->ms.roi_extract += mr_det_now_ms() - tr;
    }
    if (d->s.kp_on && ks.P > 0) {
        float *dx = mr_arena_zeros(a, (size_t)ks.P * C * f.kp_job.P * f.kp_job.P);
        if (!dx) return mr_errf(e, MR_ENOMEM, "keypoint head: out of memory in backward");
        double tm = mr_det_now_ms();
        if ((rc = mr_kp_head_backward(&d->kh, f.kp_job.pooled, &ks.acts, ks.dlogits, dx, a, e))) return rc;
        double tr = mr_det_now_ms();
        d->ms.heads += tr - tm;
        roi_backward(d, &f, &f.kp_job, dx, dmaps);
        d->ms.roi_extract += mr_det_now_ms() - tr;
    }
    /* (the mask and keypoint parts above are counted as they run) */
    double t5 = mr_det_now_ms();
    if ((rc = mr_rpn_backward(&d->rpn, &f.rpn, dlog, ddel, dmaps, a, e))) return rc;
    double t6 = mr_det_now_ms();
    d->ms.rpn += t6 - t5;
    /* backbone */
    int nst = d->s.tap->body_stages;
    float *dc[4] = {0};
    for (int s = 0; s < nst; s++) {
        dc[s] = mr_arena_zeros(a, (size_t)N * d->rn.out_ch[s] * f.st[s].OH * f.st[s].OW);
        if (!dc[s]) return mr_errf(e, MR_ENOMEM, "out of memory in backward");
    }
    if ((rc = d->s.tap->backward(d->tap_state, &d->s, f.tap_act, N, d->roi_in_ch, &f.maps, dmaps, dc, a, e)))
        return rc;
    float *dstem = d->rn.stem_trainable
                       ? mr_arena_zeros(a, (size_t)N * d->rn.stem_ch * f.stem.OH * f.stem.OW) : NULL;
    for (int s = nst - 1; s >= 0; s--) {
        int below_trainable = s == 0 ? d->rn.stem_trainable : d->rn.st[s - 1].trainable;
        float *dx = below_trainable ? (s == 0 ? dstem : dc[s - 1]) : NULL;
        if ((rc = mr_stage_backward(&d->rn, s, &f.st[s], dc[s], dx, a, e))) return rc;
    }
    if (dstem && (rc = mr_resnet_stem_backward(&d->rn, &f.stem, dstem, a, e))) return rc;
    d->ms.backbone += mr_det_now_ms() - t6;
    return MR_OK;
}

