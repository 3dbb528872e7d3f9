/*
 * test_util.c — see test_util.h.
 */
#include "tests/test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *tu_fixture(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "tests/fixtures/%s", rel);
    return buf;
}

const char *tu_shared_path(char *buf, size_t n, const char *rel)
{
    const char *root = getenv("MRCNN_SHARED");
    snprintf(buf, n, "%s/%s", root && *root ? root : "../shared", rel);
    return access(buf, F_OK) == 0 ? buf : NULL;
}

const char *tu_bin(void)
{
    const char *b = getenv("MRCNN_BIN");
    return b && *b ? b : "./mrcnn";
}

char *tu_tmpdir(const char *tag)
{
    char tmpl[4096];
    /* under the runner's own folder (test_main.c), removed when every test passed */
    const char *base = getenv("MRCNN_TEST_TMP");
    snprintf(tmpl, sizeof tmpl, "%s/mrcnn-test-%s-XXXXXX", base && *base ? base : "/tmp", tag);
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

int tu_run(const char *cmd, char *out, size_t outn)
{
    char full[8192];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p) return -1;
    size_t used = 0;
    char chunk[4096];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, p)) > 0) {
        if (out && used + 1 < outn) {
            size_t c = k < outn - 1 - used ? k : outn - 1 - used;
            memcpy(out + used, chunk, c);
            used += c;
        }
    }
    if (out && outn) out[used] = 0;
    int st = pclose(p);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

int tu_log_losses(const char *path, double *out, int max)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char line[8192];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        const char *s = strstr(line, "\"loss\": ");
        if (s) out[n++] = atof(s + 8);
    }
    fclose(f);
    return n;
}

int tu_file_contains(const char *path, const char *text)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (!b) { fclose(f); return 0; }
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = 0;
    fclose(f);
    int r = strstr(b, text) != NULL;
    free(b);
    return r;
}

int tu_asan(void)
{
    const char *a = getenv("MRCNN_ASAN");
    return a && *a == '1';
}

char *tu_replace_first(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    if (!at) return NULL;
    size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
    char *t = malloc(n);
    if (t) snprintf(t, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    return t;
}
