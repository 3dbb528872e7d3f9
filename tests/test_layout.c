/*
 * test_layout.c — the source tree keeps the layout the README's map
 * promises: includes between folders point down only, along
 *
 *   cli -> harness -> report -> eval, datasets -> coco -> core
 *                  -> variants -> core
 *
 * (a folder may include any folder below it on that list, never one above
 * or beside it: eval/ and datasets/ never include each other), every folder
 * with sources is on the list, and every folder on it has a row in the
 * README's layout table. A new folder or a new arrow is a decision to make
 * here and in the README, not an accident.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "tests/test_util.h"

/* each folder and the folders it may include (besides itself) */
static const struct { const char *dir; const char *may[8]; } LAYOUT[] = {
    {"core", {NULL}},
    {"coco", {"core", NULL}},
    {"variants", {"core", NULL}},
    {"eval", {"coco", "core", NULL}},
    {"datasets", {"coco", "core", NULL}},
    {"report", {"eval", "coco", "core", NULL}},
    {"harness", {"report", "eval", "datasets", "variants", "coco", "core", NULL}},
    {"cli", {"harness", "report", "eval", "datasets", "variants", "coco", "core", NULL}},
};
#define NLAYOUT (sizeof LAYOUT / sizeof LAYOUT[0])

static int layout_index(const char *dir)
{
    for (size_t i = 0; i < NLAYOUT; i++)
        if (!strcmp(LAYOUT[i].dir, dir)) return (int)i;
    return -1;
}

static int may_include(int from, const char *to)
{
    if (!strcmp(LAYOUT[from].dir, to)) return 1;
    for (int k = 0; LAYOUT[from].may[k]; k++)
        if (!strcmp(LAYOUT[from].may[k], to)) return 1;
    return 0;
}

static int is_source(const char *name)
{
    size_t n = strlen(name);
    return n > 2 && name[n - 2] == '.' && (name[n - 1] == 'c' || name[n - 1] == 'h');
}

/* the folders named by `#include "X/..."` lines of one file that X may not
 * include; returns the number of bad lines, appends them to report */
static int check_file(int from, const char *path, char *report, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[1024];
    int bad = 0, ln = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        const char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (strncmp(p, "#include \"", 10)) continue;
        p += 10;
        const char *slash = strchr(p, '/'), *quote = strchr(p, '"');
        if (!slash || (quote && quote < slash)) continue;   /* same-folder include */
        char to[64];
        size_t k = (size_t)(slash - p);
        if (k >= sizeof to) continue;
        memcpy(to, p, k);
        to[k] = 0;
        if (!may_include(from, to)) {
            size_t used = strlen(report);
            snprintf(report + used, n - used, "  %s:%d includes %s/ (%s/ may include only the folders below it)\n",
                     path, ln, to, LAYOUT[from].dir);
            bad++;
        }
    }
    fclose(f);
    return bad;
}

static void test_includes_point_down(void **state)
{
    (void)state;
    char report[8192] = "";
    int bad = 0, files = 0;
    for (size_t i = 0; i < NLAYOUT; i++) {
        DIR *d = opendir(LAYOUT[i].dir);
        if (!d) { print_error("no folder %s/ (run from the repository root)\n", LAYOUT[i].dir); fail(); }
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!is_source(de->d_name)) continue;
            char path[512];
            snprintf(path, sizeof path, "%s/%s", LAYOUT[i].dir, de->d_name);
            bad += check_file((int)i, path, report, sizeof report);
            files++;
        }
        closedir(d);
    }
    if (bad) print_error("%d include(s) point up or sideways:\n%s", bad, report);
    assert_int_equal(bad, 0);
    assert_true(files > 100);   /* the scan saw the tree */
}

/* every top-level folder with .c files is on the list (tests/, scripts/
 * and build outputs aside) */
static void test_every_source_folder_is_placed(void **state)
{
    (void)state;
    static const char *const OUTSIDE[] = {"tests", "scripts", "build", "build-asan", "results", "docs", ".git", NULL};
    DIR *top = opendir(".");
    assert_non_null(top);
    struct dirent *de;
    int missing = 0;
    while ((de = readdir(top))) {
        if (de->d_name[0] == '.') continue;
        int skip = 0;
        for (int k = 0; OUTSIDE[k]; k++) skip |= !strcmp(de->d_name, OUTSIDE[k]);
        if (skip || !strncmp(de->d_name, "build", 5)) continue;
        struct stat st;
        if (stat(de->d_name, &st) || !S_ISDIR(st.st_mode)) continue;
        DIR *d = opendir(de->d_name);
        if (!d) continue;
        struct dirent *f;
        int has_c = 0;
        while ((f = readdir(d))) has_c |= is_source(f->d_name);
        closedir(d);
        if (has_c && layout_index(de->d_name) < 0) {
            print_error("folder %s/ has sources but no place in the layout (tests/test_layout.c, README's map)\n", de->d_name);
            missing++;
        }
    }
    closedir(top);
    assert_int_equal(missing, 0);
}

/* the README's layout table has a row for each folder */
static void test_readme_map_lists_every_folder(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = fopen("README.md", "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, len, f), len);
    buf[len] = 0;
    fclose(f);
    int missing = 0;
    for (size_t i = 0; i < NLAYOUT; i++) {
        char row[80];
        snprintf(row, sizeof row, "| `%s/` |", LAYOUT[i].dir);
        if (!strstr(buf, row)) { print_error("README.md: no layout row \"%s\"\n", row); missing++; }
    }
    free(buf);
    assert_int_equal(missing, 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_includes_point_down),
    cmocka_unit_test(test_every_source_folder_is_placed),
    cmocka_unit_test(test_readme_map_lists_every_folder),
};

size_t tests_layout(const struct CMUnitTest **out)
{
    *out = tests;
    return sizeof tests / sizeof tests[0];
}
