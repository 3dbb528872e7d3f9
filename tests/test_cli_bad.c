/*
 * test_cli_bad.c — bad input through the command line (group `cli`): each
 * case runs `mrcnn` on a small synthetic dataset (3 training, 2 validation
 * images) and checks exit code 1 and a message naming the file, the field
 * or tensor, and what was expected. Cases: masks asked of annotations
 * without segmentation, keypoints asked of a dataset without them, a
 * results store line that does not parse (train and ablate), a checkpoint
 * from another config on --resume (fingerprint), a checkpoint missing a
 * tensor and one with a wrong shape (infer), weights for another category
 * count than the dataset's, a file that is not a detector checkpoint,
 * train and val splits with different categories, a config's num_classes
 * against the dataset, mistyped config fields, an unreadable image; and
 * getopt's mistakes (a missing value, an unknown, ambiguous or valueless
 * option) as one line with exit 2. Checkpoints are made in-process (untrained weights):
 * nothing here trains.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/detector.h"
#include "core/fileio.h"
#include "core/json.h"
#include "core/train.h"
#include "harness/precheck.h"
#include "tests/test_util.h"
#include "variants/config.h"

/* run `mrcnn ARGS`, expect exit code rc and the texts in its output */
static void cli(const char *args, int want_rc, const char *want1, const char *want2)
{
    char cmd[8192], out[16384];
    snprintf(cmd, sizeof cmd, "%s %s", tu_bin(), args);
    int rc = tu_run(cmd, out, sizeof out);
    if (rc != want_rc || (want1 && !strstr(out, want1)) || (want2 && !strstr(out, want2)))
        print_error("`%s` gave rc %d, output:\n%s\nwanted rc %d and '%s', '%s'\n", cmd, rc, out, want_rc,
                    want1 ? want1 : "", want2 ? want2 : "");
    assert_int_equal(rc, want_rc);
    if (want1) assert_non_null(strstr(out, want1));
    if (want2) assert_non_null(strstr(out, want2));
}

/* a small synthetic dataset in dir/data */
static void make_data(const char *dir)
{
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd, "%s synth --preset tiny --train 3 --val 2 --out %s/data", tu_bin(), dir);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
}

/* copy dir/data to dir/NAME with every split's annotations stripped of
 * `segmentation` (strip_seg) and keypoints removed from categories and
 * annotations (strip_kp) */
static void strip_copy(const char *dir, const char *name, int strip_seg, int strip_kp)
{
    char cmd[2048], out[4096];
    snprintf(cmd, sizeof cmd, "cp -r %s/data %s/%s", dir, dir, name);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    const char *splits[2] = {"train", "val"};
    for (int s = 0; s < 2; s++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s/%s.json", dir, name, splits[s]);
        cJSON *j = NULL;
        mr_err e;
        assert_int_equal(mr_json_load_file(p, &j, &e), MR_OK);
        cJSON *x;
        cJSON_ArrayForEach(x, cJSON_GetObjectItem(j, "annotations")) {
            if (strip_seg) cJSON_DeleteItemFromObject(x, "segmentation");
            if (strip_kp) {
                cJSON_DeleteItemFromObject(x, "keypoints");
                cJSON_DeleteItemFromObject(x, "num_keypoints");
            }
        }
        cJSON_ArrayForEach(x, cJSON_GetObjectItem(j, "categories")) {
            if (!strip_kp) continue;
            cJSON_DeleteItemFromObject(x, "keypoints");
            cJSON_DeleteItemFromObject(x, "skeleton");
            cJSON_DeleteItemFromObject(x, "keypoint_sigmas");
        }
        assert_int_equal(mr_json_write_file(p, j, &e), MR_OK);
        cJSON_Delete(j);
    }
}

static void rmrf(char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) print_message("could not remove %s\n", dir);
    free(dir);
}

