/*
 * init_weights.c — training's starting weights from a safetensors file,
 * matched by name and shape, with the report of what matched (see
 * init_weights.h).
 */
#include "core/init_weights.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/safetensors.h"

static int push(char ***list, int *n, const char *s)
{
    char **l = realloc(*list, sizeof *l * (size_t)(*n + 1));
    if (!l) return -1;
    *list = l;
    l[*n] = strdup(s);
    if (!l[*n]) return -1;
    (*n)++;
    return 0;
}

static void shape_text(char *buf, size_t n, int ndim, const int64_t *dims)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

/* A torchvision ImageNet ResNet's state_dict converted as it is: conv1.weight
 * and layer1.0.conv1.weight, and no backbone.* name. */
static int bare_resnet(const mr_st_file *f)
{
    if (!mr_st_find(f, "conv1.weight") || !mr_st_find(f, "layer1.0.conv1.weight")) return 0;
    for (int k = 0; k < f->n; k++)
        if (!strncmp(f->tensors[k].name, "backbone.", 9)) return 0;
    return 1;
}

/* the file's name of a model tensor (NULL: none, a bare ResNet file holds
 * backbone.body.* only) */
static const char *file_name(const mr_init_report *r, const char *model_name)
{
    size_t l = strlen(r->prefix);
    if (!l) return model_name;
    return strncmp(model_name, r->prefix, l) ? NULL : model_name + l;
}

static const mr_param_entry *find_entry(const mr_param_table *pt, const char *name, int *idx)
{
    for (int i = 0; i < pt->n; i++)
        if (!strcmp(pt->e[i].d.name, name)) { if (idx) *idx = i; return &pt->e[i]; }
    return NULL;
}

/* "a, b, c and 4 more" of list[0..n) into buf */
static void some(char *buf, size_t bn, char *const *list, int n, int show)
{
    size_t used = 0;
    buf[0] = 0;
    for (int i = 0; i < n && i < show && used < bn; i++)
        used += (size_t)snprintf(buf + used, bn - used, "%s%s", i ? ", " : "", list[i]);
    if (n > show && used < bn) snprintf(buf + used, bn - used, " and %d more", n - show);
}

