/* access_log: the combined log format with the request id and duration; quoted fields
 * escaped; lines written in order by the log's thread. */
#include "../test.h"

#include "http/access_log.h"

#include <stdlib.h>

TEST(access_log_formats_a_combined_line_with_id_and_duration)
{
    char line[ACCESS_LOG_LINE_LEN_MAX];
    access_log_entry e = {.client = "10.0.0.7",
                          .time_ms = 1796393685123, /* 2026-12-04T14:14:45.123Z */
                          .method = "POST",
                          .url = "/reserve",
                          .query = NULL,
                          .version = "HTTP/1.1",
                          .status = 409,
                          .bytes = 131,
                          .referer = NULL,
                          .user_agent = "wrk \"x\"\x01",
                          .request_id = "r-1",
                          .duration_us = 1234567};
    size_t len = access_log_format(&e, line);
    line[len] = '\0';
    ASSERT_EQ_STR(line, "10.0.0.7 - - [04/Dec/2026:14:14:45 +0000] \"POST /reserve HTTP/1.1\" 409 "
                        "131 \"-\" \"wrk \\x22x\\x22\\x01\" rid=r-1 dur=1.234567\n");
    e.query = "status=held";
    e.url = "/events/e/seats";
    len = access_log_format(&e, line);
    line[len] = '\0';
    ASSERT_CONTAINS(line, "\"POST /events/e/seats?status=held HTTP/1.1\"");
}

TEST(access_log_cuts_a_huge_line_and_keeps_its_newline)
{
    char *agent = malloc(3 * ACCESS_LOG_LINE_LEN_MAX);
    ASSERT_NOT_NULL(agent);
    memset(agent, 'a', 3 * ACCESS_LOG_LINE_LEN_MAX - 1);
    agent[3 * ACCESS_LOG_LINE_LEN_MAX - 1] = '\0';
    char line[ACCESS_LOG_LINE_LEN_MAX];
    access_log_entry e = {.method = "GET", .url = "/", .status = 200, .user_agent = agent};
    size_t len = access_log_format(&e, line);
    free(agent);
    ASSERT_EQ_INT(len, ACCESS_LOG_LINE_LEN_MAX);
    ASSERT_EQ_INT(line[len - 1], '\n');
}

TEST(access_log_writes_every_line_in_order_to_its_file)
{
    char path[256], err[256];
    snprintf(path, sizeof(path), "%s/access.log", test_tmpdir());
    access_log *log = access_log_open(path, err, sizeof(err));
    ASSERT_NOT_NULL(log);
    for (unsigned i = 0; i < 1000; i++) {
        char rid[16];
        snprintf(rid, sizeof(rid), "n%u", i);
        access_log_entry e = {.method = "GET", .url = "/", .status = 200, .request_id = rid};
        ASSERT_EQ_INT(access_log_write(log, &e), 0);
    }
    access_log_close(log); /* writes out what is queued */
    FILE *f = fopen(path, "r");
    ASSERT_NOT_NULL(f);
    char line[ACCESS_LOG_LINE_LEN_MAX + 1];
    unsigned n = 0;
    bool in_order = true;
    while (fgets(line, sizeof(line), f)) {
        char want[32];
        snprintf(want, sizeof(want), " rid=n%u ", n++);
        in_order = in_order && strstr(line, want);
    }
    fclose(f);
    ASSERT_EQ_INT(n, 1000);
    ASSERT_TRUE(in_order);
    ASSERT_NULL(access_log_open("/nonexistent-dir/x/access.log", err, sizeof(err)));
    ASSERT_CONTAINS(err, "cannot open /nonexistent-dir/x/access.log");
}
