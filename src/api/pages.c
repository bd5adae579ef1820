/* pages: GET / (the buyer's page), GET /admin (the organiser's page), GET /assets/{name} (their
 * scripts and styles) and GET /openapi.json (docs/openapi.json, the API described), served from
 * the files embedded in the binary (web/assets.h). Each answer carries the asset's ETag, so a
 * browser revalidates and gets a 304 without a body while the binary is the same. */
#include "api/internal.h"

#include "web/assets.h"

#include <stdio.h>
#include <string.h>

/* Nothing to release: an embedded asset lives as long as the process. */
static void api__asset_keep(void *cls)
{
    (void)cls;
}

/* Answer with the asset called name (len bytes), or 404. */
static api_result api__asset(const api_request *req, const char *name, size_t len,
                             api_response *res)
{
    const web_asset *asset = web_asset_find(name, len);
    if (!asset) {
        api_error(res, 404, "not_found", "no such file");
        return API_DONE;
    }
    snprintf(res->etag, sizeof(res->etag), "%s", asset->etag);
    res->content_type = asset->content_type;
    if (req->if_none_match && strstr(req->if_none_match, asset->etag)) {
        res->status = 304;
        return API_DONE;
    }
    res->status = 200;
    res->shared_data = asset->data;
    res->shared_len = asset->len;
    res->shared_release = api__asset_keep;
    res->shared_cls = NULL;
    return API_DONE;
}

api_result api_page(api_request *req, api_response *res)
{
    return api__asset(req, "index.html", strlen("index.html"), res);
}

api_result api_asset(api_request *req, api_response *res)
{
    return api__asset(req, req->match.param, req->match.param_len, res);
}

api_result api_admin_page(api_request *req, api_response *res)
{
    return api__asset(req, "admin.html", strlen("admin.html"), res);
}

api_result api_openapi(api_request *req, api_response *res)
{
    return api__asset(req, "openapi.json", strlen("openapi.json"), res);
}
