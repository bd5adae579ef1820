/* mailer: RFC 5322 files (headers, CRLF, encoded subjects, atomic replacement), refusal of
 * header injection, and delivery over SMTP to an in-process fake server. */
#include "../test.h"

#include "notify/mailer.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* A malloc'd copy of a whole (small) file, NULL if it cannot be read. */
static char *read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *data = malloc(1024 * 1024);
    size_t len = data ? fread(data, 1, 1024 * 1024 - 1, f) : 0;
    fclose(f);
    if (data) data[len] = '\0';
    if (len_out) *len_out = len;
    return data;
}

/* How many entries dir holds (without . and ..); -1 if it cannot be read. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

/* Whether every LF in s is preceded by CR, and every CR followed by LF. */
static bool all_line_endings_are_crlf(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
        if (s[i] == '\r' && (i + 1 == len || s[i + 1] != '\n')) return false;
    }
    return true;
}

static mailer *file_mailer(const char *dir)
{
    char err[256] = "";
    mailer *m = mailer_create(dir, NULL, "Tix <tix@example.com>", err, sizeof(err));
    if (!m) test_fail(__FILE__, __LINE__, "mailer_create: %s", err);
    return m;
}

TEST(mailer_writes_an_rfc5322_file_with_crlf_line_endings)
{
    char dir[512], path[600];
    snprintf(dir, sizeof(dir), "%s/mail/out", test_tmpdir()); /* created, parents too */
    mailer *m = file_mailer(dir);
    ASSERT_NOT_NULL(m);
    mailer_message msg = {.message_id = "bk_42-confirmed",
                          .to = "ada@example.com",
                          .subject = "Your tickets",
                          .body = "Hello Ada,\nrow A seat 1.\r\nmixed\rendings\n\nbye"};
    char err[256] = "";
    ASSERT_EQ_INT(mailer_send(m, &msg, err, sizeof(err)), 0);
    mailer_destroy(m);

    struct stat st;
    ASSERT_EQ_INT(stat(dir, &st), 0);
    ASSERT_EQ_INT(st.st_mode & 0777, 0700);
    snprintf(path, sizeof(path), "%s/bk_42-confirmed.eml", dir);
    ASSERT_EQ_INT(stat(path, &st), 0);
    ASSERT_EQ_INT(st.st_mode & 0777, 0600);
    ASSERT_EQ_INT(count_entries(dir), 1); /* no temp file left behind */
    size_t len = 0;
    char *text = read_file(path, &len);
    ASSERT_NOT_NULL(text);
    bool crlf = all_line_endings_are_crlf(text, len);
    bool headers = strncmp(text, "From: Tix <tix@example.com>\r\n", 29) == 0 &&
                   strstr(text, "\r\nTo: ada@example.com\r\n") &&
                   strstr(text, "\r\nSubject: Your tickets\r\n") &&
                   strstr(text, "\r\nMessage-ID: <bk_42-confirmed@tix>\r\n") &&
                   strstr(text, "\r\nMIME-Version: 1.0\r\n") &&
                   strstr(text, "\r\nContent-Type: text/plain; charset=utf-8\r\n") &&
                   strstr(text, "\r\nContent-Transfer-Encoding: 8bit\r\n");
    const char *date = strstr(text, "\r\nDate: ");
    /* "Date: Sun, 29 Nov 2026 02:34:24 +0000" */
    bool date_ok = date && strlen(date) > 41 && date[11] == ',' && date[15] == ' ' &&
                   date[19] == ' ' && date[24] == ' ' && date[27] == ':' && date[30] == ':' &&
                   strncmp(date + 33, " +0000\r\n", 8) == 0;
    const char *body = strstr(text, "\r\n\r\n");
    bool body_ok = body && strcmp(body + 4, "Hello Ada,\r\nrow A seat 1.\r\nmixed\r\nendings\r\n"
                                            "\r\nbye\r\n") == 0;
    if (!crlf || !headers || !date_ok || !body_ok)
        test_fail(__FILE__, __LINE__, "crlf %d headers %d date %d body %d in:\n%s", crlf, headers,
                  date_ok, body_ok, text);
    free(text);
}

