/*
 * bench.c — the benchmark suites of `mrcnn bench` (see bench.h): one
 * function per suite and the table `suites` (name, function, help) at the
 * end; the command line (cli/cmd_bench.c) only parses arguments and prints
 * what the suites hand to its print callback.
 *
 * Suite conv: conv2d forward and backward GFLOP/s on the ResNet-50-FPN
 * shapes at 800x1088, batch 1 (the MR_LC_BENCH_CONV rows of the one layer
 * case table, core/layer_cases.c), next to OpenBLAS sgemm on a 2048^3
 * product in the same run; target: forward >= 75% of sgemm on every shape.
 * Times are the best over interleaved rounds (each round: sgemm once, then
 * every shape forward and backward once), so that on a shared machine a
 * burst of load hits all figures alike. Backward computes all of dinp, dw
 * (and db). Progress goes to stderr, the table (or --json) to stdout.
 *
 * Suite detector: training iterations/s and inference images/s of configs
 * (default the bench_fpn, bench_c4, bench_c5 configs) at 1 and --threads
 * (default 2) threads, with the per-stage breakdown, by
 * harness/speed.h's mr_speed_bench: the fps protocol of
 * docs/run_layout.md (warm-up, timed iterations, batch, threads, BLAS core
 * and threading, CPU, input size), 1 and N threads interleaved in rounds,
 * medians reported. Data: --data DIR, or 64/32 images of the bench preset
 * generated into a temporary folder.
 */
#include "harness/bench.h"

#include "core/buildinfo.h"
#include "core/fileio.h"
#include "core/layer_cases.h"
#include "core/winograd.h"
#include "datasets/synth.h"
#include "harness/speed.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* text to the caller's print callback (the table: to_stderr 0; progress: 1) */
static void vemit(const mr_bench_opts *o, int to_stderr, const char *fmt, va_list ap)
{
    if (!o->print) return;
    char small[1024];
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(small, sizeof small, fmt, aq);
    va_end(aq);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        o->print(o->print_ctx, to_stderr, small);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) return;
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    o->print(o->print_ctx, to_stderr, big);
    free(big);
}

static void out(const mr_bench_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(const mr_bench_opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemit(o, 0, fmt, ap);
    va_end(ap);
}

static void err_out(const mr_bench_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void err_out(const mr_bench_opts *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vemit(o, 1, fmt, ap);
    va_end(ap);
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void cpu_name(char *buf, size_t n)
{
    snprintf(buf, n, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c++;
                while (*c == ' ') c++;
                c[strcspn(c, "\n")] = 0;
                snprintf(buf, n, "%s", c);
            }
            break;
        }
    fclose(f);
}

/* the 1-minute load average (-1 when unknown): recorded next to the figures,
 * since the machine may be shared */
static double load_avg(void)
{
    double l = -1.0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1.0;
        fclose(f);
    }
    return l;
}

/* Write text to DIR/NAME (atomically). */
static int write_out(const mr_bench_opts *ctx, const char *name, const char *text, mr_err *e)
{
    char path[4096];
    int rc = mr_mkdir_p(ctx->out_dir, e);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/%s", ctx->out_dir, name);
    return mr_write_file_atomic(path, text, strlen(text), e);
}

/* SUITE.json (js plus a final newline) and SUITE.md into --out */
static int write_suite(const mr_bench_opts *ctx, const char *suite, const char *js, const char *md, mr_err *e)
{
    size_t jl = strlen(js);
    char *jsn = malloc(jl + 2), name[64];
    if (!jsn) return mr_errf(e, MR_ENOMEM, "bench %s: out of memory", suite);
    memcpy(jsn, js, jl);
    jsn[jl] = '\n';
    jsn[jl + 1] = 0;
    snprintf(name, sizeof name, "%s.json", suite);
    int rc = write_out(ctx, name, jsn, e);
    free(jsn);
    snprintf(name, sizeof name, "%s.md", suite);
    if (!rc) rc = write_out(ctx, name, md, e);
    return rc;
}

/* ---- suite conv ---- */

typedef struct { int n; float *a, *b, *c; } sgemm_arg;

static void run_sgemm(void *p)
{
    sgemm_arg *s = p;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->n, s->n, s->n, 1.0f, s->a, s->n, s->b,
                s->n, 0.0f, s->c, s->n);
}


