/*
 * test_config.c — the config group: the shipped configs load, `base`
 * inheritance merges deeply and states only differences, the resolved
 * config round-trips, an empty config takes the documented defaults, the
 * MLP mask head's depth (heads.mask_mlp_layers), and bad configs (unknown
 * variant names, mistyped and unknown fields, values of the wrong type or
 * range, a missing base, a base cycle) fail naming the file and the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <ftw.h>
#include <unistd.h>

#include "core/detector.h"
#include "core/json.h"
#include "tests/test_util.h"
#include "variants/config.h"
#include "variants/registry.h"

static void write_file(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* load dir/name expecting failure whose message contains want */
static void expect_fail(const char *dir, const char *name, const char *text, const char *want)
{
    write_file(dir, name, text);
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    mr_config c;
    mr_err e;
    mr_err_clear(&e);
    int rc = mr_config_load(&c, p, &e);
    if (rc == MR_OK || !strstr(e.msg, want) || !strstr(e.msg, name))
        print_error("%s: rc %d, message '%s', wanted '%s' and the file named\n", name, rc, e.msg, want);
    assert_int_not_equal(rc, MR_OK);
    assert_non_null(strstr(e.msg, want));
    assert_non_null(strstr(e.msg, name));   /* every message names the config file */
}

/* every config file shipped under variants/configs (top level, ablation
 * rows, demo rows) loads and validates: a renamed field or a broken base
 * chain in a row that no test trains is caught here */
static int every_cfg_n, every_cfg_bad;
static int every_cfg_visit(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)ftw;
    size_t l = strlen(path);
    if (flag != FTW_F || l < 5 || strcmp(path + l - 5, ".json")) return 0;
    mr_config c;
    mr_err e;
    every_cfg_n++;
    if (mr_config_load(&c, path, &e)) {
        print_error("%s: %s\n", path, e.msg);
        every_cfg_bad++;
    }
    return 0;
}

static void test_every_shipped_config(void **st)
{
    (void)st;
    every_cfg_n = every_cfg_bad = 0;
    assert_int_equal(nftw("variants/configs", every_cfg_visit, 16, FTW_PHYS), 0);
    assert_true(every_cfg_n >= 30);
    assert_int_equal(every_cfg_bad, 0);
    /* the upsampled C4 / C5 calibration configs change the input only */
    mr_config a, b;
    mr_err e;
    assert_int_equal(mr_config_load(&a, "variants/configs/bench_c4_256.json", &e), MR_OK);
    assert_int_equal(mr_config_load(&b, "variants/configs/bench_c4.json", &e), MR_OK);
    assert_int_equal(a.min_size, 256);
    assert_int_equal(a.max_size, 256);
    assert_int_equal(a.spec.box.batch_per_image, b.spec.box.batch_per_image);
    assert_string_equal(a.tap, b.tap);
}

static void test_shipped_configs(void **st)
{
    (void)st;
    const char *names[] = {"tiny_fpn", "bench_fpn", "bench_c4", "bench_c5"};
    for (int i = 0; i < 4; i++) {
        char p[256];
        snprintf(p, sizeof p, "variants/configs/%s.json", names[i]);
        mr_config c;
        mr_err e;
        int rc = mr_config_load(&c, p, &e);
        if (rc) print_error("%s: %s\n", p, e.msg);
        assert_int_equal(rc, MR_OK);
        assert_string_equal(c.name, names[i]);
    }
    mr_config c;
    mr_err e;
    assert_int_equal(mr_config_load(&c, "variants/configs/bench_c4.json", &e), MR_OK);
    assert_string_equal(c.tap, "c4");
    assert_string_equal(c.spec.tap->name, "c4");
    assert_int_equal(c.spec.roi_params.pooled_h, 14);   /* overridden */
    assert_int_equal(c.min_size, 128);                  /* inherited */
    assert_int_equal(c.spec.backbone.depth, 18);        /* inherited */
    assert_int_equal(c.spec.rpn.sizes_per_level, 5);
    /* C4 samples fewer RoIs per image than FPN (paper: 64 vs 512) */
    mr_config f;
    assert_int_equal(mr_config_load(&f, "variants/configs/bench_fpn.json", &e), MR_OK);
    assert_true(c.spec.box.batch_per_image < f.spec.box.batch_per_image);
}