/* Decode the RFC 2047 B-words of a Subject header value into out. */
static void decode_subject(const char *value, char *out, size_t out_len)
{
    size_t used = 0;
    out[0] = '\0';
    for (const char *w = value; (w = strstr(w, "=?UTF-8?B?"));) {
        w += 10;
        const char *end = strstr(w, "?=");
        if (!end) break;
        size_t bin_len = 0;
        if (sodium_base642bin((unsigned char *)out + used, out_len - used - 1, w, (size_t)(end - w),
                              NULL, &bin_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
            return;
        used += bin_len;
        out[used] = '\0';
        w = end + 2;
    }
}

TEST(mailer_encodes_a_non_ascii_subject_as_rfc2047_words)
{
    mailer *m = file_mailer(test_tmpdir());
    ASSERT_NOT_NULL(m);
    const char *subject = "Vos billets pour « Orphée aux Enfers » — Opéra de Lyon, rangée É";
    mailer_message msg = {
        .message_id = "m1", .to = "a@example.com", .subject = subject, .body = "x"};
    char err[256] = "", path[600];
    ASSERT_EQ_INT(mailer_send(m, &msg, err, sizeof(err)), 0);
    mailer_destroy(m);
    snprintf(path, sizeof(path), "%s/m1.eml", test_tmpdir());
    char *text = read_file(path, NULL);
    ASSERT_NOT_NULL(text);
    const char *start = strstr(text, "\r\nSubject: ");
    const char *end = start ? strstr(start, "\r\nDate: ") : NULL;
    bool folded = true;
    for (const char *line = start; line && line < end; line = strstr(line + 2, "\r\n"))
        if (strstr(line + 2, "\r\n") - line - 2 > 76) folded = false;
    char decoded[512] = "";
    if (start && end) {
        char value[1024] = "";
        snprintf(value, sizeof(value), "%.*s", (int)(end - start), start);
        decode_subject(value, decoded, sizeof(decoded));
    }
    bool ascii = true;
    for (const char *c = text; *c && c < (end ? end : c); c++)
        if ((unsigned char)*c >= 0x80) ascii = false;
    free(text);
    ASSERT_TRUE(start && end);
    ASSERT_TRUE(folded);
    ASSERT_TRUE(ascii); /* the headers are 7-bit */
    ASSERT_EQ_STR(decoded, subject);
}

TEST(mailer_refuses_header_injection_and_bad_message_ids)
{
    mailer *m = file_mailer(test_tmpdir());
    ASSERT_NOT_NULL(m);
    const mailer_message bad[] = {
        {"ok-1", "a@example.com\r\nBcc: victim@example.com", "s", "b"},
        {"ok-2", "a@example.com\n", "s", "b"},
        {"ok-3", "a@example.com", "hi\r\nBcc: victim@example.com", "b"},
        {"ok-4", "a@example.com", "hi\nthere", "b"},
        {"ok-5", "a@example.com", "hi\rthere", "b"},
        {"bad\r\nid", "a@example.com", "s", "b"},
        {"../escape", "a@example.com", "s", "b"},
        {"dot.id", "a@example.com", "s", "b"},
        {"", "a@example.com", "s", "b"},
        {"ok-6", "a@example.com", "s", "\xff\xfe not utf-8"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        ASSERT_EQ_INT(mailer_send(m, &bad[i], err, sizeof(err)), -1);
        ASSERT_TRUE(err[0] != '\0');
    }
    mailer_destroy(m);
    ASSERT_EQ_INT(count_entries(test_tmpdir()), 0);
}

TEST(mailer_same_message_id_twice_leaves_one_file_with_the_latest_text)
{
    mailer *m = file_mailer(test_tmpdir());
    ASSERT_NOT_NULL(m);
    mailer_message msg = {"bk_7-expired", "a@example.com", "Hold expired", "first"};
    char err[256] = "", path[600];
    ASSERT_EQ_INT(mailer_send(m, &msg, err, sizeof(err)), 0);
    msg.body = "second";
    ASSERT_EQ_INT(mailer_send(m, &msg, err, sizeof(err)), 0);
    mailer_destroy(m);
    ASSERT_EQ_INT(count_entries(test_tmpdir()), 1);
    snprintf(path, sizeof(path), "%s/bk_7-expired.eml", test_tmpdir());
    char *text = read_file(path, NULL);
    ASSERT_NOT_NULL(text);
    bool second = strstr(text, "\r\n\r\nsecond\r\n") != NULL;
    free(text);
    ASSERT_TRUE(second);
}

TEST(mailer_create_refuses_a_bad_from_or_smtp_url)
{
    char err[256] = "";
    ASSERT_NULL(mailer_create(test_tmpdir(), NULL, "tix@example.com\r\nBcc: x", err, sizeof(err)));
    ASSERT_NULL(mailer_create(test_tmpdir(), "http://mail", "tix@example.com", err, sizeof(err)));
    ASSERT_NULL(mailer_create(NULL, NULL, "tix@example.com", err, sizeof(err)));
}

/* ---- SMTP ---- */

/* A one-connection fake SMTP server: accepts, speaks just enough SMTP, records the session. */
typedef struct fake_smtp {
    int listen_fd;
    unsigned short port;
    pthread_t thread;
    char mail_from[256], rcpt_to[256];
    char data[16 * 1024];
    bool got_quit;
} fake_smtp;

static void fake_smtp_say(int fd, const char *line)
{
    if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) return;
}

static void *fake_smtp_run(void *arg)
{
    fake_smtp *f = arg;
    int fd = accept(f->listen_fd, NULL, NULL); /* bounded by SO_RCVTIMEO */
    if (fd < 0) return NULL;
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    fake_smtp_say(fd, "220 fake ESMTP\r\n");
    char in[32 * 1024];
    size_t len = 0, data_len = 0;
    bool in_data = false;
    for (int reads = 0; reads < 200 && !f->got_quit; reads++) {
        ssize_t n = recv(fd, in + len, sizeof(in) - 1 - len, 0);
        if (n <= 0) break;
        len += (size_t)n;
        in[len] = '\0';
        char *line;
        while ((line = in) && strstr(in, "\r\n")) {
            char *eol = strstr(in, "\r\n");
            *eol = '\0';
            if (in_data) {
                if (strcmp(line, ".") == 0) {
                    in_data = false;
                    fake_smtp_say(fd, "250 queued\r\n");
                } else if (data_len + strlen(line) + 2 < sizeof(f->data)) {
                    data_len += (size_t)snprintf(f->data + data_len, sizeof(f->data) - data_len,
                                                 "%s\r\n", line);
                }
            } else if (strncasecmp(line, "EHLO", 4) == 0 || strncasecmp(line, "HELO", 4) == 0) {
                fake_smtp_say(fd, "250 fake\r\n");
            } else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
                snprintf(f->mail_from, sizeof(f->mail_from), "%.200s", line + 10);
                fake_smtp_say(fd, "250 ok\r\n");
            } else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
                snprintf(f->rcpt_to, sizeof(f->rcpt_to), "%.200s", line + 8);
                fake_smtp_say(fd, "250 ok\r\n");
            } else if (strcasecmp(line, "DATA") == 0) {
                in_data = true;
                fake_smtp_say(fd, "354 go ahead\r\n");
            } else if (strcasecmp(line, "QUIT") == 0) {
                f->got_quit = true;
                fake_smtp_say(fd, "221 bye\r\n");
            } else {
                fake_smtp_say(fd, "502 unknown\r\n");
            }
            size_t used = (size_t)(eol + 2 - in);
            memmove(in, in + used, len - used + 1);
            len -= used;
        }
    }
    close(fd);
    return NULL;
}

