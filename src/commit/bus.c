/* bus: the writer's side of the event bus: claiming deliveries with a lease, recording their
 * outcome (delivered, retried later with exponential backoff and jitter, or dead-lettered
 * after max_attempts), redriving dead letters, and adding webhook subscribers. */
#include "commit/internal.h"

#include <assert.h>
#include <sodium.h>

int commit__do_claim(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    commit_claim *claim = &cmd->claim;
    assert(claim->out && claim->max > 0);
    /* never an attempt past max_attempts, even when the last one was lost in a crash */
    if (store_tx_deliveries_exhaust(c->st, now_ms, c->config.max_attempts) != 0) return -1;
    return store_tx_deliveries_claim(c->st, now_ms, claim->owner,
                                     now_ms + (int64_t)c->config.lease_ms, claim->out, claim->max,
                                     &claim->count);
}

/* Delay before the attempt after `attempts` failed ones: base * 2^(attempts - 1), capped,
 * then a random point in its upper half (jitter spreads retries of a burst). */
static int64_t commit__backoff_ms(const commit_config *config, int32_t attempts)
{
    int64_t delay = config->retry_base_ms;
    for (int32_t i = 1; i < attempts && delay < config->retry_max_ms; i++)
        delay *= 2;
    if (delay > config->retry_max_ms) delay = config->retry_max_ms;
    int64_t half = delay / 2;
    return half + (half > 0 ? (int64_t)randombytes_uniform((uint32_t)(half + 1)) : 0);
}

int commit__do_delivery_done(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    const commit_delivery *d = &cmd->delivery;
    bool changed;
    if (d->ok)
        return store_tx_delivery_finish(c->st, d->seq, DELIVERY_DELIVERED, NULL, now_ms, &changed);
    if (d->final || d->attempts >= (int32_t)c->config.max_attempts)
        return store_tx_delivery_finish(c->st, d->seq, DELIVERY_DEAD, d->error, now_ms, &changed);
    return store_tx_delivery_retry(
        c->st, d->seq, now_ms + commit__backoff_ms(&c->config, d->attempts), d->error, now_ms);
}

int commit__do_redrive(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    bool changed;
    if (store_tx_delivery_redrive(c->st, cmd->delivery.seq, now_ms, &changed) != 0) return -1;
    if (!changed)
        cmd->rc = TIX_RC_NOT_FOUND;
    else
        c->deliveries_written = true; /* wake the dispatcher */
    return 0;
}

int commit__do_webhook_create(commit *c, commit_cmd *cmd, int64_t now_ms)
{
    cmd->subscriber.created_at_ms = now_ms;
    return store_tx_subscriber_insert(c->st, &cmd->subscriber);
}
