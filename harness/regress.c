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
#include <dirent.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

/* "ci": one FPN model with the mask branch (box and mask AP), trained for
 * 2000 iterations on the ci preset: box AP about 20, mask AP about 10, far
 * enough from zero that a regression shows (docs/regress.md). */
static const mr_regress_set SETS[] = {
    {"ci", 1, 2000, 1, {"variants/configs/ci_fpn_mask.json"}, "ci", "data/synth_ci"},
    {"tiny", 1, 300, 1, {"variants/configs/tiny_fpn_mask.json"}, "tiny", "data/synth_tiny"},
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

/* The config actually trained for config i: the set's file, or with
 * injected changes a derived config (base: the set's file) in dir. */
static int effective_config(const mr_regress_opts *o, const char *config, const char *dir, char *out, size_t n,
                            mr_err *e)
{
    if (!o->ninject) { snprintf(out, n, "%s", config); return MR_OK; }
    char abs[4096];
    if (!realpath(config, abs)) return mr_errf(e, MR_EUSER, "%s: cannot open", config);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "comment", "mrcnn regress --inject: the set's config with deliberate changes");
    cJSON_AddStringToObject(j, "base", abs);
    for (int k = 0; k < o->ninject; k++) {
        const char *eq = strchr(o->inject[k], '=');
        if (!eq || eq == o->inject[k])
            { cJSON_Delete(j); return mr_errf(e, MR_EUSAGE, "--inject '%s': expected key.path=value", o->inject[k]); }
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - o->inject[k]), o->inject[k]);
        cJSON *v = cJSON_Parse(eq + 1);
        if (!v) v = cJSON_CreateString(eq + 1);   /* a bare word: a string */
        cJSON *at = j;
        char *part = key, *dot;
        while ((dot = strchr(part, '.'))) {
            *dot = 0;
            cJSON *sub = cJSON_GetObjectItemCaseSensitive(at, part);
            if (!sub) sub = cJSON_AddObjectToObject(at, part);
            at = sub;
            part = dot + 1;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(at, part);
        cJSON_AddItemToObject(at, part, v);
    }
    snprintf(out, n, "%s/injected_config.json", dir);
    char *t = cJSON_Print(j);
    cJSON_Delete(j);
    int rc = t ? mr_write_file_atomic(out, t, strlen(t), e) : mr_errf(e, MR_ENOMEM, "out of memory");
    free(t);
    if (rc) return rc;
    /* an injected key the schema does not know is an error now, not after training */
    mr_config *c = calloc(1, sizeof *c);
    if (!c) return mr_errf(e, MR_ENOMEM, "out of memory");
    rc = mr_config_load(c, out, e);
    free(c);
    return rc;
}

typedef struct job { int cfg; long seed; char dir[4200], config[4300]; pid_t pid; } job;

/* train every job: in process one by one, or forked, o->jobs at a time (a
 * child's error message comes back through DIR/regress_error.txt) */
