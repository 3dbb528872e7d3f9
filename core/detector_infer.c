/*
 * detector_infer.c — inference (mr_detector_infer, see detector.h): the
 * backbone and RPN proposals, the box head and its post-processing, then the
 * mask and keypoint branches on the final detections, with the observer's
 * traces (mr_trace_fn). Split out of detector.c (creation and the training
 * step); the stages both share are in core/detector_run.h.
 */
#include "core/detector.h"
#include "core/detector_run.h"

#include <stdio.h>
#include <string.h>

#include "core/postprocess.h"

/* RoI features of the final detections (inference): one RoI per detection,
 * pooled at `pooled` into job; *P gets the number of RoIs. */
static int dets_roi_forward(mr_detector *d, mr_det_fwd *f, const mr_batch *b, const mr_dets *dets,
                            mr_det_roi_job *job, int pooled, const char *what, int *P, mr_err *e)
{
    int np = 0;
    for (int n = 0; n < b->n; n++) np += dets[n].n;
    float *rois = mr_arena_floats(&d->arena, (size_t)(np + 1) * 5);
    if (!rois) return mr_errf(e, MR_ENOMEM, "%s: out of memory", what);
    int k = 0;
    for (int n = 0; n < b->n; n++)
        for (int i = 0; i < dets[n].n; i++, k++) {
            rois[5 * k] = (float)n;
            memcpy(rois + 5 * k + 1, dets[n].boxes + 4 * i, 4 * sizeof(float));
        }
    double t0 = mr_det_now_ms();
    job->R = np;
    job->P = pooled;
    job->rois = rois;
    int rc = mr_det_roi_forward(d, f, job, e);
    if (rc) return rc;
    d->ms.roi_extract += mr_det_now_ms() - t0;
    *P = np;
    return MR_OK;
}

/* masks for the final detections (inference) */
static int mask_forward_infer(mr_detector *d, mr_det_fwd *f, const mr_batch *b, mr_dets *dets, mr_err *e)
{
    mr_arena *a = &d->arena;
    int P = 0, M = d->mask_out, K1 = d->s.box.num_classes;
    int rc = dets_roi_forward(d, f, b, dets, &f->mask_job, d->s.mask_pooled, "mask head", &P, e);
    if (rc) return rc;
    double t1 = mr_det_now_ms();
    const float *x = f->mask_job.pooled;
    if (mr_det_res5_head(d) && P > 0) {
        /* C4: res5 on the detections' RoI features, as for the box head */
        mr_stage_act r5;
        if ((rc = mr_stage_forward(&d->rn, 3, P, f->mask_job.P, f->mask_job.P, x, a, &r5, e))) return rc;
        x = r5.out;
    }
    mr_mask_head_acts acts;
    float *logits;
    if ((rc = d->s.mask_head->forward(d->mh_state, P, x, a, &acts, &logits, e))) return rc;
    if (d->trace) {
        mr_det_trace(d, "mask.roi_feats", f->mask_job.pooled, 4, P, d->roi_in_ch, f->mask_job.P, f->mask_job.P);
        mr_det_trace(d, "mask.logits", logits, 4, P, K1, M, M);
    }
    int k = 0;
    for (int n = 0; n < b->n; n++) {
        dets[n].mask_size = M;
        dets[n].masks = mr_arena_floats(a, (size_t)(dets[n].n + 1) * M * M);
        if (!dets[n].masks) return mr_errf(e, MR_ENOMEM, "mask head: out of memory");
        for (int i = 0; i < dets[n].n; i++, k++)
            d->s.mask_loss->probs(K1, M, logits + (size_t)k * K1 * M * M, dets[n].labels[i],
                                  dets[n].masks + (size_t)i * M * M);
    }
    d->ms.heads += mr_det_now_ms() - t1;
    return MR_OK;
}

