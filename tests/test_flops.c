/*
 * test_flops.c — `mrcnn flops` and harness/flops.h (group `flops`): the
 * counts of torchvision's R-50-FPN Mask R-CNN and Keypoint R-CNN at 800 x
 * 1088 with 1000 box-head RoIs and 100 detections against torchvision's own
 * layers (forward hooks on every Conv2d / Linear / ConvTranspose2d of
 * maskrcnn_resnet50_fpn and keypointrcnn_resnet50_fpn on an 800 x 1088
 * image with 100 detections, torch 1.13 / torchvision 0.14, counted by
 * /usr/bin/python3: conv 211.290790144, linear 14.359552, deconv 5.1380224,
 * total 230.788364544 GMACs; keypoint model 526.672140544 GMACs; parameters
 * 44454513 and 59190378, of which 53120 are the BatchNorm2d affines that
 * torchvision builds without pretrained backbone weights and mrcnn counts as
 * norm tensors), other taps, and bad inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "harness/flops.h"
#include "tests/test_util.h"
#include "variants/config.h"

static void near(const char *what, double got, double want, double rel)
{
    print_message("  %s: %.6f (torchvision %.6f)\n", what, got, want);
    assert_true(fabs(got - want) <= rel * fabs(want));
}

static void test_flops_torchvision(void **state)
{
    (void)state;
    mr_config c;
    mr_err e;
    mr_flops f;
    assert_int_equal(mr_config_load(&c, "variants/configs/tv_maskrcnn_r50_fpn.json", &e), MR_OK);
    int rc = mr_flops_count(&c, 800, 1088, 0, 100, &f, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_int_equal(f.rois, 1000);
    assert_int_equal(f.num_classes, 90);
    near("mask model GMACs", f.macs * 1e-9, 230.788364544, 0.005);
    near("conv GMACs", f.macs_type[MR_FLOPS_CONV] * 1e-9, 211.290790144, 0.005);
    near("linear GMACs", f.macs_type[MR_FLOPS_LINEAR] * 1e-9, 14.359552, 0.005);
    near("deconv GMACs", f.macs_type[MR_FLOPS_DECONV] * 1e-9, 5.1380224, 0.005);
    assert_true(f.params == 44454513.0 - 53120.0);
    assert_true(f.norm_params == 2 * 53120.0);   /* weight, bias, running mean and variance of 26560 channels */
    /* the stages add up, the mask head holds the only deconv, and the box
     * head all of the linear layers */
    double sum = 0;
    for (int s = 0; s < MR_FLOPS_NSTAGES; s++) sum += f.st[s].macs[0] + f.st[s].macs[1] + f.st[s].macs[2];
    assert_true(fabs(sum - f.macs) <= 1e-9 * f.macs);
    assert_string_equal(f.st[4].name, "mask_head");
    assert_true(f.st[4].macs[MR_FLOPS_DECONV] == f.macs_type[MR_FLOPS_DECONV]);
    assert_true(f.st[3].macs[MR_FLOPS_LINEAR] == f.macs_type[MR_FLOPS_LINEAR]);
    assert_true(f.st[5].macs[0] + f.st[5].params == 0);
    /* linear in the detections: 50 detections halve the mask head */
    mr_flops h;
    assert_int_equal(mr_flops_count(&c, 800, 1088, 0, 50, &h, &e), MR_OK);
    assert_true(fabs(2 * (h.st[4].macs[0] + h.st[4].macs[2]) - (f.st[4].macs[0] + f.st[4].macs[2])) < 1);
    assert_true(h.st[0].macs[0] == f.st[0].macs[0]);
    /* a size that is not a multiple of 32 is padded as the loader pads it */
    assert_int_equal(mr_flops_count(&c, 800, 1067, 0, 100, &h, &e), MR_OK);
    assert_int_equal(h.W, 1088);
    assert_true(h.macs == f.macs);
    /* the keypoint model */
    assert_int_equal(mr_config_load(&c, "variants/configs/tv_keypointrcnn_r50_fpn.json", &e), MR_OK);
    assert_int_equal(mr_flops_count(&c, 800, 1088, 0, 100, &f, &e), MR_OK);
    near("keypoint model GMACs", f.macs * 1e-9, 526.672140544, 0.005);
    assert_true(f.params == 59190378.0 - 53120.0);
}

