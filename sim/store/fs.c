#include "store/fs.h"

#include "modem/modem.h"

int fs_init(struct modem *m)
{
	(void)m;
	return 0;
}

void fs_reboot(struct modem *m)
{
	(void)m;
}

void fs_free(struct modem *m)
{
	(void)m;
}
