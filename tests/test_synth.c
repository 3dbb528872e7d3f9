/*
 * test_synth.c — the synthetic dataset (datasets/synth.h, `mrcnn synth`):
 * byte-identical regeneration (also across thread counts), the JSON loads
 * with coco/coco.h, masks equal the visible pixels (area, box, disjointness),
 * boxes inside the image, keypoint visibility rules, the figure category's
 * names / skeleton / sigmas, and the command line's errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/fileio.h"
#include "datasets/synth.h"
#include "coco/coco.h"
#include "coco/rle.h"
#include "tests/test_util.h"

static void small_params(mr_synth_params *p)
{
    mr_err e;
    assert_int_equal(mr_synth_preset("tiny", p, &e), MR_OK);
    p->n_train = 40;
    p->n_val = 8;
}

static int same_file(const char *a, const char *b)
{
    char *x, *y;
    size_t nx, ny;
    mr_err e;
    if (mr_read_file(a, &x, &nx, &e)) return 0;
    if (mr_read_file(b, &y, &ny, &e)) { free(x); return 0; }
    int same = nx == ny && !memcmp(x, y, nx);
    free(x);
    free(y);
    return same;
}

static void test_synth_identical(void **state)
{
    (void)state;
    mr_synth_params p;
    small_params(&p);
    char *d1 = tu_tmpdir("synth1"), *d2 = tu_tmpdir("synth2");
    mr_err e;
    assert_int_equal(mr_synth_write(&p, d1, 1, NULL, &e), MR_OK);
    assert_int_equal(mr_synth_write(&p, d2, 2, NULL, &e), MR_OK);
    char a[4300], b[4300];
    const char *names[] = {"train.json", "val.json", "images/train_000001.png", "images/train_000040.png",
                           "images/val_000008.png"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(a, sizeof a, "%s/%s", d1, names[i]);
        snprintf(b, sizeof b, "%s/%s", d2, names[i]);
        assert_true(same_file(a, b));
    }
    /* a different seed changes the data */
    p.seed = 2;
    assert_int_equal(mr_synth_write(&p, d2, 2, NULL, &e), MR_OK);
    snprintf(a, sizeof a, "%s/train.json", d1);
    snprintf(b, sizeof b, "%s/train.json", d2);
    assert_false(same_file(a, b));
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", d1, d2);
    assert_int_equal(tu_run(cmd, NULL, 0), 0);
    free(d1);
    free(d2);
}

/* the annotations of one loaded split against the rules of synth.h */
static void check_split(const mr_coco *c, int S, long *vis, long *kinds)
{
    mr_err e;
    assert_int_equal((int)c->num_cats, MR_SYNTH_NCAT);
    const mr_coco_cat *fig = &c->cats[MR_SYNTH_NCAT - 1];
    assert_string_equal(fig->name, "figure");
    assert_int_equal(fig->num_keypoints, MR_SYNTH_NKP);
    assert_true(fig->num_keypoints >= 10);
    assert_int_equal(fig->num_skeleton, MR_SYNTH_NSKEL);
    assert_int_equal(fig->num_sigmas, fig->num_keypoints);
    for (int k = 0; k < 2 * fig->num_skeleton; k++)
        assert_true(fig->skeleton[k] >= 1 && fig->skeleton[k] <= fig->num_keypoints);
    for (int k = 0; k < fig->num_keypoints; k++) assert_string_equal(fig->keypoint_names[k], mr_synth_kp_names[k]);
    uint8_t *m = malloc((size_t)S * S), *seen = malloc((size_t)S * S);
    assert_non_null(m);
    assert_non_null(seen);
    for (size_t i = 0; i < c->num_images; i++) {
        const mr_coco_image *im = &c->images[i];
        assert_int_equal(im->width, S);
        assert_int_equal(im->height, S);
        memset(seen, 0, (size_t)S * S);
        for (size_t q = c->img_off[i]; q < c->img_off[i + 1]; q++) {
            const mr_coco_ann *a = &c->anns[c->img_anns[q]];
            kinds[mr_coco_ann_seg_kind(a) == MR_SEG_RLE ? 1 : 0]++;
            if (a->iscrowd) { kinds[2]++; assert_int_equal(mr_coco_ann_seg_kind(a), MR_SEG_RLE); }
            /* box inside the image, positive */
            assert_true(a->bbox[0] >= 0 && a->bbox[1] >= 0 && a->bbox[2] > 0 && a->bbox[3] > 0);
            assert_true(a->bbox[0] + a->bbox[2] <= S && a->bbox[1] + a->bbox[3] <= S);
            mr_rle r = MR_RLE_INIT;
            assert_int_equal(mr_coco_ann_rle(a, im, &r, &e), MR_OK);
            assert_int_equal((double)mr_rle_area(&r), a->area);
            mr_rle_decode_rowmajor(&r, m);
            mr_rle_free(&r);
            int x0 = S, y0 = S, x1 = -1, y1 = -1;
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++)
                    if (m[y * S + x]) {
                        /* visible masks of one image never overlap */
                        assert_int_equal(seen[y * S + x], 0);
                        seen[y * S + x] = 1;
                        if (x < x0) x0 = x;
                        if (x > x1) x1 = x;
                        if (y < y0) y0 = y;
                        if (y > y1) y1 = y;
                    }
            assert_true(a->bbox[0] == x0 && a->bbox[1] == y0);
            assert_true(a->bbox[2] == x1 - x0 + 1 && a->bbox[3] == y1 - y0 + 1);
            if (a->category_id == MR_SYNTH_NCAT) {
                assert_int_equal(a->num_kpt, MR_SYNTH_NKP);
                int nv = 0;
                for (int k = 0; k < a->num_kpt; k++) {
                    double x = a->keypoints[3 * k], y = a->keypoints[3 * k + 1], v = a->keypoints[3 * k + 2];
                    assert_true(v == 0 || v == 1 || v == 2);
                    vis[(int)v]++;
                    if (v == 0) { assert_true(x == 0 && y == 0); continue; }
                    nv++;
                    assert_true(x >= 0 && x < S && y >= 0 && y < S);
                }
                assert_int_equal(a->num_keypoints, nv);
            } else {
                assert_int_equal(a->num_kpt, 0);
            }
        }
    }
    free(m);
    free(seen);
}