static int suite_conv(const mr_bench_opts *ctx, mr_err *e)
{
    /* Interleaved rounds: each round times sgemm once and every conv row
     * once forward and once backward; the best of each over the rounds is
     * kept. On a shared machine a burst of load then hits all measurements
     * alike instead of one of them, so the ratios stay fair. */
    sgemm_arg sg = {2048, NULL, NULL, NULL};
    const size_t nn = (size_t)sg.n * sg.n;
    sg.a = malloc(nn * sizeof(float));
    sg.b = malloc(nn * sizeof(float));
    sg.c = malloc(nn * sizeof(float));
    if (!sg.a || !sg.b || !sg.c) {
        free(sg.a); free(sg.b); free(sg.c);
        return mr_errf(e, MR_ENOMEM, "bench conv: cannot allocate the 2048x2048 matrices");
    }
    for (size_t i = 0; i < nn; i++) { sg.a[i] = (float)(i % 13) * 0.1f - 0.6f; sg.b[i] = (float)(i % 7) * 0.1f - 0.3f; }
    const double sgemm_flop = 2.0 * sg.n * (double)sg.n * sg.n;
    const double load0 = load_avg();

    enum { MAXROWS = 32 };
    const mr_lcase *rowc[MAXROWS];
    mr_lcase_run runs[MAXROWS];
    double tf[MAXROWS], tb[MAXROWS], tsg = 1e30;
    int nrows = 0, rc = MR_OK, rounds = 0;
    for (size_t k = 0; k < mr_layer_ncases && nrows < MAXROWS; k++) {
        const mr_lcase *c = &mr_layer_cases[k];
        if (!(c->flags & MR_LC_BENCH_CONV)) continue;
        if (ctx->filter && !strstr(c->name, ctx->filter)) continue;
        if ((rc = mr_lcase_setup(c, &runs[nrows], 1u + k, e))) break;
        rowc[nrows] = c;
        tf[nrows] = tb[nrows] = 1e30;
        nrows++;
    }
    if (!rc) {
        const double start = now_sec();
        for (int round = 0;; round++) {  /* round 0 warms up and is not counted */
            double t0 = now_sec();
            run_sgemm(&sg);
            double t = now_sec() - t0;
            if (round && t < tsg) tsg = t;
            for (int i = 0; i < nrows; i++) {
                t0 = now_sec();
                mr_lcase_forward(&runs[i]);
                t = now_sec() - t0;
                if (round && t < tf[i]) tf[i] = t;
                t0 = now_sec();
                mr_lcase_backward(&runs[i]);
                t = now_sec() - t0;
                if (round && t < tb[i]) tb[i] = t;
            }
            if (!ctx->json) err_out(ctx, "  round %d done (%.0f s)\n", round, now_sec() - start);
            rounds = round;
            if (round >= 3 && now_sec() - start >= ctx->min_sec * (2.0 * nrows + 1.0)) break;
        }
    }
    for (int i = 0; i < nrows; i++) mr_lcase_free(&runs[i]);
    free(sg.a); free(sg.b); free(sg.c);
    if (rc) return rc;
    const double sgemm_gf = sgemm_flop / tsg * 1e-9;

    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    cJSON *root = cJSON_CreateObject(), *rows = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "suite", "conv");
    cJSON_AddNumberToObject(root, "threads", ctx->threads);
    cJSON_AddStringToObject(root, "cpu", cpu);
    cJSON_AddStringToObject(root, "blas_core", mr_blas_core());
    cJSON_AddStringToObject(root, "commit", mr_git_commit());
    cJSON_AddStringToObject(root, "timing", "best over interleaved rounds (each: sgemm once, "
                            "every shape forward and backward once); >= 3 rounds and >= min_sec per measurement");
    cJSON_AddNumberToObject(root, "rounds", rounds);
    cJSON_AddNumberToObject(root, "min_sec", ctx->min_sec);
    if (ctx->filter) cJSON_AddStringToObject(root, "filter", ctx->filter);
    cJSON_AddNumberToObject(root, "load_avg_1min_start", load0);
    cJSON_AddNumberToObject(root, "load_avg_1min_end", load_avg());
    cJSON_AddNumberToObject(root, "sgemm_n", sg.n);
    cJSON_AddNumberToObject(root, "sgemm_gflops", sgemm_gf);
    cJSON_AddNumberToObject(root, "target_fwd_pct_of_sgemm", 75);

    char md[8192];
    size_t ml = 0;
    ml += (size_t)snprintf(md + ml, sizeof md - ml,
                           "# conv2d benchmark (ResNet-50-FPN shapes at 800x1088, batch 1)\n\n"
                           "cpu: %s, OpenBLAS core %s, %d thread(s), commit %s, load average %.2f at start\n\n"
                           "sgemm 2048x2048x2048: **%.1f GFLOP/s**. Target: forward >= 75%% of it. "
                           "Best of %d interleaved rounds (sgemm, then every shape forward and backward). "
                           "GFLOP/s count a direct convolution's multiply-adds; the 3x3 stride-1 convs with "
                           "16 to 256 channels run as Winograd F(2x2,3x3) (core/winograd.h), which does 2.25x "
                           "fewer, so those rows can pass 100%% of sgemm.\n\n"
                           "| shape | cin->cout | k/s | input | algorithm | fwd ms | fwd GFLOP/s | %% sgemm | bwd ms | bwd GFLOP/s | %% sgemm |\n"
                           "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
                           cpu, mr_blas_core(), ctx->threads, mr_git_commit(), load0, sgemm_gf, rounds);
    if (!ctx->json)
        out(ctx, "sgemm 2048^3: %.1f GFLOP/s (%d thread%s, best of %d rounds)\n"
               "%-28s %9s %8s %6s %9s %8s %6s\n", sgemm_gf,
               ctx->threads, ctx->threads == 1 ? "" : "s", rounds, "shape", "fwd ms", "GFLOP/s", "%sgemm",
               "bwd ms", "GFLOP/s", "%sgemm");
    int all_ok = 1;
    for (int i = 0; i < nrows; i++) {
        const mr_lcase *c = rowc[i];
        const double ff = mr_lcase_flops(c, 0), fb = mr_lcase_flops(c, 1);
        const double gf = ff / tf[i] * 1e-9, gb = fb / tb[i] * 1e-9;
        const double pf = 100.0 * gf / sgemm_gf, pb = 100.0 * gb / sgemm_gf;
        if (pf < 75.0) all_ok = 0;
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, "name", c->name);
        cJSON_AddNumberToObject(row, "cin", c->c);
        cJSON_AddNumberToObject(row, "cout", c->cout);
        cJSON_AddNumberToObject(row, "k", c->kh);
        cJSON_AddNumberToObject(row, "stride", c->sh);
        cJSON_AddNumberToObject(row, "H", c->h);
        cJSON_AddNumberToObject(row, "W", c->w);
        const char *algo = mr_wino_eligible(c->c, c->cout, c->kh, c->kw, c->sh, c->sw, c->ph, c->pw, c->dh, c->dw)
                               ? "winograd"
                               : c->kh == 1 && c->kw == 1 && c->sh == 1 && c->sw == 1 && c->ph == 0 ? "1x1 direct"
                                                                                                    : "im2col";
        cJSON_AddStringToObject(row, "algorithm", algo);
        cJSON_AddNumberToObject(row, "fwd_gflop", ff * 1e-9);
        cJSON_AddNumberToObject(row, "fwd_ms", tf[i] * 1e3);
        cJSON_AddNumberToObject(row, "fwd_gflops", gf);
        cJSON_AddNumberToObject(row, "fwd_pct_sgemm", pf);
        cJSON_AddNumberToObject(row, "bwd_ms", tb[i] * 1e3);
        cJSON_AddNumberToObject(row, "bwd_gflops", gb);
        cJSON_AddNumberToObject(row, "bwd_pct_sgemm", pb);
        cJSON_AddItemToArray(rows, row);
        if (!ctx->json)
            out(ctx, "%-28s %9.2f %8.1f %5.0f%% %9.2f %8.1f %5.0f%%\n", c->name, tf[i] * 1e3, gf, pf,
                   tb[i] * 1e3, gb, pb);
        ml += (size_t)snprintf(md + ml, sizeof md - ml,
                               "| %s | %d->%d | %dx%d/%d | %dx%d | %s | %.2f | %.1f | %.0f%% | %.2f | %.1f | %.0f%% |\n",
                               c->name, c->c, c->cout, c->kh, c->kw, c->sh, c->h, c->w, algo, tf[i] * 1e3, gf, pf,
                               tb[i] * 1e3, gb, pb);
        if (ml >= sizeof md) ml = sizeof md - 1;
    }
    cJSON_AddItemToObject(root, "shapes", rows);
    cJSON_AddBoolToObject(root, "all_fwd_meet_target", all_ok);
    ml += (size_t)snprintf(md + ml, sizeof md - ml,
                           "\nAll forward shapes at >= 75%% of sgemm: **%s**. Backward = dinp + dw (+ db), "
                           "twice the forward FLOPs. Times: best of >= 3 runs; the machine may be shared, "
                           "so treat single figures as noisy.\n", all_ok ? "yes" : "no");
    if (ml >= sizeof md) ml = sizeof md - 1;
    char *js = cJSON_Print(root);
    if (!js) rc = mr_errf(e, MR_ENOMEM, "bench conv: cannot format JSON");
    if (!rc && ctx->json) out(ctx, "%s\n", js);
    if (!rc && !ctx->json) out(ctx, "forward >= 75%% of sgemm on every shape: %s\n", all_ok ? "yes" : "no");
    if (!rc && ctx->out_dir) rc = write_suite(ctx, "conv", js, md, e);
    free(js);
    cJSON_Delete(root);
    return rc;
}

