/* The Vault: the only module that touches key material.
 *
 * Key hierarchy: a 256-bit master key (INLET_MASTER_KEY, base64 of 32 bytes,
 * or DATA/master.key created 0600 at first start) wraps each endpoint's
 * random 256-bit data key with AES-256-GCM, the endpoint's public id and the
 * key version as associated data. Data keys seal submissions (one record =
 * one AES-256-GCM message) and files (a stream of 64 KiB chunks, each its own
 * GCM message). Unwrapped data keys live only in a bounded in-memory cache,
 * wiped on eviction and at destroy.
 *
 * Formats (all integers big-endian):
 *   wrapped key  = 0x01 | nonce(12) | ct(32) | tag(16)
 *                  ad = "inlet-key-v1" | u32 version | endpoint id bytes
 *   sealed record= 0x01 | nonce(12) | ct(n) | tag(16)
 *                  ad = "inlet-rec-v1" | u32 version | u8 len | endpoint id | record id bytes
 *   sealed file  = header 0x01 "ILBF" (5 bytes), then chunks:
 *                  u32 ct_len | nonce(12) | ct | tag(16)
 *                  ad = "inlet-blob-v1" | u32 version | u8 len | endpoint id | u8 len | record id
 *                       | u32 file index | u64 chunk index | u8 last
 *                  the last chunk has last=1 (it may be empty), so a
 *                  truncated file fails to open instead of reading short.
 *                  A reader takes the chunk that ends the input as the one
 *                  meant to be last and checks the flag, so bytes after the
 *                  real last chunk fail as well.
 *   The u8 lengths cap endpoint ids and file record ids at 255 bytes.
 *
 * Thread safety: a struct vault is shared by every thread; its cache has
 * its own lock, and each thread uses its own EVP context. */
#ifndef INLET_VAULT_VAULT_H
#define INLET_VAULT_VAULT_H

#include <stddef.h>
#include <stdint.h>

#define VAULT_KEY_BYTES 32
#define VAULT_WRAPPED_BYTES (1 + 12 + 32 + 16)
#define VAULT_SEAL_OVERHEAD (1 + 12 + 16)
#define VAULT_CHUNK_BYTES (64 * 1024)

struct vault;
struct vault_key;

/* Opens the vault. master_b64 (may be NULL) wins; else DATA/master.key is
 * read, or created with mode 0600 (and a warn log line saying to back it
 * up). cache_entries bounds the unwrapped-key cache (>= 1).
 * INLET_EINVAL for a master key that is not base64 of 32 bytes; INLET_EIO
 * when the file cannot be read or written. */
int vault_open(struct vault **out, const char *data_dir, const char *master_b64,
	       size_t cache_entries);
/* Wipes every key. Every key handle must have been released. Accepts NULL. */
void vault_destroy(struct vault *v);

/* Makes a fresh random data key for endpoint_id at version and returns it
 * wrapped (VAULT_WRAPPED_BYTES into wrapped). */
int vault_key_create(struct vault *v, const char *endpoint_id, uint32_t version,
		     uint8_t wrapped[VAULT_WRAPPED_BYTES]);

/* A usable data key for (endpoint_id, version): from the cache, or
 * unwrapped from wrapped and cached. The caller holds a reference until
 * vault_key_release(). INLET_ETAMPERED if the wrapped key fails to
 * authenticate (wrong master key, flipped byte, other endpoint); INLET_EINVAL
 * if wrapped_len is not VAULT_WRAPPED_BYTES or endpoint_id is over 255
 * bytes. A cached key answers only for the same wrapped bytes. */
int vault_key_get(struct vault *v, const char *endpoint_id, uint32_t version,
		  const uint8_t *wrapped, size_t wrapped_len, struct vault_key **out);
void vault_key_release(struct vault_key *k);
/* Drops a cached key (endpoint deleted or rotated). */
void vault_key_forget(struct vault *v, const char *endpoint_id, uint32_t version);

/* Seals a record; *out (xmalloc'd, caller frees) gets
 * len + VAULT_SEAL_OVERHEAD bytes. record_id binds the ciphertext to its row. */
int vault_seal(const struct vault_key *k, const char *record_id,
	       const void *plain, size_t len, uint8_t **out, size_t *out_len);
/* Opens a sealed record; *out (xmalloc'd, NUL-terminated past out_len,
 * caller frees). INLET_ETAMPERED on any mismatch, INLET_EINVAL if too short
 * or of an unknown format version. */
int vault_open_record(const struct vault_key *k, const char *record_id,
		      const uint8_t *sealed, size_t len, uint8_t **out, size_t *out_len);

/* Streaming file sealing. The sink receives the sealed bytes in order;
 * its non-zero return aborts and is passed up. */
typedef int (*vault_sink_fn)(void *ctx, const void *data, size_t len);
struct vault_writer;
/* Never fails (returns a writer); the header goes to the sink on the first
 * write or at finish. k stays referenced until vault_writer_destroy. A
 * record_id over 255 bytes makes the first write or finish INLET_EINVAL. */
struct vault_writer *vault_writer_create(const struct vault_key *k, const char *record_id,
					 uint32_t file_index, vault_sink_fn sink, void *ctx);
/* Buffers up to one chunk, sealing and sinking each full chunk. */
int vault_writer_write(struct vault_writer *w, const void *data, size_t len);
/* Seals the last chunk (last=1). */
int vault_writer_finish(struct vault_writer *w);
/* Wipes buffers. Accepts NULL. */
void vault_writer_destroy(struct vault_writer *w);
/* Total plaintext bytes written so far. */
uint64_t vault_writer_size(const struct vault_writer *w);

