/*
 * The notification sink: one worker thread, one CURL handle and one
 * bounded queue per target (a dead endpoint only ever holds up its own
 * queue). deliver() renders the payload on the emitting thread and queues
 * it, so the run never waits on the network; close() gives every queue a
 * common deadline to drain, so the end of a run waits at most one total
 * timeout however many endpoints are dead.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "notify/notify.h"
#include "notify/notify_int.h"
#include "util/glob.h"
#include "util/log.h"
#include "util/webhook_secret.h"
#include "util/webhook_url.h"
#include "util/xalloc.h"
#include "util/clock.h"

#define QUEUE_MAX 256
#define TOTAL_TIMEOUT_MS 10000L
#define MAX_ATTEMPTS 5
#define RETRY_AFTER_MAX_S 60L

struct target {
	const struct notify_target *conf;
	struct http_target http;
	unsigned char *key;         /* owned; signing key, NULL when unsigned */
	char origin[256];           /* scheme://host[:port], all logs show of the URL */
	pthread_t thread;
	bool started;

	pthread_mutex_t lock;       /* guards the queue and the fields up to the end */
	pthread_cond_t wake;        /* a message came, or close began */
	struct notify_msg *queue[QUEUE_MAX];
	size_t head, count;
	bool closing;
	double deadline;            /* once closing: when to stop sending */
	bool warned_full;           /* the "queue full" warning was given */
	bool warned_dead;           /* the "cannot deliver" warning was given */
	bool dead;                  /* the last message could not be delivered */
	size_t lost;                /* messages dropped or given up on */
};

struct notifier {
	struct target *targets;
	size_t n;
};

static void
msg_free(struct notify_msg *m)
{
	if (!m)
		return;
	free(m->event);
	free(m->body);
	free(m);
}

static bool
wants(const struct notify_target *conf, const char *name)
{
	for (size_t i = 0; i < conf->on.n; i++)
		if (glob_match(conf->on.items[i], name))
			return true;
	return false;
}

/* Queues m; when full, the oldest message goes (the newest says most about now). */
static void
enqueue(struct target *t, struct notify_msg *m)
{
	pthread_mutex_lock(&t->lock);
	if (t->count == QUEUE_MAX) {
		msg_free(t->queue[t->head]);
		t->head = (t->head + 1) % QUEUE_MAX;
		t->count--;
		t->lost++;
		if (!t->warned_full)
			log_warning("notifications to %s: queue full (%d); dropping the oldest", t->origin,
						QUEUE_MAX);
		t->warned_full = true;
	}
	t->queue[(t->head + t->count) % QUEUE_MAX] = m;
	t->count++;
	pthread_cond_signal(&t->wake);
	pthread_mutex_unlock(&t->lock);
}

static struct notify_msg *
render(const struct target *t, const struct event *ev, const char *id)
{
	struct notify_msg *m = xcalloc(1, sizeof(*m));
	struct event pub = *ev;
	char error[sizeof(((struct pgs_error *) 0)->message)];
	struct buf b;

	/* row values reach a third party only when the plan says so */
	if (!t->conf->include_values) {
		if (ev->error) {
			pgs_error_public(ev->error, ev->error_values_from, error, sizeof(error));
			pub.error = error;
		}
		pub.error_detail = NULL;
	}
	buf_init(&b);
	if (t->conf->kind == NOTIFY_SLACK)
		slack_payload(&b, &pub);
	else
		webhook_payload(&b, &pub);
	m->bodylen = b.len;
	m->body = buf_steal(&b);
	m->event = xstrdup(ev->name);
	snprintf(m->id, sizeof(m->id), "%s", id);
	return m;
}

static bool
notifier_deliver(void *ctx, const struct event *ev, struct pgs_error *err)
{
	struct notifier *nf = ctx;
	char id[48];

	(void) err;
	/* one id per event: a receiver can tell a retry from a new event */
	webhook_new_id(id, sizeof(id));
	for (size_t i = 0; i < nf->n; i++)
		if (wants(nf->targets[i].conf, ev->name))
			enqueue(&nf->targets[i], render(&nf->targets[i], ev, id));
	return true;
}

