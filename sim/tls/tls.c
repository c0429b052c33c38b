/* The TLS adapter over mbedTLS 2.28 (Debian 12): the only file of the product that includes
 * mbedTLS headers. See tls.h for the contract.
 *
 * Wire picture (client side, what the module does on AT+QSSLOPEN / an MQTT SSL connect):
 *
 *   ==> ClientHello (versions cfg->version_min..max, the configured suites, SNI if cfg->sni)
 *   <== ServerHello, Certificate, [ServerKeyExchange], [CertificateRequest], ServerHelloDone
 *   ==> [Certificate], ClientKeyExchange, [CertificateVerify], ChangeCipherSpec, Finished
 *   <== ChangeCipherSpec, Finished
 *
 * Decisions where the sources are silent (real modules are closed firmware; where they run
 * mbedTLS themselves, behaving as mbedTLS does is the plausible choice):
 * - Certificates and keys are parsed at session creation, so a bad file fails the open before
 *   any byte goes out; the caller maps every failure to the module's one error (+QSSLOPEN 566,
 *   reference 4a and rule 13). seclevel 0 ignores the CA file, seclevel < 2 the client files.
 * - A CA bundle whose last certificate is cut short loads the complete ones: mbedtls_x509_crt_parse
 *   returns the number of failures (> 0), which applications such as curl accept.
 * - The name check is always ours (verify callback), never mbedTLS's: mbedtls_ssl_set_hostname
 *   ties SNI to the check, and the module configures them separately ("sni" key vs seclevel).
 *   Our check follows RFC 6125 as mbedTLS does (dNSName SANs with a leading "*." wildcard, CN
 *   only without a SAN extension) and also matches iPAddress SANs, which 2.28 cannot.
 * - The certificate profile accepts SHA-1 signatures and RSA keys from 1024 bits, where mbedTLS
 *   2.28's default profile wants SHA-2 and RSA 2048: a choice (unverified on a real module) so
 *   that certificates which modules of the EC25/M95 era took are not refused by us alone.
 * - Before the ServerHello a handshake_failure alert can only be about what we offered, so it
 *   is reported as "no common cipher suite" (our inference; the alert carries no reason).
 *
 * Memory and CPU at fleet scale (issue 13: a thousand modems in one process):
 * - One entropy source and one CTR_DRBG for the process (struct tls_rng), seeded on the first
 *   session and freed at exit, instead of an entropy context (38 KiB, and its setup cost) and a
 *   DRBG per session. A session's own seed (cfg->seed) is mixed into the shared DRBG as
 *   additional input when the session is made. Every session still runs its own full handshake
 *   with its own ephemeral keys; nothing of one session is reused by another (no tickets, no
 *   session cache). A DRBG per session seeded from the process one would cost sizeof
 *   (mbedtls_ctr_drbg_context) more per session and buys no separation that matters in one
 *   process.
 * - Certificates and keys are parsed once per file content (struct tls_parsed: a cache keyed by
 *   the SHA-256 of the bytes, their length and, for keys, the password), shared read-only by
 *   every session configured with the same bytes, refcounted and freed with the last session
 *   using it. At most TLS_CACHE_MAX contents are cached at a time; beyond, a session parses its
 *   own copy, as before. Parse failures are never cached, so causes stay per session.
 * - The record buffers are mbedTLS's: 2.28 allocates MBEDTLS_SSL_IN/OUT_BUFFER_LEN (16 KiB of
 *   content each) at mbedtls_ssl_setup, fixed at compile time, and Debian's build lacks
 *   MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH, so the max_fragment_length extension could only shrink
 *   the records, not the buffers. Worse, tried against the embedded mosquitto (OpenSSL 3
 *   agrees to 1024), the handshake fails: the server's Certificate message then spans
 *   records, and 2.28 cannot reassemble a TLS handshake message ("The requested feature is
 *   not available"). So it is not offered; the module's ClientHello is unchanged.
 *
 * The process is one thread (one libuv loop): the shared DRBG and the cache take no lock. A
 * second thread making sessions would need one around tls_rng and tls_cache. */
#include "tls/tls.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/md.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pkcs12.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/x509_crt.h>

#include "core/err.h"
#include "core/buf.h"
#include "core/log.h"

/* Ciphertext the caller may feed ahead of tls_read: 64 KiB plus one maximal record (16 KiB of
 * content, expansion, header). A caller that drains tls_read after each feed never gets near. */
#define TLS_IN_LIMIT (64 * 1024 + 18 * 1024)
/* Ciphertext waiting for the socket beyond which tls_write takes nothing (TLS_WANT). */
#define TLS_OUT_LIMIT (64 * 1024)
#define TLS_CAUSE_LEN 512
/* A drained ciphertext buffer keeps its storage up to this size; a larger one (the server's
 * handshake flight, a large message) is released, so that an idle session of a fleet holds
 * no more than this twice beside mbedTLS's own record buffers. */
#define TLS_BUF_KEEP 1024

enum tls_state {
	TLS_ST_HANDSHAKE,
	TLS_ST_OPEN,
	TLS_ST_CLOSED,
	TLS_ST_FAILED,
};

/* Distinct certificate or key contents parsed and shared at a time (a fleet uses one CA file,
 * and one client certificate and key when they share them); sessions beyond parse their own. */
#define TLS_CACHE_MAX 64

enum tls_parsed_kind { TLS_PARSED_CRT, TLS_PARSED_KEY };

/* One parsed certificate chain or key, shared by the sessions configured with the same bytes. */
struct tls_parsed {
	struct tls_parsed *next; /* in tls_cache, or NULL when not cached (a session's own) */
	enum tls_parsed_kind kind;
	unsigned char digest[32]; /* SHA-256 of the bytes (and of the password, for a key) */
	size_t len;
	unsigned refs;
	bool cached;
	/* a key: the certificate content it was last found to match (mbedtls_pk_check_pair
	 * costs a private-key operation, which a fleet sharing the files need not repeat) */
	unsigned char paired_digest[32];
	size_t paired_len;
	mbedtls_x509_crt crt;
	mbedtls_pk_context pk;
};

static struct {
	struct tls_parsed *head;
	unsigned count;
} tls_cache;

/* The process's random generator (see the header comment). */
static struct {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	bool ready;
} tls_rng;

