/*
 * box_head.c — the box head: FC2 features, predictor, RoI sampling, losses
 * and inference post-processing (see box_head.h).
 */
#include "core/box_head.h"

#include <math.h>
#include <string.h>

#include "core/boxes.h"
#include "core/layers.h"

int mr_box_head_declare(mr_box_head *h, const mr_box_head_cfg *cfg, int in_dim,
                        mr_param_table *t, mr_err *e)
{
    if (cfg->num_classes < 2)
        return mr_errf(e, MR_EUSER, "num_classes: %d: expected at least one foreground class",
                       cfg->num_classes - 1);
    if (cfg->kind == MR_BOX_HEAD_FC2 && (cfg->fc_dim < 1 || cfg->fc_dim > 65536))
        return mr_errf(e, MR_EUSER, "box_head.fc_dim: %d: expected 1..65536", cfg->fc_dim);
    if (cfg->batch_per_image < 1)
        return mr_errf(e, MR_EUSER, "box_head.batch_per_image: %d: expected >= 1", cfg->batch_per_image);
    if (!(cfg->positive_fraction > 0 && cfg->positive_fraction <= 1))
        return mr_errf(e, MR_EUSER, "box_head.positive_fraction: %g: expected (0, 1]",
                       (double)cfg->positive_fraction);
    if (cfg->detections_per_img < 1)
        return mr_errf(e, MR_EUSER, "box_head.detections_per_img: %d: expected >= 1",
                       cfg->detections_per_img);
    memset(h, 0, sizeof *h);
    h->cfg = *cfg;
    h->in_dim = in_dim;
    int K1 = cfg->num_classes;
    if (cfg->kind == MR_BOX_HEAD_FC2) {
        int F = cfg->fc_dim;
        int w6[2] = {F, in_dim}, w7[2] = {F, F}, b[1] = {F};
        mr_params_add(t, "roi_heads.box_head.fc6.weight", 2, w6, MR_INIT_TORCH_LINEAR, 0, 1, &h->fc6_w, &h->dfc6_w);
        mr_params_add(t, "roi_heads.box_head.fc6.bias", 1, b, MR_INIT_ZERO, 0, 1, &h->fc6_b, &h->dfc6_b);
        mr_params_add(t, "roi_heads.box_head.fc7.weight", 2, w7, MR_INIT_TORCH_LINEAR, 0, 1, &h->fc7_w, &h->dfc7_w);
        mr_params_add(t, "roi_heads.box_head.fc7.bias", 1, b, MR_INIT_ZERO, 0, 1, &h->fc7_b, &h->dfc7_b);
        h->rep_dim = F;
    } else {
        h->rep_dim = in_dim;
    }
    int wc[2] = {K1, h->rep_dim}, bc[1] = {K1}, wb[2] = {4 * K1, h->rep_dim}, bb[1] = {4 * K1};
    mr_params_add(t, "roi_heads.box_predictor.cls_score.weight", 2, wc, MR_INIT_NORMAL, 0.01f, 1, &h->cls_w, &h->dcls_w);
    mr_params_add(t, "roi_heads.box_predictor.cls_score.bias", 1, bc, MR_INIT_ZERO, 0, 1, &h->cls_b, &h->dcls_b);
    mr_params_add(t, "roi_heads.box_predictor.bbox_pred.weight", 2, wb, MR_INIT_NORMAL, 0.001f, 1, &h->bbox_w, &h->dbbox_w);
    mr_params_add(t, "roi_heads.box_predictor.bbox_pred.bias", 1, bb, MR_INIT_ZERO, 0, 1, &h->bbox_b, &h->dbbox_b);
    if (t->failed) return mr_errf(e, MR_EINTERNAL, "box head: %s", t->fail_msg);
    return MR_OK;
}

