/* mailer: notification emails as RFC 5322 files or over SMTP; see mailer.h.
 *
 * A message is built whole in memory first (headers, then the body with every line ending
 * turned into CRLF), then either written to DIR/<message_id>.eml or handed to libcurl's SMTP
 * client. The file path is crash-safe: the message goes to a hidden temp file (".<id>.<rand>
 * .tmp", created 0600 with O_EXCL), is fsynced, renamed over the final name, and the directory
 * is fsynced; so after a crash either the old file, the new one, or nothing is there, and a
 * retry of one message_id replaces its file instead of adding a second. Concurrent sends use
 * distinct temp names, and rename is atomic, so the mailer needs no lock.
 *
 * Every header value is checked before anything is built: CR or LF in to or subject (header
 * injection), a message_id that is not a slug (it becomes a file name and a Message-ID), a
 * subject or body that is not UTF-8 (the Content-Type promises it). Sizes are capped. */
#include "notify/mailer.h"

#include "util/buf.h"
#include "util/ids.h"
#include "util/text.h"

#include <assert.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum {
    MAILER_MESSAGE_ID_LEN_MAX = 200, /* ".<id>.<32 hex>.tmp" stays within NAME_MAX */
    MAILER_ADDRESS_LEN_MAX = 320,
    MAILER_SUBJECT_LEN_MAX = 2000,
    MAILER_SUBJECT_PLAIN_LEN_MAX = 900, /* longer subjects are folded as encoded-words */
    MAILER_ENCODED_CHUNK_LEN_MAX = 39,  /* bytes per encoded-word: lines stay under 76 */
    MAILER_BODY_LEN_MAX = 1024 * 1024,
    MAILER_MESSAGE_LEN_MAX = 2 * MAILER_BODY_LEN_MAX + 16 * 1024, /* CRLF may double a body */
    MAILER_SMTP_TIMEOUT_MS = 30000,
    MAILER_SMTP_CONNECT_TIMEOUT_MS = 10000,
};

struct mailer {
    char *smtp_url;  /* NULL: file mode */
    char *from;      /* the From header as configured */
    char *from_addr; /* the bare address, for MAIL FROM */
    int dir_fd;      /* file mode: the mail directory, kept open for fsync */
};

static pthread_once_t mailer__curl_once = PTHREAD_ONCE_INIT;
static CURLcode mailer__curl_rc = CURLE_FAILED_INIT;

static void mailer__curl_init(void)
{
    mailer__curl_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Whether s is 1..len_max bytes with no control character (header-safe). */
static bool mailer__is_header_safe(const char *s, size_t len_max)
{
    if (!s) return false;
    size_t len = strnlen(s, len_max + 1);
    if (len == 0 || len > len_max) return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    return true;
}

/* The bare address of "Name <addr>" or "addr", malloc'd; NULL when out of memory. */
static char *mailer__bare_address(const char *address)
{
    const char *open = strrchr(address, '<');
    const char *close = open ? strchr(open, '>') : NULL;
    if (open && close) return strndup(open + 1, (size_t)(close - open - 1));
    return strdup(address);
}

/* mkdir -p path with mode 0700 for the parts it creates. Returns 0 or -1 with errno. */
static int mailer__make_dirs(const char *path)
{
    char partial[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(partial)) return errno = ENAMETOOLONG, -1;
    memcpy(partial, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (partial[i] != '/' && partial[i] != '\0') continue;
        char saved = partial[i];
        partial[i] = '\0';
        if (mkdir(partial, 0700) != 0 && errno != EEXIST) return -1;
        partial[i] = saved;
    }
    return 0;
}

mailer *mailer_create(const char *mail_dir, const char *smtp_url, const char *from, char *err,
                      size_t err_len)
{
    if (!mailer__is_header_safe(from, MAILER_ADDRESS_LEN_MAX))
        return snprintf(err, err_len, "mailer: invalid From address"), NULL;
    if (sodium_init() < 0) return snprintf(err, err_len, "mailer: libsodium failed"), NULL;
    mailer *m = calloc(1, sizeof(*m));
    if (!m) return snprintf(err, err_len, "mailer: out of memory"), NULL;
    m->dir_fd = -1;
    m->from = strdup(from);
    m->from_addr = mailer__bare_address(from);
    if (!m->from || !m->from_addr) goto fail_oom;
    if (smtp_url && smtp_url[0]) {
        pthread_once(&mailer__curl_once, mailer__curl_init);
        if (mailer__curl_rc != CURLE_OK) {
            snprintf(err, err_len, "mailer: libcurl failed to start");
            goto fail;
        }
        if ((strncasecmp(smtp_url, "smtp://", 7) != 0 &&
             strncasecmp(smtp_url, "smtps://", 8) != 0) ||
            !mailer__is_header_safe(smtp_url, 1024) || strchr(smtp_url, ' ')) {
            snprintf(err, err_len, "mailer: SMTP url must be smtp://host:port or smtps://...");
            goto fail;
        }
        if (!(m->smtp_url = strdup(smtp_url))) goto fail_oom;
        return m;
    }
    if (!mail_dir || !mail_dir[0]) {
        snprintf(err, err_len, "mailer: neither a mail directory nor an SMTP url");
        goto fail;
    }
    if (mailer__make_dirs(mail_dir) != 0 ||
        (m->dir_fd = open(mail_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        snprintf(err, err_len, "mailer: cannot use directory %s: %s", mail_dir, strerror(errno));
        goto fail;
    }
    return m;
fail_oom:
    snprintf(err, err_len, "mailer: out of memory");
fail:
    mailer_destroy(m);
    return NULL;
}

void mailer_destroy(mailer *m)
{
    if (!m) return;
    if (m->dir_fd >= 0) close(m->dir_fd);
    free(m->smtp_url);
    free(m->from);
    free(m->from_addr);
    free(m);
}

/* ---- building the message ---- */

/* "Sun, 29 Nov 2026 02:34:24 +0000": RFC 5322 date-time in UTC, independent of the locale. */
static void mailer__format_date(time_t t, char *out, size_t out_len)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, out_len, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday % 7],
             tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
}

/* The subject as it is: printable ASCII, short, and not looking like an encoded-word. */
static bool mailer__subject_is_plain(const char *subject, size_t len)
{
    if (len > MAILER_SUBJECT_PLAIN_LEN_MAX || strstr(subject, "=?")) return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)subject[i] < 0x20 || (unsigned char)subject[i] > 0x7e) return false;
    return true;
}

