/*
 * config.h — a run's JSON config: the whole description of a run (model,
 * variants by name, input size, schedule, seed), with `base` inheritance:
 * a config may name a base file (relative to its own directory) and state
 * only what differs; objects are merged deeply, any other value replaces
 * the base's. Every field is validated; errors name the config file and the
 * field ("tiny.json: field roi.extractor: unknown roi_extractor 'roialgn'
 * (known: roipool, roiwarp, roialign)"). Unknown fields are errors too.
 * The resolved config (defaults filled in, no `base`) is what a run records.
 *
 * Fields (defaults in brackets, the paper's FPN where it applies):
 *   name [file stem], seed [1], num_classes [0 = from the dataset]
 *   input      {min_size [800], max_size [1333], size_divisibility [the tap's], flip [true],
 *               resize ["mrcnn" | "torchvision": torchvision's GeneralizedRCNNTransform,
 *               datasets/image.h's mr_resize_kind]}
 *   backbone   {depth [50], width [1], norm ["frozen_bn"|"gn"], gn_groups [32], freeze_at [2]}
 *   tap        ["fpn" | "c4" | "c5"]
 *   fpn        {channels [256]}
 *   anchors    {sizes [[32,64,128,256,512]], ratios [[0.5,1,2]]}
 *   rpn        {pre_nms_train [2000], post_nms_train [2000], pre_nms_test [1000],
 *               post_nms_test [1000], nms_thresh [0.7], fg_iou [0.7], bg_iou [0.3],
 *               batch_per_image [256], positive_fraction [0.5]}
 *   roi        {extractor ["roialign"], pooled [tap's: 7 / 14], sampling_ratio [2],
 *               aligned [false], agg [extractor's], canonical_scale [224], canonical_level [4]}
 *   box_head   {fc_dim [1024], batch_per_image [tap's: 512 / 64], positive_fraction [0.25],
 *               score_thresh [0.05], nms_thresh [0.5], detections_per_img [100]}
 *   heads      {mask [false], mask_head ["fcn"|"mlp"|"fcn_resize"], mask_loss ["sigmoid"],
 *               mask_width [256], and the chosen head's own knobs (core/mask_head.h;
 *               the head's file lists them, another head's knob is an error):
 *                 fcn, fcn_resize: mask_convs [4], mask_dilation [1], mask_deconv_width
 *                   (fcn) / mask_up_width (fcn_resize) [0: mask_width];
 *                 mlp: mask_mlp_layers [2: hidden fc layers of 4*mask_width before
 *                   the K*28*28 logits fc; the paper's Table 2e rows are 2 and 3],
 *                   mask_mlp_size [28],
 *               mask_loss_weight [1: the mask loss's weight in the total],
 *               keypoints [false], kp_width [512], kp_convs [8]}
 *   schedule   {iters [90000], batch_size [2], lr [0.02], warmup_iters [1000],
 *               warmup_factor [0.001], steps [[60000, 80000]], gamma [0.1],
 *               momentum [0.9], weight_decay [1e-4], checkpoint_every [5000], log_every [20]}
 *   init       {weights [none: random initialisation; a path relative to the file
 *               that names it], strict [false]}: training starts from the tensors
 *               of weights whose name and shape match (core/init_weights.h)
 *   overrides  [none]: in a resolved config, the --set overrides it was made with
 *
 * defines: mr_config, mr_config_load, mr_config_load_set, mr_config_apply_set,
 *   mr_config_known_keys, mr_config_abs_path, mr_config_parse, mr_config_to_json,
 *   mr_config_write, mr_config_fingerprint, mr_config_merge, MR_CONFIG_MAX_SETS
 */
#ifndef MR_CONFIG_H
#define MR_CONFIG_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include "core/batch.h"
#include "core/detector.h"
#include "core/err.h"
#include "core/train.h"

#define MR_CONFIG_MAX_SETS 32

typedef struct mr_config {
    char name[128];
    char file[512];             /* the config file as given */
    uint64_t seed;
    int num_classes;            /* 0: take it from the dataset */
    int min_size, max_size, size_div, flip;
    mr_resize_kind resize;      /* input.resize */
    char tap[16], norm[16], roi[16], agg[8];
    mr_detector_spec spec;      /* tap, roi pointers from the registry */
    int roi_agg_given;
    mr_schedule sched;
    int batch_size;
    long checkpoint_every;
    int log_every;
    int mask_on, kp_on, mask_width, kp_width, kp_convs;
    char mask_head[16], mask_loss[16];
    double mask_loss_weight;     /* heads.mask_loss_weight [1] */
    char init_weights[1024];     /* init.weights [""]: start training from these (absolute path) */
    int init_strict;             /* init.strict [false]: missing / unexpected / mismatched tensors are errors */
    int nsets;                   /* overrides applied, in order ("overrides" of a resolved config, then --set) */
    char sets[MR_CONFIG_MAX_SETS][256];
} mr_config;

/* Read path (following `base` chains, at most 8 deep) and validate. */
int mr_config_load(mr_config *c, const char *path, mr_err *e);
/* The same with overrides sets[0..nsets) ("KEY.PATH=VALUE", as --set gives
 * them) applied, in order, over the merged file before validation; they are
 * kept in c->sets (the resolved config's "overrides"). A value is typed by
 * the schema (an integer, a number, true/false, a string, a path, a list as
 * 1,2 or [1,2]); an unknown key is an error listing the known ones (of its
 * section when the section is known), a range error names the override. */
int mr_config_load_set(mr_config *c, const char *path, const char *const *sets, int nsets, mr_err *e);
/* Apply one "KEY.PATH=VALUE" to a merged config object (before parsing). */
int mr_config_apply_set(cJSON *j, const char *kv, mr_err *e);
/* every settable key, "name, seed, ..., init.strict, comment", into buf */
const char *mr_config_known_keys(char *buf, size_t n);
/* path made absolute against dir (NULL or relative: the working directory
 * first); -1 when out (n bytes) is too small */
int mr_config_abs_path(const char *dir, const char *path, char *out, size_t n);
/* Validate an already merged JSON object; label names it in messages. */
int mr_config_parse(mr_config *c, const cJSON *j, const char *label, mr_err *e);
/* Merge over into base (deep for objects); returns a new object. */
cJSON *mr_config_merge(const cJSON *base, const cJSON *over);
/* The resolved config as JSON (caller deletes). */
cJSON *mr_config_to_json(const mr_config *c);
int mr_config_write(const mr_config *c, const char *path, mr_err *e);
/* 16 hex digits identifying everything that shapes the parameters (so a
 * checkpoint from another model is recognised), into buf (>= 17 bytes). */
void mr_config_fingerprint(const mr_config *c, char *buf, size_t n);

#endif
