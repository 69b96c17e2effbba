/*
 * main.c - gatehousectl: the admin, approver and auditor CLI.
 *
 * A client of the gateway's /api/v1 acting with the person's own OIDC
 * access token (STYLE.md: CLIs are clients, not insiders). Verbs parse
 * their arguments completely before the token is read or anything is
 * sent, so a usage error (exit 2) never reaches the network.
 *
 * Exit status: 0 done; 1 the server refused or failed (4xx/5xx) or the
 * network/TLS failed; 2 usage or local set-up error (bad flags, bad
 * duration, missing argument, unsafe token file or cache, refused server
 * URL); 3 sign-in needed or refused (not logged in, login expired, device
 * approval denied or expired).
 */
#include "ctl.h"

/* ---- output columns ---- */

static const struct gh_ctl_verb gh_ctl_verbs[] = {
    /* Sign-in and the token cache (verbs-login.c). */
    {"login", NULL, GH_CTL_LOGIN_USAGE, GH_CTL_LOGIN_HELP, gh_ctl_login},
    {"logout", NULL, "logout [--server URL]", GH_CTL_LOGOUT_HELP,
     gh_ctl_logout},
    {"status", NULL, "status [--server URL]", GH_CTL_STATUS_HELP,
     gh_ctl_status},
    {"requests", "list",
     "requests list [--state S] [--user U] [--target T] [--limit N] "
     "[--after ID]",
     "List access requests you may see (yours; approvers: their targets;\n"
     "auditors and admins: all). --state is pending, approved, denied,\n"
     "cancelled or expired. --limit is at most 200; --after pages.\n",
     gh_ctl_requests_list},
    {"requests", "show", "requests show ID", "Show one access request.\n",
     gh_ctl_requests_show},
    {"requests", "approve",
     "requests approve ID [--duration 1h|30m|3600] [--reason TEXT]",
     "Approve a pending request (not your own). --duration may only\n"
     "shorten what was asked.\n",
     gh_ctl_requests_decide},
    {"requests", "deny", "requests deny ID --reason TEXT",
     "Deny a pending request; the reason is required.\n",
     gh_ctl_requests_decide},
    {"requests", "cancel", "requests cancel ID",
     "Cancel your own pending request.\n", gh_ctl_requests_decide},
    {"grants", "list",
     "grants list [--user U] [--target T] [--live] [--limit N] [--after ID]",
     "List grants you may see; --live only those in force now.\n",
     gh_ctl_grants_list},
    {"grants", "revoke", "grants revoke ID --reason TEXT",
     "End a live grant now; the reason is required.\n", gh_ctl_grants_revoke},
    {"grants", "create",
     "grants create USER TARGET --port 22[,3389] --duration 1h "
     "[--reason TEXT]",
     "Admins: grant access directly, without a request.\n",
     gh_ctl_grants_create},
    {"audit", "list",
     "audit list [--since 1h|ISO-8601|unix] [--user U] [--action A] "
     "[--limit N] [--after ID]",
     "Auditors and admins: read the audit log (oldest first). --since\n"
     "takes a duration before now (1h), a date/time or a unix time.\n",
     gh_ctl_audit_list},
    {"targets", NULL, "targets",
     "List the targets you may request or approve.\n", gh_ctl_targets},
    {"decide", NULL, "decide TARGET PORT",
     "Ask the gateway's decision function whether you, from this address,\n"
     "may reach TARGET:PORT now (allow, no_grant, ...).\n",
     gh_ctl_decide},
    {"whoami", NULL, "whoami", "Show who the gateway thinks you are.\n",
     gh_ctl_whoami},
    /* Sessions and recordings (verbs-session.c). */
    {"sessions", "list",
     "sessions list [--live] [--user U] [--target T] [--limit N] "
     "[--after ID]",
     "List remote sessions (browser terminals and tunnels): yours;\n"
     "auditors and admins: all. --live only those running now.\n",
     gh_ctl_sessions_list},
    {"sessions", "kill", "sessions kill ID [--reason TEXT]",
     "Admins: end a live session now; the user sees admin_kill.\n",
     gh_ctl_sessions_kill},
    {"recordings", "list",
     "recordings list [--user U] [--target T] [--since WHEN] "
     "[--until WHEN] [--limit N] [--after ID]",
     "List session recordings you may see (auditors and admins: all).\n"
     "--since and --until take a duration before now (1h), a date/time\n"
     "or a unix time, and bound the session's start.\n",
     gh_ctl_recordings_list},
    {"recordings", "show", "recordings show ID",
     "Show one recording's index entry: size, SHA-256, state.\n",
     gh_ctl_recordings_show},
    {"recordings", "download", "recordings download ID [-o FILE] [--force]",
     "Download a recording (asciicast v2) to FILE (default\n"
     "recording-ID.cast). It is written to a temporary file beside FILE,\n"
     "checked against the size and SHA-256 of the gateway's index, and\n"
     "only then renamed to FILE. An existing FILE is kept unless --force.\n",
     gh_ctl_recordings_download},
    {"recordings", "play", "recordings play ID [--speed N] [--idle-cap S]",
     "Download a recording, check it against the index, and play it in\n"
     "this terminal. --speed 2 plays twice as fast (0.01..1000);\n"
     "--idle-cap 2 cuts every pause to at most 2 seconds (default: the\n"
     "file's idle_time_limit, else none). Ctrl-C stops.\n",
     gh_ctl_recordings_play},
};

int
main(int argc, char **argv)
{
    static const struct gh_ctl_prog p = {
        "gatehousectl",
        "Administer a Gatehouse gateway with your own access token.\n",
        gh_ctl_verbs, GH_NCOLS(gh_ctl_verbs)};

    return gh_ctl_main(&p, argc, argv);
}