static int train_jobs(const mr_regress_opts *o, const mr_regress_set *s, job *J, int nj, mr_err *e)
{
    if (o->jobs <= 1) {
        for (int i = 0; i < nj; i++) {
            int rc = o->train(o->train_ctx, J[i].config, o->data_dir, J[i].dir, J[i].seed, s->iters, e);
            if (rc) return rc;
        }
        return MR_OK;
    }
    int next = 0, running = 0, first_fail = -1;
    fflush(NULL);
    while (next < nj || running) {
        while (running < o->jobs && next < nj && first_fail < 0) {
            job *j = &J[next++];
            pid_t p = fork();
            if (p < 0) { first_fail = next - 1; break; }
            if (p == 0) {
                mr_err ce = {0};
                int rc = o->train(o->train_ctx, j->config, o->data_dir, j->dir, j->seed, s->iters, &ce);
                if (rc) {
                    char ep[4400];
                    snprintf(ep, sizeof ep, "%s/regress_error.txt", j->dir);
                    FILE *f = fopen(ep, "w");
                    if (f) { fprintf(f, "%s", ce.msg); fclose(f); }
                }
                fflush(NULL);
                _exit(rc ? 1 : 0);
            }
            j->pid = p;
            running++;
        }
        if (!running) break;
        int st;
        pid_t p = wait(&st);
        if (p < 0) break;
        for (int i = 0; i < nj; i++)
            if (J[i].pid == p) {
                J[i].pid = 0;
                running--;
                if ((!WIFEXITED(st) || WEXITSTATUS(st)) && first_fail < 0) first_fail = i;
            }
    }
    if (first_fail >= 0) {
        char ep[4400], *msg = NULL;
        size_t len;
        snprintf(ep, sizeof ep, "%s/regress_error.txt", J[first_fail].dir);
        mr_err ig;
        if (mr_read_file(ep, &msg, &len, &ig) == MR_OK) {
            int rc = mr_errf(e, MR_EUSER, "%s", msg);
            free(msg);
            return rc;
        }
        return mr_errf(e, MR_EUSER, "training %s (seed %ld) into %s failed", J[first_fail].config, J[first_fail].seed,
                       J[first_fail].dir);
    }
    return MR_OK;
}

/* run the set now with nseeds seeds per config: {"runs": [...]} in the
 * baseline's format (the first seed's numbers as "metrics", and with more
 * than one seed their mean and standard deviation as "seed_stats") */
static int run_set(const mr_regress_opts *o, const mr_regress_set *s, int nseeds, double gflops, cJSON **out,
                   mr_err *e)
{
    int nj = s->nconfigs * nseeds, rc = MR_OK;
    job *J = calloc((size_t)nj, sizeof *J);
    if (!J) return mr_errf(e, MR_ENOMEM, "out of memory");
    for (int i = 0; i < s->nconfigs && !rc; i++)
        for (int k = 0; k < nseeds && !rc; k++) {
            job *j = &J[i * nseeds + k];
            char nm[128];
            stem(s->configs[i], nm, sizeof nm);
            j->cfg = i;
            j->seed = s->seed + k;
            snprintf(j->dir, sizeof j->dir, "%s/%s/%s/seed%ld", o->runs_dir, s->name, nm, j->seed);
            if (!(rc = mr_mkdir_p(j->dir, e))) rc = effective_config(o, s->configs[i], j->dir, j->config, sizeof j->config, e);
        }
    if (!rc && o->compare_only) {
        for (int i = 0; i < nj && !rc; i++) {
            char mp[4300];
            snprintf(mp, sizeof mp, "%s/metrics.json", J[i].dir);
            if (!mr_file_exists(mp))
                rc = mr_errf(e, MR_EUSER, "%s: not found: --compare-only needs the runs of an earlier `mrcnn regress "
                             "--runs %s`", mp, o->runs_dir);
        }
    } else if (!rc) rc = train_jobs(o, s, J, nj, e);
    cJSON *runs = cJSON_CreateArray();
    for (int i = 0; i < s->nconfigs && !rc; i++) {
        char nm[128], p[4300];
        stem(s->configs[i], nm, sizeof nm);
        cJSON *sums[64] = {0}, *sp = NULL;
        int ns = nseeds < 64 ? nseeds : 64;
        for (int k = 0; k < ns && !rc; k++) {
            cJSON *m = NULL;
            snprintf(p, sizeof p, "%s/metrics.json", J[i * nseeds + k].dir);
            if ((rc = mr_json_load(p, &m, e))) break;
            rc = mr_metrics_summary(m, p, &sums[k], e);
            cJSON_Delete(m);
        }
        snprintf(p, sizeof p, "%s/speed.json", J[i * nseeds].dir);
        if (!rc && mr_file_exists(p)) rc = mr_json_load(p, &sp, e);
        if (rc) { for (int k = 0; k < ns; k++) cJSON_Delete(sums[k]); break; }
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "name", nm);
        cJSON_AddStringToObject(r, "config", s->configs[i]);
        cJSON_AddItemToObject(r, "metrics", sums[0]);
        if (ns > 1) {
            cJSON *st = cJSON_AddObjectToObject(r, "seed_stats");
            const cJSON *ev, *kv;
            cJSON_ArrayForEach(ev, sums[0]) {
                cJSON *so = cJSON_AddObjectToObject(st, ev->string);
                cJSON_ArrayForEach(kv, ev) {
                    double sum = 0, sq = 0;
                    int n = 0;
                    for (int k = 0; k < ns; k++) {
                        double v = num(cJSON_GetObjectItemCaseSensitive(sums[k], ev->string), kv->string);
                        if (isnan(v) || v < 0) continue;   /* -1: no ground truth */
                        sum += 100 * v;
                        sq += 1e4 * v * v;
                        n++;
                    }
                    cJSON *o1 = cJSON_AddObjectToObject(so, kv->string);
                    double mean = n ? sum / n : -1, var = n > 1 ? (sq - n * mean * mean) / (n - 1) : 0;
                    cJSON_AddNumberToObject(o1, "mean", mean);
                    cJSON_AddNumberToObject(o1, "std", var > 0 ? sqrt(var) : 0);
                    cJSON_AddNumberToObject(o1, "n", n);
                }
            }
            cJSON *sd = cJSON_AddArrayToObject(r, "seeds");
            for (int k = 0; k < ns; k++) cJSON_AddItemToArray(sd, cJSON_CreateNumber((double)(s->seed + k)));
        }
        for (int k = 1; k < ns; k++) cJSON_Delete(sums[k]);
        cJSON *spo = cJSON_AddObjectToObject(r, "speed"), *ratio = cJSON_AddObjectToObject(r, "speed_ratio");
        double tr = num(sp, "train_iter_per_s"), inf = num(sp, "infer_img_per_s");
        if (!isnan(tr)) { cJSON_AddNumberToObject(spo, "train_iter_per_s", tr); cJSON_AddNumberToObject(ratio, "train", tr / gflops); }
        if (!isnan(inf)) { cJSON_AddNumberToObject(spo, "infer_img_per_s", inf); cJSON_AddNumberToObject(ratio, "infer", inf / gflops); }
        cJSON_Delete(sp);
        cJSON_AddItemToArray(runs, r);
    }
    free(J);
    if (rc) { cJSON_Delete(runs); return rc; }
    *out = runs;
    return MR_OK;
}

