/* Unit tests of the TLS adapter (sim/tls/tls.c) against an in-process mbedTLS server over memory.
 *
 * This test is the one file besides tls.c that includes mbedTLS headers: the peer has to be a
 * real TLS server. Certificates are made at run time with the openssl CLI in a mkdtemp directory
 * (EC keys, one RSA key for the RSA key exchange suites), with fixed validity dates so that the
 * modem clock (cfg.now) alone decides whether a certificate is current:
 *
 *   ca.pem    Test CA        2010-01-01 .. 2050-01-01 (self-signed)
 *   oca.pem   Other CA       2010-01-01 .. 2050-01-01
 *   srv.pem   CN=localhost, SAN DNS:localhost IP:127.0.0.1, by CA, 2020-01-01 .. 2040-01-01
 *   exp.pem   the same name and key, by CA, 2015-01-01 .. 2016-01-01 (expired by the host clock)
 *   osrv.pem  the same name and key, by Other CA
 *   long.pem  like srv.pem, valid until 2060 (outlives the CA)
 *   wild.pem  SAN DNS:*.example.com; nosan.pem  CN=localhost without SAN
 *   rsa.pem   RSA 2048 server, by CA
 *   cli.pem   CN=client by CA (key cli.key, cli_enc.key = AES-256 PEM encryption, "secret",
 *             cli_p8.key = PKCS#8 PBES2 AES-256 encryption, cli_p8des.key = PKCS#8 3DES with
 *             HMAC-SHA1, all "secret"); ocli.pem by Other CA */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "core/buf.h"
#include "tls/tls.h"

#define T_2015_06_01 1433116800LL
#define T_2017_06_12 1497225600LL
#define T_2019_06_01 1559347200LL
#define T_2024_06_01 1717200000LL
#define T_2041_01_01 2240611200LL

static int failures, checks;
static char dir[64];

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		checks++;                                                                          \
		if (!(cond)) {                                                                     \
			failures++;                                                                \
			fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__,       \
			        current, #cond);                                                   \
		}                                                                                  \
	} while (0)

#define CHECK_HAS(str, sub)                                                                        \
	do {                                                                                       \
		checks++;                                                                          \
		if (!strstr((str), (sub))) {                                                       \
			failures++;                                                                \
			fprintf(stderr, "%s:%d: %s: \"%s\" does not contain \"%s\"\n", __FILE__,   \
			        __LINE__, current, (str), (sub));                                  \
		}                                                                                  \
	} while (0)

static const char *current = "";

/* ---- deterministic randomness for chunk sizes and payloads ---- */

static uint64_t rnd_state = 0x9E3779B97F4A7C15ULL;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return (uint32_t)(rnd_state >> 16);
}

static size_t rnd_range(size_t lo, size_t hi)
{
	return lo + rnd() % (hi - lo + 1);
}

/* ---- the PKI, made with the openssl CLI ---- */

static const char pki_script[] =
        "set -e\n"
        "cat > ca.cnf <<'EOF'\n"
        "[ca]\ndefault_ca = d\n"
        "[d]\ndir = .\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n"
        "default_md = sha256\npolicy = p\ncopy_extensions = copy\nunique_subject = no\n"
        "[p]\ncommonName = supplied\n"
        "[v3_ca]\nbasicConstraints = critical,CA:true\nkeyUsage = keyCertSign,cRLSign\n"
        "[leaf]\nbasicConstraints = CA:false\n"
        "EOF\n"
        "touch index.txt; echo 01 > serial\n"
        "ec() { openssl ecparam -name prime256v1 -genkey -noout -out $1; }\n"
        /* sign <csr-subject> <key> <out> <ca> <from> <to> [extension] */
        "sign() {\n"
        "  openssl req -new -key $2 -subj \"$1\" ${8:+-addext \"$8\"} -out t.csr\n"
        "  if [ $4 = self ]; then\n"
        "    openssl ca -batch -config ca.cnf -selfsign -keyfile $2 -in t.csr -out $3 -startdate "
        "$5 "
        "-enddate $6 -extensions $7 -notext\n"
        "  else\n"
        "    openssl ca -batch -config ca.cnf -cert $4.pem -keyfile $4.key -in t.csr -out $3 "
        "-startdate $5 -enddate $6 -extensions $7 -notext\n"
        "  fi\n"
        "}\n"
        "A=20100101000000Z; Z=20500101000000Z; F=20200101000000Z; T=20400101000000Z\n"
        "ec ca.key; sign '/CN=Test CA' ca.key ca.pem self $A $Z v3_ca\n"
        "ec oca.key; sign '/CN=Other CA' oca.key oca.pem self $A $Z v3_ca\n"
        "ec srv.key\n"
        "SAN='subjectAltName=DNS:localhost,IP:127.0.0.1'\n"
        "sign /CN=localhost srv.key srv.pem ca $F $T leaf \"$SAN\"\n"
        "sign /CN=localhost srv.key exp.pem ca 20150101000000Z 20160101000000Z leaf \"$SAN\"\n"
        "sign /CN=localhost srv.key osrv.pem oca $F $T leaf \"$SAN\"\n"
        "sign '/CN=*.example.com' srv.key wild.pem ca $F $T leaf "
        "'subjectAltName=DNS:*.example.com'\n"
        "sign /CN=localhost srv.key long.pem ca $F 20600101000000Z leaf \"$SAN\"\n"
        "sign /CN=localhost srv.key nosan.pem ca $F $T leaf\n"
        "openssl genrsa -out rsa.key 2048 2>/dev/null\n"
        "sign /CN=localhost rsa.key rsa.pem ca $F $T leaf \"$SAN\"\n"
        "ec cli.key; sign /CN=client cli.key cli.pem ca $F $T leaf\n"
        "sign /CN=client cli.key ocli.pem oca $F $T leaf\n"
        "openssl ec -in cli.key -aes256 -passout pass:secret -out cli_enc.key 2>/dev/null\n"
        "openssl pkcs8 -topk8 -in cli.key -passout pass:secret -out cli_p8.key\n"
        "openssl pkcs8 -topk8 -in cli.key -v2 des3 -v2prf hmacWithSHA1 -passout pass:secret "
        "-out cli_p8des.key\n"
        "openssl x509 -in ca.pem -outform DER -out ca.der\n";

