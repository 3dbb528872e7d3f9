/*
 * config.c — JSON configs with `base` inheritance, validation and the
 * resolved form (see config.h).
 */
#include "variants/config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "variants/registry.h"

/* The schema: every field a config may set, with its type, in the order of
 * the `known` lists: 'i' integer, 'f' number, 'b' boolean, 's' string, 'I'
 * / 'F' arrays of integers / numbers. mr_config_parse checks each object's
 * keys against it, and --set (mr_config_apply_set) types its values by it;
 * ranges and the rest are mr_config_parse's. `base` and `overrides` are
 * file-only fields (not settable). Under heads, each registered mask
 * head's knobs (integers, core/mask_head.h) are settable too. 'p' is a path: a string made absolute
 * against the directory of the file that gives it (the working directory for
 * --set), so that the resolved config means the same file wherever it is read. */
typedef struct cfg_key { const char *key; char type; } cfg_key;
static const cfg_key SCHEMA[] = {
    {"name", 's'}, {"seed", 'i'}, {"num_classes", 'i'},
    {"input.min_size", 'i'}, {"input.max_size", 'i'}, {"input.size_divisibility", 'i'}, {"input.flip", 'b'},
    {"input.resize", 's'},
    {"backbone.depth", 'i'}, {"backbone.width", 'f'}, {"backbone.norm", 's'}, {"backbone.gn_groups", 'i'},
    {"backbone.freeze_at", 'i'},
    {"tap", 's'},
    {"fpn.channels", 'i'},
    {"anchors.sizes", 'F'}, {"anchors.ratios", 'F'},
    {"rpn.pre_nms_train", 'i'}, {"rpn.post_nms_train", 'i'}, {"rpn.pre_nms_test", 'i'}, {"rpn.post_nms_test", 'i'},
    {"rpn.nms_thresh", 'f'}, {"rpn.fg_iou", 'f'}, {"rpn.bg_iou", 'f'}, {"rpn.batch_per_image", 'i'},
    {"rpn.positive_fraction", 'f'},
    {"roi.extractor", 's'}, {"roi.pooled", 'i'}, {"roi.sampling_ratio", 'i'}, {"roi.aligned", 'b'}, {"roi.agg", 's'},
    {"roi.canonical_scale", 'i'}, {"roi.canonical_level", 'i'},
    {"box_head.fc_dim", 'i'}, {"box_head.batch_per_image", 'i'}, {"box_head.positive_fraction", 'f'},
    {"box_head.fg_iou", 'f'}, {"box_head.score_thresh", 'f'}, {"box_head.nms_thresh", 'f'},
    {"box_head.detections_per_img", 'i'},
    {"heads.mask", 'b'}, {"heads.mask_head", 's'}, {"heads.mask_loss", 's'}, {"heads.mask_width", 'i'},
    {"heads.keypoints", 'b'}, {"heads.kp_width", 'i'}, {"heads.kp_convs", 'i'},
    {"heads.mask_loss_weight", 'f'},
    {"schedule.iters", 'i'}, {"schedule.batch_size", 'i'}, {"schedule.lr", 'f'}, {"schedule.warmup_iters", 'i'},
    {"schedule.warmup_factor", 'f'}, {"schedule.steps", 'I'}, {"schedule.gamma", 'f'}, {"schedule.momentum", 'f'},
    {"schedule.weight_decay", 'f'}, {"schedule.checkpoint_every", 'i'}, {"schedule.log_every", 'i'},
    {"init.weights", 'p'}, {"init.strict", 'b'},
    {"comment", 's'},
};
#define NSCHEMA ((int)(sizeof SCHEMA / sizeof SCHEMA[0]))
#define MR_SECTION_MAX 24

/* the keys of one section (NULL: the top level, sections named once, plus
 * the file-only fields) into out; returns their count */
static int section_keys(const char *section, const char **out, char names[][32])
{
    int n = 0;
    size_t sl = section ? strlen(section) : 0;
    for (int i = 0; i < NSCHEMA && n < MR_SECTION_MAX - 2; i++) {
        const char *k = SCHEMA[i].key, *dot = strchr(k, '.');
        if (section) {
            if (dot && (size_t)(dot - k) == sl && !strncmp(k, section, sl)) out[n++] = dot + 1;
            continue;
        }
        size_t l = dot ? (size_t)(dot - k) : strlen(k);
        int seen = 0;
        for (int m = 0; m < n && !seen; m++) seen = strlen(out[m]) == l && !strncmp(out[m], k, l);
        if (seen) continue;
        snprintf(names[n], 32, "%.*s", (int)l, k);
        out[n] = names[n];
        n++;
    }
    if (!section) { out[n++] = "base"; out[n++] = "overrides"; }
    return n;
}

static int check_section(const cJSON *o, const char *section, const char *ctx, mr_err *e)
{
    const char *keys[MR_SECTION_MAX];
    char names[MR_SECTION_MAX][32];
    int n = section_keys(section, keys, names);
    return mr_json_check_keys(o, keys, n, ctx, e);
}

/* is heads.<leaf> a registered mask head's knob? */
static int is_knob(const char *leaf)
{
    size_t nreg;
    const mr_variant *reg = mr_registry_entries(&nreg);
    for (size_t r = 0; r < nreg; r++) {
        if (reg[r].kind != MR_VK_MASK_HEAD) continue;
        const struct mr_mask_head *h = reg[r].impl;
        for (int k = 0; k < h->nknobs; k++)
            if (!strcmp(h->knobs[k].name, leaf)) return 1;
    }
    return 0;
}

/* the knobs of every registered mask head, ", heads.a, heads.b", appended */
static size_t knob_list(char *buf, size_t used, size_t n)
{
    size_t nreg;
    const mr_variant *reg = mr_registry_entries(&nreg);
    for (size_t r = 0; r < nreg; r++) {
        if (reg[r].kind != MR_VK_MASK_HEAD) continue;
        const struct mr_mask_head *h = reg[r].impl;
        for (int k = 0; k < h->nknobs && used < n; k++) {
            char key[80];
            snprintf(key, sizeof key, "heads.%s", h->knobs[k].name);
            if (!strstr(buf, key)) used += (size_t)snprintf(buf + used, n - used, "%s%s", used ? ", " : "", key);
        }
    }
    return used;
}

/* edit distance of two short strings (for "did you mean") */
static int edit_dist(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b), d[64][64];
    if (la > 63 || lb > 63) return 99;
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int k = 0; k <= lb; k++) d[0][k] = k;
    for (int i = 1; i <= la; i++)
        for (int k = 1; k <= lb; k++) {
            int v = d[i - 1][k - 1] + (a[i - 1] != b[k - 1]);
            if (d[i - 1][k] + 1 < v) v = d[i - 1][k] + 1;
            if (d[i][k - 1] + 1 < v) v = d[i][k - 1] + 1;
            d[i][k] = v;
        }
    return d[la][lb];
}

/* "--set KEY=V: unknown key KEY (did you mean ...?; known: ...)": under a
 * known section its keys, else every settable key */
