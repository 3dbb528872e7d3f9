/*
 * detector_run.h — what the detector's source files share to run a batch
 * (core/detector.c: creation and the training step; core/detector_infer.c:
 * inference): the forward state of one batch and the stages both runs go
 * through. Internal to core/detector*.c; everything else uses detector.h.
 *
 * defines: mr_det_roi_job, mr_det_fwd, mr_det_now_ms, mr_det_res5_head,
 *   mr_det_trace, mr_det_backbone_forward, mr_det_trace_backbone,
 *   mr_det_roi_forward, mr_det_heads_forward
 */
#ifndef MR_DETECTOR_RUN_H
#define MR_DETECTOR_RUN_H

#include <stdint.h>
#include "core/detector.h"

/* one RoI feature extraction: R RoIs (R x 5) pooled to P x P from the maps
 * (core/roi_extractor.h's multi-level path; ws keeps the level assignment
 * and aux scratch from the forward for the backward) */
typedef struct mr_det_roi_job {
    int R, P;
    const float *rois;
    void *ws;
    float *pooled;                   /* (R, C, P, P) in RoI order */
} mr_det_roi_job;

typedef struct mr_det_fwd {
    mr_stage_act stem, st[4];
    void *tap_act;                   /* the tap's forward state (act_size bytes) */
    mr_tap_maps maps;                /* the RPN's and the RoI stage's feature maps */
    mr_rpn_act rpn;
    /* RoI stage */
    int R;
    const float *rois;
    mr_det_roi_job box_job, mask_job, kp_job;
    float *pooled;                   /* box head RoI features (R, C, P, P) */
    mr_stage_act res5;               /* C4 */
    float *pool5;                    /* C4: (R, C5) */
    mr_box_head_act box;
} mr_det_fwd;

/* milliseconds of a monotonic clock */
double mr_det_now_ms(void);
/* the box head is res5 + average pool on the RoI features (the C4 design):
 * the mask head then runs on those res5 outputs */
int mr_det_res5_head(const mr_detector *d);
/* hand one intermediate to the observer, if any (dims: ndim sizes) */
void mr_det_trace(const mr_detector *d, const char *name, const float *x, int ndim, int64_t d0, int64_t d1,
                  int64_t d2, int64_t d3);
/* stem, body stages, tap and RPN head of batch b into f */
int mr_det_backbone_forward(mr_detector *d, const mr_batch *b, mr_det_fwd *f, mr_err *e);
/* the backbone, FPN and RPN-head outputs of an inference batch, to the observer */
void mr_det_trace_backbone(const mr_detector *d, const mr_det_fwd *f);
/* RoI features of j->rois (j->R x 5) at j->P x j->P into j->pooled */
int mr_det_roi_forward(mr_detector *d, mr_det_fwd *f, mr_det_roi_job *j, mr_err *e);
/* pooled -> box head input (C4: res5 + avg pool), then the box head */
int mr_det_heads_forward(mr_detector *d, mr_det_fwd *f, mr_err *e);

#endif
