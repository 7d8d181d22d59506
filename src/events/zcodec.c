#include "events/zcodec.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zdict.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/err.h"

struct zcodec_dict {
	atomic_uint refs;     /* references; the last release frees */
	uint32_t id;          /* from the dictionary header; never 0 */
	ZSTD_CDict *cdict;    /* built once at ZCODEC_LEVEL; read-only after,
			       * so shared by every thread without a lock */
	ZSTD_DDict *ddict;    /* likewise */
};

/* ---- per-thread contexts ---- */

/* A thread's zstd contexts, each made on first use. Only the owning thread
 * touches it; the key's destructor frees it when the thread exits. */
struct zctx {
	ZSTD_CCtx *c;
	ZSTD_DCtx *d;
};

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t key;

/* zstd allocates with malloc and reports failure as NULL: the one
 * allocation policy (core/alloc.h) makes that fatal. */
static void zstd_oom(const char *what)
{
	fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"out of memory\",\"in\":\"%s\"}\n", what);
	abort();
}

static void zctx_free(void *p)
{
	struct zctx *z = p;

	ZSTD_freeCCtx(z->c);
	ZSTD_freeDCtx(z->d);
	free(z);
}

static void key_create(void)
{
	if (pthread_key_create(&key, zctx_free) != 0)
		zstd_oom("pthread_key_create");
}

static struct zctx *zctx_get(void)
{
	struct zctx *z;

	pthread_once(&key_once, key_create);
	z = pthread_getspecific(key);
	if (!z) {
		z = xcalloc(1, sizeof(*z));
		if (pthread_setspecific(key, z) != 0)
			zstd_oom("pthread_setspecific");
	}
	return z;
}

static ZSTD_CCtx *cctx_get(void)
{
	struct zctx *z = zctx_get();

	if (!z->c && !(z->c = ZSTD_createCCtx()))
		zstd_oom("ZSTD_createCCtx");
	return z->c;
}

static ZSTD_DCtx *dctx_get(void)
{
	struct zctx *z = zctx_get();

	if (!z->d && !(z->d = ZSTD_createDCtx()))
		zstd_oom("ZSTD_createDCtx");
	return z->d;
}

/* ---- dictionaries ---- */

int zcodec_dict_load(const void *dict, size_t len, uint32_t *id_out,
		     struct zcodec_dict **out)
{
	struct zcodec_dict *d;
	unsigned id;

	*out = NULL;
	if (id_out)
		*id_out = 0;
	if (len > ZCODEC_DICT_MAX)
		return INLET_ETOOBIG;
	if (!dict)
		return INLET_EINVAL;
	/* 0 for anything without the dictionary magic: zstd would take such
	 * bytes as raw content, which has no id to find it by. */
	id = ZSTD_getDictID_fromDict(dict, len);
	if (id == 0)
		return INLET_EINVAL;
	d = xcalloc(1, sizeof(*d));
	/* Both fail on corrupt entropy tables as on lack of memory; zstd does
	 * not say which, and the tables are the likelier. */
	d->cdict = ZSTD_createCDict(dict, len, ZCODEC_LEVEL);
	d->ddict = ZSTD_createDDict(dict, len);
	if (!d->cdict || !d->ddict) {
		ZSTD_freeCDict(d->cdict);
		ZSTD_freeDDict(d->ddict);
		free(d);
		return INLET_EINVAL;
	}
	d->id = id;
	atomic_init(&d->refs, 1);
	*out = d;
	if (id_out)
		*id_out = id;
	return 0;
}

void zcodec_dict_ref(struct zcodec_dict *d)
{
	unsigned prev = atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);

	assert(prev > 0);
	(void)prev;
}

void zcodec_dict_release(struct zcodec_dict *d)
{
	if (!d)
		return;
	/* acq_rel: the thread that frees sees every other thread's last use. */
	if (atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) != 1)
		return;
	ZSTD_freeCDict(d->cdict);
	ZSTD_freeDDict(d->ddict);
	free(d);
}

uint32_t zcodec_dict_id(const struct zcodec_dict *d)
{
	return d->id;
}

size_t zcodec_dict_memory(const struct zcodec_dict *d)
{
	return sizeof(*d) + ZSTD_sizeof_CDict(d->cdict) + ZSTD_sizeof_DDict(d->ddict);
}

/* ---- frames ---- */

int zcodec_compress(const struct zcodec_dict *d, const void *src, size_t len,
		    struct buf *out)
{
	ZSTD_CCtx *c = cctx_get();
	size_t bound, n;
	char *tmp;
	int rc;