static void test_synth_loads(void **state)
{
    (void)state;
    mr_synth_params p;
    small_params(&p);
    p.n_train = 80;
    char *d = tu_tmpdir("synth-load");
    mr_err e;
    mr_synth_stats st;
    assert_int_equal(mr_synth_write(&p, d, 2, &st, &e), MR_OK);
    long vis[3] = {0, 0, 0}, kinds[3] = {0, 0, 0};
    const char *sp[2] = {"train", "val"};
    for (int s = 0; s < 2; s++) {
        char path[4300];
        snprintf(path, sizeof path, "%s/%s.json", d, sp[s]);
        mr_coco c;
        mr_coco_init(&c);
        int rc = mr_coco_load(&c, path, &e);
        if (rc) fprintf(stderr, "%s\n", e.msg);
        assert_int_equal(rc, MR_OK);
        assert_int_equal((int)c.num_images, s == 0 ? p.n_train : p.n_val);
        assert_int_equal((long)c.num_anns, st.instances[s]);
        check_split(&c, p.size, vis, kinds);
        mr_coco_free(&c);
    }
    /* the set exercises every rule: all visibilities, polygons, RLE, crowd */
    assert_true(vis[0] > 0 && vis[1] > 0 && vis[2] > 0);
    assert_true(kinds[0] > 0 && kinds[1] > 0 && kinds[2] > 0);
    assert_true(st.kp_vis[0][0] + st.kp_vis[1][0] == vis[0]);
    char buf[8192];
    mr_synth_stats_format(&p, &st, buf, sizeof buf);
    assert_non_null(strstr(buf, "keypoint visibility"));
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(tu_run(cmd, NULL, 0), 0);
    free(d);
}

/* in-memory generation agrees with itself and keeps sizes in range */
static void test_synth_image(void **state)
{
    (void)state;
    mr_synth_params p;
    small_params(&p);
    mr_err e;
    double mn = 1e9, mx = 0;
    int asp_hi = 0;
    for (int i = 0; i < 60; i++) {
        mr_synth_image_t a, b;
        assert_int_equal(mr_synth_image(&p, 0, i, &a, &e), MR_OK);
        assert_int_equal(mr_synth_image(&p, 0, i, &b, &e), MR_OK);
        assert_int_equal(a.ninst, b.ninst);
        assert_memory_equal(a.rgb, b.rgb, (size_t)p.size * p.size * 3);
        for (int k = 0; k < a.ninst; k++) {
            double ext = a.inst[k].bbox[2] > a.inst[k].bbox[3] ? a.inst[k].bbox[2] : a.inst[k].bbox[3];
            double sh = a.inst[k].bbox[2] < a.inst[k].bbox[3] ? a.inst[k].bbox[2] : a.inst[k].bbox[3];
            if (ext < mn) mn = ext;
            if (ext > mx) mx = ext;
            if (ext >= 2.5 * sh) asp_hi++;
        }
        mr_synth_image_free(&a);
        mr_synth_image_free(&b);
    }
    assert_true(mn <= 8);             /* small objects (~6 px) */
    assert_true(mx >= 0.6 * p.size);  /* up to most of the image */
    assert_true(asp_hi > 0);          /* elongated boxes */
    assert_int_equal(mr_synth_preset("huge", &p, &e), MR_EUSAGE);
    assert_non_null(strstr(e.msg, "huge"));
    p.size = 8;
    mr_synth_image_t c;
    assert_int_not_equal(mr_synth_image(&p, 0, 0, &c, &e), MR_OK);
}

static void test_synth_cli(void **state)
{
    (void)state;
    char cmd[9000], out[4096];
    snprintf(cmd, sizeof cmd, "%s synth --help", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "--preset"));
    snprintf(cmd, sizeof cmd, "%s synth --preset nope --out /tmp/x", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s synth --out /tmp/x --size 3", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s synth", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 2);
    /* an output directory that cannot be created: user error naming it */
    snprintf(cmd, sizeof cmd, "%s synth --preset tiny --out /proc/nonexistent/dir", tu_bin());
    assert_int_equal(tu_run(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "/proc/nonexistent"));
    char *d = tu_tmpdir("synth-cli");
    snprintf(cmd, sizeof cmd, "%s synth --preset tiny --train 5 --val 2 --seed 3 --out %s --stats", tu_bin(), d);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "[train] 5 images"));
    assert_non_null(strstr(out, "COCO area range"));
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    assert_int_equal(tu_run(cmd, NULL, 0), 0);
    free(d);
}

size_t tests_synth(const struct CMUnitTest **out)
{
    static const struct CMUnitTest t[] = {
        cmocka_unit_test(test_synth_identical),
        cmocka_unit_test(test_synth_loads),
        cmocka_unit_test(test_synth_image),
        cmocka_unit_test(test_synth_cli),
    };
    *out = t;
    return sizeof t / sizeof *t;
}
