/* The PDP calls other areas use: pdp_active, pdp_local_ip, pdp_network_deactivate (URC bytes),
 * the M95 state names, and what a reboot keeps. The AT side is covered end to end by
 * harness/tests/test_pdp.py; the network drop has no AT trigger yet, so it is checked here. */
#include <uv.h>

#include "check.h"
#include "core/buf.h"
#include "modem/modem.h"
#include "modem/modemsim.h"

static struct buf host; /* bytes the host would read */

static int capture(void *ctx, const uint8_t *p, size_t n)
{
	(void)ctx;
	return buf_append(&host, p, n);
}

static void take(struct modemsim *sim, const char *expect)
{
	modemsim_flush(sim);
	CHECK_MEM(host.data, host.len, expect, strlen(expect));
	if (host.len != strlen(expect))
		fprintf(stderr, "  got %zu bytes: %.*s\n", host.len, (int)host.len,
		        host.data ? (const char *)host.data : "");
	buf_reset(&host);
}

static void start(struct modemsim *sim, struct modem *m, const struct model_profile *p)
{
	memset(m, 0, sizeof(*m));
	CHECK(modem_init(m, sim, 0, p) == 0);
	m->port.write = capture;
}

static void stop(struct modemsim *sim, struct modem *m)
{
	modem_close(m);
	uv_run(sim->loop, UV_RUN_NOWAIT);
	modem_release(m);
}

static void test_ec25(struct modemsim *sim)
{
	struct modem m;

	start(sim, &m, &profile_ec25);
	CHECK(!pdp_active(&m, 1));
	CHECK(pdp_local_ip(&m, 1) == NULL);
	CHECK(!pdp_active(&m, 0) && !pdp_active(&m, 17) && !pdp_active(&m, -1));

	pdp_activate(&m, 1);
	CHECK(pdp_active(&m, 1));
	CHECK(pdp_local_ip(&m, 1) && strcmp(pdp_local_ip(&m, 1), "10.100.0.13") == 0);
	modem_pdp(&m)->ctx[2].cfg.type = PDP_IPV6;
	pdp_activate(&m, 2);
	CHECK(strcmp(pdp_local_ip(&m, 2), "fd00:a:0:2::1") == 0);
	modem_pdp(&m)->ctx[3].cfg.type = PDP_IPV4V6;
	pdp_activate(&m, 3);
	CHECK(strcmp(pdp_local_ip(&m, 3), "10.100.0.45") == 0);

	/* the network drops context 2: URC, inactive, the others untouched */
	pdp_network_deactivate(&m, 2);
	take(sim, "\r\n+QIURC: \"pdpdeact\",2\r\n");
	CHECK(!pdp_active(&m, 2) && pdp_local_ip(&m, 2) == NULL);
	CHECK(pdp_active(&m, 1) && pdp_active(&m, 3));
	/* not active (again, never, out of range): nothing */
	pdp_network_deactivate(&m, 2);
	pdp_network_deactivate(&m, 4);
	pdp_network_deactivate(&m, 0);
	pdp_network_deactivate(&m, 17);
	take(sim, "");
	/* losing the network drops the rest, in contextID order */
	pdp_network_deactivate_all(&m);
	take(sim, "\r\n+QIURC: \"pdpdeact\",1\r\n\r\n+QIURC: \"pdpdeact\",3\r\n");

	/* a host deactivation is silent */
	pdp_activate(&m, 5);
	pdp_deactivate(&m, 5);
	CHECK(!pdp_active(&m, 5));
	take(sim, "");

	/* URCs wait while a command runs */
	pdp_activate(&m, 1);
	m.at.busy = true;
	pdp_network_deactivate(&m, 1);
	take(sim, "");
	m.at.busy = false;
	modem_urc_flush(&m);
	take(sim, "\r\n+QIURC: \"pdpdeact\",1\r\n");

	/* a reboot deactivates without a URC and keeps the configuration */
	snprintf(modem_pdp(&m)->ctx[1].cfg.apn, sizeof(modem_pdp(&m)->ctx[1].cfg.apn), "keep.me");
	pdp_activate(&m, 1);
	pdp_set_error(&m, 561);
	pdp_reboot(&m);
	CHECK(!pdp_active(&m, 1));
	CHECK(strcmp(modem_pdp(&m)->ctx[1].cfg.apn, "keep.me") == 0);
	CHECK(modem_pdp(&m)->ctx[3].cfg.type == PDP_IPV4V6);
	CHECK(modem_pdp(&m)->last_err == 0);
	take(sim, "");
	stop(sim, &m);
}

static void test_m95(struct modemsim *sim)
{
	struct modem m;

	start(sim, &m, &profile_m95);
	CHECK(pdp_m95_state(&m) == PDP_M95_IP_INITIAL);
	CHECK(!pdp_active(&m, 1) && pdp_local_ip(&m, 1) == NULL);
	/* a drop before activation: nothing */
	pdp_network_deactivate(&m, 1);
	take(sim, "");

	pdp_m95_set_state(&m, PDP_M95_IP_START);
	pdp_m95_activate(&m);
	CHECK(pdp_m95_state(&m) == PDP_M95_IP_GPRSACT);
	CHECK(pdp_active(&m, 1) && pdp_active(&m, 0)); /* one context: the cid does not matter */
	CHECK(strcmp(pdp_local_ip(&m, 1), "10.100.0.13") == 0);

	pdp_m95_set_state(&m, PDP_M95_CONNECT_OK); /* as the socket issue will */
	CHECK(pdp_active(&m, 1));
	pdp_network_deactivate(&m, 1);
	take(sim, "\r\n+PDP DEACT\r\n");
	CHECK(pdp_m95_state(&m) == PDP_M95_PDP_DEACT);
	CHECK(!pdp_active(&m, 1) && pdp_local_ip(&m, 1) == NULL);
	pdp_network_deactivate_all(&m);
	take(sim, "");

	pdp_m95_deactivate(&m);
	CHECK(pdp_m95_state(&m) == PDP_M95_IP_INITIAL);

	CHECK(strcmp(pdp_m95_state_name(PDP_M95_IP_INITIAL), "IP INITIAL") == 0);
	CHECK(strcmp(pdp_m95_state_name(PDP_M95_PDP_DEACT), "PDP DEACT") == 0);
	CHECK(strcmp(pdp_m95_state_name((enum pdp_m95_state)99), "?") == 0);

	/* a reboot forgets everything on the M95 */
	snprintf(modem_pdp(&m)->m95.cfg[0].apn, sizeof(modem_pdp(&m)->m95.cfg[0].apn), "CMNET");
	modem_pdp(&m)->m95.mux = 1;
	pdp_m95_set_state(&m, PDP_M95_IP_STATUS);
	pdp_reboot(&m);
	CHECK(pdp_m95_state(&m) == PDP_M95_IP_INITIAL);
	CHECK(modem_pdp(&m)->m95.cfg[0].apn[0] == 0 && modem_pdp(&m)->m95.mux == 0);
	take(sim, "");
	stop(sim, &m);
}

int main(void)
{
	struct modemsim sim;
	uv_loop_t loop;

	memset(&sim, 0, sizeof(sim));
	uv_loop_init(&loop);
	sim.loop = &loop;
	sim.opt.timing = TIMING_FAST;
	sim.opt.time_scale = 1;
	buf_init(&host, 0);

	test_ec25(&sim);
	test_m95(&sim);

	buf_free(&host);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
	return check_exit();
}
