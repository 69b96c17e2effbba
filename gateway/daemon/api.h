/*
 * api.h - the JIT access API under /api/v1 (JSON; cookie or bearer; roles
 * enforced on every call; every decision audited):
 *   GET  /api/v1/targets                    targets visible to me
 *   POST /api/v1/requests                   ask {target, ports, duration,
 *                                           reason, source_cidr?}
 *   GET  /api/v1/requests/ID                one request
 *   POST /api/v1/requests/ID/approve        {duration?, reason?}
 *   POST /api/v1/requests/ID/deny           {reason}
 *   POST /api/v1/requests/ID/cancel         (the requester)
 *   POST /api/v1/grants/ID/revoke           {reason}
 *   GET  /api/v1/decide?target=T&port=P     the decision for me, now
 * Event loop thread only.
 */
#ifndef GATEHOUSE_DAEMON_API_H
#define GATEHOUSE_DAEMON_API_H

#include "http.h"

struct gh_identity;
struct gh_target;
struct gh_policy_answer;

/*
 * The door of every connect path: is the target visible to who, is port
 * one it declares, does a grant allow who from this peer now? Audits the
 * answer (jit.decide, with via = "api", "connect" or "tunnel"). Returns
 * the decision code ("allow", "no_grant", ..., "unknown_target",
 * "port_not_declared", "error"); *ans is filled, *target (may be NULL)
 * is the target when allowed.
 */
const char *gh_api_door(struct lws *wsi, const struct gh_identity *who,
                        const char *tname, unsigned port, const char *via,
                        struct gh_policy_answer *ans,
                        const struct gh_target **target);

/* Serve an /api/v1/ path, or GH_AUTH_NOT_MINE. */
int gh_api_route(struct lws *wsi, struct gh_http_pss *pss, bool get, bool post,
                 const char *uri);

#endif
