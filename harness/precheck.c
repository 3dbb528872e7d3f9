/*
 * precheck.c — a training run's config, dataset and results store checked
 * against each other before training (see precheck.h).
 */
#include "harness/precheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "coco/coco.h"
#include "harness/store.h"

/* does annotation a have a segmentation a mask can be made from? */
static int has_segmentation(const mr_coco_ann *a)
{
    if (mr_coco_ann_seg_kind(a) == MR_SEG_RLE) return 1;
    return mr_coco_ann_seg_kind(a) == MR_SEG_POLY && a->seg->npoly > 0;
}

/* one split: name is "train" or "val" */
static int check_split(const mr_config *c, const char *label, const char *data_dir, const char *name,
                       mr_err *e)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.json", data_dir, name);
    mr_coco co;
    mr_coco_init(&co);
    int rc = mr_coco_load(&co, path, e);
    if (rc) return rc;
    if (c->kp_on) {
        long kc = -1;
        for (size_t k = 0; k < co.num_cats && kc < 0; k++)
            if (co.cats[k].num_keypoints > 0) kc = (long)k;
        if (kc < 0) {
            rc = mr_errf(e, MR_EUSER, "%s: field heads.keypoints: on, but %s has no category with keypoints "
                         "(a category's \"keypoints\" list of names); turn heads.keypoints off or use a "
                         "dataset with keypoints", label, path);
            goto done;
        }
        size_t labelled = 0;
        for (size_t i = 0; i < co.num_anns && !labelled; i++) {
            const mr_coco_ann *a = &co.anns[i];
            if (a->category_index != kc || !a->keypoints) continue;
            for (int q = 0; q < a->num_kpt; q++)
                if (a->keypoints[3 * q + 2] > 0) { labelled++; break; }
        }
        if (!labelled && !strcmp(name, "train")) {
            rc = mr_errf(e, MR_EUSER, "%s: field heads.keypoints: on, but no annotation of category %lld (\"%s\") "
                         "in %s has a labelled keypoint (v > 0): nothing to train the keypoint head on",
                         label, (long long)co.cats[kc].id, co.cats[kc].name, path);
            goto done;
        }
    }
    if (c->mask_on) {
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < co.num_anns; i++) {
            const mr_coco_ann *a = &co.anns[i];
            if (!(a->bbox[2] > 0.0 && a->bbox[3] > 0.0)) continue;  /* not used for training */
            if (has_segmentation(a)) continue;
            if (!bad) first = i;
            bad++;
        }
        if (bad) {
            rc = mr_errf(e, MR_EUSER, "%s: field heads.mask: on, but %s: annotations[%zu] (id %lld) has no "
                         "segmentation (polygons or RLE); %zu of its %zu annotations lack one. Masks are not "
                         "made from boxes: turn heads.mask off or add segmentations",
                         label, path, first, (long long)co.anns[first].id, bad, co.num_anns);
            goto done;
        }
    }
done:
    mr_coco_free(&co);
    return rc;
}

int mr_precheck_dataset(const mr_config *c, const char *label, const char *data_dir, mr_err *e)
{
    if (!c->kp_on && !c->mask_on) return MR_OK;
    int rc = check_split(c, label, data_dir, "train", e);
    if (!rc) rc = check_split(c, label, data_dir, "val", e);
    return rc;
}

int mr_precheck_store(const char *path, int *nrec, mr_err *e)
{
    if (nrec) *nrec = 0;
    if (!path || !mr_file_exists(path)) return MR_OK;
    mr_store s;
    int rc = mr_store_load(path, &s, e);
    if (rc) return mr_err_prefix(e, "the results store (records are only appended: repair or remove the "
                                 "line named, nothing is skipped)");
    if (nrec) *nrec = s.n;
    mr_store_free(&s);
    return MR_OK;
}

int mr_precheck_train(const char *config_path, const char *data_dir, const char *store, mr_err *e)
{
    return mr_precheck_train_set(config_path, NULL, 0, data_dir, store, e);
}

int mr_precheck_train_set(const char *config_path, const char *const *sets, int nsets, const char *data_dir,
                          const char *store, mr_err *e)
{
    mr_config *c = calloc(1, sizeof *c);
    if (!c) return mr_errf(e, MR_ENOMEM, "out of memory");
    int rc = mr_config_load_set(c, config_path, sets, nsets, e);
    /* the starting weights are there (read, and checked, when training starts) */
    if (!rc && c->init_weights[0] && !mr_file_exists(c->init_weights))
        rc = mr_errf(e, MR_EUSER, "%s: field init.weights: %s: no such file (the weights to start from: "
                     "--init or the config's init.weights)", config_path, c->init_weights);
    if (!rc) rc = mr_precheck_dataset(c, config_path, data_dir, e);
    free(c);
    if (!rc) rc = mr_precheck_store(store, NULL, e);
    return rc;
}
