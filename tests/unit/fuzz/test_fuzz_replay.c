/*
 * test_fuzz_replay.c - every fuzz target (fuzz/fuzz_<target>.c) on every
 * file of fuzz/corpus/<target>/ and fuzz/regressions/<target>/, without
 * libFuzzer: built by `make check` with the project's compiler, so the
 * seeds and every crash ever found keep passing whether or not clang is
 * installed. Under scripts/test-sanitizers.sh it runs with ASan and UBSan.
 *
 * Each file runs in a child process (a crash, an abort or a hang of 60 s is
 * one failed test naming the file, and the others still run); one TAP line
 * per file.
 *
 *   tests/unit/fuzz/test_fuzz_replay                 # all targets, from $HN_SRCDIR or .
 *   tests/unit/fuzz/test_fuzz_replay h1 FILE...      # one target, these files
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "fuzz/fuzz.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/common.h"
#include "tests/unit/tap.h"

#define FILE_TIMEOUT 60 /* seconds one input may take */

typedef struct target {
    const char *name;
    int (*one)(const uint8_t *data, size_t size);
} target_t;

static const target_t targets[] = {
    {"cfg", hn_fuzz_cfg_one},
    {"ws", hn_fuzz_ws_one},
    {"h1", hn_fuzz_h1_one},
    {"proxy", hn_fuzz_proxy_one},
};

static uint8_t *
read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data = NULL;
    size_t len = 0, cap = 0, n;

    if (f == NULL)
        return NULL;
    do {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            data = realloc(data, cap);
            if (data == NULL)
                abort();
        }
        n = fread(data + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    *size = len;
    return data;
}

/* Run t on the file at path in a child; one TAP line. */
static void
replay(const target_t *t, const char *path)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        ok(0, "%s %s: fork failed", t->name, path);
        return;
    }
    if (pid == 0) {
        size_t size;
        uint8_t *data = read_all(path, &size);
        if (data == NULL) {
            perror(path);
            _exit(2);
        }
        alarm(FILE_TIMEOUT);
        t->one(data, size);
        free(data);
        exit(0); /* exit, not _exit: the targets clean up in atexit handlers */
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ;
    if (WIFEXITED(status))
        ok(WEXITSTATUS(status) == 0, "%s %s (exit %d)", t->name, path, WEXITSTATUS(status));
    else
        ok(0, "%s %s (signal %d%s)", t->name, path, WTERMSIG(status),
           WTERMSIG(status) == SIGALRM ? ": timed out" : "");
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir whose name does not start with a dot, in name
 * order. A missing directory has none. */
static void
replay_dir(const target_t *t, const char *dir)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        names = realloc(names, (n + 1) * sizeof(*names));
        if (names == NULL)
            abort();
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            replay(t, path);
        free(names[i]);
    }
    free(names);
}

int
main(int argc, char **argv)
{
    if (argc >= 3) {
        for (size_t i = 0; i < HN_ARRAY_LEN(targets); i++)
            if (strcmp(argv[1], targets[i].name) == 0) {
                for (int k = 2; k < argc; k++)
                    replay(&targets[i], argv[k]);
                return tap_done();
            }
        fprintf(stderr, "usage: %s [cfg|ws|h1 FILE...]\n", argv[0]);
        return 2;
    }
    const char *top = getenv("HN_SRCDIR");
    if (top == NULL || *top == '\0')
        top = ".";
    for (size_t i = 0; i < HN_ARRAY_LEN(targets); i++) {
        char dir[4096];
        int before = tap_n;
        snprintf(dir, sizeof(dir), "%s/fuzz/corpus/%s", top, targets[i].name);
        replay_dir(&targets[i], dir);
        ok(tap_n > before, "%s: fuzz/corpus/%s has seeds", targets[i].name, targets[i].name);
        snprintf(dir, sizeof(dir), "%s/fuzz/regressions/%s", top, targets[i].name);
        replay_dir(&targets[i], dir);
    }
    return tap_done();
}
