/* The pure parts of the S3 backend: endpoints and URLs as SigV4 signs
 * them (blob/s3req.h), digests, the XML scanner (blob/s3xml.h), the key
 * rules (blob/blob.h) and which failures are retried. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "blob/blob.h"
#include "blob/s3req.h"
#include "blob/s3xml.h"
#include "core/buf.h"
#include "core/err.h"

static void t_target_parse(void **state)
{
	struct s3req_target t;
	char err[200];

	(void)state;
	assert_int_equal(s3req_target_parse(&t, "https://s3.eu-west-1.amazonaws.com", "my-bucket", 0, err, sizeof(err)), 0);
	assert_string_equal(t.scheme, "https");
	assert_string_equal(t.host, "s3.eu-west-1.amazonaws.com");
	assert_string_equal(t.bucket, "my-bucket");
	assert_int_equal(t.path_style, 0);
	assert_int_equal(s3req_target_parse(&t, "http://127.0.0.1:9000/", "b.c-1", 1, err, sizeof(err)), 0);
	assert_string_equal(t.scheme, "http");
	assert_string_equal(t.host, "127.0.0.1:9000");
	assert_int_equal(s3req_target_parse(&t, "http://[::1]:9000", "bucket", 1, err, sizeof(err)), 0);
	assert_string_equal(t.host, "[::1]:9000");

	/* Only scheme://host[:port]: anything more would change what is signed. */
	static const char *const bad_endpoints[] = {
		"ftp://x", "s3.amazonaws.com", "https://", "https:///", "https://user:pw@host",
		"https://host/path", "https://host?x=1", "https://host#f", "https://ho st",
	};
	for (size_t i = 0; i < sizeof(bad_endpoints) / sizeof(bad_endpoints[0]); i++) {
		err[0] = '\0';
		assert_int_equal(s3req_target_parse(&t, bad_endpoints[i], "bucket", 1, err, sizeof(err)), INLET_EINVAL);
		assert_non_null(strstr(err, "INLET_S3_ENDPOINT"));
	}
	static const char *const bad_buckets[] = { "", "ab", "Bucket", "my_bucket", "a/b",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 64 */ };
	for (size_t i = 0; i < sizeof(bad_buckets) / sizeof(bad_buckets[0]); i++) {
		assert_int_equal(s3req_target_parse(&t, "https://h", bad_buckets[i], 1, err, sizeof(err)), INLET_EINVAL);
		assert_non_null(strstr(err, "INLET_S3_BUCKET"));
	}
}

static void t_urls(void **state)
{
	struct s3req_target t;
	char err[200], url[S3REQ_URL_MAX], small[30];

	(void)state;
	assert_int_equal(s3req_target_parse(&t, "http://127.0.0.1:9000", "inlet", 1, err, sizeof(err)), 0);
	assert_int_equal(s3req_url(&t, "ep_x/sub_y.0", NULL, url, sizeof(url)), 0);
	assert_string_equal(url, "http://127.0.0.1:9000/inlet/ep_x/sub_y.0");
	assert_int_equal(s3req_url(&t, NULL, "delete=", url, sizeof(url)), 0);
	assert_string_equal(url, "http://127.0.0.1:9000/inlet?delete=");
	assert_int_equal(s3req_url(&t, "a/b", "", url, sizeof(url)), 0);
	assert_string_equal(url, "http://127.0.0.1:9000/inlet/a/b");
	/* Names are percent-encoded segment by segment, slashes kept. */
	assert_int_equal(s3req_url(&t, "dir/a b+c~d", NULL, url, sizeof(url)), 0);
	assert_string_equal(url, "http://127.0.0.1:9000/inlet/dir/a%20b%2Bc~d");

	assert_int_equal(s3req_target_parse(&t, "https://s3.eu-west-1.amazonaws.com", "inlet", 0, err, sizeof(err)), 0);
	assert_int_equal(s3req_url(&t, "p/ep_x/f.1", "partNumber=2&uploadId=u", url, sizeof(url)), 0);
	assert_string_equal(url, "https://inlet.s3.eu-west-1.amazonaws.com/p/ep_x/f.1?partNumber=2&uploadId=u");
	assert_int_equal(s3req_url(&t, NULL, "list-type=2", url, sizeof(url)), 0);
	assert_string_equal(url, "https://inlet.s3.eu-west-1.amazonaws.com/?list-type=2");

	assert_int_equal(s3req_url(&t, "a-long-name-that-does-not-fit", NULL, small, sizeof(small)), INLET_ETOOBIG);
}

