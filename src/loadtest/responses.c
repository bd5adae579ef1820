/* responses: see responses.h. */
#include "loadtest/responses.h"

#include "util/ids.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

enum { RESPONSES_CHUNK_BYTES_MIN = 1 << 20, RESPONSES_ALIGN = 16 };

typedef struct responses__chunk {
    struct responses__chunk *next;
    size_t size, used;
    _Alignas(RESPONSES_ALIGN) char data[];
} responses__chunk;

static struct {
    bool installed;
    responses__chunk *head, *current; /* chunks in allocation order; current has room */
    size_t total;                     /* bytes of all chunks */
    uint32_t live;                    /* trees not freed yet */
} responses__arena;

static void *responses__allocate(size_t size)
{
    size = (size + RESPONSES_ALIGN - 1) & ~(size_t)(RESPONSES_ALIGN - 1);
    responses__chunk *c = responses__arena.current;
    while (c && c->size - c->used < size)
        c = c->next; /* later chunks are empty */
    if (!c) {
        size_t want = responses__arena.total > RESPONSES_CHUNK_BYTES_MIN
                          ? responses__arena.total
                          : RESPONSES_CHUNK_BYTES_MIN;
        if (want < size) want = size;
        if (responses__arena.total + want > LOADTEST_JSON_ARENA_BYTES_MAX) return NULL;
        if (!(c = malloc(sizeof(*c) + want))) return NULL;
        c->next = NULL;
        c->size = want;
        c->used = 0;
        responses__chunk **tail = &responses__arena.head;
        while (*tail)
            tail = &(*tail)->next;
        *tail = c;
        responses__arena.total += want;
    }
    responses__arena.current = c;
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

static void responses__release(void *p)
{
    (void)p; /* the arena is reset when no tree is alive */
}

static void responses__reset(void)
{
    for (responses__chunk *c = responses__arena.head; c; c = c->next)
        c->used = 0;
    responses__arena.current = responses__arena.head;
}

void loadtest_json_arena_install(void)
{
    assert(!responses__arena.installed);
    cJSON_Hooks hooks = {responses__allocate, responses__release};
    cJSON_InitHooks(&hooks);
    responses__arena.installed = true;
}

void loadtest_json_arena_remove(void)
{
    assert(responses__arena.live == 0);
    cJSON_InitHooks(NULL);
    for (responses__chunk *c = responses__arena.head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    memset(&responses__arena, 0, sizeof(responses__arena));
}

cJSON *loadtest_response_parse(const loadtest_transfer *t)
{
    if (!t->response.data || t->response.len == 0) return NULL;
    cJSON *root = cJSON_ParseWithLength(t->response.data, t->response.len);
    if (!responses__arena.installed) return root;
    if (root)
        responses__arena.live++;
    else if (responses__arena.live == 0)
        responses__reset();
    return root;
}

void loadtest_json_free(cJSON *root)
{
    if (!root) return;
    if (!responses__arena.installed) {
        cJSON_Delete(root);
        return;
    }
    assert(responses__arena.live > 0);
    if (--responses__arena.live == 0) responses__reset();
}

const char *loadtest_json_string(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

const char *loadtest_json_error_code(const cJSON *root)
{
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
    const char *code = cJSON_IsObject(error) ? loadtest_json_string(error, "code") : NULL;
    return code ? code : "";
}

int loadtest_json_copy(const cJSON *obj, const char *key, char *out, size_t out_size)
{
    const char *s = loadtest_json_string(obj, key);
    size_t len = s ? strlen(s) : 0;
    if (len == 0 || len >= out_size) return -1;
    memcpy(out, s, len + 1);
    return 0;
}

int loadtest_json_copy_id(const cJSON *obj, const char *key, char out[TIX_HOLD_ID_LEN + 1])
{
    _Static_assert((int)TIX_HOLD_ID_LEN == (int)IDS_HEX_LEN &&
                       (int)TIX_BOOKING_ID_LEN == (int)IDS_HEX_LEN,
                   "hold and booking ids are ids_random_hex ids");
    const char *s = loadtest_json_string(obj, key);
    if (!s || !ids_is_valid_hex(s, strlen(s))) return -1;
    memcpy(out, s, TIX_HOLD_ID_LEN + 1);
    return 0;
}