static int unknown_key(const char *kv, const char *key, mr_err *e)
{
    char known[4096], hint[160] = "";
    size_t used = 0;
    const char *dot = strchr(key, '.');
    size_t sl = dot ? (size_t)(dot - key) : 0;
    int in_section = 0;
    for (int i = 0; i < NSCHEMA && sl; i++)
        if (!strncmp(SCHEMA[i].key, key, sl) && SCHEMA[i].key[sl] == '.') in_section = 1;
    int best = -1, bestd = 99;
    known[0] = 0;
    for (int i = 0; i < NSCHEMA; i++) {
        const char *k = SCHEMA[i].key, *kd = strchr(k, '.');
        if (in_section && !(!strncmp(k, key, sl) && k[sl] == '.')) continue;
        int d = edit_dist(key, k);
        if (d < bestd) { bestd = d; best = i; }
        if (in_section || !kd) {
            if (used < sizeof known)
                used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "", k);
        }
    }
    if (in_section && sl == 5 && !strncmp(key, "heads", 5)) used = knob_list(known, used, sizeof known);
    if (!in_section) {
        /* every key would not fit one message: the sections by name */
        const char *keys[MR_SECTION_MAX];
        char names[MR_SECTION_MAX][32];
        int n = section_keys(NULL, keys, names);
        for (int i = 0; i < n && used < sizeof known; i++) {
            int is_section = 0;
            size_t l = strlen(keys[i]);
            for (int k = 0; k < NSCHEMA && !is_section; k++)
                is_section = !strncmp(SCHEMA[k].key, keys[i], l) && SCHEMA[k].key[l] == '.';
            if (is_section) used += (size_t)snprintf(known + used, sizeof known - used, ", %s.*", keys[i]);
        }
        if (used < sizeof known)
            snprintf(known + used, sizeof known - used, "; `--set help` lists every key");
    }
    if (best >= 0 && bestd <= 2) snprintf(hint, sizeof hint, "did you mean %s? ", SCHEMA[best].key);
    return mr_errf(e, MR_EUSER, "--set %s: unknown key '%s' (%sknown%s%.*s: %s)", kv, key, hint,
                   in_section ? " under " : "", in_section ? (int)sl : 0, key, known);
}

int mr_config_abs_path(const char *dir, const char *path, char *out, size_t n)
{
    char cwd[4096];
    if (path[0] == '/') return snprintf(out, n, "%s", path) >= (int)n ? -1 : 0;
    if (!dir || dir[0] != '/') {
        if (!getcwd(cwd, sizeof cwd)) return -1;
        int k = dir && strcmp(dir, ".") ? snprintf(out, n, "%s/%s/%s", cwd, dir, path) : snprintf(out, n, "%s/%s", cwd, path);
        return k >= (int)n ? -1 : 0;
    }
    return snprintf(out, n, "%s/%s", dir, path) >= (int)n ? -1 : 0;
}

/* one scalar of type t ('i', 'f', 'b', 's', 'p') from text, or NULL with e set */
static cJSON *typed_value(const char *kv, const char *key, char t, const char *v, mr_err *e)
{
    char *end = NULL;
    if (t == 's') return cJSON_CreateString(v);
    if (t == 'p') {
        char abs[4096];
        if (!*v) { mr_errf(e, MR_EUSER, "--set %s: field %s: empty path", kv, key); return NULL; }
        if (mr_config_abs_path(NULL, v, abs, sizeof abs)) {
            mr_errf(e, MR_EUSER, "--set %s: field %s: path too long", kv, key);
            return NULL;
        }
        return cJSON_CreateString(abs);
    }
    if (!*v) {
        mr_errf(e, MR_EUSER, "--set %s: field %s: empty value (expected %s)", kv, key,
                t == 'i' ? "an integer" : t == 'f' ? "a number" : "true or false");
        return NULL;
    }
    if (t == 'b') {
        if (!strcmp(v, "true") || !strcmp(v, "1")) return cJSON_CreateTrue();
        if (!strcmp(v, "false") || !strcmp(v, "0")) return cJSON_CreateFalse();
        mr_errf(e, MR_EUSER, "--set %s: field %s: '%s': expected true or false", kv, key, v);
        return NULL;
    }
    double d = strtod(v, &end);
    if (*end || end == v || !isfinite(d)) {
        mr_errf(e, MR_EUSER, "--set %s: field %s: '%s': expected %s", kv, key, v,
                t == 'i' ? "an integer" : "a number");
        return NULL;
    }
    if (t == 'i') {
        errno = 0;
        long long ll = strtoll(v, &end, 10);
        if (*end || errno) {
            mr_errf(e, MR_EUSER, "--set %s: field %s: '%s': expected an integer", kv, key, v);
            return NULL;
        }
        d = (double)ll;
    }
    return cJSON_CreateNumber(d);
}

/* an array value: "[1, 2]" or "1,2" (a single element too) */
static cJSON *typed_array(const char *kv, const char *key, char t, const char *v, mr_err *e)
{
    char buf[1024];
    size_t l = strlen(v);
    if (l >= sizeof buf) { mr_errf(e, MR_EUSER, "--set %s: field %s: value too long", kv, key); return NULL; }
    if (l >= 2 && v[0] == '[' && v[l - 1] == ']') { memcpy(buf, v + 1, l - 2); buf[l - 2] = 0; }
    else memcpy(buf, v, l + 1);
    cJSON *a = cJSON_CreateArray();
    char *save = NULL;
    int any = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok && a; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        for (char *q = tok + strlen(tok); q > tok && q[-1] == ' '; q--) q[-1] = 0;
        cJSON *x = typed_value(kv, key, t == 'I' ? 'i' : 'f', tok, e);
        if (!x) { cJSON_Delete(a); return NULL; }
        cJSON_AddItemToArray(a, x);
        any = 1;
    }
    if (a && !any) {
        cJSON_Delete(a);
        mr_errf(e, MR_EUSER, "--set %s: field %s: empty list (expected %s, as 1,2 or [1,2])", kv, key,
                t == 'I' ? "integers" : "numbers");
        return NULL;
    }
    return a;
}