static int fake_smtp_start(fake_smtp *f)
{
    memset(f, 0, sizeof(*f));
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t addr_len = sizeof(addr);
    struct timeval tv = {3, 0};
    if (f->listen_fd < 0 || bind(f->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
        listen(f->listen_fd, 1) != 0 ||
        getsockname(f->listen_fd, (struct sockaddr *)&addr, &addr_len) != 0 ||
        setsockopt(f->listen_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
        return -1;
    f->port = ntohs(addr.sin_port);
    return pthread_create(&f->thread, NULL, fake_smtp_run, f) == 0 ? 0 : -1;
}

TEST(mailer_sends_over_smtp_with_envelope_and_message)
{
    static fake_smtp f;
    ASSERT_EQ_INT(fake_smtp_start(&f), 0);
    char url[64], err[256] = "";
    snprintf(url, sizeof(url), "smtp://127.0.0.1:%u", (unsigned)f.port);
    mailer *m = mailer_create(NULL, url, "Tix <tix@example.com>", err, sizeof(err));
    int rc = -1;
    if (m) {
        mailer_message msg = {"bk_1-confirmed", "Ada <ada@example.com>", "Your tickets",
                              "Hello\n.leading dot\nbye"};
        rc = mailer_send(m, &msg, err, sizeof(err));
    }
    mailer_destroy(m);
    pthread_join(f.thread, NULL);
    close(f.listen_fd);
    if (rc != 0) test_fail(__FILE__, __LINE__, "mailer: %s", err);
    ASSERT_EQ_STR(f.mail_from, "<tix@example.com>");
    ASSERT_EQ_STR(f.rcpt_to, "<ada@example.com>");
    ASSERT_CONTAINS(f.data, "Message-ID: <bk_1-confirmed@tix>\r\n");
    ASSERT_CONTAINS(f.data, "To: Ada <ada@example.com>\r\n");
    ASSERT_CONTAINS(f.data, "\r\n\r\nHello\r\n..leading dot\r\nbye\r\n"); /* dot-stuffed */
}

TEST(mailer_smtp_failure_is_reported_for_a_retry)
{
    fake_smtp f;
    ASSERT_EQ_INT(fake_smtp_start(&f), 0); /* to get a free port, then close it */
    shutdown(f.listen_fd, SHUT_RDWR);
    pthread_join(f.thread, NULL);
    close(f.listen_fd);
    char url[64], err[256] = "";
    snprintf(url, sizeof(url), "smtp://127.0.0.1:%u", (unsigned)f.port);
    mailer *m = mailer_create(NULL, url, "tix@example.com", err, sizeof(err));
    ASSERT_NOT_NULL(m);
    mailer_message msg = {"x1", "a@example.com", "s", "b"};
    int rc = mailer_send(m, &msg, err, sizeof(err));
    mailer_destroy(m);
    ASSERT_EQ_INT(rc, -1);
    ASSERT_CONTAINS(err, "SMTP");
}
