/* The modem's file store: drives UFS: and RAM: (EC25), RAM: and NVRAM: (M95). */
#ifndef MODEMSIM_STORE_FS_H
#define MODEMSIM_STORE_FS_H

struct modem;

struct fs_state {
	int unused;
};

int fs_init(struct modem *m);
void fs_reboot(struct modem *m);
void fs_free(struct modem *m);

#endif