	/* Into a scratch buffer of the worst case: zstd may need more room
	 * while it works than the frame takes in the end, so the room left in
	 * out is checked on the result (buf_append), not given to zstd. */
	bound = ZSTD_compressBound(len);
	if (ZSTD_isError(bound))
		return INLET_ETOOBIG;
	ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
	if (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, ZCODEC_LEVEL)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_dictIDFlag, 1)) ||
	    ZSTD_isError(ZSTD_CCtx_refCDict(c, d ? d->cdict : NULL)))
		return INLET_EINTERNAL;
	tmp = xmalloc(bound);
	n = ZSTD_compress2(c, tmp, bound, src ? src : "", len);
	rc = ZSTD_isError(n) ? INLET_EINTERNAL : buf_append(out, tmp, n);
	/* The context keeps a pointer to the CDict: let go of it now, so a
	 * dictionary freed later is never referenced from here. */
	ZSTD_CCtx_refCDict(c, NULL);
	free(tmp);
	return rc;
}

uint32_t zcodec_frame_dict_id(const void *src, size_t len)
{
	if (!src)
		return 0;
	return ZSTD_getDictID_fromFrame(src, len);
}

/* 1 when src starts with the magic number of a zstd data frame (not a
 * skippable one). */
static int is_zstd_frame(const unsigned char *p, size_t len)
{
	uint32_t magic;

	if (len < 4)
		return 0;
	magic = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return magic == ZSTD_MAGICNUMBER;
}

int zcodec_decompress(const struct zcodec_dict *d, const void *src, size_t len,
		      struct buf *out)
{
	unsigned long long size;
	ZSTD_DCtx *dc;
	size_t n;
	char *tmp;
	int rc;

	if (!src || !is_zstd_frame(src, len))
		return INLET_EINVAL;
	/* Exactly one frame, whole: zstd would go on to decode a second one
	 * after the first, and a cut frame fails here already. */
	n = ZSTD_findFrameCompressedSize(src, len);
	if (ZSTD_isError(n) || n != len)
		return INLET_EINVAL;
	if (zcodec_frame_dict_id(src, len) != (d ? d->id : 0))
		return INLET_EINVAL;
	size = ZSTD_getFrameContentSize(src, len);
	if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR)
		return INLET_EINVAL;
	if (size > out->max - out->len)
		return INLET_ETOOBIG;
	/* Decoding straight into a buffer of the whole size needs no window
	 * buffer; the copy into out costs far less than the decoding. */
	dc = dctx_get();
	ZSTD_DCtx_reset(dc, ZSTD_reset_session_and_parameters);
	tmp = xmalloc((size_t)size);
	if (d)
		n = ZSTD_decompress_usingDDict(dc, tmp, (size_t)size, src, len, d->ddict);
	else
		n = ZSTD_decompressDCtx(dc, tmp, (size_t)size, src, len);
	if (ZSTD_isError(n) || n != size)
		rc = INLET_EINVAL;
	else
		rc = buf_append(out, tmp, n);
	free(tmp);
	return rc;
}

/* ---- training ---- */

int zcodec_train(const void *samples, const size_t *sizes, unsigned nsamples,
		 uint32_t want_id, struct buf *out)
{
	ZDICT_params_t params;
	size_t total = 0, n, hdr;
	unsigned i;
	char *raw = NULL, *dict = NULL;
	int rc;

	if (nsamples < ZCODEC_MIN_SAMPLES || !sizes ||
	    want_id < ZCODEC_ID_MIN || want_id > ZCODEC_ID_MAX)
		return INLET_EINVAL;
	for (i = 0; i < nsamples; i++) {
		if (sizes[i] > ZCODEC_TRAIN_MAX - total)
			return INLET_ETOOBIG;
		total += sizes[i];
	}
	if (!samples || total == 0)
		return INLET_EINVAL;
	/* zstd's default training picks a random id, then the dictionary's
	 * content is finalized again under the caller's id. Both steps are
	 * the stable API; the id lives in the header only, the content and
	 * its statistics come out the same. */
	raw = xmalloc(ZCODEC_DICT_MAX);
	dict = xmalloc(ZCODEC_DICT_MAX);
	n = ZDICT_trainFromBuffer(raw, ZCODEC_DICT_MAX, samples, sizes, nsamples);
	if (ZDICT_isError(n)) {
		rc = INLET_EINVAL;
		goto out;
	}
	hdr = ZDICT_getDictHeaderSize(raw, n);
	if (ZDICT_isError(hdr) || hdr >= n) {
		rc = INLET_EINVAL;
		goto out;
	}
	memset(&params, 0, sizeof(params));
	params.compressionLevel = ZCODEC_LEVEL;
	params.dictID = want_id;
	n = ZDICT_finalizeDictionary(dict, ZCODEC_DICT_MAX, raw + hdr, n - hdr,
				     samples, sizes, nsamples, params);
	if (ZDICT_isError(n)) {
		rc = INLET_EINVAL;
		goto out;
	}
	assert(ZDICT_getDictID(dict, n) == want_id);
	rc = buf_append(out, dict, n);
out:
	free(raw);
	free(dict);
	return rc;
}