/* Append the subject, as RFC 2047 "=?UTF-8?B?...?=" words folded onto lines of their own
 * when it is not plain. A word never splits a UTF-8 character (subject is valid UTF-8). */
static void mailer__append_subject(buf *b, const char *subject)
{
    size_t len = strlen(subject);
    if (mailer__subject_is_plain(subject, len)) {
        buf_append(b, subject, len);
        return;
    }
    char base64[sodium_base64_ENCODED_LEN(MAILER_ENCODED_CHUNK_LEN_MAX,
                                          sodium_base64_VARIANT_ORIGINAL)];
    for (size_t i = 0; i < len;) {
        size_t n = len - i < MAILER_ENCODED_CHUNK_LEN_MAX ? len - i : MAILER_ENCODED_CHUNK_LEN_MAX;
        while (i + n < len && ((unsigned char)subject[i + n] & 0xc0) == 0x80)
            n--;
        assert(n > 0); /* a UTF-8 character is at most 4 bytes */
        sodium_bin2base64(base64, sizeof(base64), (const unsigned char *)subject + i, n,
                          sodium_base64_VARIANT_ORIGINAL);
        buf_appendf(b, "%s=?UTF-8?B?%s?=", i ? "\r\n " : "", base64);
        i += n;
    }
}

/* Append body with every line ending (\n, \r\n or a lone \r) made CRLF, ending with one. */
static void mailer__append_body(buf *b, const char *body)
{
    size_t run = 0, i = 0;
    for (; body[i]; i++) {
        if (body[i] != '\n' && body[i] != '\r') continue;
        buf_append(b, body + run, i - run);
        buf_append(b, "\r\n", 2);
        if (body[i] == '\r' && body[i + 1] == '\n') i++;
        run = i + 1;
    }
    buf_append(b, body + run, i - run);
    if (i > 0 && body[i - 1] != '\n' && body[i - 1] != '\r') buf_append(b, "\r\n", 2);
}

/* Check msg; returns 0 or -1 with a reason. */
static int mailer__check(const mailer_message *msg, char *err, size_t err_len)
{
    if (!msg || !msg->message_id || !msg->to || !msg->subject || !msg->body)
        return snprintf(err, err_len, "mailer: incomplete message"), -1;
    if (!text_is_slug(msg->message_id, strlen(msg->message_id), MAILER_MESSAGE_ID_LEN_MAX))
        return snprintf(err, err_len, "mailer: message_id must be 1..%d of [A-Za-z0-9_-]",
                        MAILER_MESSAGE_ID_LEN_MAX),
               -1;
    if (!mailer__is_header_safe(msg->to, MAILER_ADDRESS_LEN_MAX) || !strchr(msg->to, '@'))
        return snprintf(err, err_len, "mailer: invalid To address (control character?)"), -1;
    size_t subject_len = strlen(msg->subject);
    if (strpbrk(msg->subject, "\r\n"))
        return snprintf(err, err_len, "mailer: subject holds CR or LF"), -1;
    if (subject_len > MAILER_SUBJECT_LEN_MAX || !text_is_utf8(msg->subject, subject_len))
        return snprintf(err, err_len, "mailer: subject too long or not UTF-8"), -1;
    size_t body_len = strlen(msg->body);
    if (body_len > MAILER_BODY_LEN_MAX || !text_is_utf8(msg->body, body_len))
        return snprintf(err, err_len, "mailer: body too long or not UTF-8"), -1;
    return 0;
}