static void make_pki(void)
{
	char cmd[256];
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/test_tls.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(cmd, sizeof(cmd), "%s/pki.sh", dir);
	f = fopen(cmd, "w");
	if (!f || fputs(pki_script, f) < 0 || fclose(f)) {
		perror(cmd);
		exit(2);
	}
	snprintf(cmd, sizeof(cmd), "cd %s && sh pki.sh >pki.log 2>&1", dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "certificate generation failed, see %s/pki.log\n", dir);
		exit(2);
	}
}

static void remove_pki(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* A file of the PKI, loaded once; the blobs live until the end of the run. */
struct blob {
	uint8_t *p;
	size_t n;
};

static struct loaded {
	const char *name;
	struct blob b;
} loaded[32];

static struct blob file(const char *name)
{
	char path[128];
	struct blob b = {NULL, 0};
	FILE *f;
	long n;
	size_t i;

	for (i = 0; i < sizeof(loaded) / sizeof(loaded[0]) && loaded[i].name; i++)
		if (!strcmp(loaded[i].name, name))
			return loaded[i].b;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		perror(path);
		exit(2);
	}
	b.p = malloc((size_t)n + 1);
	if (!b.p || fread(b.p, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		exit(2);
	}
	fclose(f);
	b.n = (size_t)n;
	if (i < sizeof(loaded) / sizeof(loaded[0])) {
		loaded[i].name = name;
		loaded[i].b = b;
	}
	return b;
}

static void free_files(void)
{
	size_t i;

	for (i = 0; i < sizeof(loaded) / sizeof(loaded[0]) && loaded[i].name; i++)
		free(loaded[i].b.p);
}

/* ---- the peer: an mbedTLS server over memory ---- */

struct srv_opts {
	const char *cert; /* file names in the PKI directory */
	const char *key;
	int min_minor; /* 0: TLS 1.0 */
	int max_minor; /* 0: TLS 1.2 */
	int authmode; /* MBEDTLS_SSL_VERIFY_NONE (0) or _REQUIRED */
	const int *suites;
	bool sni_strict; /* refuse server names other than "localhost" */
};

struct server {
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt crt;
	mbedtls_x509_crt ca;
	mbedtls_pk_context key;
	struct buf in; /* ciphertext from the client, from in_off */
	size_t in_off;
	struct buf out; /* ciphertext for the client */
	bool eof;
	bool sni_strict;
	int sni_calls;
	char sni[256];
	int hs; /* 1 in progress, 0 done, < 0 mbedTLS error */
};

static int srv_send(void *ctx, const unsigned char *p, size_t n)
{
	struct server *sv = ctx;

	if (buf_append(&sv->out, p, n))
		return MBEDTLS_ERR_SSL_ALLOC_FAILED;
	return (int)n;
}

static int srv_recv(void *ctx, unsigned char *p, size_t n)
{
	struct server *sv = ctx;
	size_t avail = sv->in.len - sv->in_off;

	if (!avail)
		return sv->eof ? 0 : MBEDTLS_ERR_SSL_WANT_READ;
	if (n > avail)
		n = avail;
	memcpy(p, sv->in.data + sv->in_off, n);
	sv->in_off += n;
	if (sv->in_off == sv->in.len) {
		sv->in.len = 0;
		sv->in_off = 0;
	}
	return (int)n;
}

static int srv_sni(void *ctx, mbedtls_ssl_context *ssl, const unsigned char *name, size_t len)
{
	struct server *sv = ctx;

	(void)ssl;
	sv->sni_calls++;
	snprintf(sv->sni, sizeof(sv->sni), "%.*s", (int)len, (const char *)name);
	if (sv->sni_strict && strcmp(sv->sni, "localhost"))
		return -1;
	return 0;
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void server_init(struct server *sv, const struct srv_opts *o)
{
	char path[128];
	int ret = 0;

	memset(sv, 0, sizeof(*sv));
	mbedtls_ssl_init(&sv->ssl);
	mbedtls_ssl_config_init(&sv->conf);
	mbedtls_entropy_init(&sv->entropy);
	mbedtls_ctr_drbg_init(&sv->drbg);
	mbedtls_x509_crt_init(&sv->crt);
	mbedtls_x509_crt_init(&sv->ca);
	mbedtls_pk_init(&sv->key);
	buf_init(&sv->in, 0);
	buf_init(&sv->out, 0);
	sv->hs = 1;
	sv->sni_strict = o->sni_strict;

	path_of(path, sizeof(path), o->cert ? o->cert : "srv.pem");
	ret |= mbedtls_x509_crt_parse_file(&sv->crt, path);
	path_of(path, sizeof(path), o->key ? o->key : "srv.key");
	ret |= mbedtls_pk_parse_keyfile(&sv->key, path, NULL);
	path_of(path, sizeof(path), "ca.pem");
	ret |= mbedtls_x509_crt_parse_file(&sv->ca, path);
	ret |= mbedtls_ctr_drbg_seed(&sv->drbg, mbedtls_entropy_func, &sv->entropy,
	                             (const unsigned char *)"srv", 3);
	ret |= mbedtls_ssl_config_defaults(&sv->conf, MBEDTLS_SSL_IS_SERVER,
	                                   MBEDTLS_SSL_TRANSPORT_STREAM,
	                                   MBEDTLS_SSL_PRESET_DEFAULT);
	if (ret) {
		fprintf(stderr, "server setup failed: -0x%04x\n", (unsigned)-ret);
		exit(2);
	}
	mbedtls_ssl_conf_rng(&sv->conf, mbedtls_ctr_drbg_random, &sv->drbg);
	mbedtls_ssl_conf_min_version(&sv->conf, 3, o->min_minor ? o->min_minor : 1);
	mbedtls_ssl_conf_max_version(&sv->conf, 3, o->max_minor ? o->max_minor : 3);
	mbedtls_ssl_conf_authmode(&sv->conf, o->authmode);
	mbedtls_ssl_conf_ca_chain(&sv->conf, &sv->ca, NULL);
	if (o->suites)
		mbedtls_ssl_conf_ciphersuites(&sv->conf, o->suites);
	mbedtls_ssl_conf_sni(&sv->conf, srv_sni, sv);
	if (mbedtls_ssl_conf_own_cert(&sv->conf, &sv->crt, &sv->key) ||
	    mbedtls_ssl_setup(&sv->ssl, &sv->conf)) {
		fprintf(stderr, "server setup failed\n");
		exit(2);
	}
	mbedtls_ssl_set_bio(&sv->ssl, sv, srv_send, srv_recv, NULL);
}

static void server_free(struct server *sv)
{
	mbedtls_ssl_free(&sv->ssl);
	mbedtls_ssl_config_free(&sv->conf);
	mbedtls_ctr_drbg_free(&sv->drbg);
	mbedtls_entropy_free(&sv->entropy);
	mbedtls_x509_crt_free(&sv->crt);
	mbedtls_x509_crt_free(&sv->ca);
	mbedtls_pk_free(&sv->key);
	buf_free(&sv->in);
	buf_free(&sv->out);
}

/* Client ciphertext to the server. Returns whether anything moved. */
static bool to_server(struct tls_session *c, struct server *sv)
{
	const uint8_t *p;
	size_t n;

	tls_out(c, &p, &n);
	if (!n)
		return false;
	if (buf_append(&sv->in, p, n))
		exit(2);
	tls_out_consume(c, n);
	return true;
}

/* Server ciphertext to the client, in pieces of at most piece bytes (0: all at once). */
static bool to_client(struct server *sv, struct tls_session *c, size_t piece)
{
	size_t off = 0, k;

	if (!sv->out.len)
		return false;
	while (off < sv->out.len) {
		k = sv->out.len - off;
		if (piece && k > piece)
			k = piece;
		CHECK(tls_feed(c, sv->out.data + off, k) == 0);
		off += k;
		if (piece && !tls_established(c))
			tls_handshake(c);
	}
	sv->out.len = 0;
	return true;
}

/* Run the handshake on both sides until neither moves. A server that fails without an alert
 * (mbedTLS 2.28 does so for a missing client certificate) closes the TCP connection, as a real
 * server program does. Returns the client's last tls_handshake result. */
static int pump(struct tls_session *c, struct server *sv, size_t piece)
{
	int rc = TLS_WANT, i, ret;
	bool moved;

	for (i = 0; i < 200; i++) {
		rc = tls_handshake(c);
		moved = to_server(c, sv);
		if (sv->hs == 1) {
			ret = mbedtls_ssl_handshake(&sv->ssl);
			if (ret == 0)
				sv->hs = 0;
			else if (ret != MBEDTLS_ERR_SSL_WANT_READ)
				sv->hs = ret;
		}
		moved |= to_client(sv, c, piece);
		if (sv->hs < 0 && !moved && rc == TLS_WANT) {
			tls_feed_eof(c);
			return tls_handshake(c);
		}
		if (!moved && rc != TLS_WANT)
			break;
	}
	return rc;
}

/* ---- scenarios ---- */

static struct tls_config base_cfg(void)
{
	struct tls_config cfg;
	struct blob ca = file("ca.pem");

	memset(&cfg, 0, sizeof(cfg));
	cfg.version_min = TLS_V1_0;
	cfg.version_max = TLS_V1_2;
	cfg.verify = TLS_VERIFY_SERVER;
	cfg.ca = ca.p;
	cfg.ca_len = ca.n;
	cfg.ca_name = "RAM:cacert.pem";
	cfg.verify_host = "localhost";
	cfg.now = T_2024_06_01;
	cfg.seed = 42;
	return cfg;
}

static void client_files(struct tls_config *cfg, const char *cert, const char *key)
{
	struct blob c = file(cert), k = file(key);

	cfg->verify = TLS_VERIFY_MUTUAL;
	cfg->cert = c.p;
	cfg->cert_len = c.n;
	cfg->cert_name = "RAM:client.pem";
	cfg->key = k.p;
	cfg->key_len = k.n;
	cfg->key_name = "RAM:client.key";
}

struct run {
	struct server sv;
	struct tls_session *c;
	int rc; /* client's handshake result, or TLS_FAILED when not created */
	char cause[512]; /* the creation cause, or the session's */
};

static void run_start(struct run *r, const struct tls_config *cfg, const struct srv_opts *o,
                      size_t piece)
{
	server_init(&r->sv, o);
	r->cause[0] = 0;
	if (tls_session_new(cfg, &r->c, r->cause, sizeof(r->cause))) {
		r->rc = TLS_FAILED;
		CHECK(r->c == NULL);
		CHECK(r->cause[0] != 0);
		return;
	}
	r->rc = pump(r->c, &r->sv, piece);
	snprintf(r->cause, sizeof(r->cause), "%s", tls_cause(r->c));
}

static void run_end(struct run *r)
{
	tls_session_free(r->c);
	r->c = NULL;
	server_free(&r->sv);
}

/* One handshake that must succeed / fail with a cause containing want. */
static void expect_ok(const char *name, const struct tls_config *cfg, const struct srv_opts *o)
{
	struct run r;

	current = name;
	run_start(&r, cfg, o, 0);
	CHECK(r.rc == TLS_DONE);
	if (r.rc != TLS_DONE)
		fprintf(stderr, "  %s: cause \"%s\"\n", name, r.cause);
	else {
		CHECK(tls_established(r.c));
		CHECK(r.sv.hs == 0);
	}
	run_end(&r);
}

static void expect_fail(const char *name, const struct tls_config *cfg, const struct srv_opts *o,
                        const char *want)
{
	struct run r;

	current = name;
	run_start(&r, cfg, o, 0);
	CHECK(r.rc == TLS_FAILED);
	CHECK_HAS(r.cause, want);
	if (getenv("TEST_TLS_VERBOSE")) /* to read every cause at once */
		printf("%-48s %s\n", name, r.cause);
	if (r.c) {
		CHECK(!tls_established(r.c));
		CHECK(tls_handshake(r.c) == TLS_FAILED); /* sticky */
		CHECK(tls_read(r.c, (uint8_t[4]){0}, 4) == TLS_FAILED);
	}
	run_end(&r);
}

static const struct srv_opts srv_default = {0};

static void test_verify_levels(void)
{
	struct tls_config cfg = base_cfg();
	struct srv_opts mutual = {.authmode = MBEDTLS_SSL_VERIFY_REQUIRED};
	struct run r;

	/* seclevel 0: no CA at all, a wrong name, an untrusted server: all fine */
	cfg.verify = TLS_VERIFY_NONE;
	cfg.ca = (const uint8_t *)"garbage";
	cfg.ca_len = 7;
	cfg.verify_host = "wrong.example";
	expect_ok("seclevel 0, untrusted server", &cfg, &(struct srv_opts){.cert = "osrv.pem"});

	cfg = base_cfg();
	current = "seclevel 1";
	run_start(&r, &cfg, &srv_default, 0);
	CHECK(r.rc == TLS_DONE);
	CHECK(!strcmp(tls_version_name(r.c), "TLSv1.2"));
	CHECK_HAS(tls_suite_name(r.c), "TLS-ECDHE-ECDSA-");
	CHECK(!strcmp(tls_cause(r.c), ""));
	CHECK(r.sv.sni_calls == 0); /* no SNI unless configured (EC25 default "sni" 0) */
	run_end(&r);

	/* seclevel 2: the client certificate goes out when asked, and the server sees it */
	client_files(&cfg, "cli.pem", "cli.key");
	current = "seclevel 2, server asks";
	run_start(&r, &cfg, &mutual, 0);
	CHECK(r.rc == TLS_DONE);
	CHECK(mbedtls_ssl_get_peer_cert(&r.sv.ssl) != NULL);
	run_end(&r);
	current = "seclevel 2, server does not ask";
	run_start(&r, &cfg, &srv_default, 0);
	CHECK(r.rc == TLS_DONE);
	CHECK(mbedtls_ssl_get_peer_cert(&r.sv.ssl) == NULL);
	run_end(&r);

	/* the handshake with ciphertext arriving one byte at a time */
	current = "seclevel 2, 1-byte pieces";
	run_start(&r, &cfg, &mutual, 1);
	CHECK(r.rc == TLS_DONE);
	run_end(&r);

	cfg = base_cfg();
	cfg.verify = TLS_VERIFY_MUTUAL;
	expect_fail("seclevel 2 without a client certificate", &cfg, &mutual,
	            "client certificate required but none configured");
	cfg = base_cfg();
	client_files(&cfg, "cli.pem", "cli.key");
	cfg.verify = TLS_VERIFY_SERVER; /* files configured, but seclevel 1 does not send them */
	expect_fail("seclevel 1, server requires a client certificate", &cfg, &mutual,
	            "client certificate required but none configured at this seclevel");
	cfg = base_cfg();
	client_files(&cfg, "ocli.pem", "cli.key");
	expect_fail("client certificate from another CA", &cfg, &mutual,
	            "server rejected the client certificate (unknown_ca alert)");
	cfg = base_cfg();
	client_files(&cfg, "cli.pem", "srv.key");
	expect_fail("client key does not match", &cfg, &mutual,
	            "private key RAM:client.key does not match client certificate RAM:client.pem");

	cfg = base_cfg();
	expect_fail("unknown CA", &cfg, &(struct srv_opts){.cert = "osrv.pem"},
	            "server certificate not trusted: unknown CA");
	cfg.ca = NULL;
	cfg.ca_len = 0;
	expect_fail("CA configured, file empty", &cfg, &srv_default,
	            "CA certificate RAM:cacert.pem: file is empty");
	cfg.ca_name = NULL;
	expect_fail("seclevel 1 without CA", &cfg, &srv_default,
	            "seclevel 1 needs a CA certificate and none is configured");
}

static void test_clock(void)
{
	struct tls_config cfg = base_cfg();
	struct srv_opts exp = {.cert = "exp.pem"};

	/* exp.pem expired in 2016 by the host's clock too; the modem's clock decides */
	cfg.now = T_2015_06_01;
	expect_ok("expired cert, modem clock inside its validity", &cfg, &exp);
	cfg.now = T_2017_06_12;
	expect_fail(
	        "expired cert, modem clock after", &cfg, &exp,
	        "server certificate expired per modem clock 2017-06-12 (valid until 2016-01-01)");
	cfg.ignore_time = true;
	expect_ok("expired cert, ignore_time", &cfg, &exp);

	cfg = base_cfg();
	cfg.now = T_2019_06_01;
	expect_fail("current cert, modem clock before", &cfg, &srv_default,
	            "server certificate not yet valid per modem clock 2019-06-01 "
	            "(valid from 2020-01-01)");
	cfg.now = T_2041_01_01;
	expect_fail(
	        "current cert, modem clock after", &cfg, &srv_default,
	        "server certificate expired per modem clock 2041-01-01 (valid until 2040-01-01)");
	cfg.now = 2208988800LL + 3600; /* 2040-01-01 01:00: the same day shows the times */
	expect_fail("expired an hour ago", &cfg, &srv_default,
	            "expired per modem clock 2040-01-01 01:00:00 UTC (valid until 2040-01-01 "
	            "00:00:00 UTC)");
	cfg.now = 2208988800LL; /* the last second of validity */
	expect_ok("last second of validity", &cfg, &srv_default);
	cfg.now = 0; /* an unset RTC (1970) */
	expect_fail("modem clock unset", &cfg, &srv_default,
	            "server certificate not yet valid per modem clock 1970-01-01 (valid from "
	            "2020-01-01)");
	cfg.now = 2556144000LL; /* 2051-01-01: only the CA has expired */
	expect_fail("CA expired", &cfg, &(struct srv_opts){.cert = "long.pem"},
	            "CA certificate expired per modem clock 2051-01-01 (valid until 2050-01-01)");
	cfg.ignore_time = true;
	expect_ok("modem clock unset, ignore_time", &cfg, &srv_default);
}

static struct blob crlf(struct blob in)
{
	struct blob b;
	size_t i, k = 0;

	b.p = malloc(in.n * 2 + 1);
	for (i = 0; i < in.n; i++) {
		if (in.p[i] == '\n')
			b.p[k++] = '\r';
		b.p[k++] = in.p[i];
	}
	b.n = k;
	return b;
}

static struct blob concat(struct blob a, struct blob b, size_t b_len)
{
	struct blob r;

	r.p = malloc(a.n + b_len + 1);
	memcpy(r.p, a.p, a.n);
	memcpy(r.p + a.n, b.p, b_len);
	r.n = a.n + b_len;
	r.p[r.n] = 0;
	return r;
}

static void test_ca_files(void)
{
	struct blob ca = file("ca.pem"), oca = file("oca.pem"), v;
	struct tls_config cfg = base_cfg();
	struct {
		const char *name;
		struct blob b;
		bool owned;
		const char *want; /* NULL: handshake succeeds */
	} rows[] = {
	        {"CRLF line ends", crlf(ca), true, NULL},
	        {"no final newline", {ca.p, ca.n - 1}, false, NULL},
	        {"CRLF, no final CRLF", {NULL, 0}, true, NULL},
	        {"DER", file("ca.der"), false, NULL},
	        {"bundle, trusted CA second", concat(oca, ca, ca.n), true, NULL},
	        /* mbedTLS keeps the complete certificates of a bundle whose tail is cut */
	        {"bundle, second certificate truncated", concat(ca, oca, oca.n / 2), true, NULL},
	        {"truncated",
	         {ca.p, ca.n / 2},
	         false,
	         "CA certificate RAM:cacert.pem: PEM parse error: data truncated (no END line)"},
	        {"END line cut",
	         {ca.p, ca.n - 10},
	         false,
	         "CA certificate RAM:cacert.pem: PEM parse error: data truncated"},
	        {"invalid base64",
	         {NULL, 0},
	         true,
	         "CA certificate RAM:cacert.pem: PEM parse error: invalid base64 data"},
	        {"mangled BEGIN line",
	         {NULL, 0},
	         true,
	         "CA certificate RAM:cacert.pem: PEM parse error: no certificate in the file "
	         "(found "
	         "-----BEGIN CERTIFICAT------)"},
	        {"a key instead", file("ca.key"), false,
	         "PEM parse error: no certificate in the file (found -----BEGIN EC PRIVATE "
	         "KEY-----)"},
	        {"empty", {ca.p, 0}, false, "CA certificate RAM:cacert.pem: file is empty"},
	        {"binary junk",
	         {(uint8_t *)"\x30\x82\x01\x00junk", 8},
	         false,
	         "CA certificate RAM:cacert.pem: DER parse error"},
	        {"bundle, trusted CA truncated", concat(oca, ca, ca.n / 2), true,
	         "server certificate not trusted: unknown CA"},
	};
	size_t i;

	/* rows built by editing */
	v = crlf(ca);
	v.n -= 2;
	rows[2].b = v;
	v = concat(ca, ca, 0);
	v.p[100] = '#';
	rows[8].b = v;
	v = concat(ca, ca, 0);
	memcpy(strstr((char *)v.p, "CERTIFICATE-----"), "CERTIFICAT------", 16);
	rows[9].b = v;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		cfg.ca = rows[i].b.p;
		cfg.ca_len = rows[i].b.n;
		if (rows[i].want)
			expect_fail(rows[i].name, &cfg, &srv_default, rows[i].want);
		else
			expect_ok(rows[i].name, &cfg, &srv_default);
		if (rows[i].owned)
			free(rows[i].b.p);
	}
}

static void test_keys(void)
{
	struct tls_config cfg = base_cfg();
	struct srv_opts mutual = {.authmode = MBEDTLS_SSL_VERIFY_REQUIRED};
	struct blob key = file("cli.key");

	client_files(&cfg, "cli.pem", "cli_enc.key");
	cfg.key_password = "secret";
	expect_ok("encrypted key, right password", &cfg, &mutual);
	cfg.key_password = "nope";
	expect_fail("encrypted key, wrong password", &cfg, &mutual,
	            "private key password wrong for RAM:client.key");
	cfg.key_password = NULL;
	expect_fail("encrypted key, no password", &cfg, &mutual,
	            "private key RAM:client.key is encrypted but no password is configured");
	cfg.key_password = "";
	expect_fail("encrypted key, empty password", &cfg, &mutual, "no password is configured");
	/* mbedTLS 2.28's PKCS#5 has PBKDF2 with HMAC-SHA1 only: OpenSSL 3's default PKCS#8
	 * encryption (HMAC-SHA256) is refused, as on any mbedTLS 2.28 device */
	client_files(&cfg, "cli.pem", "cli_p8.key");
	cfg.key_password = "secret";
	expect_fail("PKCS#8 AES key", &cfg, &mutual,
	            "private key RAM:client.key: key encryption scheme not supported");
	client_files(&cfg, "cli.pem", "cli_p8des.key");
	expect_ok("PKCS#8 3DES/HMAC-SHA1 key", &cfg, &mutual);

	client_files(&cfg, "cli.pem", "cli.key");
	cfg.key_password = "ignored"; /* a password on a plain key is ignored */
	expect_ok("plain key with a password", &cfg, &mutual);
	cfg.key_len = key.n / 2;
	expect_fail("truncated key", &cfg, &mutual,
	            "private key RAM:client.key: PEM parse error: data truncated (no END line)");
	cfg.key = file("cli.pem").p;
	cfg.key_len = file("cli.pem").n;
	expect_fail("a certificate instead of a key", &cfg, &mutual,
	            "private key RAM:client.key: PEM parse error: no private key in the file "
	            "(found -----BEGIN CERTIFICATE-----)");
	cfg.key = NULL;
	cfg.key_len = 0;
	expect_fail("key configured, file empty", &cfg, &mutual,
	            "private key RAM:client.key: file is empty");
	cfg.key_name = NULL;
	expect_fail("certificate without key", &cfg, &mutual,
	            "client certificate RAM:client.pem configured without a private key");
	cfg.key = key.p;
	cfg.key_len = key.n;
	cfg.key_name = "RAM:client.key";
	cfg.cert_len = 20;
	expect_fail("truncated client certificate", &cfg, &mutual,
	            "client certificate RAM:client.pem: PEM parse error: data truncated");
}

/* Sessions configured with the same bytes share one parse (tls.c's cache): they must work at
 * the same time, outlive one another in any order, and never lend a parse to a session whose
 * bytes or password differ. More distinct contents than the cache holds parse their own. */
static void test_shared_files(void)
{
	struct srv_opts mutual = {.authmode = MBEDTLS_SSL_VERIFY_REQUIRED};
	struct tls_config cfg = base_cfg();
	struct blob ca = file("ca.pem");
	struct run r[3], many[70];
	struct blob padded[70];
	size_t i;

	client_files(&cfg, "cli.pem", "cli_enc.key");
	cfg.key_password = "secret";
	current = "shared: three sessions, one parse";
	for (i = 0; i < 3; i++) {
		run_start(&r[i], &cfg, &mutual, 0);
		CHECK(r[i].rc == TLS_DONE);
	}
	run_end(&r[1]); /* the middle one first: the others keep the parse */
	expect_ok("shared: a fourth while two live", &cfg, &mutual);
	cfg.key_password = "nope";
	expect_fail("shared: same key bytes, wrong password", &cfg, &mutual,
	            "private key password wrong for RAM:client.key");
	cfg.key_password = "secret";
	cfg.ca_name = "UFS:other.pem";
	cfg.ca_len = ca.n / 2;
	expect_fail("shared: same CA file cut, other name", &cfg, &mutual,
	            "CA certificate UFS:other.pem: PEM parse error: data truncated");
	cfg.ca_len = ca.n;
	run_end(&r[0]);
	run_end(&r[2]);
	expect_ok("shared: again after every session went", &cfg, &mutual);

	current = "shared: more contents than the cache holds";
	cfg = base_cfg();
	for (i = 0; i < 70; i++) {
		padded[i] = concat(ca, ca, 0);
		padded[i].p = realloc(padded[i].p, ca.n + i + 1);
		memset(padded[i].p + ca.n, '\n', i);
		padded[i].n = ca.n + i;
		cfg.ca = padded[i].p;
		cfg.ca_len = padded[i].n;
		run_start(&many[i], &cfg, &srv_default, 0);
		CHECK(many[i].rc == TLS_DONE);
	}
	for (i = 0; i < 70; i++) {
		run_end(&many[(i * 37) % 70]); /* a scattered order */
		free(padded[i].p);
	}
}

static void test_versions_and_suites(void)
{
	static const int rsa_only[] = {0x002F, 0x0035, 0x003D, 0xC013, 0xC014, 0xC027, 0xC02F, 0};
	static const int removed[] = {0x0005, 0x000A, 0};
	static const int aes128[] = {0x002F, 0};
	static const int srv_c02f[] = {0xC02F, 0};
	struct tls_config cfg = base_cfg();
	struct run r;
	static const struct {
		int id;
		bool ok;
	} supported[] = {
	        {0x002F, true},  {0x0035, true},  {0x003D, true},  {0xC009, true},
	        {0xC013, true},  {0xC02F, true},  {0xC030, true},  {0xC004, true},
	        {0x0005, false}, {0x0004, false}, {0x000A, false}, {0xC012, false},
	        {0x00A8, false}, {0xC0FF, false}, {0, false},      {0xFFFF, false},
	};
	size_t i;

	current = "tls_suite_supported";
	for (i = 0; i < sizeof(supported) / sizeof(supported[0]); i++) {
		CHECK(tls_suite_supported(supported[i].id) == supported[i].ok);
		if (tls_suite_supported(supported[i].id) != supported[i].ok)
			fprintf(stderr, "  suite 0x%04X\n", (unsigned)supported[i].id);
	}

	cfg.version_min = TLS_V1_0;
	cfg.version_max = TLS_V1_1;
	expect_fail("client 1.0-1.1, server 1.2 only", &cfg, &(struct srv_opts){.min_minor = 3},
	            "server refused TLS 1.0..TLS 1.1 (protocol_version alert)");
	cfg.version_min = TLS_V1_2;
	cfg.version_max = TLS_V1_2;
	expect_fail("client 1.2 only, server 1.0 only", &cfg, &(struct srv_opts){.max_minor = 1},
	            "server chose TLS 1.0, outside the configured TLS 1.2..TLS 1.2");
	cfg.version_min = TLS_V1_2;
	cfg.version_max = TLS_V1_0;
	expect_fail("inverted version range", &cfg, &srv_default, "invalid TLS version range");

	cfg = base_cfg();
	cfg.version_max = TLS_V1_1;
	current = "negotiates TLS 1.1";
	run_start(&r, &cfg, &srv_default, 0);
	CHECK(r.rc == TLS_DONE);
	CHECK(!strcmp(tls_version_name(r.c), "TLSv1.1"));
	run_end(&r);

	cfg = base_cfg();
	cfg.ciphersuites = removed;
	expect_fail("no suite left after intersection", &cfg, &srv_default,
	            "no common cipher suite: none of the configured suites (0x0005,0x000A) is "
	            "supported");
	cfg.ciphersuites = rsa_only;
	expect_fail("RSA suites against an ECDSA-only server", &cfg, &srv_default,
	            "handshake failure alert from server: no common cipher suite");
	cfg.ciphersuites = aes128;
	current = "RSA key exchange against an RSA server";
	run_start(&r, &cfg, &(struct srv_opts){.cert = "rsa.pem", .key = "rsa.key"}, 0);
	CHECK(r.rc == TLS_DONE);
	CHECK(!strcmp(tls_suite_name(r.c), "TLS-RSA-WITH-AES-128-CBC-SHA"));
	run_end(&r);
	/* the server's choice among the offered: only the offered suites are on the wire */
	cfg.ciphersuites = rsa_only;
	current = "server picks from the offered list";
	run_start(&r, &cfg,
	          &(struct srv_opts){.cert = "rsa.pem", .key = "rsa.key", .suites = srv_c02f}, 0);
	CHECK(r.rc == TLS_DONE);
	CHECK(!strcmp(tls_suite_name(r.c), "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"));
	run_end(&r);
}

static void test_names(void)
{
	static const struct {
		const char *name;
		const char *cert;
		const char *sni;
		const char *host;
		const char *want; /* NULL: succeeds */
		const char *seen; /* SNI the server saw; NULL: none */
	} rows[] = {
	        {"SNI and check", "srv.pem", "localhost", "localhost", NULL, "localhost"},
	        {"check without SNI", "srv.pem", NULL, "localhost", NULL, NULL},
	        {"SNI without check", "srv.pem", "other.example", NULL, NULL, "other.example"},
	        {"SNI differs from the checked name", "srv.pem", "localhost", "other.example",
	         "server certificate name mismatch: wanted other.example", "localhost"},
	        {"checked name differs from SNI", "srv.pem", "other.example", "localhost", NULL,
	         "other.example"},
	        {"case-insensitive", "srv.pem", NULL, "LocalHost", NULL, NULL},
	        {"IP SAN", "srv.pem", NULL, "127.0.0.1", NULL, NULL},
	        {"IP SAN mismatch", "srv.pem", NULL, "127.0.0.2",
	         "server certificate name mismatch: wanted 127.0.0.2", NULL},
	        {"IPv6 not in SAN", "srv.pem", NULL, "::1", "name mismatch: wanted ::1", NULL},
	        {"wildcard", "wild.pem", NULL, "a.example.com", NULL, NULL},
	        {"wildcard, bare domain", "wild.pem", NULL, "example.com", "name mismatch", NULL},
	        {"wildcard, two labels", "wild.pem", NULL, "a.b.example.com", "name mismatch",
	         NULL},
	        {"CN without SAN", "nosan.pem", NULL, "localhost", NULL, NULL},
	        {"CN without SAN, mismatch", "nosan.pem", NULL, "localhos", "name mismatch", NULL},
	        {"no SNI, no check", "wild.pem", NULL, NULL, NULL, NULL},
	};
	struct tls_config cfg = base_cfg();
	struct run r;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		current = rows[i].name;
		cfg.sni = rows[i].sni;
		cfg.verify_host = rows[i].host;
		run_start(&r, &cfg, &(struct srv_opts){.cert = rows[i].cert}, 0);
		if (rows[i].want) {
			CHECK(r.rc == TLS_FAILED);
			CHECK_HAS(r.cause, rows[i].want);
		} else {
			CHECK(r.rc == TLS_DONE);
			if (r.rc != TLS_DONE)
				fprintf(stderr, "  cause \"%s\"\n", r.cause);
		}
		CHECK(r.sv.sni_calls == (rows[i].seen ? 1 : 0));
		if (rows[i].seen)
			CHECK(!strcmp(r.sv.sni, rows[i].seen));
		run_end(&r);
	}
	/* a server that refuses the name it is given */
	cfg = base_cfg();
	cfg.sni = "bad.example";
	expect_fail("SNI refused", &cfg, &(struct srv_opts){.sni_strict = true},
	            "server does not serve the name sent in SNI (unrecognized_name alert)");
}

