/*
 * regress.c — regression runs against a committed baseline (see regress.h).
 */
#include "harness/regress.h"
#include "harness/record.h"
#include "core/buildinfo.h"
#include "core/fileio.h"
#include "variants/config.h"
#include "eval/cocoeval.h"

#include <cblas.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const mr_regress_set SETS[] = {
    {"ci", 1, 200, 2, {"variants/configs/tiny_fpn.json", "variants/configs/tiny_fpn_mask.json"}},
    {"tiny", 1, 300, 1, {"variants/configs/tiny_fpn_mask.json"}},
};

const mr_regress_set *mr_regress_find_set(const char *name)
{
    for (size_t i = 0; i < sizeof SETS / sizeof SETS[0]; i++)
        if (!strcmp(SETS[i].name, name)) return &SETS[i];
    return NULL;
}

const char *mr_regress_set_names(void) { return "ci, tiny"; }

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double mr_regress_reference_gflops(void)
{
    enum { N = 256, REPS = 10 };
    float *a = malloc(sizeof(float) * N * N * 3);
    if (!a) return NAN;
    float *b = a + N * N, *c = b + N * N;
    for (int i = 0; i < N * N; i++) { a[i] = (float)(i % 7) * 0.1f; b[i] = (float)(i % 5) * 0.2f; }
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(1);
    double best = 1e30;
    for (int t = 0; t < 5; t++) {
        double t0 = now_s();
        for (int r = 0; r < REPS; r++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    openblas_set_num_threads(saved);
    free(a);
    return 2.0 * N * N * N * REPS / best * 1e-9;
}

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 1099511628211ULL; }
    return h;
}

/* hash of the set: name, seed, iterations and each resolved config */
static int fingerprint(const mr_regress_set *s, char *out, size_t n, mr_err *e)
{
    uint64_t h = 1469598103934665603ULL;
    char buf[64];
    h = fnv(h, s->name);
    snprintf(buf, sizeof buf, "|%ld|%ld|", s->seed, s->iters);
    h = fnv(h, buf);
    mr_config *c = calloc(1, sizeof *c);
    if (!c) return mr_errf(e, MR_ENOMEM, "out of memory");
    for (int i = 0; i < s->nconfigs; i++) {
        int rc = mr_config_load(c, s->configs[i], e);
        if (rc) { free(c); return rc; }
        cJSON *j = mr_config_to_json(c);
        cJSON_DeleteItemFromObjectCaseSensitive(j, "comment");
        char *t = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        h = fnv(fnv(h, s->configs[i]), t ? t : "");
        free(t);
    }
    free(c);
    snprintf(out, n, "%016llx", (unsigned long long)h);
    return MR_OK;
}

static const char *stem(const char *path, char *buf, size_t n)
{
    const char *b = strrchr(path, '/');
    snprintf(buf, n, "%s", b ? b + 1 : path);
    char *d = strrchr(buf, '.');
    if (d) *d = 0;
    return buf;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* run the set now: {"runs": [...]} in the baseline's format */
static int run_set(const mr_regress_opts *o, const mr_regress_set *s, double gflops, cJSON **out, mr_err *e)
{
    cJSON *runs = cJSON_CreateArray();
    int rc = MR_OK;
    for (int i = 0; i < s->nconfigs && !rc; i++) {
        char nm[128], dir[4200], p[4300];
        stem(s->configs[i], nm, sizeof nm);
        snprintf(dir, sizeof dir, "%s/%s/%s", o->runs_dir, s->name, nm);
        if ((rc = mr_mkdir_p(dir, e))) break;
        if ((rc = o->train(o->train_ctx, s->configs[i], o->data_dir, dir, s->seed, s->iters, e))) break;
        cJSON *m = NULL, *sum = NULL, *sp = NULL;
        snprintf(p, sizeof p, "%s/metrics.json", dir);
        if ((rc = mr_json_load(p, &m, e))) break;
        rc = mr_metrics_summary(m, p, &sum, e);
        cJSON_Delete(m);
        if (rc) break;
        snprintf(p, sizeof p, "%s/speed.json", dir);
        if (mr_file_exists(p) && (rc = mr_json_load(p, &sp, e))) { cJSON_Delete(sum); break; }
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "name", nm);
        cJSON_AddStringToObject(r, "config", s->configs[i]);
        cJSON_AddItemToObject(r, "metrics", sum);
        cJSON *spo = cJSON_AddObjectToObject(r, "speed"), *ratio = cJSON_AddObjectToObject(r, "speed_ratio");
        double tr = num(sp, "train_iter_per_s"), inf = num(sp, "infer_img_per_s");
        if (!isnan(tr)) { cJSON_AddNumberToObject(spo, "train_iter_per_s", tr); cJSON_AddNumberToObject(ratio, "train", tr / gflops); }
        if (!isnan(inf)) { cJSON_AddNumberToObject(spo, "infer_img_per_s", inf); cJSON_AddNumberToObject(ratio, "infer", inf / gflops); }
        cJSON_Delete(sp);
        cJSON_AddItemToArray(runs, r);
    }
    if (rc) { cJSON_Delete(runs); return rc; }
    *out = runs;
    return MR_OK;
}

