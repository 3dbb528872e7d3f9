/*
 * rpn.c — Region Proposal Network: head forward/backward, anchor targets,
 * losses and proposal generation (see rpn.h).
 */
#include "core/rpn.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/anchors.h"
#include "core/boxes.h"

int mr_rpn_declare(mr_rpn *r, const mr_rpn_cfg *cfg, int C, mr_param_table *t, mr_err *e)
{
    if (cfg->nlevels < 1 || cfg->nlevels > MR_RPN_MAX_LEVELS)
        return mr_errf(e, MR_EINTERNAL, "rpn: %d levels", cfg->nlevels);
    if (cfg->sizes_per_level < 1 || cfg->nlevels * cfg->sizes_per_level > MR_RPN_MAX_SIZES)
        return mr_errf(e, MR_EUSER, "anchors.sizes: expected 1..%d sizes per level", MR_RPN_MAX_SIZES);
    if (cfg->nratios < 1 || cfg->nratios > MR_RPN_MAX_RATIOS)
        return mr_errf(e, MR_EUSER, "anchors.ratios: expected 1..%d ratios", MR_RPN_MAX_RATIOS);
    for (int i = 0; i < cfg->nlevels * cfg->sizes_per_level; i++)
        if (!(cfg->sizes[i] > 0))
            return mr_errf(e, MR_EUSER, "anchors.sizes[%d]: %g: expected > 0", i, (double)cfg->sizes[i]);
    for (int i = 0; i < cfg->nratios; i++)
        if (!(cfg->ratios[i] > 0))
            return mr_errf(e, MR_EUSER, "anchors.ratios[%d]: %g: expected > 0", i, (double)cfg->ratios[i]);
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    r->C = C;
    r->A = cfg->sizes_per_level * cfg->nratios;
    int A = r->A;
    r->conv = (mr_conv2d){C, C, 3, 3, 1, 1, 1, 1, 1, 1};
    r->cls = (mr_conv2d){C, A, 1, 1, 1, 1, 0, 0, 1, 1};
    r->bbox = (mr_conv2d){C, 4 * A, 1, 1, 1, 1, 0, 0, 1, 1};
    int wc[4] = {C, C, 3, 3}, bc[1] = {C}, wl[4] = {A, C, 1, 1}, bl[1] = {A},
        wb[4] = {4 * A, C, 1, 1}, bb[1] = {4 * A};
    mr_params_add(t, "rpn.head.conv.0.0.weight", 4, wc, MR_INIT_NORMAL, 0.01f, 1, &r->conv_w, &r->dconv_w);
    mr_params_add(t, "rpn.head.conv.0.0.bias", 1, bc, MR_INIT_ZERO, 0, 1, &r->conv_b, &r->dconv_b);
    mr_params_add(t, "rpn.head.cls_logits.weight", 4, wl, MR_INIT_NORMAL, 0.01f, 1, &r->cls_w, &r->dcls_w);
    mr_params_add(t, "rpn.head.cls_logits.bias", 1, bl, MR_INIT_ZERO, 0, 1, &r->cls_b, &r->dcls_b);
    mr_params_add(t, "rpn.head.bbox_pred.weight", 4, wb, MR_INIT_NORMAL, 0.01f, 1, &r->bbox_w, &r->dbbox_w);
    mr_params_add(t, "rpn.head.bbox_pred.bias", 1, bb, MR_INIT_ZERO, 0, 1, &r->bbox_b, &r->dbbox_b);
    if (t->failed) return mr_errf(e, MR_EINTERNAL, "rpn: %s", t->fail_msg);
    return MR_OK;
}