/* every tap and head kind counts without error, each stage it has non-zero */
static void test_flops_taps(void **state)
{
    (void)state;
    static const char *const cfgs[] = {"variants/configs/bench_c4.json", "variants/configs/bench_c5.json",
                                       "variants/configs/ablations/2d/roialign_dc5.json",
                                       "variants/configs/ablations/2e/mlp.json", "variants/configs/ablations/2e/fcn_resize.json",
                                       "variants/configs/ablations/2c/_base.json", "variants/configs/bench_fpn_kp.json"};
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        mr_config c;
        mr_err e;
        mr_flops f;
        assert_int_equal(mr_config_load(&c, cfgs[i], &e), MR_OK);
        int rc = mr_flops_count(&c, 256, 256, 0, 10, &f, &e);
        if (rc) print_error("%s: %s\n", cfgs[i], e.msg);
        assert_int_equal(rc, MR_OK);
        print_message("  %s: %.3f GMACs, %.0f parameters\n", cfgs[i], f.macs * 1e-9, f.params);
        assert_true(f.st[0].macs[0] > 0 && f.st[2].macs[0] > 0 && f.st[3].params > 0);
        assert_true((f.st[4].macs[0] + f.st[4].macs[1] + f.st[4].macs[2] > 0) == c.mask_on);
        assert_true((f.st[5].macs[0] > 0) == c.kp_on);
        assert_true((f.st[1].params > 0) == !strcmp(c.tap, "fpn"));
    }
}

static void test_flops_cli(void **state)
{
    (void)state;
    char cmd[8192], out[8192];
    char *dir = tu_tmpdir("flops");
    snprintf(cmd, sizeof cmd, "%s flops --config variants/configs/tv_maskrcnn_r50_fpn.json --size 800x1088 "
             "--dets 100 --json %s/f.json", tu_bin(), dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "total"));
    assert_non_null(strstr(out, "230.788"));
    snprintf(cmd, sizeof cmd, "%s/f.json", dir);
    assert_true(tu_file_contains(cmd, "\"gflops\""));
    /* bad inputs: usage errors (2) name the option; a config that is not there (1) names the file */
    static const char *const bad[][2] = {
        {"--config variants/configs/tv_maskrcnn_r50_fpn.json --size 800", "--size '800'"},
        {"--config variants/configs/tv_maskrcnn_r50_fpn.json --size 0x10", "--size '0x10'"},
        {"--config variants/configs/tv_maskrcnn_r50_fpn.json --size 800x1088x3", "--size '800x1088x3'"},
        {"--config variants/configs/tv_maskrcnn_r50_fpn.json --size axb", "--size 'axb'"},
        {"--config variants/configs/tv_maskrcnn_r50_fpn.json --dets -1", "dets"},
        {"--size 800x1088", "--config is required"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s flops %s", tu_bin(), bad[i][0]);
        assert_int_equal(tu_run(cmd, out, sizeof out), 2);
        if (!strstr(out, bad[i][1])) print_error("%s: %s\n", bad[i][0], out);
        assert_non_null(strstr(out, bad[i][1]));
    }
    /* --json where it cannot be written: the path named, exit 1 */
    snprintf(cmd, sizeof cmd, "%s flops --config variants/configs/tiny_fpn.json --json %s/nodir/o.json", tu_bin(), dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    if (!strstr(out, "/nodir/o.json: cannot create (temporary ")) print_error("%s\n", out);
    assert_non_null(strstr(out, "/nodir/o.json: cannot create (temporary "));
    assert_non_null(strstr(out, "/nodir does not exist)"));
    /* one class: singular */
    snprintf(cmd, sizeof cmd, "%s flops --config variants/configs/tv_keypointrcnn_r50_fpn.json", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "100 detections, 1 class\n"));
    snprintf(cmd, sizeof cmd, "%s flops --config %s/none.json", tu_bin(), dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "none.json"));
    /* a size the network cannot take: a user error naming it */
    snprintf(cmd, sizeof cmd, "%s flops --config variants/configs/tv_maskrcnn_r50_fpn.json --size 8x8", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "8x8"));
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    tu_run(cmd, NULL, 0);
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_flops_torchvision),
    cmocka_unit_test(test_flops_taps),
    cmocka_unit_test(test_flops_cli),
};

size_t tests_flops(const struct CMUnitTest **out)
{
    *out = tests;
    return sizeof tests / sizeof tests[0];
}
