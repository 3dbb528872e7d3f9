/*
 * test_init.c — training from given weights (core/init_weights.h and
 * `mrcnn train --init`): tensors matched by name and shape, the report of
 * loaded / missing / unexpected / mismatched tensors (with both shapes),
 * strict mode, non-finite values, missing and corrupt files, frozen layers
 * left random refused with the fix (and no RUN/ left behind by a refused
 * run, a directory that was there kept), and end to end: RUN/init.json, the
 * record's "init", the values actually used (lr 0 keeps them), an ImageNet-
 * style backbone-only file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "core/detector.h"
#include "core/fileio.h"
#include "core/init_weights.h"
#include "core/safetensors.h"
#include "harness/record.h"
#include "test_util.h"
#include "variants/config.h"

#define TINY "variants/configs/tiny_fpn.json"

static mr_detector *tiny_detector(const char *const *sets, int nsets)
{
    mr_config c;
    mr_err e;
    int rc = mr_config_load_set(&c, TINY, sets, nsets, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    mr_detector *d = NULL;
    assert_int_equal(mr_detector_create(&d, &c.spec, &e), MR_OK);
    mr_detector_init_weights(d, 7);
    return d;
}

static const mr_param_entry *entry(const mr_detector *d, const char *name)
{
    const mr_param_entry *p = mr_params_find(&d->params, name);
    assert_non_null(p);
    return p;
}

/* a file with: conv1 (value 0.5), fc6 of another shape, an unknown
 * tensor, a momentum tensor of a model tensor, and fpn's first inner conv
 * bias (value 0.25) */
static void write_partial(const mr_detector *d, const char *path, float bad_value)
{
    const mr_param_entry *c1 = entry(d, "backbone.body.conv1.weight");
    const mr_param_entry *fb = entry(d, "backbone.fpn.inner_blocks.0.0.bias");
    size_t n1 = c1->d.numel, nb = fb->d.numel;
    float *v1 = malloc(n1 * sizeof *v1), *vb = malloc(nb * sizeof *vb), x[6] = {1, 2, 3, 4, 5, 6};
    for (size_t k = 0; k < n1; k++) v1[k] = 0.5f;
    for (size_t k = 0; k < nb; k++) vb[k] = 0.25f;
    v1[3] = bad_value;
    mr_st_entry en[5];
    memset(en, 0, sizeof en);
    en[0].name = "backbone.body.conv1.weight";
    en[0].ndim = c1->d.ndim;
    for (int i = 0; i < c1->d.ndim; i++) en[0].shape[i] = c1->d.shape[i];
    en[0].data = v1;
    en[1].name = "roi_heads.box_head.fc6.weight";
    en[1].ndim = 2;
    en[1].shape[0] = 2;
    en[1].shape[1] = 3;
    en[1].data = x;
    en[2].name = "backbone.body.fc.weight";   /* an ImageNet classifier: not in the detector */
    en[2].ndim = 1;
    en[2].shape[0] = 6;
    en[2].data = x;
    en[3].name = "momentum.backbone.fpn.inner_blocks.0.0.bias";
    en[3].ndim = 1;
    en[3].shape[0] = (int64_t)nb;
    en[3].data = vb;
    en[4].name = "backbone.fpn.inner_blocks.0.0.bias";
    en[4].ndim = 1;
    en[4].shape[0] = (int64_t)nb;
    en[4].data = vb;
    mr_err e;
    assert_int_equal(mr_st_write(path, en, 5, NULL, NULL, 0, &e), MR_OK);
    free(v1);
    free(vb);
}

static int has(char *const *list, int n, const char *needle)
{
    for (int i = 0; i < n; i++)
        if (strstr(list[i], needle)) return 1;
    return 0;
}

