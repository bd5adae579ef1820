/* assets: the table of embedded files; see assets.h. To add a file: put it in web/, add a
 * WEB_ASSET line to embed.S and one line to each list below. */
#include "web/assets.h"

#include "util/hash.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define WEB_ASSET_SYMBOLS(sym) extern const char sym[], sym##_end[];
WEB_ASSET_SYMBOLS(web__index_html)
WEB_ASSET_SYMBOLS(web__app_js)
WEB_ASSET_SYMBOLS(web__app_css)
WEB_ASSET_SYMBOLS(web__api_js)
WEB_ASSET_SYMBOLS(web__bookings_js)
WEB_ASSET_SYMBOLS(web__canvasmap_js)
WEB_ASSET_SYMBOLS(web__connection_js)
WEB_ASSET_SYMBOLS(web__dom_js)
WEB_ASSET_SYMBOLS(web__eventpage_js)
WEB_ASSET_SYMBOLS(web__identity_js)
WEB_ASSET_SYMBOLS(web__live_js)
WEB_ASSET_SYMBOLS(web__mapworker_js)
WEB_ASSET_SYMBOLS(web__messages_js)
WEB_ASSET_SYMBOLS(web__notices_js)
WEB_ASSET_SYMBOLS(web__seatmap_js)
WEB_ASSET_SYMBOLS(web__seatpicker_js)
WEB_ASSET_SYMBOLS(web__svgmap_js)
WEB_ASSET_SYMBOLS(web__admin_html)
WEB_ASSET_SYMBOLS(web__admin_js)
WEB_ASSET_SYMBOLS(web__admin_css)
WEB_ASSET_SYMBOLS(web__openapi_json)

typedef struct web__entry {
    web_asset asset;
    const char *end;
} web__entry;

#define WEB_ASSET_ENTRY(name, type, sym)                                                           \
    {                                                                                              \
        {name, type, sym, 0, ""}, sym##_end                                                        \
    }

static web__entry web__assets[] = {
    WEB_ASSET_ENTRY("index.html", "text/html; charset=utf-8", web__index_html),
    WEB_ASSET_ENTRY("app.js", "text/javascript; charset=utf-8", web__app_js),
    WEB_ASSET_ENTRY("app.css", "text/css; charset=utf-8", web__app_css),
    WEB_ASSET_ENTRY("api.js", "text/javascript; charset=utf-8", web__api_js),
    WEB_ASSET_ENTRY("bookings.js", "text/javascript; charset=utf-8", web__bookings_js),
    WEB_ASSET_ENTRY("canvasmap.js", "text/javascript; charset=utf-8", web__canvasmap_js),
    WEB_ASSET_ENTRY("connection.js", "text/javascript; charset=utf-8", web__connection_js),
    WEB_ASSET_ENTRY("dom.js", "text/javascript; charset=utf-8", web__dom_js),
    WEB_ASSET_ENTRY("eventpage.js", "text/javascript; charset=utf-8", web__eventpage_js),
    WEB_ASSET_ENTRY("identity.js", "text/javascript; charset=utf-8", web__identity_js),
    WEB_ASSET_ENTRY("live.js", "text/javascript; charset=utf-8", web__live_js),
    WEB_ASSET_ENTRY("mapworker.js", "text/javascript; charset=utf-8", web__mapworker_js),
    WEB_ASSET_ENTRY("messages.js", "text/javascript; charset=utf-8", web__messages_js),
    WEB_ASSET_ENTRY("notices.js", "text/javascript; charset=utf-8", web__notices_js),
    WEB_ASSET_ENTRY("seatmap.js", "text/javascript; charset=utf-8", web__seatmap_js),
    WEB_ASSET_ENTRY("seatpicker.js", "text/javascript; charset=utf-8", web__seatpicker_js),
    WEB_ASSET_ENTRY("svgmap.js", "text/javascript; charset=utf-8", web__svgmap_js),
    WEB_ASSET_ENTRY("admin.html", "text/html; charset=utf-8", web__admin_html),
    WEB_ASSET_ENTRY("admin.js", "text/javascript; charset=utf-8", web__admin_js),
    WEB_ASSET_ENTRY("admin.css", "text/css; charset=utf-8", web__admin_css),
    WEB_ASSET_ENTRY("openapi.json", "application/json", web__openapi_json),
};

enum { WEB_ASSET_COUNT = sizeof(web__assets) / sizeof(web__assets[0]) };

/* Lengths and ETags, once: FNV-1a of the bytes and of the name with the length (64 bits). */
static void web__init(void)
{
    for (size_t i = 0; i < WEB_ASSET_COUNT; i++) {
        web_asset *a = &web__assets[i].asset;
        a->len = (size_t)(web__assets[i].end - a->data);
        uint32_t h1 = hash_fnv1a32(a->data, a->len);
        uint32_t h2 = hash_fnv1a32(a->name, strlen(a->name)) ^ (uint32_t)a->len;
        snprintf(a->etag, sizeof(a->etag), "\"%08x%08x\"", h1, h2);
    }
}

const web_asset *web_asset_find(const char *name, size_t len)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, web__init);
    for (size_t i = 0; i < WEB_ASSET_COUNT; i++) {
        const web_asset *a = &web__assets[i].asset;
        if (strlen(a->name) == len && memcmp(a->name, name, len) == 0) return a;
    }
    return NULL;
}