int mr_rpn_forward(const mr_rpn *r, int N, int img_h, int img_w, int nlevels, const int *H,
                   const int *W, const float *const *feat, mr_arena *a, mr_rpn_act *act,
                   mr_err *e)
{
    memset(act, 0, sizeof *act);
    act->N = N;
    act->nlevels = nlevels;
    act->img_h = img_h;
    act->img_w = img_w;
    int A = r->A, C = r->C;
    for (int l = 0; l < nlevels; l++) {
        int hw = H[l] * W[l];
        act->H[l] = H[l];
        act->W[l] = W[l];
        act->feat[l] = feat[l];
        act->t[l] = mr_arena_floats(a, (size_t)N * C * hw);
        act->logits[l] = mr_arena_floats(a, (size_t)N * A * hw);
        act->deltas[l] = mr_arena_floats(a, (size_t)N * 4 * A * hw);
        act->anchors[l] = mr_arena_floats(a, (size_t)hw * A * 4);
        mr_arena_mark m = mr_arena_get_mark(a);
        float *ws = mr_arena_floats(a, mr_conv2d_workspace(&r->conv, H[l], W[l]) + 1);
        if (!act->t[l] || !act->logits[l] || !act->deltas[l] || !act->anchors[l] || !ws)
            return mr_errf(e, MR_ENOMEM, "rpn: out of memory");
        mr_conv2d_forward(&r->conv, N, H[l], W[l], feat[l], r->conv_w, r->conv_b, act->t[l], ws);
        mr_arena_release(a, m);
        mr_relu_forward((size_t)N * C * hw, act->t[l], act->t[l]);
        mr_conv2d_forward(&r->cls, N, H[l], W[l], act->t[l], r->cls_w, r->cls_b, act->logits[l], NULL);
        mr_conv2d_forward(&r->bbox, N, H[l], W[l], act->t[l], r->bbox_w, r->bbox_b, act->deltas[l], NULL);
        int rc = mr_anchors_for_map(r->cfg.sizes_per_level, r->cfg.sizes + l * r->cfg.sizes_per_level,
                                    r->cfg.nratios, r->cfg.ratios, img_h, img_w, H[l], W[l],
                                    act->anchors[l], e);
        if (rc) return mr_err_prefix(e, "rpn level %d", l);
        act->off[l + 1] = act->off[l] + hw * A;
    }
    return MR_OK;
}

int mr_rpn_backward(const mr_rpn *r, const mr_rpn_act *act, float *const *dlogits,
                    float *const *ddeltas, float *const *dfeat, mr_arena *a, mr_err *e)
{
    int N = act->N, A = r->A, C = r->C;
    for (int l = 0; l < act->nlevels; l++) {
        int H = act->H[l], W = act->W[l];
        size_t n = (size_t)N * C * H * W;
        mr_arena_mark m = mr_arena_get_mark(a);
        float *dt = mr_arena_zeros(a, n), *dc = mr_arena_zeros(a, n);
        float *ws = mr_arena_floats(a, mr_conv2d_workspace(&r->conv, H, W) + 1);
        if (!dt || !dc || !ws) return mr_errf(e, MR_ENOMEM, "rpn: out of memory in backward");
        (void)A;
        mr_conv2d_backward(&r->cls, N, H, W, act->t[l], r->cls_w, dlogits[l], dt, r->dcls_w, r->dcls_b, ws);
        mr_conv2d_backward(&r->bbox, N, H, W, act->t[l], r->bbox_w, ddeltas[l], dt, r->dbbox_w,
                           r->dbbox_b, ws);
        mr_relu_backward(n, act->t[l], dt, dc);
        mr_conv2d_backward(&r->conv, N, H, W, act->feat[l], r->conv_w, dc, dfeat ? dfeat[l] : NULL,
                           r->dconv_w, r->dconv_b, ws);
        mr_arena_release(a, m);
    }
    return MR_OK;
}

/* level, and offsets of an anchor's logit and first delta in their maps */
static void anchor_loc(const mr_rpn *r, const mr_rpn_act *act, int img, int g, int *lvl,
                       size_t *lo, size_t *dlo, size_t *hw_out)
{
    int l = 0;
    while (l + 1 < act->nlevels && g >= act->off[l + 1]) l++;
    int j = g - act->off[l], A = r->A;
    size_t hw = (size_t)act->H[l] * act->W[l];
    size_t pos = (size_t)(j / A);
    int an = j % A;
    *lvl = l;
    *lo = ((size_t)img * A + an) * hw + pos;
    *dlo = ((size_t)img * 4 * A + (size_t)an * 4) * hw + pos;
    *hw_out = hw;
}

/* image im's anchors matched to its non-crowd ground truth: labels (T ints:
 * 1 positive, 0 negative, -1 ignored), matches (T ints), gt (G boxes, from
 * the arena: the caller releases), *P and *Q the positives and negatives */