static void test_init_report(void **s)
{
    (void)s;
    char *dir = tu_tmpdir("init");
    char path[600];
    snprintf(path, sizeof path, "%s/partial.safetensors", dir);
    mr_detector *d = tiny_detector(NULL, 0);
    write_partial(d, path, 0.5f);
    const mr_param_entry *c1 = entry(d, "backbone.body.conv1.weight");
    const mr_param_entry *fc6 = entry(d, "roi_heads.box_head.fc6.weight");
    const mr_param_entry *fb = entry(d, "backbone.fpn.inner_blocks.0.0.bias");
    size_t nfc = fc6->d.numel;
    float *before = malloc(nfc * sizeof *before);
    memcpy(before, d->params.data + fc6->d.offset, nfc * sizeof *before);
    mr_init_report r;
    mr_err e;
    int rc = mr_init_load(&d->params, path, 0, &r, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_int_equal(r.n_file, 5);
    assert_int_equal(r.nloaded, 2);
    assert_int_equal(r.nmismatch, 1);
    assert_int_equal(r.nunexpected, 1);
    assert_int_equal(r.nstate, 1);
    assert_int_equal(r.nmissing, d->params.n - 3);
    assert_true(has(r.loaded, r.nloaded, "backbone.body.conv1.weight"));
    assert_string_equal(r.unexpected[0], "backbone.body.fc.weight");
    char want[200];
    snprintf(want, sizeof want, "roi_heads.box_head.fc6.weight: [2, 3] in the file, [%lld, %lld] in the model",
             (long long)fc6->d.shape[0], (long long)fc6->d.shape[1]);
    assert_string_equal(r.mismatch[0], want);
    assert_true(has(r.missing, r.nmissing, "rpn.head.conv.0.0.weight") || has(r.missing, r.nmissing, "rpn.head"));
    assert_false(has(r.missing, r.nmissing, "backbone.body.conv1.weight"));
    /* values: loaded ones copied, the others as initialised */
    assert_true(d->params.data[c1->d.offset + 5] == 0.5f);
    assert_true(d->params.data[fb->d.offset] == 0.25f);
    assert_memory_equal(before, d->params.data + fc6->d.offset, nfc * sizeof *before);
    assert_int_equal(r.loaded_numel, c1->d.numel + fb->d.numel);
    /* the JSON report and the line */
    cJSON *j = mr_init_report_json(&r);
    assert_int_equal((int)cJSON_GetObjectItem(j, "loaded_count")->valuedouble, 2);
    assert_int_equal((int)cJSON_GetObjectItem(j, "unexpected_count")->valuedouble, 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "missing")), r.nmissing);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "shape_mismatch"), 0)->valuestring, want);
    cJSON_Delete(j);
    char line[4096];
    mr_init_report_line(&r, line, sizeof line);
    assert_non_null(strstr(line, "loaded 2 of the model's"));
    assert_non_null(strstr(line, "missing, initialised as usual"));
    assert_non_null(strstr(line, "1 of another shape, initialised as usual (roi_heads.box_head.fc6.weight: [2, 3] in the file"));
    assert_non_null(strstr(line, "1 unexpected, not used (backbone.body.fc.weight)"));
    assert_non_null(strstr(line, "1 optimizer-state tensors skipped"));
    mr_init_report_free(&r);

    /* strict: an error naming what did not match, nothing loaded */
    mr_detector *d2 = tiny_detector(NULL, 0);
    float c1_before = d2->params.data[c1->d.offset + 5];
    assert_int_equal(mr_init_load(&d2->params, path, 1, &r, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "(strict)"));
    assert_non_null(strstr(e.msg, "1 unexpected (backbone.body.fc.weight)"));
    assert_non_null(strstr(e.msg, "1 of another shape (roi_heads.box_head.fc6.weight: [2, 3] in the file"));
    assert_non_null(strstr(e.msg, "missing (backbone."));
    assert_true(d2->params.data[c1->d.offset + 5] == c1_before);
    mr_init_report_free(&r);
    /* strict with a file that is exactly the model: every tensor loaded */
    snprintf(path, sizeof path, "%s/whole.safetensors", dir);
    assert_int_equal(mr_detector_save_weights(d, path, NULL, NULL, &e), MR_OK);
    assert_int_equal(mr_init_load(&d2->params, path, 1, &r, &e), MR_OK);
    assert_int_equal(r.nloaded, d->params.n);
    assert_int_equal(r.nmissing + r.nunexpected + r.nmismatch, 0);
    assert_memory_equal(d->params.data, d2->params.data, d->params.numel * sizeof(float));
    mr_init_report_free(&r);
    free(before);
    mr_detector_free(d);
    mr_detector_free(d2);
    free(dir);
}

