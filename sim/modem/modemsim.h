/* The process: options, the loop, the modems and where their persistent storage lives. */
#ifndef MODEMSIM_MODEM_MODEMSIM_H
#define MODEMSIM_MODEM_MODEMSIM_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct modem;
struct modem_hooks;
struct net_map;
struct net_broker;
struct scn_engine;

enum timing_profile { TIMING_REALISTIC, TIMING_FAST };
enum broker_mode { BROKER_EMBEDDED, BROKER_NONE };

struct modemsim_options {
	const char *model;
	const char *link;
	int count;
	int index_base; /* --index-base: modem k is modem index_base + k (its index) */
	uint64_t seed;
	const char *log_path;
	const char *trace_path;
	const char *state_dir;
	enum timing_profile timing;
	double time_scale;
	int verbose;
	bool list_commands;
	bool list_models;
	enum broker_mode broker;
	bool broker_given; /* --broker on the command line: its failures are fatal */
	const char *certs_dir; /* --certs: the test PKI for the embedded broker */
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
	struct net_map *net; /* --resolve and --route, plus the embedded broker's defaults */
	struct net_broker *broker; /* the embedded broker, or NULL */
	struct scn_engine *scn; /* --scenario / --control (scenario/engine.h), or NULL */
	const struct modem_hooks *hooks[4];
	/* MODEM_HOOKS_MAX */ /* observers of every modem (modem/hooks.h) */
	int nhooks;
};

#endif