/* Takes the next message, or NULL once closing with an empty queue. */
static struct notify_msg *
dequeue(struct target *t)
{
	struct notify_msg *m = NULL;

	pthread_mutex_lock(&t->lock);
	while (t->count == 0 && !t->closing)
		pthread_cond_wait(&t->wake, &t->lock);
	if (t->count > 0) {
		m = t->queue[t->head];
		t->head = (t->head + 1) % QUEUE_MAX;
		t->count--;
	}
	pthread_mutex_unlock(&t->lock);
	return m;
}

/* The time an attempt may take now: the total timeout, or what is left before the deadline. */
static long
attempt_budget_ms(struct target *t)
{
	long budget = TOTAL_TIMEOUT_MS;

	pthread_mutex_lock(&t->lock);
	if (t->closing) {
		double left = (t->deadline - clock_wall_s()) * 1000.0;

		budget = left < (double) budget ? (long) left : budget;
	}
	pthread_mutex_unlock(&t->lock);
	return budget;
}

/*
 * Sleeps ms before a retry; false when closing leaves no time for it, or
 * when the run is over and the endpoint cannot be reached (network: the
 * last attempt did not get an answer) or has been failing already.
 */
static bool
pause_before_retry(struct target *t, long ms, bool network)
{
	double wake = clock_wall_s() + ms / 1000.0;
	bool go = true;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		struct timespec until = {(time_t) wake, (long) ((wake - (double) (time_t) wake) * 1e9)};

		if (t->closing && (t->dead || network || wake > t->deadline)) {
			go = false;
			break;
		}
		if (pthread_cond_timedwait(&t->wake, &t->lock, &until) != 0 && clock_wall_s() >= wake)
			break;
	}
	pthread_mutex_unlock(&t->lock);
	return go;
}

static void
report_failure(struct target *t, const struct notify_msg *m, const struct pgs_error *err)
{
	pthread_mutex_lock(&t->lock);
	t->dead = true;
	t->lost++;
	if (!t->warned_dead)
		log_warning("could not deliver %s to %s %s: %s (the run goes on; further failures of "
					"this target are not logged)", m->event,
					t->conf->kind == NOTIFY_SLACK ? "slack" : "webhook", t->origin, err->message);
	else
		log_debug("could not deliver %s to %s: %s", m->event, t->origin, err->message);
	t->warned_dead = true;
	pthread_mutex_unlock(&t->lock);
}

/* The server's Retry-After (capped), else our backoff. */
static long
retry_pause_ms(int attempt, long retry_after_s)
{
	if (retry_after_s < 0)
		return backoff_ms(attempt);
	return (retry_after_s < RETRY_AFTER_MAX_S ? retry_after_s : RETRY_AFTER_MAX_S) * 1000;
}

static void
send_with_retries(struct target *t, const struct notify_msg *m)
{
	struct pgs_error err;

	pgs_error_clear(&err);
	for (int attempt = 1;; attempt++) {
		long budget = attempt_budget_ms(t), after = -1;
		enum attempt_result r;

		if (budget <= 0) {
			pgs_fail(&err, "no time left to send before the run ends");
			break;
		}
		r = http_attempt(&t->http, m, budget, &after, &err);
		if (r == ATTEMPT_OK) {
			pthread_mutex_lock(&t->lock);
			t->dead = false;
			pthread_mutex_unlock(&t->lock);
			return;
		}
		if (r == ATTEMPT_GIVE_UP || attempt == MAX_ATTEMPTS)
			break;
		if (!pause_before_retry(t, retry_pause_ms(attempt, after), r == ATTEMPT_RETRY_NETWORK))
			break;
	}
	report_failure(t, m, &err);
}

static void *
target_main(void *arg)
{
	struct target *t = arg;
	struct notify_msg *m;

	while ((m = dequeue(t)) != NULL) {
		send_with_retries(t, m);
		msg_free(m);
	}
	return NULL;
}