struct tls_session {
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	struct tls_parsed *ca;
	struct tls_parsed *cert;
	struct tls_parsed *key;
	int *suites; /* 0-terminated; mbedtls_ssl_conf_ciphersuites keeps the pointer */
	enum tls_state state;
	enum tls_verify verify;
	bool has_own_cert;
	bool eof;
	bool sent_close;
	bool ignore_time;
	int64_t now;
	char *verify_host;
	struct buf in; /* ciphertext fed, not yet taken by mbedTLS, from in_off */
	size_t in_off;
	struct buf out; /* ciphertext for the socket, from out_off */
	size_t out_off;
	char time_cause[160]; /* a validity failure the verify callback saw, the server's first */
	char cause[TLS_CAUSE_LEN];
};

static const char *state_name(enum tls_state st)
{
	switch (st) {
	case TLS_ST_HANDSHAKE:
		return "handshake";
	case TLS_ST_OPEN:
		return "open";
	case TLS_ST_CLOSED:
		return "closed";
	case TLS_ST_FAILED:
		return "failed";
	}
	return "?";
}

static void set_state(struct tls_session *s, enum tls_state st)
{
	if (s->state == st)
		return;
	log_msg(LOG_DEBUG, "tls: %s -> %s%s%s", state_name(s->state), state_name(st),
	        s->cause[0] ? ": " : "", s->cause);
	s->state = st;
}

static void set_cause(struct tls_session *s, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void set_cause(struct tls_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->cause, sizeof(s->cause), fmt, ap);
	va_end(ap);
}

static void fail(struct tls_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct tls_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->cause, sizeof(s->cause), fmt, ap);
	va_end(ap);
	set_state(s, TLS_ST_FAILED);
}

/* mbedTLS's text for an error code, for the codes we have no plain words for. */
static const char *lib_error(int ret, char *buf, size_t len)
{
	mbedtls_strerror(ret, buf, len);
	return buf;
}

/* ---- time: mbedtls_x509_time (UTC) <-> Unix seconds, proleptic Gregorian ---- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t x509_time_unix(const mbedtls_x509_time *t)
{
	return days_from_civil(t->year, t->mon, t->day) * 86400 + t->hour * 3600 + t->min * 60 +
	       t->sec;
}

static void unix_to_civil(int64_t t, mbedtls_x509_time *out)
{
	int64_t days = t / 86400, secs = t % 86400, era, doe, yoe, y, doy, mp;

	if (secs < 0) {
		secs += 86400;
		days--;
	}
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	out->day = (int)(doy - (153 * mp + 2) / 5 + 1);
	out->mon = (int)(mp < 10 ? mp + 3 : mp - 9);
	out->year = (int)(y + (out->mon <= 2));
	out->hour = (int)(secs / 3600);
	out->min = (int)(secs / 60 % 60);
	out->sec = (int)(secs % 60);
}

/* "2017-06-12"; with the time of day when both dates of a message fall on the same day. */
static void fmt_time(char *buf, size_t len, const mbedtls_x509_time *t, bool with_time)
{
	if (with_time)
		snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d UTC", t->year, t->mon, t->day,
		         t->hour, t->min, t->sec);
	else
		snprintf(buf, len, "%04d-%02d-%02d", t->year, t->mon, t->day);
}

static void note_time_failure(struct tls_session *s, int depth, bool expired,
                              const mbedtls_x509_time *bound)
{
	mbedtls_x509_time now;
	bool same_day;
	char a[32], b[32];

	/* the callback goes root first; the server's own certificate is what a person checks
	 * first, so its failure replaces a CA's */
	if (s->time_cause[0] && depth != 0)
		return;
	unix_to_civil(s->now, &now);
	same_day = now.year == bound->year && now.mon == bound->mon && now.day == bound->day;
	fmt_time(a, sizeof(a), &now, same_day);
	fmt_time(b, sizeof(b), bound, same_day);
	snprintf(s->time_cause, sizeof(s->time_cause),
	         "%s certificate %s per modem clock %s (%s %s)", depth == 0 ? "server" : "CA",
	         expired ? "expired" : "not yet valid", a, expired ? "valid until" : "valid from",
	         b);
}

/* ---- name check (see the header comment for why it is ours) ---- */

static bool label_match(const char *pattern, size_t plen, const char *host)
{
	const char *dot;

	if (plen == strlen(host) && strncasecmp(pattern, host, plen) == 0)
		return true;
	/* "*.example.com" matches exactly one leading label, as in mbedTLS and RFC 6125 6.4.3 */
	if (plen > 2 && pattern[0] == '*' && pattern[1] == '.') {
		dot = strchr(host, '.');
		if (dot && dot != host && strlen(dot) == plen - 1 &&
		    strncasecmp(dot, pattern + 1, plen - 1) == 0)
			return true;
	}
	return false;
}

static bool name_matches(const mbedtls_x509_crt *crt, const char *host)
{
	const mbedtls_x509_sequence *san;
	const mbedtls_x509_name *n;
	unsigned char ip[16];
	size_t iplen = 0;

	if (inet_pton(AF_INET, host, ip) == 1)
		iplen = 4;
	else if (inet_pton(AF_INET6, host, ip) == 1)
		iplen = 16;
	if (crt->ext_types & MBEDTLS_X509_EXT_SUBJECT_ALT_NAME) {
		for (san = &crt->subject_alt_names; san; san = san->next) {
			int type = san->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK;

			if (!san->buf.p)
				continue;
			if (type == MBEDTLS_X509_SAN_DNS_NAME && !iplen &&
			    label_match((const char *)san->buf.p, san->buf.len, host))
				return true;
			if (type == MBEDTLS_X509_SAN_IP_ADDRESS && iplen && san->buf.len == iplen &&
			    memcmp(san->buf.p, ip, iplen) == 0)
				return true;
		}
		return false;
	}
	for (n = &crt->subject; n; n = n->next) {
		if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 &&
		    label_match((const char *)n->val.p, n->val.len, host))
			return true;
	}
	return false;
}

/* Called by mbedTLS for every certificate of the chain, root first, with the flags it computed.
 * Validity is judged by the modem's clock, not the host's: a module checks against its RTC
 * (AT+CCLK), and the host clock has nothing to do with the simulated one. */