void mr_regress_class_slug(const char *class_id, char *out, size_t n)
{
    size_t k = 0;
    int dash = 0;
    for (const char *c = class_id; *c && k + 1 < n; c++) {
        char ch = *c;
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.') { out[k++] = ch; dash = 0; }
        else if (ch >= 'A' && ch <= 'Z') { out[k++] = (char)(ch - 'A' + 'a'); dash = 0; }
        else if (!dash && k) { out[k++] = '-'; dash = 1; }
    }
    while (k && out[k - 1] == '-') k--;
    out[k] = 0;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *machine_class_of(const cJSON *base)
{
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(base, "machine"), "class");
    return cJSON_IsString(c) ? c->valuestring : "";
}

static int seeds_of(const cJSON *base)
{
    const cJSON *r = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(base, "runs"), 0);
    return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(r, "seeds"));
}

/* pick the baseline: a file as given; in a folder, the one of this machine
 * class, else the one with the most seeds (names sorted for ties) */
static int pick_baseline(const char *path, const char *cls, char *out, size_t n, mr_err *e)
{
    if (!is_dir(path)) { snprintf(out, n, "%s", path); return MR_OK; }
    DIR *d = opendir(path);
    if (!d) return mr_errf(e, MR_EUSER, "%s: cannot open the baseline folder", path);
    struct dirent *de;
    char best[4096] = "";
    int best_seeds = -1, exact = 0;
    char names[64][256];
    int nn = 0;
    while ((de = readdir(d)) && nn < 64) {
        size_t l = strlen(de->d_name);
        if (l > 5 && !strcmp(de->d_name + l - 5, ".json")) snprintf(names[nn++], 256, "%s", de->d_name);
    }
    closedir(d);
    for (int i = 0; i < nn; i++)
        for (int j = i + 1; j < nn; j++)
            if (strcmp(names[j], names[i]) < 0) { char t[256]; memcpy(t, names[i], 256); memcpy(names[i], names[j], 256); memcpy(names[j], t, 256); }
    for (int i = 0; i < nn && !exact; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%.3800s/%.255s", path, names[i]);
        cJSON *b = NULL;
        mr_err ig;
        if (mr_json_load(p, &b, &ig)) continue;
        int ns = seeds_of(b);
        if (!strcmp(machine_class_of(b), cls)) { snprintf(best, sizeof best, "%s", p); exact = 1; }
        else if (ns > best_seeds) { snprintf(best, sizeof best, "%s", p); best_seeds = ns; }
        cJSON_Delete(b);
    }
    if (!best[0]) return mr_errf(e, MR_EUSER, "%s: no baseline (*.json) in the folder; make one with --update", path);
    snprintf(out, n, "%s", best);
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
        rep_add(rp, "| %s | %s | %s | %s | %s | ±%.0f%% | – | %s |\n", run, what, b, n, c, 100 * tol,
                moved ? "**MOVED**" : "ok");
    else
        rep_add(rp, "| %s | %s | %s | %s | %s | ±%.4f | – | %s |\n", run, what, b, n, c, tol,
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

/* the statistical verdict for one number: moved when it leaves the band */
static int band_check(const cJSON *stats, const char *ev, const char *k, double now, double K, double floor_,
                      char *txt, size_t n)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(stats, ev), k);
    double mean = num(o, "mean"), sd = num(o, "std"), cnt = num(o, "n");
    if (!o || isnan(mean) || mean < 0 || !(cnt >= 2)) { snprintf(txt, n, "–"); return -1; }
    /* an area range's number (APs, APm, APl, ARs, ...) rests on a subset of
     * the objects: its seed noise is larger than 4 seeds' std shows (bbox APs
     * of the ci set on OpenBLAS Cooperlake left the Prescott band by 0.3 of
     * 3.3 points with no change of code), so its floor is doubled */
    size_t kl = strlen(k);
    int area = kl == 3 && (k[0] == 'A') && (k[2] == 's' || k[2] == 'm' || k[2] == 'l');
    double w = fmax(K * sd, area ? 2 * floor_ : floor_);
    int moved = isnan(now) || fabs(now - mean) > w;
    snprintf(txt, n, "%.2f ± %.2f%s", mean, w, moved ? " **out**" : "");
    return moved;
}

