/*
 * infer_run.h — inference with trained weights, as `mrcnn infer` uses it:
 * a dataset's val split or one image, a COCO results file, the fps
 * protocol of that inference beside it, and optional PNGs with the
 * detections drawn.
 *
 * defines: mr_infer_opts, mr_infer_run
 */
#ifndef MR_INFER_RUN_H
#define MR_INFER_RUN_H

#include <stddef.h>
#include "core/err.h"

typedef struct mr_infer_opts {
    int threads;
    const char *vis_dir;      /* write PNGs with boxes drawn here (NULL = none) */
    float score_thresh;       /* < 0: the config's */
    /* when set (n bytes): the settings the weights were trained with (their
     * "config" metadata) that the config file (with its bases) changes, as
     * "roi.extractor: \"roipool\" -> \"roialign\", ..." (schedule and seed
     * not compared; floats in their shortest form), "" when none or when
     * the weights do not say; the keys that sets give are left out */
    char *changed;
    size_t changed_n;
    const char *const *sets;  /* config overrides ("KEY.PATH=VALUE", --set), in order */
    int nsets;
    /* when set (n bytes): as changed, the changes the sets make */
    char *changed_set;
    size_t changed_set_n;
} mr_infer_opts;

/* Run weights on a dataset directory's val split (or one image when
 * image_path is set) and write a COCO results file to out_json, and the fps
 * protocol of that inference beside it (out_json with .json replaced by, or
 * else followed by, .speed.json). */
int mr_infer_run(const char *config_path, const char *weights, const char *data_dir,
                 const char *image_path, const char *out_json, const mr_infer_opts *o,
                 mr_err *e);

#endif
