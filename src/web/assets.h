/* assets: the web pages tix serves itself (the buyer's page at /, the organiser's at /admin,
 * their scripts and styles under /assets/) and the API's description (docs/openapi.json, at
 * /openapi.json), embedded in the binary (src/web/embed.S); see web/ for the files.
 *
 * Each asset has a content type and an ETag computed once from its bytes, so that a browser
 * revalidates with If-None-Match and gets a 304 while the binary is the same. */
#ifndef TIX_WEB_ASSETS_H
#define TIX_WEB_ASSETS_H

#include <stddef.h>

typedef struct web_asset {
    const char *name; /* "index.html", "app.js" */
    const char *content_type;
    const char *data;
    size_t len;
    char etag[24]; /* "\"<16 hex>\"" */
} web_asset;

/* The asset with this name (len bytes, not NUL-terminated), or NULL. Thread-safe. */
const web_asset *web_asset_find(const char *name, size_t len);

#endif