static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls_session *s = ctx;

	*flags &= ~(uint32_t)(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE);
	if (!s->ignore_time) {
		if (s->now > x509_time_unix(&crt->valid_to)) {
			*flags |= MBEDTLS_X509_BADCERT_EXPIRED;
			note_time_failure(s, depth, true, &crt->valid_to);
		} else if (s->now < x509_time_unix(&crt->valid_from)) {
			*flags |= MBEDTLS_X509_BADCERT_FUTURE;
			note_time_failure(s, depth, false, &crt->valid_from);
		}
	}
	if (depth == 0) {
		*flags &= ~(uint32_t)MBEDTLS_X509_BADCERT_CN_MISMATCH;
		if (s->verify_host && !name_matches(crt, s->verify_host))
			*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	}
	return 0;
}

/* ---- memory BIO ---- */

static int bio_send(void *ctx, const unsigned char *p, size_t n)
{
	struct tls_session *s = ctx;

	if (s->out_off) {
		buf_consume(&s->out, s->out_off);
		s->out_off = 0;
	}
	if (buf_append(&s->out, p, n))
		return MBEDTLS_ERR_SSL_ALLOC_FAILED;
	return (int)n;
}

static int bio_recv(void *ctx, unsigned char *p, size_t n)
{
	struct tls_session *s = ctx;
	size_t avail = s->in.len - s->in_off;

	if (!avail)
		return s->eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
	if (n > avail)
		n = avail;
	memcpy(p, s->in.data + s->in_off, n);
	s->in_off += n;
	if (s->in_off == s->in.len) {
		s->in.len = 0;
		s->in_off = 0;
		if (s->in.cap > TLS_BUF_KEEP)
			buf_free(&s->in);
	}
	return (int)n;
}

/* ---- loading certificates and keys from the file store ---- */

static bool has_str(const uint8_t *p, size_t n, const char *str)
{
	return memmem(p, n, str, strlen(str)) != NULL;
}

/* PEM needs a NUL-terminated copy whose length counts the NUL (mbedTLS's rule); DER is passed
 * as stored. *tmp is the copy to free, or NULL. */
static const uint8_t *as_parse_input(const uint8_t *p, size_t n, uint8_t **tmp, size_t *len)
{
	*tmp = NULL;
	*len = n;
	if (!has_str(p, n, "-----BEGIN "))
		return p;
	*tmp = malloc(n + 1);
	if (!*tmp)
		return NULL;
	memcpy(*tmp, p, n);
	(*tmp)[n] = 0;
	*len = n + 1;
	return *tmp;
}

/* Why PEM data did not parse, in the words a person checking the upload would use. marker is
 * what the right kind of PEM contains ("-----BEGIN CERTIFICATE-----", "PRIVATE KEY-----"). */
static void pem_diagnosis(const uint8_t *p, size_t n, const char *what, const char *marker, int ret,
                          char *buf, size_t len)
{
	const uint8_t *last = NULL, *q = p, *label, *e = p + n;
	char end[80], lib[128];
	size_t k;

	while ((q = memmem(q, (size_t)(e - q), "-----BEGIN ", 11)) != NULL)
		last = q++;
	if (!last) {
		snprintf(buf, len, "DER parse error: %s", lib_error(ret, lib, sizeof(lib)));
		return;
	}
	/* the last BEGIN line, "-----BEGIN <label>-----", must be whole ... */
	label = last + 11;
	for (k = 0; label + k < e && label[k] != '-' && label[k] != '\r' && label[k] != '\n'; k++)
		;
	if (k > 40 || (size_t)(e - label) < k + 5 || memcmp(label + k, "-----", 5) != 0) {
		snprintf(buf, len, "PEM parse error: data truncated (BEGIN line cut)");
		return;
	}
	/* ... be of the right kind ... */
	if (!has_str(p, n, marker)) {
		for (k = 0; last + k < e && k < 64 && last[k] != '\r' && last[k] != '\n'; k++)
			;
		snprintf(buf, len, "PEM parse error: no %s in the file (found %.*s)", what, (int)k,
		         (const char *)last);
		return;
	}
	/* ... and have its END line */
	snprintf(end, sizeof(end), "-----END %.*s-----", (int)k, (const char *)label);
	if (!memmem(label, (size_t)(e - label), end, strlen(end))) {
		snprintf(buf, len, "PEM parse error: data truncated (no END line)");
		return;
	}
	if (-(-ret & 0xFF80) == MBEDTLS_ERR_PEM_INVALID_DATA) {
		snprintf(buf, len, "PEM parse error: invalid base64 data");
		return;
	}
	snprintf(buf, len, "PEM parse error: %s", lib_error(ret, lib, sizeof(lib)));
}

/* ---- parsed certificates and keys, shared by content (see the header comment) ---- */

static void parsed_digest(const uint8_t *p, size_t n, const char *pwd, unsigned char out[32])
{
	mbedtls_sha256_context c;

	mbedtls_sha256_init(&c);
	mbedtls_sha256_starts_ret(&c, 0);
	mbedtls_sha256_update_ret(&c, p, n);
	if (pwd && pwd[0]) {
		/* the same key bytes under another password are another entry */
		mbedtls_sha256_update_ret(&c, (const unsigned char *)"", 1);
		mbedtls_sha256_update_ret(&c, (const unsigned char *)pwd, strlen(pwd));
	}
	mbedtls_sha256_finish_ret(&c, out);
	mbedtls_sha256_free(&c);
}

/* A cached entry with these bytes, its reference taken; or NULL. */
static struct tls_parsed *parsed_get(enum tls_parsed_kind kind, const unsigned char digest[32],
                                     size_t len)
{
	struct tls_parsed *e;

	for (e = tls_cache.head; e; e = e->next)
		if (e->kind == kind && e->len == len && !memcmp(e->digest, digest, 32)) {
			e->refs++;
			return e;
		}
	return NULL;
}

static struct tls_parsed *parsed_new(enum tls_parsed_kind kind, const unsigned char digest[32],
                                     size_t len)
{
	struct tls_parsed *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->kind = kind;
	memcpy(e->digest, digest, 32);
	e->len = len;
	e->refs = 1;
	mbedtls_x509_crt_init(&e->crt);
	mbedtls_pk_init(&e->pk);
	return e;
}