static void test_base_deep_merge_and_roundtrip(void **st)
{
    (void)st;
    char *dir = tu_tmpdir("config");
    assert_non_null(dir);
    write_file(dir, "base.json",
               "{\"tap\": \"fpn\", \"backbone\": {\"depth\": 18, \"width\": 0.5, \"norm\": \"gn\"},"
               " \"schedule\": {\"iters\": 100, \"lr\": 0.01, \"steps\": [50]}}");
    write_file(dir, "row.json",
               "{\"base\": \"base.json\", \"name\": \"row\", \"backbone\": {\"width\": 0.25},"
               " \"roi\": {\"extractor\": \"roipool\"}}");
    char p[512];
    snprintf(p, sizeof p, "%s/row.json", dir);
    mr_config c, c2;
    mr_err e;
    int rc = mr_config_load(&c, p, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_int_equal(c.spec.backbone.depth, 18);
    assert_true(c.spec.backbone.width == 0.25f);
    assert_ptr_equal(c.spec.backbone.norm, mr_registry_norm("gn", &e));
    assert_string_equal(c.roi, "roipool");
    assert_string_equal(c.agg, "max");
    assert_int_equal(c.sched.iters, 100);
    assert_int_equal(c.sched.nsteps, 1);
    /* resolved config: no base, every field, parses to the same thing */
    snprintf(p, sizeof p, "%s/resolved.json", dir);
    assert_int_equal(mr_config_write(&c, p, &e), MR_OK);
    assert_false(tu_file_contains(p, "\"base\""));
    assert_int_equal(mr_config_load(&c2, p, &e), MR_OK);
    cJSON *a = mr_config_to_json(&c), *b = mr_config_to_json(&c2);
    char *sa = cJSON_PrintUnformatted(a), *sb = cJSON_PrintUnformatted(b);
    assert_string_equal(sa, sb);
    free(sa); free(sb);
    cJSON_Delete(a); cJSON_Delete(b);
    char f1[32], f2[32];
    mr_config_fingerprint(&c, f1, sizeof f1);
    c2.spec.backbone.depth = 34;
    mr_config_fingerprint(&c2, f2, sizeof f2);
    assert_string_not_equal(f1, f2);
    free(dir);
}

/* a resolved config must parse again: short runs (mrcnn train --iters 2,
 * a config of 1-3 iterations without steps) used to write steps such as
 * [1, 1] or [0, 0] that the parser then refused for resume and inference */
static void reparses(const mr_config *c, const char *dir)
{
    char p[512];
    mr_config c2;
    mr_err e;
    snprintf(p, sizeof p, "%s/resolved.json", dir);
    assert_int_equal(mr_config_write(c, p, &e), MR_OK);
    int rc = mr_config_load(&c2, p, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_int_equal(c2.sched.nsteps, c->sched.nsteps);
    for (int i = 0; i < c->sched.nsteps; i++) assert_int_equal(c2.sched.steps[i], c->sched.steps[i]);
}

static void test_short_schedules(void **st)
{
    (void)st;
    char *dir = tu_tmpdir("config");
    assert_non_null(dir);
    char p[512];
    mr_config c;
    mr_err e;
    write_file(dir, "run.json", "{\"schedule\": {\"iters\": 1800, \"warmup_iters\": 500, \"steps\": [1000, 1500, 1600]}}");
    snprintf(p, sizeof p, "%s/run.json", dir);
    for (long iters = 1; iters <= 3; iters++) {
        assert_int_equal(mr_config_load(&c, p, &e), MR_OK);
        mr_schedule_scale(&c.sched, iters);
        assert_int_equal(c.sched.iters, iters);
        assert_int_equal(c.sched.warmup_iters, iters / 2);
        assert_int_equal(c.sched.steps[0], 1);
        assert_int_equal(c.sched.steps[1], 2);
        assert_int_equal(c.sched.steps[2], 3);
        reparses(&c, dir);
    }
    /* scaling that keeps the steps apart is plain scaling */
    assert_int_equal(mr_config_load(&c, p, &e), MR_OK);
    mr_schedule_scale(&c.sched, 900);
    assert_int_equal(c.sched.steps[0], 500);
    assert_int_equal(c.sched.steps[1], 750);
    assert_int_equal(c.sched.steps[2], 800);
    assert_int_equal(c.sched.warmup_iters, 450);
    /* default steps (2/3 and 8/9 of the run) of a very short run */
    for (int iters = 1; iters <= 3; iters++) {
        char txt[128];
        snprintf(txt, sizeof txt, "{\"schedule\": {\"iters\": %d}}", iters);
        write_file(dir, "short.json", txt);
        snprintf(p, sizeof p, "%s/short.json", dir);
        assert_int_equal(mr_config_load(&c, p, &e), MR_OK);
        assert_true(c.sched.steps[0] >= 1 && c.sched.steps[1] > c.sched.steps[0]);
        reparses(&c, dir);
    }
    assert_int_equal(mr_config_load(&c, p, &e), MR_OK);
    free(dir);
}

/* a bad value inherited from a base config: the message names the base
 * file that set it as well as the config given */
static void test_base_blame(void **st)
{
    (void)st;
    char *dir = tu_tmpdir("config");
    assert_non_null(dir);
    write_file(dir, "base.json", "{\"roi\": {\"extractor\": \"roialgn\"}}");
    write_file(dir, "mid.json", "{\"base\": \"base.json\", \"schedule\": {\"lr\": 0.01}}");
    write_file(dir, "row.json", "{\"base\": \"mid.json\", \"schedule\": {\"lr\": -1}}");
    char p[512];
    mr_config c;
    mr_err e;
    snprintf(p, sizeof p, "%s/mid.json", dir);
    assert_int_equal(mr_config_load(&c, p, &e), MR_EUSER);
    if (!strstr(e.msg, "mid.json: field roi.extractor: unknown roi_extractor 'roialgn'") ||
        !strstr(e.msg, "(the value comes from its base ") || !strstr(e.msg, "/base.json)"))
        fail_msg("%s", e.msg);
    /* the row's own value: no base named */
    write_file(dir, "base.json", "{\"roi\": {\"extractor\": \"roialign\"}}");
    snprintf(p, sizeof p, "%s/row.json", dir);
    assert_int_equal(mr_config_load(&c, p, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "row.json: field schedule.lr"));
    assert_null(strstr(e.msg, "comes from"));
    free(dir);
}

/* every field is optional: an empty config is the paper's R-50-FPN
 * set-up with the documented defaults (config.h) */
static void test_empty_config_defaults(void **st)
{
    (void)st;
    char *dir = tu_tmpdir("config");
    assert_non_null(dir);
    write_file(dir, "empty.json", "{}");
    char p[512];
    snprintf(p, sizeof p, "%s/empty.json", dir);
    mr_config c;
    mr_err e;
    assert_int_equal(mr_config_load(&c, p, &e), MR_OK);
    assert_string_equal(c.name, "empty");
    assert_string_equal(c.tap, "fpn");
    assert_string_equal(c.roi, "roialign");
    assert_string_equal(c.norm, "frozen_bn");
    assert_string_equal(c.mask_head, "fcn");
    assert_int_equal(c.spec.backbone.depth, 50);
    assert_int_equal(c.min_size, 800);
    assert_int_equal(c.max_size, 1333);
    assert_int_equal(c.sched.iters, 90000);
    assert_int_equal(c.batch_size, 2);
    assert_int_equal(c.mask_on, 0);
    assert_int_equal(c.kp_on, 0);
    /* the fcn head's knobs at their defaults */
    assert_true(c.spec.mask_head == mr_registry_mask_head("fcn", &e));
    assert_int_equal(c.spec.mask_width, 256);
    assert_int_equal(c.spec.mask_knobs[mr_mask_head_knob_index(c.spec.mask_head, "mask_convs")], 4);
    assert_int_equal(c.spec.mask_knobs[mr_mask_head_knob_index(c.spec.mask_head, "mask_deconv_width")], 0);
    assert_int_equal((int)c.seed, 1);
    free(dir);
}

static void test_bad_configs(void **st)
{
    (void)st;
    char *dir = tu_tmpdir("config");
    assert_non_null(dir);
    /* the "known: ..." lists come from the registry, so a new variant needs no edit here */
    char names[512], want[640];
    snprintf(want, sizeof want, "field tap: unknown tap 'c6' (known: %s)",
             mr_registry_names(MR_VK_TAP, names, sizeof names));
    expect_fail(dir, "a.json", "{\"tap\": \"c6\"}", want);
    snprintf(want, sizeof want, "field roi.extractor: unknown roi_extractor 'roialgn' (known: %s)",
             mr_registry_names(MR_VK_ROI_EXTRACTOR, names, sizeof names));
    expect_fail(dir, "b.json", "{\"roi\": {\"extractor\": \"roialgn\"}}", want);
    expect_fail(dir, "c.json", "{\"schedule\": {\"lr\": \"fast\"}}", "lr");
    expect_fail(dir, "d.json", "{\"rpn\": {\"nms_thres\": 0.7}}", "nms_thres");
    expect_fail(dir, "e.json", "{\"base\": \"nothere.json\"}", "field base");
    expect_fail(dir, "f.json", "{\"base\": \"f.json\"}", "cycle");
    /* a cycle through two files: reported once, with the chain */
    write_file(dir, "f2.json", "{\"base\": \"f1.json\"}");
    expect_fail(dir, "f1.json", "{\"base\": \"f2.json\"}", "a cycle of base configs: ");
    {
        char p[512];
        snprintf(p, sizeof p, "%s/f1.json", dir);
        mr_config c;
        mr_err e;
        mr_err_clear(&e);
        assert_int_not_equal(mr_config_load(&c, p, &e), MR_OK);
        assert_non_null(strstr(e.msg, "f1.json -> "));
        assert_non_null(strstr(e.msg, "f2.json -> "));
        assert_true(strlen(e.msg) < 1000);   /* not the path again at every level */
    }
    expect_fail(dir, "g.json", "{\"backbone\": {\"depth\": 42}}", "depth");
    expect_fail(dir, "h.json", "{\"backbone\": {\"norm\": \"bn\"}}", "unknown norm 'bn'");
    expect_fail(dir, "i.json", "{\"roi\": {\"extractor\": \"roipool\", \"agg\": \"avg\"}}", "not supported");
    expect_fail(dir, "j.json", "{\"tap\": \"fpn\", \"anchors\": {\"sizes\": [32, 64]}}", "5 sizes");
    expect_fail(dir, "k.json", "{\"heads\": {\"mask_loss\": \"hinge\"}}", "unknown mask_loss 'hinge'");
    expect_fail(dir, "l.json", "{\"schedule\": {\"steps\": [100, 50]}}", "steps[1]");
    expect_fail(dir, "m.json", "{\"seed\": 1,", "invalid JSON");
    expect_fail(dir, "n.json", "[1, 2]", "expected a JSON object");
    expect_fail(dir, "o.json", "{\"tap\": \"c4\", \"roi\": {\"pooled\": 7}, \"input\": {\"size_divisibility\": 8}}",
                "size_divisibility");
    expect_fail(dir, "p.json", "{\"tap\": \"c4\", \"roi\": {\"pooled\": 14}, \"heads\": {\"keypoints\": true}}",
                "field keypoints: the keypoint branch is not available with the c4 tap");
    expect_fail(dir, "q.json", "{\"heads\": {\"mask_head\": \"unet\"}}", "unknown mask_head 'unet' (known: fcn, mlp, fcn_resize)");
    /* mistyped: a misspelt top-level section, a section of the wrong type,
     * a value of the wrong type, a float where an integer is expected */
    expect_fail(dir, "r.json", "{\"shedule\": {\"iters\": 10}}", "shedule");
    expect_fail(dir, "s.json", "{\"heads\": 3}", "field heads: expected an object, got number");
    expect_fail(dir, "t.json", "{\"heads\": {\"mask\": 1}}", "field heads.mask: expected true or false");
    expect_fail(dir, "u.json", "{\"schedule\": {\"iters\": 1.5}}", "field schedule.iters: expected an integer, got 1.5");
    expect_fail(dir, "v.json", "{\"input\": {\"min_size\": 800, \"max_size\": 600}}", "field max_size: 600 is below min_size 800");
    expect_fail(dir, "w.json", "{\"roi\": {\"extractor\": 3}}", "roi.extractor");
    expect_fail(dir, "x.json", "{\"seed\": -1}", "field seed: expected >= 0");
    expect_fail(dir, "y.json", "{\"num_classes\": \"7\"}", "num_classes");
    expect_fail(dir, "z.json", "{\"input\": {\"resize\": \"pillow\"}}",
                "field resize: 'pillow': expected \"mrcnn\" or \"torchvision\"");
    expect_fail(dir, "z2.json", "{\"input\": {\"resize\": 1}}", "resize");
    free(dir);
}

/* input.resize: mrcnn's by default (and then absent from the resolved form,
 * so that no other config's record changes); the torchvision configs set it,
 * and it survives the round trip through the resolved form */
static void test_input_resize(void **st)
{
    (void)st;
    mr_config c, c2;
    mr_err e;
    assert_int_equal(mr_config_load(&c, "variants/configs/coco_r50_fpn_1x.json", &e), MR_OK);
    assert_int_equal(c.resize, MR_RESIZE_MRCNN);
    cJSON *j = mr_config_to_json(&c);
    assert_null(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "input"), "resize"));
    cJSON_Delete(j);
    static const char *const tv[] = {"variants/configs/tv_maskrcnn_r50_fpn.json",
                                     "variants/configs/tv_keypointrcnn_r50_fpn.json"};
    for (int i = 0; i < 2; i++) {
        int rc = mr_config_load(&c, tv[i], &e);
        if (rc) print_error("%s\n", e.msg);
        assert_int_equal(rc, MR_OK);
        assert_int_equal(c.resize, MR_RESIZE_TORCHVISION);
        assert_int_equal(c.min_size, 800);
        assert_int_equal(c.max_size, 1333);
        assert_int_equal(c.spec.backbone.depth, 50);
        assert_int_equal(c.mask_on, i == 0);
        assert_int_equal(c.kp_on, i == 1);
        j = mr_config_to_json(&c);
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "input"), "resize");
        assert_true(cJSON_IsString(r));
        assert_string_equal(r->valuestring, "torchvision");
        assert_int_equal(mr_config_parse(&c2, j, "resolved", &e), MR_OK);
        assert_int_equal(c2.resize, MR_RESIZE_TORCHVISION);
        cJSON_Delete(j);
    }
}

