/*
 * cmd_eval.c — `mrcnn eval`: COCO evaluation of a results file against a
 * ground truth (bbox, segm or keypoints), pycocotools' numbers and summary
 * layout; optional per-category tables, EVAL JSON (docs/run_layout.md), PR
 * curves, and the error analysis of MatlabAPI's analyze() with its stacked
 * PR plots (--analyze). Thin driver over coco/coco.h, eval/cocoeval.h,
 * eval/analyze.h and report/plot_analyze.h.
 */
#include <getopt.h>
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "coco/coco.h"
#include "core/fileio.h"
#include "eval/analyze.h"
#include "eval/cocoeval.h"
#include "report/plot_analyze.h"

static const char *USAGE =
    "usage: mrcnn eval --gt GT.json --dt DT.json --iou bbox|segm|keypoints [options]\n"
    "\n"
    "COCO evaluation with pycocotools' semantics; prints its summary lines.\n"
    "\n"
    "  --gt FILE            ground truth (COCO instances / person_keypoints file)\n"
    "  --dt FILE            results file (array of detections)\n"
    "  --iou TYPE           bbox, segm or keypoints\n"
    "  --per-category       also print each category's AP, AP50, AP75, AR\n"
    "  --json FILE          write every number (EVAL format, docs/run_layout.md)\n"
    "  --csv FILE           per-category table as CSV\n"
    "  --markdown FILE      per-category table as Markdown\n"
    "  --pr-curves FILE     precision-recall curves with scores (gnuplot data)\n"
    "  --strict             correct pycocotools' plain bugs (docs/eval_quirks.md)\n"
    "  --threads N          evaluate with N threads (output identical to 1)\n"
    "  --iou-thrs LIST      e.g. 0.5,0.75 or 0.5:0.95:0.05 (linspace as pycocotools)\n"
    "  --max-dets LIST      e.g. 1,10,100\n"
    "  --area-rng LIST      e.g. all=0,1e10;small=0,1024;medium=1024,9216;large=9216,1e10\n"
    "  --cat-ids LIST       category ids to evaluate (default: all)\n"
    "  --img-ids LIST       image ids to evaluate (default: all)\n"
    "  --use-cats 0|1       0: ignore categories (proposal-style); default 1\n"
    "  --kpt-sigmas LIST    OKS sigmas for every category (e.g. 0.026,0.025,...)\n"
    "  --analyze DIR        error analysis as cocoapi's analyze() (bbox, segm): PR curves\n"
    "                       C75 C50 Loc Sim Oth BG FN per category and overall, printed\n"
    "                       and written to DIR (analyze.json, analyze.md, stacked PR plots)\n"
    "  --analyze-mode M     matlab (analyze() itself, default) or crowd (the python ports\n"
    "                       that mark other categories' objects iscrowd)\n"
    "  --no-plots           with --analyze: write the plot script and data, run no gnuplot\n"
    "  --gnuplot PROG       the gnuplot to run (default: from PATH, or $MRCNN_GNUPLOT)\n"
    "  --timing             print the seconds of loading and of evaluate+accumulate\n"
    "                       (+summarize) to stderr\n"
    "\n"
    "Exit codes: 0 ok, 1 bad input (message names file, record, field), 2 usage.\n";

/* OpenBLAS (pthreads build) starts its worker threads when the library is
 * loaded and lets them spin for a while; evaluation never calls BLAS, so on a
 * busy machine they only steal CPU. Stop them where the library offers it
 * (weak: absent in other BLAS builds). */
extern int blas_thread_shutdown_(void) __attribute__((weak));

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* parse "a,b,c" into doubles; returns count or -1 */
/* comma-separated finite numbers into out[0..cap): their count, -1 when
 * one is not a number, -2 when there are more than cap */
static int parse_doubles(const char *s, double *out, int cap)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !isfinite(v)) return -1;
        if (n >= cap) return -2;
        out[n++] = v;
        p = end;
        if (*p == ',') p++;
        else if (*p) return -1;
    }
    return n;
}