static void
target_free(struct target *t)
{
	for (size_t i = 0; i < t->count; i++)
		msg_free(t->queue[(t->head + i) % QUEUE_MAX]);
	if (t->http.curl)
		curl_easy_cleanup(t->http.curl);
	free(t->key);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->wake);
}

static void
notifier_close(void *ctx)
{
	struct notifier *nf = ctx;
	double deadline = clock_wall_s() + TOTAL_TIMEOUT_MS / 1000.0;

	/* one deadline for all: the workers drain in parallel */
	for (size_t i = 0; i < nf->n; i++) {
		pthread_mutex_lock(&nf->targets[i].lock);
		nf->targets[i].closing = true;
		nf->targets[i].deadline = deadline;
		pthread_cond_signal(&nf->targets[i].wake);
		pthread_mutex_unlock(&nf->targets[i].lock);
	}
	for (size_t i = 0; i < nf->n; i++) {
		struct target *t = &nf->targets[i];

		if (t->started)
			pthread_join(t->thread, NULL);
		if (t->lost + t->count > 0)
			log_warning("notifications to %s: %zu event(s) were not delivered", t->origin,
						t->lost + t->count);
		target_free(t);
	}
	free(nf->targets);
	free(nf);
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	/* before any worker thread: curl_global_init is not thread-safe everywhere */
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool
target_init(struct target *t, const struct notify_target *conf, struct pgs_error *err)
{
	memset(t, 0, sizeof(*t));
	t->conf = conf;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->wake, NULL);
	webhook_url_origin(conf->url, t->origin, sizeof(t->origin));
	t->http.url = conf->url;
	t->http.webhook = conf->kind == NOTIFY_WEBHOOK;
	if (t->http.webhook && conf->secret) {
		if (!webhook_secret_key(conf->secret, &t->key, &t->http.keylen, err))
			return false;
		t->http.key = t->key;
	}
	t->http.curl = curl_easy_init();
	if (!t->http.curl)
		return pgs_fail(err, "could not set up an HTTP client for notifications to %s", t->origin);
	if (pthread_create(&t->thread, NULL, target_main, t) != 0)
		return pgs_fail(err, "could not start the notification thread for %s", t->origin);
	t->started = true;
	return true;
}

struct notifier *
notify_open(const struct plan *plan, struct pgs_error *err)
{
	struct notifier *nf;

	if (plan->nnotify == 0)
		return NULL;
	pthread_once(&curl_once, curl_init_once);
	nf = xcalloc(1, sizeof(*nf));
	nf->targets = xcalloc(plan->nnotify, sizeof(struct target));
	for (size_t i = 0; i < plan->nnotify; i++, nf->n++)
		if (!target_init(&nf->targets[i], &plan->notify[i], err)) {
			nf->n++;
			notifier_close(nf);
			pgs_error_prefix(err, "notify[%zu]", i + 1);
			return NULL;
		}
	return nf;
}

void
notify_add(struct event_bus *bus, struct notifier *nf)
{
	if (nf)
		event_bus_add(bus, (struct event_sink) {notifier_deliver, notifier_close, nf});
}

/*
 * A hook asked to say something: every target gets it, whatever its `on:`
 * globs, since the hook's author chose to notify. Never blocks: queued.
 */
void
notify_post_text(void *ctx, const char *hook_file, const struct event *ev, const char *text)
{
	struct notifier *nf = ctx;
	struct event e = *ev;
	char id[48];

	(void) hook_file;
	e.name = "hook.notify";
	e.text = text;
	webhook_new_id(id, sizeof(id));
	for (size_t i = 0; i < nf->n; i++)
		enqueue(&nf->targets[i], render(&nf->targets[i], &e, id));
}

void
notify_counts(struct notifier *nf, size_t *queued, size_t *dropped)
{
	*queued = *dropped = 0;
	for (size_t i = 0; nf && i < nf->n; i++) {
		struct target *t = &nf->targets[i];

		pthread_mutex_lock(&t->lock);
		*queued += t->count;
		*dropped += t->lost;
		pthread_mutex_unlock(&t->lock);
	}
}
