/*
 * test_util.h — helpers shared by the tests: where the shared fixtures and
 * the built binary are, temporary directories, and running `mrcnn` as a
 * subprocess to check its exit code and messages.
 *
 * defines: tu_fixture, tu_shared_path, tu_bin, tu_tmpdir, tu_run, tu_file_contains,
 *          tu_replace_first
 */
#ifndef MR_TEST_UTIL_H
#define MR_TEST_UTIL_H

#include <stddef.h>

/* "tests/fixtures/<rel>" into buf (the fixtures committed with the tests,
 * see tests/fixtures/coco/README.md); returns buf */
const char *tu_fixture(char *buf, size_t n, const char *rel);
/* "../shared/<rel>" (or $MRCNN_SHARED/<rel>) into buf, for the optional
 * large reference files that are not committed (the val2017-sized eval
 * sets, the reference paper tables); returns buf, or NULL when that path
 * does not exist (a clone without ../shared: the caller skips) */
const char *tu_shared_path(char *buf, size_t n, const char *rel);
/* the mrcnn binary under test ($MRCNN_BIN, else ./mrcnn) */
const char *tu_bin(void);
/* a fresh empty directory under /tmp; returns a static-lifetime string the
 * caller frees */
char *tu_tmpdir(const char *tag);
/* run `sh -c cmd`, capture stdout+stderr (truncated to outn) into out
 * (may be NULL); returns the exit status (or -1) */
int tu_run(const char *cmd, char *out, size_t outn);
/* 1 if file contains the text */
int tu_file_contains(const char *path, const char *text);
/* the "loss" of every line of a run's train_log.jsonl, in order, into
 * out[0..max); returns how many (-1 when the file cannot be read) */
int tu_log_losses(const char *path, double *out, int max);
/* s with its first `from` replaced by `to` (malloc'd; NULL when s lacks
 * from): damaged copies of a good file for bad-input tests */
char *tu_replace_first(const char *s, const char *from, const char *to);
/* 1 under AddressSanitizer builds (make asan): long tests may shrink */
int tu_asan(void);

#endif