/* Plaintext both ways: total bytes each way in random chunk sizes, ciphertext delivered in
 * random pieces, the client's output left to pile up until tls_write pushes back. */
static void transfer(struct run *r, size_t total)
{
	uint8_t *src = malloc(total), *dst = malloc(total), *tmp = malloc(20000);
	size_t sent = 0, got = 0, k, off;
	bool pushed_back = false;
	const uint8_t *p;
	int rc;

	for (k = 0; k < total; k++)
		src[k] = (uint8_t)rnd();
	/* client -> server */
	while (got < total) {
		if (sent < total) {
			k = rnd_range(1, 20000);
			if (k > total - sent)
				k = total - sent;
			rc = tls_write(r->c, src + sent, k);
			CHECK(rc == TLS_WANT || (rc > 0 && (size_t)rc <= k));
			if (rc > 0)
				sent += (size_t)rc;
			if (rc == TLS_WANT) {
				tls_out(r->c, &p, &k);
				CHECK(k >= 64 * 1024);
				pushed_back = true;
			} else if (rnd() % 8 != 0 && sent < total) {
				continue; /* let ciphertext pile up */
			}
		}
		if (!to_server(r->c, &r->sv) && sent == total && r->sv.in.len == r->sv.in_off) {
			CHECK(!"client -> server stalled");
			break;
		}
		while (got < total) {
			k = rnd_range(1, 20000);
			if (k > total - got)
				k = total - got;
			rc = mbedtls_ssl_read(&r->sv.ssl, dst + got, k);
			if (rc <= 0) {
				CHECK(rc == MBEDTLS_ERR_SSL_WANT_READ);
				break;
			}
			got += (size_t)rc;
		}
	}
	CHECK(got == total && !memcmp(src, dst, total));
	CHECK(pushed_back || total < 128 * 1024);

	/* server -> client */
	for (k = 0; k < total; k++)
		src[k] = (uint8_t)rnd();
	memset(dst, 0, total);
	sent = got = 0;
	while (got < total) {
		if (sent < total) {
			k = rnd_range(1, 20000);
			if (k > total - sent)
				k = total - sent;
			rc = mbedtls_ssl_write(&r->sv.ssl, src + sent, k);
			CHECK(rc > 0);
			if (rc <= 0)
				break;
			sent += (size_t)rc;
		}
		for (off = 0; off < r->sv.out.len; off += k) {
			k = rnd_range(1, 5000);
			if (k > r->sv.out.len - off)
				k = r->sv.out.len - off;
			CHECK(tls_feed(r->c, r->sv.out.data + off, k) == 0);
			while ((rc = tls_read(r->c, tmp, rnd_range(1, 20000))) > 0) {
				CHECK(got + (size_t)rc <= total);
				if (got + (size_t)rc > total)
					break;
				memcpy(dst + got, tmp, (size_t)rc);
				got += (size_t)rc;
			}
			CHECK(rc == TLS_WANT);
		}
		r->sv.out.len = 0;
		if (sent == total && got < total) {
			CHECK(!"server -> client stalled");
			break;
		}
	}
	CHECK(got == total && !memcmp(src, dst, total));
	free(src);
	free(dst);
	free(tmp);
}