int mr_config_apply_set(cJSON *j, const char *kv, mr_err *e)
{
    const char *eq = strchr(kv, '=');
    if (!eq)
        return mr_errf(e, MR_EUSER, "--set %s: expected KEY=VALUE (as schedule.lr=0.01)", kv);
    char key[128];
    if (eq == kv || (size_t)(eq - kv) >= sizeof key)
        return mr_errf(e, MR_EUSER, "--set %s: expected KEY=VALUE with a key before '=' (as schedule.lr=0.01)", kv);
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
    const cfg_key *k = NULL;
    for (int i = 0; i < NSCHEMA && !k; i++)
        if (!strcmp(SCHEMA[i].key, key)) k = &SCHEMA[i];
    static const cfg_key knob = {"heads.<knob>", 'i'};
    if (!k && !strncmp(key, "heads.", 6) && is_knob(key + 6)) k = &knob;
    if (!k) return unknown_key(kv, key, e);
    const char *v = eq + 1;
    cJSON *val = k->type == 'I' || k->type == 'F' ? typed_array(kv, key, k->type, v, e)
                                                  : typed_value(kv, key, k->type, v, e);
    if (!val) return e && e->code ? e->code : MR_ENOMEM;
    cJSON *o = j;
    const char *dot = strchr(key, '.');
    const char *leaf = key;
    if (dot) {
        char sec[64];
        snprintf(sec, sizeof sec, "%.*s", (int)(dot - key), key);
        leaf = dot + 1;
        o = cJSON_GetObjectItemCaseSensitive(j, sec);
        if (!o) o = cJSON_AddObjectToObject(j, sec);
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(val);
            return mr_errf(e, MR_EUSER, "--set %s: field %s is not an object in the config", kv, sec);
        }
    }
    if (cJSON_GetObjectItemCaseSensitive(o, leaf)) cJSON_ReplaceItemInObjectCaseSensitive(o, leaf, val);
    else cJSON_AddItemToObject(o, leaf, val);
    return MR_OK;
}