static void test_cli_bad_dataset_and_store(void **s)
{
    (void)s;
    char *d = tu_tmpdir("clibad");
    assert_non_null(d);
    make_data(d);
    strip_copy(d, "noseg", 1, 0);
    strip_copy(d, "nokp", 0, 1);
    char a[4096];
    /* masks on, annotations without polygons or RLE */
    snprintf(a, sizeof a, "train --config variants/configs/tiny_fpn_mask.json --data %s/noseg --out %s/r --quiet", d, d);
    cli(a, 1, "variants/configs/tiny_fpn_mask.json: field heads.mask: on, but ",
        "noseg/train.json: annotations[0] (id 1) has no segmentation (polygons or RLE)");
    /* keypoints on, a dataset without keypoints */
    snprintf(a, sizeof a, "train --config variants/configs/tiny_fpn_kp.json --data %s/nokp --out %s/r --quiet", d, d);
    cli(a, 1, "variants/configs/tiny_fpn_kp.json: field heads.keypoints: on, but ",
        "nokp/train.json has no category with keypoints");
    /* the same datasets are fine for what they have */
    mr_err e;
    char dd[1024];
    snprintf(dd, sizeof dd, "%s/noseg", d);
    assert_int_equal(mr_precheck_train("variants/configs/tiny_fpn.json", dd, NULL, &e), MR_OK);
    snprintf(dd, sizeof dd, "%s/nokp", d);
    assert_int_equal(mr_precheck_train("variants/configs/tiny_fpn_mask.json", dd, NULL, &e), MR_OK);
    /* a results store whose third line does not parse: train and ablate
     * refuse before any work */
    char store[1024];
    snprintf(store, sizeof store, "%s/store.jsonl", d);
    FILE *f = fopen(store, "w");
    assert_non_null(f);
    const char *good = "{\"commit\":\"a\",\"dirty\":false,\"date\":\"d\",\"machine\":{},\"config_name\":\"x\","
                       "\"seed\":1,\"metrics\":{}}\n";
    fprintf(f, "%s%s{\"commit\": tru\n", good, good);
    fclose(f);
    snprintf(a, sizeof a, "train --config variants/configs/tiny_fpn.json --data %s/data --out %s/r --quiet --store %s",
             d, d, store);
    cli(a, 1, "store.jsonl:3: not valid JSON", "the results store");
    snprintf(a, sizeof a, "ablate 2b --seeds 1 --preset tiny --data %s/data --runs %s/runs --results %s/res --store %s",
             d, d, d, store);
    cli(a, 1, "store.jsonl:3: not valid JSON", NULL);
    char p[1024];
    snprintf(p, sizeof p, "%s/runs/tiny/2b/softmax/seed1/train.out", d);
    assert_false(mr_file_exists(p));   /* nothing was started */
    /* a mistyped field, at the top level and inside a section */
    snprintf(p, sizeof p, "%s/typo.json", d);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs("{\"shedule\": {\"iters\": 10}}", f);
    fclose(f);
    snprintf(a, sizeof a, "train --config %s --data %s/data --out %s/r --quiet", p, d, d);
    cli(a, 1, "typo.json", "shedule");
    f = fopen(p, "w");
    assert_non_null(f);
    fputs("{\"heads\": {\"mask\": \"yes\"}}", f);
    fclose(f);
    cli(a, 1, "typo.json: field heads.mask", NULL);
    rmrf(d);
}

/* an untrained checkpoint of the tiny FPN config (7 synthetic categories);
 * cats: its "categories" metadata (NULL: none) */
static void make_checkpoint(const char *path, const char *run_ck, const char *fingerprint, const char *cats)
{
    mr_config c;
    mr_err e;
    assert_int_equal(mr_config_load(&c, "variants/configs/tiny_fpn.json", &e), MR_OK);
    c.num_classes = 7;
    c.spec.box.num_classes = 8;
    mr_detector *d = NULL;
    int rc = mr_detector_create(&d, &c.spec, &e);
    if (rc) print_error("%s\n", e.msg);
    assert_int_equal(rc, MR_OK);
    mr_detector_init_weights(d, 1);
    assert_int_equal(mr_detector_save_weights(d, path, cats, NULL, &e), MR_OK);
    mr_trainer t;
    assert_int_equal(mr_trainer_init(&t, d, &c.sched, 1, &e), MR_OK);
    t.iter = 10;
    assert_int_equal(mr_trainer_save(&t, run_ck, fingerprint, &e), MR_OK);
    mr_trainer_free(&t);
    mr_detector_free(d);
}

