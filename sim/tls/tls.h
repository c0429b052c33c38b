/* The TLS adapter: the only module that includes mbedTLS headers.
 *
 * A tls_session is a client-side TLS engine over memory: the caller moves ciphertext between
 * the session and its socket (libuv TCP), so the adapter has no I/O of its own:
 *
 *   tls_feed(s, bytes from the socket)        ciphertext in
 *   tls_handshake(s) / tls_read / tls_write   progress, plaintext in and out
 *   tls_out(s, &p, &n) + tls_out_consume(s,n) ciphertext to send to the socket
 *
 * Every failure leaves a human-readable cause in tls_cause(s) ("server certificate not
 * trusted: unknown CA", "certificate expired per modem clock 2017-06-12", "CA certificate
 * RAM:cacert.pem: PEM data truncated", ...) for the trace; the host sees only what the module
 * shows. */
#ifndef MODEMSIM_TLS_TLS_H
#define MODEMSIM_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Return values of tls_handshake / tls_read / tls_write (>= 0 is a byte count or done); the
 * negative ones are causes of core/err.h's table, so err_str() names them too. */
#define TLS_DONE 0
#define TLS_WANT (-TLS_ERR_WANT) /* needs more ciphertext from the peer (or room to send) */
#define TLS_CLOSED (-TLS_ERR_CLOSED) /* the peer sent close_notify or closed */
#define TLS_FAILED (-TLS_ERR_FAILED) /* fatal: see tls_cause() */

enum tls_version { TLS_V1_0 = 1, TLS_V1_1 = 2, TLS_V1_2 = 3 };

enum tls_verify {
	TLS_VERIFY_NONE = 0, /* seclevel 0: no authentication */
	TLS_VERIFY_SERVER = 1, /* seclevel 1: verify the server against the CA */
	TLS_VERIFY_MUTUAL = 2, /* seclevel 2: also present the client certificate if asked */
};

struct tls_config {
	enum tls_version version_min;
	enum tls_version version_max;
	/* IANA cipher suite ids to offer, 0-terminated; NULL: every suite the model supports
	 * (the caller passes the model's list: e.g. M95 is RSA key exchange only). Suites the
	 * library lacks are dropped; if none is left, tls_session_new fails with a cause. */
	const int *ciphersuites;
	enum tls_verify verify;
	/* PEM (or DER) bytes exactly as stored in the modem's file store; names for causes.
	 * Not configured: data and name NULL. A configured file that is empty (len 0) fails
	 * with "... file is empty". Only what the level uses is parsed: the CA from
	 * TLS_VERIFY_SERVER, the client certificate and key at TLS_VERIFY_MUTUAL. */
	const uint8_t *ca;
	size_t ca_len;
	const char *ca_name;
	const uint8_t *cert;
	size_t cert_len;
	const char *cert_name;
	const uint8_t *key;
	size_t key_len;
	const char *key_name;
	const char *key_password; /* NULL or "" for none */
	/* sni and verify_host are independent: SNI can go out without a name check and the
	 * reverse. The check (TLS_VERIFY_SERVER and up) matches dNSName SANs ("*." wildcards),
	 * iPAddress SANs for an address, or the CN when the certificate has no SAN extension. */
	const char *sni; /* server name to send; NULL sends none */
	const char *verify_host; /* check the certificate's names against it; NULL: no check */
	bool ignore_time; /* do not check validity dates */
	int64_t now; /* the modem's clock (Unix seconds) for validity checks */
	uint64_t seed; /* extra entropy personalisation */
};

struct tls_session;

/* Parse the configuration (certificates, key) and create a session. Returns 0, or TLS_FAILED
 * (-ERR_NOMEM when out of memory) with the cause written to cause (when cause_len > 0) and
 * *out NULL. */
int tls_session_new(const struct tls_config *cfg, struct tls_session **out, char *cause,
                    size_t cause_len);
void tls_session_free(struct tls_session *s); /* NULL-safe */

/* Ciphertext received from the peer. Returns 0 or TLS_FAILED: more than 82 KiB (64 KiB and a
 * record) waiting unprocessed; drain tls_read after each feed to stay far below. */
int tls_feed(struct tls_session *s, const uint8_t *p, size_t n);
/* Signal that the peer closed the TCP connection (EOF): a handshake in progress then fails
 * ("peer closed during handshake"), tls_read returns what was buffered then TLS_CLOSED. */
void tls_feed_eof(struct tls_session *s);

/* TLS_DONE (also once closed), TLS_WANT or TLS_FAILED; failures are final. */
int tls_handshake(struct tls_session *s);
/* Handshake done and not closed or failed since. */
bool tls_established(const struct tls_session *s);
/* Plaintext out of the session: bytes read (> 0), TLS_WANT, TLS_CLOSED or TLS_FAILED. One call
 * returns at most one record's plaintext: call until TLS_WANT after each tls_feed and right
 * after the handshake completes (data may arrive with the server's Finished). TLS_CLOSED after
 * the peer's close_notify (cause "peer sent close_notify") or a TCP EOF without one (cause
 * "peer closed without close_notify"); it stays so. Drives the handshake if not done. */
int tls_read(struct tls_session *s, uint8_t *buf, size_t cap);
/* Plaintext into the session: bytes taken (> 0; at most one record, 16 KiB, per call; TLS 1.0
 * CBC takes 1 byte first), 0 when n is 0, TLS_WANT when 64 KiB of ciphertext waits in tls_out
 * (nothing taken: call again with any bytes once drained), TLS_CLOSED once closed by either
 * side (tls_close_notify included), or TLS_FAILED. */
int tls_write(struct tls_session *s, const uint8_t *p, size_t n);
/* Queue a close_notify alert (once; only on an established session). */
void tls_close_notify(struct tls_session *s);

/* Ciphertext waiting to go to the peer. */
void tls_out(const struct tls_session *s, const uint8_t **p, size_t *n);
void tls_out_consume(struct tls_session *s, size_t n);

const char *tls_cause(const struct tls_session *s);
/* The negotiated protocol and suite, for traces ("TLSv1.2", "TLS-ECDHE-RSA-WITH-..."); ""
 * before the handshake completes. */
const char *tls_version_name(const struct tls_session *s);
const char *tls_suite_name(const struct tls_session *s);

/* Map a module cipher code (0x0035 ...) to whether the library can offer it (Debian's build
 * drops RC4 and 3DES suites: 0x0004, 0x0005, 0x000A, 0xC003, 0xC008, 0xC00D, 0xC012). */
bool tls_suite_supported(int iana_id);

#define TLS_SHA1_LEN 20
/* HMAC-SHA1 (RFC 2104) of msg under key into out, for credentials a module derives itself
 * (AT+QMTCFG="aliauth"): here because this is the one file that includes mbedTLS. Returns 0 or
 * -ERR_IO (the library refused). */
int tls_hmac_sha1(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                  uint8_t out[TLS_SHA1_LEN]);

#endif