/* The whole RFC 5322 message into b. Returns 0 or -1 (out of memory). */
static int mailer__build(const mailer *m, const mailer_message *msg, buf *b)
{
    char date[64];
    mailer__format_date(time(NULL), date, sizeof(date));
    buf_appendf(b, "From: %s\r\nTo: %s\r\nSubject: ", m->from, msg->to);
    mailer__append_subject(b, msg->subject);
    buf_appendf(b,
                "\r\nDate: %s\r\nMessage-ID: <%s@tix>\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\n",
                date, msg->message_id);
    mailer__append_body(b, msg->body);
    return b->failed ? -1 : 0;
}

/* ---- file mode ---- */

static int mailer__write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int mailer__write_file(mailer *m, const char *message_id, const buf *message, char *err,
                              size_t err_len)
{
    char random_hex[IDS_HEX_LEN + 1];
    char tmp_name[NAME_MAX + 1], final_name[NAME_MAX + 1];
    ids_random_hex(random_hex);
    snprintf(tmp_name, sizeof(tmp_name), ".%s.%s.tmp", message_id, random_hex);
    snprintf(final_name, sizeof(final_name), "%s.eml", message_id);
    int fd =
        openat(m->dir_fd, tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(err, err_len, "mailer: cannot create %s: %s", tmp_name, strerror(errno));
        return -1;
    }
    const char *step = "write";
    if (mailer__write_all(fd, message->data, message->len) != 0) goto fail_fd;
    step = "fsync";
    if (fsync(fd) != 0) goto fail_fd;
    step = "close";
    int rc = close(fd);
    fd = -1;
    if (rc != 0) goto fail_fd;
    step = "rename";
    if (renameat(m->dir_fd, tmp_name, m->dir_fd, final_name) != 0) goto fail_fd;
    if (fsync(m->dir_fd) != 0) {
        /* The file is in place; only its durability across a crash is in doubt. */
        snprintf(err, err_len, "mailer: fsync of the mail directory: %s", strerror(errno));
        return -1;
    }
    return 0;
fail_fd:
    snprintf(err, err_len, "mailer: %s of %s: %s", step, final_name, strerror(errno));
    if (fd >= 0) close(fd);
    unlinkat(m->dir_fd, tmp_name, 0);
    return -1;
}

/* ---- SMTP mode ---- */

typedef struct mailer_reader {
    const char *data;
    size_t len, offset;
} mailer_reader;

static size_t mailer__on_read(char *out, size_t size, size_t count, void *userdata)
{
    mailer_reader *r = userdata;
    size_t n = size * count;
    if (n > r->len - r->offset) n = r->len - r->offset;
    memcpy(out, r->data + r->offset, n);
    r->offset += n;
    return n;
}

static int mailer__send_smtp(mailer *m, const mailer_message *msg, const buf *message, char *err,
                             size_t err_len)
{
    char from[MAILER_ADDRESS_LEN_MAX + 3], rcpt[MAILER_ADDRESS_LEN_MAX + 3];
    char curl_error[CURL_ERROR_SIZE] = "";
    char *to_addr = mailer__bare_address(msg->to);
    if (!to_addr) return snprintf(err, err_len, "mailer: out of memory"), -1;
    snprintf(from, sizeof(from), "<%s>", m->from_addr);
    snprintf(rcpt, sizeof(rcpt), "<%s>", to_addr);
    free(to_addr);
    mailer_reader reader = {message->data, message->len, 0};
    struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
    CURL *curl = rcpts ? curl_easy_init() : NULL;
    if (!curl) {
        curl_slist_free_all(rcpts);
        return snprintf(err, err_len, "mailer: cannot set up SMTP (out of memory?)"), -1;
    }
    CURLcode rc = CURLE_OK;
    if (curl_easy_setopt(curl, CURLOPT_URL, m->smtp_url) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps") != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)MAILER_SMTP_TIMEOUT_MS) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long)MAILER_SMTP_CONNECT_TIMEOUT_MS) !=
            CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_READFUNCTION, mailer__on_read) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_READDATA, &reader) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)message->len) != CURLE_OK ||
        curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error) != CURLE_OK)
        rc = CURLE_FAILED_INIT;
    if (rc == CURLE_OK) rc = curl_easy_perform(curl);
    curl_easy_cleanup(curl);
    curl_slist_free_all(rcpts);
    if (rc != CURLE_OK) {
        snprintf(err, err_len, "mailer: SMTP: %s",
                 curl_error[0] ? curl_error : curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

int mailer_send(mailer *m, const mailer_message *msg, char *err, size_t err_len)
{
    assert(m);
    if (mailer__check(msg, err, err_len) != 0) return -1;
    buf message;
    buf_init(&message, MAILER_MESSAGE_LEN_MAX);
    int rc = mailer__build(m, msg, &message);
    if (rc != 0)
        snprintf(err, err_len, "mailer: out of memory");
    else if (m->smtp_url)
        rc = mailer__send_smtp(m, msg, &message, err, err_len);
    else
        rc = mailer__write_file(m, msg->message_id, &message, err, err_len);
    buf_free(&message);
    return rc;
}