static int64_t *parse_ids(const char *s, size_t *n)
{
    size_t cap = 16, k = 0;
    int64_t *v = malloc(cap * sizeof *v);
    const char *p = s;
    while (v && *p) {
        char *end;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (end == p || errno == ERANGE) { free(v); return NULL; }   /* overflow is refused, not clamped */
        if (k == cap) { cap *= 2; int64_t *w = realloc(v, cap * sizeof *v); if (!w) { free(v); return NULL; } v = w; }
        v[k++] = x;
        p = end;
        if (*p == ',') p++;
        else if (*p) { free(v); return NULL; }
    }
    *n = k;
    return v;
}

int cmd_eval(int argc, char **argv)
{
    enum { O_GT = 1000, O_DT, O_IOU, O_PERCAT, O_JSON, O_CSV, O_MD, O_PR, O_STRICT, O_THREADS,
           O_IOUTHRS, O_MAXDETS, O_AREA, O_CATS, O_IMGS, O_USECATS, O_SIGMAS, O_ANALYZE, O_AMODE, O_NOPLOTS, O_GNUPLOT,
           O_TIMING, O_HELP };
    static const struct option opts[] = {
        {"gt", required_argument, 0, O_GT}, {"dt", required_argument, 0, O_DT},
        {"iou", required_argument, 0, O_IOU}, {"per-category", no_argument, 0, O_PERCAT},
        {"json", required_argument, 0, O_JSON}, {"csv", required_argument, 0, O_CSV},
        {"markdown", required_argument, 0, O_MD}, {"pr-curves", required_argument, 0, O_PR},
        {"strict", no_argument, 0, O_STRICT}, {"threads", required_argument, 0, O_THREADS},
        {"iou-thrs", required_argument, 0, O_IOUTHRS}, {"max-dets", required_argument, 0, O_MAXDETS},
        {"area-rng", required_argument, 0, O_AREA}, {"cat-ids", required_argument, 0, O_CATS},
        {"img-ids", required_argument, 0, O_IMGS}, {"use-cats", required_argument, 0, O_USECATS},
        {"kpt-sigmas", required_argument, 0, O_SIGMAS}, {"help", no_argument, 0, O_HELP},
        {"analyze", required_argument, 0, O_ANALYZE}, {"analyze-mode", required_argument, 0, O_AMODE},
        {"no-plots", no_argument, 0, O_NOPLOTS}, {"gnuplot", required_argument, 0, O_GNUPLOT},
        {"timing", no_argument, 0, O_TIMING},
        {0, 0, 0, 0}};
    if (blas_thread_shutdown_) blas_thread_shutdown_();
    const char *gtp = NULL, *dtp = NULL, *iou = NULL, *json = NULL, *csv = NULL, *md = NULL, *pr = NULL;
    const char *iouthrs = NULL, *maxdets = NULL, *area = NULL, *cats = NULL, *imgs = NULL, *sigmas = NULL;
    int percat = 0, strict = 0, threads = 1, usecats = 1, amode = MR_ANALYZE_MATLAB, noplots = 0, timing = 0;
    const char *analyze = NULL, *gnuplot = getenv("MRCNN_GNUPLOT");
    optind = 1;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (o) {
        case O_GT: gtp = optarg; break;
        case O_DT: dtp = optarg; break;
        case O_IOU: iou = optarg; break;
        case O_PERCAT: percat = 1; break;
        case O_JSON: json = optarg; break;
        case O_CSV: csv = optarg; break;
        case O_MD: md = optarg; break;
        case O_PR: pr = optarg; break;
        case O_STRICT: strict = 1; break;
        case O_THREADS: {
            long v;
            if (cli_long_arg("eval", "threads", optarg, 1, 64, &v)) return MR_EXIT_USAGE;
            threads = (int)v;
            break;
        }
        case O_IOUTHRS: iouthrs = optarg; break;
        case O_MAXDETS: maxdets = optarg; break;
        case O_AREA: area = optarg; break;
        case O_CATS: cats = optarg; break;
        case O_IMGS: imgs = optarg; break;
        case O_USECATS:
            if (strcmp(optarg, "0") && strcmp(optarg, "1")) return cli_usage_error("eval", "--use-cats: expected 0 or 1");
            usecats = optarg[0] == '1';
            break;
        case O_SIGMAS: sigmas = optarg; break;
        case O_ANALYZE: analyze = optarg; break;
        case O_AMODE:
            amode = mr_analyze_mode(optarg);
            if (amode < 0) return cli_usage_error("eval", "--analyze-mode: expected matlab or crowd, got '%s'", optarg);
            break;
        case O_NOPLOTS: noplots = 1; break;
        case O_GNUPLOT: gnuplot = optarg; break;
        case O_TIMING: timing = 1; break;
        case 'h': case O_HELP: fputs(USAGE, stdout); return MR_EXIT_OK;
        default: return cli_opt_error("eval", o, argv, opts);
        }
    }
    if (optind < argc) return cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);
    if (!gtp || !dtp || !iou) return cli_usage_error("eval", "--gt, --dt and --iou are required");
    int type = mr_eval_iou_type(iou);
    if (type < 0) return cli_usage_error("eval", "--iou: expected bbox, segm or keypoints, got '%s'", iou);
    if (analyze) {
        if (type == MR_IOU_KEYPOINTS)
            return cli_usage_error("eval", "--analyze supports --iou bbox and segm: the breakdown removes confusions "
                                           "between categories, and keypoints have one (person)");
        if (!usecats) return cli_usage_error("eval", "--analyze needs categories (--use-cats 1)");
        if (iouthrs || maxdets)
            return cli_usage_error("eval", "--analyze sets the IoU thresholds (.75, .5, .1) and maxDets (100) itself; "
                                           "drop --iou-thrs and --max-dets");
    }

    mr_eval_params p;
    mr_eval_params_default(&p, type);
    p.strict = strict;
    p.threads = threads;
    p.no_scores = !pr;   /* only the PR curves print them */
    p.use_cats = usecats;
    if (iouthrs) {
        double a, b, st;
        char tail;
        if (sscanf(iouthrs, "%lf:%lf:%lf%c", &a, &b, &st, &tail) == 3) {
            if (!(st > 0) || !(b >= a)) return cli_usage_error("eval", "--iou-thrs: bad range '%s'", iouthrs);
            int n = (int)lround((b - a) / st) + 1;
            if (n < 1 || n > MR_EVAL_MAX_T) return cli_usage_error("eval", "--iou-thrs: 1..%d thresholds", MR_EVAL_MAX_T);
            double step = n > 1 ? (b - a) / (n - 1) : 0;
            for (int i = 0; i < n; i++) p.iou_thrs[i] = (double)i * step + a;
            p.iou_thrs[n - 1] = b;
            p.T = n;
        } else {
            int n = parse_doubles(iouthrs, p.iou_thrs, MR_EVAL_MAX_T);
            if (n == -2) return cli_usage_error("eval", "--iou-thrs: at most %d thresholds", MR_EVAL_MAX_T);
            if (n < 1) return cli_usage_error("eval", "--iou-thrs: expected numbers like 0.5,0.75 or lo:hi:step, got '%s'", iouthrs);
            p.T = n;
        }
        for (int i = 0; i < p.T; i++)
            if (p.iou_thrs[i] < 0 || p.iou_thrs[i] > 1) return cli_usage_error("eval", "--iou-thrs: thresholds must be in [0, 1]");
    }
    if (maxdets) {
        double v[MR_EVAL_MAX_M];
        int n = parse_doubles(maxdets, v, MR_EVAL_MAX_M);
        if (n == -2) return cli_usage_error("eval", "--max-dets: at most %d values", MR_EVAL_MAX_M);
        if (n < 1) return cli_usage_error("eval", "--max-dets: expected integers like 1,10,100, got '%s'", maxdets);
        for (int i = 0; i < n; i++) {
            if (v[i] < 1 || v[i] != floor(v[i]) || v[i] > 1e6) return cli_usage_error("eval", "--max-dets: expected positive integers");
            p.max_dets[i] = (int)v[i];
        }
        p.M = n;
    }
    if (area) {
        int n = 0;
        char *dup = strdup(area), *save = NULL;
        for (char *tok = strtok_r(dup, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
            char *eq = strchr(tok, '=');
            double r[2];
            if (!eq || n >= MR_EVAL_MAX_A || eq - tok >= 16 || eq == tok || parse_doubles(eq + 1, r, 2) != 2 || r[1] < r[0]) {
                free(dup);
                return cli_usage_error("eval", "--area-rng: expected label=lo,hi;... got '%s'", area);
            }
            memcpy(p.area_lbl[n], tok, (size_t)(eq - tok));
            p.area_lbl[n][eq - tok] = 0;
            p.area_rng[n][0] = r[0];
            p.area_rng[n][1] = r[1];
            n++;
        }
        free(dup);
        if (!n) return cli_usage_error("eval", "--area-rng: no ranges");
        p.A = n;
    }
    int64_t *cat_ids = NULL, *img_ids = NULL;
    double sig[1024];
    if (cats) {
        cat_ids = parse_ids(cats, &p.num_cat_ids);
        if (!cat_ids || !p.num_cat_ids) { free(cat_ids); return cli_usage_error("eval", "--cat-ids: '%s' is not a list of integers like 1,2,3 (each in -2^63..2^63-1)", cats); }
        p.cat_ids = cat_ids;
    }
    if (imgs) {
        img_ids = parse_ids(imgs, &p.num_img_ids);
        if (!img_ids || !p.num_img_ids) { free(cat_ids); free(img_ids); return cli_usage_error("eval", "--img-ids: '%s' is not a list of integers like 1,2,3 (each in -2^63..2^63-1)", imgs); }
        p.img_ids = img_ids;
    }
    if (sigmas) {
        int n = parse_doubles(sigmas, sig, 1024);
        int ok = n > 0;
        for (int i = 0; ok && i < n; i++) ok = sig[i] > 0;
        if (!ok) { free(cat_ids); free(img_ids); return cli_usage_error("eval", "--kpt-sigmas: expected positive numbers"); }
        p.kpt_sigmas = sig;
        p.num_kpt_sigmas = n;
    }

    mr_err e;
    mr_err_clear(&e);
    /* --analyze DIR: where it writes and the gnuplot it runs, before the
     * evaluation (the messages of the writes and the run themselves) */
    char made[4096] = "";
    int analyzing = 0;
    if (analyze) {
        int prc = MR_OK;
        if (!noplots) {
            char prog[4096];
            prc = mr_plot_find_gnuplot(gnuplot, prog, sizeof prog, &e);
        }
        if (!prc && (strchr(analyze, '\'') || strchr(analyze, '"')))
            prc = mr_errf(&e, MR_EUSER, "%s: plot directory names with quotes are not supported", analyze);
        if (!prc) prc = mr_mkdir_p_new(analyze, made, sizeof made, &e);
        if (!prc) {
            char path[4200];
            mr_atomic_file af;
            snprintf(path, sizeof path, "%s/analyze.json", analyze);
            if (!(prc = mr_atomic_open(&af, path, &e))) mr_atomic_abort(&af);
        }
        if (prc) {
            if (made[0]) mr_remove_tree(made);
            free(cat_ids);
            free(img_ids);
            return cli_fail("eval", &e);
        }
    }
    mr_coco gt, dt;
    mr_coco_init(&gt);
    mr_coco_init(&dt);
    mr_eval ev;
    memset(&ev, 0, sizeof ev);
    /* box and keypoint evaluation never look at ground-truth masks */
    double t0 = now_s();
    /* segmentations only for segm, their polygons kept quantised (all
     * rasterising reads), the results' compressed masks checked when the
     * evaluator decodes them (once, not also on load); the results'
     * keypoints as x, y (OKS reads no v) */
    unsigned lf = (type == MR_IOU_SEGM ? MR_COCO_POLY_Q5 | MR_COCO_RES_DEFER_MASKS : MR_COCO_SKIP_SEGM) |
                  (type == MR_IOU_KEYPOINTS ? MR_COCO_RES_XY : 0);
    int rc = mr_coco_load_both(&gt, gtp, lf, &dt, dtp, threads, &e);
    if (!rc && dt.mask_size_mismatch) {
        const mr_coco_ann *a = &dt.anns[dt.first_mask_size_mismatch];
        const mr_coco_image *im = &gt.images[a->image_index];
        char msg[600];
        snprintf(msg, sizeof msg, "%s: [%zu]: field 'segmentation.size': %ux%u, but image %lld is %dx%d (height x width); "
                 "%zu result%s with masks of another size than their image", dtp, dt.first_mask_size_mismatch,
                 a->seg->rle.h, a->seg->rle.w, (long long)im->id, im->height, im->width, dt.mask_size_mismatch,
                 dt.mask_size_mismatch == 1 ? "" : "s");
        if (strict) rc = mr_errf(&e, MR_EUSER, "%s", msg);
        else fprintf(stderr, "mrcnn eval: warning: %s: they match no ground truth (IoU -1, as in pycocotools); "
                     "--strict makes this an error\n", msg);
    }
    if (!rc && analyze) rc = mr_analyze_check(&gt, &p, &e);
    double t1 = now_s();
    if (!rc) rc = mr_eval_run(&ev, &gt, &dt, &p, &e);
    if (!rc && timing)
        fprintf(stderr, "mrcnn eval: timing: load %.4f s, evaluate+accumulate %.4f s (wall, %d thread%s)\n",
                t1 - t0, now_s() - t1, threads, threads == 1 ? "" : "s");
    if (!rc) {
        char *s = mr_eval_summary(&ev);
        if (s) fputs(s, stdout);
        free(s);
        if (percat && ev.ncats) {
            printf("\nper category (area all, maxDets %d):\n%8s  %-24s %7s %7s %7s %7s\n", ev.p.max_dets[ev.p.M - 1],
                   "id", "name", "AP", "AP50", "AP75", "AR");
            for (size_t k = 0; k < ev.ncats; k++) {
                const mr_cat_result *c = &ev.cats[k];
                printf("%8lld  %-24s %7.3f %7.3f %7.3f %7.3f\n", (long long)c->id, c->name, c->ap, c->ap50, c->ap75, c->ar);
            }
        }
        fflush(stdout);
    }
    if (!rc && json) rc = mr_eval_write_json(&ev, json, &e);
    if (!rc && csv) rc = mr_eval_write_csv(&ev, csv, &e);
    if (!rc && md) rc = mr_eval_write_markdown(&ev, md, &e);
    if (!rc && pr) rc = mr_eval_write_pr(&ev, pr, &e);
    if (!rc && analyze) {
        analyzing = 1;
        mr_analyze an;
        rc = mr_analyze_run(&an, &gt, &dt, &p, amode, &e);
        if (!rc) {
            char *t = mr_analyze_table(&an);
            if (t) { printf("\n%s", t); fflush(stdout); }
            free(t);
            char path[4200];
            rc = mr_mkdir_p(analyze, &e);
            snprintf(path, sizeof path, "%s/analyze.json", analyze);
            if (!rc) rc = mr_analyze_write_json(&an, path, &e);
            snprintf(path, sizeof path, "%s/analyze.md", analyze);
            if (!rc) rc = mr_analyze_write_markdown(&an, path, &e);
            mr_plot_opts po = {.out_dir = analyze, .gnuplot = gnuplot, .no_run = noplots};
            int np = 0;
            if (!rc) rc = mr_plot_analyze(&an, &po, &np, &e);
            if (!rc && noplots) printf("wrote %s/analyze.json, analyze.md, analyze.gp and analyze.dat (--no-plots)\n", analyze);
            else if (!rc) printf("wrote %s/analyze.json, analyze.md, %d plot%s (analyze.gp)\n", analyze, np, np == 1 ? "" : "s");
            mr_analyze_free(&an);
        }
    }
    mr_eval_free(&ev);
    mr_coco_free(&dt);
    mr_coco_free(&gt);
    free(cat_ids);
    free(img_ids);
    if (rc && made[0] && !analyzing) mr_remove_tree(made);   /* made for an analysis that did not start */
    if (rc) return cli_fail("eval", &e);
    return MR_EXIT_OK;
}
