/*
 * cli.c - argv to hn_cli_t with getopt_long, the usage and version text, and
 * the config a command line describes. Which flags set which config keys is
 * read from the option table (hn_cfg_option_flag), so adding a flagged key
 * needs no change here; main.c decides what to do with the action.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "master/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "shared/mem.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

/* getopt_long values: short letters as themselves, table flags from
 * OPT_TABLE + index, flags without a letter from OPT_DUMP on. */
enum {
    OPT_TABLE = 256,
    OPT_DUMP = 1024,
};

struct hn_cli_override {
    size_t option;     /* index into the option table */
    const char *value; /* borrows argv */
};

typedef struct flag_set {
    struct option *longopts; /* terminated by a zero row */
    char shortopts[64];
} flag_set_t;

static void build_flags(flag_set_t *fs);
static int table_index_of(int c);
static void add_override(hn_cli_t *cli, size_t option, const char *value);
static void describe_bad_option(int c, char **argv, hn_err_t *err);
static void print_flag(FILE *out, const char *spec, const char *text);

/* The flags that are not config keys. */
static const struct option base_options[] = {
    {"config", required_argument, NULL, 'c'},
    {"test", no_argument, NULL, 't'},
    {"dump-config", optional_argument, NULL, OPT_DUMP},
    {"version", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"signal", required_argument, NULL, 's'},
};

