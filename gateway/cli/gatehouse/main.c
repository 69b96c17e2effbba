/*
 * main.c - gatehouse: the user CLI. Sign in, see targets, ask for access,
 * and reach a target with native clients through the gateway: a tunnel
 * (local port), a proxy (stdin/stdout, for ssh's ProxyCommand), ssh, scp
 * and rdp. Every byte goes through the gateway's tunnel WebSocket and is
 * allowed by the gateway's JIT grants, like a browser session.
 *
 * The verb frame, sign-in and the request verbs are gatehousectl's
 * (gh_ctl); a login with either CLI works for both. Exit statuses are
 * documented in gh_ctl_exit_help and docs/man/gatehouse.1.
 */
#include "gh.h"

static const struct gh_ctl_verb gh_user_verbs[] = {
    {"login", NULL, GH_CTL_LOGIN_USAGE, GH_CTL_LOGIN_HELP, gh_ctl_login},
    {"logout", NULL, "logout [--server URL]", GH_CTL_LOGOUT_HELP,
     gh_ctl_logout},
    {"status", NULL, "status [--server URL]", GH_CTL_STATUS_HELP,
     gh_ctl_status},
    {"targets", NULL, "targets", "List the targets you may request.\n",
     gh_ctl_targets},
    {"request", NULL,
     "request TARGET --port 22[,3389] [--duration 1h] [--reason TEXT] "
     "[--source CIDR] [--wait]",
     "Ask for access to TARGET's ports for --duration (default 1h). An\n"
     "approver decides, or the target's policy approves at once. --wait\n"
     "waits for the decision and says it (exit 0 approved, 1 otherwise).\n",
     gh_ctl_request_create},
    {"requests", NULL, "requests [--state S] [--limit N] [--after ID]",
     "List your requests and their state.\n", gh_ctl_requests_mine},
    {"tunnel", NULL, "tunnel TARGET --port N --local-port L [--bind 127.0.0.1]",
     "Listen on --bind (default 127.0.0.1) port L (0: any free port); each\n"
     "connection there is relayed to TARGET port N through the gateway,\n"
     "several at once. Runs until Ctrl-C. Binding another address lets\n"
     "others use your grant: it warns.\n",
     gh_user_tunnel},
    {"proxy", NULL, "proxy TARGET PORT",
     "Relay stdin and stdout to TARGET port PORT through the gateway, for\n"
     "ssh -o ProxyCommand='gatehouse proxy %n %p'. TARGET may end in\n"
     "\".gatehouse\" (see ssh-config).\n",
     gh_user_proxy},
    {"ssh", NULL, "ssh TARGET [--port 22] [-- SSH-ARGS...]",
     "Run OpenSSH's ssh to TARGET through 'gatehouse proxy'. Your keys,\n"
     "config and known_hosts apply; the host key is checked under the\n"
     "name TARGET. Options after -- go to ssh (e.g. -- -l alice uptime).\n",
     gh_user_ssh},
    {"ssh-config", NULL, "ssh-config",
     "Print a ~/.ssh/config block so that ssh, scp, sftp and rsync to\n"
     "TARGET.gatehouse go through this gateway.\n",
     gh_user_ssh_config},
    {"rdp", NULL,
     "rdp TARGET [--port 3389] [--local-port L] [--client PATH] [--print] "
     "[-- CLIENT-ARGS...]",
     "Open a local tunnel to TARGET's RDP port and start xfreerdp3 against\n"
     "it (--client or GATEHOUSE_RDP_CLIENT names another; it gets\n"
     "/v:127.0.0.1:L then CLIENT-ARGS). With --print, only print where\n"
     "the tunnel listens (for mstsc) and run until Ctrl-C.\n",
     gh_user_rdp},
};

int
main(int argc, char **argv)
{
    static const struct gh_ctl_prog p = {
        "gatehouse",
        "Reach private machines through a Gatehouse gateway with your own\n"
        "tools, under just-in-time grants.\n",
        gh_user_verbs, GH_NCOLS(gh_user_verbs)};

    return gh_ctl_main(&p, argc, argv);
}
