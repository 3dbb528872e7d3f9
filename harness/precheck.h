/*
 * precheck.h — a training run's inputs checked against each other before
 * any work is done (the dataset loaded, a model built, an iteration run):
 * the dataset against what the config asks of it, and the results store the
 * run will append its record to. `mrcnn train` and the ablation runs call
 * it first, so that a run meant to take an hour fails in a second with the
 * config field, the dataset file and the record named.
 *
 * What is checked (MR_EUSER otherwise), in train.json and val.json of the
 * dataset directory:
 *   heads.keypoints on: a category names its keypoints, and at least one
 *     annotation of the training split has a labelled keypoint (v > 0);
 *   heads.mask on: every annotation that trains or scores a mask (box of
 *     positive size) has a segmentation, polygons (at least one part) or
 *     RLE; without one the box itself would silently become the mask.
 * The store, when given and present, must load (harness/store.h): a line
 * that does not parse is reported with its line number before a run adds
 * its own line after it.
 *
 * defines: mr_precheck_dataset, mr_precheck_store, mr_precheck_train,
 *          mr_precheck_train_set
 */
#ifndef MR_PRECHECK_H
#define MR_PRECHECK_H

#include "core/err.h"
#include "variants/config.h"

/* The dataset in data_dir (train.json, val.json) against config c (label
 * names the config file in messages). Images are not read. */
int mr_precheck_dataset(const mr_config *c, const char *label, const char *data_dir, mr_err *e);

/* The results store at path: MR_OK when absent (the first append creates
 * it) or when every line is a valid record; *nrec (may be NULL) gets the
 * count. Otherwise mr_store_load's error ("PATH:LINE: ..."). */
int mr_precheck_store(const char *path, int *nrec, mr_err *e);

/* Both, for a training run: load config_path, check the dataset, check the
 * store (NULL = none). */
int mr_precheck_train(const char *config_path, const char *data_dir, const char *store, mr_err *e);
/* the same with config overrides (mr_config_load_set) */
int mr_precheck_train_set(const char *config_path, const char *const *sets, int nsets, const char *data_dir,
                          const char *store, mr_err *e);

#endif