typedef struct rep { char *p; size_t n, cap; } rep;
static void rep_add(rep *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rep_add(rep *r, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if ((size_t)k >= sizeof line) k = sizeof line - 1;
    if (r->n + (size_t)k + 1 > r->cap) {
        size_t nc = (r->cap + (size_t)k + 1) * 2;
        char *np = realloc(r->p, nc);
        if (!np) return;
        r->p = np;
        r->cap = nc;
    }
    memcpy(r->p + r->n, line, (size_t)k + 1);
    r->n += (size_t)k;
}

/* one number: moved when past the tolerance, when only one side has a
 * value (-1, pycocotools' "no ground truth", is no value) or when one side
 * lacks the number altogether (missing) */
static void check(rep *rp, mr_regress_result *res, const char *run, const char *what, double base, double now,
                  int speed, double tol, int missing)
{
    double d = speed ? (base > 0 ? now / base - 1 : NAN) : now - base;
    int moved = missing || isnan(base) != isnan(now) || (!isnan(d) && fabs(d) > tol);
    res->checked++;
    res->moved += moved;
    char b[32], n[32], c[32];
    if (isnan(base)) snprintf(b, sizeof b, "–"); else snprintf(b, sizeof b, speed ? "%.4g" : "%.4f", base);
    if (isnan(now)) snprintf(n, sizeof n, "–"); else snprintf(n, sizeof n, speed ? "%.4g" : "%.4f", now);
    if (isnan(d)) snprintf(c, sizeof c, "–"); else if (speed) snprintf(c, sizeof c, "%+.1f%%", 100 * d);
    else snprintf(c, sizeof c, "%+.4f", d);
    if (speed)
        rep_add(rp, "| %s | %s | %s | %s | %s | ±%.0f%% | %s |\n", run, what, b, n, c, 100 * tol,
                moved ? "**MOVED**" : "ok");
    else
        rep_add(rp, "| %s | %s | %s | %s | %s | ±%.4f | %s |\n", run, what, b, n, c, tol,
                moved ? "**MOVED**" : "ok");
}

/* A baseline's numbers, checked before anything is trained: one run per
 * config of the set, AP numbers in [0, 1] or -1 (pycocotools' "no ground
 * truth"), positive speed ratios. A damaged or hand-edited baseline is an
 * error naming the field; before, a number of the wrong type counted as
 * "moved" after the training, and a run or metrics object missing from the
 * baseline was not compared at all. */
static int check_baseline(const cJSON *base, const mr_regress_set *s, const char *path, mr_err *e)
{
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(base, "runs"), *r;
    int i = 0;
    cJSON_ArrayForEach(r, runs) {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(r, "name");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "metrics");
        const cJSON *sr = cJSON_GetObjectItemCaseSensitive(r, "speed_ratio"), *ev, *k;
        if (!cJSON_IsString(nm)) return mr_errf(e, MR_EUSER, "%s: field runs[%d].name: expected a string", path, i);
        if (!cJSON_IsObject(m) || !m->child)
            return mr_errf(e, MR_EUSER, "%s: field runs[%d].metrics: expected an object of evaluations", path, i);
        cJSON_ArrayForEach(ev, m) {
            if (!cJSON_IsObject(ev) || !ev->child)
                return mr_errf(e, MR_EUSER, "%s: field runs[%d].metrics.%.40s: expected an object of AP numbers", path, i,
                               ev->string);
            cJSON_ArrayForEach(k, ev)
                if (!cJSON_IsNumber(k) || !mr_eval_valid_metric(k->valuedouble))
                    return mr_errf(e, MR_EUSER, "%s: field runs[%d].metrics.%.40s.%.40s: expected a number in [0, 1] or -1",
                                   path, i, ev->string, k->string);
        }
        if (sr && !cJSON_IsObject(sr))
            return mr_errf(e, MR_EUSER, "%s: field runs[%d].speed_ratio: expected an object", path, i);
        cJSON_ArrayForEach(k, sr)
            if (!cJSON_IsNumber(k) || !(k->valuedouble > 0 && k->valuedouble < 1e12))
                return mr_errf(e, MR_EUSER, "%s: field runs[%d].speed_ratio.%.40s: expected a positive number", path, i,
                               k->string);
        i++;
    }
    for (int c = 0; c < s->nconfigs; c++) {
        char nm[128];
        int n = 0;
        stem(s->configs[c], nm, sizeof nm);
        cJSON_ArrayForEach(r, runs) n += !strcmp(cJSON_GetObjectItemCaseSensitive(r, "name")->valuestring, nm);
        if (n != 1)
            return mr_errf(e, MR_EUSER, "%s: field runs: expected one run named '%s' (config %s), found %d", path, nm,
                           s->configs[c], n);
    }
    return MR_OK;
}