/* the keypoint branch of a training step */
/* keypoints for the final detections (inference) */
static int kp_forward_infer(mr_detector *d, mr_det_fwd *f, const mr_batch *b, mr_dets *dets, mr_err *e)
{
    mr_arena *a = &d->arena;
    int NK = d->s.kp.num_kp, H = mr_kp_head_out_size(&d->s.kp), P = 0;
    float *sc = mr_arena_floats(a, (size_t)NK + 1);
    if (!sc) return mr_errf(e, MR_ENOMEM, "keypoint head: out of memory");
    int rc = dets_roi_forward(d, f, b, dets, &f->kp_job, d->s.kp_pooled, "keypoint head", &P, e);
    if (rc) return rc;
    double t1 = mr_det_now_ms();
    mr_kp_head_acts acts;
    if ((rc = mr_kp_head_forward(&d->kh, P, f->kp_job.pooled, a, &acts, e))) return rc;
    if (d->trace) {
        mr_det_trace(d, "kp.roi_feats", f->kp_job.pooled, 4, P, d->roi_in_ch, f->kp_job.P, f->kp_job.P);
        mr_det_trace(d, "kp.logits", acts.logits, 4, P, NK, H, H);
    }
    double t2 = mr_det_now_ms();
    d->ms.heads += t2 - t1;
    int k = 0;
    for (int n = 0; n < b->n; n++) {
        dets[n].num_kp = NK;
        dets[n].kps = mr_arena_floats(a, (size_t)(dets[n].n + 1) * NK * 3);
        if (!dets[n].kps) return mr_errf(e, MR_ENOMEM, "keypoint head: out of memory");
        for (int i = 0; i < dets[n].n; i++, k++) {
            const float *roi = dets[n].boxes + 4 * i;
            mr_arena_mark m = mr_arena_get_mark(a);
            float *ws = mr_arena_floats(a, mr_kp_decode_workspace(H, roi) + 1);
            if (!ws) return mr_errf(e, MR_ENOMEM, "keypoint head: out of memory");
            float *xy = dets[n].kps + (size_t)i * NK * 3;
            mr_heatmaps_to_keypoints(acts.logits + (size_t)k * NK * H * H, NK, H, roi, xy, sc, ws);
            for (int q = 0; q < NK; q++) xy[3 * q + 2] = sc[q];
            mr_arena_release(a, m);
        }
    }
    d->ms.postprocess += mr_det_now_ms() - t2;
    return MR_OK;
}

int mr_detector_infer(mr_detector *d, const mr_batch *b, mr_dets *dets, mr_err *e)
{
    int rc;
    if ((rc = mr_detector_check_batch(d, b, e))) return rc;
    mr_arena *a = &d->arena;
    mr_arena_reset(a);
    mr_det_fwd f;
    memset(&f, 0, sizeof f);
    double t0 = mr_det_now_ms();
    if ((rc = mr_det_backbone_forward(d, b, &f, e))) return rc;
    double t1 = mr_det_now_ms();
    d->ms.backbone += t1 - t0;
    if (d->trace) mr_det_trace_backbone(d, &f);
    t1 = mr_det_now_ms();
    mr_proposals props;
    if ((rc = mr_rpn_proposals(&d->rpn, &f.rpn, b, 0, a, &props, e))) return rc;
    int R = 0;
    for (int n = 0; n < b->n; n++) R += props.n[n];
    float *rois = mr_arena_floats(a, (size_t)(R + 1) * 5);
    if (!rois) return mr_errf(e, MR_ENOMEM, "out of memory (proposals)");
    int r = 0;
    for (int n = 0; n < b->n; n++)
        for (int i = 0; i < props.n[n]; i++, r++) {
            rois[5 * r] = (float)n;
            memcpy(rois + 5 * r + 1, props.boxes[n] + 4 * i, 4 * sizeof(float));
        }
    double t2 = mr_det_now_ms();
    d->ms.rpn += t2 - t1;
    if (d->trace) {
        mr_det_trace(d, "rpn.proposals", rois, 2, R, 5, 0, 0);
        float *sc = mr_arena_floats(a, (size_t)R + 1);
        if (!sc) return mr_errf(e, MR_ENOMEM, "out of memory (proposals)");
        for (int n = 0, k = 0; n < b->n; n++)
            for (int i = 0; i < props.n[n]; i++) sc[k++] = props.scores[n][i];
        mr_det_trace(d, "rpn.proposal_scores", sc, 1, R, 0, 0, 0);
        t2 = mr_det_now_ms();
    }
    f.R = R;
    f.rois = rois;
    f.box_job.R = R;
    f.box_job.P = d->s.roi_params.pooled_h;
    f.box_job.rois = rois;
    if ((rc = mr_det_roi_forward(d, &f, &f.box_job, e))) return rc;
    f.pooled = f.box_job.pooled;
    double t3 = mr_det_now_ms();
    d->ms.roi_extract += t3 - t2;
    if ((rc = mr_det_heads_forward(d, &f, e))) return rc;
    double t4 = mr_det_now_ms();
    d->ms.heads += t4 - t3;
    if (d->trace) {
        int C = d->roi_in_ch, P = f.box_job.P, K1 = d->s.box.num_classes;
        mr_det_trace(d, "box.roi_feats", f.box_job.pooled, 4, R, C, P, P);
        mr_det_trace(d, "box.class_logits", f.box.cls, 2, R, K1, 0, 0);
        mr_det_trace(d, "box.box_regression", f.box.deltas, 2, R, 4 * K1, 0, 0);
        t4 = mr_det_now_ms();
    }
    if ((rc = mr_box_postprocess(&d->box, &f.box, R, rois, b, a, dets, e))) return rc;
    d->ms.postprocess += mr_det_now_ms() - t4;
    /* masks for the final detections (pasted by the caller: core/postprocess.h) */
    double t5 = mr_det_now_ms();
    if (d->s.mask_on && (rc = mask_forward_infer(d, &f, b, dets, e))) return rc;
    d->ms.mask_branch += mr_det_now_ms() - t5;
    if (d->s.kp_on && (rc = kp_forward_infer(d, &f, b, dets, e))) return rc;
    return MR_OK;
}
