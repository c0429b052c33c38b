/* One table of modemsim's error causes, as libuv has one (uv-errno.h): every cause has a number
 * of its own, so a status says which layer gave up as well as why, and one err_str() names any
 * of them. Functions return 0 on success or a negated number (-ERR_NOMEM, -NET_ERR_DNS).
 *
 *     1..99    ERR_*      general causes
 *   100..199   NET_ERR_*  why a connection did not open or ended (net/conn.h)
 *   200..299   TLS_ERR_*  what the TLS adapter returns besides byte counts (tls/tls.h)
 *
 * AT results (OK, ERROR, +CME ERROR) are not errors of this kind: they are data returned by
 * command handlers (see at/dispatch.h). */
#ifndef MODEMSIM_CORE_ERR_H
#define MODEMSIM_CORE_ERR_H

/* X(name, number, text). The texts appear in traces and logs, which tests read: keep them. */
#define ERR_TABLE(X)                                                                               \
	X(ERR_NOMEM, 1, "out of memory")                                                           \
	X(ERR_INVAL, 2, "invalid argument")                                                        \
	X(ERR_RANGE, 3, "value out of range")                                                      \
	X(ERR_SYNTAX, 4, "syntax error")                                                           \
	X(ERR_IO, 5, "input/output error")                                                         \
	X(ERR_NOENT, 6, "no such file")                                                            \
	X(ERR_EXIST, 7, "already exists")                                                          \
	X(ERR_NAME, 8, "invalid name")                                                             \
	X(ERR_NOSPC, 9, "no space left")                                                           \
	X(ERR_TOOBIG, 10, "too large")                                                             \
	X(ERR_BUSY, 11, "busy")                                                                    \
	X(ERR_STATE, 12, "not allowed in this state")                                              \
	X(ERR_SYS, 13, "system call failed")                                                       \
	/* the network; callers map these to the module's result codes */                          \
	X(NET_ERR_DNS, 100, "name not resolved")                                                   \
	X(NET_ERR_REFUSED, 101, "connection refused")                                              \
	X(NET_ERR_UNREACH, 102, "network unreachable")                                             \
	X(NET_ERR_TIMEOUT, 103, "timed out")                                                       \
	X(NET_ERR_TLS, 104, "TLS failure")                                                         \
	X(NET_ERR_RESET, 105, "connection reset by peer")                                          \
	X(NET_ERR_PEER_CLOSED, 106, "closed by peer")                                              \
	X(NET_ERR_IO, 107, "socket error")                                                         \
	X(NET_ERR_NOMEM, 108, "out of memory")                                                     \
	/* the TLS adapter; the cause in words is tls_cause()'s */                                 \
	X(TLS_ERR_WANT, 200, "TLS needs more data or room")                                        \
	X(TLS_ERR_CLOSED, 201, "TLS session closed")                                               \
	X(TLS_ERR_FAILED, 202, "TLS session failed")

enum err_code {
	ERR_NONE = 0,
#define ERR_ENUM_(name, num, text) name = num,
	ERR_TABLE(ERR_ENUM_)
#undef ERR_ENUM_
};

/* Text of a status: "success" for 0, the table's text for a negated cause, else "unknown
 * error". */
const char *err_str(int status);

#endif
