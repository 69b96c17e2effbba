/*
 * ctl.h - what gatehousectl's files share (private to the CLI): the
 * program's options, a verb's parsed arguments, the verb table entry,
 * and the helpers the verbs call. One thread; a run is one process.
 */
#ifndef GATEHOUSE_CLI_CTL_H
#define GATEHOUSE_CLI_CTL_H

#include "cli-token.h"
#include "http.h"
#include "table.h"

#include <jansson.h>
#include <getopt.h>
#include <stdio.h>

#define GH_CTL_EXIT_OK    0
#define GH_CTL_EXIT_FAIL  1
#define GH_CTL_EXIT_USAGE 2
/* Sign-in needed or refused: not logged in, the login expired and cannot
 * be refreshed, or the device approval was denied or ran out. */
#define GH_CTL_EXIT_AUTH 3

/* Options of the whole program (before the verb). */
struct gh_ctl {
    struct gh_ctl_conn conn;
    const char *server_arg; /* --server or GATEHOUSE_SERVER */
    const char *token_file; /* --token-file */
    const char *pin_arg;    /* --insecure-pin */
    int json;               /* --json: the server's JSON, pretty */
    int token_cached;       /* the token came from the token cache */
    const char *argv0;      /* how the program was started */
};

struct gh_ctl_verb {
    const char *group; /* "requests", or the verb itself */
    const char *name;  /* "list", or NULL for one-word verbs */
    const char *usage; /* first line after "usage: gatehousectl " */
    const char *help;  /* what it does and its options */
    int (*run)(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
               char **argv);
};

struct gh_ctl_args {
    const char *state, *user, *target, *limit, *after, *duration, *reason;
    const char *since, *action, *port;
    /* sessions and recordings (verbs-session.c) */
    const char *until, *output, *speed, *idle_cap;
    int force;
    int live;
    /* the gatehouse user CLI (gateway/cli/gatehouse) */
    const char *local_port, *bind, *client, *source;
    int wait, print;
    /* login */
    int browser;
    int npos;
    char *pos[4];
};

/* Verb option ids (getopt_long vals). */
enum {
    GH_OPT_HELP = 'h',
    GH_OPT_JSON = 1000,
    GH_OPT_STATE,
    GH_OPT_USER,
    GH_OPT_TARGET,
    GH_OPT_LIMIT,
    GH_OPT_AFTER,
    GH_OPT_DURATION,
    GH_OPT_REASON,
    GH_OPT_LIVE,
    GH_OPT_SINCE,
    GH_OPT_ACTION,
    GH_OPT_PORT,
    /* sessions and recordings (verbs-session.c) */
    GH_OPT_UNTIL,
    GH_OPT_FORCE,
    GH_OPT_SPEED,
    GH_OPT_IDLE_CAP,
    /* login, logout, status (verbs-login.c): the global options that
     * say which gateway and how to trust it may follow these verbs */
    GH_OPT_SERVER,
    GH_OPT_CA_FILE,
    GH_OPT_PIN,
    GH_OPT_BROWSER,
    /* the gatehouse user CLI */
    GH_OPT_LOCAL_PORT,
    GH_OPT_BIND,
    GH_OPT_WAIT,
    GH_OPT_CLIENT,
    GH_OPT_PRINT,
    GH_OPT_SOURCE,
    GH_OPT_INSECURE = 'k', /* also -k */
    GH_OPT_OUTPUT = 'o'    /* also -o */
};

#define GH_NCOLS(a) (sizeof(a) / sizeof((a)[0]))

/* The sign-in verbs' help, the same in both CLIs (verbs-login.c). */
#define GH_CTL_LOGIN_USAGE                                                     \
    "login --server URL [--ca-file FILE | --insecure-pin SHA256 | -k] "        \
    "[--browser]"
#define GH_CTL_LOGIN_HELP                                                      \
    "Sign in with your identity provider (OAuth device grant): open the\n"     \
    "page shown, check the code, approve. --browser signs in through a\n"      \
    "browser on this machine instead (authorization code + PKCE, sent\n"       \
    "back to 127.0.0.1; $BROWSER or xdg-open opens it). The token set is\n"    \
    "kept in $XDG_CONFIG_HOME/gatehouse/tokens.json (default\n"                \
    "~/.config/gatehouse, 0600), shared by gatehouse and gatehousectl, and\n"  \
    "refreshed as needed by every later command that is given neither\n"       \
    "--token-file nor GATEHOUSE_TOKEN. --ca-file or --insecure-pin given\n"    \
    "here is remembered for later commands. The identity provider's\n"         \
    "certificate is checked against the system store, or against\n"            \
    "GATEHOUSE_IDP_CA_FILE when set.\n"
#define GH_CTL_LOGOUT_HELP                                                     \
    "Forget the server's token set and revoke its refresh token at the\n"      \
    "identity provider. The access token runs out on its own.\n"
#define GH_CTL_STATUS_HELP                                                     \
    "Show the server, your user and roles and when the token expires\n"        \
    "(never the token); every server in the cache without --server.\n"

/* A CLI: its name, what it is for (the first lines of --help) and its
 * verbs. */
