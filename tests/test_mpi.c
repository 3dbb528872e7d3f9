/*
 * test_mpi.c — the mpi group: data-parallel training (core/dist.h,
 * `mpirun -np K mrcnn train`).
 *
 * Always run: the shard split, the replay of the samplers' draws
 * (mr_sample_balanced_counts advances the rng exactly as mr_sample_balanced),
 * the one-process communicator, the record's world_size.
 *
 * With an MPI build and mpirun on the PATH (else skipped with a message;
 * also skipped under ASan, where Open MPI's own allocations read as leaks),
 * end to end through the binary, K = 2 ranks on the 2 cores:
 *  - the losses of K = 2 equal one process's at the same global batch over
 *    the first 8 iterations to a relative 1e-4 (every logged loss term). Not
 *    bitwise: each rank sums its own images' gradients inside the layers
 *    (GEMMs over its half of the batch) and the halves are added after, so
 *    the float additions run in another order (measured: at most 5e-6 over
 *    10 iterations). Later a one-ulp weight difference moves a proposal
 *    across an IoU threshold, the sampled RoIs change, and the two runs
 *    drift apart like two seeds do (so the final AP is compared with the
 *    seed noise instead);
 *  - the same with keypoints (the keypoint loss is normalised by the global
 *    count of visible keypoints, an extra exchange);
 *  - mpirun -np 1 is bitwise the plain process;
 *  - two K = 2 runs are bitwise identical (weights, metrics), and their box
 *    AP is within the seed noise of one process's (3 seeds);
 *  - --resume with K = 2 gives the uninterrupted run's weights; a checkpoint
 *    of K = 2 resumed by one process (and the reverse) fails naming both;
 *  - a rank killed with SIGKILL ends the job (no hang, non-zero exit);
 *  - an image whose body cannot be decoded, on one rank's shard, ends every
 *    rank with one message naming the file and the rank;
 *  - more ranks than images in a batch: one message (rank 0's), exit 2;
 *  - a diverged loss: every rank stops at the same iteration, one message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <math.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "core/boxes.h"
#include "core/dist.h"
#include "core/fileio.h"
#include "core/pcg32.h"
#include "harness/record.h"
#include "tests/test_detector.h"
#include "tests/test_util.h"

/* ---- always ---- */

static void test_split(void **st)
{
    (void)st;
    int lo, n, total = 0, prev = 0;
    for (int r = 0; r < 3; r++) {
        mr_dist_split(8, 3, r, &lo, &n);
        assert_int_equal(lo, prev);
        assert_true(n == 2 || n == 3);
        prev = lo + n;
        total += n;
    }
    assert_int_equal(total, 8);
    mr_dist_split(4, 1, 0, &lo, &n);
    assert_int_equal(lo, 0);
    assert_int_equal(n, 4);
    mr_dist_split(4, 4, 3, &lo, &n);
    assert_int_equal(lo, 3);
    assert_int_equal(n, 1);
}

/* the replay draws what the sampler draws: same counts, same rng after */
static void test_sample_replay(void **st)
{
    (void)st;
    mr_pcg32 g;
    mr_pcg32_seed(&g, 7, 1);
    int labels[500], pos[256], neg[256];
    for (int trial = 0; trial < 200; trial++) {
        int n = 1 + (int)mr_pcg32_bounded(&g, 500), batch = 1 + (int)mr_pcg32_bounded(&g, 256), P = 0, Q = 0;
        int pmode = (int)mr_pcg32_bounded(&g, 3);
        for (int i = 0; i < n; i++) {
            uint32_t u = mr_pcg32_bounded(&g, 100);
            labels[i] = pmode == 0 ? (u < 2 ? 1 : u < 90 ? 0 : -1) : pmode == 1 ? (u < 60 ? 2 : -1) : (u < 30 ? 1 : 0);
            P += labels[i] >= 1;
            Q += labels[i] == 0;
        }
        mr_pcg32 a, b;
        mr_pcg32_seed(&a, (uint64_t)trial, 3);
        b = a;
        int np = 0, nn = 0, cp = -1, cn = -1;
        mr_sample_balanced(n, labels, batch, 0.25f, &a, pos, &np, neg, &nn);
        mr_sample_balanced_counts(P, Q, batch, 0.25f, &b, &cp, &cn);
        assert_int_equal(np, cp);
        assert_int_equal(nn, cn);
        assert_true(a.state == b.state && a.inc == b.inc);
    }
}

