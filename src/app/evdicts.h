/* The zstd dictionaries of events endpoints, loaded once and shared.
 * An endpoint has none until enough events exist; then one is trained in
 * the background from its recent events, sealed by the Vault (it holds
 * fragments of them) and stored beside them. New events are compressed
 * with the newest dictionary; each event names its dictionary's id, so
 * older ones stay readable. */
#ifndef INLET_APP_EVDICTS_H
#define INLET_APP_EVDICTS_H

#include <stddef.h>
#include <stdint.h>

struct app;
struct evdicts;
struct ep_entry;
struct vault_key;
struct zcodec_dict;

struct evdicts *evdicts_create(struct app *app);
/* Waits for a training under way. Accepts NULL. */
void evdicts_destroy(struct evdicts *d);
/* The endpoint's newest dictionary (a reference), or NULL; key opens it
 * when it is not loaded yet. */
struct zcodec_dict *evdicts_current(struct evdicts *d, int64_t endpoint_id, const struct vault_key *key);
/* The dictionary dict_id of the endpoint (a reference), loaded with key
 * if needed; NULL if it does not exist. */
struct zcodec_dict *evdicts_get(struct evdicts *d, int64_t endpoint_id, uint32_t dict_id,
				const struct vault_key *key);
/* Called after events of ep were stored (any thread, the writer's too):
 * once the endpoint has enough events and no dictionary, one is trained
 * in the background. */
void evdicts_note(struct evdicts *d, struct ep_entry *ep, size_t stored);
/* Trains now, synchronously (tests, `inlet` maintenance). */
int evdicts_train(struct evdicts *d, struct ep_entry *ep);

#endif
