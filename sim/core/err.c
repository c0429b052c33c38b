#include "core/err.h"

static const char *const texts[] = {"success",
#define ERR_TEXT_(name, text) text,
                                    ERR_TABLE(ERR_TEXT_)
#undef ERR_TEXT_
};

const char *err_str(int status)
{
	int i = -status;

	if (i < 0 || i >= (int)(sizeof(texts) / sizeof(texts[0])))
		return "unknown error";
	return texts[i];
}