/* ---- suite detector ---- */

/* the bench preset's distribution, few images: what the timing needs */
static int bench_data(char *dir, size_t n, mr_err *e)
{
    snprintf(dir, n, "/tmp/mrcnn-bench-det-XXXXXX");
    if (!mkdtemp(dir)) return mr_errf(e, MR_EIO, "bench detector: cannot create a temporary folder");
    mr_synth_params p;
    int rc = mr_synth_preset("bench", &p, e);
    if (rc) return rc;
    p.n_train = 64;
    p.n_val = 32;
    return mr_synth_write(&p, dir, 2, NULL, e);
}

static void rm_rf(const mr_bench_opts *ctx, const char *dir)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd)) err_out(ctx, "bench detector: could not remove %s\n", dir);
}

/* the stem of a config path (variants/configs/bench_fpn.json -> bench_fpn) */
static void stem(const char *path, char *out, size_t n)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, n, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot && !strcmp(dot, ".json")) *dot = 0;
}

static int suite_detector(const mr_bench_opts *ctx, mr_err *e)
{
    static const char *const defaults[] = {"variants/configs/bench_fpn.json", "variants/configs/bench_c4.json",
                                           "variants/configs/bench_c5.json"};
    const char *const *cfgs = ctx->nconfigs ? ctx->configs : defaults;
    const int ncfg = ctx->nconfigs ? ctx->nconfigs : 3;
    char tmp[256] = "", data_note[512];
    const char *data = ctx->data;
    int rc = MR_OK;
    if (!data) {
        if (!ctx->json) err_out(ctx, "  generating 64 train / 32 val images of the bench preset\n");
        if ((rc = bench_data(tmp, sizeof tmp, e))) { if (*tmp) rm_rf(ctx, tmp); return rc; }
        data = tmp;
        snprintf(data_note, sizeof data_note, "synthetic bench preset (128x128), 64 train / 32 val images");
    } else {
        snprintf(data_note, sizeof data_note, "%s", data);
    }
    mr_speed_opts o;
    memset(&o, 0, sizeof o);
    o.warmup = ctx->warmup;
    o.iters = ctx->iters;
    o.rounds = ctx->rounds;
    o.nthreads = 2;
    o.threads[0] = 1;
    o.threads[1] = ctx->threads > 1 ? ctx->threads : 2;
    const double load0 = load_avg();
    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    cJSON *root = cJSON_CreateObject(), *runs = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "suite", "detector");
    cJSON_AddStringToObject(root, "data", data_note);
    cJSON_AddStringToObject(root, "cpu", cpu);
    cJSON_AddStringToObject(root, "blas_core", mr_blas_core());
    cJSON_AddStringToObject(root, "commit", mr_git_commit());
    cJSON_AddNumberToObject(root, "load_avg_1min_start", load0);
    char md[16384];
    size_t ml = 0;
    ml += (size_t)snprintf(md + ml, sizeof md - ml,
                           "# Detector speed (mrcnn bench detector; fps protocol of docs/run_layout.md)\n\n"
                           "Data: %s. cpu: %s, OpenBLAS core %s, commit %s, load average %.2f at start.\n"
                           "Protocol: per thread count its own detector (same initial weights and batches); "
                           "%d warm-up training iterations and inference batches, then %d rounds of %d training "
                           "iterations and %d inference batches per thread count, 1 and %d threads interleaved "
                           "(order reversed every other round); figures are medians over the rounds. Train: the "
                           "step only (batches prefetched). Infer: detector + post-processing incl. mask pasting "
                           "and RLE encoding, data loading excluded. Stage times: infer per image, train per "
                           "iteration (forward + backward).\n\n"
                           "| config | threads | input | batch | BLAS threading | train it/s | infer img/s | "
                           "infer ms/img: backbone | RPN | RoI extract | heads | post | mask paste | "
                           "train ms/it: backbone | RPN | RoI extract | heads |\n"
                           "|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
                           data_note, cpu, mr_blas_core(), mr_git_commit(), load0, o.warmup, o.rounds, o.iters,
                           o.iters, o.threads[1]);
    if (!ctx->json)
        out(ctx, "%-12s %3s %9s %10s %11s   infer ms/img: bb / rpn / roi / heads / post+paste   train ms/it: bb / rpn / roi / heads\n",
               "config", "thr", "input", "train it/s", "infer img/s");
    double speedup[16][2];
    for (int k = 0; k < ncfg && !rc; k++) {
        char name[128];
        stem(cfgs[k], name, sizeof name);
        if (!ctx->json) err_out(ctx, "  %s: %d rounds at %d and %d threads\n", name, o.rounds, o.threads[0], o.threads[1]);
        mr_fps f[2];
        if ((rc = mr_speed_bench(cfgs[k], data, &o, f, e))) { mr_err_prefix(e, "bench detector: %s", cfgs[k]); break; }
        if (k < 16) {
            speedup[k][0] = f[0].train_iter_per_s > 0 ? f[1].train_iter_per_s / f[0].train_iter_per_s : 0;
            speedup[k][1] = f[0].infer_img_per_s > 0 ? f[1].infer_img_per_s / f[0].infer_img_per_s : 0;
        }
        for (int j = 0; j < 2; j++) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddStringToObject(r, "config", name);
            cJSON_AddStringToObject(r, "config_path", cfgs[k]);
            cJSON_AddNumberToObject(r, "threads", f[j].threads);
            cJSON_AddItemToObject(r, "speed", mr_fps_json(&f[j]));
            cJSON_AddItemToArray(runs, r);
            const mr_stage_ms *im = &f[j].infer_ms, *tm = &f[j].train_ms;
            if (!ctx->json)
                out(ctx, "%-12s %3d %4dx%-4d %10.2f %11.1f   %.2f / %.2f / %.2f / %.2f / %.3f+%.3f   %.1f / %.1f / %.1f / %.1f\n",
                       name, f[j].threads, f[j].input_h, f[j].input_w, f[j].train_iter_per_s, f[j].infer_img_per_s,
                       im->backbone, im->rpn, im->roi_extract, im->heads, im->postprocess, im->mask_paste,
                       tm->backbone, tm->rpn, tm->roi_extract, tm->heads);
            ml += (size_t)snprintf(md + ml, sizeof md - ml,
                                   "| %s | %d | %dx%d | %d | %s | %.2f | %.1f | %.2f | %.2f | %.2f | %.2f | %.3f | %.3f | "
                                   "%.1f | %.1f | %.1f | %.1f |\n",
                                   name, f[j].threads, f[j].input_h, f[j].input_w, f[j].batch, f[j].blas_threading,
                                   f[j].train_iter_per_s, f[j].infer_img_per_s, im->backbone, im->rpn, im->roi_extract,
                                   im->heads, im->postprocess, im->mask_paste, tm->backbone, tm->rpn, tm->roi_extract,
                                   tm->heads);
            if (ml >= sizeof md) ml = sizeof md - 1;
        }
    }
    if (*tmp) rm_rf(ctx, tmp);
    if (rc) { cJSON_Delete(root); return rc; }
    cJSON_AddItemToObject(root, "runs", runs);
    cJSON_AddNumberToObject(root, "load_avg_1min_end", load_avg());
    ml += (size_t)snprintf(md + ml, sizeof md - ml, "\n%d threads vs 1:", o.threads[1]);
    for (int k = 0; k < ncfg && k < 16; k++) {
        char name[128];
        stem(cfgs[k], name, sizeof name);
        ml += (size_t)snprintf(md + ml, sizeof md - ml, " %s train x%.2f, infer x%.2f;", name, speedup[k][0],
                               speedup[k][1]);
        if (ml >= sizeof md) ml = sizeof md - 1;
    }
    ml += (size_t)snprintf(md + ml, sizeof md - ml,
                           " load average %.2f at the end. On a shared machine the figures are noisy; the "
                           "interleaving and medians make the 1-vs-%d comparison fair, not the absolute numbers.\n",
                           load_avg(), o.threads[1]);
    if (ml >= sizeof md) ml = sizeof md - 1;
    char *js = cJSON_Print(root);
    cJSON_Delete(root);
    if (!js) return mr_errf(e, MR_ENOMEM, "bench detector: cannot format JSON");
    if (ctx->json) out(ctx, "%s\n", js);
    if (ctx->out_dir) rc = write_suite(ctx, "detector", js, md, e);
    free(js);
    return rc;
}

static const mr_bench_suite suites[] = {
    {"conv", suite_conv, "conv2d forward/backward GFLOP/s on ResNet-50-FPN shapes vs sgemm 2048^3"},
    {"detector", suite_detector, "train it/s and infer img/s at 1 and N threads, per stage (fps protocol)"},
};

const mr_bench_suite *mr_bench_suites(size_t *n)
{
    *n = sizeof suites / sizeof suites[0];
    return suites;
}

const mr_bench_suite *mr_bench_find(const char *name)
{
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
        if (!strcmp(suites[i].name, name)) return &suites[i];
    return NULL;
}

void mr_bench_opts_default(mr_bench_opts *o)
{
    memset(o, 0, sizeof *o);
    o->threads = 1;
    o->min_sec = 1.0;
    o->warmup = 3;
    o->iters = 10;
    o->rounds = 5;
}