int mr_regress_run(const mr_regress_opts *o, mr_regress_result *res, mr_err *e)
{
    memset(res, 0, sizeof *res);
    const mr_regress_set *s = mr_regress_find_set(o->set);
    if (!s) return mr_errf(e, MR_EUSER, "unknown regression set '%s' (known: %s)", o->set, mr_regress_set_names());
    char fp[32];
    int rc = fingerprint(s, fp, sizeof fp, e);
    if (rc) return rc;
    cJSON *base = NULL;
    if (!o->update) {
        if ((rc = mr_json_load(o->baseline, &base, e))) return rc;
        const cJSON *bs = cJSON_GetObjectItemCaseSensitive(base, "set");
        const cJSON *bf = cJSON_GetObjectItemCaseSensitive(base, "fingerprint");
        if (!cJSON_IsString(bs) || !cJSON_IsString(bf) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(base, "runs"))) {
            cJSON_Delete(base);
            return mr_errf(e, MR_EUSER, "%s: not a regression baseline (expected \"set\", \"fingerprint\" and \"runs\")",
                           o->baseline);
        }
        if (strcmp(bs->valuestring, s->name) || strcmp(bf->valuestring, fp)) {
            rc = mr_errf(e, MR_EUSER,
                         "%s: baseline is from config set '%s' (fingerprint %s), this run is set '%s' (fingerprint %s)%s; "
                         "regenerate it with `mrcnn regress --set %s --update --baseline %s` and commit it with the reason",
                         o->baseline, bs->valuestring, bf->valuestring, s->name, fp,
                         strcmp(bs->valuestring, s->name) ? "" : ": the set's configs, seed or iterations changed",
                         s->name, o->baseline);
            cJSON_Delete(base);
            return rc;
        }
        if ((rc = check_baseline(base, s, o->baseline, e))) { cJSON_Delete(base); return rc; }
    }
    double gflops = o->ref_gflops > 0 ? o->ref_gflops : mr_regress_reference_gflops();
    cJSON *runs = NULL;
    if ((rc = run_set(o, s, gflops, &runs, e))) { cJSON_Delete(base); return rc; }
    if (o->update) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "set", s->name);
        cJSON_AddStringToObject(b, "fingerprint", fp);
        cJSON_AddStringToObject(b, "commit", mr_git_commit());
        cJSON_AddBoolToObject(b, "dirty", mr_git_dirty());
        char date[32];
        time_t t = time(NULL);
        struct tm tmv;
        gmtime_r(&t, &tmv);
        strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tmv);
        cJSON_AddStringToObject(b, "date", date);
        mr_machine m;
        mr_machine_detect(&m, 1);
        cJSON *mj = cJSON_AddObjectToObject(b, "machine");
        cJSON_AddStringToObject(mj, "cpu", m.cpu);
        cJSON_AddStringToObject(mj, "blas_core", m.blas_core);
        cJSON *ref = cJSON_AddObjectToObject(b, "reference");
        cJSON_AddStringToObject(ref, "name", "sgemm 256x256x256, 1 thread, best of 5");
        cJSON_AddNumberToObject(ref, "gflops", gflops);
        cJSON_AddItemToObject(b, "runs", runs);
        char *txt = cJSON_Print(b);
        cJSON_Delete(b);
        if (!txt) return mr_errf(e, MR_ENOMEM, "out of memory");
        rc = mr_write_file_atomic(o->baseline, txt, strlen(txt), e);
        free(txt);
        return rc;
    }
    double ap_tol = o->ap_tol >= 0 ? o->ap_tol : MR_REGRESS_AP_EPS;
    double sp_tol = o->speed_tol >= 0 ? o->speed_tol : MR_REGRESS_SPEED_TOL;
    rep rp = {0};
    rep_add(&rp, "| run | number | baseline | now | change | tolerance | |\n| --- | --- | ---: | ---: | ---: | ---: | --- |\n");
    const cJSON *br, *nr;
    cJSON_ArrayForEach(nr, runs) {
        /* every number of either side: one the other side lacks has moved */
        const char *rn = cJSON_GetObjectItemCaseSensitive(nr, "name")->valuestring;
        cJSON_ArrayForEach(br, cJSON_GetObjectItemCaseSensitive(base, "runs"))
            if (!strcmp(cJSON_GetObjectItemCaseSensitive(br, "name")->valuestring, rn)) break;
        const cJSON *bm = cJSON_GetObjectItemCaseSensitive(br, "metrics"), *nm = cJSON_GetObjectItemCaseSensitive(nr, "metrics");
        for (int side = 0; side < 2; side++) {
            const cJSON *ev, *k, *S = side ? nm : bm, *O = side ? bm : nm;
            cJSON_ArrayForEach(ev, S) {
                const cJSON *oev = cJSON_GetObjectItemCaseSensitive(O, ev->string);
                cJSON_ArrayForEach(k, ev) {
                    const cJSON *ok = cJSON_GetObjectItemCaseSensitive(oev, k->string);
                    if (side && ok) continue;   /* compared in the first pass */
                    char what[64];
                    snprintf(what, sizeof what, "%s %s%s", ev->string, k->string,
                             ok ? "" : side ? " (not in the baseline)" : " (not measured now)");
                    double x = k->valuedouble >= 0 ? 100 * k->valuedouble : NAN;
                    double y = cJSON_IsNumber(ok) && ok->valuedouble >= 0 ? 100 * ok->valuedouble : NAN;
                    check(&rp, res, rn, what, side ? y : x, side ? x : y, 0, ap_tol, !ok);
                }
            }
        }
        if (sp_tol > 0) {
            const cJSON *bsr = cJSON_GetObjectItemCaseSensitive(br, "speed_ratio"), *nsr = cJSON_GetObjectItemCaseSensitive(nr, "speed_ratio");
            static const char *keys[] = {"train", "infer"};
            for (int q = 0; q < 2; q++)
                if (cJSON_GetObjectItemCaseSensitive(bsr, keys[q]) || cJSON_GetObjectItemCaseSensitive(nsr, keys[q])) {
                    char what[64];
                    snprintf(what, sizeof what, "%s speed / sgemm GFLOP/s", keys[q]);
                    check(&rp, res, rn, what, num(bsr, keys[q]), num(nsr, keys[q]), 1, sp_tol, 0);
                }
        }
    }
    if (sp_tol > 0)
        rep_add(&rp, "\n%d of %d numbers moved (AP in percent, tolerance ±%.4g points; speeds as a ratio to the "
                     "sgemm reference, now %.2f GFLOP/s, tolerance ±%.0f%%).\n",
                res->moved, res->checked, ap_tol, gflops, 100 * sp_tol);
    else
        rep_add(&rp, "\n%d of %d numbers moved (AP in percent, tolerance ±%.4g points; speeds not checked).\n",
                res->moved, res->checked, ap_tol);
    res->report = rp.p;
    cJSON_Delete(runs);
    cJSON_Delete(base);
    return MR_OK;
}

void mr_regress_result_free(mr_regress_result *r)
{
    free(r->report);
    memset(r, 0, sizeof *r);
}
