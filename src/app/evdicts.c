#include "app/evdicts.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "core/alloc.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/enc.h"
#include "core/err.h"
#include "core/log.h"
#include "endpoint/cache.h"
#include "events/zcodec.h"
#include "store/events.h"
#include "vault/pubid.h"
#include "vault/vault.h"

#define MAX_ENTRIES 256          /* endpoints whose dictionaries are held */
#define RECHECK_MS 60000         /* how long "no dictionary" is believed */
#define TRAIN_AFTER 1000         /* events before a first dictionary */
#define TRAIN_SAMPLES 2000       /* newest events it learns from */
#define NOTE_EVERY 250           /* stored events between count checks */
#define KEEP 4                   /* dictionaries of one endpoint held */

struct entry {
	int64_t endpoint_id;         /* 0: free */
	int64_t checked_ms, used_ms;
	struct zcodec_dict *dicts[KEEP]; /* newest first */
	int n;
	size_t noted;
};

struct evdicts {
	struct app *app;
	pthread_mutex_t lock;
	struct entry entries[MAX_ENTRIES];
	pthread_t trainer;
	int training;                /* a trainer thread exists (join it) */
	int busy;                    /* it is still running */
	int stopping;
	struct ep_entry *queued;     /* the endpoint it trains */
};

struct evdicts *evdicts_create(struct app *app)
{
	struct evdicts *d = xcalloc(1, sizeof(*d));

	d->app = app;
	pthread_mutex_init(&d->lock, NULL);
	return d;
}

static void entry_clear(struct entry *e)
{
	for (int i = 0; i < e->n; i++)
		zcodec_dict_release(e->dicts[i]);
	memset(e, 0, sizeof(*e));
}

void evdicts_destroy(struct evdicts *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->lock);
	d->stopping = 1;
	pthread_mutex_unlock(&d->lock);
	if (d->training)
		pthread_join(d->trainer, NULL);
	for (int i = 0; i < MAX_ENTRIES; i++)
		entry_clear(&d->entries[i]);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

/* The entry of endpoint_id, or a free or least recently used one taken
 * for it (under lock). */
static struct entry *slot(struct evdicts *d, int64_t endpoint_id, int create)
{
	struct entry *victim = NULL;

	for (int i = 0; i < MAX_ENTRIES; i++) {
		struct entry *e = &d->entries[i];

		if (e->endpoint_id == endpoint_id)
			return e;
		if (!victim || e->endpoint_id == 0 || (victim->endpoint_id && e->used_ms < victim->used_ms))
			victim = e;
	}
	if (!create)
		return NULL;
	entry_clear(victim);
	victim->endpoint_id = endpoint_id;
	return victim;
}

/* Opens a stored dictionary row. */
static int open_dict(const struct vault_key *key, const struct ev_dict_row *row, struct zcodec_dict **out)
{
	uint8_t *plain = NULL;
	size_t len;
	char rid[32];
	uint32_t id;
	int rc;

	snprintf(rid, sizeof(rid), "zd:%u", row->dict_id);
	if ((rc = vault_open_record(key, rid, row->sealed, row->len, &plain, &len)))
		return rc;
	rc = zcodec_dict_load(plain, len, &id, out);
	secure_wipe(plain, len);
	free(plain);
	if (!rc && id != row->dict_id) {
		zcodec_dict_release(*out);
		*out = NULL;
		rc = INLET_ETAMPERED;
	}
	return rc;
}

/* Loads the endpoint's stored dictionaries into its entry. */
static void load(struct evdicts *d, int64_t endpoint_id, const struct vault_key *key)
{
	struct arena *a = arena_create(0);
	struct zcodec_dict *loaded[KEEP] = { 0 };
	struct ev_dict_row *rows;
	struct entry *e;
	size_t n = 0, nl = 0;

	if (evstore_dicts(app_subs(d->app, endpoint_id), endpoint_id, a, &rows, &n))
		n = 0;
	for (size_t i = 0; i < n && nl < KEEP; i++)
		if (open_dict(key, &rows[i], &loaded[nl]) == 0)
			nl++;
	arena_destroy(a);
	pthread_mutex_lock(&d->lock);
	e = slot(d, endpoint_id, 1);
	for (int i = 0; i < e->n; i++)
		zcodec_dict_release(e->dicts[i]);
	for (size_t i = 0; i < nl; i++)
		e->dicts[i] = loaded[i];
	e->n = (int)nl;
	e->checked_ms = e->used_ms = now_ms();
	pthread_mutex_unlock(&d->lock);
}

struct zcodec_dict *evdicts_current(struct evdicts *d, int64_t endpoint_id, const struct vault_key *key)
{
	struct zcodec_dict *cur = NULL;
	struct entry *e;
	int64_t now = now_ms();
	int fresh;

	if (!d)
		return NULL;
	pthread_mutex_lock(&d->lock);
	e = slot(d, endpoint_id, 0);
	fresh = e && (e->n || now - e->checked_ms < RECHECK_MS);
	pthread_mutex_unlock(&d->lock);
	if (!fresh)
		load(d, endpoint_id, key);
	pthread_mutex_lock(&d->lock);
	if ((e = slot(d, endpoint_id, 0)) && e->n) {
		cur = e->dicts[0];
		zcodec_dict_ref(cur);
		e->used_ms = now;
	}
	pthread_mutex_unlock(&d->lock);
	return cur;
}