/* A successfully parsed entry joins the cache, unless it is full. */
static void parsed_share(struct tls_parsed *e)
{
	if (tls_cache.count >= TLS_CACHE_MAX)
		return;
	e->cached = true;
	e->next = tls_cache.head;
	tls_cache.head = e;
	tls_cache.count++;
}

/* Drop a reference; the last one frees the entry. NULL-safe. */
static void parsed_put(struct tls_parsed *e)
{
	struct tls_parsed **pp;

	if (!e || --e->refs)
		return;
	if (e->cached) {
		for (pp = &tls_cache.head; *pp; pp = &(*pp)->next)
			if (*pp == e) {
				*pp = e->next;
				break;
			}
		tls_cache.count--;
	}
	mbedtls_x509_crt_free(&e->crt);
	mbedtls_pk_free(&e->pk);
	free(e);
}

static int load_crt(struct tls_session *s, struct tls_parsed **out, const char *role,
                    const char *name, const uint8_t *p, size_t n)
{
	unsigned char digest[32];
	struct tls_parsed *e;
	const uint8_t *in;
	uint8_t *tmp = NULL;
	size_t len;
	char why[256];
	int ret;

	if (!name)
		name = "(unnamed)";
	if (!p || !n) {
		set_cause(s, "%s %s: file is empty", role, name);
		return -1;
	}
	parsed_digest(p, n, NULL, digest);
	*out = parsed_get(TLS_PARSED_CRT, digest, n);
	if (*out)
		return 0;
	e = parsed_new(TLS_PARSED_CRT, digest, n);
	in = e ? as_parse_input(p, n, &tmp, &len) : NULL;
	if (!in) {
		parsed_put(e);
		set_cause(s, "%s %s: out of memory", role, name);
		return -1;
	}
	ret = mbedtls_x509_crt_parse(&e->crt, in, len);
	free(tmp);
	if (ret < 0) {
		parsed_put(e);
		pem_diagnosis(p, n, "certificate", "-----BEGIN CERTIFICATE-----", ret, why,
		              sizeof(why));
		set_cause(s, "%s %s: %s", role, name, why);
		return -1;
	}
	if (ret > 0)
		log_msg(LOG_DEBUG, "tls: %s %s: %d certificate(s) skipped as unparsable", role,
		        name, ret);
	parsed_share(e);
	*out = e;
	return 0;
}

static int load_key(struct tls_session *s, const struct tls_config *cfg)
{
	const char *name = cfg->key_name ? cfg->key_name : "(unnamed)";
	const char *pwd = cfg->key_password;
	size_t pwdlen = pwd ? strlen(pwd) : 0;
	unsigned char digest[32];
	struct tls_parsed *e;
	const uint8_t *in;
	uint8_t *tmp = NULL;
	size_t len;
	char why[256];
	int ret;

	if (!cfg->key || !cfg->key_len) {
		set_cause(s, "private key %s: file is empty", name);
		return -1;
	}
	parsed_digest(cfg->key, cfg->key_len, pwd, digest);
	s->key = parsed_get(TLS_PARSED_KEY, digest, cfg->key_len);
	if (s->key)
		return 0;
	e = parsed_new(TLS_PARSED_KEY, digest, cfg->key_len);
	in = e ? as_parse_input(cfg->key, cfg->key_len, &tmp, &len) : NULL;
	if (!in) {
		parsed_put(e);
		set_cause(s, "private key %s: out of memory", name);
		return -1;
	}
	ret = mbedtls_pk_parse_key(&e->pk, in, len, (const unsigned char *)(pwdlen ? pwd : NULL),
	                           pwdlen);
	free(tmp);
	if (ret == 0) {
		parsed_share(e);
		s->key = e;
		return 0;
	}
	parsed_put(e);
	switch (ret) {
	case MBEDTLS_ERR_PK_PASSWORD_REQUIRED:
		set_cause(s, "private key %s is encrypted but no password is configured", name);
		return -1;
	case MBEDTLS_ERR_PK_PASSWORD_MISMATCH:
		set_cause(s, "private key password wrong for %s", name);
		return -1;
	case MBEDTLS_ERR_PK_FEATURE_UNAVAILABLE:
	case MBEDTLS_ERR_PK_UNKNOWN_PK_ALG:
		set_cause(s, "private key %s: key type not supported", name);
		return -1;
	case MBEDTLS_ERR_PKCS5_FEATURE_UNAVAILABLE:
	case MBEDTLS_ERR_PKCS12_FEATURE_UNAVAILABLE:
		/* 2.28's PKCS#5 knows PBKDF2 with HMAC-SHA1 only, so OpenSSL 3's default
		 * PKCS#8 encryption (HMAC-SHA256) is refused here as on any such device */
		set_cause(s, "private key %s: key encryption scheme not supported", name);
		return -1;
	default:
		break;
	}
	pem_diagnosis(cfg->key, cfg->key_len, "private key", "PRIVATE KEY-----", ret, why,
	              sizeof(why));
	set_cause(s, "private key %s: %s", name, why);
	return -1;
}

/* Does the key belong to the certificate? Remembered per key for the last certificate content
 * checked, so a fleet sharing one pair pays the private-key operation once. */
static bool key_matches(struct tls_parsed *key, const struct tls_parsed *cert)
{
	if (key->paired_len == cert->len && !memcmp(key->paired_digest, cert->digest, 32))
		return true;
	if (mbedtls_pk_check_pair(&cert->crt.pk, &key->pk))
		return false;
	memcpy(key->paired_digest, cert->digest, 32);
	key->paired_len = cert->len;
	return true;
}

/* ---- the process's random generator ---- */

static void rng_free(void)
{
	if (!tls_rng.ready)
		return;
	mbedtls_ctr_drbg_free(&tls_rng.drbg);
	mbedtls_entropy_free(&tls_rng.entropy);
	tls_rng.ready = false;
}

/* The shared DRBG, seeded on first use, with the session's seed mixed in as additional input;
 * NULL with the library's reason in why. */