static void test_single_comm(void **st)
{
    (void)st;
    mr_dist d;
    mr_err e;
    assert_int_equal(mr_dist_init(&d, 0, &e), MR_OK);
    assert_int_equal(mr_dist_rank(&d), 0);
    assert_int_equal(mr_dist_size(&d), 1);
    assert_int_equal(mr_dist_size(NULL), 1);
    float v[3] = {1.5f, -2.0f, 3.25f};
    assert_int_equal(mr_dist_sum_f32(&d, v, 3, &e), MR_OK);
    assert_true(v[0] == 1.5f && v[1] == -2.0f && v[2] == 3.25f);
    int32_t in[4] = {1, 2, 3, 4}, out[4] = {0};
    mr_shard sh = {&d, 0, 2};
    assert_int_equal(mr_shard_gather(&sh, in, 2, 2, out, &e), MR_OK);
    assert_memory_equal(in, out, sizeof in);
    long sum = 0;
    assert_int_equal(mr_shard_sum_int(&sh, 5, &sum, &e), MR_OK);
    assert_int_equal(sum, 5);
    mr_errf(&e, MR_EUSER, "x");
    assert_int_equal(mr_dist_agree(&d, MR_EUSER, &e), MR_EUSER);
    assert_int_equal(mr_dist_agree(&d, MR_OK, &e), MR_OK);
    assert_int_equal(mr_dist_barrier(&d, &e), MR_OK);
    mr_dist_finish(&d);
}

static void test_record_world(void **st)
{
    (void)st;
    cJSON *r = cJSON_Parse("{\"machine\": {\"class\": \"x86_64 cpu avx2, 1 thread\"}}");
    mr_record_set_world(r, 1);
    const cJSON *m = cJSON_GetObjectItem(r, "machine");
    assert_int_equal((int)cJSON_GetObjectItem(r, "world_size")->valuedouble, 1);
    assert_string_equal(cJSON_GetObjectItem(m, "class")->valuestring, "x86_64 cpu avx2, 1 thread");
    mr_record_set_world(r, 2);
    m = cJSON_GetObjectItem(r, "machine");
    assert_int_equal((int)cJSON_GetObjectItem(m, "world_size")->valuedouble, 2);
    assert_string_equal(cJSON_GetObjectItem(m, "class")->valuestring, "x86_64 cpu avx2, 1 thread, 2 ranks");
    cJSON_Delete(r);
}

/* ---- end to end over MPI ---- */

static const char *cwd(void)
{
    static char b[4096];
    return getcwd(b, sizeof b) ? b : ".";
}

static char *g_dir, *g_td, *g_syn;   /* work folder, the td dataset, the synthetic tiny preset */
static int g_ok = -1;                /* -1 not tried, 0 skipped, 1 ready */
static char g_why[256];

#define MPIRUN "timeout 120 mpirun --allow-run-as-root --oversubscribe --mca btl self,vader"

