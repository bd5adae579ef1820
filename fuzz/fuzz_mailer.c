/* fuzz_mailer: notification emails built from untrusted text (the buyer's email address, an
 * event's name in the subject, the body), written by the mailer in its file mode.
 *
 * Input: the To address, the subject and the body, separated by NUL bytes (each is a C
 * string; a missing part is empty). The message id is fixed, so each run replaces one file
 * in a temp dir under $TMPDIR.
 *
 * Checked:
 *   - mailer_send accepts exactly the messages its contract allows (reference written here:
 *     To 1..320 bytes without control characters and with an '@'; a subject of at most 2000
 *     bytes of UTF-8 without CR or LF; a body of at most 1 MiB of UTF-8);
 *   - what it writes has no header injection: the header section is exactly From, To,
 *     Subject (folded lines start with a space), Date, Message-ID, MIME-Version, Content-Type,
 *     Content-Transfer-Encoding, each line at most 998 bytes; every line of the file ends in
 *     CRLF and no CR or LF stands alone;
 *   - the subject reads back as it was given (as is, or decoded from its RFC 2047 words);
 *   - the body reads back as given, with every line ending (LF, CRLF, lone CR) made CRLF. */
#include "check.h"

#include "notify/mailer.h"
#include "util/text.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static mailer *fx_mailer;
static char fx_dir[4096];
static char fx_path[4200];

static bool fx_header_safe(const char *s, size_t len_max)
{
    size_t len = strlen(s);
    if (len == 0 || len > len_max) return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    return true;
}

static bool fx_valid(const char *to, const char *subject, const char *body)
{
    return fx_header_safe(to, 320) && strchr(to, '@') && !strpbrk(subject, "\r\n") &&
           strlen(subject) <= 2000 && text_is_utf8(subject, strlen(subject)) &&
           strlen(body) <= 1024 * 1024 && text_is_utf8(body, strlen(body));
}

/* The file as a NUL-terminated buffer (the message holds no NUL: its parts are C strings). */
static char *fx_read_message(size_t *len_out)
{
    FILE *fp = fopen(fx_path, "rb");
    FX_CHECK(fp != NULL, "mailer_send returned 0 but wrote no %s", fx_path);
    char *data = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[65536];
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            data = realloc(data, cap);
            FX_CHECK(data != NULL, "out of memory");
        }
        memcpy(data + len, chunk, n);
        len += n;
    }
    fclose(fp);
    if (!data) data = calloc(1, 1);
    data[len] = '\0';
    *len_out = len;
    return data;
}

/* The subject as the header carries it, decoded: its lines joined, encoded-words decoded. */
static char *fx_decode_subject(const char *value, size_t len)
{
    char *out = malloc(len + 1);
    FX_CHECK(out != NULL, "out of memory");
    size_t n = 0;
    bool encoded = len >= 10 && strncmp(value, "=?UTF-8?B?", 10) == 0;
    if (!encoded) {
        FX_CHECK(!memchr(value, '\r', len), "a plain subject folded over lines");
        memcpy(out, value, len);
        out[len] = '\0';
        return out;
    }
    const char *p = value, *end = value + len;
    while (p < end) {
        FX_CHECK(end - p >= 12 && strncmp(p, "=?UTF-8?B?", 10) == 0, "not an encoded-word: %.*s",
                 (int)(end - p), p);
        const char *close = strstr(p + 10, "?=");
        FX_CHECK(close && close < end, "an encoded-word without its end");
        size_t bin_len = 0;
        int rc =
            sodium_base642bin((unsigned char *)out + n, len - n, p + 10, (size_t)(close - p - 10),
                              NULL, &bin_len, NULL, sodium_base64_VARIANT_ORIGINAL);
        FX_CHECK(rc == 0, "an encoded-word that is not base64");
        n += bin_len;
        p = close + 2;
        if (p < end) {
            FX_CHECK(end - p > 3 && strncmp(p, "\r\n ", 3) == 0, "encoded-words not folded");
            p += 3;
        }
    }
    out[n] = '\0';
    return out;
}

