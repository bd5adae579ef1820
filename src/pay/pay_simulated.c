/* pay_simulated: the "simulated" payment provider; see payment.h for the test tokens.
 *
 * It behaves like a real provider as far as the caller can tell: every call waits latency_ms,
 * and the result of a call is remembered under its idempotency key so a retry is answered
 * with the first settled result instead of being charged again. A settled result is PAY_OK or
 * PAY_DECLINED; a PAY_TRANSIENT attempt is counted under the key and not settled, which is
 * what lets tok_processingError succeed on the third attempt.
 *
 * Memory is bounded: the table holds at most PAY_SIM_KEYS_MAX keys and forgets the oldest
 * (insertion order) beyond that. A key forgotten, or a process restarted, would charge again:
 * the simulator is for tests and demos, and 100,000 keys is far more than a test retries over.
 *
 * Payment ids are derived from the key (BLAKE2b, 12 bytes as hex), so the same key gives the
 * same id even across restarts. A key reused with different parameters (another operation,
 * amount, token or payment id) is declined, as Stripe does, because it is a caller's bug.
 *
 * Thread-safe: one mutex guards the table; the simulated latency is slept outside it. */
#include "pay/pay_provider.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    PAY_SIM_KEYS_MAX = 100000,
    PAY_SIM_BUCKET_COUNT = 1 << 17, /* a power of two above PAY_SIM_KEYS_MAX */
    PAY_SIM_TRANSIENT_ATTEMPTS = 2, /* tok_processingError fails this many times per key */
    PAY_SIM_ID_BYTES = 12,          /* 24 hex characters */
    PAY_SIM_FINGERPRINT_BYTES = 16,
};

typedef enum pay_sim_op { PAY_SIM_CHARGE = 1, PAY_SIM_REFUND = 2 } pay_sim_op;

/* What the simulator remembers about one idempotency key. */
typedef struct pay_sim_entry {
    struct pay_sim_entry *next_in_bucket;
    struct pay_sim_entry *next_newer; /* insertion order, oldest first */
    uint64_t hash;
    unsigned char fingerprint[PAY_SIM_FINGERPRINT_BYTES]; /* of the first call's parameters */
    bool settled;        /* outcome is final and replayed to every retry */
    pay_outcome outcome; /* when settled: PAY_OK or PAY_DECLINED */
    const char *message; /* when settled and declined: a static string */
    unsigned attempt_count;
    size_t key_len;
    char key[];
} pay_sim_entry;

struct pay_sim {
    pthread_mutex_t mutex;
    unsigned latency_ms;
    unsigned char hash_key[crypto_shorthash_KEYBYTES]; /* random: keys cannot be made to collide */
    pay_sim_entry **buckets;                           /* PAY_SIM_BUCKET_COUNT chains */
    pay_sim_entry *oldest, *newest;
    size_t entry_count;
    atomic_uint charge_count; /* distinct successful charges */
};

pay_sim *pay_sim_create(unsigned latency_ms, char *err, size_t err_len)
{
    if (sodium_init() < 0) return snprintf(err, err_len, "payment: libsodium failed"), NULL;
    pay_sim *s = calloc(1, sizeof(*s));
    if (!s) goto fail_alloc;
    s->buckets = calloc(PAY_SIM_BUCKET_COUNT, sizeof(*s->buckets));
    if (!s->buckets) goto fail_buckets;
    if (pthread_mutex_init(&s->mutex, NULL) != 0) goto fail_mutex;
    s->latency_ms = latency_ms;
    crypto_shorthash_keygen(s->hash_key);
    atomic_init(&s->charge_count, 0);
    return s;
fail_mutex:
    free(s->buckets);
fail_buckets:
    free(s);
fail_alloc:
    snprintf(err, err_len, "payment: out of memory");
    return NULL;
}

void pay_sim_destroy(pay_sim *s)
{
    if (!s) return;
    pay_sim_entry *e = s->oldest;
    while (e) {
        pay_sim_entry *next = e->next_newer;
        free(e);
        e = next;
    }
    pthread_mutex_destroy(&s->mutex);
    free(s->buckets);
    free(s);
}