static int label_anchors(const mr_rpn *r, const mr_batch_image *im, const float *all, int T, mr_arena *a,
                         float **gt_out, int *matches, int *labels, int *P, int *Q, mr_err *e)
{
    int G = 0;
    float *gt = mr_arena_floats(a, (size_t)(im->ninst + 1) * 4);
    if (!gt) return mr_errf(e, MR_ENOMEM, "rpn: out of memory (targets)");
    for (int i = 0; i < im->ninst; i++) {
        if (im->iscrowd && im->iscrowd[i]) continue;
        memcpy(gt + 4 * G, im->boxes + 4 * i, 4 * sizeof(float));
        G++;
    }
    float *iou = G ? mr_arena_floats(a, (size_t)G * T) : NULL;
    float *ws = mr_arena_floats(a, (size_t)G + 1);
    if ((G && !iou) || !ws) return mr_errf(e, MR_ENOMEM, "rpn: out of memory (IoU %d x %d)", G, T);
    if (G) mr_box_iou(G, gt, T, all, iou);
    mr_match(G, T, iou, r->cfg.fg_iou, r->cfg.bg_iou, 1, matches, ws);
    int p = 0, q = 0;
    for (int j = 0; j < T; j++) {
        labels[j] = matches[j] >= 0 ? 1 : matches[j] == MR_MATCH_BELOW_LOW ? 0 : -1;
        p += labels[j] == 1;
        q += labels[j] == 0;
    }
    *gt_out = gt;
    *P = p;
    *Q = q;
    return MR_OK;
}

/* sample image n's anchors and append them to tg */
static void sample_anchors(const mr_rpn *r, int n, int T, const int *labels, const int *matches, const float *gt,
                           const float *all, mr_pcg32 *rng, int *pos, int *neg, mr_rpn_targets *tg)
{
    int B = r->cfg.batch_per_image;
    mr_box_coder coder = mr_box_coder_make(1, 1, 1, 1);
    int np = 0, nn = 0;
    mr_sample_balanced(T, labels, B, r->cfg.positive_fraction, rng, pos, &np, neg, &nn);
    for (int k = 0; k < np; k++) {
        int s = tg->S++;
        tg->img[s] = n;
        tg->idx[s] = pos[k];
        tg->label[s] = 1.0f;
        mr_box_encode(&coder, 1, gt + 4 * matches[pos[k]], all + 4 * (size_t)pos[k], tg->tgt + 4 * s);
    }
    for (int k = 0; k < nn; k++) {
        int s = tg->S++;
        tg->img[s] = n;
        tg->idx[s] = neg[k];
        tg->label[s] = 0.0f;
        memset(tg->tgt + 4 * s, 0, 4 * sizeof(float));
    }
    tg->npos += np;
}

int mr_rpn_assign(const mr_rpn *r, const mr_rpn_act *act, const mr_batch *b, mr_pcg32 *rng,
                  mr_arena *a, mr_rpn_targets *tg, mr_err *e)
{
    return mr_rpn_assign_shard(r, act, b, NULL, rng, a, tg, e);
}

