/* api-priv.h - helpers the /api/v1 handler files share (private). */
#ifndef GATEHOUSE_DAEMON_API_PRIV_H
#define GATEHOUSE_DAEMON_API_PRIV_H

#include "http.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct gh_target;

struct gh_gateway *gh_api_gw(struct lws *wsi);
int64_t gh_api_now_ms(void);
/* The configured target called name (NULL for none or NULL name). */
const struct gh_target *gh_api_target(struct lws *wsi, const char *name);
/* The request body as a JSON object (new reference), or NULL when it is
 * not one. */
json_t *gh_api_body(struct gh_http_pss *pss);
/* Parse "/api/v1/<what>/ID[/verb]"; 0 on success. */
int gh_api_id(const char *uri, const char *prefix, int64_t *id,
              const char **verb);
/* A query argument into buf (NULL when absent or empty); one that does
 * not fit sets *bad, so a filter is never silently dropped. */
const char *gh_api_arg(struct lws *wsi, const char *name, char *buf, size_t len,
                       bool *bad);

/* api-session.c: /api/v1/sessions and /api/v1/recordings. */
int gh_api_session_route(struct lws *wsi, struct gh_http_pss *pss, bool get,
                         bool post, const char *uri);

#endif