int
hn_cli_parse(int argc, char **argv, hn_cli_t *cli, hn_err_t *err)
{
    flag_set_t fs;
    bool test = false, dump = false, help = false, version = false;
    int c, rc = HN_OK;

    memset(cli, 0, sizeof(*cli));
    cli->action = HN_CLI_RUN;
    cli->no_args = argc <= 1;
    build_flags(&fs);

    /* 0, not 1: glibc then also forgets the state of an earlier parse (tests). */
    optind = 0;
    opterr = 0;
    while (rc == HN_OK && (c = getopt_long(argc, argv, fs.shortopts, fs.longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cli->config_file = optarg;
            break;
        case 't':
            test = true;
            break;
        case OPT_DUMP:
            dump = true;
            if (optarg && strcmp(optarg, "running") != 0) {
                hn_err_set(err, 0, "--dump-config=%s: expected --dump-config or "
                           "--dump-config=running", optarg);
                rc = HN_ERR;
            }
            cli->dump_running = optarg != NULL;
            break;
        case 'v':
            version = true;
            break;
        case 'h':
            help = true;
            break;
        case 's':
            cli->signal_name = optarg;
            break;
        case ':':
        case '?':
            describe_bad_option(c, argv, err);
            rc = HN_ERR;
            break;
        default: {
            int i = table_index_of(c);
            if (i < 0) {
                hn_err_set(err, 0, "unhandled option %d", c);
                rc = HN_ERR;
            } else {
                add_override(cli, (size_t)i, optarg);
            }
            break;
        }
        }
    }
    for (int i = optind; rc == HN_OK && i < argc; i++) {
        if (cli->app == NULL) {
            cli->app = argv[i];
        } else {
            hn_err_set(err, 0, "unexpected argument \"%s\" (APP is already \"%s\")", argv[i],
                       cli->app);
            rc = HN_ERR;
        }
    }
    free(fs.longopts);

    if (help)
        cli->action = HN_CLI_HELP;
    else if (version)
        cli->action = HN_CLI_VERSION;
    else if (dump)
        cli->action = HN_CLI_DUMP_CONFIG;
    else if (test)
        cli->action = HN_CLI_TEST;
    else if (cli->signal_name)
        cli->action = HN_CLI_SIGNAL;
    return rc;
}

hn_config_t *
hn_cli_load_config(const hn_cli_t *cli, hn_err_t *err)
{
    hn_config_t *cfg = hn_cfg_new();

    /* bare `hornet`: a try-out server should use the machine, as nginx's
     * worker_processes auto does; a config or flag says otherwise */
    if (cli->no_args && hn_cfg_set(cfg, "workers", "auto", "(no arguments)", err) != HN_OK)
        goto fail;
    if (cli->config_file && hn_cfg_load_file(cfg, cli->config_file, err) != HN_OK)
        goto fail;
    for (size_t i = 0; i < cli->_n_overrides; i++) {
        hn_cfg_flag_t flag;
        char origin[64];

        hn_cfg_option_flag(cli->_overrides[i].option, &flag);
        snprintf(origin, sizeof(origin), "--%s", flag.long_name);
        if (hn_cfg_set(cfg, flag.key, cli->_overrides[i].value, origin, err) != HN_OK)
            goto fail;
    }
    if (cli->app && hn_cfg_set(cfg, "application_path", cli->app, "APP", err) != HN_OK)
        goto fail;
    if (hn_cfg_finish(cfg, err) != HN_OK)
        goto fail;
    return cfg;

fail:
    hn_cfg_free(cfg);
    return NULL;
}

void
hn_cli_usage(FILE *out)
{
    hn_cfg_flag_t flag;

    fputs("Usage: hornet [options] [APP]\n"
          "\n"
          "A prefork HTTP server. APP names the application (the application_path key),\n"
          "e.g. builtin:hello. Values: defaults, then the file given with -c, then flags.\n"
          "\n"
          "Options:\n",
          out);
    print_flag(out, "-c, --config FILE", "read the configuration from the YAML FILE\n");
    print_flag(out, "-t, --test", "check what start-up checks (logs, user, apps) and exit "
               "(0: valid)\n");
    print_flag(out, "    --dump-config", "print the effective configuration as YAML and exit\n");
    print_flag(out, "    --dump-config=running", "print the configuration the master named by "
               "pid_path runs (its last start, reload or upgrade that completed)\n");
    print_flag(out, "-s, --signal NAME", "signal the running master through pid_path: stop, "
               "quit, reopen, reload or upgrade (the last three wait for the outcome)\n");
    print_flag(out, "-v, --version", "print the version and exit\n");
    print_flag(out, "-h, --help", "print this help and exit\n");
    for (size_t i = 0; hn_cfg_option_flag(i, &flag); i++) {
        char spec[64];

        if (flag.long_name == NULL)
            continue;
        if (flag.short_name)
            snprintf(spec, sizeof(spec), "-%c, --%s %s", flag.short_name, flag.long_name,
                     flag.metavar);
        else
            snprintf(spec, sizeof(spec), "    --%s %s", flag.long_name, flag.metavar);
        print_flag(out, spec, "sets ");
        fprintf(out, "%s%s\n", flag.key,
                flag.is_list ? " (repeatable; the first replaces the file's list)" : "");
    }
    fputc('\n', out);
    hn_cfg_print_help(out);
}

void
hn_cli_print_version(FILE *out)
{
    fprintf(out, "hornet %s\n", PACKAGE_VERSION);
}

void
hn_cli_free(hn_cli_t *cli)
{
    free(cli->_overrides);
    cli->_overrides = NULL;
    cli->_n_overrides = 0;
}

/* getopt_long's tables: the base flags plus one per flagged config key. */
static void
build_flags(flag_set_t *fs)
{
    hn_cfg_flag_t flag;
    size_t n = 0, s = 0, cap = HN_ARRAY_LEN(base_options) + 1;

    for (size_t i = 0; hn_cfg_option_flag(i, &flag); i++)
        cap++;
    fs->longopts = hn_xcalloc(cap, sizeof(*fs->longopts));
    memcpy(fs->longopts, base_options, sizeof(base_options));
    n = HN_ARRAY_LEN(base_options);

    /* ':' first: a missing argument returns ':' rather than '?'. */
    s += (size_t)snprintf(fs->shortopts, sizeof(fs->shortopts), ":c:tvhs:");
    for (size_t i = 0; hn_cfg_option_flag(i, &flag); i++) {
        if (flag.long_name == NULL)
            continue;
        fs->longopts[n++] = (struct option){flag.long_name, required_argument, NULL,
                                            flag.short_name ? flag.short_name : OPT_TABLE + (int)i};
        if (flag.short_name && s + 3 < sizeof(fs->shortopts)) {
            fs->shortopts[s++] = (char)flag.short_name;
            fs->shortopts[s++] = ':';
            fs->shortopts[s] = '\0';
        }
    }
}

/* The option-table index a getopt value stands for, or -1. */
static int
table_index_of(int c)
{
    hn_cfg_flag_t flag;

    if (c >= OPT_TABLE && c < OPT_DUMP)
        return c - OPT_TABLE;
    for (size_t i = 0; hn_cfg_option_flag(i, &flag); i++)
        if (flag.long_name && flag.short_name == c)
            return (int)i;
    return -1;
}

static void
add_override(hn_cli_t *cli, size_t option, const char *value)
{
    cli->_overrides =
        hn_xrealloc(cli->_overrides, (cli->_n_overrides + 1) * sizeof(*cli->_overrides));
    cli->_overrides[cli->_n_overrides++] = (struct hn_cli_override){option, value};
}

/* getopt's silent mode leaves the words to us: the option as typed. */
static void
describe_bad_option(int c, char **argv, hn_err_t *err)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    bool is_long = strncmp(arg, "--", 2) == 0;
    int len = (int)strcspn(arg, "=");

    if (c == ':' && is_long)
        hn_err_set(err, 0, "option \"%.*s\" needs a value", len, arg);
    else if (c == ':')
        hn_err_set(err, 0, "option \"-%c\" needs a value", optopt);
    else if (is_long && optopt != 0)
        hn_err_set(err, 0, "option \"%.*s\" takes no value", len, arg);
    else if (is_long)
        hn_err_set(err, 0, "unknown option \"%.*s\"", len, arg);
    else
        hn_err_set(err, 0, "unknown option \"-%c\"", optopt);
}

/* One usage line: the flag in a column wide enough for the longest. */
static void
print_flag(FILE *out, const char *spec, const char *text)
{
    fprintf(out, "  %-30s  %s", spec, text);
}
