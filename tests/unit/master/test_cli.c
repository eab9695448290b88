/*
 * test_cli.c - master/cli.c: actions, usage errors in words, every flag
 * reaching its config key, the order defaults -> file -> flags -> APP, and
 * bind replace/append across file and flags.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "master/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/log.h"
#include "tests/unit/tap.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

static char tmpdir[] = "/tmp/hn_test_cli.XXXXXX";
static char yaml_path[256];
/* hn_cli_t borrows argv, so it lives here until the next parse. */
static char *argv_buf[64];

/* Parse "hornet" plus the NULL-terminated arguments. */
static int
parse(hn_cli_t *cli, hn_err_t *err, ...)
{
    va_list ap;
    int argc = 0;
    const char *arg;

    argv_buf[argc++] = (char *)"hornet";
    va_start(ap, err);
    while ((arg = va_arg(ap, const char *)) != NULL && argc < 63)
        argv_buf[argc++] = (char *)arg;
    va_end(ap);
    argv_buf[argc] = NULL;
    err->msg[0] = '\0';
    return hn_cli_parse(argc, argv_buf, cli, err);
}

static void
write_yaml(const char *text)
{
    FILE *f = fopen(yaml_path, "w");
    if (f == NULL) {
        perror(yaml_path);
        exit(99);
    }
    fputs(text, f);
    fclose(f);
}

static void
test_actions(void)
{
    hn_cli_t cli;
    hn_err_t err;

    is_int(parse(&cli, &err, NULL), HN_OK, "no arguments");
    ok(cli.no_args, "no_args");
    is_int(cli.action, HN_CLI_RUN, "run");
    ok(cli.config_file == NULL && cli.app == NULL, "no file, no APP");
    hn_cli_free(&cli);

    static const struct {
        const char *arg1, *arg2;
        hn_cli_action_t want;
    } cases[] = {
        {"-h", NULL, HN_CLI_HELP},
        {"--help", NULL, HN_CLI_HELP},
        {"-v", NULL, HN_CLI_VERSION},
        {"--version", NULL, HN_CLI_VERSION},
        {"-t", NULL, HN_CLI_TEST},
        {"--test", NULL, HN_CLI_TEST},
        {"--dump-config", NULL, HN_CLI_DUMP_CONFIG},
        {"-t", "--dump-config", HN_CLI_DUMP_CONFIG},
        {"-v", "-h", HN_CLI_HELP},
        {"-t", "-v", HN_CLI_VERSION},
        {"builtin:echo", NULL, HN_CLI_RUN},
    };
    for (size_t i = 0; i < HN_ARRAY_LEN(cases); i++) {
        is_int(parse(&cli, &err, cases[i].arg1, cases[i].arg2, NULL), HN_OK, "%s %s parses",
               cases[i].arg1, cases[i].arg2 ? cases[i].arg2 : "");
        is_int(cli.action, cases[i].want, "%s %s: action", cases[i].arg1,
               cases[i].arg2 ? cases[i].arg2 : "");
        ok(!cli.no_args, "%s: arguments given", cases[i].arg1);
        hn_cli_free(&cli);
    }

    is_int(parse(&cli, &err, "-c", "/etc/hornet.yaml", "-tv", "builtin:echo", NULL), HN_OK,
           "-c FILE, grouped flags, APP");
    is_str(cli.config_file, "/etc/hornet.yaml", "config_file");
    is_str(cli.app, "builtin:echo", "app");
    is_int(cli.action, HN_CLI_VERSION, "-tv");
    hn_cli_free(&cli);
    is_int(parse(&cli, &err, "--config=/x.yaml", NULL), HN_OK, "--config=FILE");
    is_str(cli.config_file, "/x.yaml", "--config=FILE");
    hn_cli_free(&cli);
}

static void
test_usage_errors(void)
{
    static const struct {
        const char *args[4];
        const char *want;
    } cases[] = {
        {{"--wrokers", "4"}, "unknown option \"--wrokers\""},
        {{"--wrokers=4"}, "unknown option \"--wrokers\""},
        {{"-x"}, "unknown option \"-x\""},
        {{"-tx"}, "unknown option \"-x\""},
        {{"--workers"}, "option \"--workers\" needs a value"},
        {{"-w"}, "option \"-w\" needs a value"},
        {{"-c"}, "option \"-c\" needs a value"},
        {{"--keep-alive"}, "option \"--keep-alive\" needs a value"},
        {{"--help=yes"}, "option \"--help\" takes no value"},
        {{"a", "b"}, "unexpected argument \"b\" (APP is already \"a\")"},
        {{"--h11-max-incomplete-size", "1k"}, "unknown option \"--h11-max-incomplete-size\""},
    };
    hn_cli_t cli;
    hn_err_t err;

    for (size_t i = 0; i < HN_ARRAY_LEN(cases); i++) {
        is_int(parse(&cli, &err, cases[i].args[0], cases[i].args[1], cases[i].args[2], NULL),
               HN_ERR, "%s is refused", cases[i].args[0]);
        is_str(err.msg, cases[i].want, "%s: message", cases[i].args[0]);
        hn_cli_free(&cli);
    }
}

