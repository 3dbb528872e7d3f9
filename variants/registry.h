/*
 * registry.h — the one table of pluggable variants, by kind and name.
 *
 * A config names a variant ("roi_extractor": "roialign"); the harness or the
 * detector's builder looks it up here and gets a const pointer to that
 * variant's descriptor (its vtable), typed per kind. Unknown names fail with
 * the list of valid ones: "unknown roi_extractor 'roialgn' (known: roipool,
 * roiwarp, roialign)". The table lives in variants/registry.c and refuses
 * duplicate names (mr_registry_check, run by the `roi` test group's sweep).
 *
 * Kinds, and the descriptor struct each kind's variants define:
 *   roi_extractor  struct mr_roi_extractor  (core/roi_extractor.h)
 *   tap            struct mr_tap            (c4, c5, fpn, dc5)
 *   mask_loss      struct mr_mask_loss      (sigmoid, softmax)
 *   mask_head      struct mr_mask_head      (fcn, mlp, fcn_resize)
 *   norm           struct mr_norm           (frozen_bn, gn)
 * The typed accessors (mr_registry_tap, ...) return pointers to those
 * structs; the registry itself needs only their tags, so it includes no
 * variant header.
 *
 * HOW TO ADD A VARIANT (one file, one line): define `const struct
 * mr_<kind> mr_<kind>_<name> = {...};` in your variants/ file, then add one
 * line to MR_VARIANTS in variants/registry.c (kind enum suffix, registry
 * name, struct tag, symbol), per kind:
 *   roi_extractor  variants/roi_align.c            X(ROI_EXTRACTOR, "roialign", mr_roi_extractor, mr_roi_extractor_roialign)
 *   tap            variants/tap_dc5.c              X(TAP, "dc5", mr_tap, mr_tap_dc5)
 *   mask_loss      variants/mask_loss_softmax.c    X(MASK_LOSS, "softmax", mr_mask_loss, mr_mask_loss_softmax)
 *   mask_head      variants/mask_head_fcn_resize.c X(MASK_HEAD, "fcn_resize", mr_mask_head, mr_mask_head_fcn_resize)
 *   norm           variants/norm_gn.c              X(NORM, "gn", mr_norm, mr_norm_gn)
 * (a mask head's config knobs are declared in its descriptor; config.c
 * needs no change). The order of the lines is the order names are listed
 * in errors and --help. The variant then needs its row in
 * tests/test_variants.c's case table (the `variants` test group fails
 * without it) and gets the kind's gradient check, determinism and bad-input
 * tests. README.md's "Adding a variant" lists the interface of each kind.
 * HOW TO ADD A KIND: one line in MR_VARIANT_KINDS below, bump the
 * static_assert count in registry.c, and give the kind its runners in
 * tests/test_variants.c.
 *
 * RoI extractors: three names, "roipool" (max only), "roiwarp" and
 * "roialign" (max or avg, chosen by mr_roi_params.agg, so table 2c's
 * "RoIAlign max" is roialign with agg max).
 *
 * defines: MR_VARIANT_KINDS, mr_variant_kind, MR_VK_*, MR_VK_COUNT, mr_variant,
 *   mr_variant_kind_name, mr_registry_entries, mr_registry_find,
 *   mr_registry_names, mr_registry_check, mr_registry_check_table,
 *   mr_registry_roi_extractor,
 *   mr_registry_tap, mr_registry_mask_loss, mr_registry_mask_head, mr_registry_norm
 */
#ifndef MR_REGISTRY_H
#define MR_REGISTRY_H

#include <stddef.h>
#include "core/err.h"

/* X(ENUM_SUFFIX, lower-case name, descriptor struct tag) */
#define MR_VARIANT_KINDS(X)                      \
    X(ROI_EXTRACTOR, roi_extractor, mr_roi_extractor) \
    X(TAP, tap, mr_tap)                          \
    X(MASK_LOSS, mask_loss, mr_mask_loss)        \
    X(MASK_HEAD, mask_head, mr_mask_head)        \
    X(NORM, norm, mr_norm)

typedef enum mr_variant_kind {
#define MR_X(E, n, t) MR_VK_##E,
    MR_VARIANT_KINDS(MR_X)
#undef MR_X
    MR_VK_COUNT
} mr_variant_kind;

/* One registered variant. impl points to a `const struct <tag>` of the kind. */
typedef struct mr_variant {
    mr_variant_kind kind;
    const char *name;
    const void *impl;
} mr_variant;

/* "roi_extractor", "tap", ...; NULL for a kind out of range */
const char *mr_variant_kind_name(mr_variant_kind k);
/* the whole table (for sweeps and --help); *n gets its length */
const mr_variant *mr_registry_entries(size_t *n);
/* the entry of that kind and name, or NULL with MR_EUSER "unknown <kind>
 * '<name>' (known: a, b, c)" (also when the kind has no variants yet) */
const mr_variant *mr_registry_find(mr_variant_kind k, const char *name, mr_err *e);
/* "a, b, c": the names of kind k, in table order, into buf (truncated to n) */
const char *mr_registry_names(mr_variant_kind k, char *buf, size_t n);
/* table sanity: kinds in range, names non-empty and unique within a kind,
 * impl non-NULL; MR_EINTERNAL naming the offending entry otherwise */
int mr_registry_check(mr_err *e);
/* the same checks on any table (the tests feed it a table with a duplicate) */
int mr_registry_check_table(const mr_variant *t, size_t n, mr_err *e);

/* typed lookups: const struct mr_<kind> *mr_registry_<kind>(name, e) */
#define MR_X(E, n, t) const struct t *mr_registry_##n(const char *name, mr_err *e);
MR_VARIANT_KINDS(MR_X)
#undef MR_X

#endif
