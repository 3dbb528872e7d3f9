/*
 * mask_head.c — what every mask head shares (see mask_head.h): knob
 * defaults and look-up, the descriptor check, the block size, the error
 * message format. The heads themselves are variants/mask_head_*.c.
 */
#include "core/mask_head.h"

#include <stdlib.h>
#include <string.h>

void mr_mask_head_knob_defaults(const mr_mask_head *h, int *vals)
{
    for (int i = 0; i < h->nknobs && i < MR_MASK_MAX_KNOBS; i++) vals[i] = h->knobs[i].def;
}

int mr_mask_head_knob_index(const mr_mask_head *h, const char *name)
{
    for (int i = 0; i < h->nknobs && i < MR_MASK_MAX_KNOBS; i++)
        if (!strcmp(h->knobs[i].name, name)) return i;
    return -1;
}

int mr_mask_head_check_desc(const mr_mask_head *h, mr_err *e)
{
    const char *n = h && h->name ? h->name : "(unnamed)";
    if (!h || !h->configure || !h->out_size || !h->params || !h->bind || !h->init || !h->forward ||
        !h->backward)
        return mr_errf(e, MR_EINTERNAL, "mask head %s: incomplete descriptor", n);
    if (h->nknobs < 0 || h->nknobs > MR_MASK_MAX_KNOBS)
        return mr_errf(e, MR_EINTERNAL, "mask head %s: %d knobs, at most %d", n, h->nknobs, MR_MASK_MAX_KNOBS);
    if (h->acts_size > MR_MASK_ACTS_MAX)
        return mr_errf(e, MR_EINTERNAL, "mask head %s: acts of %zu bytes, at most %d", n, h->acts_size,
                       MR_MASK_ACTS_MAX);
    for (int i = 0; i < h->nknobs; i++)
        if (!h->knobs[i].name || h->knobs[i].lo > h->knobs[i].def || h->knobs[i].def > h->knobs[i].hi)
            return mr_errf(e, MR_EINTERNAL, "mask head %s: knob %d: no name or default out of range", n, i);
    return MR_OK;
}

int mr_mask_head_configure(const mr_mask_head *h, void *state, const mr_mask_head_io *io, mr_err *e)
{
    for (int i = 0; i < h->nknobs; i++) {
        const mr_mask_knob *k = &h->knobs[i];
        if (io->knobs[i] < k->lo || io->knobs[i] > k->hi)
            return mr_errf(e, MR_EUSER, "mask head %s: %s = %d, expected %d..%d", h->name, k->name, io->knobs[i],
                           k->lo, k->hi);
    }
    return h->configure(state, io, e);
}

size_t mr_mask_head_numel(const mr_mask_head *h, const void *state)
{
    /* the last tensor's aligned end (offsets are increasing) */
    int n = h->params(state, NULL, NULL, 0);
    if (n <= 0) return 0;
    mr_param_desc *d = malloc(sizeof *d * (size_t)n);
    if (!d) return 0;
    h->params(state, NULL, d, n);
    size_t end = d[n - 1].offset + mr_param_align(d[n - 1].numel);
    free(d);
    return end;
}

int mr_mask_head_oom(mr_err *e, const char *what, int R)
{
    return mr_errf(e, MR_ENOMEM, "mask head: out of memory for %s (%d RoIs)", what, R);
}

int mr_mask_head_bad(mr_err *e, const char *field, int v, const char *want)
{
    return mr_errf(e, MR_EUSER, "mask head: %s = %d, expected %s", field, v, want);
}