static void test_cli_bad_checkpoints(void **s)
{
    (void)s;
    char *d = tu_tmpdir("clickpt");
    assert_non_null(d);
    make_data(d);
    char w[1024], run[1024], ck[1200], a[4096];
    snprintf(w, sizeof w, "%s/model.safetensors", d);
    snprintf(run, sizeof run, "%s/run", d);
    mr_err e;
    assert_int_equal(mr_mkdir_p(run, &e), MR_OK);
    snprintf(ck, sizeof ck, "%s/checkpoint_0000010.safetensors", run);
    make_checkpoint(w, ck, "0123456789abcdef", NULL);
    /* the weights fit their own config */
    snprintf(a, sizeof a, "infer --config variants/configs/tiny_fpn.json --weights %s --data %s/data --out %s/o.json",
             w, d, d);
    cli(a, 0, NULL, NULL);
    /* weights whose "categories" metadata is damaged or names fewer categories than they predict */
    char w2[1100];
    snprintf(w2, sizeof w2, "%s/cats.safetensors", d);
    make_checkpoint(w2, ck, "0123456789abcdef", "[{\"id\": 1, \"name\": \"a\"}]");
    snprintf(a, sizeof a, "infer --config variants/configs/tiny_fpn.json --weights %s --data %s/data --out %s/o.json",
             w2, d, d);
    cli(a, 1, "cats.safetensors: metadata 'categories': expected a JSON array of the 7 categories", NULL);
    make_checkpoint(w2, ck, "0123456789abcdef", "[{\"id\": 1, \"name\": \"a\"}, {\"id\": 1, \"name\": \"b\"}, "
                    "{}, {}, {}, {}, {}]");
    cli(a, 1, "cats.safetensors: metadata 'categories'[1]: expected {\"id\": an integer above the previous one", NULL);
    /* a checkpoint missing a tensor: the mask branch of another config */
    snprintf(a, sizeof a, "infer --config variants/configs/tiny_fpn_mask.json --weights %s --data %s/data --out %s/o.json",
             w, d, d);
    cli(a, 1, "model.safetensors: tensor 'roi_heads.mask_head.0.0.weight' missing", NULL);
    /* a tensor of the wrong shape: a wider backbone */
    char p[1024], cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    snprintf(p, sizeof p, "%s/wide.json", d);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "{\"base\": \"%s/variants/configs/tiny_fpn.json\", \"backbone\": {\"width\": 0.25}}", cwd);
    fclose(f);
    snprintf(a, sizeof a, "infer --config %s --weights %s --data %s/data --out %s/o.json", p, w, d, d);
    cli(a, 1, "checkpoint does not fit this config", "tensor backbone.body.conv1.weight has shape [8,3,7,7], model expects [16,3,7,7]");
    /* --resume from a checkpoint written by another config */
    snprintf(a, sizeof a, "train --config variants/configs/tiny_fpn.json --data %s/data --out %s --resume --quiet", d, run);
    cli(a, 1, "checkpoint_0000010.safetensors: checkpoint written by a different config (fingerprint 0123456789abcdef",
        NULL);
    /* weights for 7 categories on a dataset with 6 */
    char cmd[4096], out[4096];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/six && cp -r %s/data/images %s/six/ && cp %s/data/train.json %s/six/", d, d, d, d, d);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    snprintf(p, sizeof p, "%s/data/val.json", d);
    cJSON *j = NULL;
    assert_int_equal(mr_json_load_file(p, &j, &e), MR_OK);
    cJSON *cats = cJSON_GetObjectItem(j, "categories"), *anns = cJSON_GetObjectItem(j, "annotations");
    int last = cJSON_GetArraySize(cats) - 1;
    int last_id = cJSON_GetObjectItem(cJSON_GetArrayItem(cats, last), "id")->valueint;
    cJSON_DeleteItemFromArray(cats, last);
    for (int i = cJSON_GetArraySize(anns) - 1; i >= 0; i--)
        if (cJSON_GetObjectItem(cJSON_GetArrayItem(anns, i), "category_id")->valueint == last_id)
            cJSON_DeleteItemFromArray(anns, i);
    snprintf(p, sizeof p, "%s/six/val.json", d);
    assert_int_equal(mr_json_write_file(p, j, &e), MR_OK);
    cJSON_Delete(j);
    snprintf(a, sizeof a, "infer --config variants/configs/tiny_fpn.json --weights %s --data %s/six --out %s/o.json", w, d, d);
    cli(a, 1, "6 categories but ", "model.safetensors was trained for 7");
    /* train and val with different categories; a config's num_classes against the dataset */
    snprintf(a, sizeof a, "train --config variants/configs/tiny_fpn.json --data %s/six --out %s/r2 --quiet", d, d);
    cli(a, 1, "six/val.json: 6 categories, train.json has 7", NULL);
    snprintf(p, sizeof p, "%s/k3.json", d);
    f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "{\"base\": \"%s/variants/configs/tiny_fpn.json\", \"num_classes\": 3}", cwd);
    fclose(f);
    snprintf(a, sizeof a, "train --config %s --data %s/data --out %s/r3 --quiet", p, d, d);
    cli(a, 1, "k3.json: field num_classes: 3, but ", "data/train.json has 7 categories");
    /* a safetensors file that is not a detector checkpoint */
    snprintf(a, sizeof a, "infer --config variants/configs/tiny_fpn.json --weights tests/data/st_python.safetensors "
             "--data %s/data --out %s/o.json", d, d);
    cli(a, 1, "st_python.safetensors: no roi_heads.box_predictor.cls_score.bias: not a detector checkpoint", NULL);
    /* an image that is not an image */
    snprintf(p, sizeof p, "%s/not_an_image.png", d);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs("hello", f);
    fclose(f);
    snprintf(a, sizeof a, "infer --config variants/configs/tiny_fpn.json --weights %s --image %s --out %s/o.json", w, p, d);
    cli(a, 1, "not_an_image.png: cannot read image", NULL);
    /* a JPEG with a broken Huffman table (end marker intact): libjpeg's
     * error, not its exit() */
    char *jb;
    size_t jn;
    mr_err je;
    assert_int_equal(mr_read_file("tests/fixtures/jpeg/s420.jpg", &jb, &jn, &je), MR_OK);
    for (size_t i = 2; i + 21 < jn; i++)
        if ((uint8_t)jb[i] == 0xFF && (uint8_t)jb[i + 1] == 0xC4) { memset(jb + i + 5, 0xFF, 16); break; }
    snprintf(p, sizeof p, "%s/bad_huffman.jpg", d);
    f = fopen(p, "wb");
    assert_non_null(f);
    fwrite(jb, 1, jn, f);
    fclose(f);
    free(jb);
    snprintf(a, sizeof a, "infer --config variants/configs/tiny_fpn.json --weights %s --image %s --out %s/o.json", w, p, d);
    cli(a, 1, "bad_huffman.jpg: cannot decode JPEG (Bogus Huffman table definition)", NULL);
    rmrf(d);
}