unsigned pay_sim_count_charges(const pay_sim *s)
{
    return atomic_load(&((pay_sim *)s)->charge_count);
}

/* Sleep the configured latency, resuming after signals. */
static void pay_sim__sleep(unsigned latency_ms)
{
    struct timespec left = {.tv_sec = latency_ms / 1000,
                            .tv_nsec = (long)(latency_ms % 1000) * 1000000L};
    while (nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}

static uint64_t pay_sim__hash(const pay_sim *s, const char *key, size_t key_len)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)key, key_len, s->hash_key);
    uint64_t h;
    memcpy(&h, out, sizeof(h));
    return h;
}

static pay_sim_entry **pay_sim__bucket(pay_sim *s, uint64_t hash)
{
    return &s->buckets[hash & (PAY_SIM_BUCKET_COUNT - 1)];
}

static pay_sim_entry *pay_sim__find(pay_sim *s, const char *key, size_t key_len, uint64_t hash)
{
    for (pay_sim_entry *e = *pay_sim__bucket(s, hash); e; e = e->next_in_bucket)
        if (e->hash == hash && e->key_len == key_len && memcmp(e->key, key, key_len) == 0) return e;
    return NULL;
}

/* Forget the oldest key. The caller holds the mutex and the table is not empty. */
static void pay_sim__evict_oldest(pay_sim *s)
{
    pay_sim_entry *victim = s->oldest;
    assert(victim && s->entry_count > 0);
    pay_sim_entry **link = pay_sim__bucket(s, victim->hash);
    while (*link != victim) {
        assert(*link); /* every entry is in its bucket */
        link = &(*link)->next_in_bucket;
    }
    *link = victim->next_in_bucket;
    s->oldest = victim->next_newer;
    if (!s->oldest) s->newest = NULL;
    s->entry_count--;
    free(victim);
}

/* Add a key, forgetting the oldest one if the table is full. NULL when out of memory. */
static pay_sim_entry *pay_sim__insert(pay_sim *s, const char *key, size_t key_len, uint64_t hash,
                                      const unsigned char *fingerprint)
{
    pay_sim_entry *e = calloc(1, sizeof(*e) + key_len + 1);
    if (!e) return NULL;
    if (s->entry_count >= PAY_SIM_KEYS_MAX) pay_sim__evict_oldest(s);
    e->hash = hash;
    memcpy(e->fingerprint, fingerprint, PAY_SIM_FINGERPRINT_BYTES);
    e->key_len = key_len;
    memcpy(e->key, key, key_len);
    pay_sim_entry **bucket = pay_sim__bucket(s, hash);
    e->next_in_bucket = *bucket;
    *bucket = e;
    if (s->newest)
        s->newest->next_newer = e;
    else
        s->oldest = e;
    s->newest = e;
    s->entry_count++;
    assert(s->entry_count <= PAY_SIM_KEYS_MAX);
    return e;
}

/* A digest of a call's parameters, to notice a key reused for a different call. */
static void pay_sim__fingerprint(pay_sim_op op, int64_t amount_cents, const char *value,
                                 unsigned char *out)
{
    crypto_generichash_state st;
    unsigned char op_byte = (unsigned char)op;
    crypto_generichash_init(&st, NULL, 0, PAY_SIM_FINGERPRINT_BYTES);
    crypto_generichash_update(&st, &op_byte, 1);
    crypto_generichash_update(&st, (const unsigned char *)&amount_cents, sizeof(amount_cents));
    crypto_generichash_update(&st, (const unsigned char *)value, strlen(value));
    crypto_generichash_final(&st, out, PAY_SIM_FINGERPRINT_BYTES);
}

/* "sim_ch_<24 hex>" or "sim_re_<24 hex>", a function of the key alone. */
static void pay_sim__payment_id(pay_sim_op op, const char *key, size_t key_len, char *out)
{
    unsigned char digest[PAY_SIM_ID_BYTES];
    char hex[2 * PAY_SIM_ID_BYTES + 1];
    crypto_generichash(digest, sizeof(digest), (const unsigned char *)key, key_len, NULL, 0);
    sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
    snprintf(out, PAY_ID_LEN_MAX, "%s%s", op == PAY_SIM_CHARGE ? "sim_ch_" : "sim_re_", hex);
}