const char *mr_config_known_keys(char *buf, size_t n)
{
    size_t used = 0;
    if (n) buf[0] = 0;
    for (int i = 0; i < NSCHEMA && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", SCHEMA[i].key);
    if (used < n) knob_list(buf, used, n);
    return buf;
}

cJSON *mr_config_merge(const cJSON *base, const cJSON *over)
{
    cJSON *out = cJSON_Duplicate(base, 1);
    if (!out) return NULL;
    for (const cJSON *it = over ? over->child : NULL; it; it = it->next) {
        cJSON *cur = cJSON_GetObjectItemCaseSensitive(out, it->string);
        cJSON *nv;
        if (cur && cJSON_IsObject(cur) && cJSON_IsObject(it))
            nv = mr_config_merge(cur, it);
        else
            nv = cJSON_Duplicate(it, 1);
        if (!nv) { cJSON_Delete(out); return NULL; }
        if (cur) cJSON_ReplaceItemInObjectCaseSensitive(out, it->string, nv);
        else cJSON_AddItemToObject(out, it->string, nv);
    }
    return out;
}

/* load path and its base chain, merged. chain[0..depth) are the files
 * that led here (as given, for messages; realpath to compare): a file that
 * is its own base, directly or through others, is a cycle, reported once
 * with the whole chain (not prefixed again by every file of it). */
#define MR_BASE_MAX_DEPTH 8
typedef struct base_chain { char real[MR_BASE_MAX_DEPTH + 1][4096]; const char *given[MR_BASE_MAX_DEPTH + 1]; int whole; } base_chain;

static int chain_fail(base_chain *ch, int depth, const char *path, const char *why, mr_err *e)
{
    char msg[2048];
    size_t used = 0;
    msg[0] = 0;
    for (int i = 0; i <= depth && used < sizeof msg; i++)
        used += (size_t)snprintf(msg + used, sizeof msg - used, "%s%s", i ? " -> " : "", i < depth ? ch->given[i] : path);
    ch->whole = 1;
    return mr_errf(e, MR_EUSER, "%s: field base: %s: %s", ch->given[0], why, msg);
}

static int load_merged(const char *path, int depth, base_chain *ch, cJSON **out, mr_err *e)
{
    char real[4096];
    if (!realpath(path, real)) snprintf(real, sizeof real, "%s", path);
    for (int i = 0; i < depth; i++)
        if (!strcmp(ch->real[i], real)) return chain_fail(ch, depth, path, "a cycle of base configs", e);
    if (depth > MR_BASE_MAX_DEPTH)
        return chain_fail(ch, depth, path, "more than 8 levels of base configs", e);
    size_t rn = strnlen(real, sizeof ch->real[depth] - 1);
    memcpy(ch->real[depth], real, rn);
    ch->real[depth][rn] = 0;
    ch->given[depth] = path;
    cJSON *j = NULL;
    int rc = mr_json_load_file(path, &j, e);
    if (rc) return rc;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return mr_errf(e, MR_EUSER, "%s: expected a JSON object", path);
    }
    const char *base = NULL;
    if ((rc = mr_json_get_string(j, "base", 0, NULL, &base, path, e))) { cJSON_Delete(j); return rc; }
    char dir[4096], bpath[4096];
    snprintf(dir, sizeof dir, "%s", path);
    const char *d = dirname(dir);
    /* a weights path is relative to the file that names it */
    cJSON *ini = cJSON_GetObjectItemCaseSensitive(j, "init");
    cJSON *w = cJSON_IsObject(ini) ? cJSON_GetObjectItemCaseSensitive(ini, "weights") : NULL;
    if (cJSON_IsString(w) && w->valuestring[0] && w->valuestring[0] != '/') {
        char abs[4096];
        if (mr_config_abs_path(d, w->valuestring, abs, sizeof abs)) {
            cJSON_Delete(j);
            return mr_errf(e, MR_EUSER, "%s: field init.weights: path too long", path);
        }
        cJSON_ReplaceItemInObjectCaseSensitive(ini, "weights", cJSON_CreateString(abs));
    }
    if (!base) { *out = j; return MR_OK; }
    int bn = base[0] == '/' ? snprintf(bpath, sizeof bpath, "%s", base) : snprintf(bpath, sizeof bpath, "%s/%s", d, base);
    if (bn < 0 || (size_t)bn >= sizeof bpath) {
        cJSON_Delete(j);
        return mr_errf(e, MR_EUSER, "%s: field base: the path of '%s' is longer than %zu characters", path, base, sizeof bpath - 1);
    }
    cJSON *b = NULL;
    rc = load_merged(bpath, depth + 1, ch, &b, e);
    if (rc) {
        if (!ch->whole) mr_err_prefix(e, "%s: field base", path);
        cJSON_Delete(j);
        return rc;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(j, "base");
    cJSON_DeleteItemFromObjectCaseSensitive(b, "name");  /* a name is never inherited */
    *out = mr_config_merge(b, j);
    cJSON_Delete(b);
    cJSON_Delete(j);
    if (!*out) return mr_errf(e, MR_ENOMEM, "%s: out of memory merging configs", path);
    return MR_OK;
}

/* The merged config failed on "field A.B...": name the file of the base
 * chain whose value won (the first, from path down its bases, that sets
 * that field), when it is not path itself. */
static void blame_base(const char *path, mr_err *e)
{
    const char *f = strstr(e->msg, ": field ");
    if (!f) return;
    char field[128];
    size_t n = 0;
    for (f += 8; *f && *f != ':' && *f != ' ' && *f != '[' && n + 1 < sizeof field; f++) field[n++] = *f;
    field[n] = 0;
    char file[4096];
    snprintf(file, sizeof file, "%s", path);
    for (int depth = 0; depth <= 8; depth++) {
        cJSON *j = NULL;
        mr_err e2;
        if (mr_json_load_file(file, &j, &e2)) return;
        const cJSON *v = j;
        char tmp[128], *save = NULL;
        snprintf(tmp, sizeof tmp, "%s", field);
        for (char *k = strtok_r(tmp, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
            v = cJSON_GetObjectItemCaseSensitive(v, k);
        if (v) {
            if (depth) {
                size_t l = strlen(e->msg);
                snprintf(e->msg + l, sizeof e->msg - l, " (the value comes from its base %s)", file);
            }
            cJSON_Delete(j);
            return;
        }
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "base");
        if (!cJSON_IsString(b)) { cJSON_Delete(j); return; }
        char dir[4096], next[4096];
        snprintf(dir, sizeof dir, "%s", file);
        if (b->valuestring[0] == '/') snprintf(next, sizeof next, "%s", b->valuestring);
        else snprintf(next, sizeof next, "%s/%.2000s", dirname(dir), b->valuestring);
        snprintf(file, sizeof file, "%s", next);
        cJSON_Delete(j);
    }
}

/* The merged config failed on a field that an override set: say so (and
 * not which base file gave it). 1 when it did. */
static int blame_set(const char *const *sets, int nsets, mr_err *e)
{
    const char *f = strstr(e->msg, ": field ");
    if (!f) return 0;
    char field[128];
    size_t n = 0;
    for (f += 8; *f && *f != ':' && *f != ' ' && *f != '[' && n + 1 < sizeof field; f++) field[n++] = *f;
    field[n] = 0;
    for (int i = nsets - 1; i >= 0; i--) {
        const char *eq = strchr(sets[i], '=');
        if (!eq) continue;
        size_t kl = (size_t)(eq - sets[i]);
        const char *dot = memchr(sets[i], '.', kl);
        int hit = strlen(field) == kl && !strncmp(field, sets[i], kl);
        if (!hit && dot) {
            /* "FILE: SECTION: field LEAF" */
            char sec[80];
            snprintf(sec, sizeof sec, ": %.*s: field ", (int)(dot - sets[i]), sets[i]);
            hit = strlen(field) == (size_t)(eq - dot - 1) && !strncmp(field, dot + 1, strlen(field)) && strstr(e->msg, sec);
        }
        if (hit) {
            size_t l = strlen(e->msg);
            snprintf(e->msg + l, sizeof e->msg - l, " (set by --set %s)", sets[i]);
            return 1;
        }
    }
    return 0;
}

int mr_config_load(mr_config *c, const char *path, mr_err *e)
{
    return mr_config_load_set(c, path, NULL, 0, e);
}

int mr_config_load_set(mr_config *c, const char *path, const char *const *sets, int nsets, mr_err *e)
{
    cJSON *j = NULL;
    base_chain *ch = calloc(1, sizeof *ch);
    if (!ch) return mr_errf(e, MR_ENOMEM, "%s: out of memory", path);
    int rc = load_merged(path, 0, ch, &j, e);
    free(ch);
    if (rc) return rc;
    for (int i = 0; i < nsets && !rc; i++) rc = mr_config_apply_set(j, sets[i], e);
    if (rc) {
        cJSON_Delete(j);
        return mr_err_prefix(e, "%s", path);
    }
    const char *slash = strrchr(path, '/');
    rc = mr_config_parse(c, j, path, e);
    cJSON_Delete(j);
    if (rc) {
        if (e && !blame_set(sets, nsets, e)) blame_base(path, e);
        return rc;
    }
    for (int i = 0; i < nsets; i++) {
        if (c->nsets >= MR_CONFIG_MAX_SETS)
            return mr_errf(e, MR_EUSER, "%s: more than %d --set overrides", path, MR_CONFIG_MAX_SETS);
        if (strlen(sets[i]) >= sizeof c->sets[0])
            return mr_errf(e, MR_EUSER, "--set %.80s...: longer than %zu characters", sets[i], sizeof c->sets[0] - 1);
        snprintf(c->sets[c->nsets++], sizeof c->sets[0], "%s", sets[i]);
    }
    snprintf(c->file, sizeof c->file, "%s", path);
    if (!c->name[0]) {
        snprintf(c->name, sizeof c->name, "%s", slash ? slash + 1 : path);
        char *dot = strrchr(c->name, '.');
        if (dot) *dot = 0;
    }
    return MR_OK;
}

#define CK(x) do { if ((rc = (x))) return rc; } while (0)

static int get_float(const cJSON *o, const char *k, double def, double lo, double hi, float *out,
                     const char *ctx, mr_err *e)
{
    double v;
    int rc = mr_json_get_double_range(o, k, 0, def, lo, hi, &v, ctx, e);
    if (!rc) *out = (float)v;
    return rc;
}

static int get_name(const cJSON *o, const char *k, const char *def, char *out, size_t n,
                    const char *ctx, mr_err *e)
{
    const char *s = NULL;
    int rc = mr_json_get_string(o, k, 0, def, &s, ctx, e);
    if (rc) return rc;
    if (strlen(s) >= n) return mr_errf(e, MR_EUSER, "%s: field %s: name '%s' too long", ctx, k, s);
    snprintf(out, n, "%s", s);
    return MR_OK;
}

/* a registry lookup whose failure names the field */
static const void *lookup(mr_variant_kind k, const char *name, const char *ctx, const char *field, mr_err *e)
{
    const mr_variant *v = mr_registry_find(k, name, e);
    if (!v) {
        mr_err_prefix(e, "%s: field %s", ctx, field);
        return NULL;
    }
    return v->impl;
}

int mr_config_parse(mr_config *c, const cJSON *j, const char *label, mr_err *e)
{
    int rc;
    char ctx[256];
    memset(c, 0, sizeof *c);
    CK(check_section(j, NULL, label, e));
    const char *nm = NULL;
    CK(mr_json_get_string(j, "name", 0, "", &nm, label, e));
    snprintf(c->name, sizeof c->name, "%s", nm);
    int64_t seed;
    CK(mr_json_get_int64(j, "seed", 0, 1, &seed, label, e));
    if (seed < 0) return mr_errf(e, MR_EUSER, "%s: field seed: expected >= 0, got %" PRId64, label, seed);
    c->seed = (uint64_t)seed;
    CK(mr_json_get_int_range(j, "num_classes", 0, 0, 0, 100000, &c->num_classes, label, e));

    /* tap and extractor first: they set defaults of other sections */
    CK(get_name(j, "tap", "fpn", c->tap, sizeof c->tap, label, e));
    const mr_tap *tap = lookup(MR_VK_TAP, c->tap, label, "tap", e);
    if (!tap) return MR_EUSER;
    const cJSON *o;
    CK(mr_json_get_object(j, "roi", 0, &o, label, e));
    mr_json_ctx(ctx, sizeof ctx, label, "roi");
    CK(check_section(o, "roi", ctx, e));
    CK(get_name(o, "extractor", "roialign", c->roi, sizeof c->roi, ctx, e));
    const mr_roi_extractor *rx = lookup(MR_VK_ROI_EXTRACTOR, c->roi, label, "roi.extractor", e);
    if (!rx) return MR_EUSER;
    mr_detector_spec *s = &c->spec;
    *s = mr_detector_spec_default(tap, rx, c->num_classes > 0 ? c->num_classes : 1);
    CK(mr_json_get_int_range(o, "pooled", 0, tap->default_pooled, 1, 64, &s->roi_params.pooled_h, ctx, e));
    s->roi_params.pooled_w = s->roi_params.pooled_h;
    CK(mr_json_get_int_range(o, "sampling_ratio", 0, 2, -1, 64, &s->roi_params.sampling_ratio, ctx, e));
    CK(mr_json_get_bool(o, "aligned", 0, 0, &s->roi_params.aligned, ctx, e));
    CK(get_name(o, "agg", mr_roi_agg_name(rx->default_agg), c->agg, sizeof c->agg, ctx, e));
    if (mr_roi_agg_parse(c->agg, &s->roi_params.agg, e)) return mr_err_prefix(e, "%s: field agg", ctx);
    if (mr_roi_check(rx, &s->roi_params, e)) return mr_err_prefix(e, "%s", ctx);
    snprintf(c->agg, sizeof c->agg, "%s", mr_roi_agg_name(s->roi_params.agg));
    CK(mr_json_get_int_range(o, "canonical_scale", 0, 224, 1, 100000, &s->canonical_scale, ctx, e));
    CK(mr_json_get_int_range(o, "canonical_level", 0, 4, 2, 5, &s->canonical_level, ctx, e));

    /* input */
    CK(mr_json_get_object(j, "input", 0, &o, label, e));
    mr_json_ctx(ctx, sizeof ctx, label, "input");
    CK(check_section(o, "input", ctx, e));
    CK(mr_json_get_int_range(o, "min_size", 0, 800, 16, 4096, &c->min_size, ctx, e));
    CK(mr_json_get_int_range(o, "max_size", 0, 1333, 16, 8192, &c->max_size, ctx, e));
    if (c->max_size < c->min_size)
        return mr_errf(e, MR_EUSER, "%s: field max_size: %d is below min_size %d", ctx, c->max_size, c->min_size);
    CK(mr_json_get_int_range(o, "size_divisibility", 0, tap->size_divisor, 1, 1024, &c->size_div, ctx, e));
    if (c->size_div % tap->size_divisor)
        return mr_errf(e, MR_EUSER, "%s: field size_divisibility: %d: the %s tap needs a multiple of %d",
                       ctx, c->size_div, tap->name, tap->size_divisor);
    CK(mr_json_get_bool(o, "flip", 0, 1, &c->flip, ctx, e));
    const char *rs = NULL;
    CK(mr_json_get_string(o, "resize", 0, "mrcnn", &rs, ctx, e));
    if (!strcmp(rs, "torchvision")) c->resize = MR_RESIZE_TORCHVISION;
    else if (strcmp(rs, "mrcnn"))
        return mr_errf(e, MR_EUSER, "%s: field resize: '%s': expected \"mrcnn\" or \"torchvision\"", ctx, rs);

    /* backbone */
    CK(mr_json_get_object(j, "backbone", 0, &o, label, e));
    mr_json_ctx(ctx, sizeof ctx, label, "backbone");
    CK(check_section(o, "backbone", ctx, e));
    CK(mr_json_get_int(o, "depth", 0, 50, &s->backbone.depth, ctx, e));
    if (s->backbone.depth != 10 && s->backbone.depth != 18 && s->backbone.depth != 26 &&
        s->backbone.depth != 34 && s->backbone.depth != 50 && s->backbone.depth != 101)
        return mr_errf(e, MR_EUSER, "%s: field depth: %d: expected one of 10, 18, 26, 34, 50, 101",
                       ctx, s->backbone.depth);
    CK(get_float(o, "width", 1.0, 0.01, 4.0, &s->backbone.width, ctx, e));
    CK(get_name(o, "norm", "frozen_bn", c->norm, sizeof c->norm, ctx, e));
    const mr_norm *nr = lookup(MR_VK_NORM, c->norm, label, "backbone.norm", e);
    if (!nr) return MR_EUSER;
    s->backbone.norm = nr;
    CK(mr_json_get_int_range(o, "gn_groups", 0, 32, 1, 1024, &s->backbone.gn_groups, ctx, e));
    CK(mr_json_get_int_range(o, "freeze_at", 0, nr->default_freeze_at, 0, 5,
                             &s->backbone.freeze_at, ctx, e));

    CK(mr_json_get_object(j, "fpn", 0, &o, label, e));
    mr_json_ctx(ctx, sizeof ctx, label, "fpn");
    CK(check_section(o, "fpn", ctx, e));
    CK(mr_json_get_int_range(o, "channels", 0, 256, 1, 4096, &s->fpn_channels, ctx, e));

    /* anchors */
    CK(mr_json_get_object(j, "anchors", 0, &o, label, e));
    mr_json_ctx(ctx, sizeof ctx, label, "anchors");
    CK(check_section(o, "anchors", ctx, e));
    double arr[MR_RPN_MAX_SIZES];
    int n = 0;
    CK(mr_json_get_double_array(o, "sizes", 0, 1, MR_RPN_MAX_SIZES, arr, &n, ctx, e));
    if (n) {
        if (tap->rpn_levels > 1 && n != tap->rpn_levels)
            return mr_errf(e, MR_EUSER, "%s: field sizes: the %s tap needs %d sizes (one per RPN level), got %d",
                           ctx, tap->name, tap->rpn_levels, n);
        for (int i = 0; i < n; i++) {
            if (!(arr[i] > 0)) return mr_errf(e, MR_EUSER, "%s: field sizes[%d]: expected > 0", ctx, i);
            s->rpn.sizes[i] = (float)arr[i];
        }
        s->rpn.sizes_per_level = tap->rpn_levels > 1 ? 1 : n;
    }
    CK(mr_json_get_double_array(o, "ratios", 0, 1, MR_RPN_MAX_RATIOS, arr, &n, ctx, e));
    if (n) {
        for (int i = 0; i < n; i++) {
            if (!(arr[i] > 0)) return mr_errf(e, MR_EUSER, "%s: field ratios[%d]: expected > 0", ctx, i);
            s->rpn.ratios[i] = (float)arr[i];
        }
        s->rpn.nratios = n;
    }

    /* rpn */
    CK(mr_json_get_object(j, "rpn", 0, &o, label, e));
    mr_json_ctx(ctx, sizeof ctx, label, "rpn");
    CK(check_section(o, "rpn", ctx, e));
    mr_rpn_cfg *r = &s->rpn;
    CK(mr_json_get_int_range(o, "pre_nms_train", 0, r->pre_nms_train, 1, 1000000, &r->pre_nms_train, ctx, e));
    CK(mr_json_get_int_range(o, "post_nms_train", 0, r->post_nms_train, 1, 1000000, &r->post_nms_train, ctx, e));
    CK(mr_json_get_int_range(o, "pre_nms_test", 0, r->pre_nms_test, 1, 1000000, &r->pre_nms_test, ctx, e));
    CK(mr_json_get_int_range(o, "post_nms_test", 0, r->post_nms_test, 1, 1000000, &r->post_nms_test, ctx, e));
    CK(get_float(o, "nms_thresh", r->nms_thresh, 0, 1, &r->nms_thresh, ctx, e));
    CK(get_float(o, "fg_iou", r->fg_iou, 0, 1, &r->fg_iou, ctx, e));
    CK(get_float(o, "bg_iou", r->bg_iou, 0, 1, &r->bg_iou, ctx, e));
    if (r->bg_iou > r->fg_iou) return mr_errf(e, MR_EUSER, "%s: field bg_iou: %g above fg_iou %g", ctx, (double)r->bg_iou, (double)r->fg_iou);
    CK(mr_json_get_int_range(o, "batch_per_image", 0, r->batch_per_image, 1, 100000, &r->batch_per_image, ctx, e));
    CK(get_float(o, "positive_fraction", r->positive_fraction, 0.001, 1, &r->positive_fraction, ctx, e));

    /* box head */
    CK(mr_json_get_object(j, "box_head", 0, &o, label, e));
    mr_json_ctx(ctx, sizeof ctx, label, "box_head");
    CK(check_section(o, "box_head", ctx, e));
    mr_box_head_cfg *b = &s->box;
    CK(mr_json_get_int_range(o, "fc_dim", 0, b->fc_dim, 1, 65536, &b->fc_dim, ctx, e));
    CK(mr_json_get_int_range(o, "batch_per_image", 0, b->batch_per_image, 1, 100000, &b->batch_per_image, ctx, e));
    CK(get_float(o, "positive_fraction", b->positive_fraction, 0.001, 1, &b->positive_fraction, ctx, e));
    CK(get_float(o, "fg_iou", b->fg_iou, 0, 1, &b->fg_iou, ctx, e));
    b->bg_iou = b->fg_iou;
    CK(get_float(o, "score_thresh", b->score_thresh, 0, 1, &b->score_thresh, ctx, e));
    CK(get_float(o, "nms_thresh", b->nms_thresh, 0, 1, &b->nms_thresh, ctx, e));
    CK(mr_json_get_int_range(o, "detections_per_img", 0, 100, 1, 10000, &b->detections_per_img, ctx, e));

    /* heads */
    CK(mr_json_get_object(j, "heads", 0, &o, label, e));
    mr_json_ctx(ctx, sizeof ctx, label, "heads");
    /* the shared fields (the schema's), then each registered mask head's own knobs */
    enum { NHK = MR_SECTION_MAX + 16 * MR_MASK_MAX_KNOBS };
    const char *hk[NHK];
    char hnames[MR_SECTION_MAX][32];
    const int NSHARED = section_keys("heads", hk, hnames);
    int nhk = NSHARED;
    size_t nreg;
    const mr_variant *reg = mr_registry_entries(&nreg);
    for (size_t r = 0; r < nreg; r++) {
        if (reg[r].kind != MR_VK_MASK_HEAD) continue;
        const struct mr_mask_head *h = reg[r].impl;
        for (int k = 0; k < h->nknobs && nhk < NHK; k++) hk[nhk++] = h->knobs[k].name;
    }
    CK(mr_json_check_keys(o, hk, nhk, ctx, e));
    CK(mr_json_get_bool(o, "mask", 0, 0, &c->mask_on, ctx, e));
    CK(get_name(o, "mask_head", "fcn", c->mask_head, sizeof c->mask_head, ctx, e));
    const struct mr_mask_head *mhp = lookup(MR_VK_MASK_HEAD, c->mask_head, label, "heads.mask_head", e);
    if (!mhp) return MR_EUSER;
    CK(get_name(o, "mask_loss", "sigmoid", c->mask_loss, sizeof c->mask_loss, ctx, e));
    const mr_mask_loss *mlp = lookup(MR_VK_MASK_LOSS, c->mask_loss, label, "heads.mask_loss", e);
    if (!mlp) return MR_EUSER;
    CK(mr_json_get_int_range(o, "mask_width", 0, 256, 1, 4096, &c->mask_width, ctx, e));
    s->mask_on = c->mask_on;
    s->mask_head = mhp;
    s->mask_width = c->mask_width;
    /* the chosen head's knobs; another head's knob is an error naming it */
    mr_mask_head_knob_defaults(mhp, s->mask_knobs);
    for (int k = 0; k < mhp->nknobs; k++) {
        const mr_mask_knob *kb = &mhp->knobs[k];
        CK(mr_json_get_int_range(o, kb->name, 0, kb->def, kb->lo, kb->hi, &s->mask_knobs[k], ctx, e));
    }
    for (int i = NSHARED; i < nhk; i++) {
        if (mr_mask_head_knob_index(mhp, hk[i]) >= 0 || !cJSON_GetObjectItemCaseSensitive(o, hk[i])) continue;
        char owners[256] = "";
        size_t used = 0;
        for (size_t r = 0; r < nreg; r++) {
            if (reg[r].kind != MR_VK_MASK_HEAD || mr_mask_head_knob_index(reg[r].impl, hk[i]) < 0) continue;
            int w = snprintf(owners + used, sizeof owners - used, "%s\"%s\"", used ? ", " : "", reg[r].name);
            if (w > 0 && (size_t)w < sizeof owners - used) used += (size_t)w;
        }
        return mr_errf(e, MR_EUSER, "%s: field heads.%s: applies to mask_head %s only, "
                       "this config's mask_head is \"%s\" (remove the field)", label, hk[i], owners, c->mask_head);
    }
    s->mask_loss = mlp;
    s->mask_pooled = 14;
    CK(mr_json_get_double_range(o, "mask_loss_weight", 0, 1.0, 1e-6, 1e3, &c->mask_loss_weight, ctx, e));
    s->mask_loss_weight = (float)c->mask_loss_weight;

    CK(mr_json_get_bool(o, "keypoints", 0, 0, &c->kp_on, ctx, e));
    CK(mr_json_get_int_range(o, "kp_width", 0, 512, 1, 4096, &c->kp_width, ctx, e));
    CK(mr_json_get_int_range(o, "kp_convs", 0, 8, 1, MR_KP_MAX_CONV, &c->kp_convs, ctx, e));
    if (c->kp_on && tap->box_head == MR_BOX_HEAD_RES5)
        return mr_errf(e, MR_EUSER, "%s: field keypoints: the keypoint branch is not available with the %s tap yet "
                       "(its RoI head is res5; use a tap with a 2fc box head)", ctx, tap->name);
    s->kp_on = c->kp_on;
    s->kp = mr_kp_head_cfg_fpn(256, 17, c->kp_width);  /* in_ch and num_kp: set by the detector / dataset */
    s->kp.nconv = c->kp_convs;
    s->kp_pooled = 14;

    /* schedule */
    CK(mr_json_get_object(j, "schedule", 0, &o, label, e));
    mr_json_ctx(ctx, sizeof ctx, label, "schedule");
    CK(check_section(o, "schedule", ctx, e));
    mr_schedule *sc = &c->sched;
    int64_t v64;
    CK(mr_json_get_int64(o, "iters", 0, 90000, &v64, ctx, e));
    if (v64 < 1) return mr_errf(e, MR_EUSER, "%s: field iters: expected >= 1", ctx);
    sc->iters = (long)v64;
    CK(mr_json_get_int_range(o, "batch_size", 0, 2, 1, 64, &c->batch_size, ctx, e));
    double d;
    CK(mr_json_get_double_range(o, "lr", 0, 0.02, 0, 10, &d, ctx, e));
    sc->lr = d;
    CK(mr_json_get_int64(o, "warmup_iters", 0, 1000, &v64, ctx, e));
    if (v64 < 0) return mr_errf(e, MR_EUSER, "%s: field warmup_iters: expected >= 0", ctx);
    sc->warmup_iters = (long)v64;
    CK(mr_json_get_double_range(o, "warmup_factor", 0, 0.001, 0, 1, &sc->warmup_factor, ctx, e));
    int steps[MR_SCHED_MAX_STEPS];
    n = 0;
    const cJSON *sa = cJSON_GetObjectItemCaseSensitive(o, "steps");
    if (sa) {
        CK(mr_json_get_int_array(o, "steps", 0, 0, MR_SCHED_MAX_STEPS, steps, &n, ctx, e));
        sc->nsteps = n;
        for (int i = 0; i < n; i++) {
            if (steps[i] < 1 || (i && steps[i] <= steps[i - 1]))
                return mr_errf(e, MR_EUSER, "%s: field steps[%d]: %d: expected increasing positive iterations", ctx, i, steps[i]);
            sc->steps[i] = steps[i];
        }
    } else {
        /* at 2/3 and 8/9 of the run, kept increasing and >= 1 for short runs */
        sc->nsteps = 2;
        sc->steps[0] = sc->iters * 2 / 3 > 1 ? sc->iters * 2 / 3 : 1;
        sc->steps[1] = sc->iters * 8 / 9 > sc->steps[0] ? sc->iters * 8 / 9 : sc->steps[0] + 1;
    }
    CK(mr_json_get_double_range(o, "gamma", 0, 0.1, 0, 1, &sc->gamma, ctx, e));
    CK(mr_json_get_double_range(o, "momentum", 0, 0.9, 0, 1, &sc->momentum, ctx, e));
    CK(mr_json_get_double_range(o, "weight_decay", 0, 1e-4, 0, 1, &sc->weight_decay, ctx, e));
    CK(mr_json_get_int64(o, "checkpoint_every", 0, 5000, &v64, ctx, e));
    if (v64 < 1) return mr_errf(e, MR_EUSER, "%s: field checkpoint_every: expected >= 1", ctx);
    c->checkpoint_every = (long)v64;
    CK(mr_json_get_int_range(o, "log_every", 0, 20, 1, 1000000, &c->log_every, ctx, e));

    /* init: the weights training starts from */
    CK(mr_json_get_object(j, "init", 0, &o, label, e));
    mr_json_ctx(ctx, sizeof ctx, label, "init");
    CK(check_section(o, "init", ctx, e));
    const char *w = NULL;
    CK(mr_json_get_string(o, "weights", 0, "", &w, ctx, e));
    if (strlen(w) >= sizeof c->init_weights)
        return mr_errf(e, MR_EUSER, "%s: field init.weights: path longer than %zu characters", label, sizeof c->init_weights - 1);
    snprintf(c->init_weights, sizeof c->init_weights, "%s", w);
    CK(mr_json_get_bool(o, "strict", 0, 0, &c->init_strict, ctx, e));
    if (c->init_strict && !c->init_weights[0])
        return mr_errf(e, MR_EUSER, "%s: field init.strict: set, but no init.weights to be strict about", label);

    /* overrides: the --set list a resolved config was made with (a record) */
    const cJSON *ov = cJSON_GetObjectItemCaseSensitive(j, "overrides"), *it;
    if (ov && !cJSON_IsArray(ov))
        return mr_errf(e, MR_EUSER, "%s: field overrides: expected an array of \"KEY=VALUE\" strings, got %s", label,
                       mr_json_kind(ov));
    cJSON_ArrayForEach(it, ov) {
        if (!cJSON_IsString(it) || !strchr(it->valuestring, '='))
            return mr_errf(e, MR_EUSER, "%s: field overrides[%d]: expected a \"KEY=VALUE\" string", label, c->nsets);
        if (c->nsets >= MR_CONFIG_MAX_SETS || strlen(it->valuestring) >= sizeof c->sets[0])
            return mr_errf(e, MR_EUSER, "%s: field overrides: more than %d entries or one longer than %zu characters",
                           label, MR_CONFIG_MAX_SETS, sizeof c->sets[0] - 1);
        snprintf(c->sets[c->nsets++], sizeof c->sets[0], "%s", it->valuestring);
    }
    return MR_OK;
}

cJSON *mr_config_to_json(const mr_config *c)
{
    const mr_detector_spec *s = &c->spec;
    cJSON *j = cJSON_CreateObject(), *o;
    cJSON_AddStringToObject(j, "name", c->name);
    cJSON_AddNumberToObject(j, "seed", (double)c->seed);
    cJSON_AddNumberToObject(j, "num_classes", c->num_classes);
    o = cJSON_AddObjectToObject(j, "input");
    cJSON_AddNumberToObject(o, "min_size", c->min_size);
    cJSON_AddNumberToObject(o, "max_size", c->max_size);
    cJSON_AddNumberToObject(o, "size_divisibility", c->size_div);
    cJSON_AddBoolToObject(o, "flip", c->flip);
    /* only when not the default, so that every other config's resolved form is unchanged */
    if (c->resize != MR_RESIZE_MRCNN) cJSON_AddStringToObject(o, "resize", "torchvision");
    o = cJSON_AddObjectToObject(j, "backbone");
    cJSON_AddNumberToObject(o, "depth", s->backbone.depth);
    cJSON_AddNumberToObject(o, "width", s->backbone.width);
    cJSON_AddStringToObject(o, "norm", c->norm);
    cJSON_AddNumberToObject(o, "gn_groups", s->backbone.gn_groups);
    cJSON_AddNumberToObject(o, "freeze_at", s->backbone.freeze_at);
    cJSON_AddStringToObject(j, "tap", c->tap);
    o = cJSON_AddObjectToObject(j, "fpn");
    cJSON_AddNumberToObject(o, "channels", s->fpn_channels);
    o = cJSON_AddObjectToObject(j, "anchors");
    int ns = s->tap->rpn_levels * s->rpn.sizes_per_level;
    cJSON *a = cJSON_AddArrayToObject(o, "sizes");
    for (int i = 0; i < ns; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(s->rpn.sizes[i]));
    a = cJSON_AddArrayToObject(o, "ratios");
    for (int i = 0; i < s->rpn.nratios; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(s->rpn.ratios[i]));
    o = cJSON_AddObjectToObject(j, "rpn");
    cJSON_AddNumberToObject(o, "pre_nms_train", s->rpn.pre_nms_train);
    cJSON_AddNumberToObject(o, "post_nms_train", s->rpn.post_nms_train);
    cJSON_AddNumberToObject(o, "pre_nms_test", s->rpn.pre_nms_test);
    cJSON_AddNumberToObject(o, "post_nms_test", s->rpn.post_nms_test);
    cJSON_AddNumberToObject(o, "nms_thresh", s->rpn.nms_thresh);
    cJSON_AddNumberToObject(o, "fg_iou", s->rpn.fg_iou);
    cJSON_AddNumberToObject(o, "bg_iou", s->rpn.bg_iou);
    cJSON_AddNumberToObject(o, "batch_per_image", s->rpn.batch_per_image);
    cJSON_AddNumberToObject(o, "positive_fraction", s->rpn.positive_fraction);
    o = cJSON_AddObjectToObject(j, "roi");
    cJSON_AddStringToObject(o, "extractor", c->roi);
    cJSON_AddNumberToObject(o, "pooled", s->roi_params.pooled_h);
    cJSON_AddNumberToObject(o, "sampling_ratio", s->roi_params.sampling_ratio);
    cJSON_AddBoolToObject(o, "aligned", s->roi_params.aligned);
    cJSON_AddStringToObject(o, "agg", c->agg);
    cJSON_AddNumberToObject(o, "canonical_scale", s->canonical_scale);
    cJSON_AddNumberToObject(o, "canonical_level", s->canonical_level);
    o = cJSON_AddObjectToObject(j, "box_head");
    cJSON_AddNumberToObject(o, "fc_dim", s->box.fc_dim);
    cJSON_AddNumberToObject(o, "batch_per_image", s->box.batch_per_image);
    cJSON_AddNumberToObject(o, "positive_fraction", s->box.positive_fraction);
    cJSON_AddNumberToObject(o, "fg_iou", s->box.fg_iou);
    cJSON_AddNumberToObject(o, "score_thresh", s->box.score_thresh);
    cJSON_AddNumberToObject(o, "nms_thresh", s->box.nms_thresh);
    cJSON_AddNumberToObject(o, "detections_per_img", s->box.detections_per_img);
    o = cJSON_AddObjectToObject(j, "heads");
    cJSON_AddBoolToObject(o, "mask", c->mask_on);
    cJSON_AddStringToObject(o, "mask_head", c->mask_head);
    cJSON_AddStringToObject(o, "mask_loss", c->mask_loss);
    cJSON_AddNumberToObject(o, "mask_width", c->mask_width);
    /* the head's knobs: those it always records (mlp's mask_mlp_layers) and
     * any other not at its default, so that the resolved form (and the
     * regression set's fingerprint over it) of existing configs is unchanged */
    for (int k = 0; k < s->mask_head->nknobs; k++) {
        const mr_mask_knob *kb = &s->mask_head->knobs[k];
        if (kb->always || s->mask_knobs[k] != kb->def) cJSON_AddNumberToObject(o, kb->name, s->mask_knobs[k]);
    }
    /* likewise only when not the default 1 */
    if (c->mask_loss_weight != 1.0) cJSON_AddNumberToObject(o, "mask_loss_weight", c->mask_loss_weight);
    cJSON_AddBoolToObject(o, "keypoints", c->kp_on);
    cJSON_AddNumberToObject(o, "kp_width", c->kp_width);
    cJSON_AddNumberToObject(o, "kp_convs", c->kp_convs);
    o = cJSON_AddObjectToObject(j, "schedule");
    cJSON_AddNumberToObject(o, "iters", (double)c->sched.iters);
    cJSON_AddNumberToObject(o, "batch_size", c->batch_size);
    cJSON_AddNumberToObject(o, "lr", c->sched.lr);
    cJSON_AddNumberToObject(o, "warmup_iters", (double)c->sched.warmup_iters);
    cJSON_AddNumberToObject(o, "warmup_factor", c->sched.warmup_factor);
    a = cJSON_AddArrayToObject(o, "steps");
    for (int i = 0; i < c->sched.nsteps; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber((double)c->sched.steps[i]));
    cJSON_AddNumberToObject(o, "gamma", c->sched.gamma);
    cJSON_AddNumberToObject(o, "momentum", c->sched.momentum);
    cJSON_AddNumberToObject(o, "weight_decay", c->sched.weight_decay);
    cJSON_AddNumberToObject(o, "checkpoint_every", (double)c->checkpoint_every);
    cJSON_AddNumberToObject(o, "log_every", c->log_every);
    /* only when given, so that the resolved form of every other config is unchanged */
    if (c->init_weights[0]) {
        o = cJSON_AddObjectToObject(j, "init");
        cJSON_AddStringToObject(o, "weights", c->init_weights);
        cJSON_AddBoolToObject(o, "strict", c->init_strict);
    }
    if (c->nsets) {
        a = cJSON_AddArrayToObject(j, "overrides");
        for (int i = 0; i < c->nsets; i++) cJSON_AddItemToArray(a, cJSON_CreateString(c->sets[i]));
    }
    return j;
}

int mr_config_write(const mr_config *c, const char *path, mr_err *e)
{
    cJSON *j = mr_config_to_json(c);
    if (!j) return mr_errf(e, MR_ENOMEM, "%s: out of memory", path);
    int rc = mr_json_write_file(path, j, e);
    cJSON_Delete(j);
    return rc;
}

void mr_config_fingerprint(const mr_config *c, char *buf, size_t n)
{
    /* FNV-1a over the printed fields that shape the parameters */
    char s[1024];
    const mr_detector_spec *p = &c->spec;
    snprintf(s, sizeof s, "d%d w%.6g n%s g%d t%s f%d a%d r%d p%d fc%d k%d m%d:%s:%d kp%d:%d:%d:%d", p->backbone.depth,
             (double)p->backbone.width, c->norm, p->backbone.gn_groups, c->tap, p->fpn_channels,
             p->rpn.sizes_per_level, p->rpn.nratios, p->roi_params.pooled_h, p->box.fc_dim,
             p->box.num_classes, c->mask_on, c->mask_head, c->mask_width, c->kp_on, c->kp_width,
             c->kp_convs, p->kp.num_kp);
    /* a mask head knob is appended only when not at its default (mlp's
     * depth: " fc3"), so checkpoints written before it existed still resume */
    for (int k = 0; p->mask_head && k < p->mask_head->nknobs; k++) {
        const mr_mask_knob *kb = &p->mask_head->knobs[k];
        size_t l = strlen(s);
        if (p->mask_knobs[k] != kb->def) snprintf(s + l, sizeof s - l, " %s%d", kb->fp, p->mask_knobs[k]);
    }
    uint64_t h = 1469598103934665603ull;
    for (const char *q = s; *q; q++) { h ^= (unsigned char)*q; h *= 1099511628211ull; }
    snprintf(buf, n, "%016" PRIx64, h);
}
