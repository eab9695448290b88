/*
 * main.c - hornet's entry point: parse the command line, then validate
 * (-t), print (--help, --version, --dump-config), signal a running master
 * (-s) or run one.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/cli.h"
#include "master/control.h"
#include "master/master.h"
#include "master/upgrade.h"
#include "shared/cfg.h"
#include "shared/log.h"

/* A config's errors are one a line: each gets its own log line, and the
 * master's one-line refusal (log, sd_notify STATUS, status file) names the
 * first and how many more. */
static hn_config_t *
reload_config(void *ud, hn_err_t *err)
{
    hn_config_t *cfg = hn_cli_load_config(ud, err);
    char *nl = cfg ? NULL : strchr(err->msg, '\n');
    unsigned more = 0;

    if (nl == NULL)
        return cfg;
    for (char *line = err->msg, *end; line; line = end ? end + 1 : NULL) {
        end = strchr(line, '\n');
        hn_log(HN_LOG_ERROR, "%.*s", end ? (int)(end - line) : (int)strlen(line), line);
        more += end != NULL;
    }
    snprintf(nl, sizeof(err->msg) - (size_t)(nl - err->msg), " (and %u more, logged above)",
             more);
    return NULL;
}

/* err's message on stderr, "hornet: " before each of its lines. */
static void
print_err(const hn_err_t *err)
{
    for (const char *line = err->msg, *end; line; line = end ? end + 1 : NULL) {
        end = strchr(line, '\n');
        fprintf(stderr, "hornet: %.*s\n", end ? (int)(end - line) : (int)strlen(line), line);
    }
}

int
main(int argc, char **argv)
{
    hn_cli_t cli;
    hn_err_t err = {0};
    int status = HN_EXIT_FAILURE;
    hn_upgrade_set_argv(argv);
    if (hn_cli_parse(argc, argv, &cli, &err) != HN_OK) {
        fprintf(stderr, "hornet: %s\nTry 'hornet --help' for more information.\n", err.msg);
        hn_cli_free(&cli);
        return 2;
    }
    if (cli.action == HN_CLI_HELP) {
        hn_cli_usage(stdout);
        hn_cli_free(&cli);
        return 0;
    }
    if (cli.action == HN_CLI_VERSION) {
        hn_cli_print_version(stdout);
        hn_cli_free(&cli);
        return 0;
    }
    hn_config_t *cfg = hn_cli_load_config(&cli, &err);
    if (cfg == NULL) {
        print_err(&err);
        /* started by an upgrade: the old master says why it serves on */
        if (cli.action == HN_CLI_RUN)
            hn_upgrade_failed(err.msg);
        goto out;
    }
    if (cli.action == HN_CLI_SIGNAL) {
        status = hn_control_signal(cfg, cli.signal_name);
        goto out;
    }
    if (cli.action == HN_CLI_DUMP_CONFIG && cli.dump_running) {
        status = hn_control_print_config(cfg);
        goto out;
    }
    if (cli.action == HN_CLI_DUMP_CONFIG) {
        hn_cfg_dump(cfg, stdout);
        status = 0;
        goto out;
    }
    if (cli.action == HN_CLI_TEST) {
        /* the checks start-up makes, the same code (master.c: prepare) */
        if (hn_master_check(cfg, &err) != HN_OK) {
            print_err(&err);
            goto out;
        }
        fprintf(stderr, "hornet: configuration %s is valid\n",
                cfg->file ? cfg->file : "(defaults)");
        status = 0;
        goto out;
    }
    if (cli.no_args) {
        fprintf(stderr,
                "hornet: no arguments: serving %s on http://%s with %d worker(s) "
                "(hornet --help for options)\n",
                cfg->application_path, cfg->bind[0].text, cfg->workers);
    }
    status = hn_master_run(cfg, reload_config, &cli);
    cfg = NULL; /* the master's now */
out:
    hn_cfg_free(cfg);
    hn_cli_free(&cli);
    return status;
}
