/*
 * bench_roi.c — times each registered RoI extractor's forward and backward
 * for 512 RoIs of 7x7 (sampling ratio 2) on an FPN P2-sized feature map
 * (256 channels, 200 x 272: an 800 x 1088 image at stride 4), the worst case
 * of FPN where every RoI lands on P2. Built and run by scripts/bench_roi.sh;
 * prints one JSON object per line: extractor, agg, threads, forward_ms,
 * backward_ms (median of the timed repetitions after one warm-up).
 * Usage: bench_roi [threads [reps [H W]]].
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/pcg32.h"
#include "core/roi_extractor.h"
#include "variants/registry.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, reps = argc > 2 ? atoi(argv[2]) : 5;
    if (reps < 1 || reps > 100) reps = 5;
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    enum { C = 256, R = 512 };
    /* optional 3rd/4th arguments: another map size (for experiments) */
    int H = argc > 4 ? atoi(argv[3]) : 200, W = argc > 4 ? atoi(argv[4]) : 272;
    if (H < 8 || W < 8) return 2;
    const float scale = 0.25f * (float)H / 200.0f;
    size_t nf = (size_t)C * H * W, no = (size_t)R * C * 49;
    float *feat = malloc(nf * 4), *dfeat = malloc(nf * 4), *out = malloc(no * 4), *dout = malloc(no * 4);
    float *rois = malloc(R * 5 * sizeof *rois);
    int32_t *aux = malloc(no * sizeof *aux);
    if (!feat || !dfeat || !out || !dout || !rois || !aux) return 1;
    mr_pcg32 g;
    mr_pcg32_seed(&g, 1, 2);
    for (size_t i = 0; i < nf; i++) feat[i] = mr_pcg32_uniform(&g) - 0.5f;
    for (size_t i = 0; i < no; i++) dout[i] = mr_pcg32_uniform(&g) - 0.5f;
    for (int r = 0; r < R; r++) {  /* boxes of 16..224 px, the P2 range */
        float w = 16 + mr_pcg32_uniform(&g) * 208, h = 16 + mr_pcg32_uniform(&g) * 208;
        float x = mr_pcg32_uniform(&g) * (W / scale - w), y = mr_pcg32_uniform(&g) * (H / scale - h);
        float q[5] = {0, x, y, x + w, y + h};
        memcpy(rois + 5 * r, q, sizeof q);
    }
    size_t n;
    const mr_variant *v = mr_registry_entries(&n);
    for (size_t i = 0; i < n; i++) {
        if (v[i].kind != MR_VK_ROI_EXTRACTOR) continue;
        const mr_roi_extractor *x = v[i].impl;
        for (int agg = 0; agg < 2; agg++) {
            if (!(x->aggs & (1u << agg))) continue;
            mr_roi_params p = {7, 7, scale, 2, x->name[3] == 'a', (mr_roi_agg)agg};
            double f[101], b[101];
            mr_err e;
            for (int k = -1; k < reps; k++) {
                double t0 = now_ms();
                if (x->forward(&p, 1, C, H, W, feat, R, rois, out, aux, &e)) {
                    fprintf(stderr, "%s\n", e.msg);
                    return 1;
                }
                double t1 = now_ms();
                memset(dfeat, 0, nf * 4);
                double t2 = now_ms();
                x->backward(&p, 1, C, H, W, R, rois, dout, aux, dfeat);
                double t3 = now_ms();
                if (k >= 0) { f[k] = t1 - t0; b[k] = t3 - t2; }
            }
            qsort(f, reps, sizeof *f, cmp);
            qsort(b, reps, sizeof *b, cmp);
            printf("{\"extractor\": \"%s\", \"agg\": \"%s\", \"threads\": %d, \"rois\": %d, "
                   "\"channels\": %d, \"map\": [%d, %d], \"pooled\": 7, \"sampling_ratio\": 2, "
                   "\"forward_ms\": %.3f, \"backward_ms\": %.3f}\n",
                   x->name, mr_roi_agg_name(p.agg), threads, R, C, H, W, f[reps / 2], b[reps / 2]);
        }
    }
    free(feat); free(dfeat); free(out); free(dout); free(rois); free(aux);
    return 0;
}
