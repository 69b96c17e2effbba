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

/* Serve an /api/v1/ path, or GH_AUTH_NOT_MINE. */
int gh_api_route(struct lws *wsi, struct gh_http_pss *pss, bool get, bool post,
                 const char *uri);

#endif
