/* One table of modemsim's internal error codes. Functions return 0 on success or a negative
 * ERR_* value; err_str() gives its text. AT results (OK, ERROR, +CME ERROR) are not errors of
 * this kind: they are data returned by command handlers (see at/dispatch.h). */
#ifndef MODEMSIM_CORE_ERR_H
#define MODEMSIM_CORE_ERR_H

#define ERR_TABLE(X)                                                                               \
	X(NOMEM, "out of memory")                                                                  \
	X(INVAL, "invalid argument")                                                               \
	X(RANGE, "value out of range")                                                             \
	X(SYNTAX, "syntax error")                                                                  \
	X(IO, "input/output error")                                                                \
	X(NOENT, "no such file")                                                                   \
	X(EXIST, "already exists")                                                                 \
	X(NAME, "invalid name")                                                                    \
	X(NOSPC, "no space left")                                                                  \
	X(TOOBIG, "too large")                                                                     \
	X(BUSY, "busy")                                                                            \
	X(STATE, "not allowed in this state")                                                      \
	X(SYS, "system call failed")

enum err_code {
	ERR_NONE = 0,
#define ERR_ENUM_(name, text) ERR_##name,
	ERR_TABLE(ERR_ENUM_)
#undef ERR_ENUM_
};

/* Text of a status: 0, a negative ERR_* value, or anything else ("unknown error"). */
const char *err_str(int status);

#endif
