/*
 * compare.c — differences between two runs or seed groups (see compare.h).
 */
#include "harness/compare.h"
#include "harness/record.h"
#include "core/fileio.h"
#include "report/table.h"
#include "eval/cocoeval.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXS 64

/* one side: the metrics.json (and speed.json) of each seed */
typedef struct side { int n; cJSON *m[MAXS]; cJSON *sp[MAXS]; char *dir[MAXS]; } side;

static void side_free(side *s)
{
    for (int i = 0; i < s->n; i++) { cJSON_Delete(s->m[i]); cJSON_Delete(s->sp[i]); free(s->dir[i]); }
    s->n = 0;
}

static int load_one(side *s, const char *dir, mr_err *e)
{
    char p[4200];
    if (s->n >= MAXS) return mr_errf(e, MR_EUSER, "%s: more than %d seeds", dir, MAXS);
    snprintf(p, sizeof p, "%s/metrics.json", dir);
    int rc = mr_json_load(p, &s->m[s->n], e);
    if (rc) return rc;
    if (!cJSON_IsObject(s->m[s->n])) {
        cJSON_Delete(s->m[s->n]);
        return mr_errf(e, MR_EUSER, "%s: expected an object {\"bbox\": EVAL, ...}", p);
    }
    s->sp[s->n] = NULL;
    snprintf(p, sizeof p, "%s/speed.json", dir);
    if (mr_file_exists(p) && (rc = mr_json_load(p, &s->sp[s->n], e))) {
        cJSON_Delete(s->m[s->n]);
        return rc;
    }
    if (!(s->dir[s->n] = strdup(dir))) {
        cJSON_Delete(s->m[s->n]);
        cJSON_Delete(s->sp[s->n]);
        return mr_errf(e, MR_ENOMEM, "out of memory");
    }
    s->n++;
    return MR_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int load_side(side *s, const char *run, mr_err *e)
{
    memset(s, 0, sizeof *s);
    char p[4200];
    snprintf(p, sizeof p, "%s/metrics.json", run);
    if (mr_file_exists(p)) return load_one(s, run, e);
    DIR *d = opendir(run);
    if (!d) return mr_errf(e, MR_EIO, "%s: not a run directory (no metrics.json) nor a folder of runs", run);
    char *names[MAXS];
    int nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) && nn < MAXS) {
        if (de->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s/metrics.json", run, de->d_name);
        if (mr_file_exists(p)) names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)nn, sizeof *names, cmp_str);
    int rc = nn ? MR_OK : mr_errf(e, MR_EUSER, "%s: no metrics.json in it or in its subfolders (a finished run?)", run);
    for (int i = 0; i < nn; i++) {
        snprintf(p, sizeof p, "%s/%s", run, names[i]);
        if (!rc) rc = load_one(s, p, e);
        free(names[i]);
    }
    if (rc) side_free(s);
    return rc;
}

/* value of (iou_type, key) in seed i, in AP points (NaN where absent or
 * -1): category NULL = summary metric. A value that is not an AP (a number
 * in [0, 1], or -1 for "no ground truth") is an error naming the file and
 * the field, not a metric that "moved". */
static int get(const side *s, int i, const char *iou, const char *cat, const char *key, double *out, mr_err *e)
{
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(s->m[i], iou);
    const cJSON *v = NULL;
    char field[200];
    if (!cat) {
        v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev, "metrics"), key);
        snprintf(field, sizeof field, "%s.metrics.%s", iou, key);
    } else {
        const cJSON *c;
        int k = 0;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(ev, "per_category")) {
            const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "name");
            if (cJSON_IsString(nm) && !strcmp(nm->valuestring, cat)) { v = cJSON_GetObjectItemCaseSensitive(c, key); break; }
            k++;
        }
        snprintf(field, sizeof field, "%s.per_category[%d].%s", iou, k, key);
    }
    *out = NAN;
    if (!v) return MR_OK;
    if (!cJSON_IsNumber(v) || !mr_eval_valid_metric(v->valuedouble))
        return mr_errf(e, MR_EUSER, "%s/metrics.json: field %s: expected a number in [0, 1] or -1", s->dir[i], field);
    if (v->valuedouble >= 0) *out = 100 * v->valuedouble;
    return MR_OK;
}

static void stats(const double *x, int n, double *m, double *s, int *k)
{
    double a = 0, b = 0;
    *k = 0;
    for (int i = 0; i < n; i++) if (!isnan(x[i])) { a += x[i]; (*k)++; }
    *m = *k ? a / *k : NAN;
    for (int i = 0; i < n; i++) if (!isnan(x[i])) b += (x[i] - *m) * (x[i] - *m);
    *s = *k >= 2 ? sqrt(b / (*k - 1)) : NAN;
}

static mr_compare_row *add_row(mr_compare *c)
{
    if (c->n == c->cap) {
        int nc = c->cap ? c->cap * 2 : 64;
        mr_compare_row *r = realloc(c->row, (size_t)nc * sizeof *r);
        if (!r) return NULL;
        c->row = r;
        c->cap = nc;
    }
    mr_compare_row *r = &c->row[c->n++];
    memset(r, 0, sizeof *r);
    return r;
}