/* Decide one unsettled attempt of a call: the test tokens' rules. Sets *message for a
 * decline or a transient failure. */
static pay_outcome pay_sim__decide(pay_sim_op op, const char *value, unsigned attempt_count,
                                   const char **message)
{
    if (op == PAY_SIM_REFUND) {
        if (strncmp(value, "sim_ch_", 7) == 0) return PAY_OK;
        *message = "no such payment";
        return PAY_DECLINED;
    }
    if (strcmp(value, "tok_visa") == 0) return PAY_OK;
    if (strcmp(value, "tok_chargeDeclined") == 0) {
        *message = "card declined";
        return PAY_DECLINED;
    }
    if (strcmp(value, "tok_processingError") == 0) {
        if (attempt_count > PAY_SIM_TRANSIENT_ATTEMPTS) return PAY_OK;
        *message = "processing error, try again";
        return PAY_TRANSIENT;
    }
    *message = "invalid token";
    return PAY_DECLINED;
}

static void pay_sim__call(pay_sim *s, pay_sim_op op, const char *key, const char *value,
                          int64_t amount_cents, pay_result *out)
{
    assert(s && key && value && out);
    if (s->latency_ms) pay_sim__sleep(s->latency_ms);
    size_t key_len = strlen(key);
    uint64_t hash = pay_sim__hash(s, key, key_len);
    unsigned char fingerprint[PAY_SIM_FINGERPRINT_BYTES];
    pay_sim__fingerprint(op, amount_cents, value, fingerprint);

    pthread_mutex_lock(&s->mutex);
    pay_sim_entry *e = pay_sim__find(s, key, key_len, hash);
    if (!e) e = pay_sim__insert(s, key, key_len, hash, fingerprint);
    if (!e) {
        pthread_mutex_unlock(&s->mutex);
        pay_result_set(out, PAY_TRANSIENT, "simulated provider out of memory");
        return;
    }
    if (memcmp(e->fingerprint, fingerprint, sizeof(fingerprint)) != 0) {
        pthread_mutex_unlock(&s->mutex);
        pay_result_set(out, PAY_DECLINED, "idempotency key reused with different parameters");
        return;
    }
    pay_outcome outcome;
    const char *message = "";
    unsigned attempt_count = e->attempt_count;
    if (e->settled) {
        outcome = e->outcome;
        message = e->message;
    } else {
        attempt_count = ++e->attempt_count;
        outcome = pay_sim__decide(op, value, attempt_count, &message);
        if (outcome != PAY_TRANSIENT) {
            e->settled = true;
            e->outcome = outcome;
            e->message = message;
            if (outcome == PAY_OK && op == PAY_SIM_CHARGE) atomic_fetch_add(&s->charge_count, 1);
        }
    }
    pthread_mutex_unlock(&s->mutex);

    if (outcome == PAY_OK) {
        pay_result_set(out, PAY_OK, "%s", "");
        pay_sim__payment_id(op, key, key_len, out->payment_id);
    } else if (outcome == PAY_TRANSIENT) {
        pay_result_set(out, outcome, "%s (attempt %u)", message, attempt_count);
        out->no_effect = true; /* counted under the key, not settled: nothing charged */
    } else {
        pay_result_set(out, outcome, "%s", message);
    }
}

void pay_sim_charge(pay_sim *s, const char *key, const char *token, int64_t amount_cents,
                    pay_result *out)
{
    pay_sim__call(s, PAY_SIM_CHARGE, key, token, amount_cents, out);
}

void pay_sim_refund(pay_sim *s, const char *key, const char *payment_id, int64_t amount_cents,
                    pay_result *out)
{
    pay_sim__call(s, PAY_SIM_REFUND, key, payment_id, amount_cents, out);
}
