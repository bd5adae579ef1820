/* log: text and JSON lines, fields from the call or the thread, escaping, levels. */
#include "../test.h"

#include "util/log.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* Run fn with stderr sent to a file; return what was written (the caller frees it). */
static char *test_capture_stderr(void (*fn)(void))
{
    char path[256];
    snprintf(path, sizeof(path), "%s/stderr", test_tmpdir());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    int saved = dup(STDERR_FILENO);
    if (fd < 0 || saved < 0) return NULL;
    dup2(fd, STDERR_FILENO);
    fn();
    dup2(saved, STDERR_FILENO);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)len + 1);
    if (text && pread(fd, text, (size_t)len, 0) != len) text[0] = '\0';
    close(fd);
    return text;
}

static void test_write_json_lines(void)
{
    log_set_level(LOG_LEVEL_INFO);
    log_set_format(LOG_FORMAT_JSON);
    log_fields thread = {.request_id = "rid-1"};
    log_fields_set(&thread);
    log_info("a \"quoted\"\nline\x01 with \xff bytes");
    log_fields_set(NULL);
    log_fields f = {.request_id = "rid-2", .event_id = "ev", .hold_id = "h", .booking_id = ""};
    log_write_fields(LOG_LEVEL_WARN, &f, "held %d", 3);
    log_debug("not at info level");
    log_set_format(LOG_FORMAT_TEXT);
    log_write_fields(LOG_LEVEL_ERROR, &f, "as text");
    log_set_level(LOG_LEVEL_WARN); /* as the runner has it */
}

TEST(log_json_lines_carry_level_message_and_fields_escaped)
{
    char *text = test_capture_stderr(test_write_json_lines);
    ASSERT_NOT_NULL(text);
    ASSERT_CONTAINS(text, "\"level\":\"info\"");
    ASSERT_CONTAINS(text, "\"message\":\"a \\\"quoted\\\"\\nline\\u0001 with ");
    ASSERT_CONTAINS(text, "\"request_id\":\"rid-1\"}\n");
    ASSERT_CONTAINS(text, "\"level\":\"warn\",\"pid\":");
    ASSERT_CONTAINS(text, "\"message\":\"held 3\",\"request_id\":\"rid-2\",\"event_id\":\"ev\","
                          "\"hold_id\":\"h\"}\n");
    ASSERT_TRUE(strstr(text, "not at info level") == NULL);
    ASSERT_TRUE(strstr(text, "booking_id") == NULL); /* empty fields are left out */
    ASSERT_CONTAINS(text, " ERROR as text request_id=rid-2 event_id=ev hold_id=h\n");
    ASSERT_TRUE(strstr(text, "\xff") == NULL); /* JSON lines stay UTF-8 */
    free(text);
}

static void test_write_long_json(void)
{
    char big[LOG_LINE_LEN_MAX * 2];
    memset(big, '"', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    log_set_format(LOG_FORMAT_JSON);
    log_fields f = {.request_id = "r"};
    log_write_fields(LOG_LEVEL_ERROR, &f, "%s", big);
    log_set_format(LOG_FORMAT_TEXT);
}

TEST(log_a_line_too_long_is_cut_and_still_one_closed_json_object)
{
    char *text = test_capture_stderr(test_write_long_json);
    ASSERT_NOT_NULL(text);
    size_t len = strlen(text);
    ASSERT_GT(len, 100);
    ASSERT_LE(len, LOG_LINE_LEN_MAX);
    ASSERT_EQ_INT(text[len - 1], '\n');
    ASSERT_EQ_INT(text[len - 2], '}');
    ASSERT_CONTAINS(text, "\",\"request_id\":\"r\"}\n"); /* the fields survive the cut */
    ASSERT_TRUE(strchr(text, '\n') == text + len - 1);
    /* the escapes were not cut in half: every quote inside is preceded by a backslash */
    const char *msg = strstr(text, "\"message\":\"") + 11;
    for (const char *p = msg; *p && p < text + len - 3; p += 2) {
        if (*p == '"') break; /* the closing quote of the message */
        ASSERT_EQ_INT(p[0], '\\');
        ASSERT_EQ_INT(p[1], '"');
    }
    free(text);
}

TEST(log_levels_and_formats_parse_by_name)
{
    log_level level;
    log_format format;
    ASSERT_EQ_INT(log_parse_level("debug", &level), 0);
    ASSERT_EQ_INT(level, LOG_LEVEL_DEBUG);
    ASSERT_EQ_INT(log_parse_level("error", &level), 0);
    ASSERT_EQ_INT(level, LOG_LEVEL_ERROR);
    ASSERT_EQ_INT(log_parse_level("INFO", &level), -1);
    ASSERT_EQ_INT(log_parse_format("json", &format), 0);
    ASSERT_EQ_INT(format, LOG_FORMAT_JSON);
    ASSERT_EQ_INT(log_parse_format("xml", &format), -1);
    log_set_level(LOG_LEVEL_WARN);
    ASSERT_TRUE(log_enabled(LOG_LEVEL_WARN));
    ASSERT_TRUE(log_enabled(LOG_LEVEL_ERROR));
    ASSERT_FALSE(log_enabled(LOG_LEVEL_INFO));
}
