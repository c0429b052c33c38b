/* Loopback endpoints that misbehave on purpose, for the faults whose other end must really do
 * something wrong (scenario/fault.c). All on 127.0.0.1, made on first use, kept until
 * net_trap_close():
 *
 *   refuse  a port bound but not listening: the kernel answers every SYN with an RST, so a
 *           connect fails with ECONNREFUSED for real (fault link.refuse)
 *   hang    a listening socket nobody accepts from: the kernel completes the TCP handshake
 *           and queues what the client sends, and nothing ever answers (fault tls.hang)
 *   alert   a server that reads the ClientHello record and answers with a fatal
 *           handshake_failure alert (RFC 5246 7.2: level 2, description 40), then closes
 *           (fault tls.alert)
 *
 * Each returns the port, or 0 with a message in the log when the socket cannot be made. */
#ifndef MODEMSIM_NET_TRAP_H
#define MODEMSIM_NET_TRAP_H

#include <uv.h>

int net_trap_refuse_port(void);
int net_trap_hang_port(void);
int net_trap_alert_port(uv_loop_t *loop);
/* Close everything (the alert server's handles asynchronously). Safe to call twice. */
void net_trap_close(void);

#endif