struct zcodec_dict *evdicts_get(struct evdicts *d, int64_t endpoint_id, uint32_t dict_id,
				const struct vault_key *key)
{
	struct zcodec_dict *got = NULL;

	for (int pass = 0; pass < 2 && !got; pass++) {
		struct entry *e;

		pthread_mutex_lock(&d->lock);
		if ((e = slot(d, endpoint_id, 0)))
			for (int i = 0; i < e->n && !got; i++)
				if (zcodec_dict_id(e->dicts[i]) == dict_id) {
					got = e->dicts[i];
					zcodec_dict_ref(got);
				}
		pthread_mutex_unlock(&d->lock);
		if (!got && pass == 0)
			load(d, endpoint_id, key);
	}
	return got;
}

/* ---- training ------------------------------------------------------------ */

int evdicts_train(struct evdicts *d, struct ep_entry *ep)
{
	struct app *app = d->app;
	struct substore *s = app_subs(app, ep->id);
	struct arena *a = arena_create(0);
	struct vault_key *key = NULL;
	struct ev_row *rows;
	struct buf samples, one, dict;
	size_t n = 0, *sizes = NULL, ns = 0;
	uint8_t *sealed = NULL;
	size_t sealed_len;
	uint32_t want;
	char rid[32];
	int rc;

	buf_init(&samples, 64u << 20);
	buf_init(&one, 1u << 21);
	buf_init(&dict, 0);
	if ((rc = vault_key_get(app->vault, ep->pid, ep->key_version, ep->wrapped, ep->wrapped_len, &key)))
		goto out;
	if ((rc = evstore_recent(s, ep->id, TRAIN_SAMPLES, a, &rows, &n)))
		goto out;
	sizes = xcalloc(n ? n : 1, sizeof(*sizes));
	for (size_t i = 0; i < n; i++) {
		char pid[PUBID_MAX];
		uint8_t *packed;
		size_t plen;
		struct zcodec_dict *zd = NULL;

		pubid_encode(app->ids, "evt_", rows[i].id, ep->id, pid);
		if (vault_open_record(key, pid, rows[i].sealed, rows[i].sealed_len, &packed, &plen))
			continue;
		if (rows[i].dict_id)
			zd = evdicts_get(d, ep->id, rows[i].dict_id, key);
		buf_reset(&one);
		rc = (rows[i].dict_id && !zd) ? INLET_ENOTFOUND : zcodec_decompress(zd, packed, plen, &one);
		zcodec_dict_release(zd);
		free(packed);
		if (rc || buf_append(&samples, one.data, one.len))
			continue;
		sizes[ns++] = one.len;
	}
	rand_bytes(&want, sizeof(want));
	want = ZCODEC_ID_MIN + want % (ZCODEC_ID_MAX - ZCODEC_ID_MIN);
	if ((rc = zcodec_train(samples.data, sizes, (unsigned)ns, want, &dict)))
		goto out;
	snprintf(rid, sizeof(rid), "zd:%u", want);
	if ((rc = vault_seal(key, rid, dict.data, dict.len, &sealed, &sealed_len)))
		goto out;
	if ((rc = evstore_dict_put(s, ep->id, want, ep->key_version, sealed, sealed_len)))
		goto out;
	load(d, ep->id, key);
	log_msg(LOG_INFO, "endpoint %s: zstd dictionary %u trained from %zu events (%zu bytes)", ep->pid, want,
		ns, dict.len);
out:
	if (rc && rc != INLET_EINVAL)
		log_msg(LOG_WARN, "endpoint %s: dictionary training failed: %s", ep->pid, inlet_strerror(rc));
	if (samples.data)
		secure_wipe(samples.data, samples.len);
	if (one.data)
		secure_wipe(one.data, one.cap);
	if (dict.data)
		secure_wipe(dict.data, dict.len);
	buf_free(&samples);
	buf_free(&one);
	buf_free(&dict);
	free(sealed);
	free(sizes);
	vault_key_release(key);
	arena_destroy(a);
	return rc;
}

static void *trainer_main(void *arg)
{
	struct evdicts *d = arg;
	struct ep_entry *ep;
	int64_t count = 0;

	pthread_mutex_lock(&d->lock);
	ep = d->queued;
	d->queued = NULL;
	pthread_mutex_unlock(&d->lock);
	if (ep && evstore_event_count(app_subs(d->app, ep->id), ep->id, &count) == 0 && count >= TRAIN_AFTER)
		evdicts_train(d, ep);
	ep_entry_release(ep);
	pthread_mutex_lock(&d->lock);
	d->busy = 0;
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

void evdicts_note(struct evdicts *d, struct ep_entry *ep, size_t stored)
{
	struct entry *e;
	int start = 0;

	if (!d || !stored)
		return;
	pthread_mutex_lock(&d->lock);
	e = slot(d, ep->id, 0);
	if (e && e->n == 0 && !d->stopping && (e->noted += stored) >= NOTE_EVERY && !d->busy) {
		e->noted = 0;
		/* One trainer at a time; the previous one has finished. */
		if (d->training)
			pthread_join(d->trainer, NULL);
		d->training = 0;
		atomic_fetch_add(&ep->refs, 1);
		d->queued = ep;
		d->busy = 1;
		start = 1;
	}
	if (start) {
		if (pthread_create(&d->trainer, NULL, trainer_main, d) == 0) {
			d->training = 1;
		} else {
			d->busy = 0;
			d->queued = NULL;
			ep_entry_release(ep);
		}
	}
	pthread_mutex_unlock(&d->lock);
}
