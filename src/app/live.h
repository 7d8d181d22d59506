/* The live bus: what changed, for dashboards that watch (GET /api/v1/stream).
 *
 * Publishers (the writer threads once a batch is durable, API handlers once
 * their change is) append small events to a bounded ring; each event gets
 * the next id of one 64-bit sequence. Subscribers are streams of one
 * account (optionally one endpoint): each keeps a cursor into the ring and
 * is woken through its own wake function when an event of its account
 * arrives, or when it has been quiet for ping_ms and owes its client a
 * keep-alive. Nothing here blocks on a subscriber, so a slow client costs
 * a publisher nothing: a subscriber that falls so far behind that its
 * events left the ring is told to start over (LIVE_RESET).
 *
 * Ids start from the clock at live_create (ms * 1000), so an id from an
 * earlier process is below every id of this one and resumes as a reset,
 * never as a wrong replay.
 *
 * Several nodes (INLET_REDIS_URL): live_publish also hands each event to
 * the forward hook, which sends it to the other nodes through Redis
 * pub/sub, and events from other nodes come in through live_inject. Each
 * node numbers what its own bus holds: ids are a node's own, and a client
 * that resumes on another node (no sticky sessions) gets a reset, because
 * an id from another node falls outside this bus's [base, head] unless
 * the buses saw on average a thousand events per millisecond between the
 * two nodes' starts. */
#ifndef INLET_APP_LIVE_H
#define INLET_APP_LIVE_H

#include <stddef.h>
#include <stdint.h>

struct live;
struct live_sub;

#define LIVE_TYPE_MAX 32    /* "submission.created" and the like, NUL included */
#define LIVE_DATA_MAX 512   /* one event's JSON text, NUL included */

/* One event as a subscriber receives it (copied out of the ring). */
struct live_event {
	uint64_t id;
	char type[LIVE_TYPE_MAX];
	char data[LIVE_DATA_MAX]; /* JSON, a single line */
};

/* What live_next gives. */
enum live_next {
	LIVE_NONE = 0,  /* nothing now: wait for the wake */
	LIVE_EVENT,     /* *ev is the next event */
	LIVE_RESET,     /* events were lost (a resume point out of the ring, or
			 * the subscriber fell behind): ev->id is where the
			 * stream goes on from; the client reloads its lists */
	LIVE_PING,      /* quiet for ping_ms: send a keep-alive */
};

/* ring: events kept (>= 16); per_account: open subscribers an account may
 * have; ping_ms: quiet time after which a subscriber is woken for a
 * keep-alive. The timer thread starts with the first subscriber. */
int live_create(struct live **out, size_t ring, unsigned per_account, unsigned ping_ms);
/* All subscribers must be gone (the HTTP server has stopped). Accepts NULL. */
void live_destroy(struct live *l);

/* Appends an event of account_id about endpoint_pid ("ep_..."): type is a
 * dotted name, json one line of JSON (copied). Call only once the change is
 * durable: a client that reloads on the event must find it. INLET_ETOOBIG
 * when type or json exceed their caps, INLET_EINVAL when json has a line
 * break (it would end the SSE field). Any thread; l may be NULL (a CLI
 * command's app has no bus): nothing to do. */
int live_publish(struct live *l, int64_t account_id, const char *endpoint_pid, const char *type,
		 const char *json);
/* As live_publish, for an event another node published: never forwarded. */
int live_inject(struct live *l, int64_t account_id, const char *endpoint_pid, const char *type,
		const char *json);

/* Called by live_publish once the event is on this bus (outside the bus's
 * lock, on the publisher's thread): it must not wait on the network. */
typedef void (*live_forward_fn)(void *arg, int64_t account_id, const char *endpoint_pid, const char *type,
				const char *json);
/* Set once, before anything publishes. */
void live_on_publish(struct live *l, live_forward_fn fn, void *arg);

/* The id of the newest event (the start value when there is none). */
uint64_t live_head(struct live *l);

typedef void (*live_wake_fn)(void *arg);

/* A new subscriber of account_id's events, of one endpoint when
 * endpoint_pid is not NULL (copied). With resume, delivery starts after
 * event last_id, or with a LIVE_RESET when events after it are no longer
 * held; without, at the head. INLET_ERATELIMIT when the account has
 * per_account subscribers already. The caller frees it with
 * live_unsubscribe. */
int live_subscribe(struct live *l, int64_t account_id, const char *endpoint_pid, int resume, uint64_t last_id,
		   struct live_sub **out);
/* Where s started: the head when it subscribed (the resume point when it
 * resumed), an id a client may resume from. Constant. */
uint64_t live_sub_start(const struct live_sub *s);
/* Sets how s is woken: wake(arg) runs on the publishing or timer thread,
 * under the bus's lock, so it must be quick and must not call back into
 * this module. Until set, s is not woken (live_next still sees everything). */
void live_sub_waker(struct live_sub *s, live_wake_fn wake, void *arg);
/* The next thing for s, never blocking. Only s's owner calls it. */
enum live_next live_next(struct live_sub *s, struct live_event *ev);
/* Removes s; once it returns, s's wake function is never called again.
 * Accepts NULL. */
void live_unsubscribe(struct live_sub *s);

#endif
