/*
 * gh.h - what the gatehouse user CLI's files share (private): its own
 * verbs (tunnels and the native clients started through them). The
 * verb frame and the verbs it shares with gatehousectl are in ctl.h.
 */
#ifndef GATEHOUSE_CLI_GH_H
#define GATEHOUSE_CLI_GH_H

#include "ctl.h"

/* The host suffix "gatehouse ssh-config" routes through the gateway:
 * ssh web1.gatehouse reaches target web1. */
#define GH_USER_HOST_SUFFIX ".gatehouse"
/* Longest target name taken from the command line (config names are
 * shorter; this bounds what goes into a URL and a message). */
#define GH_USER_TARGET_MAX 128

int gh_user_proxy(struct gh_ctl *, const struct gh_ctl_verb *, int, char **);
int gh_user_tunnel(struct gh_ctl *, const struct gh_ctl_verb *, int, char **);
int gh_user_ssh(struct gh_ctl *, const struct gh_ctl_verb *, int, char **);
int gh_user_ssh_config(struct gh_ctl *, const struct gh_ctl_verb *, int,
                       char **);
int gh_user_rdp(struct gh_ctl *, const struct gh_ctl_verb *, int, char **);

#endif