static void
test_flags_reach_keys(void)
{
    hn_cli_t cli;
    hn_err_t err;
    hn_config_t *cfg;

    is_int(parse(&cli, &err, "-b", "127.0.0.1:9001", "--bind", "127.0.0.1:9002", "-w", "3", "-p",
                 "/run/h.pid", "--access-logfile", "-", "--error-logfile", "/var/log/h.err",
                 "--log-level", "DEBUG", "--access-logformat", "%(h)s", "--keep-alive", "75",
                 "--graceful-timeout", "10s", "--read-timeout", "500ms", "--backlog", "511", "-u",
                 "nobody", "-g", "nogroup", "-m", "0027", "--static-root", "/srv", "builtin:static",
                 NULL),
           HN_OK, "every flag parses");
    cfg = hn_cli_load_config(&cli, &err);
    ok(cfg != NULL, "config builds: %s", cfg ? "" : err.msg);
    if (cfg == NULL) {
        hn_cli_free(&cli);
        return;
    }
    is_int(cfg->n_bind, 2, "-b, --bind");
    is_str(cfg->bind[0].text, "127.0.0.1:9001", "first bind");
    is_str(cfg->bind[1].text, "127.0.0.1:9002", "second bind");
    is_int(cfg->workers, 3, "-w");
    is_str(cfg->pid_path, "/run/h.pid", "-p");
    is_str(cfg->accesslog, "-", "--access-logfile");
    is_str(cfg->errorlog, "/var/log/h.err", "--error-logfile");
    is_int(cfg->loglevel, HN_LOG_DEBUG, "--log-level");
    is_str(cfg->access_log_format, "%(h)s", "--access-logformat");
    ok(cfg->keep_alive_timeout == 75.0, "--keep-alive");
    ok(cfg->graceful_timeout == 10.0, "--graceful-timeout");
    ok(cfg->read_timeout == 0.5, "--read-timeout");
    is_int(cfg->backlog, 511, "--backlog");
    is_str(cfg->user, "nobody", "-u");
    is_str(cfg->group, "nogroup", "-g");
    is_int(cfg->umask, 027, "-m");
    is_str(cfg->static_root, "/srv", "--static-root");
    is_str(cfg->application_path, "builtin:static", "APP");
    hn_cfg_free(cfg);
    hn_cli_free(&cli);

    /* long spellings and --opt=value */
    is_int(parse(&cli, &err, "--workers=auto", "--pid=/p", "--user", "u", "--group=g",
                 "--umask=077", NULL),
           HN_OK, "long forms");
    cfg = hn_cli_load_config(&cli, &err);
    ok(cfg && cfg->workers >= 1 && strcmp(cfg->pid_path, "/p") == 0 &&
           strcmp(cfg->user, "u") == 0 && strcmp(cfg->group, "g") == 0 && cfg->umask == 077,
       "long forms reach their keys; auto is resolved");
    hn_cfg_free(cfg);
    hn_cli_free(&cli);

    /* --app-mode takes wsgi, Hypercorn's word, for simple */
    is_int(parse(&cli, &err, "--app-mode", "wsgi", NULL), HN_OK, "--app-mode wsgi");
    cfg = hn_cli_load_config(&cli, &err);
    ok(cfg && cfg->app_mode == HN_CFG_APP_SIMPLE, "--app-mode wsgi is simple mode");
    hn_cfg_free(cfg);
    hn_cli_free(&cli);

    /* options after APP (GNU permutation) */
    is_int(parse(&cli, &err, "builtin:echo", "-w", "2", NULL), HN_OK, "flags after APP");
    cfg = hn_cli_load_config(&cli, &err);
    ok(cfg && cfg->workers == 2 && strcmp(cfg->application_path, "builtin:echo") == 0,
       "flags after APP still apply");
    hn_cfg_free(cfg);
    hn_cli_free(&cli);

    /* nothing given: defaults, finished, one worker per CPU */
    is_int(parse(&cli, &err, NULL), HN_OK, "no arguments");
    cfg = hn_cli_load_config(&cli, &err);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    ok(cfg && cfg->n_bind == 1 && strcmp(cfg->bind[0].text, "127.0.0.1:8000") == 0 &&
           cfg->workers == (int)HN_MAX(cpus, 1L) &&
           strcmp(cfg->application_path, "builtin:hello") == 0,
       "defaults, with the default bind and workers auto");
    hn_cfg_free(cfg);
    hn_cli_free(&cli);
}

