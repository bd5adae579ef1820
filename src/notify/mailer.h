/* mailer: notification emails.
 *
 * Default (embedded): each message is written as an RFC 5322 file DIR/<message_id>.eml
 * (created 0600, written to a temp name, fsynced, then renamed, so a reader never sees half
 * a message and a retry of the same message_id replaces it rather than adding a second).
 * With an SMTP URL (smtp://host:port, libcurl): sent over SMTP; at least once.
 *
 * Thread-safe. */
#ifndef TIX_MAILER_H
#define TIX_MAILER_H

#include <stddef.h>

typedef struct mailer mailer;

typedef struct mailer_message {
    const char *message_id; /* unique and stable per notification: [A-Za-z0-9_-]+ */
    const char *to;         /* one address */
    const char *subject;    /* UTF-8; encoded as RFC 2047 when not ASCII */
    const char *body;       /* UTF-8 plain text, lines separated by \n */
} mailer_message;

/* mail_dir is used when smtp_url is NULL or empty (created 0700 if missing). from is the
 * From address. Returns NULL with a reason in err. */
mailer *mailer_create(const char *mail_dir, const char *smtp_url, const char *from, char *err,
                      size_t err_len);
void mailer_destroy(mailer *m);

/* Deliver one message. Returns 0, or -1 with a reason in err (worth retrying). Rejects (-1)
 * header values holding CR or LF (header injection). */
int mailer_send(mailer *m, const mailer_message *msg, char *err, size_t err_len);

#endif
