/*
 * test_harness.h — helpers and test lists shared by the harness and plot
 * test files (tests/test_harness*.c, tests/test_plot*.c).
 *
 * defines: th_write, th_make_run, th_store_tests, th_store_ntests,
 *          th_ablate_tests, th_ablate_ntests, th_compare_tests, th_compare_ntests,
 *          th_regress_tests, th_regress_ntests, th_precheck_tests, th_precheck_ntests,
 *          th_faults_tests, th_faults_ntests
 */
#ifndef MR_TEST_HARNESS_H
#define MR_TEST_HARNESS_H

#include <stddef.h>

struct CMUnitTest;

/* write text to path (test fails if it cannot) */
void th_write(const char *path, const char *text);
/* a complete fake run directory: config.json, metrics.json (bbox and segm
 * EVAL blocks with AP = ap_*), speed.json (when fps > 0), train_log.jsonl */
void th_make_run(const char *dir, const char *name, long seed, double ap_segm, double ap_bbox,
                 double fps);

extern const struct CMUnitTest th_store_tests[];
extern const size_t th_store_ntests;
extern const struct CMUnitTest th_ablate_tests[];
extern const size_t th_ablate_ntests;
extern const struct CMUnitTest th_compare_tests[];
extern const size_t th_compare_ntests;
extern const struct CMUnitTest th_regress_tests[];
extern const size_t th_regress_ntests;
extern const struct CMUnitTest th_faults_tests[];
extern const size_t th_faults_ntests;
extern const struct CMUnitTest th_precheck_tests[];
extern const size_t th_precheck_ntests;

#endif
