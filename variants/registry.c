/*
 * registry.c — the one table of variants (see registry.h for how to add one:
 * a single X(...) line in MR_VARIANTS below).
 */
#include "variants/registry.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* Every kind has a name; adding a kind means updating this count too. */
static_assert(MR_VK_COUNT == 5, "update MR_VARIANT_KINDS users when adding a kind");

/* X(KIND, "name", struct tag, symbol). Order = listing order. */
#define MR_VARIANTS(X)                                                \
    X(ROI_EXTRACTOR, "roipool", mr_roi_extractor, mr_roi_extractor_roipool)   \
    X(ROI_EXTRACTOR, "roiwarp", mr_roi_extractor, mr_roi_extractor_roiwarp)   \
    X(ROI_EXTRACTOR, "roialign", mr_roi_extractor, mr_roi_extractor_roialign) \
    X(MASK_LOSS, "sigmoid", mr_mask_loss, mr_mask_loss_sigmoid)              \
    X(MASK_LOSS, "softmax", mr_mask_loss, mr_mask_loss_softmax)              \
    X(MASK_HEAD, "fcn", mr_mask_head, mr_mask_head_fcn)                      \
    X(MASK_HEAD, "mlp", mr_mask_head, mr_mask_head_mlp)                      \
    X(MASK_HEAD, "fcn_resize", mr_mask_head, mr_mask_head_fcn_resize)        \
    X(TAP, "c4", mr_tap, mr_tap_c4)                                          \
    X(TAP, "c5", mr_tap, mr_tap_c5)                                          \
    X(TAP, "fpn", mr_tap, mr_tap_fpn)                                        \
    X(TAP, "dc5", mr_tap, mr_tap_dc5)                                        \
    X(NORM, "frozen_bn", mr_norm, mr_norm_frozen_bn)                         \
    X(NORM, "gn", mr_norm, mr_norm_gn)

/* the descriptors, declared with their (possibly incomplete) struct types */
#define MR_DECL(K, name, tag, sym) extern const struct tag sym;
MR_VARIANTS(MR_DECL)
#undef MR_DECL

static const mr_variant table[] = {
#define MR_ENTRY(K, name, tag, sym) {MR_VK_##K, name, &sym},
    MR_VARIANTS(MR_ENTRY)
#undef MR_ENTRY
};

static const char *const kind_names[] = {
#define MR_X(E, n, t) #n,
    MR_VARIANT_KINDS(MR_X)
#undef MR_X
};
static_assert(sizeof kind_names / sizeof kind_names[0] == MR_VK_COUNT, "kind name table");

const char *mr_variant_kind_name(mr_variant_kind k)
{
    return (unsigned)k < MR_VK_COUNT ? kind_names[k] : NULL;
}

const mr_variant *mr_registry_entries(size_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}

const char *mr_registry_names(mr_variant_kind k, char *buf, size_t n)
{
    size_t used = 0;
    if (n == 0) return buf;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        if (table[i].kind != k) continue;
        int w = snprintf(buf + used, n - used, "%s%s", used ? ", " : "", table[i].name);
        if (w < 0 || (size_t)w >= n - used) break;
        used += (size_t)w;
    }
    return buf;
}

const mr_variant *mr_registry_find(mr_variant_kind k, const char *name, mr_err *e)
{
    const char *kn = mr_variant_kind_name(k);
    if (!kn) { mr_errf(e, MR_EINTERNAL, "registry: variant kind %d out of range", (int)k); return NULL; }
    for (size_t i = 0; name && i < sizeof table / sizeof table[0]; i++)
        if (table[i].kind == k && !strcmp(table[i].name, name)) return &table[i];
    char names[512];
    mr_registry_names(k, names, sizeof names);
    mr_errf(e, MR_EUSER, "unknown %s '%s' (known: %s)", kn, name ? name : "(null)",
            names[0] ? names : "none registered");
    return NULL;
}

int mr_registry_check_table(const mr_variant *t, size_t n, mr_err *e)
{
    for (size_t i = 0; i < n; i++) {
        const mr_variant *v = &t[i];
        if ((unsigned)v->kind >= MR_VK_COUNT)
            return mr_errf(e, MR_EINTERNAL, "registry entry %zu: kind %d out of range", i, (int)v->kind);
        if (!v->name || !v->name[0])
            return mr_errf(e, MR_EINTERNAL, "registry entry %zu (%s): empty name", i,
                           kind_names[v->kind]);
        if (!v->impl)
            return mr_errf(e, MR_EINTERNAL, "registry entry %zu (%s '%s'): no descriptor", i,
                           kind_names[v->kind], v->name);
        for (size_t j = 0; j < i; j++)
            if (t[j].kind == v->kind && !strcmp(t[j].name, v->name))
                return mr_errf(e, MR_EINTERNAL, "registry: duplicate %s '%s' (entries %zu and %zu)",
                               kind_names[v->kind], v->name, j, i);
    }
    return MR_OK;
}

int mr_registry_check(mr_err *e)
{
    return mr_registry_check_table(table, sizeof table / sizeof table[0], e);
}

#define MR_X(E, n, t)                                                    \
    const struct t *mr_registry_##n(const char *name, mr_err *e)         \
    {                                                                    \
        const mr_variant *v = mr_registry_find(MR_VK_##E, name, e);      \
        return v ? (const struct t *)v->impl : NULL;                     \
    }
MR_VARIANT_KINDS(MR_X)
#undef MR_X