static void t_query(void **state)
{
	struct buf q;

	(void)state;
	buf_init(&q, 0);
	/* SigV4's canonical form: name=value pairs in name order, every
	 * reserved byte as upper-case %XX, '=' kept for empty values. */
	assert_int_equal(s3req_query_add(&q, "continuation-token", "1ab/+=x y"), 0);
	assert_int_equal(s3req_query_add(&q, "list-type", "2"), 0);
	assert_int_equal(s3req_query_add(&q, "max-keys", "1000"), 0);
	assert_int_equal(s3req_query_add(&q, "prefix", "ep_x/"), 0);
	assert_string_equal(q.data, "continuation-token=1ab%2F%2B%3Dx%20y&list-type=2&max-keys=1000&prefix=ep_x%2F");
	buf_reset(&q);
	assert_int_equal(s3req_query_add(&q, "uploads", ""), 0);
	assert_string_equal(q.data, "uploads=");
	buf_reset(&q);
	assert_int_equal(s3req_encode(&q, "\xc3\xa9~._-/", 0), 0);
	assert_string_equal(q.data, "%C3%A9~._-%2F");
	buf_free(&q);
}

static void t_digests(void **state)
{
	static const char del[] = "<Delete><Quiet>true</Quiet><Object><Key>ep_x/sub_y.0</Key></Object></Delete>";
	char md5[25], sha[65];

	(void)state;
	s3req_content_md5("", 0, md5);
	assert_string_equal(md5, "1B2M2Y8AsgTpgAmY7PhCfg==");
	s3req_content_md5(del, strlen(del), md5);
	assert_string_equal(md5, "2po9mOxZkXLfqLdOPygojA==");
	s3req_sha256_hex("", 0, sha);
	assert_string_equal(sha, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	s3req_sha256_hex(del, strlen(del), sha);
	assert_string_equal(sha, "7090723512ed9bb3b771414694bb5b30d6512034a800549fee4688ae5ad6a192");
}

#define XML(s) s, strlen(s)

static void t_xml_root(void **state)
{
	char root[24];

	(void)state;
	assert_int_equal(s3xml_root(XML("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>X</Code></Error>"),
				    root, sizeof(root)), 0);
	assert_string_equal(root, "Error");
	assert_int_equal(s3xml_root(XML("  <!-- c --><ListBucketResult xmlns=\"http://s3\">"), root, sizeof(root)), 0);
	assert_string_equal(root, "ListBucketResult");
	assert_int_equal(s3xml_root(XML("<A/>"), root, sizeof(root)), 0);
	assert_string_equal(root, "A");
	assert_int_equal(s3xml_root(XML(""), root, sizeof(root)), INLET_EINVAL);
	assert_int_equal(s3xml_root(XML("text"), root, sizeof(root)), INLET_EINVAL);
	assert_int_equal(s3xml_root(XML("<?xml"), root, sizeof(root)), INLET_EINVAL);
	assert_int_equal(s3xml_root(XML("< >"), root, sizeof(root)), INLET_EINVAL);
	assert_int_equal(s3xml_root(XML("<CompleteMultipartUploadResult>"), root, sizeof(root)), INLET_ETOOBIG);
	assert_int_equal(s3xml_root(XML("<ABCDEFGHIJKLMNOPQRSTUVW>"), root, sizeof(root)), 0); /* 23 fit */
}

static void t_xml_list(void **state)
{
	static const char list[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
		"<Prefix>ep_x/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
		"<Contents><Key>ep_x/a.0</Key><ETag>&quot;9b2c&quot;</ETag><Size>5</Size></Contents>"
		"<Contents><Key >ep_x/b&amp;c.1</Key ><Size>7</Size></Contents>"
		"<NextContinuationToken>1x/+=&#x41;&#66;</NextContinuationToken></ListBucketResult>";
	char v[64];
	size_t pos = 0;

	(void)state;
	/* KeyCount is not Key. */
	assert_int_equal(s3xml_next(XML(list), &pos, "Key", v, sizeof(v)), 1);
	assert_string_equal(v, "ep_x/a.0");
	assert_int_equal(s3xml_next(XML(list), &pos, "Key", v, sizeof(v)), 1);
	assert_string_equal(v, "ep_x/b&c.1");
	assert_int_equal(s3xml_next(XML(list), &pos, "Key", v, sizeof(v)), 0);
	pos = 0;
	assert_int_equal(s3xml_next(XML(list), &pos, "IsTruncated", v, sizeof(v)), 1);
	assert_string_equal(v, "true");
	pos = 0;
	assert_int_equal(s3xml_next(XML(list), &pos, "NextContinuationToken", v, sizeof(v)), 1);
	assert_string_equal(v, "1x/+=AB");
	pos = 0;
	assert_int_equal(s3xml_next(XML(list), &pos, "ETag", v, sizeof(v)), 1);
	assert_string_equal(v, "\"9b2c\"");
	pos = 0;
	assert_int_equal(s3xml_next(XML(list), &pos, "Owner", v, sizeof(v)), 0);
}

static void t_xml_answers(void **state)
{
	static const char created[] = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
				      "<UploadId>VXBsb2FkIElE.bG9uZw--</UploadId></InitiateMultipartUploadResult>";
	static const char deleted[] = "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>ep_x/b.0</Key>"
				      "<Code>AccessDenied</Code><Message>no</Message></Error></DeleteResult>";
	static const char quiet[] = "<DeleteResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>";
	char v[64];
	size_t pos = 0, start, len, p;

	(void)state;
	assert_int_equal(s3xml_next(XML(created), &pos, "UploadId", v, sizeof(v)), 1);
	assert_string_equal(v, "VXBsb2FkIElE.bG9uZw--");
	/* An <Error> inside DeleteResult, read within its own span. */
	pos = 0;
	assert_int_equal(s3xml_element(XML(deleted), &pos, "Error", &start, &len), 1);
	p = 0;
	assert_int_equal(s3xml_next(deleted + start, len, &p, "Key", v, sizeof(v)), 1);
	assert_string_equal(v, "ep_x/b.0");
	assert_int_equal(s3xml_next(deleted + start, len, &p, "Code", v, sizeof(v)), 1);
	assert_string_equal(v, "AccessDenied");
	assert_int_equal(s3xml_element(XML(deleted), &pos, "Error", &start, &len), 0);
	pos = 0;
	assert_int_equal(s3xml_element(XML(quiet), &pos, "Error", &start, &len), 0);
	pos = 0;
	assert_int_equal(s3xml_element(XML(quiet), &pos, "DeleteResult", &start, &len), 1);
	assert_int_equal(len, 0);
	/* An attribute value may hold '>'. */
	pos = 0;
	assert_int_equal(s3xml_next(XML("<A x='1>2'>v</A>"), &pos, "A", v, sizeof(v)), 1);
	assert_string_equal(v, "v");
}

static void t_xml_malformed(void **state)
{
	char v[8];
	size_t pos;

	(void)state;
	pos = 0;
	assert_int_equal(s3xml_next(XML("<Key>abc"), &pos, "Key", v, sizeof(v)), INLET_EINVAL);
	pos = 0;
	assert_int_equal(s3xml_next(XML("<Key"), &pos, "Key", v, sizeof(v)), INLET_EINVAL);
	pos = 0;
	assert_int_equal(s3xml_next(XML("<Key>a<b/>c</Key>"), &pos, "Key", v, sizeof(v)), INLET_EINVAL);
	pos = 0;
	assert_int_equal(s3xml_next(XML("<Key>12345678</Key>"), &pos, "Key", v, sizeof(v)), INLET_ETOOBIG);
	pos = 0;
	assert_int_equal(s3xml_next(XML("<Key>1234567</Key>"), &pos, "Key", v, sizeof(v)), 1);
	pos = 0;
	assert_int_equal(s3xml_next(XML("<Key></Key"), &pos, "Key", v, sizeof(v)), INLET_EINVAL);
	pos = 0;
	assert_int_equal(s3xml_next(XML("<Key></Ke>"), &pos, "Key", v, sizeof(v)), INLET_EINVAL);
}

static void t_xml_text(void **state)
{
	char v[16];

	(void)state;
	assert_int_equal(s3xml_text(XML("a&lt;&gt;&amp;&quot;&apos;"), v, sizeof(v)), 0);
	assert_string_equal(v, "a<>&\"'");
	assert_int_equal(s3xml_text(XML("&#233;&#x1F600;"), v, sizeof(v)), 0);
	assert_string_equal(v, "\xc3\xa9\xf0\x9f\x98\x80");
	assert_int_equal(s3xml_text(XML(""), v, sizeof(v)), 0);
	assert_string_equal(v, "");
	static const char *const bad[] = { "&", "&amp", "&foo;", "&#;", "&#x;", "&#0;", "&#xD800;", "&#x110000;",
					   "&#12a;", "&#123456789;", "a<b" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(s3xml_text(XML(bad[i]), v, sizeof(v)), INLET_EINVAL);
	/* Room for the bytes and the NUL, exactly. */
	assert_int_equal(s3xml_text(XML("&#x1F600;"), v, 5), 0);
	assert_int_equal(s3xml_text(XML("&#x1F600;"), v, 4), INLET_ETOOBIG);
	assert_int_equal(s3xml_text(XML("abc"), v, 3), INLET_ETOOBIG);
	assert_int_equal(s3xml_text(XML(""), v, 0), INLET_ETOOBIG);
}

static void t_xml_escape(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 0);
	assert_int_equal(s3xml_escape(&b, "a&b<c>\"d'e"), 0);
	assert_string_equal(b.data, "a&amp;b&lt;c&gt;&quot;d&apos;e");
	buf_free(&b);
	buf_init(&b, 4);
	assert_int_equal(s3xml_escape(&b, "&"), INLET_ETOOBIG);
	buf_free(&b);
}

static void t_keys(void **state)
{
	(void)state;
	assert_true(blob_key_ok("ep_x/sub_y.0", 0));
	assert_true(blob_key_ok("a", 0));
	assert_true(blob_key_ok("a..b/c-d_E.9", 0));
	assert_true(blob_key_ok("ep_x/", 1));
	assert_false(blob_key_ok("ep_x/", 0));
	static const char *const bad[] = { "", "/a", "a//b", "a/./b", "a/../b", "..", ".", "a/.", "a b", "a\\b",
					   "a%2F", "\xc3\xa9" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(blob_key_ok(bad[i], 0));
		assert_false(blob_key_ok(bad[i], 1));
	}
	assert_false(blob_key_ok("/", 1));
}

static void t_retryable(void **state)
{
	(void)state;
	assert_true(s3req_retryable(S3REQ_RETRY_ALL, CURLE_OK, 500));
	assert_true(s3req_retryable(S3REQ_RETRY_ALL, CURLE_OK, 503));
	assert_true(s3req_retryable(S3REQ_RETRY_ALL, CURLE_OK, 429));
	assert_true(s3req_retryable(S3REQ_RETRY_ALL, CURLE_RECV_ERROR, 0));
	assert_true(s3req_retryable(S3REQ_RETRY_ALL, CURLE_OPERATION_TIMEDOUT, 0));
	assert_false(s3req_retryable(S3REQ_RETRY_ALL, CURLE_OK, 404));
	assert_false(s3req_retryable(S3REQ_RETRY_ALL, CURLE_OK, 403));
	assert_false(s3req_retryable(S3REQ_RETRY_ALL, CURLE_OK, 412));
	/* A request that must not be repeated once sent. */
	assert_true(s3req_retryable(S3REQ_RETRY_UNSENT, CURLE_COULDNT_CONNECT, 0));
	assert_true(s3req_retryable(S3REQ_RETRY_UNSENT, CURLE_OK, 503)); /* SlowDown: refused, not done */
	assert_true(s3req_retryable(S3REQ_RETRY_UNSENT, CURLE_OK, 429));
	assert_false(s3req_retryable(S3REQ_RETRY_UNSENT, CURLE_OK, 500)); /* may have been done */
	assert_false(s3req_retryable(S3REQ_RETRY_UNSENT, CURLE_RECV_ERROR, 0));
	assert_false(s3req_retryable(S3REQ_RETRY_NONE, CURLE_COULDNT_CONNECT, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_target_parse),
		cmocka_unit_test(t_urls),
		cmocka_unit_test(t_query),
		cmocka_unit_test(t_digests),
		cmocka_unit_test(t_xml_root),
		cmocka_unit_test(t_xml_list),
		cmocka_unit_test(t_xml_answers),
		cmocka_unit_test(t_xml_malformed),
		cmocka_unit_test(t_xml_text),
		cmocka_unit_test(t_xml_escape),
		cmocka_unit_test(t_keys),
		cmocka_unit_test(t_retryable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