/* Streaming file opening: reads sealed bytes from source (returns bytes
 * read, 0 at end, <0 an error) and hands plaintext chunks to sink.
 * INLET_ETAMPERED for a flipped byte, reordered or missing chunk, or a
 * file that ends before its last chunk; INLET_EINVAL for a header of another
 * format. Plaintext before the failing chunk may already have reached the
 * sink. */
typedef long (*vault_source_fn)(void *ctx, void *buf, size_t len);
int vault_open_stream(const struct vault_key *k, const char *record_id, uint32_t file_index,
		      vault_source_fn source, void *source_ctx, vault_sink_fn sink, void *sink_ctx);

/* The same opening, pull-style (vault_open_stream is built on it): the
 * caller asks for plaintext and the reader pulls sealed bytes from source
 * one chunk at a time. It holds one chunk (about 64 KiB, ciphertext and
 * plaintext sharing the buffer) whatever the file size, and hands out only
 * bytes of a chunk that has authenticated. */
struct vault_reader;
/* Never fails (returns a reader); k must stay referenced and source_ctx
 * valid until vault_reader_destroy. A NULL k or source, or a record_id
 * over 255 bytes, makes the first call INLET_EINVAL. */
struct vault_reader *vault_reader_create(const struct vault_key *k, const char *record_id,
					 uint32_t file_index, vault_source_fn source,
					 void *source_ctx);
/* Copies up to len (> 0) bytes of authenticated plaintext into buf and
 * returns how many (> 0). Returns 0 only at the authenticated end: the
 * chunk flagged last has opened and the source is exhausted. Otherwise a
 * negative code as vault_open_stream gives (INLET_ETAMPERED, INLET_EINVAL
 * for another format, a source's error), which sticks: every later call
 * returns it too. len == 0 is INLET_EINVAL (not sticky). */
long vault_reader_read(struct vault_reader *r, void *buf, size_t len);
/* Reads ahead until the reader holds authenticated plaintext not yet read,
 * or has verified the end: 0, or the error vault_reader_read would return.
 * Lets a caller authenticate the first chunk before committing to an
 * answer. Consumes no plaintext. */
int vault_reader_fill(struct vault_reader *r);
/* Wipes buffers (and frees). Accepts NULL. */
void vault_reader_destroy(struct vault_reader *r);

/* Keyed hash for privacy-preserving identifiers (client IP under a daily
 * salt): out = HMAC-SHA256(key, data). */
void vault_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
		       uint8_t out[32]);
void vault_sha256(const void *data, size_t len, uint8_t out[32]);

/* The same HMAC-SHA256 with the key set up once, for hot paths (client IP
 * hashing per post): computing duplicates a keyed context instead of
 * fetching the algorithm again. Safe for concurrent use. */
struct vault_mac;
struct vault_mac *vault_mac_create(const void *key, size_t key_len);
void vault_mac_compute(const struct vault_mac *m, const void *data, size_t len, uint8_t out[32]);
void vault_mac_destroy(struct vault_mac *m);
/* A MAC under a subkey of an endpoint's data key for one purpose (label,
 * at most 64 bytes): equal inputs give equal tags within the endpoint and
 * unrelated tags elsewhere, and nothing about the data key leaves the
 * Vault. Issue fingerprints and blind search tokens use it. */
struct vault_mac *vault_key_mac(const struct vault_key *k, const char *label);
/* Constant-time comparison: 1 when equal. */
int vault_ct_equal(const void *a, const void *b, size_t len);

/* API tokens: "inlet_sk_" + base64url(32 random bytes). *token is heap
 * (caller frees); hash = SHA-256 of the whole token string. */
void vault_token_new(char **token, uint8_t hash[32]);

/* argon2id password hashing (t=3, m=64 MiB, p=1 unless the env lowers it
 * for tests: INLET_ARGON2_MEMORY_KIB). *encoded is heap, the PHC string. */
int vault_password_hash(const char *password, char **encoded);
/* 0 if password matches, INLET_EAUTH if not, INLET_EINVAL for a bad encoding. */
int vault_password_verify(const char *encoded, const char *password);

/* A 32-byte subkey of the master key for another purpose, named by label
 * (HMAC-SHA256(master, "inlet-derive-v1" | label)). Used for the public-id
 * cipher (vault/pubid.h). */
void vault_derive(struct vault *v, const char *label, uint8_t out[32]);

/* Boxes (vault/box.c): a small secret that belongs to no endpoint (an
 * invitation link in a job's payload), sealed under a subkey of the master
 * key for label (1..VAULT_BOX_LABEL_MAX bytes, one per purpose) and bound to
 * context (the row it belongs to), as base64url text. *out is heap (the
 * caller frees; for open, NUL-terminated and to be wiped when secret).
 * Seal: INLET_EINVAL for a bad label or more than VAULT_BOX_MAX bytes.
 * Open: INLET_ETAMPERED when the box fails to authenticate (another label,
 * context or master key, or a changed byte); INLET_EINVAL when it is not a
 * box. */
#define VAULT_BOX_MAX 4096
#define VAULT_BOX_LABEL_MAX 64
int vault_box_seal(struct vault *v, const char *label, const char *context, const void *plain, size_t len,
		   char **out);
int vault_box_open(struct vault *v, const char *label, const char *context, const char *box, char **out);

/* Cache statistics for /metrics. */
void vault_cache_stats(struct vault *v, uint64_t *hits, uint64_t *misses, size_t *entries);

#endif