static mbedtls_ctr_drbg_context *rng_get(uint64_t seed, char *why, size_t len)
{
	static const char pers[] = "modemsim-tls";
	static bool registered;
	unsigned char add[8];
	int ret, i;

	if (!tls_rng.ready) {
		mbedtls_entropy_init(&tls_rng.entropy);
		mbedtls_ctr_drbg_init(&tls_rng.drbg);
		ret = mbedtls_ctr_drbg_seed(&tls_rng.drbg, mbedtls_entropy_func, &tls_rng.entropy,
		                            (const unsigned char *)pers, sizeof(pers) - 1);
		if (ret) {
			mbedtls_ctr_drbg_free(&tls_rng.drbg);
			mbedtls_entropy_free(&tls_rng.entropy);
			lib_error(ret, why, len);
			return NULL;
		}
		tls_rng.ready = true;
		if (!registered && atexit(rng_free) == 0)
			registered = true;
	}
	for (i = 0; i < 8; i++)
		add[i] = (unsigned char)(seed >> (8 * i));
	ret = mbedtls_ctr_drbg_update_ret(&tls_rng.drbg, add, sizeof(add));
	if (ret) {
		lib_error(ret, why, len);
		return NULL;
	}
	return &tls_rng.drbg;
}

/* ---- cipher suites ---- */

/* Suites needing a pre-shared key or EC J-PAKE are out: the module offers certificate suites. */
static bool suite_usable(int id)
{
	const mbedtls_ssl_ciphersuite_t *info = mbedtls_ssl_ciphersuite_from_id(id);
	const int *l;

	if (!info)
		return false;
	switch (info->key_exchange) {
	case MBEDTLS_KEY_EXCHANGE_PSK:
	case MBEDTLS_KEY_EXCHANGE_DHE_PSK:
	case MBEDTLS_KEY_EXCHANGE_RSA_PSK:
	case MBEDTLS_KEY_EXCHANGE_ECDHE_PSK:
	case MBEDTLS_KEY_EXCHANGE_ECJPAKE:
	case MBEDTLS_KEY_EXCHANGE_NONE:
		return false;
	case MBEDTLS_KEY_EXCHANGE_RSA:
	case MBEDTLS_KEY_EXCHANGE_DHE_RSA:
	case MBEDTLS_KEY_EXCHANGE_ECDHE_RSA:
	case MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA:
	case MBEDTLS_KEY_EXCHANGE_ECDH_RSA:
	case MBEDTLS_KEY_EXCHANGE_ECDH_ECDSA:
		break;
	}
	/* Only what the library offers by default: Debian's build removes RC4 and 3DES suites
	 * from that list (MBEDTLS_REMOVE_ARC4/3DES_CIPHERSUITES) though it still knows them. */
	for (l = mbedtls_ssl_list_ciphersuites(); *l; l++)
		if (*l == id)
			return true;
	return false;
}

bool tls_suite_supported(int iana_id)
{
	return suite_usable(iana_id);
}

static int setup_suites(struct tls_session *s, const int *ids)
{
	size_t n = 0, k = 0, i;
	char list[128];
	int len = 0;

	if (!ids)
		return 0; /* the library's default list */
	while (ids[n])
		n++;
	s->suites = calloc(n + 1, sizeof(*s->suites));
	if (!s->suites) {
		set_cause(s, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (suite_usable(ids[i]))
			s->suites[k++] = ids[i];
	if (k) {
		mbedtls_ssl_conf_ciphersuites(&s->conf, s->suites);
		return 0;
	}
	list[0] = 0;
	for (i = 0; i < n && len >= 0 && (size_t)len < sizeof(list) - 8; i++)
		len += snprintf(list + len, sizeof(list) - (size_t)len, "%s0x%04X", i ? "," : "",
		                (unsigned)ids[i]);
	set_cause(s, "no common cipher suite: none of the configured suites (%s) is supported",
	          n ? list : "empty list");
	return -1;
}

/* ---- session life ---- */

static const char *version_text(enum tls_version v)
{
	switch (v) {
	case TLS_V1_0:
		return "TLS 1.0";
	case TLS_V1_1:
		return "TLS 1.1";
	case TLS_V1_2:
		return "TLS 1.2";
	}
	return "TLS ?";
}

static bool version_valid(enum tls_version v)
{
	switch (v) {
	case TLS_V1_0:
	case TLS_V1_1:
	case TLS_V1_2:
		return true;
	}
	return false;
}

/* MBEDTLS_SSL_MINOR_VERSION_1..3 are TLS 1.0..1.2: the enum values were chosen to match. */
static int version_minor(enum tls_version v)
{
	return (int)v;
}

static int configure(struct tls_session *s, const struct tls_config *cfg)
{
	mbedtls_ctr_drbg_context *drbg;
	bool cert_set, key_set;
	char lib[128];
	int ret;

	if (!version_valid(cfg->version_min) || !version_valid(cfg->version_max) ||
	    cfg->version_min > cfg->version_max) {
		set_cause(s, "invalid TLS version range %d..%d", (int)cfg->version_min,
		          (int)cfg->version_max);
		return -1;
	}
	drbg = rng_get(cfg->seed, lib, sizeof(lib));
	if (!drbg) {
		set_cause(s, "random generator: %s", lib);
		return -1;
	}
	ret = mbedtls_ssl_config_defaults(&s->conf, MBEDTLS_SSL_IS_CLIENT,
	                                  MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (ret) {
		set_cause(s, "TLS configuration: %s", lib_error(ret, lib, sizeof(lib)));
		return -1;
	}
	mbedtls_ssl_conf_rng(&s->conf, mbedtls_ctr_drbg_random, drbg);
	mbedtls_ssl_conf_min_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	                             version_minor(cfg->version_min));
	mbedtls_ssl_conf_max_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	                             version_minor(cfg->version_max));
	if (setup_suites(s, cfg->ciphersuites))
		return -1;

	if (cfg->verify == TLS_VERIFY_NONE) {
		mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_NONE);
		return 0;
	}
	if (cfg->verify != TLS_VERIFY_SERVER && cfg->verify != TLS_VERIFY_MUTUAL) {
		set_cause(s, "invalid verify level %d", (int)cfg->verify);
		return -1;
	}
	{
		static const mbedtls_x509_crt_profile module_profile = {
		        MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA1) |
		                MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA224) |
		                MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256) |
		                MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA384) |
		                MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA512),
		        0xFFFFFFF, /* any public key algorithm */
		        0xFFFFFFF, /* any curve the library has */
		        1024,
		};

		mbedtls_ssl_conf_cert_profile(&s->conf, &module_profile);
	}
	if (!cfg->ca && !cfg->ca_name) {
		set_cause(s, "seclevel %d needs a CA certificate and none is configured",
		          (int)cfg->verify);
		return -1;
	}
	if (load_crt(s, &s->ca, "CA certificate", cfg->ca_name, cfg->ca, cfg->ca_len))
		return -1;
	mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&s->conf, &s->ca->crt, NULL);
	mbedtls_ssl_conf_verify(&s->conf, verify_cb, s);
	if (cfg->verify != TLS_VERIFY_MUTUAL)
		return 0;

	/* seclevel 2: the certificate goes out only if the server sends a CertificateRequest.
	 * A file counts as configured by its name or its data, so an empty one is reported. */
	cert_set = cfg->cert || cfg->cert_name;
	key_set = cfg->key || cfg->key_name;
	if (!cert_set && !key_set)
		return 0;
	if (!cert_set) {
		set_cause(s, "private key %s configured without a client certificate",
		          cfg->key_name ? cfg->key_name : "(unnamed)");
		return -1;
	}
	if (load_crt(s, &s->cert, "client certificate", cfg->cert_name, cfg->cert, cfg->cert_len))
		return -1;
	if (!key_set) {
		set_cause(s, "client certificate %s configured without a private key",
		          cfg->cert_name ? cfg->cert_name : "(unnamed)");
		return -1;
	}
	if (load_key(s, cfg))
		return -1;
	if (!key_matches(s->key, s->cert)) {
		set_cause(s, "private key %s does not match client certificate %s",
		          cfg->key_name ? cfg->key_name : "(unnamed)",
		          cfg->cert_name ? cfg->cert_name : "(unnamed)");
		return -1;
	}
	ret = mbedtls_ssl_conf_own_cert(&s->conf, &s->cert->crt, &s->key->pk);
	if (ret) {
		set_cause(s, "client certificate: %s", lib_error(ret, lib, sizeof(lib)));
		return -1;
	}
	s->has_own_cert = true;
	return 0;
}

