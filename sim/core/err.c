#include "core/err.h"

const char *err_str(int status)
{
	if (status == 0)
		return "success";
	if (status > 0 || status < -1000) /* also keeps -status defined */
		return "unknown error";
	/* A number given twice in the table is a duplicate case label: it does not compile. */
	switch (-status) {
#define ERR_CASE_(name, num, text)                                                                 \
	case name:                                                                                 \
		return text;
		ERR_TABLE(ERR_CASE_)
#undef ERR_CASE_
	default:
		return "unknown error";
	}
}