static int compare_value(mr_compare *c, const side *A, const side *B, const char *iou, const char *cat,
                         const char *key, double tol, mr_err *e)
{
    double xa[MAXS], xb[MAXS];
    int rc = MR_OK;
    for (int i = 0; i < A->n && !rc; i++) rc = get(A, i, iou, cat, key, &xa[i], e);
    for (int i = 0; i < B->n && !rc; i++) rc = get(B, i, iou, cat, key, &xb[i], e);
    if (rc) return rc;
    mr_compare_row *r = add_row(c);
    if (!r) return mr_errf(e, MR_ENOMEM, "out of memory");
    snprintf(r->kind, sizeof r->kind, "%s", cat ? "category" : "metric");
    snprintf(r->iou_type, sizeof r->iou_type, "%s", iou);
    if (cat) snprintf(r->name, sizeof r->name, "%.60s %s", cat, key);
    else snprintf(r->name, sizeof r->name, "%s", key);
    double sa, sb;
    stats(xa, A->n, &r->a, &sa, &r->na);
    stats(xb, B->n, &r->b, &sb, &r->nb);
    r->diff = r->b - r->a;
    if (r->na >= 2 && r->nb >= 2) r->noise = sqrt(sa * sa / r->na + sb * sb / r->nb);
    else if (r->na >= 2 && r->nb >= 1) r->noise = sa * sqrt(1.0 / r->na + 1.0 / r->nb);
    else if (r->nb >= 2 && r->na >= 1) r->noise = sb * sqrt(1.0 / r->na + 1.0 / r->nb);
    else r->noise = NAN;
    r->tol = tol >= 0 ? tol : !isnan(r->noise) ? MR_TABLE_NOISE_K * r->noise : MR_COMPARE_DEFAULT_TOL;
    if (!cat) {
        /* a number present on one side only has moved too */
        r->moved = isnan(r->a) != isnan(r->b) || (!isnan(r->diff) && fabs(r->diff) > r->tol);
        c->moved += r->moved;
    }
    return MR_OK;
}

int mr_compare_runs(const char *run_a, const char *run_b, double tolerance, mr_compare *c, mr_err *e)
{
    memset(c, 0, sizeof *c);
    side A, B;
    int rc = load_side(&A, run_a, e);
    if (rc) return rc;
    if ((rc = load_side(&B, run_b, e))) { side_free(&A); return rc; }
    /* iou types and keys: those of A's first seed, then B's that A lacks */
    for (int pass = 0; pass < 2 && !rc; pass++) {
        const side *S = pass ? &B : &A, *O = pass ? &A : &B;
        const cJSON *ev;
        cJSON_ArrayForEach(ev, S->m[0]) {
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(ev, "metrics"), *k;
            if (!cJSON_IsObject(m)) {
                rc = mr_errf(e, MR_EUSER, "%s/metrics.json: \"%s\" has no \"metrics\" object", pass ? run_b : run_a, ev->string);
                break;
            }
            int other_has = cJSON_GetObjectItemCaseSensitive(O->m[0], ev->string) != NULL;
            if (pass && other_has) continue;
            cJSON_ArrayForEach(k, m)
                if (!rc) rc = compare_value(c, &A, &B, ev->string, NULL, k->string, tolerance, e);
            const cJSON *cat;
            cJSON_ArrayForEach(cat, cJSON_GetObjectItemCaseSensitive(ev, "per_category")) {
                const cJSON *nm = cJSON_GetObjectItemCaseSensitive(cat, "name");
                if (!cJSON_IsString(nm) || rc) continue;
                static const char *keys[] = {"AP", "AP50", "AP75"};
                for (int q = 0; q < 3 && !rc; q++)
                    if (cJSON_GetObjectItemCaseSensitive(cat, keys[q]))
                        rc = compare_value(c, &A, &B, ev->string, nm->valuestring, keys[q], tolerance, e);
            }
        }
    }
    static const char *sp[] = {"infer_img_per_s", "train_iter_per_s"};
    for (int q = 0; q < 2 && !rc; q++) {
        double a = 0, b = 0;
        int na = 0, nb = 0;
        for (int w = 0; w < 2 && !rc; w++) {
            const side *S = w ? &B : &A;
            for (int i = 0; i < S->n && !rc; i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(S->sp[i], sp[q]);
                if (!v) continue;
                if (!cJSON_IsNumber(v) || !(v->valuedouble > 0 && v->valuedouble < 1e12))
                    rc = mr_errf(e, MR_EUSER, "%s/speed.json: field %s: expected a positive number", S->dir[i], sp[q]);
                else if (w) { b += v->valuedouble; nb++; }
                else { a += v->valuedouble; na++; }
            }
        }
        if (rc) break;
        if (!na || !nb) continue;
        mr_compare_row *r = add_row(c);
        if (!r) { rc = mr_errf(e, MR_ENOMEM, "out of memory"); break; }
        snprintf(r->kind, sizeof r->kind, "speed");
        snprintf(r->name, sizeof r->name, "%s", sp[q]);
        r->a = a / na;
        r->b = b / nb;
        r->diff = r->a > 0 ? r->b / r->a : NAN;
        r->noise = r->tol = NAN;
        r->na = na;
        r->nb = nb;
    }
    side_free(&A);
    side_free(&B);
    if (rc) mr_compare_free(c);
    return rc;
}