int tls_session_new(const struct tls_config *cfg, struct tls_session **out, char *cause,
                    size_t cause_len)
{
	struct tls_session *s;
	char lib[128];
	int ret;

	*out = NULL;
	if (cause_len)
		cause[0] = 0;
	s = calloc(1, sizeof(*s));
	if (!s) {
		if (cause_len)
			snprintf(cause, cause_len, "out of memory");
		return -ERR_NOMEM;
	}
	mbedtls_ssl_init(&s->ssl);
	mbedtls_ssl_config_init(&s->conf);
	buf_init(&s->in, TLS_IN_LIMIT);
	buf_init(&s->out, 0);
	s->state = TLS_ST_HANDSHAKE;
	s->verify = cfg->verify;
	s->ignore_time = cfg->ignore_time;
	s->now = cfg->now;

	if (cfg->verify_host && cfg->verify_host[0]) {
		s->verify_host = strdup(cfg->verify_host);
		if (!s->verify_host) {
			set_cause(s, "out of memory");
			goto fail;
		}
	}
	if (configure(s, cfg))
		goto fail;
	ret = mbedtls_ssl_setup(&s->ssl, &s->conf);
	if (ret) {
		set_cause(s, "TLS setup: %s", lib_error(ret, lib, sizeof(lib)));
		goto fail;
	}
	/* Sets SNI; it would also set mbedTLS's name check, which verify_cb overrides. */
	if (cfg->sni && cfg->sni[0]) {
		ret = mbedtls_ssl_set_hostname(&s->ssl, cfg->sni);
		if (ret) {
			set_cause(s, "server name \"%s\": %s", cfg->sni,
			          lib_error(ret, lib, sizeof(lib)));
			goto fail;
		}
	}
	mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
	*out = s;
	return 0;

fail:
	if (cause_len)
		snprintf(cause, cause_len, "%s", s->cause);
	log_msg(LOG_DEBUG, "tls: session not created: %s", s->cause);
	tls_session_free(s);
	return TLS_FAILED;
}

void tls_session_free(struct tls_session *s)
{
	if (!s)
		return;
	mbedtls_ssl_free(&s->ssl);
	mbedtls_ssl_config_free(&s->conf);
	parsed_put(s->ca);
	parsed_put(s->cert);
	parsed_put(s->key);
	buf_free(&s->in);
	buf_free(&s->out);
	free(s->suites);
	free(s->verify_host);
	free(s);
}

/* ---- ciphertext in and out ---- */

int tls_feed(struct tls_session *s, const uint8_t *p, size_t n)
{
	if (s->state == TLS_ST_FAILED)
		return TLS_FAILED;
	if (s->in_off) {
		buf_consume(&s->in, s->in_off);
		s->in_off = 0;
	}
	if (buf_append(&s->in, p, n)) {
		fail(s, "receive buffer overflow: more than %d bytes of ciphertext pending",
		     TLS_IN_LIMIT);
		return TLS_FAILED;
	}
	return 0;
}

void tls_feed_eof(struct tls_session *s)
{
	s->eof = true;
}

void tls_out(const struct tls_session *s, const uint8_t **p, size_t *n)
{
	*n = s->out.len - s->out_off;
	*p = *n ? s->out.data + s->out_off : NULL;
}

void tls_out_consume(struct tls_session *s, size_t n)
{
	if (n > s->out.len - s->out_off)
		n = s->out.len - s->out_off;
	s->out_off += n;
	if (s->out_off == s->out.len) {
		s->out.len = 0;
		s->out_off = 0;
		if (s->out.cap > TLS_BUF_KEEP)
			buf_free(&s->out);
	}
}

/* ---- failure causes ---- */