struct gh_ctl_prog {
    const char *name;
    const char *intro;
    const struct gh_ctl_verb *verbs;
    size_t nverbs;
};

/* Global options, the verb, its run; the process's exit status (cli.c). */
int gh_ctl_main(const struct gh_ctl_prog *p, int argc, char **argv);

/* One line on stderr, prefixed with the program's name (cli-token.h). */
#define gh_ctl_err gh_cli_err
/* The exit statuses, in words, for --help (cli.c). */
extern const char gh_ctl_exit_help[];
/* A usage error of verb v: message, usage line, GH_CTL_EXIT_USAGE. */
int gh_ctl_usage_error(const struct gh_ctl_verb *v, const char *what);
/* Parse a verb's options and want positionals; -1 after --help, 0, or
 * GH_CTL_EXIT_USAGE. */
int gh_ctl_begin(struct gh_ctl *ctl, const struct gh_ctl_verb *v, int argc,
                 char **argv, const struct option *allowed, int want,
                 struct gh_ctl_args *a);
/* Read the token and set up the connection; 0 or an exit status. With
 * neither --token-file nor GATEHOUSE_TOKEN the token comes from the token
 * cache (gh_ctl_cached_token). */
int gh_ctl_ready(struct gh_ctl *ctl);
/* Check and set the server URL and TLS trust (no token); 0 or an exit
 * status. server may differ from ctl->server_arg (taken from the cache). */
int gh_ctl_connect(struct gh_ctl *ctl, const char *server);
/* The only one of --ca-file, --insecure-pin and -k; else exit 2. */
int gh_ctl_tls_once(struct gh_ctl *ctl, const struct gh_ctl_verb *v);
/* Call the API; 0 with *out (new ref) on 2xx, else an exit status after
 * printing the refusal (msg404, when not NULL, replaces the message of a
 * 404 that names no API error). status may be NULL. */
int gh_ctl_api(struct gh_ctl *ctl, const char *method, const char *path,
               json_t *body, json_t **out, long *status, const char *msg404);
void gh_ctl_print_json(json_t *j);
void gh_ctl_next_page(json_t *j);
int gh_ctl_id_ok(const char *s);
int gh_ctl_count_ok(const char *s);

/* The verbs (verbs.c). */
int gh_ctl_requests_list(struct gh_ctl *, const struct gh_ctl_verb *, int,
                         char **);
int gh_ctl_requests_show(struct gh_ctl *, const struct gh_ctl_verb *, int,
                         char **);
int gh_ctl_requests_decide(struct gh_ctl *, const struct gh_ctl_verb *, int,
                           char **);
int gh_ctl_grants_list(struct gh_ctl *, const struct gh_ctl_verb *, int,
                       char **);
int gh_ctl_grants_revoke(struct gh_ctl *, const struct gh_ctl_verb *, int,
                         char **);
int gh_ctl_grants_create(struct gh_ctl *, const struct gh_ctl_verb *, int,
                         char **);
int gh_ctl_audit_list(struct gh_ctl *, const struct gh_ctl_verb *, int,
                      char **);
int gh_ctl_targets(struct gh_ctl *, const struct gh_ctl_verb *, int, char **);
int gh_ctl_decide(struct gh_ctl *, const struct gh_ctl_verb *, int, char **);
int gh_ctl_whoami(struct gh_ctl *, const struct gh_ctl_verb *, int, char **);
/* The gatehouse user CLI's: request TARGET [--wait], requests (mine). */
int gh_ctl_request_create(struct gh_ctl *, const struct gh_ctl_verb *, int,
                          char **);
int gh_ctl_requests_mine(struct gh_ctl *, const struct gh_ctl_verb *, int,
                         char **);

/* Sign-in and the token cache (verbs-login.c). */
int gh_ctl_cached_token(struct gh_ctl *ctl);
/* A token from the cache again (refreshed when it is about to expire),
 * for a long-running verb; the old one is wiped. 0 or an exit status (the
 * old token stays). Does nothing for a token given by file or env. */
int gh_ctl_renew_token(struct gh_ctl *ctl);
int gh_ctl_login(struct gh_ctl *, const struct gh_ctl_verb *, int, char **);
int gh_ctl_logout(struct gh_ctl *, const struct gh_ctl_verb *, int, char **);
int gh_ctl_status(struct gh_ctl *, const struct gh_ctl_verb *, int, char **);

/* Sessions and recordings (verbs-session.c). */
int gh_ctl_sessions_list(struct gh_ctl *, const struct gh_ctl_verb *, int,
                         char **);
int gh_ctl_sessions_kill(struct gh_ctl *, const struct gh_ctl_verb *, int,
                         char **);
int gh_ctl_recordings_list(struct gh_ctl *, const struct gh_ctl_verb *, int,
                           char **);
int gh_ctl_recordings_show(struct gh_ctl *, const struct gh_ctl_verb *, int,
                           char **);
int gh_ctl_recordings_download(struct gh_ctl *, const struct gh_ctl_verb *, int,
                               char **);
int gh_ctl_recordings_play(struct gh_ctl *, const struct gh_ctl_verb *, int,
                           char **);

#endif