/* getopt's mistakes: one line naming the option and what is wrong, exit 2,
 * on several subcommands (getopt's own message suppressed) */
static void test_cli_bad_options(void **s)
{
    (void)s;
    static const char *const cases[][2] = {
        {"train --init", "mrcnn train: --init needs a value (see mrcnn train --help)\n"},
        {"train --bogus", "mrcnn train: unknown option '--bogus' (see mrcnn train --help)\n"},
        {"train --in x", "mrcnn train: ambiguous option '--in' (--init, --init-strict) (see mrcnn train --help)\n"},
        {"train --quiet=1", "mrcnn train: --quiet takes no value (got '--quiet=1') (see mrcnn train --help)\n"},
        {"flops --set", "mrcnn flops: unknown option '--set' (see mrcnn flops --help)\n"},
        {"flops --config", "mrcnn flops: --config needs a value (see mrcnn flops --help)\n"},
        {"infer --weights", "mrcnn infer: --weights needs a value (see mrcnn infer --help)\n"},
        {"bench -t", "mrcnn bench: -t needs a value (see mrcnn bench --help)\n"},
        {"bench -z", "mrcnn bench: unknown option '-z' (see mrcnn bench --help)\n"},
        {"eval --gt", "mrcnn eval: --gt needs a value (see mrcnn eval --help)\n"},
        {"eval --nope", "mrcnn eval: unknown option '--nope' (see mrcnn eval --help)\n"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        char cmd[1024], out[4096];
        snprintf(cmd, sizeof cmd, "%s %s", tu_bin(), cases[k][0]);
        int rc = tu_run(cmd, out, sizeof out);
        if (rc != 2 || strcmp(out, cases[k][1])) print_error("`%s`: rc %d, output:\n%s", cases[k][0], rc, out);
        assert_int_equal(rc, 2);
        assert_string_equal(out, cases[k][1]);
    }
}

const struct CMUnitTest tc_bad_tests[] = {
    cmocka_unit_test(test_cli_bad_options),
    cmocka_unit_test(test_cli_bad_dataset_and_store),
    cmocka_unit_test(test_cli_bad_checkpoints),
};
const size_t tc_bad_ntests = sizeof tc_bad_tests / sizeof tc_bad_tests[0];
