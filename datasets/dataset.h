/*
 * dataset.h — a COCO-format dataset (instances or person-keypoints JSON plus
 * an image folder) ready for training: the file is parsed by coco/coco.h,
 * then checked and indexed here.
 *
 * Promises:
 * - Category ids are mapped to contiguous labels 1..K in increasing id order
 *   (0 is background), and back (mr_dataset_cat_of_label) for results files.
 * - Crowd regions are kept, flagged (iscrowd), as the detector ignores them.
 * - Errors (MR_EUSER) name the file, the record (images[i] / annotations[i]
 *   with its id) and the field: image files that do not exist, polygons with
 *   fewer than 3 points, keypoint arrays whose length differs from the
 *   category's keypoint names, boxes outside the image (by more than
 *   1 px). Unknown image/category references are rejected by coco/coco.h.
 * - As COCO's own data has them, degenerate boxes (width or height <= 0)
 *   and non-crowd annotations with zero area are skipped and counted
 *   (skipped_degenerate, skipped_zero_area), never fatal.
 * - Keypoints: the (first) category with keypoint names gives nkp and the
 *   horizontal-flip map, derived from the names (left_X <-> right_X).
 *
 * defines: mr_dataset, mr_dataset_img, mr_dataset_inst, mr_dataset_load,
 *          mr_dataset_free, mr_dataset_cat_of_label, mr_dataset_label_of_cat,
 *          mr_dataset_image_path, mr_dataset_load_image, mr_dataset_check_image,
 *          mr_dataset_inst_rle,
 *          mr_keypoint_flip_map, MR_DATASET_MAX_KP
 */
#ifndef MR_DATASET_H
#define MR_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include "core/err.h"
#include "datasets/image.h"
#include "coco/coco.h"
#include "coco/rle.h"

#define MR_DATASET_MAX_KP 64

typedef struct mr_dataset_inst {
    size_t ann;           /* index into coco.anns */
    float box[4];         /* x1, y1, x2, y2 in original image coordinates */
    int label;            /* 1..K */
    uint8_t iscrowd;
    uint8_t has_mask;     /* a segmentation is present */
} mr_dataset_inst;

typedef struct mr_dataset_img {
    int64_t id;
    int width, height;    /* from the JSON (checked against the file on load) */
    const char *file_name;
    int first, ninst;     /* its kept instances: inst[first .. first + ninst) */
} mr_dataset_img;

typedef struct mr_dataset {
    mr_coco coco;
    char *json_path, *image_dir;
    int num_classes;              /* K */
    int64_t *cat_of_label;        /* K + 1 entries; [0] = 0 */
    int nimg;
    mr_dataset_img *img;
    int ninst;
    mr_dataset_inst *inst;
    int nkp;                      /* keypoints per instance (0: none) */
    int kp_label;                 /* label of the keypointed category, 0 if none */
    int flip_map[MR_DATASET_MAX_KP];
    float *kps;                   /* ninst x nkp x 3 (x, y, v), original coords;
                                     all zero for instances without keypoints */
    long skipped_degenerate, skipped_zero_area, num_crowd;
} mr_dataset;

/* Load json_path; images are looked up as IMAGE_DIR/file_name, where
 * image_dir NULL means: the JSON's folder, else its images/ subfolder
 * (decided per dataset from the first image). check_files: verify that
 * every image file exists (error naming the first missing one). */
int mr_dataset_load(mr_dataset *d, const char *json_path, const char *image_dir, int check_files,
                    mr_err *e);
void mr_dataset_free(mr_dataset *d);

/* label 1..K -> category id (-1 when out of range); category id -> label
 * (-1 when unknown). */
int64_t mr_dataset_cat_of_label(const mr_dataset *d, int label);
int mr_dataset_label_of_cat(const mr_dataset *d, int64_t cat_id);

/* path of image i into buf */
const char *mr_dataset_image_path(const mr_dataset *d, int i, char *buf, size_t n);
/* decode image i; its size must match the JSON (error naming both) */
int mr_dataset_load_image(const mr_dataset *d, int i, mr_image *im, mr_err *e);
/* check image i without decoding it: the file exists, its header is a
 * JPEG or PNG that stb_image reads, and its size matches the JSON (errors
 * as mr_dataset_load_image's). A truncated body is found only on decode. */
int mr_dataset_check_image(const mr_dataset *d, int i, mr_err *e);
/* the full-image mask of kept instance k (pycocotools annToRLE) */
int mr_dataset_inst_rle(const mr_dataset *d, int k, mr_rle *out, mr_err *e);

/* map[q] = index of the keypoint named with left_/right_ swapped, q itself
 * when the name has no side or no partner. names may be NULL (identity). */
void mr_keypoint_flip_map(const char *const *names, int n, int *map);

#endif
