/*
 * test_cfg.c - shared/cfg*.c: defaults, every type good and bad through both
 * the file and hn_cfg_set, the exact words of errors (file:line:col, key,
 * expected, got), CLI override order, bind replace/append, the application
 * keys (root_path's normalisation, mount's mapping and its errors),
 * proxy_protocol_bind's checks against the listeners, and that
 * --dump-config output loads back to the same config.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "shared/cfg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cfg_internal.h"
#include "shared/log.h"
#include "tests/unit/tap.h"

static char tmpdir[] = "/tmp/hn_test_cfg.XXXXXX";
static char yaml_path[256];

/* Write text to tmpdir/hornet.yaml. */
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

/* Load text into cfg; "OK" or the error message (static). */
static const char *
load_into(hn_config_t *cfg, const char *text)
{
    static hn_err_t err;

    write_yaml(text);
    if (hn_cfg_load_file(cfg, yaml_path, &err) == HN_OK)
        return "OK";
    return err.msg;
}

/* Load text into a fresh config and free it; "OK" or the error (static). */
static const char *
load_err(const char *text)
{
    static char msg[sizeof(((hn_err_t *)0)->msg)];
    hn_config_t *cfg = hn_cfg_new();

    snprintf(msg, sizeof(msg), "%s", load_into(cfg, text));
    hn_cfg_free(cfg);
    return msg;
}