void mr_compare_free(mr_compare *c)
{
    free(c->row);
    memset(c, 0, sizeof *c);
}

static char *grow(char *buf, size_t *cap, size_t need)
{
    if (need < *cap) return buf;
    *cap = need * 2 + 4096;
    char *nb = realloc(buf, *cap);
    if (!nb) free(buf);
    return nb;
}

static void fmt(char *o, size_t n, double v, const char *f)
{
    if (isnan(v)) snprintf(o, n, "–");
    else snprintf(o, n, f, v);
}

char *mr_compare_markdown(const mr_compare *c, const char *run_a, const char *run_b)
{
    size_t cap = 0, len = 0;
    char *buf = NULL;
    char line[1024];
    int k = snprintf(line, sizeof line,
                     "A = %s\nB = %s\n\n| kind | iou type | metric | A | B | B − A | noise | tolerance | moved |\n"
                     "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n", run_a, run_b);
    if (!(buf = grow(buf, &cap, len + (size_t)k + 1))) return NULL;
    memcpy(buf + len, line, (size_t)k + 1);
    len += (size_t)k;
    for (int i = 0; i < c->n; i++) {
        const mr_compare_row *r = &c->row[i];
        char a[32], b[32], d[32], no[32], tl[32];
        int speed = !strcmp(r->kind, "speed");
        fmt(a, sizeof a, r->a, speed ? "%.3g" : "%.2f");
        fmt(b, sizeof b, r->b, speed ? "%.3g" : "%.2f");
        fmt(d, sizeof d, r->diff, speed ? "x%.3f" : "%+.2f");
        fmt(no, sizeof no, r->noise, "%.2f");
        fmt(tl, sizeof tl, r->tol, "%.2f");
        k = snprintf(line, sizeof line, "| %s | %s | %s | %s (%d) | %s (%d) | %s | %s | %s | %s |\n", r->kind,
                     r->iou_type[0] ? r->iou_type : "—", r->name, a, r->na, b, r->nb, d, no, tl,
                     strcmp(r->kind, "metric") ? "—" : r->moved ? "**MOVED**" : "no");
        if (!(buf = grow(buf, &cap, len + (size_t)k + 1))) return NULL;
        memcpy(buf + len, line, (size_t)k + 1);
        len += (size_t)k;
    }
    k = snprintf(line, sizeof line,
                 "\nAP in percent, mean over seeds (count in parentheses); noise = std of the difference of means; "
                 "%d summary metric%s moved past tolerance.\n", c->moved, c->moved == 1 ? "" : "s");
    if (!(buf = grow(buf, &cap, len + (size_t)k + 1))) return NULL;
    memcpy(buf + len, line, (size_t)k + 1);
    return buf;
}

char *mr_compare_csv(const mr_compare *c)
{
    size_t cap = 0, len = 0;
    char *buf = NULL, line[512];
    int k = snprintf(line, sizeof line, "kind,iou_type,metric,a,b,diff,noise,tolerance,n_a,n_b,moved\n");
    if (!(buf = grow(buf, &cap, len + (size_t)k + 1))) return NULL;
    memcpy(buf, line, (size_t)k + 1);
    len = (size_t)k;
    for (int i = 0; i < c->n; i++) {
        const mr_compare_row *r = &c->row[i];
        char a[32], b[32], d[32], no[32], tl[32], name[200];
        fmt(a, sizeof a, r->a, "%.6g");
        fmt(b, sizeof b, r->b, "%.6g");
        fmt(d, sizeof d, r->diff, "%.6g");
        fmt(no, sizeof no, r->noise, "%.6g");
        fmt(tl, sizeof tl, r->tol, "%.6g");
        for (char *q[] = {a, b, d, no, tl}, **p = q; p < q + 5; p++) if (!strcmp(*p, "–")) **p = 0;
        if (strpbrk(r->name, ",\"")) {
            size_t m = 0;
            name[m++] = '"';
            for (const char *s = r->name; *s && m + 3 < sizeof name; s++) {
                if (*s == '"') name[m++] = '"';
                name[m++] = *s;
            }
            name[m++] = '"';
            name[m] = 0;
        } else snprintf(name, sizeof name, "%s", r->name);
        k = snprintf(line, sizeof line, "%s,%s,%s,%s,%s,%s,%s,%s,%d,%d,%s\n", r->kind, r->iou_type, name, a, b, d,
                     no, tl, r->na, r->nb, strcmp(r->kind, "metric") ? "" : r->moved ? "true" : "false");
        if (!(buf = grow(buf, &cap, len + (size_t)k + 1))) return NULL;
        memcpy(buf + len, line, (size_t)k + 1);
        len += (size_t)k;
    }
    return buf;
}