int mr_init_load(const mr_param_table *pt, const char *path, int strict, mr_init_report *r, mr_err *e)
{
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->strict = strict;
    r->is_loaded = calloc((size_t)(pt->n > 0 ? pt->n : 1), 1);
    if (!r->is_loaded) return mr_errf(e, MR_ENOMEM, "%s: out of memory", path);
    mr_st_file f;
    int rc = mr_st_read(&f, path, e);
    if (rc) return mr_err_prefix(e, "init weights");
    r->n_file = f.n;
    if (bare_resnet(&f)) snprintf(r->prefix, sizeof r->prefix, "%s", MR_INIT_RESNET_PREFIX);
    unsigned char *take = calloc((size_t)(pt->n > 0 ? pt->n : 1), 1);
    if (!take) { mr_st_close(&f); return mr_errf(e, MR_ENOMEM, "%s: out of memory", path); }
    int oom = 0, ntake = 0;
    /* the model's side: matched, missing or of another shape */
    for (int i = 0; i < pt->n && !oom; i++) {
        const mr_param_entry *p = &pt->e[i];
        const char *fn = file_name(r, p->d.name);
        const mr_st_tensor *t = fn ? mr_st_find(&f, fn) : NULL;
        if (!t) { oom |= push(&r->missing, &r->nmissing, p->d.name); continue; }
        int same = t->ndim == p->d.ndim;
        for (int k = 0; same && k < t->ndim; k++) same = t->shape[k] == p->d.shape[k];
        if (!same) {
            char a[160], b[160], msg[MR_PARAM_NAME_MAX + 400];
            shape_text(a, sizeof a, t->ndim, t->shape);
            shape_text(b, sizeof b, p->d.ndim, p->d.shape);
            snprintf(msg, sizeof msg, "%s: %s in the file, %s in the model", p->d.name, a, b);
            oom |= push(&r->mismatch, &r->nmismatch, msg);
            continue;
        }
        take[i] = 1;
        ntake++;
    }
    /* the file's side: tensors the model has no place for */
    for (int k = 0; k < f.n && !oom; k++) {
        const char *nm = f.tensors[k].name;
        char full[MR_PARAM_NAME_MAX + 64];
        snprintf(full, sizeof full, "%s%s", r->prefix, nm);
        if (find_entry(pt, full, NULL)) continue;
        if (!strncmp(nm, "momentum.", 9) && find_entry(pt, nm + 9, NULL)) { r->nstate++; continue; }
        oom |= push(&r->unexpected, &r->nunexpected, nm);
    }
    if (oom) { rc = mr_errf(e, MR_ENOMEM, "%s: out of memory", path); goto done; }
    /* nothing to load: the names (or every shape) are not the model's */
    if (!ntake) {
        const char *fex = r->nunexpected ? r->unexpected[0] : f.n ? f.tensors[0].name : NULL;
        char shapes[400] = "";
        if (r->nmismatch) {
            char c[300];
            some(c, sizeof c, r->mismatch, r->nmismatch, 1);
            snprintf(shapes, sizeof shapes, "; %d of the model's names are there, of another shape (%s)", r->nmismatch, c);
        }
        rc = mr_errf(e, MR_EUSER, "init weights %s: nothing in it matches the model: none of its %d tensors has the "
                     "name and shape of one of the model's %d (the file has e.g. \"%s\", the model expects e.g. "
                     "\"%s\")%s; expected torchvision's names: a torchvision detection checkpoint converted with "
                     "mrcnn convert, an ImageNet ResNet (backbone.body.*, or a torchvision ResNet's own conv1.*, "
                     "layer1.*, ...), or a model_final / checkpoint file of an mrcnn run",
                     path, f.n, pt->n, fex ? fex : "(no tensors)", pt->n ? pt->e[0].d.name : "(none)", shapes);
        goto done;
    }
    if (strict && (r->nmissing || r->nunexpected || r->nmismatch)) {
        char a[300], b[300], c[400];
        some(a, sizeof a, r->missing, r->nmissing, 3);
        some(b, sizeof b, r->unexpected, r->nunexpected, 3);
        some(c, sizeof c, r->mismatch, r->nmismatch, 2);
        rc = mr_errf(e, MR_EUSER, "init weights %s (strict): %d missing%s%s%s, %d unexpected%s%s%s, %d of another shape%s%s%s "
                     "(drop --init-strict / init.strict to load what matches)",
                     path, r->nmissing, r->nmissing ? " (" : "", a, r->nmissing ? ")" : "",
                     r->nunexpected, r->nunexpected ? " (" : "", b, r->nunexpected ? ")" : "",
                     r->nmismatch, r->nmismatch ? " (" : "", c, r->nmismatch ? ")" : "");
        goto done;
    }
    /* copy: every matched tensor is checked before any is written, so an
     * error leaves the model's initial values as they were */
    for (int pass = 0; pass < 2 && !rc; pass++)
        for (int i = 0; i < pt->n && !rc; i++) {
            if (!take[i]) continue;
            const mr_param_entry *p = &pt->e[i];
            const char *fn = file_name(r, p->d.name);
            const mr_st_tensor *t = mr_st_find(&f, fn);
            if (t->dtype != MR_ST_F32 && t->dtype != MR_ST_F64 && t->dtype != MR_ST_F16 && t->dtype != MR_ST_BF16) {
                rc = mr_errf(e, MR_EUSER, "init weights %s: tensor %s: dtype %s, expected a floating-point one", path,
                             p->d.name, mr_st_dtype_name(t->dtype));
                break;
            }
            if (pass == 0) {
                if (t->dtype != MR_ST_F32) continue;   /* checked after conversion, below */
                const float *v = t->data;
                for (size_t k = 0; k < p->d.numel; k++)
                    if (!isfinite(v[k])) {
                        rc = mr_errf(e, MR_EUSER, "init weights %s: tensor %s: element %zu is %s, expected a finite number",
                                     path, p->d.name, k, isnan(v[k]) ? "nan" : v[k] > 0 ? "inf" : "-inf");
                        break;
                    }
                continue;
            }
            float *dst = pt->data + p->d.offset;
            if ((rc = mr_st_get_f32(&f, fn, p->d.ndim, p->d.shape, dst, e))) {
                mr_err_prefix(e, "init weights");
                break;
            }
            for (size_t k = 0; k < p->d.numel; k++)
                if (!isfinite(dst[k])) {
                    rc = mr_errf(e, MR_EUSER, "init weights %s: tensor %s: element %zu is not finite after conversion "
                                 "from %s", path, p->d.name, k, mr_st_dtype_name(t->dtype));
                    break;
                }
            if (rc) break;
            r->is_loaded[i] = 1;
            r->loaded_numel += p->d.numel;
            if (push(&r->loaded, &r->nloaded, p->d.name)) rc = mr_errf(e, MR_ENOMEM, "%s: out of memory", path);
        }
done:
    free(take);
    mr_st_close(&f);
    return rc;
}

static cJSON *names(char *const *list, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n && a; i++) cJSON_AddItemToArray(a, cJSON_CreateString(list[i]));
    return a;
}

