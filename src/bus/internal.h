/* bus internal: what the dispatcher (dispatcher.c) and the consumers (workers.c) share. */
#ifndef TIX_BUS_INTERNAL_H
#define TIX_BUS_INTERNAL_H

#include "bus/dispatcher.h"

#include <pthread.h>

enum { BUS_WORKERS_MAX = 64, BUS_SUBSCRIBERS_MAX = 256 };

typedef struct bus_job {
    delivery_record delivery;
    struct bus_job *next;
} bus_job;

struct bus {
    commit *writer;
    store *st;
    inventory *inv;
    pay_provider *pay;
    mailer *mail;
    bus_config config;
    pthread_t dispatcher;
    pthread_t workers[BUS_WORKERS_MAX];
    unsigned worker_count;
    pthread_mutex_t mutex;
    pthread_cond_t wake; /* dispatcher: new deliveries, a free worker, or stop */
    pthread_cond_t work; /* workers: a job, or stop */
    bool stopping;
    bool woken;
    bus_job *head, *tail; /* claimed, waiting for a worker */
    unsigned queued, running;
    /* webhook subscribers, cached (refreshed when an unknown id shows up) */
    pthread_mutex_t subscribers_mutex;
    unsigned subscriber_count;
    subscriber_record *subscribers;
};

/* Perform one delivery and report its outcome through the writer. */
void bus__deliver(bus *b, const delivery_record *d);

#endif
