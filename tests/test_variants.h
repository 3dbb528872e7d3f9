/*
 * test_variants.h — the per-kind case runners of the variant table
 * (tests/test_variants.c). Each takes a registered descriptor (the
 * registry's impl pointer) and fails the running test on a miss.
 *
 * defines: tv_case_fn, tv_roi_gradcheck, tv_roi_determinism, tv_roi_bad_input,
 *          tv_mask_loss_gradcheck, tv_mask_head_gradcheck, tv_mask_head_determinism,
 *          tv_mask_head_bad_input
 */
#ifndef MR_TEST_VARIANTS_H
#define MR_TEST_VARIANTS_H

typedef void (*tv_case_fn)(const void *impl);

/* tests/test_roi.c */
void tv_roi_gradcheck(const void *impl);
void tv_roi_determinism(const void *impl);
void tv_roi_bad_input(const void *impl);
/* tests/test_heads.c */
void tv_mask_loss_gradcheck(const void *impl);
void tv_mask_head_gradcheck(const void *impl);
void tv_mask_head_determinism(const void *impl);
void tv_mask_head_bad_input(const void *impl);

#endif
