/* The process: options, the loop, the modems and where their persistent storage lives. */
#ifndef MODEMSIM_MODEM_MODEMSIM_H
#define MODEMSIM_MODEM_MODEMSIM_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct modem;

enum timing_profile { TIMING_REALISTIC, TIMING_FAST };

struct modemsim_options {
	const char *model;
	const char *link;
	int count;
	uint64_t seed;
	const char *log_path;
	const char *trace_path;
	const char *state_dir;
	enum timing_profile timing;
	double time_scale;
	int verbose;
};

struct modemsim {
	uv_loop_t *loop;
	struct modemsim_options opt;
	char state_dir[PATH_MAX]; /* persistent storage root: <state_dir>/<index>/{UFS,NVRAM} */
	bool state_tmp; /* created by us, removed on exit */
	struct modem *modems;
	int count;
	struct modem *dirty; /* modems with queued output */
	uv_prepare_t flush_prepare;
	uv_check_t flush_check;
};

#endif