static void test_data(void)
{
	static const int aes128[] = {0x002F, 0};
	struct tls_config cfg = base_cfg();
	struct run r;

	current = "1 MiB each way, TLS 1.2";
	run_start(&r, &cfg, &srv_default, 0);
	CHECK(r.rc == TLS_DONE);
	if (r.rc == TLS_DONE)
		transfer(&r, 1024 * 1024);
	run_end(&r);

	/* TLS 1.0 CBC: mbedTLS splits records 1/n-1 (CVE-2011-3389), so writes come back short */
	cfg.version_max = TLS_V1_0;
	cfg.ciphersuites = aes128;
	current = "256 KiB each way, TLS 1.0 RSA";
	run_start(&r, &cfg, &(struct srv_opts){.cert = "rsa.pem", .key = "rsa.key"}, 0);
	CHECK(r.rc == TLS_DONE);
	CHECK(!strcmp(tls_version_name(r.c), "TLSv1.0"));
	if (r.rc == TLS_DONE)
		transfer(&r, 256 * 1024);
	run_end(&r);
}

static void test_close(void)
{
	struct tls_config cfg = base_cfg();
	uint8_t buf[64];
	struct run r;
	int rc;

	current = "server close_notify after data";
	run_start(&r, &cfg, &srv_default, 0);
	CHECK(mbedtls_ssl_write(&r.sv.ssl, (const uint8_t *)"bye", 3) == 3);
	CHECK(mbedtls_ssl_close_notify(&r.sv.ssl) == 0);
	to_client(&r.sv, r.c, 0);
	CHECK(tls_read(r.c, buf, sizeof(buf)) == 3 && !memcmp(buf, "bye", 3));
	CHECK(tls_read(r.c, buf, sizeof(buf)) == TLS_CLOSED);
	CHECK(!strcmp(tls_cause(r.c), "peer sent close_notify"));
	CHECK(tls_read(r.c, buf, sizeof(buf)) == TLS_CLOSED);
	CHECK(tls_write(r.c, buf, 1) == TLS_CLOSED);
	CHECK(tls_established(r.c) == false);
	CHECK(!strcmp(tls_version_name(r.c), "TLSv1.2"));
	run_end(&r);

	current = "client close_notify";
	run_start(&r, &cfg, &srv_default, 0);
	CHECK(tls_write(r.c, (const uint8_t *)"last", 4) == 4);
	tls_close_notify(r.c);
	tls_close_notify(r.c); /* once only */
	CHECK(tls_write(r.c, buf, 1) == TLS_CLOSED);
	to_server(r.c, &r.sv);
	CHECK(mbedtls_ssl_read(&r.sv.ssl, buf, sizeof(buf)) == 4);
	CHECK(mbedtls_ssl_read(&r.sv.ssl, buf, sizeof(buf)) == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY);
	CHECK(r.sv.in.len == r.sv.in_off); /* exactly one alert */
	run_end(&r);

	current = "TCP EOF without close_notify";
	run_start(&r, &cfg, &srv_default, 0);
	CHECK(mbedtls_ssl_write(&r.sv.ssl, (const uint8_t *)"x", 1) == 1);
	to_client(&r.sv, r.c, 0);
	tls_feed_eof(r.c);
	CHECK(tls_read(r.c, buf, sizeof(buf)) == 1);
	CHECK(tls_read(r.c, buf, sizeof(buf)) == TLS_CLOSED);
	CHECK(!strcmp(tls_cause(r.c), "peer closed without close_notify"));
	run_end(&r);

	current = "TCP EOF during the handshake";
	server_init(&r.sv, &srv_default);
	CHECK(tls_session_new(&cfg, &r.c, NULL, 0) == 0);
	CHECK(tls_handshake(r.c) == TLS_WANT);
	tls_feed_eof(r.c);
	CHECK(tls_handshake(r.c) == TLS_FAILED);
	CHECK(!strcmp(tls_cause(r.c), "peer closed during handshake"));
	CHECK(!strcmp(tls_version_name(r.c), ""));
	run_end(&r);

	current = "a plain-text server";
	server_init(&r.sv, &srv_default);
	CHECK(tls_session_new(&cfg, &r.c, NULL, 0) == 0);
	CHECK(tls_handshake(r.c) == TLS_WANT);
	tls_feed(r.c, (const uint8_t *)"HTTP/1.1 400 Bad Request\r\n\r\n", 28);
	CHECK(tls_handshake(r.c) == TLS_FAILED);
	CHECK_HAS(tls_cause(r.c), "server did not answer with TLS");
	run_end(&r);

	current = "a fatal alert after the handshake";
	run_start(&r, &cfg, &srv_default, 0);
	CHECK(mbedtls_ssl_send_alert_message(&r.sv.ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
	                                     MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR) == 0);
	to_client(&r.sv, r.c, 0);
	CHECK(tls_read(r.c, buf, sizeof(buf)) == TLS_FAILED);
	CHECK(!strcmp(tls_cause(r.c), "fatal alert from server: internal_error (80)"));
	run_end(&r);

	current = "input bound";
	run_start(&r, &cfg, &srv_default, 0);
	{
		static uint8_t junk[16 * 1024];
		int i;

		rc = 0;
		for (i = 0; i < 5; i++)
			CHECK(tls_feed(r.c, junk, sizeof(junk)) == 0); /* 80 KiB: within */
		CHECK(tls_feed(r.c, junk, 2 * 1024) == 0);
		rc = tls_feed(r.c, junk, 1);
		CHECK(rc == TLS_FAILED);
		CHECK_HAS(tls_cause(r.c), "receive buffer overflow");
		CHECK(tls_read(r.c, buf, sizeof(buf)) == TLS_FAILED);
		CHECK(tls_write(r.c, buf, 1) == TLS_FAILED);
	}
	run_end(&r);

	current = "cause buffer of the creation";
	{
		char small[8];
		struct tls_session *s = (struct tls_session *)1;

		cfg.ca_len = 0;
		CHECK(tls_session_new(&cfg, &s, small, sizeof(small)) == TLS_FAILED);
		CHECK(s == NULL && strlen(small) == 7);
		tls_session_free(NULL);
	}
}