static int setup_mpi(void **st)
{
    (void)st;
    if (g_ok >= 0) return 0;
    g_ok = 0;
    if (strcmp(mr_dist_impl(), "mpi")) {
        snprintf(g_why, sizeof g_why, "built without MPI (install libopenmpi-dev, or run make deps, and rebuild)");
        return 0;
    }
    if (tu_asan()) {
        snprintf(g_why, sizeof g_why, "under ASan (Open MPI's own allocations read as leaks)");
        return 0;
    }
    if (tu_run("command -v mpirun >/dev/null", NULL, 0) != 0) {
        snprintf(g_why, sizeof g_why, "no mpirun on the PATH (apt-get install openmpi-bin)");
        return 0;
    }
    g_dir = tu_tmpdir("mpi");
    if (!g_dir) return -1;
    char p[4200], cmd[8192];
    snprintf(p, sizeof p, "%s/td", g_dir);
    g_td = strdup(p);
    snprintf(p, sizeof p, "%s/syn", g_dir);
    g_syn = strdup(p);
    if (mr_mkdir_p(g_td, NULL) || td_write_dataset(g_td, 120, 30, 64, 1)) return -1;
    snprintf(cmd, sizeof cmd, "%s synth --out %s --preset tiny >/dev/null", tu_bin(), g_syn);
    if (tu_run(cmd, NULL, 0) != 0) return -1;
    /* configs: logged every iteration, checkpoints every 10 */
    const char *base[3] = {"tiny_fpn", "tiny_fpn_mask", "tiny_fpn_kp"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s.json", g_dir, base[i]);
        FILE *f = fopen(p, "w");
        if (!f) return -1;
        fprintf(f, "{\"base\": \"%s/variants/configs/%s.json\", \"name\": \"%s\", "
                   "\"schedule\": {\"log_every\": 1, \"checkpoint_every\": 10}}", cwd(), base[i], base[i]);
        fclose(f);
    }
    snprintf(p, sizeof p, "%s/batch2.json", g_dir);
    FILE *f = fopen(p, "w");
    if (!f) return -1;
    fprintf(f, "{\"base\": \"%s/variants/configs/tiny_fpn.json\", \"schedule\": {\"batch_size\": 2}}", cwd());
    fclose(f);
    snprintf(p, sizeof p, "%s/diverge.json", g_dir);
    if (!(f = fopen(p, "w"))) return -1;
    fprintf(f, "{\"base\": \"%s/variants/configs/tiny_fpn.json\", \"schedule\": {\"lr\": 10, \"warmup_iters\": 0}}", cwd());
    fclose(f);
    g_ok = 1;
    return 0;
}

#define NEED_MPI() do { if (g_ok != 1) { print_message("mpi: skipped: %s\n", g_why); skip(); } } while (0)

/* `mrcnn train` on one process (np 0) or under mpirun -np np; returns the
 * exit status, out gets the output */
static int train(int np, const char *cfg, const char *data, const char *run, const char *extra, char *out,
                 size_t outn)
{
    char cmd[16384];
    if (np > 0)
        snprintf(cmd, sizeof cmd, MPIRUN " -np %d %s train --config %s/%s.json --data %s --out %s/%s --quiet %s",
                 np, tu_bin(), g_dir, cfg, data, g_dir, run, extra ? extra : "");
    else
        snprintf(cmd, sizeof cmd, "timeout 120 %s train --config %s/%s.json --data %s --out %s/%s --quiet %s", tu_bin(),
                 g_dir, cfg, data, g_dir, run, extra ? extra : "");
    char buf[16384];
    int rc = tu_run(cmd, out ? out : buf, out ? outn : sizeof buf);
    if (rc && !out) print_message("%s\n%s\n", cmd, buf);
    return rc;
}

static int same(const char *run_a, const char *run_b, const char *file)
{
    char a[4200], b[4200];
    snprintf(a, sizeof a, "%s/%s/%s", g_dir, run_a, file);
    snprintf(b, sizeof b, "%s/%s/%s", g_dir, run_b, file);
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    if (mr_read_file(a, &x, &nx, NULL) || mr_read_file(b, &y, &ny, NULL)) { free(x); free(y); return 0; }
    int s = nx == ny && !memcmp(x, y, nx);
    free(x);
    free(y);
    return s;
}

static cJSON *load_json(const char *run, const char *file)
{
    char p[4200], *buf = NULL;
    size_t n = 0;
    snprintf(p, sizeof p, "%s/%s/%s", g_dir, run, file);
    if (mr_read_file(p, &buf, &n, NULL)) return NULL;
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    return j;
}

static double box_ap(const char *run)
{
    cJSON *j = load_json(run, "metrics.json");
    const cJSON *m = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "bbox"), "metrics"), "AP");
    double v = cJSON_IsNumber(m) ? m->valuedouble : -1;
    cJSON_Delete(j);
    return v;
}

/* the largest relative difference of any loss term over the first n logged
 * iterations of two runs */