static void write_date(char *date, size_t n)
{
    time_t t = time(NULL);
    struct tm tmv;
    gmtime_r(&t, &tmv);
    strftime(date, n, "%Y-%m-%dT%H:%M:%SZ", &tmv);
}

int mr_regress_run(const mr_regress_opts *o, mr_regress_result *res, mr_err *e)
{
    memset(res, 0, sizeof *res);
    const mr_regress_set *s = mr_regress_find_set(o->set);
    if (!s) return mr_errf(e, MR_EUSER, "unknown regression set '%s' (known: %s)", o->set, mr_regress_set_names());
    const char *mode = o->mode ? o->mode : "auto";
    if (strcmp(mode, "auto") && strcmp(mode, "exact") && strcmp(mode, "stat"))
        return mr_errf(e, MR_EUSAGE, "--mode '%s': expected auto, exact or stat", mode);
    if (o->update && o->ninject)
        return mr_errf(e, MR_EUSAGE, "--inject makes a deliberately changed set: it cannot --update a baseline");
    char fp[32];
    int rc = fingerprint(s, fp, sizeof fp, e);
    if (rc) return rc;
    mr_machine mach;
    mr_machine_detect(&mach, 1);
    const char *cls = o->class_id ? o->class_id : mach.class_id;
    cJSON *base = NULL;
    char bpath[4096];
    if (!o->update) {
        if ((rc = pick_baseline(o->baseline, cls, bpath, sizeof bpath, e))) return rc;
        snprintf(res->baseline_used, sizeof res->baseline_used, "%s", bpath);
        if ((rc = mr_json_load(bpath, &base, e))) return rc;
        const cJSON *bs = cJSON_GetObjectItemCaseSensitive(base, "set");
        const cJSON *bf = cJSON_GetObjectItemCaseSensitive(base, "fingerprint");
        if (!cJSON_IsString(bs) || !cJSON_IsString(bf) || !cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(base, "runs"))) {
            cJSON_Delete(base);
            return mr_errf(e, MR_EUSER, "%s: not a regression baseline (expected \"set\", \"fingerprint\" and \"runs\")",
                           bpath);
        }
        if (strcmp(bs->valuestring, s->name) || strcmp(bf->valuestring, fp)) {
            rc = mr_errf(e, MR_EUSER,
                         "%s: baseline is from config set '%s' (fingerprint %s), this run is set '%s' (fingerprint %s)%s; "
                         "regenerate it with `mrcnn regress --set %s --update --seeds 4 --baseline %s` and commit it with the reason",
                         bpath, bs->valuestring, bf->valuestring, s->name, fp,
                         strcmp(bs->valuestring, s->name) ? "" : ": the set's configs, seed or iterations changed",
                         s->name, o->baseline);
            cJSON_Delete(base);
            return rc;
        }
        if ((rc = check_baseline(base, s, bpath, e))) { cJSON_Delete(base); return rc; }
    }
    double gflops = o->ref_gflops > 0 ? o->ref_gflops : mr_regress_reference_gflops();
    int nseeds = o->update && o->seeds > 0 ? o->seeds : 1;
    cJSON *runs = NULL;
    if ((rc = run_set(o, s, nseeds, gflops, &runs, e))) { cJSON_Delete(base); return rc; }
    if (o->update) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "set", s->name);
        cJSON_AddStringToObject(b, "fingerprint", fp);
        cJSON_AddStringToObject(b, "commit", mr_git_commit());
        cJSON_AddBoolToObject(b, "dirty", mr_git_dirty());
        char date[32];
        write_date(date, sizeof date);
        cJSON_AddStringToObject(b, "date", date);
        cJSON *mj = mr_machine_json(&mach);
        if (o->class_id) {
            cJSON_DeleteItemFromObjectCaseSensitive(mj, "class");
            cJSON_AddStringToObject(mj, "class", o->class_id);
        }
        cJSON_AddItemToObject(b, "machine", mj);
        cJSON *ref = cJSON_AddObjectToObject(b, "reference");
        cJSON_AddStringToObject(ref, "name", "sgemm 256x256x256, 1 thread, best of 5");
        cJSON_AddNumberToObject(ref, "gflops", gflops);
        cJSON_AddItemToObject(b, "runs", runs);
        char *txt = cJSON_Print(b);
        cJSON_Delete(b);
        if (!txt) return mr_errf(e, MR_ENOMEM, "out of memory");
        char out[4096];
        if (is_dir(o->baseline)) {
            char slug[400];
            mr_regress_class_slug(cls, slug, sizeof slug);
            snprintf(out, sizeof out, "%.3600s/%.400s.json", o->baseline, slug);
        } else snprintf(out, sizeof out, "%.4000s", o->baseline);
        snprintf(res->baseline_used, sizeof res->baseline_used, "%s", out);
        rc = mr_write_file_atomic(out, txt, strlen(txt), e);
        free(txt);
        return rc;
    }
    const char *bcls = machine_class_of(base);
    int exact = !strcmp(mode, "exact") || (!strcmp(mode, "auto") && !strcmp(bcls, cls));
    res->exact = exact;
    double ap_tol = o->ap_tol >= 0 ? o->ap_tol : MR_REGRESS_AP_EPS;
    double sp_tol = o->speed_tol >= 0 ? o->speed_tol : MR_REGRESS_SPEED_TOL;
    double K = o->band_k > 0 ? o->band_k : MR_REGRESS_BAND_K, F = o->band_floor > 0 ? o->band_floor : MR_REGRESS_BAND_FLOOR;
    if (!exact && !seeds_of(base)) {
        cJSON_Delete(runs);
        cJSON_Delete(base);
        return mr_errf(e, MR_EUSER,
                       "%s: made on machine class '%s', this machine is '%s', and the baseline has no seed statistics "
                       "to compare across classes: make one with `mrcnn regress --update --seeds 4`", bpath, bcls, cls);
    }
    rep rp = {0};
    if (exact)
        rep_add(&rp, "Comparison: **exact** (this machine's class equals the baseline's: %s); baseline %s.\n\n", cls, bpath);
    else
        rep_add(&rp, "Comparison: **statistical** (this machine: %s; baseline %s made on: %s, %d seeds): a number moves "
                     "when it leaves mean ± max(%.1f std, %.2f points); speeds are not compared across classes.\n\n",
                cls, bpath, bcls, seeds_of(base), K, F);
    for (int k = 0; k < o->ninject; k++) rep_add(&rp, "Injected (a test of the gate): `%s`\n\n", o->inject[k]);
    rep_add(&rp, "| run | number | baseline | now | change | tolerance | seed band | |\n"
                 "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
    const cJSON *br, *nr;
    cJSON_ArrayForEach(nr, runs) {
        const char *rn = cJSON_GetObjectItemCaseSensitive(nr, "name")->valuestring;
        cJSON_ArrayForEach(br, cJSON_GetObjectItemCaseSensitive(base, "runs"))
            if (!strcmp(cJSON_GetObjectItemCaseSensitive(br, "name")->valuestring, rn)) break;
        const cJSON *bm = cJSON_GetObjectItemCaseSensitive(br, "metrics"), *nm = cJSON_GetObjectItemCaseSensitive(nr, "metrics");
        const cJSON *bst = cJSON_GetObjectItemCaseSensitive(br, "seed_stats");
        /* every number of either side: one the other side lacks has moved */
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
                    double b = side ? y : x, now = side ? x : y;
                    double d = now - b;
                    int em = !ok || isnan(b) != isnan(now) || (!isnan(d) && fabs(d) > ap_tol);
                    char band[64];
                    int bm_ = band_check(bst, ev->string, k->string, now, K, F, band, sizeof band);
                    if (bm_ >= 0) { res->band_checked++; res->band_moved += bm_; }
                    int moved;
                    if (exact) { res->checked++; moved = em; }
                    else if (bm_ >= 0) { res->checked++; moved = bm_; }
                    else if (!ok) { res->checked++; moved = 1; }
                    else moved = 0;   /* no band (e.g. -1 on both sides): not gated across classes */
                    res->moved += moved;
                    char bs_[32], ns_[32], cs[32];
                    if (isnan(b)) snprintf(bs_, sizeof bs_, "–"); else snprintf(bs_, sizeof bs_, "%.4f", b);
                    if (isnan(now)) snprintf(ns_, sizeof ns_, "–"); else snprintf(ns_, sizeof ns_, "%.4f", now);
                    if (isnan(d)) snprintf(cs, sizeof cs, "–"); else snprintf(cs, sizeof cs, "%+.4f", d);
                    rep_add(&rp, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", rn, what, bs_, ns_, cs,
                            exact ? "exact" : "band", band, moved ? "**MOVED**" : "ok");
                }
            }
        }
        if (sp_tol > 0 && exact) {
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
    if (exact)
        rep_add(&rp, "\n%d of %d numbers moved (exact: AP in percent within ±%.4g points%s). Seed band: %d of %d "
                     "numbers outside it.\n", res->moved, res->checked, ap_tol,
                sp_tol > 0 ? "; speeds as a ratio to the sgemm reference" : "; speeds not checked",
                res->band_moved, res->band_checked);
    else
        rep_add(&rp, "\n%d of %d numbers moved (statistical: outside the seed band).\n", res->moved, res->checked);
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