int mr_box_head_forward(const mr_box_head *h, int R, const float *x, mr_arena *a,
                        mr_box_head_act *act, mr_err *e)
{
    int K1 = h->cfg.num_classes, F = h->cfg.fc_dim;
    memset(act, 0, sizeof *act);
    act->R = R;
    act->x = x;
    size_t r = (size_t)(R > 0 ? R : 1);
    act->cls = mr_arena_floats(a, r * K1);
    act->deltas = mr_arena_floats(a, r * 4 * K1);
    act->probs = mr_arena_floats(a, r * K1);
    if (!act->cls || !act->deltas || !act->probs) return mr_errf(e, MR_ENOMEM, "box head: out of memory");
    const float *rep = x;
    if (h->cfg.kind == MR_BOX_HEAD_FC2) {
        act->h6 = mr_arena_floats(a, r * F);
        act->h7 = mr_arena_floats(a, r * F);
        if (!act->h6 || !act->h7) return mr_errf(e, MR_ENOMEM, "box head: out of memory");
        if (R == 0) return MR_OK;
        mr_linear_forward(R, h->in_dim, F, x, h->fc6_w, h->fc6_b, act->h6);
        mr_relu_forward((size_t)R * F, act->h6, act->h6);
        mr_linear_forward(R, F, F, act->h6, h->fc7_w, h->fc7_b, act->h7);
        mr_relu_forward((size_t)R * F, act->h7, act->h7);
        rep = act->h7;
    }
    if (R == 0) return MR_OK;
    mr_linear_forward(R, h->rep_dim, K1, rep, h->cls_w, h->cls_b, act->cls);
    mr_linear_forward(R, h->rep_dim, 4 * K1, rep, h->bbox_w, h->bbox_b, act->deltas);
    return MR_OK;
}

int mr_box_head_backward(const mr_box_head *h, const mr_box_head_act *act, const float *dcls,
                         const float *ddeltas, float *dx, mr_arena *a, mr_err *e)
{
    int R = act->R, K1 = h->cfg.num_classes, F = h->cfg.fc_dim;
    if (R == 0) return MR_OK;
    if (h->cfg.kind == MR_BOX_HEAD_RES5) {
        mr_linear_backward(R, h->rep_dim, K1, act->x, h->cls_w, dcls, dx, h->dcls_w, h->dcls_b);
        mr_linear_backward(R, h->rep_dim, 4 * K1, act->x, h->bbox_w, ddeltas, dx, h->dbbox_w, h->dbbox_b);
        return MR_OK;
    }
    mr_arena_mark m = mr_arena_get_mark(a);
    float *d7 = mr_arena_zeros(a, (size_t)R * F), *d7p = mr_arena_zeros(a, (size_t)R * F);
    float *d6 = mr_arena_zeros(a, (size_t)R * F), *d6p = mr_arena_zeros(a, (size_t)R * F);
    if (!d7 || !d7p || !d6 || !d6p) return mr_errf(e, MR_ENOMEM, "box head: out of memory in backward");
    mr_linear_backward(R, F, K1, act->h7, h->cls_w, dcls, d7, h->dcls_w, h->dcls_b);
    mr_linear_backward(R, F, 4 * K1, act->h7, h->bbox_w, ddeltas, d7, h->dbbox_w, h->dbbox_b);
    mr_relu_backward((size_t)R * F, act->h7, d7, d7p);
    mr_linear_backward(R, F, F, act->h6, h->fc7_w, d7p, d6, h->dfc7_w, h->dfc7_b);
    mr_relu_backward((size_t)R * F, act->h6, d6, d6p);
    mr_linear_backward(R, h->in_dim, F, act->x, h->fc6_w, d6p, dx, h->dfc6_w, h->dfc6_b);
    mr_arena_release(a, m);
    return MR_OK;
}

/* image n's candidates (its proposals, then its non-crowd ground truth)
 * matched and labelled; arrays from the arena (the caller releases) */
typedef struct box_cand {
    int G, T, P, Q;
    int *gidx, *match, *lab;
    float *gt, *cand;
} box_cand;

