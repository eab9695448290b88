/*
 * main.c - hornet's entry point: parse the command line, then validate
 * (-t), print (--help, --version, --dump-config) or run the master.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "master/cli.h"
#include "master/control.h"
#include "master/master.h"
#include "shared/cfg.h"
#include "shared/log.h"
#include "master/spawn.h"
#include "shared/tls_ctx.h"

static hn_config_t *
reload_config(void *ud, hn_err_t *err)
{
    return hn_cli_load_config(ud, err);
}

int
main(int argc, char **argv)
{
    hn_cli_t cli;
    hn_err_t err = {0};
    int status = HN_EXIT_FAILURE;
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
        fprintf(stderr, "hornet: %s\n", err.msg);
        goto out;
    }
    if (cli.action == HN_CLI_SIGNAL) {
        status = hn_control_signal(cfg, cli.signal_name);
        goto out;
    }
    /* the app must exist before anything is bound or forked */
    if (hn_spawn_check_app(cfg, &err) != HN_OK) {
        fprintf(stderr, "hornet: %s\n", err.msg);
        goto out;
    }
    /* and the certificates must load (the master loads them again to serve) */
    struct ssl_ctx_st *tls = hn_tls_ctx_new(cfg, NULL, &err);
    hn_tls_ctx_free(tls);
    if (tls == NULL && err.msg[0]) {
        fprintf(stderr, "hornet: %s\n", err.msg);
        goto out;
    }
    if (cli.action == HN_CLI_TEST) {
        fprintf(stderr, "hornet: configuration %s is valid\n", cfg->file ? cfg->file : "(defaults)");
        status = 0;
        goto out;
    }
    if (cli.action == HN_CLI_DUMP_CONFIG) {
        hn_cfg_dump(cfg, stdout);
        status = 0;
        goto out;
    }
    if (cfg->errorlog == NULL) {
        hn_log_level = HN_LOG_OFF;
    } else {
        hn_log_level = (hn_log_level_t)cfg->loglevel;
        if (hn_log_open(cfg->errorlog, &err) != HN_OK) {
            fprintf(stderr, "hornet: errorlog: %s\n", err.msg);
            goto out;
        }
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