int mr_rpn_assign_shard(const mr_rpn *r, const mr_rpn_act *act, const mr_batch *b, const mr_shard *sh,
                        mr_pcg32 *rng, mr_arena *a, mr_rpn_targets *tg, mr_err *e)
{
    int N = act->N, T = act->off[act->nlevels], B = r->cfg.batch_per_image;
    memset(tg, 0, sizeof *tg);
    tg->img = mr_arena_alloc(a, sizeof(int) * (size_t)N * B);
    tg->idx = mr_arena_alloc(a, sizeof(int) * (size_t)N * B);
    tg->label = mr_arena_floats(a, (size_t)N * B);
    tg->tgt = mr_arena_floats(a, (size_t)N * B * 4);
    float *all = mr_arena_floats(a, (size_t)T * 4);
    int *matches = mr_arena_alloc(a, sizeof(int) * (size_t)T);
    int *labels = mr_arena_alloc(a, sizeof(int) * (size_t)T);
    int *pos = mr_arena_alloc(a, sizeof(int) * (size_t)B), *neg = mr_arena_alloc(a, sizeof(int) * (size_t)B);
    if (!tg->img || !tg->idx || !tg->label || !tg->tgt || !all || !matches || !labels || !pos || !neg)
        return mr_errf(e, MR_ENOMEM, "rpn: out of memory (targets)");
    for (int l = 0; l < act->nlevels; l++)
        memcpy(all + (size_t)act->off[l] * 4, act->anchors[l],
               sizeof(float) * 4 * (size_t)(act->off[l + 1] - act->off[l]));
    int rc, P, Q;
    float *gt;
    if (!sh || mr_dist_size(sh->dist) <= 1) {
        for (int n = 0; n < N; n++) {
            mr_arena_mark m = mr_arena_get_mark(a);
            if ((rc = label_anchors(r, &b->img[n], all, T, a, &gt, matches, labels, &P, &Q, e))) return rc;
            sample_anchors(r, n, T, labels, matches, gt, all, rng, pos, neg, tg);
            mr_arena_release(a, m);
        }
        return MR_OK;
    }
    /* one rank of a global batch: every image's counts, then the global
     * batch's draws in order, the other ranks' images replayed */
    int G = sh->global_n;
    int32_t *cnt = mr_arena_alloc(a, sizeof(int32_t) * 2 * (size_t)(N + 1));
    int32_t *gcnt = mr_arena_alloc(a, sizeof(int32_t) * 2 * (size_t)G);
    if (!cnt || !gcnt) return mr_errf(e, MR_ENOMEM, "rpn: out of memory (targets)");
    for (int n = 0; n < N; n++) {
        mr_arena_mark m = mr_arena_get_mark(a);
        if ((rc = label_anchors(r, &b->img[n], all, T, a, &gt, matches, labels, &P, &Q, e))) return rc;
        cnt[2 * n] = P;
        cnt[2 * n + 1] = Q;
        mr_arena_release(a, m);
    }
    if ((rc = mr_shard_gather(sh, cnt, N, 2, gcnt, e))) return mr_err_prefix(e, "rpn sampling");
    long S = 0;
    for (int j = 0; j < G; j++) {
        int n = j - sh->first;
        if (n >= 0 && n < N) {
            int s0 = tg->S;
            mr_arena_mark m = mr_arena_get_mark(a);
            if ((rc = label_anchors(r, &b->img[n], all, T, a, &gt, matches, labels, &P, &Q, e))) return rc;
            sample_anchors(r, n, T, labels, matches, gt, all, rng, pos, neg, tg);
            mr_arena_release(a, m);
            S += tg->S - s0;
        } else {
            int np, nn;
            mr_sample_balanced_counts(gcnt[2 * j], gcnt[2 * j + 1], B, r->cfg.positive_fraction, rng, &np, &nn);
            S += np + nn;
        }
    }
    tg->norm = S;
    return MR_OK;
}

void mr_rpn_loss(const mr_rpn *r, const mr_rpn_act *act, const mr_rpn_targets *tg,
                 float *const *dlogits, float *const *ddeltas, double *loss_cls, double *loss_box)
{
    double cls = 0, box = 0;
    float norm = tg->norm > 0 ? (float)tg->norm : tg->S > 0 ? (float)tg->S : 1.0f;
    for (int s = 0; s < tg->S; s++) {
        int l;
        size_t lo, dlo, hw;
        anchor_loc(r, act, tg->img[s], tg->idx[s], &l, &lo, &dlo, &hw);
        float x = act->logits[l][lo];
        cls += mr_bce_logits_forward(1, &x, &tg->label[s], NULL);
        if (dlogits) {
            float g = 0;
            mr_bce_logits_backward(1, &x, &tg->label[s], NULL, 1.0f / norm, &g);
            dlogits[l][lo] += g;
        }
        if (tg->label[s] > 0.5f) {
            float d[4], g[4] = {0, 0, 0, 0};
            for (int k = 0; k < 4; k++) d[k] = act->deltas[l][dlo + (size_t)k * hw];
            box += mr_smooth_l1_forward(4, d, tg->tgt + 4 * s, r->cfg.beta);
            if (ddeltas) {
                mr_smooth_l1_backward(4, d, tg->tgt + 4 * s, r->cfg.beta, 1.0f / norm, g);
                for (int k = 0; k < 4; k++) ddeltas[l][dlo + (size_t)k * hw] += g[k];
            }
        }
    }
    *loss_cls = cls / norm;
    *loss_box = box / norm;
}

