/*
 * cli.h - the command line: `hornet [options] [APP]` to an action plus config
 * overrides, and the config those overrides produce. Every flag that sets a
 * config key is taken from the option table (cfg.h), so the CLI and the YAML
 * file share one parser per value.
 */
#ifndef HN_MASTER_CLI_H
#define HN_MASTER_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "shared/cfg.h"
#include "shared/common.h"

typedef enum hn_cli_action {
    HN_CLI_RUN,
    HN_CLI_TEST,        /* -t: validate the config, exit 0 or 1 */
    HN_CLI_HELP,        /* -h */
    HN_CLI_VERSION,     /* -v */
    HN_CLI_DUMP_CONFIG, /* --dump-config: print the effective config as YAML (=running:
                         * the one the running master serves with) */
    HN_CLI_SIGNAL,      /* -s stop|quit|reopen|reload: signal the running master */
} hn_cli_action_t;

struct hn_cli_override;

typedef struct hn_cli {
    hn_cli_action_t action;
    const char *config_file; /* -c FILE, or NULL; borrows argv */
    const char *app;         /* APP, or NULL; borrows argv */
    const char *signal_name; /* -s NAME, or NULL; borrows argv */
    bool dump_running;       /* --dump-config=running: the running master's */
    bool no_args;            /* argc == 1 */

    /* config flags in command-line order; values borrow argv */
    struct hn_cli_override *_overrides;
    size_t _n_overrides;
} hn_cli_t;

/* Parse argv (getopt_long; argv may be permuted). Values are not checked
 * here but in hn_cli_load_config. Returns HN_OK, or HN_ERR with err->msg
 * saying what was wrong with the usage ("unknown option \"--wrokers\"").
 * Call hn_cli_free in both cases. -h wins over -v, -v over --dump-config,
 * --dump-config over -t (dumping validates too). */
int hn_cli_parse(int argc, char **argv, hn_cli_t *cli, hn_err_t *err);

/* Defaults, then the file given with -c, then the flags in command-line order
 * (the first -b replaces the file's bind list, later ones append), then APP
 * as application_path, then hn_cfg_finish. Returns owned (hn_cfg_free), or
 * NULL with err->msg naming the file and line or the flag. */
hn_config_t *hn_cli_load_config(const hn_cli_t *cli, hn_err_t *err);

/* The usage text, then every config key (hn_cfg_print_help). */
void hn_cli_usage(FILE *out);
/* "hornet VERSION\n" */
void hn_cli_print_version(FILE *out);

void hn_cli_free(hn_cli_t *cli);

#endif
