/*
 * http_api.h — microtd's REST API (libmicrohttpd, JSON by jansson) and its static file server.
 *
 * Routes live in one table in http_api.c (method, path pattern, handler, whether it needs the
 * token); docs/api.md describes each. Reads are open to anyone who can reach the socket, which
 * is loopback unless configured; every request that changes anything needs
 * `Authorization: Bearer TOKEN`. Each connection gets its own thread, so a slow board call
 * (a ping waiting for its deadline) never holds up other requests.
 */
#ifndef MICROT_HTTP_API_H
#define MICROT_HTTP_API_H

#include <stddef.h>
#include <stdint.h>

#include "fleet.h"
#include "store.h"
#include "workflow.h"

#define HTTP_API_DEFAULT_BIND "127.0.0.1"
#define HTTP_API_DEFAULT_MAX_BODY_BYTES (1024 * 1024)
#define HTTP_API_DEFAULT_MAX_CONNECTIONS 64
#define HTTP_API_DEFAULT_PAGE 100
#define HTTP_API_MAX_UPLOAD_BYTES (24u * 1024u * 1024u) /* raw uploads: .tflite, images, IDX */

typedef struct http_api http_api_t;

typedef struct {
    const char *bind_addr;        /* IPv4 or IPv6 literal; NULL = HTTP_API_DEFAULT_BIND */
    uint16_t port;                /* 0 = any free port (tests); http_api_port() says which */
    const char *token;            /* bearer token for changing requests; http_token_validate() */
    const char *web_root;         /* directory served at / (index.html); NULL = none */
    const char *vendor_root;      /* directory served read-only at /vendor/ (the dashboard's
                                     libraries from Debian's libjs-* packages);
                                     NULL = /usr/share/javascript, "" = none */
    store_t *store;               /* required */
    fleet_t *fleet;               /* the connected boards; NULL = none connected (store only) */
    workflow_t *workflow;         /* models, samples, jobs; NULL = those routes answer 503 */
    size_t max_body_bytes;        /* largest request body; 0 = HTTP_API_DEFAULT_MAX_BODY_BYTES */
    unsigned max_connections;     /* 0 = HTTP_API_DEFAULT_MAX_CONNECTIONS */
} http_api_config_t;

/* Starts listening. The config's strings are copied; store and fleet must outlive the API.
 * MT_EINVAL for a bad address, token or web_root, MT_EIO if the port cannot be bound; the
 * reason is also printed on stderr (the daemon's log). */
int http_api_start(http_api_t **out, const http_api_config_t *cfg);

/* The TCP port actually bound. */
uint16_t http_api_port(const http_api_t *api);

/* Stops accepting, waits for the requests in progress, frees everything. NULL is fine. */
void http_api_stop(http_api_t *api);

/* The HTTP status and the API's error code word for a negative mt_err_t
 * (e.g. MT_ENOTFOUND -> 404, "not_found"). */
unsigned http_api_status_of(int err, const char **code);

#endif /* MICROT_HTTP_API_H */
