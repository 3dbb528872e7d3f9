/*
 * init_weights.h — start training from given weights: every tensor of a
 * safetensors file whose name and shape match a parameter of the model is
 * copied into it (a converted torchvision checkpoint, an ImageNet backbone
 * with backbone.body.* only, or one of our own runs' model_final /
 * checkpoint files); the rest keeps its usual initialisation. The report
 * lists what was loaded, what the model has that the file lacks (missing),
 * what the file has that the model lacks (unexpected; a checkpoint's
 * momentum.* optimizer state of the model's tensors is counted apart, not
 * unexpected) and the tensors of another shape (the class layers of a
 * model with other categories), with both shapes. Strict: any missing,
 * unexpected or mismatched tensor is an error and nothing is loaded.
 * A file whose names are a bare torchvision ImageNet ResNet's (conv1.weight
 * and layer1.0.conv1.weight, no backbone.* name: torchvision's resnet50
 * state_dict as mrcnn convert writes it) is read under backbone.body.:
 * its conv1.weight is the model's backbone.body.conv1.weight; its fc.*
 * classifier has no place in a detector (unexpected). A file of which
 * nothing can be loaded is an error, strict or not.
 *
 * defines: mr_init_report, mr_init_load, mr_init_report_json,
 *          mr_init_report_line, mr_init_report_names_line, mr_init_frozen_random,
 *          mr_init_report_free, MR_INIT_RESNET_PREFIX
 */
#ifndef MR_INIT_WEIGHTS_H
#define MR_INIT_WEIGHTS_H

#include <stddef.h>
#include <cjson/cJSON.h>
#include "core/err.h"
#include "core/params.h"

/* where a bare torchvision ResNet's names are read */
#define MR_INIT_RESNET_PREFIX "backbone.body."

typedef struct mr_init_report {
    char path[1024];
    int strict;
    char prefix[32];             /* "" or MR_INIT_RESNET_PREFIX: the file's names read under it */
    int n_file;                  /* tensors in the file */
    int nloaded, nmissing, nunexpected, nmismatch, nstate;
    size_t loaded_numel;         /* floats copied */
    char **loaded, **missing, **unexpected;   /* tensor names, in model / file order */
    char **mismatch;             /* "NAME: [a, b] in the file, [c, d] in the model" */
    unsigned char *is_loaded;    /* one flag per parameter table entry */
} mr_init_report;

/* Load path's matching tensors into pt's values (after its usual
 * initialisation) and fill r (free with mr_init_report_free, also after an
 * error). A file that cannot be read or is malformed, one with no tensor to
 * load (an example name of the file's and of the model's in the message), a
 * matching tensor of an integer dtype or with a non-finite value, and
 * (strict) any missing,
 * unexpected or mismatched tensor: an error naming the file and tensors. */
int mr_init_load(const mr_param_table *pt, const char *path, int strict, mr_init_report *r, mr_err *e);
/* The report as JSON (RUN/init.json): weights, strict, counts and the lists. */
cJSON *mr_init_report_json(const mr_init_report *r);
/* One line: "W: loaded 61 of 72 tensors (..); 11 missing, initialised as
 * usual (a, b, ...); 2 unexpected (...); 3 of another shape (...)". */
void mr_init_report_line(const mr_init_report *r, char *buf, size_t n);
/* When the file's names were read under a prefix (a bare torchvision
 * ResNet): one line saying so, with the classifier left out; returns 1.
 * Else buf is "" and it returns 0. */
int mr_init_report_names_line(const mr_init_report *r, char *buf, size_t n);
/* The frozen tensors (not trainable) whose initial values are random and
 * were not loaded (r NULL: nothing loaded): their count, the first names
 * into names ("a, b, ... and 9 more"). Constant initial values (a norm's
 * ones and zeros) are not counted: they are no random weights. */
int mr_init_frozen_random(const mr_param_table *pt, const mr_init_report *r, char *names, size_t n);
void mr_init_report_free(mr_init_report *r);

#endif