static const char *alert_name(int desc)
{
	switch (desc) {
	case MBEDTLS_SSL_ALERT_MSG_CLOSE_NOTIFY:
		return "close_notify";
	case MBEDTLS_SSL_ALERT_MSG_UNEXPECTED_MESSAGE:
		return "unexpected_message";
	case MBEDTLS_SSL_ALERT_MSG_BAD_RECORD_MAC:
		return "bad_record_mac";
	case MBEDTLS_SSL_ALERT_MSG_DECOMPRESSION_FAILURE:
		return "decompression_failure";
	case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE:
		return "handshake_failure";
	case MBEDTLS_SSL_ALERT_MSG_NO_CERT:
		return "no_certificate";
	case MBEDTLS_SSL_ALERT_MSG_BAD_CERT:
		return "bad_certificate";
	case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT:
		return "unsupported_certificate";
	case MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED:
		return "certificate_revoked";
	case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED:
		return "certificate_expired";
	case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN:
		return "certificate_unknown";
	case MBEDTLS_SSL_ALERT_MSG_ILLEGAL_PARAMETER:
		return "illegal_parameter";
	case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA:
		return "unknown_ca";
	case MBEDTLS_SSL_ALERT_MSG_ACCESS_DENIED:
		return "access_denied";
	case MBEDTLS_SSL_ALERT_MSG_DECODE_ERROR:
		return "decode_error";
	case MBEDTLS_SSL_ALERT_MSG_DECRYPT_ERROR:
		return "decrypt_error";
	case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION:
		return "protocol_version";
	case MBEDTLS_SSL_ALERT_MSG_INSUFFICIENT_SECURITY:
		return "insufficient_security";
	case MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR:
		return "internal_error";
	case MBEDTLS_SSL_ALERT_MSG_INAPROPRIATE_FALLBACK:
		return "inappropriate_fallback";
	case MBEDTLS_SSL_ALERT_MSG_USER_CANCELED:
		return "user_canceled";
	case MBEDTLS_SSL_ALERT_MSG_NO_RENEGOTIATION:
		return "no_renegotiation";
	case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_EXT:
		return "unsupported_extension";
	case MBEDTLS_SSL_ALERT_MSG_UNRECOGNIZED_NAME:
		return "unrecognized_name";
	case MBEDTLS_SSL_ALERT_MSG_NO_APPLICATION_PROTOCOL:
		return "no_application_protocol";
	default:
		return "unknown alert";
	}
}

/* The description byte of the fatal alert mbedTLS just returned MBEDTLS_ERR_SSL_FATAL_ALERT_
 * MESSAGE for: 2.28 has no accessor, but the record is still in in_msg. */
static int last_alert(const struct tls_session *s)
{
	if (s->ssl.in_msgtype == MBEDTLS_SSL_MSG_ALERT && s->ssl.in_msglen >= 2 && s->ssl.in_msg)
		return s->ssl.in_msg[1];
	return -1;
}

/* The server asked for a client certificate and we had none to give: servers then either send
 * an alert (OpenSSL: handshake_failure or certificate_required) or simply close (mbedTLS 2.28). */
static bool missing_client_cert(const struct tls_session *s)
{
	return s->ssl.client_auth && !s->has_own_cert;
}

static void verify_cause(struct tls_session *s)
{
	uint32_t f = mbedtls_ssl_get_verify_result(&s->ssl);
	char *c = s->cause;
	size_t len = sizeof(s->cause), used = 0;

#define ADD_(...)                                                                                  \
	do {                                                                                       \
		if (used < len) {                                                                  \
			int n_ = snprintf(c + used, len - used, "%s", used ? "; " : "");           \
			if (n_ > 0)                                                                \
				used += (size_t)n_;                                                \
		}                                                                                  \
		if (used < len) {                                                                  \
			int n_ = snprintf(c + used, len - used, __VA_ARGS__);                      \
			if (n_ > 0)                                                                \
				used += (size_t)n_;                                                \
		}                                                                                  \
	} while (0)

	c[0] = 0;
	if (f & MBEDTLS_X509_BADCERT_MISSING)
		ADD_("server sent no certificate");
	if (f & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
		ADD_("server certificate not trusted: unknown CA");
	if (f & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE))
		ADD_("%s", s->time_cause[0] ? s->time_cause : "certificate outside its validity");
	if (f & MBEDTLS_X509_BADCERT_CN_MISMATCH)
		ADD_("server certificate name mismatch: wanted %s",
		     s->verify_host ? s->verify_host : "?");
	if (f & MBEDTLS_X509_BADCERT_REVOKED)
		ADD_("server certificate revoked");
	if (f & (MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
	         MBEDTLS_X509_BADCERT_NS_CERT_TYPE))
		ADD_("server certificate not valid for a TLS server (key usage)");
	if (f & (MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK))
		ADD_("server certificate signed with an algorithm the module does not accept");
	if (f & MBEDTLS_X509_BADCERT_BAD_KEY)
		ADD_("server certificate key too weak or on an unsupported curve");
	if (!used)
		ADD_("server certificate rejected (verify flags 0x%x)", (unsigned)f);
#undef ADD_
}

static void alert_cause(struct tls_session *s, bool during_handshake)
{
	int desc = last_alert(s);
	const char *name = alert_name(desc);

	if (during_handshake && missing_client_cert(s)) {
		set_cause(s, "client certificate required but none configured%s (%s alert)",
		          s->verify == TLS_VERIFY_MUTUAL ? "" : " at this seclevel", name);
		return;
	}
	switch (desc) {
	case MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE:
		/* before the ServerHello the server has only our version, suites and
		 * extensions to object to */
		if (during_handshake && s->ssl.state <= MBEDTLS_SSL_SERVER_HELLO)
			set_cause(s, "handshake failure alert from server: no common cipher suite");
		else
			set_cause(s, "handshake failure alert from server");
		return;
	case MBEDTLS_SSL_ALERT_MSG_PROTOCOL_VERSION:
		set_cause(s, "server refused %s..%s (protocol_version alert)",
		          version_text((enum tls_version)s->conf.min_minor_ver),
		          version_text((enum tls_version)s->conf.max_minor_ver));
		return;
	case MBEDTLS_SSL_ALERT_MSG_BAD_CERT:
	case MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT:
	case MBEDTLS_SSL_ALERT_MSG_CERT_REVOKED:
	case MBEDTLS_SSL_ALERT_MSG_CERT_EXPIRED:
	case MBEDTLS_SSL_ALERT_MSG_CERT_UNKNOWN:
	case MBEDTLS_SSL_ALERT_MSG_UNKNOWN_CA:
		if (during_handshake && s->has_own_cert && s->ssl.client_auth) {
			set_cause(s, "server rejected the client certificate (%s alert)", name);
			return;
		}
		break;
	case MBEDTLS_SSL_ALERT_MSG_UNRECOGNIZED_NAME:
		set_cause(s,
		          "server does not serve the name sent in SNI (unrecognized_name alert)");
		return;
	default:
		break;
	}
	set_cause(s, "fatal alert from server: %s (%d)", name, desc);
}

