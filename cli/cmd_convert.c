/*
 * cmd_convert.c — `mrcnn convert IN.pth OUT.safetensors`: a torchvision
 * checkpoint to mrcnn's safetensors, by running
 * scripts/torchvision_reference.py convert with Debian's /usr/bin/python3
 * (torch is needed to unpickle a .pth), then reading the result back to
 * check it. The script is found with --script, $MRCNN_SCRIPTS, ./scripts/,
 * or scripts/ beside (or one level above) the binary.
 */
#include "cli/cli.h"
#include "core/fileio.h"
#include "core/safetensors.h"

#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SCRIPT "torchvision_reference.py"

static void usage(FILE *f)
{
    fprintf(f, "usage: mrcnn convert IN.pth OUT.safetensors [--script PATH]\n\n"
               "Converts a torchvision Mask R-CNN / Keypoint R-CNN state_dict (.pth, or a\n"
               "checkpoint dict with a \"model\" entry) to F32 safetensors with torchvision's\n"
               "tensor names, which mrcnn loads. An ImageNet ResNet state_dict (torchvision's\n"
               "resnet50) converts as it is (conv1.weight, layer1.0.conv1.weight, ..., fc.*):\n"
               "mrcnn train --init reads those names under backbone.body. Needs\n"
               "/usr/bin/python3 with torch (Debian: python3-torchvision).\n\n"
               "options:\n"
               "  --script PATH  scripts/" SCRIPT " to run (default: found automatically)\n");
}

/* the first existing candidate path of the script into buf, or NULL */
static const char *find_script(char *buf, size_t n)
{
    const char *env = getenv("MRCNN_SCRIPTS");
    if (env && *env) {
        snprintf(buf, n, "%s/%s", env, SCRIPT);
        if (mr_file_exists(buf)) return buf;
    }
    snprintf(buf, n, "scripts/%s", SCRIPT);
    if (mr_file_exists(buf)) return buf;
    char exe[4096];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k > 0) {
        exe[k] = 0;
        char *dir = dirname(exe);
        snprintf(buf, n, "%s/scripts/%s", dir, SCRIPT);
        if (mr_file_exists(buf)) return buf;
        snprintf(buf, n, "%s/../scripts/%s", dir, SCRIPT);
        if (mr_file_exists(buf)) return buf;
    }
    return NULL;
}

int cmd_convert(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"script", required_argument, 0, 's'}, {0, 0, 0, 0}};
    const char *script = NULL;
    char found[8192];
    int c;
    mr_err e = {0};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return MR_EXIT_OK;
        case 's': script = optarg; break;
        default: return cli_opt_error("convert", c, argv, opts);
        }
    }
    if (argc - optind != 2) return cli_usage_error("convert", "expected IN.pth OUT.safetensors");
    const char *in = argv[optind], *out = argv[optind + 1];
    if (!mr_file_exists(in)) {
        mr_errf(&e, MR_EIO, "%s: no such file", in);
        return cli_fail("convert", &e);
    }
    if (!script) script = find_script(found, sizeof found);
    if (!script || !mr_file_exists(script)) {
        mr_errf(&e, MR_EUSER, "cannot find scripts/%s (use --script PATH or MRCNN_SCRIPTS)", SCRIPT);
        return cli_fail("convert", &e);
    }
    if (!mr_file_exists("/usr/bin/python3")) {
        mr_errf(&e, MR_EUSER, "/usr/bin/python3 not found (apt-get install python3-torchvision)");
        return cli_fail("convert", &e);
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        mr_errf(&e, MR_EIO, "fork failed");
        return cli_fail("convert", &e);
    }
    if (pid == 0) {
        execl("/usr/bin/python3", "python3", script, "convert", in, out, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        mr_errf(&e, MR_EUSER, "%s: conversion failed (%s convert exited with status %d)", in, script,
                WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        return cli_fail("convert", &e);
    }
    mr_st_file f;
    if (mr_st_read(&f, out, &e)) return cli_fail("convert", &e);
    printf("%s: %d tensors\n", out, f.n);
    mr_st_close(&f);
    return MR_EXIT_OK;
}