cJSON *mr_init_report_json(const mr_init_report *r)
{
    cJSON *j = cJSON_CreateObject();
    if (!j) return NULL;
    cJSON_AddStringToObject(j, "weights", r->path);
    cJSON_AddBoolToObject(j, "strict", r->strict);
    if (r->prefix[0]) {
        cJSON_AddStringToObject(j, "names", "torchvision ImageNet ResNet");
        cJSON_AddStringToObject(j, "names_read_under", r->prefix);
    }
    cJSON_AddNumberToObject(j, "tensors_in_file", r->n_file);
    cJSON_AddNumberToObject(j, "loaded_count", r->nloaded);
    cJSON_AddNumberToObject(j, "loaded_values", (double)r->loaded_numel);
    cJSON_AddNumberToObject(j, "missing_count", r->nmissing);
    cJSON_AddNumberToObject(j, "unexpected_count", r->nunexpected);
    cJSON_AddNumberToObject(j, "shape_mismatch_count", r->nmismatch);
    cJSON_AddNumberToObject(j, "optimizer_state_skipped", r->nstate);
    cJSON_AddItemToObject(j, "loaded", names(r->loaded, r->nloaded));
    cJSON_AddItemToObject(j, "missing", names(r->missing, r->nmissing));
    cJSON_AddItemToObject(j, "unexpected", names(r->unexpected, r->nunexpected));
    cJSON_AddItemToObject(j, "shape_mismatch", names(r->mismatch, r->nmismatch));
    return j;
}

void mr_init_report_line(const mr_init_report *r, char *buf, size_t n)
{
    char a[400], b[400], c[600];
    some(a, sizeof a, r->missing, r->nmissing, 4);
    some(b, sizeof b, r->unexpected, r->nunexpected, 4);
    some(c, sizeof c, r->mismatch, r->nmismatch, 3);
    size_t used = (size_t)snprintf(buf, n, "init from %s: loaded %d of the model's %d tensors (%zu values)", r->path,
                                   r->nloaded, r->nloaded + r->nmissing + r->nmismatch, r->loaded_numel);
    if (r->nmissing && used < n)
        used += (size_t)snprintf(buf + used, n - used, "; %d missing, initialised as usual (%s)", r->nmissing, a);
    if (r->nmismatch && used < n)
        used += (size_t)snprintf(buf + used, n - used, "; %d of another shape, initialised as usual (%s)", r->nmismatch, c);
    if (r->nunexpected && used < n)
        used += (size_t)snprintf(buf + used, n - used, "; %d unexpected, not used (%s)", r->nunexpected, b);
    if (r->nstate && used < n)
        used += (size_t)snprintf(buf + used, n - used, "; %d optimizer-state tensors skipped", r->nstate);
    (void)used;
}

int mr_init_report_names_line(const mr_init_report *r, char *buf, size_t n)
{
    if (n) buf[0] = 0;
    if (!r->prefix[0]) return 0;
    char fc[300] = "";
    int nfc = 0;
    size_t used = 0;
    for (int i = 0; i < r->nunexpected; i++) {
        if (strncmp(r->unexpected[i], "fc.", 3)) continue;
        if (used < sizeof fc) used += (size_t)snprintf(fc + used, sizeof fc - used, "%s%s", nfc ? ", " : "", r->unexpected[i]);
        nfc++;
    }
    used = (size_t)snprintf(buf, n, "%s: tensor names read as torchvision ImageNet ResNet names under %s "
                            "(conv1.weight as %sconv1.weight, layer1.0.conv1.weight as %slayer1.0.conv1.weight, ...)",
                            r->path, r->prefix, r->prefix, r->prefix);
    if (nfc && used < n)
        snprintf(buf + used, n - used, "; %s: the ImageNet classifier, not part of the detector, ignored (listed "
                 "as unexpected)", fc);
    return 1;
}

int mr_init_frozen_random(const mr_param_table *pt, const mr_init_report *r, char *buf, size_t n)
{
    int count = 0;
    size_t used = 0;
    if (n) buf[0] = 0;
    for (int i = 0; i < pt->n; i++) {
        const mr_param_entry *p = &pt->e[i];
        if (p->trainable || p->init == MR_INIT_ZERO || p->init == MR_INIT_ONE) continue;
        if (r && r->is_loaded && r->is_loaded[i]) continue;
        if (count < 3 && used < n)
            used += (size_t)snprintf(buf + used, n - used, "%s%s", count ? ", " : "", p->d.name);
        count++;
    }
    if (count > 3 && used < n) snprintf(buf + used, n - used, " and %d more", count - 3);
    return count;
}

void mr_init_report_free(mr_init_report *r)
{
    char **lists[4] = {r->loaded, r->missing, r->unexpected, r->mismatch};
    int ns[4] = {r->nloaded, r->nmissing, r->nunexpected, r->nmismatch};
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < ns[k]; i++) free(lists[k][i]);
        free(lists[k]);
    }
    free(r->is_loaded);
    memset(r, 0, sizeof *r);
}