static double loss_diff(const char *ra, const char *rb, int n)
{
    char pa[4200], pb[4200];
    snprintf(pa, sizeof pa, "%s/%s/train_log.jsonl", g_dir, ra);
    snprintf(pb, sizeof pb, "%s/%s/train_log.jsonl", g_dir, rb);
    FILE *fa = fopen(pa, "r"), *fb = fopen(pb, "r");
    double worst = -1;
    char la[4096], lb[4096];
    int k = 0;
    while (fa && fb && k < n && fgets(la, sizeof la, fa) && fgets(lb, sizeof lb, fb)) {
        cJSON *a = cJSON_Parse(la), *b = cJSON_Parse(lb);
        const cJSON *x;
        if (worst < 0) worst = 0;
        cJSON_ArrayForEach(x, a) {
            if (strncmp(x->string, "loss", 4)) continue;
            const cJSON *y = cJSON_GetObjectItem(b, x->string);
            if (!cJSON_IsNumber(y)) { worst = INFINITY; continue; }
            double d = fabs(x->valuedouble - y->valuedouble) / fmax(fabs(x->valuedouble), 1e-6);
            if (d > worst) worst = d;
        }
        cJSON_Delete(a);
        cJSON_Delete(b);
        k++;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return k == n ? worst : -1;
}

static void losses_equal(const char *cfg)
{
    char a[64], b[64];
    snprintf(a, sizeof a, "%s_k1", cfg);
    snprintf(b, sizeof b, "%s_k2", cfg);
    assert_int_equal(train(0, cfg, g_syn, a, "--iters 10", NULL, 0), 0);
    assert_int_equal(train(2, cfg, g_syn, b, "--iters 10", NULL, 0), 0);
    double d = loss_diff(a, b, 8);
    if (getenv("MRCNN_TEST_VERBOSE")) fprintf(stderr, "%s: K=2 vs 1 process, 8 iterations: max rel. loss diff %.3g\n", cfg, d);
    if (!(d >= 0 && d <= 1e-4)) print_error("%s: K=2 vs one process: relative loss difference %g > 1e-4\n", cfg, d);
    assert_true(d >= 0 && d <= 1e-4);
    /* the record and speed.json name the ranks */
    cJSON *r = load_json(b, "record.json"), *s = load_json(b, "speed.json");
    assert_non_null(r);
    assert_non_null(s);
    assert_int_equal((int)cJSON_GetObjectItem(r, "world_size")->valuedouble, 2);
    assert_int_equal((int)cJSON_GetObjectItem(cJSON_GetObjectItem(r, "machine"), "threads")->valuedouble, 1);
    const cJSON *p = cJSON_GetObjectItem(s, "protocol");
    assert_int_equal((int)cJSON_GetObjectItem(p, "world_size")->valuedouble, 2);
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(s, "train_stages_ms"), "grad_sum"));
    cJSON_Delete(r);
    cJSON_Delete(s);
}

static void test_losses_equal_mask(void **st) { (void)st; NEED_MPI(); losses_equal("tiny_fpn_mask"); }
static void test_losses_equal_kp(void **st) { (void)st; NEED_MPI(); losses_equal("tiny_fpn_kp"); }

static void test_np1_bitwise(void **st)
{
    (void)st;
    NEED_MPI();
    assert_int_equal(train(0, "tiny_fpn_mask", g_syn, "np0", "--iters 12", NULL, 0), 0);
    assert_int_equal(train(1, "tiny_fpn_mask", g_syn, "np1", "--iters 12", NULL, 0), 0);
    assert_true(same("np0", "np1", "model_final.safetensors"));
    assert_true(same("np0", "np1", "metrics.json"));
}

