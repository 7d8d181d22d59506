/* zstd for stored event payloads, with per-endpoint dictionaries.
 *
 * An error event is JSON of 1-50 KiB, and the events of one project repeat
 * each other (the same SDK block, files, functions, contexts), so a
 * dictionary trained on an endpoint's past events shrinks the next ones far
 * more than zstd alone (numbers in tests/unit/test_zcodec.c). The
 * compressed frame is then sealed; this module knows nothing of keys.
 *
 * A frame written here is one zstd frame (RFC 8878) at level
 * ZCODEC_LEVEL that always says its content size and its dictionary's id
 * (0: none), and carries zstd's content checksum (4 bytes), so corruption
 * past the seal is caught here rather than handed on as JSON. To read a
 * frame, look its dictionary up by zcodec_frame_dict_id() and give it to
 * zcodec_decompress().
 *
 * Threads: a dictionary is immutable once loaded and shared by reference
 * (zstd.h: a CDict "can be shared by multiple threads concurrently, since
 * its usage is read-only"; a DDict is only ever passed to zstd as const
 * and read while decoding). Each thread gets its own compression and
 * decompression contexts, made on first use and freed when the thread
 * exits (a pthread key destructor); the main thread's live until the
 * process exits. Nothing here is global but the key, so every function
 * may be called from any thread at any time. */
#ifndef INLET_EVENTS_ZCODEC_H
#define INLET_EVENTS_ZCODEC_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct zcodec_dict;

/* zstd's default level: ~300 MB/s per core on these payloads, and a
 * trained dictionary is tuned for it. */
#define ZCODEC_LEVEL 3

/* Capacity of a trained dictionary, and the largest one zcodec_dict_load
 * accepts. zstd's guidance is ~100x as many sample bytes as this. Stored
 * dictionaries must keep loading: raise it, never lower it. */
#define ZCODEC_DICT_MAX (64u << 10)

/* Fewer samples are refused by zcodec_train. 200 events of 1-50 KiB are
 * 0.2-10 MB of JSON, below zstd's advice (hundreds to thousands of
 * samples, ~100x the dictionary) but past the point of paying off: on the
 * synthetic test corpus, a dictionary of 200 events compresses unseen
 * events 9.2x, one of 800 the same, zstd alone 3.2x. Retraining later on
 * more events (under a new id) costs little. */
#define ZCODEC_MIN_SAMPLES 200

/* Bytes of samples zcodec_train accepts (INLET_ETOOBIG past it). Training
 * reads the samples in place and needs ~6 MB of tables and a compression
 * context besides. */
#define ZCODEC_TRAIN_MAX (256u << 20)

/* Dictionary ids zcodec_train accepts: the zstd format reserves ids up to
 * 32767 and from 2^31 for a public registry, so private ones live between.
 * 0 means "no dictionary" in a frame. */
#define ZCODEC_ID_MIN 32768u
#define ZCODEC_ID_MAX 0x7fffffffu

/* Loads dictionary bytes (as zcodec_train made them: zstd's dictionary
 * format, with its magic number and entropy tables) into *out with one
 * reference, and its id (from its header, never 0) into *id_out when that
 * is not NULL. The bytes are copied; the caller keeps dict. Both zstd
 * dictionaries (compression at ZCODEC_LEVEL and decompression) are built
 * here, once: ~0.6 MB for a 64 KiB dictionary (zcodec_dict_memory, mostly
 * the level-3 match tables of the compression side), so a cache of them
 * needs a budget. INLET_EINVAL: not a zstd dictionary (raw content
 * included: it has no id), or corrupt tables. INLET_ETOOBIG: longer than
 * ZCODEC_DICT_MAX. On failure *out is NULL. */
int zcodec_dict_load(const void *dict, size_t len, uint32_t *id_out,
		     struct zcodec_dict **out);

/* One more reference; any thread. */
void zcodec_dict_ref(struct zcodec_dict *d);
/* Drops one reference; the last frees it. Accepts NULL. */
void zcodec_dict_release(struct zcodec_dict *d);

uint32_t zcodec_dict_id(const struct zcodec_dict *d);
/* Heap bytes held by d (both zstd dictionaries and their copies). */
size_t zcodec_dict_memory(const struct zcodec_dict *d);

/* Compresses src[0..len) into one frame appended to out, with dictionary d
 * (NULL: none). src may be NULL when len is 0 (an empty frame is ~13
 * bytes). Scratch memory: zstd's worst case for len (len + len/256 + a
 * few bytes), and the thread's context, kept (~0.6 MB after 50 KB inputs,
 * up to ~1.3 MB after megabytes, at level 3). Returns 0;
 * INLET_ETOOBIG when the frame does not fit in out->max; INLET_EINTERNAL
 * if zstd fails otherwise (it does not on valid arguments). On failure out
 * is as it was. */
int zcodec_compress(const struct zcodec_dict *d, const void *src, size_t len,
		    struct buf *out);

/* The dictionary id in the frame header at src, or 0 when the frame names
 * none or src does not start with a zstd frame header. */
uint32_t zcodec_frame_dict_id(const void *src, size_t len);

/* Decompresses exactly one frame src[0..len), appending its content to
 * out, with dictionary d (NULL for a frame without one). The content size
 * comes from the frame header and is checked against the room left in out
 * before anything is allocated; then a scratch buffer of that size takes
 * the content, copied into out once it checks out. So out->max is what a
 * forged header can make this allocate: keep it to what an event may be.
 * Memory besides: the thread's context (~100 KB, kept). INLET_ETOOBIG:
 * the content would pass
 * out->max. INLET_EINVAL: not exactly one zstd frame (skippable frames,
 * trailing bytes and cut frames included), no content size in the header,
 * corrupt data or a checksum mismatch, or d's id is not the frame's (a
 * frame with a dictionary and d NULL, or the other way round). On failure
 * out is as it was. */
int zcodec_decompress(const struct zcodec_dict *d, const void *src, size_t len,
		      struct buf *out);

/* Trains a dictionary of at most ZCODEC_DICT_MAX bytes from nsamples
 * samples laid end to end in samples (sample i is sizes[i] bytes, as
 * ZDICT_trainFromBuffer takes them) and appends it to out. Its id is
 * want_id, so the caller picks ids (random in the range above; a
 * collision within one endpoint is the caller's to avoid). zstd's own
 * default training (fastCover, d=8, 4 steps), then the dictionary is
 * finalized with want_id and statistics for ZCODEC_LEVEL; both calls are
 * zstd's stable API. Deterministic: the same samples give the same bytes.
 * About 40 ms per MB of samples on one core (tests/unit/test_zcodec.c):
 * cheap, but still no work for the request path.
 * INLET_EINVAL: fewer than ZCODEC_MIN_SAMPLES samples, want_id out of
 * range, samples or sizes NULL, or zstd cannot train on them (no bytes,
 * or too few to learn anything). INLET_ETOOBIG: more than
 * ZCODEC_TRAIN_MAX sample bytes, or the dictionary does not fit in out.
 * On failure out is as it was. */
int zcodec_train(const void *samples, const size_t *sizes, unsigned nsamples,
		 uint32_t want_id, struct buf *out);

#endif