static int label_cands(const mr_box_head *h, const mr_proposals *p, const mr_batch_image *im, int n, mr_arena *a,
                       box_cand *c, mr_err *e)
{
    int G = 0, P = p->n[n];
    c->gidx = mr_arena_alloc(a, sizeof(int) * (size_t)(im->ninst + 1));
    c->gt = mr_arena_floats(a, (size_t)(im->ninst + 1) * 4);
    c->cand = mr_arena_floats(a, (size_t)(P + im->ninst + 1) * 4);
    if (!c->gidx || !c->gt || !c->cand) return mr_errf(e, MR_ENOMEM, "box head: out of memory (sampling)");
    for (int i = 0; i < im->ninst; i++) {
        if (im->iscrowd && im->iscrowd[i]) continue;
        memcpy(c->gt + 4 * G, im->boxes + 4 * i, 4 * sizeof(float));
        c->gidx[G++] = i;
    }
    memcpy(c->cand, p->boxes[n], sizeof(float) * 4 * (size_t)P);
    memcpy(c->cand + 4 * (size_t)P, c->gt, sizeof(float) * 4 * (size_t)G);
    int T = P + G;
    float *iou = mr_arena_floats(a, (size_t)(G ? G : 1) * (T ? T : 1));
    c->match = mr_arena_alloc(a, sizeof(int) * (size_t)(T + 1));
    c->lab = mr_arena_alloc(a, sizeof(int) * (size_t)(T + 1));
    if (!iou || !c->match || !c->lab) return mr_errf(e, MR_ENOMEM, "box head: out of memory (sampling)");
    if (G) mr_box_iou(G, c->gt, T, c->cand, iou);
    mr_match(G, T, iou, h->cfg.fg_iou, h->cfg.bg_iou, 0, c->match, NULL);
    c->P = c->Q = 0;
    for (int j = 0; j < T; j++) {
        c->lab[j] = c->match[j] >= 0 ? im->labels[c->gidx[c->match[j]]]
                  : c->match[j] == MR_MATCH_BELOW_LOW ? 0 : -1;
        c->P += c->lab[j] >= 1;
        c->Q += c->lab[j] == 0;
    }
    c->G = G;
    c->T = T;
    return MR_OK;
}

static void sample_cands(const mr_box_head *h, int n, const box_cand *c, mr_pcg32 *rng, int *pos, int *neg,
                         mr_box_samples *s)
{
    mr_box_coder coder = mr_box_coder_make(10, 10, 5, 5);
    int np = 0, nn = 0;
    mr_sample_balanced(c->T, c->lab, h->cfg.batch_per_image, h->cfg.positive_fraction, rng, pos, &np, neg, &nn);
    for (int k = 0; k < np + nn; k++) {
        int j = k < np ? pos[k] : neg[k - np];
        int r = s->R++;
        s->rois[5 * r] = (float)n;
        memcpy(s->rois + 5 * r + 1, c->cand + 4 * (size_t)j, 4 * sizeof(float));
        s->labels[r] = k < np ? c->lab[j] : 0;
        s->gt[r] = k < np ? c->gidx[c->match[j]] : -1;
        if (k < np)
            mr_box_encode(&coder, 1, c->gt + 4 * c->match[j], c->cand + 4 * (size_t)j, s->tgt + 4 * r);
        else
            memset(s->tgt + 4 * r, 0, 4 * sizeof(float));
    }
    s->npos += np;
}

int mr_box_assign(const mr_box_head *h, const mr_proposals *p, const mr_batch *b,
                  mr_pcg32 *rng, mr_arena *a, mr_box_samples *s, mr_err *e)
{
    return mr_box_assign_shard(h, p, b, NULL, rng, a, s, e);
}