/* RFC 2202 test cases 1 and 2. */
static void test_hmac_sha1(void)
{
	static const uint8_t want1[TLS_SHA1_LEN] = {0xb6, 0x17, 0x31, 0x86, 0x55, 0x05, 0x72,
	                                            0x64, 0xe2, 0x8b, 0xc0, 0xb6, 0xfb, 0x37,
	                                            0x8c, 0x8e, 0xf1, 0x46, 0xbe, 0x00};
	static const uint8_t want2[TLS_SHA1_LEN] = {0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f,
	                                            0xa2, 0xd2, 0x74, 0x16, 0xd5, 0xf1, 0x84,
	                                            0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79};
	uint8_t key[20], out[TLS_SHA1_LEN];
	const char *msg = "what do ya want for nothing?";

	memset(key, 0x0b, sizeof(key));
	CHECK(tls_hmac_sha1(key, sizeof(key), (const uint8_t *)"Hi There", 8, out) == 0);
	CHECK(memcmp(out, want1, sizeof(out)) == 0);
	CHECK(tls_hmac_sha1((const uint8_t *)"Jefe", 4, (const uint8_t *)msg, strlen(msg), out) ==
	      0);
	CHECK(memcmp(out, want2, sizeof(out)) == 0);
}

int main(void)
{
	test_hmac_sha1();
	make_pki();
	test_verify_levels();
	test_clock();
	test_ca_files();
	test_keys();
	test_shared_files();
	test_versions_and_suites();
	test_names();
	test_data();
	test_close();
	free_files();
	if (failures)
		fprintf(stderr, "test_tls: %d of %d checks failed (PKI kept in %s)\n", failures,
		        checks, dir);
	else {
		remove_pki();
		printf("test_tls: %d checks passed\n", checks);
	}
	return failures ? 1 : 0;
}