/* heads.mask_mlp_layers: the MLP mask head's depth (Table 2e's mlp and
 * mlp3 rows), in the spec, the resolved form, the fingerprint and the
 * detector's parameters; refused out of range and with the fcn head */
static void test_mask_mlp_layers(void **st)
{
    (void)st;
    mr_config c2, c3, cf;
    mr_err e;
    int rc = mr_config_load(&c2, "variants/configs/ablations/2e/mlp.json", &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_int_equal(mr_config_load(&c3, "variants/configs/ablations/2e/mlp3.json", &e), MR_OK);
    assert_int_equal(mr_config_load(&cf, "variants/configs/ablations/2e/fcn.json", &e), MR_OK);
    const mr_mask_head *mlp = mr_registry_mask_head("mlp", &e);
    int L = mr_mask_head_knob_index(mlp, "mask_mlp_layers");
    assert_true(L >= 0);
    assert_true(c2.spec.mask_head == mlp);
    assert_int_equal(c2.spec.mask_knobs[L], 2);
    assert_int_equal(c3.spec.mask_knobs[L], 3);
    assert_int_equal(c3.spec.mask_width, c2.spec.mask_width);
    char f2[32], f3[32];
    mr_config_fingerprint(&c2, f2, sizeof f2);
    mr_config_fingerprint(&c3, f3, sizeof f3);
    assert_string_not_equal(f2, f3);
    /* resolved: the field appears for the mlp head only, and round-trips */
    cJSON *j3 = mr_config_to_json(&c3), *jf = mr_config_to_json(&cf);
    const cJSON *h3 = cJSON_GetObjectItem(j3, "heads"), *hf = cJSON_GetObjectItem(jf, "heads");
    assert_int_equal(cJSON_GetObjectItem(h3, "mask_mlp_layers")->valueint, 3);
    assert_null(cJSON_GetObjectItem(hf, "mask_mlp_layers"));
    mr_config back;
    assert_int_equal(mr_config_parse(&back, j3, "resolved", &e), MR_OK);
    assert_int_equal(back.spec.mask_knobs[L], 3);
    cJSON_Delete(j3);
    cJSON_Delete(jf);

    /* the detector builds the deeper head: fc3 between fc2 and the logits */
    char *dir = tu_tmpdir("config_mlp");
    assert_non_null(dir);
    char cwd[1024], text[2048], p[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(text, sizeof text,
             "{\"base\": \"%s/variants/configs/ablations/2e/mlp3.json\", \"num_classes\": 2,"
             " \"backbone\": {\"width\": 0.125, \"gn_groups\": 4}, \"fpn\": {\"channels\": 16},"
             " \"box_head\": {\"fc_dim\": 32}, \"heads\": {\"mask_width\": 8}}", cwd);
    write_file(dir, "small.json", text);
    snprintf(p, sizeof p, "%s/small.json", dir);
    mr_config cs;
    rc = mr_config_load(&cs, p, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    mr_detector *d = NULL;
    rc = mr_detector_create(&d, &cs.spec, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    int found = 0;
    for (int i = 0; i < d->params.n; i++) {
        const mr_param_desc *pd = &d->params.e[i].d;
        if (!strcmp(pd->name, "roi_heads.mask_head.fc3.weight")) {
            found = 1;
            assert_int_equal(pd->shape[0], 32);   /* 4 * mask_width */
            assert_int_equal(pd->shape[1], 32);
        }
        assert_null(strstr(pd->name, "mask_head.fc4"));
    }
    assert_true(found);
    mr_detector_free(d);

    /* bad values name the file and the field */
    expect_fail(dir, "r0.json", "{\"heads\": {\"mask_head\": \"mlp\", \"mask_mlp_layers\": 0}}",
                "r0.json: field heads.mask_mlp_layers: expected an integer in [1, 4], got 0");
    expect_fail(dir, "r5.json", "{\"heads\": {\"mask_head\": \"mlp\", \"mask_mlp_layers\": 5}}",
                "field heads.mask_mlp_layers");
    expect_fail(dir, "rs.json", "{\"heads\": {\"mask_head\": \"mlp\", \"mask_mlp_layers\": \"three\"}}",
                "field heads.mask_mlp_layers");
    expect_fail(dir, "rf.json", "{\"heads\": {\"mask_head\": \"fcn\", \"mask_mlp_layers\": 3}}",
                "rf.json: field heads.mask_mlp_layers: applies to mask_head \"mlp\" only, this config's mask_head is \"fcn\"");
    free(dir);
}

/* the generic knobs of the other heads: a knob at its default changes
 * neither the resolved form nor the fingerprint, one set does (both) and
 * round-trips; a knob of two heads names both when a third is chosen; out of
 * range names the file and the field */
static void test_mask_head_knobs(void **st)
{
    (void)st;
    char *dir = tu_tmpdir("config_knobs");
    assert_non_null(dir);
    mr_config a, b, r;
    mr_err e;
    char p[512], fa[32], fb[32];
    write_file(dir, "a.json", "{\"heads\": {\"mask\": true, \"mask_head\": \"fcn_resize\"}}");
    write_file(dir, "b.json", "{\"heads\": {\"mask\": true, \"mask_head\": \"fcn_resize\", \"mask_convs\": 2,"
                              " \"mask_up_width\": 64, \"mask_dilation\": 1}}");
    snprintf(p, sizeof p, "%s/a.json", dir);
    assert_int_equal(mr_config_load(&a, p, &e), MR_OK);
    snprintf(p, sizeof p, "%s/b.json", dir);
    int rc = mr_config_load(&b, p, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    const mr_mask_head *h = b.spec.mask_head;
    assert_string_equal(h->name, "fcn_resize");
    assert_int_equal(b.spec.mask_knobs[mr_mask_head_knob_index(h, "mask_convs")], 2);
    assert_int_equal(b.spec.mask_knobs[mr_mask_head_knob_index(h, "mask_up_width")], 64);
    mr_config_fingerprint(&a, fa, sizeof fa);
    mr_config_fingerprint(&b, fb, sizeof fb);
    assert_string_not_equal(fa, fb);
    cJSON *ja = mr_config_to_json(&a), *jb = mr_config_to_json(&b);
    const cJSON *ha = cJSON_GetObjectItem(ja, "heads"), *hb = cJSON_GetObjectItem(jb, "heads");
    assert_null(cJSON_GetObjectItem(ha, "mask_convs"));
    assert_null(cJSON_GetObjectItem(hb, "mask_dilation"));   /* at its default */
    assert_int_equal(cJSON_GetObjectItem(hb, "mask_convs")->valueint, 2);
    assert_int_equal(mr_config_parse(&r, jb, "resolved", &e), MR_OK);
    assert_memory_equal(r.spec.mask_knobs, b.spec.mask_knobs, sizeof r.spec.mask_knobs);
    cJSON_Delete(ja);
    cJSON_Delete(jb);
    expect_fail(dir, "m.json", "{\"heads\": {\"mask_head\": \"mlp\", \"mask_convs\": 2}}",
                "m.json: field heads.mask_convs: applies to mask_head \"fcn\", \"fcn_resize\" only, this config's "
                "mask_head is \"mlp\"");
    expect_fail(dir, "u.json", "{\"heads\": {\"mask_up_width\": 8}}",
                "u.json: field heads.mask_up_width: applies to mask_head \"fcn_resize\" only");
    expect_fail(dir, "c.json", "{\"heads\": {\"mask_head\": \"fcn_resize\", \"mask_convs\": 9}}",
                "c.json: field heads.mask_convs: expected an integer in [0, 8], got 9");
    expect_fail(dir, "t.json", "{\"heads\": {\"mask_convz\": 2}}", "field heads.mask_convz: unknown field");
    free(dir);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_shipped_configs),
    cmocka_unit_test(test_every_shipped_config),
    cmocka_unit_test(test_base_deep_merge_and_roundtrip),
    cmocka_unit_test(test_short_schedules),
    cmocka_unit_test(test_base_blame),
    cmocka_unit_test(test_empty_config_defaults),
    cmocka_unit_test(test_bad_configs),
    cmocka_unit_test(test_mask_mlp_layers),
    cmocka_unit_test(test_mask_head_knobs),
    cmocka_unit_test(test_input_resize),
};

size_t tests_config(const struct CMUnitTest **out)
{
    *out = tests;
    return sizeof tests / sizeof tests[0];
}