int mr_box_assign_shard(const mr_box_head *h, const mr_proposals *p, const mr_batch *b, const mr_shard *sh,
                        mr_pcg32 *rng, mr_arena *a, mr_box_samples *s, mr_err *e)
{
    int B = h->cfg.batch_per_image, N = b->n, rc;
    memset(s, 0, sizeof *s);
    size_t cap = (size_t)N * B;
    s->rois = mr_arena_floats(a, cap * 5 + 5);
    s->labels = mr_arena_alloc(a, sizeof(int) * cap + 4);
    s->gt = mr_arena_alloc(a, sizeof(int) * cap + 4);
    s->tgt = mr_arena_floats(a, cap * 4 + 4);
    int *pos = mr_arena_alloc(a, sizeof(int) * (size_t)B), *neg = mr_arena_alloc(a, sizeof(int) * (size_t)B);
    if (!s->rois || !s->labels || !s->gt || !s->tgt || !pos || !neg)
        return mr_errf(e, MR_ENOMEM, "box head: out of memory (sampling)");
    box_cand c;
    if (!sh || mr_dist_size(sh->dist) <= 1) {
        for (int n = 0; n < N; n++) {
            mr_arena_mark m = mr_arena_get_mark(a);
            if ((rc = label_cands(h, p, &b->img[n], n, a, &c, e))) return rc;
            sample_cands(h, n, &c, rng, pos, neg, s);
            mr_arena_release(a, m);
        }
        return MR_OK;
    }
    /* one rank of a global batch (see mr_rpn_assign_shard) */
    int G = sh->global_n;
    int32_t *cnt = mr_arena_alloc(a, sizeof(int32_t) * 2 * (size_t)(N + 1));
    int32_t *gcnt = mr_arena_alloc(a, sizeof(int32_t) * 2 * (size_t)G);
    if (!cnt || !gcnt) return mr_errf(e, MR_ENOMEM, "box head: out of memory (sampling)");
    for (int n = 0; n < N; n++) {
        mr_arena_mark m = mr_arena_get_mark(a);
        if ((rc = label_cands(h, p, &b->img[n], n, a, &c, e))) return rc;
        cnt[2 * n] = c.P;
        cnt[2 * n + 1] = c.Q;
        mr_arena_release(a, m);
    }
    if ((rc = mr_shard_gather(sh, cnt, N, 2, gcnt, e))) return mr_err_prefix(e, "box sampling");
    long R = 0, npos = 0;
    for (int j = 0; j < G; j++) {
        int n = j - sh->first;
        if (n >= 0 && n < N) {
            int r0 = s->R, p0 = s->npos;
            mr_arena_mark m = mr_arena_get_mark(a);
            if ((rc = label_cands(h, p, &b->img[n], n, a, &c, e))) return rc;
            sample_cands(h, n, &c, rng, pos, neg, s);
            mr_arena_release(a, m);
            R += s->R - r0;
            npos += s->npos - p0;
        } else {
            int np, nn;
            mr_sample_balanced_counts(gcnt[2 * j], gcnt[2 * j + 1], B, h->cfg.positive_fraction, rng, &np, &nn);
            R += np + nn;
            npos += np;
        }
    }
    s->norm = R;
    s->npos_global = npos;
    return MR_OK;
}

void mr_box_loss(const mr_box_head *h, const mr_box_head_act *act, const mr_box_samples *s,
                 float *dcls, float *ddeltas, double *loss_cls, double *loss_box)
{
    int R = s->R, K1 = h->cfg.num_classes;
    float norm = s->norm > 0 ? (float)s->norm : R > 0 ? (float)R : 1.0f;
    double cls = R > 0 ? mr_softmax_xent_forward(R, K1, act->cls, s->labels, act->probs) : 0;
    if (dcls && R > 0) mr_softmax_xent_backward(R, K1, act->probs, s->labels, 1.0f / norm, dcls);
    double box = 0;
    for (int r = 0; r < R; r++) {
        int c = s->labels[r];
        if (c <= 0) continue;
        const float *d = act->deltas + (size_t)r * 4 * K1 + 4 * c;
        box += mr_smooth_l1_forward(4, d, s->tgt + 4 * r, h->cfg.beta);
        if (ddeltas)
            mr_smooth_l1_backward(4, d, s->tgt + 4 * r, h->cfg.beta, 1.0f / norm,
                                  ddeltas + (size_t)r * 4 * K1 + 4 * c);
    }
    *loss_cls = cls / norm;
    *loss_box = box / norm;
}