static void test_init_bad_files(void **s)
{
    (void)s;
    char *dir = tu_tmpdir("init");
    char path[600];
    mr_detector *d = tiny_detector(NULL, 0);
    mr_init_report r;
    mr_err e;
    /* missing */
    snprintf(path, sizeof path, "%s/none.safetensors", dir);
    assert_int_equal(mr_init_load(&d->params, path, 0, &r, &e), MR_EIO);
    assert_non_null(strstr(e.msg, "none.safetensors"));
    mr_init_report_free(&r);
    /* corrupt: truncated, and not a safetensors file at all */
    snprintf(path, sizeof path, "%s/whole.safetensors", dir);
    assert_int_equal(mr_detector_save_weights(d, path, NULL, NULL, &e), MR_OK);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(mr_read_file(path, &buf, &len, &e), MR_OK);
    snprintf(path, sizeof path, "%s/cut.safetensors", dir);
    assert_int_equal(mr_write_file_atomic(path, buf, len / 2, &e), MR_OK);
    assert_int_equal(mr_init_load(&d->params, path, 0, &r, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "init weights"));
    assert_non_null(strstr(e.msg, "cut.safetensors"));
    mr_init_report_free(&r);
    snprintf(path, sizeof path, "%s/text.safetensors", dir);
    assert_int_equal(mr_write_file_atomic(path, "hello, world, not weights", 25, &e), MR_OK);
    assert_int_equal(mr_init_load(&d->params, path, 0, &r, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "text.safetensors"));
    mr_init_report_free(&r);
    free(buf);
    /* a non-finite value in a matching tensor: named, nothing loaded */
    const mr_param_entry *fb = entry(d, "backbone.fpn.inner_blocks.0.0.bias");
    float fb0 = d->params.data[fb->d.offset];
    snprintf(path, sizeof path, "%s/nan.safetensors", dir);
    write_partial(d, path, NAN);
    assert_int_equal(mr_init_load(&d->params, path, 0, &r, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "tensor backbone.body.conv1.weight: element 3 is nan, expected a finite number"));
    assert_true(d->params.data[fb->d.offset] == fb0);
    mr_init_report_free(&r);
    mr_detector_free(d);
    free(dir);
}

/* A torchvision ImageNet ResNet's state_dict as mrcnn convert writes it:
 * d's backbone.body.* tensors under their bare names (conv1.weight,
 * layer1.0.conv1.weight, ...) plus the classifier fc.weight / fc.bias;
 * extra (may be NULL): one more of d's tensors, by its own name. Returns
 * the number of backbone.body tensors written. */