/* The body with every line ending made CRLF, ending with one unless empty. */
static char *fx_expected_body(const char *body)
{
    size_t len = strlen(body);
    char *out = malloc(2 * len + 3);
    FX_CHECK(out != NULL, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (body[i] == '\r' || body[i] == '\n') {
            if (body[i] == '\r' && body[i + 1] == '\n') i++;
            out[n++] = '\r', out[n++] = '\n';
        } else {
            out[n++] = body[i];
        }
    }
    if (n > 0 && !(n >= 2 && out[n - 2] == '\r' && out[n - 1] == '\n'))
        out[n++] = '\r', out[n++] = '\n';
    out[n] = '\0';
    return out;
}

static void fx_check_message(const char *to, const char *subject, const char *body)
{
    static const char *const names[] = {
        "From",       "To",           "Subject",      "Date",
        "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"};
    size_t len;
    char *msg = fx_read_message(&len);
    for (size_t i = 0; i < len; i++) {
        if (msg[i] == '\r') FX_CHECK(msg[i + 1] == '\n', "a CR alone at byte %zu", i);
        if (msg[i] == '\n') FX_CHECK(i > 0 && msg[i - 1] == '\r', "an LF alone at byte %zu", i);
    }
    char *split = strstr(msg, "\r\n\r\n");
    FX_CHECK(split != NULL, "no end of the header section");
    size_t header = 0;
    char *line = msg;
    while (line < split + 2) {
        char *eol = strstr(line, "\r\n");
        FX_CHECK(eol - line <= 998, "a header line of %zu bytes", (size_t)(eol - line));
        if (line[0] == ' ') { /* a folded line of the subject */
            FX_CHECK(header == 3, "a continuation line after header %zu", header);
        } else {
            FX_CHECK(header < 8, "an extra header line: %.*s", (int)(eol - line), line);
            size_t name_len = strlen(names[header]);
            FX_CHECK(strncmp(line, names[header], name_len) == 0 && line[name_len] == ':' &&
                         line[name_len + 1] == ' ',
                     "header %zu is not %s: %.*s", header, names[header], (int)(eol - line), line);
            header++;
        }
        line = eol + 2;
    }
    FX_CHECK(header == 8, "%zu header lines", header);
    char *to_line = strstr(msg, "\r\nTo: ") + 6;
    FX_CHECK(strncmp(to_line, to, strlen(to)) == 0 && strncmp(to_line + strlen(to), "\r\n", 2) == 0,
             "the To header is not the address");
    char *subject_start = strstr(msg, "\r\nSubject: ") + 11;
    char *subject_end = strstr(subject_start, "\r\nDate: ");
    char *decoded = fx_decode_subject(subject_start, (size_t)(subject_end - subject_start));
    FX_CHECK(strcmp(decoded, subject) == 0, "the subject reads back as '%s'", decoded);
    free(decoded);
    char *want = fx_expected_body(body);
    FX_CHECK(strcmp(split + 4, want) == 0, "the body does not read back");
    free(want);
    free(msg);
}

static void fx_teardown(void)
{
    mailer_destroy(fx_mailer);
    unlink(fx_path);
    rmdir(fx_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(fx_dir, sizeof(fx_dir), "%s/tix-fuzz-mail-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    FX_CHECK(mkdtemp(fx_dir) != NULL, "mkdtemp");
    char err[256] = "";
    fx_mailer = mailer_create(fx_dir, NULL, "tix <tix@example.com>", err, sizeof(err));
    FX_CHECK(fx_mailer != NULL, "mailer_create: %s", err);
    snprintf(fx_path, sizeof(fx_path), "%s/fuzz-msg.eml", fx_dir);
    atexit(fx_teardown);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 3); /* the three parts, each NUL-terminated */
    if (!text) return 0;
    memcpy(text, data, size);
    memset(text + size, 0, 3);
    const char *part[3] = {"", "", ""}; /* to, subject, body */
    for (size_t k = 0, at = 0; k < 3 && at <= size; k++) {
        part[k] = text + at;
        at += strlen(text + at) + 1;
    }
    const char *to = part[0], *subject = part[1], *body = part[2];
    mailer_message msg = {"fuzz-msg", to, subject, body};
    char err[256] = "";
    unlink(fx_path);
    int rc = mailer_send(fx_mailer, &msg, err, sizeof(err));
    bool valid = fx_valid(to, subject, body);
    FX_CHECK((rc == 0) == valid, "mailer_send %d (%s) for a message the contract calls %s", rc, err,
             valid ? "valid" : "invalid");
    if (rc == 0) fx_check_message(to, subject, body);
    free(text);
    return 0;
}