int mr_box_postprocess(const mr_box_head *h, const mr_box_head_act *act, int R, const float *rois,
                       const mr_batch *b, mr_arena *a, mr_dets *dets, mr_err *e)
{
    int K1 = h->cfg.num_classes, D = h->cfg.detections_per_img;
    mr_box_coder coder = mr_box_coder_make(10, 10, 5, 5);
    /* softmax per row */
    for (int r = 0; r < R; r++) {
        const float *z = act->cls + (size_t)r * K1;
        float *p = act->probs + (size_t)r * K1, mx = z[0];
        for (int k = 1; k < K1; k++) mx = z[k] > mx ? z[k] : mx;
        double s = 0;
        for (int k = 0; k < K1; k++) { p[k] = expf(z[k] - mx); s += p[k]; }
        for (int k = 0; k < K1; k++) p[k] = (float)(p[k] / s);
    }
    int start = 0;
    for (int n = 0; n < b->n; n++) {
        int end = start;
        while (end < R && (int)rois[5 * end] == n) end++;
        int Ri = end - start;
        const mr_batch_image *im = &b->img[n];
        mr_dets *d = &dets[n];
        memset(d, 0, sizeof *d);
        d->boxes = mr_arena_floats(a, (size_t)D * 4);
        d->boxes_orig = mr_arena_floats(a, (size_t)D * 4);
        d->scores = mr_arena_floats(a, (size_t)D);
        d->labels = mr_arena_alloc(a, sizeof(int) * (size_t)D);
        if (!d->boxes || !d->boxes_orig || !d->scores || !d->labels)
            return mr_errf(e, MR_ENOMEM, "box head: out of memory (detections)");
        if (Ri == 0) { start = end; continue; }
        mr_arena_mark m = mr_arena_get_mark(a);
        size_t nc = (size_t)Ri * (K1 - 1);
        float *ref = mr_arena_floats(a, (size_t)Ri * 4);
        float *dec = mr_arena_floats(a, (size_t)Ri * K1 * 4);
        float *cb = mr_arena_floats(a, nc * 4 + 4), *cs = mr_arena_floats(a, nc + 1);
        int *cl = mr_arena_alloc(a, sizeof(int) * (nc + 1)), *keep = mr_arena_alloc(a, sizeof(int) * (nc + 1));
        void *ws = mr_arena_alloc(a, mr_nms_workspace((int)nc) + 16);
        if (!ref || !dec || !cb || !cs || !cl || !keep || !ws)
            return mr_errf(e, MR_ENOMEM, "box head: out of memory (detections)");
        for (int r = 0; r < Ri; r++) memcpy(ref + 4 * r, rois + 5 * (size_t)(start + r) + 1, 4 * sizeof(float));
        mr_box_decode(&coder, Ri, K1, act->deltas + (size_t)start * 4 * K1, ref, dec);
        mr_boxes_clip(Ri * K1, dec, im->height, im->width);
        int c = 0;
        for (int r = 0; r < Ri; r++)
            for (int k = 1; k < K1; k++) {
                float sc = act->probs[(size_t)(start + r) * K1 + k];
                const float *bx = dec + ((size_t)r * K1 + k) * 4;
                if (!(sc > h->cfg.score_thresh)) continue;
                if (bx[2] - bx[0] < h->cfg.min_size || bx[3] - bx[1] < h->cfg.min_size) continue;
                memcpy(cb + 4 * (size_t)c, bx, 4 * sizeof(float));
                cs[c] = sc;
                cl[c] = k;
                c++;
            }
        int nk = mr_batched_nms(c, cb, cs, cl, h->cfg.nms_thresh, D, keep, ws);
        if (nk > D) nk = D;
        /* back to the original image per axis, as torchvision's
         * resize_boxes does (original / resized size of each side: the
         * rounded resized sides make the two ratios differ slightly) */
        float inv = im->scale > 0 ? 1.0f / im->scale : 1.0f;
        float rx = inv, ry = inv;
        if (im->orig_width > 0 && im->width > 0 && im->orig_height > 0 && im->height > 0) {
            rx = (float)im->orig_width / (float)im->width;
            ry = (float)im->orig_height / (float)im->height;
        }
        for (int i = 0; i < nk; i++) {
            memcpy(d->boxes + 4 * i, cb + 4 * (size_t)keep[i], 4 * sizeof(float));
            for (int q = 0; q < 4; q++) d->boxes_orig[4 * i + q] = d->boxes[4 * i + q] * (q % 2 ? ry : rx);
            d->scores[i] = cs[keep[i]];
            d->labels[i] = cl[keep[i]];
        }
        d->n = nk;
        mr_arena_release(a, m);
        start = end;
    }
    return MR_OK;
}