/* two K = 2 runs bitwise; box AP within the seed noise of one process */
static void test_reproducible_ap(void **st)
{
    (void)st;
    NEED_MPI();
    assert_int_equal(train(2, "tiny_fpn", g_td, "ap_k2", NULL, NULL, 0), 0);
    assert_int_equal(train(2, "tiny_fpn", g_td, "ap_k2b", NULL, NULL, 0), 0);
    const char *files[] = {"model_final.safetensors", "metrics.json", "results_val.json",
                           "checkpoint_0000010.safetensors"};
    for (int i = 0; i < 4; i++) {
        if (!same("ap_k2", "ap_k2b", files[i])) print_error("%s differs between two K=2 runs\n", files[i]);
        assert_true(same("ap_k2", "ap_k2b", files[i]));
    }
    double ap[3], mean = 0, var = 0;
    for (int s = 0; s < 3; s++) {
        char run[32], ex[32];
        snprintf(run, sizeof run, "ap_k1_s%d", s + 1);
        snprintf(ex, sizeof ex, "--seed %d", s + 1);
        assert_int_equal(train(0, "tiny_fpn", g_td, run, ex, NULL, 0), 0);
        ap[s] = box_ap(run);
        mean += ap[s] / 3;
    }
    for (int s = 0; s < 3; s++) var += (ap[s] - mean) * (ap[s] - mean) / 2;
    double sd = sqrt(var), k2 = box_ap("ap_k2"), band = 3 * sd + 0.01;
    if (getenv("MRCNN_TEST_VERBOSE"))
        fprintf(stderr, "box AP: one process %.4f %.4f %.4f (sd %.4f), K=2 seed 1 %.4f\n", ap[0], ap[1], ap[2], sd, k2);
    if (!(fabs(k2 - ap[0]) <= band) || !(k2 > 0.10))
        print_error("K=2 box AP %.4f vs one process %.4f (seeds: %.4f %.4f %.4f, sd %.4f): outside 3 sd + 0.01 "
                    "or under the floor 0.10\n", k2, ap[0], ap[0], ap[1], ap[2], sd);
    assert_true(fabs(k2 - ap[0]) <= band);
    assert_true(k2 > 0.10);
}

static void rm(const char *run, const char *file)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s/%s", g_dir, run, file);
    remove(p);
}

static void test_resume(void **st)
{
    (void)st;
    NEED_MPI();
    char out[16384];
    assert_int_equal(train(2, "tiny_fpn", g_td, "res_k2", "--iters 20", NULL, 0), 0);
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "cp -r %s/res_k2 %s/res_k2b", g_dir, g_dir);
    assert_int_equal(system(cmd), 0);
    /* the same K from iteration 10: the uninterrupted run's weights */
    const char *drop[] = {"record.json", "checkpoint_0000020.safetensors", "model_final.safetensors", "metrics.json"};
    for (int i = 0; i < 4; i++) rm("res_k2b", drop[i]);
    assert_int_equal(train(2, "tiny_fpn", g_td, "res_k2b", "--iters 20 --resume", NULL, 0), 0);
    assert_true(same("res_k2", "res_k2b", "model_final.safetensors"));
    assert_true(same("res_k2", "res_k2b", "metrics.json"));
    /* K = 2's checkpoint resumed by one process */
    for (int i = 0; i < 4; i++) rm("res_k2b", drop[i]);
    int rc = train(0, "tiny_fpn", g_td, "res_k2b", "--iters 20 --resume", out, sizeof out);
    if (rc != 1 || !strstr(out, "checkpoint_0000010.safetensors: checkpoint written by a run on 2 processes, this run has 1"))
        print_error("rc %d: %s\n", rc, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "written by a run on 2 processes, this run has 1"));
    /* one process's checkpoint resumed by K = 2: the message once, from rank 0 */
    assert_int_equal(train(0, "tiny_fpn", g_td, "res_k1", "--iters 20", NULL, 0), 0);
    for (int i = 0; i < 4; i++) rm("res_k1", drop[i]);
    rc = train(2, "tiny_fpn", g_td, "res_k1", "--iters 20 --resume", out, sizeof out);
    if (rc != 1 || !strstr(out, "written by a run on 1 process, this run has 2")) print_error("rc %d: %s\n", rc, out);
    assert_int_equal(rc, 1);
    const char *m = strstr(out, "written by a run on 1 process");
    assert_non_null(m);
    assert_null(strstr(m + 1, "written by a run on 1 process"));
}

