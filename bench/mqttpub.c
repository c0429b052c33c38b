/* The reference MQTT publisher of harness/bench.py: libmosquitto publishing what the bench
 * makes a modem publish, to the same broker, one message at a time.
 *
 *   mqttpub HOST PORT QOS COUNT TOPIC PAYLOAD
 *
 * QoS 1: each publish waits for its PUBACK before the next; the latency of one is from
 * mosquitto_publish to the PUBACK (one broker round trip). QoS 0: the messages are written
 * back to back, then one QoS 1 message whose PUBACK says the broker has read them all; the
 * latency of one is its mosquitto_publish call. Prints one line,
 *   mqttpub count=K seconds=S p50_us=X p99_us=Y
 * and exits 0, or prints the failure on stderr and exits 1. */
#include <mosquitto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool connected;
static int acked_mid = -1;

static void on_connect(struct mosquitto *m, void *arg, int rc)
{
	(void)m;
	(void)arg;
	connected = rc == 0;
}

static void on_publish(struct mosquitto *m, void *arg, int mid)
{
	(void)m;
	(void)arg;
	acked_mid = mid;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Publish one message at qos and, with wait, loop until its PUBACK; 0 or -1. */
static int publish(struct mosquitto *m, const char *topic, const char *payload, int qos, bool wait)
{
	int mid = 0;
	int rc = mosquitto_publish(m, &mid, topic, (int)strlen(payload), payload, qos, false);
	if (rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "mqttpub: publish: %s\n", mosquitto_strerror(rc));
		return -1;
	}
	while (wait && acked_mid != mid) {
		rc = mosquitto_loop(m, 5000, 1);
		if (rc != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "mqttpub: waiting for PUBACK: %s\n",
			        mosquitto_strerror(rc));
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: mqttpub HOST PORT QOS COUNT TOPIC PAYLOAD\n");
		return 2;
	}
	int port = atoi(argv[2]), qos = atoi(argv[3]), count = atoi(argv[4]);
	const char *topic = argv[5], *payload = argv[6];
	double *lat = calloc((size_t)(count > 0 ? count : 1), sizeof(*lat));
	if (!lat || count < 1 || (qos != 0 && qos != 1))
		return 2;
	mosquitto_lib_init();
	struct mosquitto *m = mosquitto_new("bench-mqttpub", true, NULL);
	if (!m)
		return 1;
	mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
	mosquitto_connect_callback_set(m, on_connect);
	mosquitto_publish_callback_set(m, on_publish);
	int rc = mosquitto_connect(m, argv[1], port, 60);
	for (int i = 0; rc == MOSQ_ERR_SUCCESS && !connected && i < 50; i++)
		rc = mosquitto_loop(m, 100, 1);
	if (!connected) {
		fprintf(stderr, "mqttpub: no CONNACK from %s:%d: %s\n", argv[1], port,
		        mosquitto_strerror(rc));
		return 1;
	}
	double start = now_us();
	for (int i = 0; i < count; i++) {
		double t = now_us();
		if (publish(m, topic, payload, qos, qos == 1) < 0)
			return 1;
		lat[i] = now_us() - t;
	}
	if (qos == 0 && publish(m, topic, payload, 1, true) < 0)
		return 1;
	double seconds = (now_us() - start) / 1e6;
	qsort(lat, (size_t)count, sizeof(*lat), cmp_double);
	printf("mqttpub count=%d seconds=%.6f p50_us=%.1f p99_us=%.1f\n", count, seconds,
	       lat[count / 2], lat[(count * 99) / 100 < count ? (count * 99) / 100 : count - 1]);
	mosquitto_disconnect(m);
	mosquitto_destroy(m);
	mosquitto_lib_cleanup();
	free(lat);
	return 0;
}