static void handshake_cause(struct tls_session *s, int ret)
{
	char lib[128];

	switch (ret) {
	case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
		verify_cause(s);
		return;
	case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
		alert_cause(s, true);
		return;
	case MBEDTLS_ERR_SSL_CONN_EOF:
		if (missing_client_cert(s))
			set_cause(s,
			          "client certificate required but none configured%s (server "
			          "closed the connection)",
			          s->verify == TLS_VERIFY_MUTUAL ? "" : " at this seclevel");
		else
			set_cause(s, "peer closed during handshake");
		return;
	case MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION:
		set_cause(s, "server chose TLS 1.%d, outside the configured %s..%s",
		          s->ssl.minor_ver - 1,
		          version_text((enum tls_version)s->conf.min_minor_ver),
		          version_text((enum tls_version)s->conf.max_minor_ver));
		return;
	case MBEDTLS_ERR_SSL_INVALID_RECORD:
	case MBEDTLS_ERR_SSL_BAD_HS_SERVER_HELLO:
		set_cause(s, "server did not answer with TLS (%s)",
		          lib_error(ret, lib, sizeof(lib)));
		return;
	case MBEDTLS_ERR_SSL_ALLOC_FAILED:
		set_cause(s, "out of memory");
		return;
	default:
		break;
	}
	set_cause(s, "handshake failed: %s", lib_error(ret, lib, sizeof(lib)));
}

/* ---- handshake and application data ---- */

int tls_handshake(struct tls_session *s)
{
	int ret;

	switch (s->state) {
	case TLS_ST_HANDSHAKE:
		break;
	case TLS_ST_OPEN:
	case TLS_ST_CLOSED:
		return TLS_DONE;
	case TLS_ST_FAILED:
		return TLS_FAILED;
	}
	ret = mbedtls_ssl_handshake(&s->ssl);
	if (ret == 0) {
		s->cause[0] = 0;
		set_state(s, TLS_ST_OPEN);
		log_msg(LOG_DEBUG, "tls: established %s %s", tls_version_name(s),
		        tls_suite_name(s));
		return TLS_DONE;
	}
	if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return TLS_WANT;
	handshake_cause(s, ret);
	set_state(s, TLS_ST_FAILED);
	return TLS_FAILED;
}

bool tls_established(const struct tls_session *s)
{
	return s->state == TLS_ST_OPEN;
}

/* Data may flow: finish a handshake first. TLS_DONE to go on, else what to return. */
static int data_gate(struct tls_session *s)
{
	switch (s->state) {
	case TLS_ST_HANDSHAKE:
		return tls_handshake(s);
	case TLS_ST_OPEN:
		return TLS_DONE;
	case TLS_ST_CLOSED:
		return TLS_CLOSED;
	case TLS_ST_FAILED:
		return TLS_FAILED;
	}
	return TLS_FAILED;
}

int tls_read(struct tls_session *s, uint8_t *buf, size_t cap)
{
	char lib[128];
	int ret;

	ret = data_gate(s);
	if (ret != TLS_DONE)
		return ret;
	if (!cap)
		return TLS_WANT;
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	ret = mbedtls_ssl_read(&s->ssl, buf, cap);
	if (ret > 0)
		return ret;
	switch (ret) {
	case MBEDTLS_ERR_SSL_WANT_READ:
	case MBEDTLS_ERR_SSL_WANT_WRITE:
		return TLS_WANT;
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
		set_cause(s, "peer sent close_notify");
		set_state(s, TLS_ST_CLOSED);
		return TLS_CLOSED;
	case 0: /* mbedTLS 2.28 maps the transport's EOF to 0 here */
	case MBEDTLS_ERR_SSL_CONN_EOF:
		set_cause(s, "peer closed without close_notify");
		set_state(s, TLS_ST_CLOSED);
		return TLS_CLOSED;
	case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
		alert_cause(s, false);
		break;
	default:
		set_cause(s, "TLS error while reading: %s", lib_error(ret, lib, sizeof(lib)));
		break;
	}
	set_state(s, TLS_ST_FAILED);
	return TLS_FAILED;
}

int tls_write(struct tls_session *s, const uint8_t *p, size_t n)
{
	char lib[128];
	int ret;

	ret = data_gate(s);
	if (ret != TLS_DONE)
		return ret;
	if (s->sent_close)
		return TLS_CLOSED;
	if (!n)
		return 0;
	if (s->out.len - s->out_off >= TLS_OUT_LIMIT)
		return TLS_WANT;
	if (n > INT32_MAX)
		n = INT32_MAX;
	/* The send callback never refuses, so mbedTLS never holds a half-sent record and the
	 * caller need not repeat the same bytes (mbedTLS's WANT_WRITE contract). */
	ret = mbedtls_ssl_write(&s->ssl, p, n);
	if (ret > 0)
		return ret;
	if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return TLS_WANT;
	set_cause(s, "TLS error while writing: %s", lib_error(ret, lib, sizeof(lib)));
	set_state(s, TLS_ST_FAILED);
	return TLS_FAILED;
}

void tls_close_notify(struct tls_session *s)
{
	if (s->state != TLS_ST_OPEN && s->state != TLS_ST_CLOSED)
		return;
	if (s->sent_close)
		return;
	s->sent_close = true;
	mbedtls_ssl_close_notify(&s->ssl);
}

const char *tls_cause(const struct tls_session *s)
{
	return s->cause;
}

const char *tls_version_name(const struct tls_session *s)
{
	if (s->state == TLS_ST_HANDSHAKE || (s->state == TLS_ST_FAILED && !s->ssl.session))
		return "";
	return mbedtls_ssl_get_version(&s->ssl);
}

const char *tls_suite_name(const struct tls_session *s)
{
	const char *name;

	if (s->state == TLS_ST_HANDSHAKE || (s->state == TLS_ST_FAILED && !s->ssl.session))
		return "";
	name = mbedtls_ssl_get_ciphersuite(&s->ssl);
	return name ? name : "";
}

int tls_hmac_sha1(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                  uint8_t out[TLS_SHA1_LEN])
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);

	if (!md || mbedtls_md_hmac(md, key, key_len, msg, msg_len, out) != 0)
		return -ERR_IO;
	return 0;
}