/* a rank killed with SIGKILL: the job ends (no hang), non-zero */
static void test_kill_rank(void **st)
{
    (void)st;
    NEED_MPI();
    char cmd[8192], out[16384];
    snprintf(cmd, sizeof cmd,
             "cd %s && (mpirun --allow-run-as-root --oversubscribe --mca btl self,vader -np 2 %s train "
             "--config tiny_fpn.json --data %s --out kill --iters 100000 --quiet > kill.log 2>&1 & M=$!; "
             "for i in $(seq 300); do [ -s kill/train_log.jsonl ] && break; sleep 0.1; done; "
             "k=0; for p in $(pgrep -P $M); do tr '\\0' '\\n' < /proc/$p/environ | grep -qx OMPI_COMM_WORLD_RANK=1 "
             "&& kill -9 $p && k=1; done; echo killed=$k; "
             "t=0; while kill -0 $M 2>/dev/null && [ $t -lt 300 ]; do sleep 0.1; t=$((t+1)); done; "
             "if kill -0 $M 2>/dev/null; then echo HANG; kill -9 $M; pkill -9 -P $M; fi; wait $M; echo rc=$?; "
             "cat kill.log)",
             g_dir, tu_bin(), g_td);
    assert_int_equal(tu_run(cmd, out, sizeof out), 0);
    if (!strstr(out, "killed=1") || strstr(out, "HANG") || strstr(out, "rc=0\n")) print_error("%s\n", out);
    assert_non_null(strstr(out, "killed=1"));
    assert_null(strstr(out, "HANG"));
    assert_null(strstr(out, "rc=0\n"));
    assert_non_null(strstr(out, "rank 1"));
}

/* an image that cannot be decoded, on one rank's shard */
static void test_bad_image(void **st)
{
    (void)st;
    NEED_MPI();
    char cmd[8192], out[16384];
    snprintf(cmd, sizeof cmd, "cp -r %s %s/td_bad && truncate -s 200 %s/td_bad/train_0005.png", g_td, g_dir, g_dir);
    assert_int_equal(system(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/td_bad", g_dir);
    int rc = train(2, "tiny_fpn", cmd, "bad", "--iters 40", out, sizeof out);
    if (rc == 0 || rc == 124 || !strstr(out, "train_0005.png") || !strstr(out, "mrcnn train: rank "))
        print_error("rc %d: %s\n", rc, out);
    assert_true(rc != 0 && rc != 124);
    assert_non_null(strstr(out, "mrcnn train: rank "));
    const char *m = strstr(out, "train_0005.png");
    assert_non_null(m);
}

/* more ranks than images: every rank fails alike, rank 0 says it once */
static void test_too_many_ranks(void **st)
{
    (void)st;
    NEED_MPI();
    char out[16384];
    int rc = train(3, "batch2", g_td, "many", "--iters 5", out, sizeof out);
    const char *m = strstr(out, "3 ranks for a batch of 2 images");
    if (rc != 2 || !m) print_error("rc %d: %s\n", rc, out);
    assert_int_equal(rc, 2);
    assert_non_null(m);
    assert_null(strstr(m + 1, "3 ranks for a batch of 2 images"));
}

/* a diverged loss: every rank sees it in the summed loss; one message */
static void test_diverged(void **st)
{
    (void)st;
    NEED_MPI();
    char out[16384];
    int rc = train(2, "diverge", g_td, "div", "--iters 30", out, sizeof out);
    const char *m = strstr(out, "training diverged");
    if (rc != 1 || !m) print_error("rc %d: %s\n", rc, out);
    assert_int_equal(rc, 1);
    assert_non_null(m);
    assert_null(strstr(m + 1, "training diverged"));
    assert_null(strstr(out, "MPI_ABORT"));
}

static int teardown_mpi(void **st)
{
    (void)st;
    return 0;
}

#define M(f) cmocka_unit_test_setup_teardown(f, setup_mpi, teardown_mpi)

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_split),
    cmocka_unit_test(test_sample_replay),
    cmocka_unit_test(test_single_comm),
    cmocka_unit_test(test_record_world),
    M(test_losses_equal_mask),
    M(test_losses_equal_kp),
    M(test_np1_bitwise),
    M(test_reproducible_ap),
    M(test_resume),
    M(test_kill_rank),
    M(test_bad_image),
    M(test_too_many_ranks),
    M(test_diverged),
};

size_t tests_mpi(const struct CMUnitTest **out)
{
    *out = tests;
    return sizeof tests / sizeof tests[0];
}