static void
test_order(void)
{
    hn_cli_t cli;
    hn_err_t err;
    hn_config_t *cfg;

    write_yaml("workers: 2\nloglevel: debug\napplication_path: builtin:echo\n"
               "bind:\n  - 127.0.0.1:7001\n  - 127.0.0.1:7002\n");

    is_int(parse(&cli, &err, "-c", yaml_path, NULL), HN_OK, "file only");
    cfg = hn_cli_load_config(&cli, &err);
    ok(cfg && cfg->workers == 2 && cfg->n_bind == 2 &&
           strcmp(cfg->application_path, "builtin:echo") == 0,
       "the file overrides the defaults");
    if (cfg)
        is_str(cfg->file, yaml_path, "file recorded");
    hn_cfg_free(cfg);
    hn_cli_free(&cli);

    is_int(parse(&cli, &err, "-w", "4", "--workers", "5", "-c", yaml_path, "-b", "127.0.0.1:7003",
                 "-b", "127.0.0.1:7004", "builtin:hello", NULL),
           HN_OK, "file plus flags");
    cfg = hn_cli_load_config(&cli, &err);
    ok(cfg != NULL, "loads: %s", cfg ? "" : err.msg);
    if (cfg) {
        is_int(cfg->workers, 5, "flags beat the file (even before -c), the last flag wins");
        is_int(cfg->loglevel, HN_LOG_DEBUG, "untouched keys keep the file's value");
        is_int(cfg->n_bind, 2, "the first -b replaces the file's binds, the second appends");
        is_str(cfg->bind[0].text, "127.0.0.1:7003", "first -b");
        is_str(cfg->bind[1].text, "127.0.0.1:7004", "second -b");
        is_str(cfg->application_path, "builtin:hello", "APP beats the file");
    }
    hn_cfg_free(cfg);
    hn_cli_free(&cli);
}

static void
test_load_errors(void)
{
    hn_cli_t cli;
    hn_err_t err;
    char want[512], missing[300];

    is_int(parse(&cli, &err, "-w", "lots", NULL), HN_OK, "values are checked later");
    ok(hn_cli_load_config(&cli, &err) == NULL, "bad -w");
    is_str(err.msg, "--workers: expected an integer from 1 to 512 or \"auto\", got \"lots\"",
           "the flag's long name in the error, even for -w");
    hn_cli_free(&cli);

    parse(&cli, &err, "--keep-alive", "soon", NULL);
    ok(hn_cli_load_config(&cli, &err) == NULL, "bad --keep-alive");
    is_str(err.msg, "--keep-alive: expected a duration such as 30s or 500ms, got \"soon\"",
           "duration error");
    hn_cli_free(&cli);

    parse(&cli, &err, "", NULL);
    ok(hn_cli_load_config(&cli, &err) == NULL, "empty APP");
    is_str(err.msg, "APP: expected a non-empty string, got \"\"", "APP error");
    hn_cli_free(&cli);

    snprintf(missing, sizeof(missing), "%s/missing.yaml", tmpdir);
    parse(&cli, &err, "-c", missing, NULL);
    ok(hn_cli_load_config(&cli, &err) == NULL, "missing -c file");
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", missing);
    is_str(err.msg, want, "missing file error");
    hn_cli_free(&cli);

    write_yaml("workers: 2\nwokers: 3\n");
    parse(&cli, &err, "-t", "-c", yaml_path, NULL);
    ok(hn_cli_load_config(&cli, &err) == NULL, "bad file");
    snprintf(want, sizeof(want), "%s:2:1: unknown key \"wokers\" (did you mean \"workers\"?)",
             yaml_path);
    is_str(err.msg, want, "file error with position");
    hn_cli_free(&cli);
}

static void
test_texts(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    hn_cli_usage(f);
    fclose(f);
    ok(strncmp(text, "Usage: hornet [options] [APP]\n", 30) == 0, "usage first");
    ok(strstr(text, "-w, --workers N|auto") != NULL, "table flags listed with metavar");
    ok(strstr(text, "    --keep-alive SECONDS") != NULL, "long-only flag listed");
    ok(strstr(text, "--dump-config") != NULL, "--dump-config listed");
    for (size_t i = 0; hn_cfg_option_name(i); i++) {
        char needle[64];
        snprintf(needle, sizeof(needle), "\n  %s: ", hn_cfg_option_name(i));
        ok(strstr(text, needle) != NULL, "usage documents key %s", hn_cfg_option_name(i));
    }
    free(text);

    text = NULL;
    f = open_memstream(&text, &len);
    hn_cli_print_version(f);
    fclose(f);
    is_str(text, "hornet " PACKAGE_VERSION "\n", "version");
    free(text);
}

int
main(void)
{
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 99;
    }
    snprintf(yaml_path, sizeof(yaml_path), "%s/hornet.yaml", tmpdir);

    test_actions();
    test_usage_errors();
    test_flags_reach_keys();
    test_order();
    test_load_errors();
    test_texts();

    unlink(yaml_path);
    rmdir(tmpdir);
    return tap_done();
}