int mr_rpn_proposals(const mr_rpn *r, const mr_rpn_act *act, const mr_batch *b, int training,
                     mr_arena *a, mr_proposals *p, mr_err *e)
{
    int N = act->N, A = r->A, L = act->nlevels;
    int pre = training ? r->cfg.pre_nms_train : r->cfg.pre_nms_test;
    int post = training ? r->cfg.post_nms_train : r->cfg.post_nms_test;
    mr_box_coder coder = mr_box_coder_make(1, 1, 1, 1);
    coder.clip = MR_BBOX_XFORM_CLIP;
    p->N = N;
    p->n = mr_arena_alloc(a, sizeof(int) * (size_t)N);
    p->boxes = mr_arena_alloc(a, sizeof(float *) * (size_t)N);
    p->scores = mr_arena_alloc(a, sizeof(float *) * (size_t)N);
    if (!p->n || !p->boxes || !p->scores) return mr_errf(e, MR_ENOMEM, "rpn: out of memory (proposals)");
    int maxk = 0;
    for (int l = 0; l < L; l++) {
        int hwA = act->H[l] * act->W[l] * A;
        maxk += hwA < pre ? hwA : pre;
    }
    for (int n = 0; n < N; n++) {
        /* output arrays first (they survive), then scratch */
        p->boxes[n] = mr_arena_floats(a, (size_t)(post > 0 ? post : 1) * 4);
        p->scores[n] = mr_arena_floats(a, (size_t)(post > 0 ? post : 1));
        if (!p->boxes[n] || !p->scores[n]) return mr_errf(e, MR_ENOMEM, "rpn: out of memory (proposals)");
        mr_arena_mark m = mr_arena_get_mark(a);
        float *cb = mr_arena_floats(a, (size_t)maxk * 4 + 4), *cs = mr_arena_floats(a, (size_t)maxk + 1);
        int nc = 0;
        for (int l = 0; l < L; l++) {
            int hw = act->H[l] * act->W[l], hwA = hw * A;
            int k = hwA < pre ? hwA : pre;
            float *sc = mr_arena_floats(a, (size_t)hwA);
            int *ord = mr_arena_alloc(a, sizeof(int) * (size_t)hwA * 2 + 4);
            float *d = mr_arena_floats(a, (size_t)k * 4 + 4), *bx = mr_arena_floats(a, (size_t)k * 4 + 4),
                  *an = mr_arena_floats(a, (size_t)k * 4 + 4), *ps = mr_arena_floats(a, (size_t)k + 1);
            int *keep = mr_arena_alloc(a, sizeof(int) * (size_t)k + 4), *keep2 = mr_arena_alloc(a, sizeof(int) * (size_t)k + 4);
            void *ws = mr_arena_alloc(a, mr_nms_workspace(k) + 16);
            if (!cb || !cs || !sc || !ord || !d || !bx || !an || !ps || !keep || !keep2 || !ws)
                return mr_errf(e, MR_ENOMEM, "rpn: out of memory (proposals)");
            const float *lg = act->logits[l] + (size_t)n * A * hw;
            const float *dl = act->deltas[l] + (size_t)n * 4 * A * hw;
            for (int pos = 0; pos < hw; pos++)
                for (int an_ = 0; an_ < A; an_++) sc[pos * A + an_] = lg[(size_t)an_ * hw + pos];
            mr_argsort_desc(hwA, sc, ord, ord + hwA);
            for (int i = 0; i < k; i++) {
                int j = ord[i], pos = j / A, an_ = j % A;
                for (int c = 0; c < 4; c++) {
                    d[4 * i + c] = dl[((size_t)an_ * 4 + c) * hw + pos];
                    an[4 * i + c] = act->anchors[l][(size_t)j * 4 + c];
                }
                ps[i] = 1.0f / (1.0f + expf(-sc[j]));
            }
            mr_box_decode(&coder, k, 1, d, an, bx);
            mr_boxes_clip(k, bx, b->img[n].height, b->img[n].width);
            int nk = mr_boxes_remove_small(k, bx, r->cfg.min_size, keep);
            /* compact, then NMS within the level */
            for (int i = 0; i < nk; i++) {
                memmove(bx + 4 * i, bx + 4 * keep[i], 4 * sizeof(float));
                ps[i] = ps[keep[i]];
            }
            int nn = mr_nms(nk, bx, ps, r->cfg.nms_thresh, 0, keep2, ws);
            for (int i = 0; i < nn; i++) {
                memcpy(cb + 4 * (size_t)nc, bx + 4 * keep2[i], 4 * sizeof(float));
                cs[nc++] = ps[keep2[i]];
            }
        }
        int *ord = mr_arena_alloc(a, sizeof(int) * (size_t)nc * 2 + 4);
        if (!ord) return mr_errf(e, MR_ENOMEM, "rpn: out of memory (proposals)");
        mr_argsort_desc(nc, cs, ord, ord + nc);
        int np = nc < post ? nc : post;
        for (int i = 0; i < np; i++) {
            memcpy(p->boxes[n] + 4 * i, cb + 4 * (size_t)ord[i], 4 * sizeof(float));
            p->scores[n][i] = cs[ord[i]];
        }
        p->n[n] = np;
        mr_arena_release(a, m);
    }
    return MR_OK;
}