static int write_bare_resnet(const mr_detector *d, const char *path, const char *extra)
{
    static const float x[6] = {1, 2, 3, 4, 5, 6};
    mr_st_entry *en = calloc((size_t)d->params.n + 3, sizeof *en);
    int n = 0, nbody = 0;
    for (int i = 0; i < d->params.n; i++) {
        const mr_param_entry *p = &d->params.e[i];
        if (strncmp(p->d.name, "backbone.body.", 14)) continue;
        en[n].name = p->d.name + 14;
        en[n].ndim = p->d.ndim;
        for (int k = 0; k < p->d.ndim; k++) en[n].shape[k] = p->d.shape[k];
        en[n].data = d->params.data + p->d.offset;
        n++;
        nbody++;
    }
    en[n].name = "fc.weight";
    en[n].ndim = 2;
    en[n].shape[0] = 2;
    en[n].shape[1] = 3;
    en[n++].data = x;
    en[n].name = "fc.bias";
    en[n].ndim = 1;
    en[n].shape[0] = 2;
    en[n++].data = x;
    if (extra) {
        const mr_param_entry *p = entry(d, extra);
        en[n].name = extra;
        en[n].ndim = p->d.ndim;
        for (int k = 0; k < p->d.ndim; k++) en[n].shape[k] = p->d.shape[k];
        en[n++].data = d->params.data + p->d.offset;
    }
    mr_err e;
    int rc = mr_st_write(path, en, n, NULL, NULL, 0, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    free(en);
    return nbody;
}

/* bare torchvision ResNet names: read under backbone.body., same values,
 * the classifier unexpected and said so; not when the file also has
 * backbone.* names */
static void test_init_bare_resnet(void **s)
{
    (void)s;
    char *dir = tu_tmpdir("init");
    char path[600], line[4096];
    snprintf(path, sizeof path, "%s/resnet.safetensors", dir);
    mr_detector *src = tiny_detector(NULL, 0);
    for (size_t k = 0; k < src->params.numel; k++) src->params.data[k] = (float)(k % 97) * 0.01f - 0.3f;
    int nbody = write_bare_resnet(src, path, NULL);
    assert_true(nbody >= 10);
    mr_detector *d = tiny_detector(NULL, 0);
    mr_init_report r;
    mr_err e;
    int rc = mr_init_load(&d->params, path, 0, &r, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_string_equal(r.prefix, "backbone.body.");
    assert_int_equal(r.n_file, nbody + 2);
    assert_int_equal(r.nloaded, nbody);
    assert_int_equal(r.nmismatch, 0);
    assert_int_equal(r.nunexpected, 2);
    assert_true(has(r.unexpected, r.nunexpected, "fc.weight"));
    assert_true(has(r.unexpected, r.nunexpected, "fc.bias"));
    assert_int_equal(r.nmissing, d->params.n - nbody);
    assert_true(has(r.loaded, r.nloaded, "backbone.body.layer1.0.conv1.weight"));
    assert_false(has(r.missing, r.nmissing, "backbone.body."));
    for (int i = 0; i < d->params.n; i++) {
        const mr_param_entry *p = &d->params.e[i];
        if (strncmp(p->d.name, "backbone.body.", 14)) continue;
        assert_memory_equal(d->params.data + p->d.offset, src->params.data + p->d.offset, p->d.numel * sizeof(float));
    }
    /* the rest as initialised */
    mr_detector *fresh = tiny_detector(NULL, 0);
    const mr_param_entry *fw = entry(d, "backbone.fpn.inner_blocks.0.0.weight");
    assert_memory_equal(d->params.data + fw->d.offset, fresh->params.data + fw->d.offset, fw->d.numel * sizeof(float));
    mr_detector_free(fresh);
    assert_int_equal(mr_init_report_names_line(&r, line, sizeof line), 1);
    assert_non_null(strstr(line, "resnet.safetensors: tensor names read as torchvision ImageNet ResNet names under "
                                 "backbone.body. (conv1.weight as backbone.body.conv1.weight"));
    assert_non_null(strstr(line, "fc.bias, fc.weight: the ImageNet classifier, not part of the detector, ignored"));
    cJSON *j = mr_init_report_json(&r);
    assert_string_equal(cJSON_GetObjectItem(j, "names_read_under")->valuestring, "backbone.body.");
    cJSON_Delete(j);
    mr_init_report_free(&r);
    /* strict: the classifier is unexpected, the heads missing */
    assert_int_equal(mr_init_load(&d->params, path, 1, &r, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "2 unexpected (fc.bias, fc.weight)"));
    mr_init_report_free(&r);
    /* a file with one backbone.* name is not a bare ResNet: its name only loads */
    snprintf(path, sizeof path, "%s/mixed.safetensors", dir);
    write_bare_resnet(src, path, "backbone.fpn.inner_blocks.0.0.bias");
    mr_detector *d2 = tiny_detector(NULL, 0);
    rc = mr_init_load(&d2->params, path, 0, &r, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    assert_string_equal(r.prefix, "");
    assert_int_equal(r.nloaded, 1);
    assert_int_equal(r.nunexpected, nbody + 2);
    assert_int_equal(mr_init_report_names_line(&r, line, sizeof line), 0);
    assert_string_equal(line, "");
    assert_null(cJSON_GetObjectItem(j = mr_init_report_json(&r), "names_read_under"));
    cJSON_Delete(j);
    mr_init_report_free(&r);
    mr_detector_free(d2);
    mr_detector_free(d);
    mr_detector_free(src);
    free(dir);
}

/* a file of which nothing loads: an error, strict or not, with an example
 * name of each side and the fix; the model untouched */
static void test_init_nothing_matches(void **s)
{
    (void)s;
    char *dir = tu_tmpdir("init");
    char path[600];
    mr_detector *d = tiny_detector(NULL, 0);
    float *before = malloc(d->params.numel * sizeof *before);
    memcpy(before, d->params.data, d->params.numel * sizeof *before);
    mr_init_report r;
    mr_err e;
    /* other names (a bare ResNet needs layer1.0.conv1.weight as well) */
    static const float x[6] = {1, 2, 3, 4, 5, 6};
    mr_st_entry en[2];
    memset(en, 0, sizeof en);
    en[0].name = "model.encoder.weight";
    en[0].ndim = 1;
    en[0].shape[0] = 6;
    en[0].data = x;
    en[1].name = "conv1.weight";
    en[1].ndim = 1;
    en[1].shape[0] = 6;
    en[1].data = x;
    snprintf(path, sizeof path, "%s/other.safetensors", dir);
    assert_int_equal(mr_st_write(path, en, 2, NULL, NULL, 0, &e), MR_OK);
    for (int strict = 0; strict < 2; strict++) {
        assert_int_equal(mr_init_load(&d->params, path, strict, &r, &e), MR_EUSER);
        assert_non_null(strstr(e.msg, "other.safetensors: nothing in it matches the model: none of its 2 tensors"));
        assert_non_null(strstr(e.msg, "the file has e.g. \"conv1.weight\""));
        assert_non_null(strstr(e.msg, "the model expects e.g. \"backbone.body.conv1.weight\""));
        assert_non_null(strstr(e.msg, "mrcnn convert"));
        assert_null(strstr(e.msg, "of another shape"));
        assert_memory_equal(before, d->params.data, d->params.numel * sizeof *before);
        mr_init_report_free(&r);
    }
    /* the model's names, every one of another shape: said so */
    en[0].name = "backbone.body.conv1.weight";
    snprintf(path, sizeof path, "%s/shapes.safetensors", dir);
    assert_int_equal(mr_st_write(path, en, 1, NULL, NULL, 0, &e), MR_OK);
    assert_int_equal(mr_init_load(&d->params, path, 0, &r, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "nothing in it matches the model"));
    assert_non_null(strstr(e.msg, "1 of the model's names are there, of another shape (backbone.body.conv1.weight: [6] in the file"));
    mr_init_report_free(&r);
    /* a bare ResNet of another depth's shapes: read under backbone.body., nothing fits */
    en[0].name = "layer1.0.conv1.weight";
    snprintf(path, sizeof path, "%s/deeper.safetensors", dir);
    assert_int_equal(mr_st_write(path, en, 2, NULL, NULL, 0, &e), MR_OK);
    assert_int_equal(mr_init_load(&d->params, path, 0, &r, &e), MR_EUSER);
    assert_string_equal(r.prefix, "backbone.body.");
    assert_non_null(strstr(e.msg, "2 of the model's names are there, of another shape"));
    mr_init_report_free(&r);
    /* no tensors at all */
    snprintf(path, sizeof path, "%s/empty.safetensors", dir);
    assert_int_equal(mr_st_write(path, en, 0, NULL, NULL, 0, &e), MR_OK);
    assert_int_equal(mr_init_load(&d->params, path, 0, &r, &e), MR_EUSER);
    assert_non_null(strstr(e.msg, "none of its 0 tensors"));
    assert_non_null(strstr(e.msg, "(no tensors)"));
    mr_init_report_free(&r);
    assert_memory_equal(before, d->params.data, d->params.numel * sizeof *before);
    free(before);
    mr_detector_free(d);
    free(dir);
}

/* frozen tensors with random initial values: counted unless loaded; a
 * norm's constant ones and zeros are no random weights */
static void test_init_frozen_random(void **s)
{
    (void)s;
    char names[512];
    const char *fz[2] = {"backbone.norm=frozen_bn", "backbone.freeze_at=2"};
    mr_detector *d = tiny_detector(fz, 2);
    int n = mr_init_frozen_random(&d->params, NULL, names, sizeof names);
    assert_int_equal(n, 3);   /* depth 10: the stem conv and layer1's two convs */
    assert_string_equal(names, "backbone.body.conv1.weight, backbone.body.layer1.0.conv1.weight, "
                               "backbone.body.layer1.0.conv2.weight");
    /* from a file that holds them: none left */
    char *dir = tu_tmpdir("init");
    char path[600];
    snprintf(path, sizeof path, "%s/whole.safetensors", dir);
    mr_err e;
    assert_int_equal(mr_detector_save_weights(d, path, NULL, NULL, &e), MR_OK);
    mr_init_report r;
    assert_int_equal(mr_init_load(&d->params, path, 0, &r, &e), MR_OK);
    assert_int_equal(mr_init_frozen_random(&d->params, &r, names, sizeof names), 0);
    mr_init_report_free(&r);
    /* from one with the stem only: layer1's two remain */
    snprintf(path, sizeof path, "%s/partial.safetensors", dir);
    write_partial(d, path, 0.5f);
    assert_int_equal(mr_init_load(&d->params, path, 0, &r, &e), MR_OK);
    assert_int_equal(mr_init_frozen_random(&d->params, &r, names, sizeof names), 2);
    assert_null(strstr(names, "conv1.weight, backbone.body.layer1.0.conv1"));
    mr_init_report_free(&r);
    mr_detector_free(d);
    /* GroupNorm from scratch (freeze_at 0): nothing frozen */
    d = tiny_detector(NULL, 0);
    assert_int_equal(mr_init_frozen_random(&d->params, NULL, names, sizeof names), 0);
    mr_detector_free(d);
    free(dir);
}

static cJSON *load(const char *dir, const char *file)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    cJSON *j = NULL;
    mr_err e;
    int rc = mr_json_load(p, &j, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    return j;
}

/* mrcnn train --init end to end */
static void test_train_init_cli(void **s)
{
    (void)s;
    char *d = tu_tmpdir("init");
    char cmd[4096], out[16384], p[1200];
    snprintf(cmd, sizeof cmd, "%s synth --preset tiny --train 8 --val 4 --out %s/data >/dev/null 2>&1", tu_bin(), d);
    assert_int_equal(tu_run(cmd, NULL, 0), 0);
    /* A: a run with the mask branch, 2 iterations */
    snprintf(cmd, sizeof cmd, "%s train --config variants/configs/tiny_fpn_mask.json --data %s/data --out %s/a --quiet "
             "--set schedule.iters=2 2>&1", tu_bin(), d, d);
    int rc = tu_run(cmd, out, sizeof out);
    if (rc) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    /* B: box only, narrower box head, lr 0: from A's weights, which stay */
    snprintf(cmd, sizeof cmd, "%s train --config " TINY " --data %s/data --out %s/b --quiet --set schedule.iters=2 "
             "--set schedule.lr=0 --set box_head.fc_dim=32 --init %s/a/model_final.safetensors 2>&1", tu_bin(), d, d, d);
    rc = tu_run(cmd, out, sizeof out);
    if (rc) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "mrcnn train: init from "));
    assert_non_null(strstr(out, "a/model_final.safetensors: loaded 60 of the model's 66 tensors"));
    assert_non_null(strstr(out, "6 of another shape, initialised as usual (roi_heads.box_head.fc6.weight: [64, 784] in the "
                                "file, [32, 784] in the model"));
    assert_non_null(strstr(out, "12 unexpected, not used (roi_heads.mask_head."));
    snprintf(p, sizeof p, "%s/b", d);
    cJSON *j = load(p, "init.json");
    assert_int_equal((int)cJSON_GetObjectItem(j, "loaded_count")->valuedouble, 60);
    assert_int_equal((int)cJSON_GetObjectItem(j, "missing_count")->valuedouble, 0);
    assert_int_equal((int)cJSON_GetObjectItem(j, "unexpected_count")->valuedouble, 12);
    assert_int_equal((int)cJSON_GetObjectItem(j, "shape_mismatch_count")->valuedouble, 6);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "loaded")), 60);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "shape_mismatch"), 5)->valuestring,
                        "roi_heads.box_predictor.bbox_pred.weight: [32, 64] in the file, [32, 32] in the model");
    cJSON_Delete(j);
    j = load(p, "record.json");
    const cJSON *ini = cJSON_GetObjectItem(j, "init");
    assert_non_null(ini);
    assert_int_equal((int)cJSON_GetObjectItem(ini, "loaded_count")->valuedouble, 60);
    assert_int_equal((int)cJSON_GetObjectItem(ini, "shape_mismatch_count")->valuedouble, 6);
    assert_non_null(strstr(cJSON_GetObjectItem(ini, "weights")->valuestring, "/a/model_final.safetensors"));
    const cJSON *cini = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "config"), "init");
    assert_non_null(strstr(cJSON_GetObjectItem(cini, "weights")->valuestring, "/a/model_final.safetensors"));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(cini, "strict")));
    cJSON_Delete(j);
    /* with lr 0 the loaded tensors are B's final values, bit for bit */
    mr_st_file fa, fb;
    mr_err e;
    snprintf(p, sizeof p, "%s/a/model_final.safetensors", d);
    assert_int_equal(mr_st_read(&fa, p, &e), MR_OK);
    snprintf(p, sizeof p, "%s/b/model_final.safetensors", d);
    assert_int_equal(mr_st_read(&fb, p, &e), MR_OK);
    const char *same[3] = {"backbone.body.conv1.weight", "backbone.fpn.layer_blocks.0.0.weight", "rpn.head.cls_logits.weight"};
    for (int k = 0; k < 3; k++) {
        const mr_st_tensor *ta = mr_st_find(&fa, same[k]), *tb = mr_st_find(&fb, same[k]);
        if (!ta || !tb) print_error("%s not found\n", same[k]);
        assert_non_null(ta);
        assert_non_null(tb);
        assert_int_equal(ta->nbytes, tb->nbytes);
        assert_memory_equal(ta->data, tb->data, ta->nbytes);
    }
    mr_st_close(&fa);
    mr_st_close(&fb);
    /* --init-strict: the mask tensors and the shapes make it an error */
    snprintf(cmd, sizeof cmd, "%s train --config " TINY " --data %s/data --out %s/c --quiet --set schedule.iters=2 "
             "--set box_head.fc_dim=32 --init %s/a/model_final.safetensors --init-strict 2>&1", tu_bin(), d, d, d);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "(strict): 0 missing, 12 unexpected (roi_heads.mask_head."));
    assert_non_null(strstr(out, "6 of another shape (roi_heads.box_head.fc6.weight: [64, 784] in the file, [32, 784] in the model"));
    snprintf(p, sizeof p, "%s/c", d);
    assert_false(mr_file_exists(p));   /* refused before the first iteration: no RUN/ left */
    /* strict from a run of the same config: fine */
    snprintf(cmd, sizeof cmd, "%s train --config variants/configs/tiny_fpn_mask.json --data %s/data --out %s/c2 --quiet "
             "--set schedule.iters=1 --init %s/a/checkpoint_0000002.safetensors --init-strict 2>&1", tu_bin(), d, d, d);
    rc = tu_run(cmd, out, sizeof out);
    if (rc) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "optimizer-state tensors skipped"));
    /* frozen layers left random: refused with the fix; from weights that hold them: trains */
    snprintf(cmd, sizeof cmd, "%s train --config " TINY " --data %s/data --out %s/f --quiet --set schedule.iters=2 "
             "--set backbone.norm=frozen_bn --set backbone.freeze_at=2 2>&1", tu_bin(), d, d);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "backbone.freeze_at 2 (the default of norm \"frozen_bn\") freezes 3 tensors whose weights "
                                "would stay at their random initial values (backbone.body.conv1.weight"));
    assert_non_null(strstr(out, "--init W.safetensors"));
    assert_non_null(strstr(out, "\"backbone\": {\"freeze_at\": 0} in the config (or --set backbone.freeze_at=0)"));
    snprintf(p, sizeof p, "%s/f", d);
    assert_false(mr_file_exists(p));   /* not even config.json */
    /* a directory that was there stays, with what it held; directories made
     * on the way to RUN/ go with it */
    snprintf(cmd, sizeof cmd, "mkdir -p %s/keep && echo x > %s/keep/notes.txt && %s train --config " TINY " --data %s/data "
             "--out %s/keep --quiet --set backbone.norm=frozen_bn --set backbone.freeze_at=2 2>&1", d, d, tu_bin(), d, d);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    snprintf(p, sizeof p, "%s/keep/notes.txt", d);
    assert_true(tu_file_contains(p, "x"));
    snprintf(cmd, sizeof cmd, "%s train --config " TINY " --data %s/data --out %s/deep/er/run --quiet "
             "--set backbone.norm=frozen_bn --set backbone.freeze_at=2 2>&1", tu_bin(), d, d);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    snprintf(p, sizeof p, "%s/deep", d);
    assert_false(mr_file_exists(p));
    /* an ImageNet-style start: backbone.body.* only, from A (GroupNorm: the
     * frozen BN's statistics are missing and start at 0 / 1) */
    mr_st_file fa2;
    snprintf(p, sizeof p, "%s/a/model_final.safetensors", d);
    assert_int_equal(mr_st_read(&fa2, p, &e), MR_OK);
    mr_st_entry en[256];
    float *copies[256];
    int n = 0;
    for (int k = 0; k < fa2.n && n < 256; k++) {
        const mr_st_tensor *t = &fa2.tensors[k];
        if (strncmp(t->name, "backbone.body.", 14) || strstr(t->name, ".bn")) continue;
        memset(&en[n], 0, sizeof en[n]);
        en[n].name = t->name;
        en[n].ndim = t->ndim;
        memcpy(en[n].shape, t->shape, sizeof t->shape);
        copies[n] = malloc(t->nbytes);
        memcpy(copies[n], t->data, t->nbytes);
        en[n].data = copies[n];
        n++;
    }
    assert_true(n >= 5);
    snprintf(p, sizeof p, "%s/body.safetensors", d);
    assert_int_equal(mr_st_write(p, en, n, NULL, NULL, 0, &e), MR_OK);
    for (int k = 0; k < n; k++) free(copies[k]);
    mr_st_close(&fa2);
    snprintf(cmd, sizeof cmd, "%s train --config " TINY " --data %s/data --out %s/g --quiet --set schedule.iters=2 "
             "--set backbone.norm=frozen_bn --set backbone.freeze_at=2 --init %s/body.safetensors 2>&1", tu_bin(), d, d, d);
    rc = tu_run(cmd, out, sizeof out);
    if (rc) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    char want[128];
    snprintf(want, sizeof want, "body.safetensors: loaded %d of the model's", n);
    assert_non_null(strstr(out, want));
    assert_null(strstr(out, "unexpected"));
    /* the init weights are checked before any work: a missing file */
    snprintf(cmd, sizeof cmd, "%s train --config " TINY " --data %s/data --out %s/h --quiet --init %s/none.safetensors 2>&1",
             tu_bin(), d, d, d);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "field init.weights:"));
    assert_non_null(strstr(out, "none.safetensors: no such file"));
    snprintf(p, sizeof p, "%s/h", d);
    assert_false(mr_file_exists(p));
    /* a corrupt one: named */
    snprintf(p, sizeof p, "%s/corrupt.safetensors", d);
    assert_int_equal(mr_write_file_atomic(p, "\x10\0\0\0\0\0\0\0{\"a\": 1", 15, &e), MR_OK);
    snprintf(cmd, sizeof cmd, "%s train --config " TINY " --data %s/data --out %s/h --quiet --init %s 2>&1", tu_bin(), d, d, p);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "init weights"));
    assert_non_null(strstr(out, "corrupt.safetensors"));
    snprintf(p, sizeof p, "%s/h", d);
    assert_false(mr_file_exists(p));
    /* a torchvision ImageNet ResNet's bare names: read under backbone.body., said so */
    mr_detector *src = tiny_detector(NULL, 0);
    snprintf(p, sizeof p, "%s/resnet.safetensors", d);
    int nbody = write_bare_resnet(src, p, NULL);
    mr_detector_free(src);
    snprintf(cmd, sizeof cmd, "%s train --config " TINY " --data %s/data --out %s/r --quiet --set schedule.iters=1 "
             "--init %s 2>&1", tu_bin(), d, d, p);
    rc = tu_run(cmd, out, sizeof out);
    if (rc) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "resnet.safetensors: tensor names read as torchvision ImageNet ResNet names under "
                                "backbone.body."));
    assert_non_null(strstr(out, "fc.bias, fc.weight: the ImageNet classifier, not part of the detector, ignored"));
    snprintf(want, sizeof want, "resnet.safetensors: loaded %d of the model's 66 tensors", nbody);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "2 unexpected, not used (fc.bias, fc.weight)"));
    /* a file of which nothing loads: an error without --init-strict */
    snprintf(p, sizeof p, "%s/other.safetensors", d);
    {
        static const float x[4] = {1, 2, 3, 4};
        mr_st_entry oe;
        memset(&oe, 0, sizeof oe);
        oe.name = "encoder.layers.0.weight";
        oe.ndim = 1;
        oe.shape[0] = 4;
        oe.data = x;
        assert_int_equal(mr_st_write(p, &oe, 1, NULL, NULL, 0, &e), MR_OK);
    }
    snprintf(cmd, sizeof cmd, "%s train --config " TINY " --data %s/data --out %s/n --quiet --init %s 2>&1",
             tu_bin(), d, d, p);
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "other.safetensors: nothing in it matches the model"));
    assert_non_null(strstr(out, "the file has e.g. \"encoder.layers.0.weight\", the model expects e.g. "
                                "\"backbone.body.conv1.weight\""));
    snprintf(p, sizeof p, "%s/n", d);
    assert_false(mr_file_exists(p));
    /* the config field, relative to the config file */
    snprintf(p, sizeof p, "%s/cfg.json", d);
    char txt[8192], cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(txt, sizeof txt, "{\"base\": \"%s/" TINY "\", \"init\": {\"weights\": \"a/model_final.safetensors\"}, "
             "\"box_head\": {\"fc_dim\": 32}, \"schedule\": {\"iters\": 1}}", cwd);
    assert_int_equal(mr_write_file_atomic(p, txt, strlen(txt), &e), MR_OK);
    snprintf(cmd, sizeof cmd, "%s train --config %s --data %s/data --out %s/i --quiet 2>&1", tu_bin(), p, d, d);
    rc = tu_run(cmd, out, sizeof out);
    if (rc) print_error("%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "loaded 60 of the model's 66 tensors"));
    free(d);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_init_report),
    cmocka_unit_test(test_init_bad_files),
    cmocka_unit_test(test_init_frozen_random),
    cmocka_unit_test(test_init_bare_resnet),
    cmocka_unit_test(test_init_nothing_matches),
    cmocka_unit_test(test_train_init_cli),
};

size_t tests_init(const struct CMUnitTest **out)
{
    *out = tests;
    return sizeof tests / sizeof tests[0];
}