/* The expected message with the YAML path substituted for "@". */
static const char *
at(const char *fmt)
{
    static char bufs[4][4096];
    static int n;
    char *out = bufs[n++ % 4];
    size_t o = 0;

    for (const char *p = fmt; *p && o + 1 < sizeof(bufs[0]); p++) {
        if (*p == '@') {
            o += (size_t)snprintf(out + o, sizeof(bufs[0]) - o, "%s", yaml_path);
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    return out;
}

/* Set through hn_cfg_set on a fresh config; "OK" or the error (static). */
static const char *
set_err(const char *key, const char *value, const char *origin)
{
    static hn_err_t err;
    hn_config_t *cfg = hn_cfg_new();
    int rc = hn_cfg_set(cfg, key, value, origin, &err);

    hn_cfg_free(cfg);
    return rc == HN_OK ? "OK" : err.msg;
}

static char *
dump_to_string(const hn_config_t *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    hn_cfg_dump(cfg, f);
    fclose(f);
    return text;
}

static void
test_defaults(void)
{
    hn_config_t *cfg = hn_cfg_new();
    hn_err_t err;

    ok(cfg->file == NULL, "no file");
    is_int(cfg->n_bind, 0, "bind starts empty");
    is_int(cfg->backlog, 100, "backlog");
    is_int(cfg->workers, 1, "workers");
    is_str(cfg->application_path, "builtin:hello", "application_path");
    ok(cfg->pid_path == NULL && cfg->user == NULL && cfg->group == NULL,
       "pid_path, user, group unset");
    is_int(cfg->umask, -1, "umask unset");
    ok(cfg->keep_alive_timeout == 5.0, "keep_alive_timeout 5s");
    is_int(cfg->keep_alive_max_requests, 1000, "keep_alive_max_requests");
    is_int(cfg->max_requests, 0, "max_requests: off by default");
    is_int(cfg->max_requests_jitter, 0, "max_requests_jitter");
    ok(cfg->graceful_timeout == 3.0, "graceful_timeout 3s");
    ok(cfg->read_timeout == 0.0, "read_timeout off");
    is_int(cfg->h11_max_incomplete_size, 16384, "h11_max_incomplete_size");
    is_int(cfg->max_header_count, 100, "max_header_count");
    is_int(cfg->max_body_size, 16 << 20, "max_body_size");
    ok(cfg->include_server_header && cfg->include_date_header, "include_*_header");
    ok(cfg->accesslog == NULL, "accesslog off");
    is_str(cfg->errorlog, "-", "errorlog stderr");
    is_int(cfg->loglevel, HN_LOG_INFO, "loglevel info");
    is_str(cfg->access_log_format,
           "%(h)s %(l)s %(l)s %(t)s \"%(r)s\" %(s)s %(b)s \"%(f)s\" \"%(a)s\"",
           "access_log_format is Hypercorn's");
    is_str(cfg->static_root, ".", "static_root");
    is_str(cfg->static_index, "index.html", "static_index");
    is_int(cfg->static_dotfiles, HN_CFG_STATIC_DOTFILES_DENY, "static_dotfiles deny");
    ok(cfg->static_precompressed, "static_precompressed on");
    is_str(cfg->root_path, "", "root_path empty");
    is_int(cfg->app_mode, HN_CFG_APP_AUTO, "app_mode auto");
    ok(cfg->wsgi_max_body_size == 16u << 20, "wsgi_max_body_size 16MiB");
    ok(cfg->startup_timeout == 60.0 && cfg->shutdown_timeout == 60.0, "lifespan timeouts 60s");
    ok(cfg->mount == NULL && cfg->n_mount == 0, "no mounts");

    is_int(hn_cfg_finish(cfg, &err), HN_OK, "finish");
    is_int(cfg->n_bind, 1, "finish: one bind");
    is_str(cfg->bind[0].text, "127.0.0.1:8000", "finish: 127.0.0.1:8000");
    hn_cfg_free(cfg);
    hn_cfg_free(NULL);
}

static void
test_table(void)
{
    size_t n = 0;
    char *help = NULL;
    size_t help_len = 0;
    FILE *f = open_memstream(&help, &help_len);

    hn_cfg_print_help(f);
    fclose(f);
    for (const char *name; (name = hn_cfg_option_name(n)) != NULL; n++) {
        const hn_cfg_option_t *opt = hn_cfg_options_find(name);
        char needle[64];

        ok(opt != NULL && opt == &hn_cfg_options_table[n], "row %zu (%s) is found by name", n,
           name);
        snprintf(needle, sizeof(needle), "\n  %s: ", name);
        ok(strstr(help, needle) != NULL, "--help lists %s", name);
        ok(opt->def != NULL || (opt->flags & HN_CFG_OPTIONAL) || hn_cfg_types_is_list(opt->type),
           "%s: only optional keys and lists default to null", name);
        ok(!!(opt->flags & HN_CFG_RELOADABLE) != !!(opt->flags & HN_CFG_RESTART),
           "%s: exactly one of RELOADABLE, RESTART", name);
        ok(opt->doc && *opt->doc, "%s has help text", name);
    }
    is_int(n, 74, "74 options, one per hn_config_t field but file, alpn_h2 (and counts)");
    is_int(n, hn_cfg_options_count, "option_name iterates the whole table");
    ok(hn_cfg_option_name(n) == NULL, "NULL past the end");
    ok(strstr(help, "(-w, --workers)") != NULL, "--help shows the flag of a key");
    ok(strstr(help, "an integer from 1 to 512 or \"auto\"") != NULL, "--help shows the range");
    ok(strstr(help, "\n  mount: {}\n") != NULL, "--help shows mount's default as {}");
    ok(strstr(help, "\n  root_path: ''    (--root-path)\n") != NULL,
       "--help: root_path, --root-path");
    free(help);

    hn_cfg_flag_t flag;
    size_t workers = 0;
    while (hn_cfg_option_flag(workers, &flag) && strcmp(flag.key, "workers") != 0)
        workers++;
    ok(hn_cfg_option_flag(workers, &flag) && strcmp(flag.long_name, "workers") == 0 &&
           flag.short_name == 'w' && !flag.is_list,
       "option_flag: workers is -w/--workers");
    ok(!hn_cfg_option_flag(n, &flag), "option_flag: false past the end");
}

static void
test_set_types(void)
{
    hn_config_t *cfg = hn_cfg_new();
    hn_err_t err;

    /* bool */
    static const char *const yes[] = {"true", "yes", "on", "TRUE", "Yes", "ON"};
    static const char *const no[] = {"false", "no", "off", "False", "NO", "Off"};
    for (size_t i = 0; i < HN_ARRAY_LEN(yes); i++) {
        hn_cfg_set(cfg, "include_date_header", no[i], NULL, &err);
        ok(!cfg->include_date_header, "bool \"%s\" is false", no[i]);
        hn_cfg_set(cfg, "include_date_header", yes[i], NULL, &err);
        ok(cfg->include_date_header, "bool \"%s\" is true", yes[i]);
    }
    is_str(set_err("include_server_header", "maybe", "--x"),
           "--x: expected true or false, got \"maybe\"", "bool: bad value");
    is_str(set_err("include_server_header", "1", NULL),
           "include_server_header: expected true or false, got \"1\"", "bool: 1 is not a bool");

    /* int */
    is_int(hn_cfg_set(cfg, "workers", "4", "--workers", &err), HN_OK, "workers 4");
    is_int(cfg->workers, 4, "workers is 4");
    is_int(hn_cfg_set(cfg, "workers", "512", "--workers", &err), HN_OK, "workers 512 (max)");
    is_int(hn_cfg_set(cfg, "backlog", "65535", NULL, &err), HN_OK, "backlog 65535 (max)");
    is_int(cfg->backlog, 65535, "backlog is 65535");
    is_str(set_err("workers", "lots", "--workers"),
           "--workers: expected an integer from 1 to 512 or \"auto\", got \"lots\"",
           "int: not a number (CLI)");
    is_str(set_err("workers", "0", "--workers"),
           "--workers: expected an integer from 1 to 512 or \"auto\", got \"0\"", "int: below min");
    is_str(set_err("workers", "513", NULL),
           "workers: expected an integer from 1 to 512 or \"auto\", got \"513\"", "int: above max");
    is_str(set_err("workers", "-1", NULL),
           "workers: expected an integer from 1 to 512 or \"auto\", got \"-1\"", "int: negative");
    is_str(set_err("workers", "4x", NULL),
           "workers: expected an integer from 1 to 512 or \"auto\", got \"4x\"", "int: junk");
    is_str(set_err("workers", " 4", NULL),
           "workers: expected an integer from 1 to 512 or \"auto\", got \" 4\"", "int: blank");
    is_str(set_err("workers", "99999999999999999999", NULL),
           "workers: expected an integer from 1 to 512 or \"auto\", got \"99999999999999999999\"",
           "int: overflow");
    is_str(set_err("workers", "", NULL),
           "workers: expected an integer from 1 to 512 or \"auto\", got \"\"", "int: empty");
    is_str(set_err("workers", NULL, NULL),
           "workers: expected an integer from 1 to 512 or \"auto\", got null", "int: null");
    is_str(set_err("backlog", "auto", NULL),
           "backlog: expected an integer from 1 to 65535, got \"auto\"", "auto only where allowed");
    is_str(set_err("max_requests", "-1", NULL),
           "max_requests: expected an integer of at least 0, got \"-1\"", "max_requests below 0");
    is_str(set_err("keep_alive_max_requests", "0", NULL),
           "keep_alive_max_requests: expected an integer of at least 1, got \"0\"",
           "int: min only");
    is_str(set_err("keep_alive_max_requests", "2147483648", NULL),
           "keep_alive_max_requests: expected an integer of at least 1, got \"2147483648\"",
           "int: beyond int");
    is_str(set_err("max_header_count", "1001", NULL),
           "max_header_count: expected an integer from 1 to 1000, got \"1001\"",
           "int: header count");

    /* workers: auto survives until finish */
    is_int(hn_cfg_set(cfg, "workers", "auto", "--workers", &err), HN_OK, "workers auto");
    is_int(cfg->workers, 0, "auto is stored as 0 until finish");

    /* size */
    is_int(hn_cfg_set(cfg, "h11_max_incomplete_size", "64KiB", NULL, &err), HN_OK, "size 64KiB");
    is_int(cfg->h11_max_incomplete_size, 65536, "size is 65536");
    is_int(hn_cfg_set(cfg, "h11_max_incomplete_size", "1024", NULL, &err), HN_OK, "size min");
    is_int(hn_cfg_set(cfg, "h11_max_incomplete_size", "1M", NULL, &err), HN_OK, "size max");
    is_str(set_err("h11_max_incomplete_size", "512", NULL),
           "h11_max_incomplete_size: expected a size from 1KiB to 1MiB, got \"512\"",
           "size: below");
    is_str(set_err("h11_max_incomplete_size", "1025k", NULL),
           "h11_max_incomplete_size: expected a size from 1KiB to 1MiB, got \"1025k\"",
           "size: above");
    is_int(hn_cfg_set(cfg, "max_body_size", "0", NULL, &err), HN_OK, "max_body_size 0");
    is_int(cfg->max_body_size, 0, "max_body_size unlimited");
    is_int(hn_cfg_set(cfg, "max_body_size", "8GiB", NULL, &err), HN_OK, "max_body_size 8GiB");
    ok(cfg->max_body_size == 8ULL << 30, "max_body_size is 8GiB");
    is_str(set_err("max_body_size", "big", "--max-body"),
           "--max-body: expected a size such as 64KiB or 16MiB, got \"big\"", "size: junk");
    is_str(set_err("max_body_size", "-1", NULL),
           "max_body_size: expected a size such as 64KiB or 16MiB, got \"-1\"", "size: negative");

    /* duration */
    is_int(hn_cfg_set(cfg, "keep_alive_timeout", "30s", NULL, &err), HN_OK, "duration 30s");
    ok(cfg->keep_alive_timeout == 30.0, "duration is 30");
    is_int(hn_cfg_set(cfg, "keep_alive_timeout", "2.5", NULL, &err), HN_OK, "duration 2.5");
    ok(cfg->keep_alive_timeout == 2.5, "bare number is seconds");
    is_int(hn_cfg_set(cfg, "read_timeout", "500ms", NULL, &err), HN_OK, "duration 500ms");
    ok(cfg->read_timeout == 0.5, "500ms is 0.5");
    is_int(hn_cfg_set(cfg, "graceful_timeout", "1m", NULL, &err), HN_OK, "duration 1m");
    ok(cfg->graceful_timeout == 60.0, "1m is 60");
    is_str(set_err("keep_alive_timeout", "soon", "--keep-alive"),
           "--keep-alive: expected a duration such as 30s or 500ms, got \"soon\"",
           "duration: junk");
    is_str(set_err("keep_alive_timeout", "-5", NULL),
           "keep_alive_timeout: expected a duration such as 30s or 500ms, got \"-5\"",
           "duration: negative");

    /* string, path */
    is_int(hn_cfg_set(cfg, "application_path", "builtin:echo", "APP", &err), HN_OK, "string");
    is_str(cfg->application_path, "builtin:echo", "string stored");
    is_str(set_err("application_path", "", "APP"), "APP: expected a non-empty string, got \"\"",
           "string: empty refused where non-empty");
    is_str(set_err("application_path", NULL, "APP"), "APP: expected a non-empty string, got null",
           "string: null refused where required");
    is_int(hn_cfg_set(cfg, "accesslog", "-", NULL, &err), HN_OK, "accesslog -");
    is_str(cfg->accesslog, "-", "accesslog stdout");
    is_int(hn_cfg_set(cfg, "accesslog", NULL, NULL, &err), HN_OK, "accesslog null");
    ok(cfg->accesslog == NULL, "null unsets an optional string");
    is_int(hn_cfg_set(cfg, "pid_path", "/run/hornet.pid", "--pid", &err), HN_OK, "path");
    is_str(cfg->pid_path, "/run/hornet.pid", "path stored");
    is_str(set_err("pid_path", "", "--pid"), "--pid: expected a path, got \"\"", "path: empty");
    is_str(set_err("static_root", "a\nb\"c", NULL), "OK", "a path may hold any byte but NUL");
    is_int(hn_cfg_set(cfg, "access_log_format", "", NULL, &err), HN_OK,
           "access_log_format may be empty");

    /* enum */
    is_int(hn_cfg_set(cfg, "loglevel", "DEBUG", "--log-level", &err), HN_OK, "enum DEBUG");
    is_int(cfg->loglevel, HN_LOG_DEBUG, "case-insensitive");
    is_int(hn_cfg_set(cfg, "loglevel", "warning", NULL, &err), HN_OK, "enum warning");
    is_int(cfg->loglevel, HN_LOG_WARN, "warning");
    is_str(set_err("loglevel", "loud", "--log-level"),
           "--log-level: expected one of critical, error, warning, notice, info, debug, got "
           "\"loud\"",
           "enum: bad");
    is_int(hn_cfg_set(cfg, "static_dotfiles", "allow", NULL, &err), HN_OK, "static_dotfiles");
    is_int(cfg->static_dotfiles, HN_CFG_STATIC_DOTFILES_ALLOW, "static_dotfiles allow");
    is_str(set_err("static_dotfiles", "hide", NULL),
           "static_dotfiles: expected one of deny, allow, got \"hide\"", "static_dotfiles: bad");

    /* octal */
    is_int(hn_cfg_set(cfg, "umask", "0022", "--umask", &err), HN_OK, "umask 0022");
    is_int(cfg->umask, 022, "umask is 022");
    is_int(hn_cfg_set(cfg, "umask", "027", NULL, &err), HN_OK, "umask 027");
    is_int(cfg->umask, 027, "umask is 027");
    is_int(hn_cfg_set(cfg, "umask", "0", NULL, &err), HN_OK, "umask 0");
    is_int(cfg->umask, 0, "umask is 0");
    is_int(hn_cfg_set(cfg, "umask", "0o022", NULL, &err), HN_OK, "umask 0o022 (Hypercorn's int)");
    is_int(cfg->umask, 022, "umask is 022");
    is_int(hn_cfg_set(cfg, "umask", "0O7", NULL, &err), HN_OK, "umask 0O7");
    is_int(cfg->umask, 07, "umask is 07");
    is_str(set_err("umask", "0o", NULL),
           "umask: expected an octal mode from 0000 to 0777 such as 0022 or 0o022, got \"0o\"",
           "octal: the prefix alone");
    is_int(hn_cfg_set(cfg, "umask", NULL, NULL, &err), HN_OK, "umask null");
    is_int(cfg->umask, -1, "umask unset again");
    is_str(set_err("umask", "0800", "-m"),
           "-m: expected an octal mode from 0000 to 0777 such as 0022 or 0o022, got \"0800\"",
           "octal: 8 is no octal digit");
    is_str(set_err("umask", "01000", NULL),
           "umask: expected an octal mode from 0000 to 0777 such as 0022 or 0o022, got \"01000\"",
           "octal: too large");
    is_str(set_err("umask", "u=rwx", NULL),
           "umask: expected an octal mode from 0000 to 0777 such as 0022 or 0o022, got \"u=rwx\"",
           "octal: symbolic refused");

    /* unknown keys */
    is_str(set_err("wokers", "4", NULL), "unknown key \"wokers\" (did you mean \"workers\"?)",
           "hn_cfg_set: unknown key with suggestion");
    is_str(set_err("zzzzzzzz", "4", "--zz"), "--zz: unknown key \"zzzzzzzz\"",
           "hn_cfg_set: unknown key without suggestion");

    /* a rejected value leaves the old one */
    hn_cfg_set(cfg, "workers", "7", NULL, &err);
    hn_cfg_set(cfg, "workers", "lots", NULL, &err);
    is_int(cfg->workers, 7, "a bad value keeps the old one");

    /* error text is one line even for odd input */
    is_str(set_err("workers", "a\"b\\c\nd", NULL),
           "workers: expected an integer from 1 to 512 or \"auto\", got \"a\\\"b\\\\c\\x0Ad\"",
           "the value is quoted and escaped");
    hn_cfg_free(cfg);
}

static void
test_bind(void)
{
    hn_config_t *cfg = hn_cfg_new();
    hn_err_t err;

    /* the file's list is replaced by the first CLI -b, the next ones append */
    is_str(load_into(cfg, "bind:\n  - 127.0.0.1:9001\n  - \"[::1]:9002\"\n"), "OK", "bind list");
    is_int(cfg->n_bind, 2, "two from the file");
    is_str(cfg->bind[0].text, "127.0.0.1:9001", "first");
    is_str(cfg->bind[1].text, "[::1]:9002", "second");
    is_int(hn_cfg_set(cfg, "bind", "127.0.0.1:9003", "--bind", &err), HN_OK, "-b once");
    is_int(cfg->n_bind, 1, "the first -b replaces the file's list");
    is_str(cfg->bind[0].text, "127.0.0.1:9003", "replaced");
    is_int(hn_cfg_set(cfg, "bind", "unix:/tmp/hn.sock", "--bind", &err), HN_OK, "-b twice");
    is_int(cfg->n_bind, 2, "the second -b appends");
    is_str(cfg->bind[1].text, "unix:/tmp/hn.sock", "appended");
    is_int(hn_cfg_set(cfg, "bind", "127.0.0.1:notaport", "--bind", &err), HN_ERR, "bad -b");
    ok(strncmp(err.msg, "--bind: \"127.0.0.1:notaport\": ", 30) == 0, "bad -b names the flag: %s",
       err.msg);
    is_int(cfg->n_bind, 2, "a bad -b changes nothing");
    is_int(hn_cfg_finish(cfg, &err), HN_OK, "finish keeps a non-empty list");
    is_int(cfg->n_bind, 2, "no default added");

    /* a single string is a list of one; a later file replaces again */
    is_str(load_into(cfg, "bind: 127.0.0.1:9004\n"), "OK", "bind as a string");
    is_int(cfg->n_bind, 1, "one");
    is_str(cfg->bind[0].text, "127.0.0.1:9004", "from the string");
    is_str(load_into(cfg, "bind: []\n"), "OK", "empty list");
    is_int(cfg->n_bind, 0, "empty");
    is_str(load_into(cfg, "bind: ~\n"), "OK", "null list");
    is_int(cfg->n_bind, 0, "null is empty");
    hn_cfg_free(cfg);

    /* errors point at the item */
    const char *msg = load_err("bind:\n  - 127.0.0.1:8000\n  - 127.0.0.1:notaport\n");
    ok(strncmp(msg, at("@:3:5: bind: \"127.0.0.1:notaport\""), strlen(at("@:3:5: bind: \""))) == 0,
       "bad bind item: %s", msg);
    is_str(load_err("bind:\n  - [a]\n"), at("@:2:5: bind: expected an address, got a sequence"),
           "nested list in bind");
    is_str(load_err("bind:\n  - ~\n"), at("@:2:5: bind: expected an address, got null"),
           "null item in bind");
    is_str(load_err("bind:\n  host: x\n"),
           at("@:2:3: bind: expected an address or a list of addresses, got a mapping"),
           "mapping for bind");

    /* keeping the old list on a bad item */
    cfg = hn_cfg_new();
    load_into(cfg, "bind: 127.0.0.1:9005\n");
    ok(strcmp(load_into(cfg, "bind: [127.0.0.1:9006, 'nope:nope']\n"), "OK") != 0, "bad item");
    ok(cfg->n_bind == 1 && strcmp(cfg->bind[0].text, "127.0.0.1:9005") == 0,
       "a list with a bad item leaves the old list");
    hn_cfg_free(cfg);
}

static void
test_file(void)
{
    hn_config_t *cfg = hn_cfg_new();
    hn_err_t err;

    is_str(load_into(cfg, "# hornet\n"
                          "workers: auto\n"
                          "backlog: 2048\n"
                          "umask: 0027\n"
                          "pid_path: /run/hornet.pid\n"
                          "user: www-data\n"
                          "group: ~\n"
                          "accesslog: '-'\n"
                          "errorlog:\n"
                          "loglevel: Warning\n"
                          "keep_alive_timeout: 75\n"
                          "read_timeout: 250ms\n"
                          "h11_max_incomplete_size: 32k\n"
                          "max_body_size: 1G\n"
                          "include_server_header: off\n"
                          "include_date_header: yes\n"
                          "static_root: \"/srv/www\"\n"
                          "application_path: builtin:static\n"),
           "OK", "a full file loads");
    is_str(cfg->file, yaml_path, "file remembered");
    is_int(cfg->workers, 0, "workers auto before finish");
    is_int(cfg->backlog, 2048, "backlog");
    is_int(cfg->umask, 027, "unquoted 0027 is octal text, not YAML's 23");
    is_str(cfg->pid_path, "/run/hornet.pid", "pid_path");
    is_str(cfg->user, "www-data", "user");
    ok(cfg->group == NULL, "group ~ is unset");
    is_str(cfg->accesslog, "-", "accesslog");
    ok(cfg->errorlog == NULL, "errorlog with no value is off");
    is_int(cfg->loglevel, HN_LOG_WARN, "loglevel");
    ok(cfg->keep_alive_timeout == 75.0, "keep_alive_timeout");
    ok(cfg->read_timeout == 0.25, "read_timeout");
    is_int(cfg->h11_max_incomplete_size, 32768, "h11_max_incomplete_size");
    ok(cfg->max_body_size == 1ULL << 30, "max_body_size");
    ok(!cfg->include_server_header && cfg->include_date_header, "bools");
    is_str(cfg->static_root, "/srv/www", "static_root");
    is_str(cfg->application_path, "builtin:static", "application_path");
    is_int(hn_cfg_finish(cfg, &err), HN_OK, "finish");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    is_int(cfg->workers, cpus < 1 ? 1 : cpus > 512 ? 512 : cpus, "auto became the CPU count");
    hn_cfg_free(cfg);

    /* quoted ~ and "" are strings, not null */
    cfg = hn_cfg_new();
    is_str(load_into(cfg, "accesslog: \"~\"\npid_path: '~'\n"), "OK", "quoted ~");
    is_str(cfg->accesslog, "~", "quoted ~ is a file name");
    hn_cfg_free(cfg);

    /* empty and comment-only files are empty mappings */
    is_str(load_err(""), "OK", "empty file");
    is_str(load_err("# nothing\n\n"), "OK", "comments only");
    is_str(load_err("---\n...\n"), "OK", "empty document");
    is_str(load_err("~\n"), "OK", "null document");
}

static void
test_file_errors(void)
{
    hn_config_t *cfg;
    hn_err_t err;
    char missing[300];

    is_str(load_err("backlog: 100\n\nwokers: 4\n"),
           at("@:3:1: unknown key \"wokers\" (did you mean \"workers\"?)"),
           "unknown key with a suggestion");
    is_str(load_err("wrokers: 4\n"),
           at("@:1:1: unknown key \"wrokers\" (did you mean \"workers\"?)"),
           "swapped letters are one edit");
    is_str(load_err("keep-alive: 4\n"),
           at("@:1:1: unknown key \"keep-alive\" (did you mean \"keep_alive_timeout\"?)"),
           "a CLI spelling suggests its key");
    is_str(load_err("log_level: info\n"),
           at("@:1:1: unknown key \"log_level\" (did you mean \"loglevel\"?)"), "log_level");
    is_str(load_err("frobnicate: x\n"), at("@:1:1: unknown key \"frobnicate\""),
           "unknown key without a suggestion");
    is_str(load_err("workers:\n  a: 1\n"), at("@:2:3: workers: expected a scalar, got a mapping"),
           "mapping for a scalar");
    is_str(load_err("workers: [1, 2]\n"), at("@:1:10: workers: expected a scalar, got a sequence"),
           "sequence for a scalar");
    is_str(load_err("backlog: 1\nworkers: 1000\n"),
           at("@:2:10: workers: expected an integer from 1 to 512 or \"auto\", got \"1000\""),
           "out of range");
    is_str(load_err("workers: lots\n"),
           at("@:1:10: workers: expected an integer from 1 to 512 or \"auto\", got \"lots\""),
           "not a number");
    is_str(load_err("keep_alive_timeout: soon\n"),
           at("@:1:21: keep_alive_timeout: expected a duration such as 30s or 500ms, got \"soon\""),
           "bad duration");
    is_str(load_err("include_date_header: maybe\n"),
           at("@:1:22: include_date_header: expected true or false, got \"maybe\""), "bad bool");
    is_str(load_err("workers: \"\\0\"\n"), at("@:1:10: workers: the value contains a NUL byte"),
           "escaped NUL");
    is_str(load_err("workers: 2\nbacklog: 5\nworkers: 3\n"),
           at("@:3:1: duplicate key \"workers\" (first set at line 1)"), "duplicate key");
    is_str(load_err("- workers\n"),
           at("@:1:1: expected a mapping of keys to values at the top level, got a sequence"),
           "top-level sequence");
    is_str(load_err("hello\n"),
           at("@:1:1: expected a mapping of keys to values at the top level, got a scalar"),
           "top-level scalar");
    is_str(load_err("[a]: 1\n"), at("@:1:1: expected a key, got a sequence"), "non-scalar key");
    is_str(load_err("workers: 1\n---\nworkers: 2\n"),
           at("@:2:1: expected a single YAML document, found another"), "two documents");
    is_str(load_err("a: &x 1\nworkers: *x\n"), at("@:2:10: YAML aliases (*x) are not supported"),
           "alias");

    /* libyaml's own words, with its position and context */
    is_str(load_err("workers: [1, 2\n"),
           at("@:2:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow "
              "sequence at line 1, column 10)"),
           "unterminated flow sequence");
    is_str(load_err("workers: 1\n  backlog: 2\n"),
           at("@:2:10: invalid YAML: mapping values are not allowed in this context"),
           "bad indentation");
    is_str(load_err("workers: \"1\n"),
           at("@:2:1: invalid YAML: found unexpected end of stream (while scanning a quoted "
              "scalar at line 1, column 10)"),
           "unterminated quote");
    is_str(load_err("workers: \t1\n\tbacklog: 2\n"),
           at("@:2:1: invalid YAML: found a tab character that violates indentation (while "
              "scanning a plain scalar at line 1, column 11)"),
           "tab indentation");
    const char *msg = load_err("workers: \xff\n");
    ok(strncmp(msg, at("@:"), strlen(at("@:"))) == 0 && strstr(msg, "invalid YAML: ") != NULL,
       "invalid UTF-8: %s", msg);

    /* the file itself */
    snprintf(missing, sizeof(missing), "%s/missing.yaml", tmpdir);
    cfg = hn_cfg_new();
    is_int(hn_cfg_load_file(cfg, missing, &err), HN_ERR, "missing file");
    ok(strcmp(err.msg, missing) > 0 &&
           strcmp(err.msg + strlen(missing), ": cannot open: No such file or directory") == 0,
       "missing file: %s", err.msg);
    is_int(err.code, ENOENT, "errno kept");
    is_int(hn_cfg_load_file(cfg, tmpdir, &err), HN_ERR, "a directory");
    ok(strstr(err.msg, ": cannot open: Is a directory") != NULL, "directory: %s", err.msg);
    ok(cfg->file == NULL, "a failed load does not set file");

    /* a failed load is still freeable and leaks nothing (valgrind) */
    is_str(load_into(cfg, "pid_path: /a\nuser: x\nbind: [127.0.0.1:1]\nworkers: lots\n"),
           at("@:4:10: workers: expected an integer from 1 to 512 or \"auto\", got \"lots\""),
           "error after some keys were set");
    hn_cfg_free(cfg);
}

static void
test_app_keys(void)
{
    hn_config_t *cfg = hn_cfg_new();
    hn_err_t err;

    /* root_path: Hypercorn's; trailing slashes go, "/" is the same as "" */
    is_int(hn_cfg_set(cfg, "root_path", "/app/", "--root-path", &err), HN_OK, "root_path /app/");
    is_str(cfg->root_path, "/app", "trailing slash stripped");
    is_int(hn_cfg_set(cfg, "root_path", "/a/b//", NULL, &err), HN_OK, "root_path /a/b//");
    is_str(cfg->root_path, "/a/b", "all trailing slashes stripped");
    is_int(hn_cfg_set(cfg, "root_path", "/", NULL, &err), HN_OK, "root_path /");
    is_str(cfg->root_path, "", "/ is no prefix");
    is_int(hn_cfg_set(cfg, "root_path", "", NULL, &err), HN_OK, "root_path empty");
    is_str(cfg->root_path, "", "empty");
    is_str(set_err("root_path", "app", "--root-path"),
           "--root-path: expected \"\" or a URL path starting with \"/\" such as /app, got "
           "\"app\"",
           "root_path: must start with /");
    is_str(set_err("root_path", "/a?b=1", NULL),
           "root_path: expected \"\" or a URL path starting with \"/\" such as /app, got "
           "\"/a?b=1\"",
           "root_path: no query");
    is_str(set_err("root_path", NULL, NULL),
           "root_path: expected \"\" or a URL path starting with \"/\" such as /app, got null",
           "root_path: not optional");
    is_str(load_err("root_path: /x/\n"), "OK", "root_path from a file");

    /* app_mode */
    is_int(hn_cfg_set(cfg, "app_mode", "simple", NULL, &err), HN_OK, "app_mode simple");
    is_int(cfg->app_mode, HN_CFG_APP_SIMPLE, "simple");
    is_int(hn_cfg_set(cfg, "app_mode", "ASGI", NULL, &err), HN_OK, "app_mode ASGI");
    is_int(cfg->app_mode, HN_CFG_APP_ASGI, "case-insensitive");
    is_int(hn_cfg_set(cfg, "app_mode", "auto", NULL, &err), HN_OK, "app_mode auto");
    is_int(cfg->app_mode, HN_CFG_APP_AUTO, "auto");
    is_int(hn_cfg_set(cfg, "app_mode", "wsgi", NULL, &err), HN_OK, "app_mode wsgi");
    is_int(cfg->app_mode, HN_CFG_APP_SIMPLE, "wsgi is another name for simple");
    is_str(load_err("app_mode: WSGI\n"), "OK", "app_mode WSGI from a file");
    is_str(load_err("app_mode: events\n"),
           at("@:1:11: app_mode: expected one of auto, asgi, simple, wsgi, got \"events\""),
           "app_mode: bad");

    /* wsgi_max_body_size */
    is_int(hn_cfg_set(cfg, "wsgi_max_body_size", "1MiB", NULL, &err), HN_OK, "wsgi 1MiB");
    ok(cfg->wsgi_max_body_size == 1u << 20, "wsgi_max_body_size 1MiB");
    is_str(set_err("wsgi_max_body_size", "0", NULL),
           "wsgi_max_body_size: expected a size of at least 1, got \"0\"",
           "wsgi_max_body_size: 0 refused (a buffered body needs a bound)");

    /* lifespan timeouts */
    is_int(hn_cfg_set(cfg, "startup_timeout", "2.5", NULL, &err), HN_OK, "startup 2.5");
    ok(cfg->startup_timeout == 2.5, "startup_timeout 2.5");
    is_int(hn_cfg_set(cfg, "shutdown_timeout", "500ms", NULL, &err), HN_OK, "shutdown 500ms");
    ok(cfg->shutdown_timeout == 0.5, "shutdown_timeout 0.5");
    is_str(set_err("startup_timeout", "0", NULL),
           "startup_timeout: expected a duration of at least 1ms, got \"0\"",
           "startup_timeout: 0 refused");
    is_str(load_err("shutdown_timeout: never\n"),
           at("@:1:19: shutdown_timeout: expected a duration of at least 1ms, got \"never\""),
           "shutdown_timeout: junk");
    hn_cfg_free(cfg);
}

static void
test_mount(void)
{
    hn_config_t *cfg = hn_cfg_new();
    hn_err_t err;

    is_str(load_into(cfg, "mount:\n"
                          "  /api: ./libapi.so:app\n"
                          "  /files/: builtin:static\n"
                          "  /api/v2//: ./libv2.so\n"
                          "  /b: builtin:echo\n"
                          "  /a: builtin:hello\n"),
           "OK", "a mount mapping");
    is_int(cfg->n_mount, 5, "five mounts");
    is_str(cfg->mount[0].prefix, "/api/v2", "longest first, slashes stripped");
    is_str(cfg->mount[0].app, "./libv2.so", "its app");
    is_str(cfg->mount[1].prefix, "/files", "then /files");
    is_str(cfg->mount[1].app, "builtin:static", "its app");
    is_str(cfg->mount[2].prefix, "/api", "then /api");
    is_str(cfg->mount[2].app, "./libapi.so:app", "its app");
    is_str(cfg->mount[3].prefix, "/a", "equal lengths in byte order: /a");
    is_str(cfg->mount[4].prefix, "/b", "then /b");

    /* a later file replaces the mapping; null and {} empty it */
    is_str(load_into(cfg, "mount: {/x: builtin:echo}\n"), "OK", "flow mapping");
    ok(cfg->n_mount == 1 && strcmp(cfg->mount[0].prefix, "/x") == 0, "replaced");
    is_str(load_into(cfg, "mount: {}\n"), "OK", "empty mapping");
    ok(cfg->n_mount == 0 && cfg->mount == NULL, "{} is no mounts");
    load_into(cfg, "mount: {/x: builtin:echo}\n");
    is_str(load_into(cfg, "mount: ~\n"), "OK", "null");
    is_int(cfg->n_mount, 0, "null is no mounts");

    /* errors point at the key or value at fault; a bad entry keeps the old list */
    load_into(cfg, "mount: {/x: builtin:echo}\n");
    ok(strcmp(load_into(cfg, "mount:\n  /y: builtin:echo\n  z: builtin:echo\n"), "OK") != 0,
       "bad entry");
    ok(cfg->n_mount == 1 && strcmp(cfg->mount[0].prefix, "/x") == 0,
       "a mapping with a bad entry leaves the old one");
    hn_cfg_free(cfg);

    is_str(load_err("mount:\n  api: ./libapi.so\n"),
           at("@:2:3: mount: expected a path prefix starting with \"/\" such as /api, got "
              "\"api\""),
           "prefix without /");
    is_str(load_err("mount:\n  /: ./libapi.so\n"),
           at("@:2:3: mount: expected a path prefix other than \"/\" (the application for \"/\" "
              "is application_path), got \"/\""),
           "/ alone");
    is_str(load_err("mount:\n  //: ./libapi.so\n"),
           at("@:2:3: mount: expected a path prefix other than \"/\" (the application for \"/\" "
              "is application_path), got \"//\""),
           "// is / too");
    is_str(load_err("mount:\n  /api: ./a.so\n  /b: ./b.so\n  /api/: ./c.so\n"),
           at("@:4:3: mount: duplicate prefix \"/api\" (first at line 2)"),
           "duplicate after stripping the slash");
    is_str(load_err("mount:\n  /api: ./a.so\n  /api: ./c.so\n"),
           at("@:3:3: mount: duplicate prefix \"/api\" (first at line 2)"), "plain duplicate");
    is_str(load_err("mount:\n  /api:\n"),
           at("@:2:8: mount: expected an application such as ./libapi.so:app or builtin:static, "
              "got null"),
           "null app");
    is_str(load_err("mount:\n  /api: ''\n"),
           at("@:2:9: mount: expected an application such as ./libapi.so:app or builtin:static, "
              "got \"\""),
           "empty app");
    is_str(load_err("mount:\n  /api: [a, b]\n"),
           at("@:2:9: mount: expected an application such as ./libapi.so:app or builtin:static, "
              "got a sequence"),
           "list app");
    is_str(load_err("mount:\n  [a]: x\n"),
           at("@:2:3: mount: expected a path prefix such as /api, got a sequence"), "list key");
    is_str(load_err("mount:\n  ~: x\n"),
           at("@:2:3: mount: expected a path prefix such as /api, got null"), "null key");
    is_str(load_err("mount:\n  /a#b: x\n"),
           at("@:2:3: mount: expected a path prefix starting with \"/\" such as /api, got "
              "\"/a#b\""),
           "fragment in a prefix");
    is_str(load_err("mount: /api\n"),
           at("@:1:8: mount: expected a mapping of path prefixes to applications, got a scalar"),
           "scalar");
    is_str(load_err("mount:\n  - /api: x\n"),
           at("@:2:3: mount: expected a mapping of path prefixes to applications, got a sequence"),
           "sequence");

    /* text form, PREFIX=APP: the first set replaces the file's, later ones add */
    cfg = hn_cfg_new();
    load_into(cfg, "mount: {/x: builtin:echo}\n");
    is_int(hn_cfg_set(cfg, "mount", "/api/=./libapi.so:app", NULL, &err), HN_OK, "set mount");
    ok(cfg->n_mount == 1 && strcmp(cfg->mount[0].prefix, "/api") == 0 &&
           strcmp(cfg->mount[0].app, "./libapi.so:app") == 0,
       "the first set replaces the file's mapping");
    is_int(hn_cfg_set(cfg, "mount", "/api/v1=a=b", NULL, &err), HN_OK, "set another");
    ok(cfg->n_mount == 2 && strcmp(cfg->mount[0].prefix, "/api/v1") == 0 &&
           strcmp(cfg->mount[0].app, "a=b") == 0,
       "the next appends, sorted; the first '=' splits");
    is_int(hn_cfg_set(cfg, "mount", "/api=x", NULL, &err), HN_ERR, "duplicate by text");
    is_str(err.msg, "mount: duplicate prefix \"/api\"", "duplicate by text: message");
    is_int(cfg->n_mount, 2, "unchanged");
    hn_cfg_free(cfg);
    is_str(set_err("mount", "/api", "--mount"),
           "--mount: expected PREFIX=APP such as /api=./libapi.so:app, got \"/api\"", "no =");
    is_str(set_err("mount", "api=x", NULL),
           "mount: expected a path prefix starting with \"/\" such as /api, got \"api\"",
           "text: bad prefix");
    is_str(set_err("mount", "/api=", NULL),
           "mount: expected an application such as ./libapi.so:app or builtin:static, got \"\"",
           "text: empty app");
    is_str(set_err("mount", NULL, NULL), "OK", "text: null empties");
}

static void
test_override_order(void)
{
    hn_config_t *cfg = hn_cfg_new();
    hn_err_t err;

    is_str(load_into(cfg, "workers: 2\nloglevel: debug\n"), "OK", "file");
    is_int(cfg->workers, 2, "the file overrides the default");
    is_int(hn_cfg_set(cfg, "workers", "3", "--workers", &err), HN_OK, "CLI");
    is_int(cfg->workers, 3, "the CLI overrides the file");
    is_int(hn_cfg_set(cfg, "workers", "5", "--workers", &err), HN_OK, "CLI again");
    is_int(cfg->workers, 5, "the last flag wins");
    is_int(cfg->loglevel, HN_LOG_DEBUG, "keys the CLI leaves alone keep the file's value");
    hn_cfg_free(cfg);
}

static void
test_dump_roundtrip(void)
{
    hn_config_t *a = hn_cfg_new(), *b = hn_cfg_new(), *d = hn_cfg_new();
    hn_err_t err;
    char *ta, *tb, *td;

    /* defaults */
    td = dump_to_string(d);
    is_str(load_into(b, td), "OK", "the dump of the defaults loads");
    tb = dump_to_string(b);
    ok(strcmp(td + strcspn(td, "\n"), tb + strcspn(tb, "\n")) == 0,
       "defaults: dump, load, dump is stable");
    free(tb);
    free(td);
    hn_cfg_free(b);
    b = hn_cfg_new();

    static const char *const sets[][2] = {
        {"bind", "127.0.0.1:8080"},
        {"bind", "[::1]:8443"},
        {"bind", "unix:/tmp/hornet test.sock"},
        {"workers", "auto"},
        {"backlog", "511"},
        {"application_path", "builtin:echo"},
        {"pid_path", "/run/h\"o\\rnet.pid"},
        {"user", "nobody"},
        {"umask", "0077"},
        {"keep_alive_timeout", "0.1"},
        {"graceful_timeout", "90"},
        {"read_timeout", "1.5ms"},
        {"h11_max_incomplete_size", "1025"},
        {"max_body_size", "0"},
        {"include_server_header", "no"},
        {"accesslog", "/var/log/hornet/access.log"},
        {"errorlog", NULL},
        {"loglevel", "CRITICAL"},
        {"access_log_format", "%(h)s\t\"%(r)s\" 'x' # not a comment\n"},
        {"static_root", "~"},
        {"static_index", "- not a list"},
        {"root_path", "/behind/a proxy/"},
        {"app_mode", "simple"},
        {"wsgi_max_body_size", "3MiB"},
        {"startup_timeout", "1.25"},
        {"shutdown_timeout", "2m"},
        {"mount", "/static/=builtin:static"},
        {"mount", "/api=./lib api.so:my_app"},
        {"mount", "/q\"uote\\d=\"odd\": app # x"},
    };
    for (size_t i = 0; i < HN_ARRAY_LEN(sets); i++)
        if (hn_cfg_set(a, sets[i][0], sets[i][1], NULL, &err) != HN_OK)
            printf("# set %s: %s\n", sets[i][0], err.msg);
    ta = dump_to_string(a);
    is_str(load_into(b, ta), "OK", "the dump loads back");
    tb = dump_to_string(b);
    /* the first line names the file the values came from */
    is_str(tb + strcspn(tb, "\n"), ta + strcspn(ta, "\n"), "dump, load, dump gives the same text");
    is_int(b->n_bind, 3, "three binds");
    is_str(b->bind[2].text, "unix:/tmp/hornet test.sock", "unix path with a blank");
    is_int(b->workers, 0, "auto survives the dump");
    is_str(b->pid_path, "/run/h\"o\\rnet.pid", "quotes and backslashes survive");
    is_int(b->umask, 077, "umask survives");
    ok(b->keep_alive_timeout == 0.1, "0.1s survives exactly");
    ok(b->read_timeout == 0.0015, "1.5ms survives exactly");
    ok(b->errorlog == NULL, "null survives");
    is_str(b->access_log_format, "%(h)s\t\"%(r)s\" 'x' # not a comment\n",
           "tabs, newlines, quotes and # survive");
    is_str(b->static_root, "~", "a path named ~ stays a string");
    is_int(b->loglevel, HN_LOG_CRIT, "loglevel");
    is_str(b->root_path, "/behind/a proxy", "root_path");
    is_int(b->app_mode, HN_CFG_APP_SIMPLE, "app_mode");
    ok(b->wsgi_max_body_size == 3u << 20, "wsgi_max_body_size");
    ok(b->startup_timeout == 1.25 && b->shutdown_timeout == 120.0, "lifespan timeouts");
    is_int(b->n_mount, 3, "three mounts");
    if (b->n_mount == 3) {
        is_str(b->mount[0].prefix, "/q\"uote\\d", "quotes in a prefix survive");
        is_str(b->mount[0].app, "\"odd\": app # x", "a value that looks like YAML survives");
        is_str(b->mount[1].prefix, "/static", "then /static");
        is_str(b->mount[2].app, "./lib api.so:my_app", "blanks survive");
    }

    for (size_t i = 0; hn_cfg_option_name(i); i++)
        ok(!hn_cfg_option_differs(a, b, i), "%s: same after the round trip", hn_cfg_option_name(i));
    size_t workers = 0, user = 0, mount = 0;
    while (strcmp(hn_cfg_option_name(workers), "workers") != 0)
        workers++;
    while (strcmp(hn_cfg_option_name(mount), "mount") != 0)
        mount++;
    ok(hn_cfg_option_differs(a, d, mount), "differs: mounts vs none");
    hn_cfg_set(d, "mount", "/static=builtin:static", NULL, &err);
    hn_cfg_set(d, "mount", "/api=./lib api.so:my_app", NULL, &err);
    hn_cfg_set(d, "mount", "/q\"uote\\d=\"odd\": app # x", NULL, &err);
    ok(!hn_cfg_option_differs(a, d, mount), "differs: the same mounts set in another order");
    hn_cfg_set(d, "mount", "/other=x", NULL, &err);
    ok(hn_cfg_option_differs(a, d, mount), "differs: one mount more");
    while (strcmp(hn_cfg_option_name(user), "user") != 0)
        user++;
    ok(hn_cfg_option_differs(a, d, workers), "differs: workers auto vs 1");
    ok(!hn_cfg_option_needs_restart(workers), "workers reload without a restart");
    ok(hn_cfg_option_needs_restart(user), "user needs a restart");
    ok(!hn_cfg_option_differs(a, d, 999), "differs: false past the end");

    free(ta);
    free(tb);
    hn_cfg_free(a);
    hn_cfg_free(b);
    hn_cfg_free(d);
}

/* Load text and finish; "OK" or the error of either step (static). */
static const char *
finish_err(const char *text)
{
    static char msg[sizeof(((hn_err_t *)0)->msg)];
    hn_config_t *cfg = hn_cfg_new();
    hn_err_t err;

    snprintf(msg, sizeof(msg), "%s", load_into(cfg, text));
    if (strcmp(msg, "OK") == 0 && hn_cfg_finish(cfg, &err) != HN_OK)
        snprintf(msg, sizeof(msg), "%s", err.msg);
    hn_cfg_free(cfg);
    return msg;
}

/* proxy_protocol_bind: listeners chosen among bind and insecure_bind, checked by finish. */
static void
test_proxy_protocol_bind(void)
{
    hn_config_t *cfg = hn_cfg_new();
    hn_err_t err;
    hn_addr_t a, b, c;

    is_str(load_into(cfg, "bind: [127.0.0.1:9101, \"[::1]:9102\"]\n"
                          "insecure_bind: 127.0.0.1:9103\n"
                          "proxy_protocol_bind: [\"[::1]:9102\", 127.0.0.1:9103]\n"),
           "OK", "a bind and an insecure_bind address");
    is_int(hn_cfg_finish(cfg, &err), HN_OK, "finish accepts listeners");
    hn_addr_parse("127.0.0.1:9101", &a, &err);
    hn_addr_parse("[::1]:9102", &b, &err);
    hn_addr_parse("127.0.0.1:9103", &c, &err);
    ok(!hn_cfg_has_proxy_protocol(cfg, &a), "bind not named: no PROXY header");
    ok(hn_cfg_has_proxy_protocol(cfg, &b), "bind named: PROXY header");
    ok(hn_cfg_has_proxy_protocol(cfg, &c), "insecure_bind named: PROXY header");
    cfg->proxy_protocol = true;
    ok(hn_cfg_has_proxy_protocol(cfg, &a), "proxy_protocol: true is every listener");
    hn_cfg_free(cfg);

    is_str(finish_err("proxy_protocol_bind: 127.0.0.1:8000\n"), "OK",
           "the default bind is a listener");
    is_str(finish_err("bind: \"[::1]:9101\"\nproxy_protocol_bind: \"[0:0::0:1]:9101\"\n"), "OK",
           "compared as addresses, not text");
    is_str(finish_err("bind: [127.0.0.1:9101, 127.0.0.1:9102]\n"
                      "proxy_protocol_bind: [127.0.0.1:9101, 127.0.0.1:9104]\n"),
           at("@:2:1: proxy_protocol_bind: expected an address of bind or insecure_bind "
              "(127.0.0.1:9101, 127.0.0.1:9102), got \"127.0.0.1:9104\""),
           "an address that is not a listener");
    is_str(finish_err("bind: 127.0.0.1:9101\nproxy_protocol: true\n"
                      "proxy_protocol_bind: 127.0.0.1:9101\n"),
           at("@:3:1: proxy_protocol_bind: expected nothing beside proxy_protocol: true, which "
              "already covers every listener, got \"127.0.0.1:9101\""),
           "both keys");
    is_str(finish_err("bind: 127.0.0.1:9101\nproxy_protocol: true\nproxy_protocol_bind: []\n"),
           "OK", "proxy_protocol: true beside an empty list");

    /* the flag replaces the file's list, then appends, as --bind does */
    cfg = hn_cfg_new();
    is_str(load_into(cfg, "bind: [127.0.0.1:9101, 127.0.0.1:9102]\n"
                          "proxy_protocol_bind: 127.0.0.1:9101\n"),
           "OK", "file");
    is_int(hn_cfg_set(cfg, "proxy_protocol_bind", "127.0.0.1:9102", "--proxy-protocol-bind",
                      &err),
           HN_OK, "flag");
    ok(cfg->n_proxy_protocol_bind == 1 && !hn_cfg_has_proxy_protocol(cfg, &a),
       "the flag replaced the file's list");
    is_int(hn_cfg_set(cfg, "proxy_protocol_bind", "127.0.0.1:9101", "--proxy-protocol-bind",
                      &err),
           HN_OK, "flag again");
    ok(cfg->n_proxy_protocol_bind == 2 && hn_cfg_has_proxy_protocol(cfg, &a), "and appended");
    is_int(hn_cfg_finish(cfg, &err), HN_OK, "finish");
    hn_cfg_free(cfg);
}

/* reload.paths: a key inside the mapping "reload", also accepted dotted. */
static void
test_reload_paths(void)
{
    hn_config_t *cfg = hn_cfg_new();
    hn_err_t err;

    is_int((int)cfg->n_reload_paths, 0, "no reload paths by default");
    is_str(load_into(cfg, "reload:\n  paths: [templates/*.html, conf.d]\n"), "OK",
           "nested reload: {paths: [...]}");
    ok(cfg->n_reload_paths == 2 && strcmp(cfg->reload_paths[0], "templates/*.html") == 0 &&
           strcmp(cfg->reload_paths[1], "conf.d") == 0,
       "both paths, in order");
    is_str(load_into(cfg, "reload.paths: one\n"), "OK", "dotted, a single path");
    ok(cfg->n_reload_paths == 1 && strcmp(cfg->reload_paths[0], "one") == 0, "replaced");
    is_int(hn_cfg_set(cfg, "reload.paths", "two", "--reload-path", &err), HN_OK, "flag");
    is_int(hn_cfg_set(cfg, "reload.paths", "three", "--reload-path", &err), HN_OK,
           "flag again");
    ok(cfg->n_reload_paths == 2 && strcmp(cfg->reload_paths[1], "three") == 0,
       "the flag replaces the file's list once, then appends");
    is_str(load_err("reload:\n  pathz: [a]\n"), at("@:2:3: unknown key \"reload.pathz\" "
                                                     "(did you mean \"reload.paths\"?)"),
           "an unknown key in the section is named with its section");
    is_str(load_err("reload:\n  paths: [a, [b]]\n"),
           at("@:2:14: reload.paths: expected a path, got a sequence"), "a nested list");
    is_str(load_err("reload:\n  paths: {a: b}\n"),
           at("@:2:10: reload.paths: expected a path or a list of paths, got a mapping"),
           "a mapping");
    is_str(load_err("reload: [a]\n"),
           at("@:1:9: reload: expected a mapping of its keys (as in reload: {...}), got a "
              "sequence"),
           "the section itself is not a key");
    hn_cfg_free(cfg);
}

/* One load reports every bad key and value, a line each, in file order. */
static void
test_all_errors(void)
{
    hn_config_t *cfg;
    hn_err_t err;
    char yaml[4096] = "", want[4096] = "";
    size_t yl = 0, wl = 0;

    is_str(load_err("workers: lots\n"
                    "bnd: 127.0.0.1:9\n"
                    "loglevel: loud\n"
                    "backlog: 100\n"
                    "backlog: -5\n"
                    "reload: 5\n"
                    "reload:\n  path: [a]\n"
                    "bind: [127.0.0.1:1, \"[::1\"]\n"),
           at("@:1:10: workers: expected an integer from 1 to 512 or \"auto\", got \"lots\"\n"
              "@:2:1: unknown key \"bnd\" (did you mean \"bind\"?)\n"
              "@:3:11: loglevel: expected one of critical, error, warning, notice, info, debug, "
              "got \"loud\"\n"
              "@:5:1: duplicate key \"backlog\" (first set at line 4)\n"
              "@:6:9: reload: expected a mapping of its keys (as in reload: {...}), got a scalar\n"
              "@:7:1: duplicate key \"reload\" (first set at line 6)\n"
              "@:9:21: bind: \"[::1\": expected HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N"),
           "every error, a line each");
    is_str(load_err("reload:\n  paths: [a]\n  path: b\nworkers: 0\n"),
           at("@:3:3: unknown key \"reload.path\" (did you mean \"reload.paths\"?)\n"
              "@:4:10: workers: expected an integer from 1 to 512 or \"auto\", got \"0\""),
           "inside a section and after it");

    /* 25 bad values: 20 shown, then how many more */
    for (int i = 1; i <= 25; i++) {
        yl += (size_t)snprintf(yaml + yl, sizeof(yaml) - yl, "k%02d: 1\n", i);
        if (i <= HN_CFG_MAX_ERRORS)
            wl += (size_t)snprintf(want + wl, sizeof(want) - wl,
                                   "@:%d:1: unknown key \"k%02d\"\n", i, i);
    }
    snprintf(want + wl, sizeof(want) - wl, "@: and 5 more errors");
    is_str(load_err(yaml), at(want), "capped at HN_CFG_MAX_ERRORS, then a count");

    /* a good key after bad ones still loads (the walk goes on) */
    cfg = hn_cfg_new();
    write_yaml("nope: 1\nbacklog: 7\n");
    is_int(hn_cfg_load_file(cfg, yaml_path, &err), HN_ERR, "an error");
    is_int(cfg->backlog, 7, "the keys after it are still read");
    hn_cfg_free(cfg);

    /* Hypercorn's keys hornet lacks say so, and why */
    is_str(load_err("debug: true\n"),
           at("@:1:1: debug: Hypercorn's key, not supported by hornet: asyncio's debug mode; "
              "for more log output use loglevel: debug"),
           "debug");
    is_str(load_err("logconfig: log.ini\n"),
           at("@:1:1: logconfig: Hypercorn's key, not supported by hornet: Python logging "
              "configuration; use errorlog, loglevel, accesslog and access_log_format"),
           "logconfig");
    ok(strstr(load_err("max_app_queue_size: 10\nh11_pass_raw_headers: true\n"
                       "verify_flags: 0\ncert_reqs: 2\n"),
              "cert_reqs: Hypercorn's key, not supported by hornet: a deprecated Hypercorn "
              "alias; use verify_mode") != NULL,
       "cert_reqs");
}

/* Cross-key errors found once the whole file is read point at their key. */
static void
test_cross_key_errors(void)
{
    hn_config_t *cfg;
    hn_err_t err;

    is_str(finish_err("workers: 2\nkeyfile: /k.pem\n"),
           at("@:2:1: keyfile: expected certfile as well (keyfile is set but certfile is not)"),
           "keyfile without certfile, at keyfile");
    is_str(finish_err("ca_certs: /ca.pem\nkeyfile: /k.pem\n"),
           at("@:2:1: keyfile: expected certfile as well (keyfile is set but certfile is not)\n"
              "@:1:1: ca_certs: expected certfile as well (ca_certs is set but certfile is not)"),
           "both, one line each");
    is_str(finish_err("certfile: /c.pem\n  \nverify_mode: required\n"),
           at("@:3:1: verify_mode: required needs ca_certs to check client certificates against"),
           "verify_mode without ca_certs");
    is_str(finish_err("certfile: /c.pem\nca_certs: /ca.pem\nverify_mode: optional\n"), "OK",
           "verify_mode with ca_certs");

    /* worker_stall_timeout must leave worker_timeout something to do */
    is_str(finish_err("worker_timeout: 10s\nworker_stall_timeout: 10s\n"),
           at("@:2:1: worker_stall_timeout: expected less than worker_timeout (10s), got 10s"),
           "worker_stall_timeout == worker_timeout");
    is_str(finish_err("worker_stall_timeout: 2m\n"),
           at("@:1:1: worker_stall_timeout: expected less than worker_timeout (60s), got 120s"),
           "worker_stall_timeout past worker_timeout's default");
    is_str(finish_err("worker_stall_timeout: 0\nworker_timeout: 1s\n"), "OK", "stall off");
    is_str(finish_err("worker_stall_timeout: 3s\nworker_timeout: 0\n"), "OK",
           "stall without the watchdog's kill");
    cfg = hn_cfg_new();
    write_yaml("worker_timeout: 3s\n");
    is_int(hn_cfg_load_file(cfg, yaml_path, &err), HN_OK, "load");
    is_int(hn_cfg_finish(cfg, &err), HN_OK, "the default stall gives way to worker_timeout 3s");
    ok(cfg->worker_stall_timeout == 0, "... and is off");
    hn_cfg_free(cfg);
    cfg = hn_cfg_new();
    is_int(hn_cfg_set(cfg, "worker_stall_timeout", "5s", "--worker-stall-timeout", &err), HN_OK,
           "flag");
    is_int(hn_cfg_set(cfg, "worker_timeout", "5s", "--worker-timeout", &err), HN_OK, "flag");
    is_int(hn_cfg_finish(cfg, &err), HN_ERR, "a flag's stall is the operator's: an error");
    is_str(err.msg, "worker_stall_timeout: expected less than worker_timeout (5s), got 5s",
           "named without a place");
    hn_cfg_free(cfg);
    cfg = hn_cfg_new();
    is_int(hn_cfg_finish(cfg, &err), HN_OK, "defaults");
    ok(cfg->worker_stall_timeout == 5.0 && cfg->worker_timeout == 60.0, "5s under 60s");
    hn_cfg_free(cfg);

    /* set by a flag: no place in the file to name */
    cfg = hn_cfg_new();
    write_yaml("keyfile: /k.pem\n");
    is_int(hn_cfg_load_file(cfg, yaml_path, &err), HN_OK, "load");
    is_int(hn_cfg_set(cfg, "keyfile", "/other.pem", "--keyfile", &err), HN_OK, "flag");
    is_int(hn_cfg_finish(cfg, &err), HN_ERR, "finish");
    is_str(err.msg, "keyfile: expected certfile as well (keyfile is set but certfile is not)",
           "a flag's value is named by its key");
    hn_cfg_free(cfg);
}

/* alpn_protocols: Hypercorn's list, limited to h2 and http/1.1. */
static void
test_alpn_protocols(void)
{
    hn_config_t *cfg = hn_cfg_new();
    hn_err_t err;

    is_int(hn_cfg_finish(cfg, &err), HN_OK, "finish");
    is_int((int)cfg->n_alpn_protocols, 2, "the default is both");
    is_str(cfg->alpn_protocols[0], "h2", "h2 first, as Hypercorn");
    is_str(cfg->alpn_protocols[1], "http/1.1", "then http/1.1");
    ok(cfg->alpn_h2, "h2 is served");
    hn_cfg_free(cfg);

    cfg = hn_cfg_new();
    is_str(load_into(cfg, "alpn_protocols: http/1.1\n"), "OK", "a scalar");
    is_int(hn_cfg_finish(cfg, &err), HN_OK, "finish");
    is_int((int)cfg->n_alpn_protocols, 1, "one");
    ok(!cfg->alpn_h2, "h2 is not served");
    hn_cfg_free(cfg);

    is_str(load_err("alpn_protocols: [http/1.1, h3]\n"),
           at("@:1:28: alpn_protocols: expected one of h2, http/1.1, got \"h3\""), "h3");
    is_str(load_err("alpn_protocols: spdy\n"),
           at("@:1:17: alpn_protocols: expected one of h2, http/1.1, or a list of them, got "
              "\"spdy\""),
           "spdy");
    is_str(load_err("alpn_protocols: [h2, \"\"]\n"),
           at("@:1:22: alpn_protocols: expected one of h2, http/1.1, got \"\""), "empty item");
}

/* --dump-config hides keyfile_password; reload still sees it change. */
static void
test_dump_secret(void)
{
    hn_config_t *a = hn_cfg_new(), *b = hn_cfg_new();
    hn_err_t err;
    char *text = NULL;
    size_t len = 0, i;
    FILE *f = open_memstream(&text, &len);

    is_int(hn_cfg_set(a, "keyfile_password", "hunter2", NULL, &err), HN_OK, "set");
    is_int(hn_cfg_set(b, "keyfile_password", "hunter3", NULL, &err), HN_OK, "set another");
    hn_cfg_dump(a, f);
    fclose(f);
    ok(strstr(text, "\nkeyfile_password: \"********\"\n") != NULL, "the dump masks it");
    ok(strstr(text, "hunter2") == NULL, "the password is not in the dump");
    for (i = 0; strcmp(hn_cfg_option_name(i), "keyfile_password") != 0; i++)
        ;
    ok(hn_cfg_option_differs(a, b, i), "a reload still sees the password change");
    free(text);
    hn_cfg_free(a);
    hn_cfg_free(b);
}

int
main(void)
{
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 99;
    }
    snprintf(yaml_path, sizeof(yaml_path), "%s/hornet.yaml", tmpdir);

    test_defaults();
    test_table();
    test_set_types();
    test_bind();
    test_file();
    test_file_errors();
    test_all_errors();
    test_cross_key_errors();
    test_dump_secret();
    test_alpn_protocols();
    test_app_keys();
    test_mount();
    test_reload_paths();
    test_proxy_protocol_bind();
    test_override_order();
    test_dump_roundtrip();

    unlink(yaml_path);
    rmdir(tmpdir);
    return tap_done();
}
