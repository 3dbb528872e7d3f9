/*
 * test_detector.h — helpers shared by the detector, config and train test
 * groups: a tiny in-memory detection batch (coloured rectangles of two
 * classes on a noisy background, generated from a seed) and a tiny detector
 * spec, so the core detector can be tested without the datasets module.
 *
 * defines: td_batch, td_batch_make, td_batch_free, td_spec_tiny, td_threads,
 *          td_write_dataset
 */
#ifndef MR_TEST_DETECTOR_H
#define MR_TEST_DETECTOR_H

#include "core/batch.h"
#include "core/detector.h"

typedef struct td_batch {
    mr_batch b;
    mr_batch_image img[8];
    float boxes[8][16];
    int labels[8][4];
    unsigned char crowd[8][4];
} td_batch;

/* n images of S x S (S a multiple of 32), 1-3 objects each, from seed */
void td_batch_make(td_batch *t, int n, int S, unsigned seed);
void td_batch_free(td_batch *t);
/* Write a COCO-format dataset of the same kind of images into dir:
 * train.json, val.json and PNGs (S x S). Returns 0 on success. */
int td_write_dataset(const char *dir, int ntrain, int nval, int S, unsigned seed);
/* set the OpenMP and OpenBLAS thread counts; returns the previous OpenMP
 * count (tests run single-threaded: on a busy 2-core machine OpenMP's
 * spinning barriers make multi-threaded tiny steps 30x slower) */
int td_threads(int n);
/* depth-10, width-1/8, GroupNorm, 2 classes, small anchors for S-pixel images */
mr_detector_spec td_spec_tiny(const char *tap, const char *roi);

#endif
