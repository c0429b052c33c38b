/* Fallbacks for the fault API (scenario/fault.h, the fault mechanisms' module), so that the
 * scenario parser and engine build and validate before, or without, that module.
 *
 * The definitions are weak: the fault module's own fault_check() and fault_fire() replace them
 * whenever it is linked. This file's name sorts after fault.c on purpose: the library is a
 * static archive, and the linker takes the first member that defines an undefined symbol, so the
 * strong definitions are found first. fault_check() here knows the faults of the table in
 * scenarios/README.md; fault_fire() only logs that nothing happened. */
#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "modem/modem.h"
#include "scenario/parse.h"

#if defined(__has_include)
#if __has_include("scenario/fault.h")
#include "scenario/fault.h"
#define SCN_HAVE_FAULT_H 1
#endif
#endif
#ifndef SCN_HAVE_FAULT_H
int fault_check(const char *name, const struct scn_params *p, char *err, size_t errlen);
int fault_fire(struct modem *m, const char *name, const struct scn_params *p, char *err,
               size_t errlen);
int fault_history_json(struct buf *out);
size_t fault_count(void);
void fault_close(struct modemsim *sim);
#endif

/* Parameters: "name:T" with T one of N (number), D (duration), S (string), F (flag, no
 * value), or W(a|b|c) (one of these words); a leading '!' marks a required one. */
struct weak_fault {
	const char *name;
	const char *params[3];
};

static const struct weak_fault weak_faults[] = {
        {"link.close", {"!client:N"}},
        {"link.reset", {"!client:N"}},
        {"link.blackhole", {"!client:N"}},
        {"link.delay", {"!ms:N", "client:N"}},
        {"link.throttle", {"!bps:N", "client:N"}},
        {"link.fragment", {"!bytes:N", "client:N"}},
        {"link.corrupt", {"client:N", "offset:N"}},
        {"link.refuse", {"for:D"}},
        {"dns.fail", {"!name:S", "for:D"}},
        {"pdp.deact", {"cid:N"}},
        {"net.deregister", {"for:D"}},
        {"sim.remove", {NULL}},
        {"tls.cert", {"!kind:W(expired|wronghost|untrusted|notyet)", "for:D"}},
        {"tls.alert", {NULL}},
        {"tls.hang", {NULL}},
        {"mqtt.connack", {"!code:N"}},
        {"mqtt.suback", {"!code:N"}},
        {"mqtt.noack", {"count:N"}},
        {"mqtt.close-after", {"!publishes:N"}},
        {"mqtt.session-lost", {NULL}},
        {"modem.reboot", {NULL}},
        {"modem.hang", {"!for:D"}},
        {"modem.urc-burst", {"!count:N", "text:S"}},
        {"modem.baud", {"!bps:N", "input:F"}},
};

static const char *spec_name(const char *spec, size_t *n)
{
	const char *s = spec[0] == '!' ? spec + 1 : spec;

	*n = (size_t)(strchr(s, ':') - s);
	return s;
}

static bool value_ok(const char *type, const struct scn_param *v)
{
	switch (type[0]) {
	case 'N':
		return v->type == SCN_V_NUM;
	case 'D':
		return v->type == SCN_V_DUR;
	case 'S':
		return v->type == SCN_V_STR;
	case 'F':
		return v->type == SCN_V_NONE;
	case 'W': {
		const char *w = type + 2;

		if (v->type != SCN_V_WORD)
			return false;
		while (*w && *w != ')') {
			size_t n = strcspn(w, "|)");

			if (n == v->len && memcmp(w, v->text, n) == 0)
				return true;
			w += n + (w[n] == '|');
		}
		return false;
	}
	default:
		return false;
	}
}

static const char *type_text(const char *type)
{
	switch (type[0]) {
	case 'N':
		return "a number";
	case 'D':
		return "a duration";
	case 'S':
		return "a string";
	case 'F':
		return "no value";
	default:
		return "one of the listed words";
	}
}

__attribute__((weak)) int fault_check(const char *name, const struct scn_params *p, char *err,
                                      size_t errlen)
{
	const struct weak_fault *f = NULL;

	for (size_t i = 0; i < sizeof(weak_faults) / sizeof(weak_faults[0]); i++)
		if (strcmp(weak_faults[i].name, name) == 0)
			f = &weak_faults[i];
	if (!f) {
		snprintf(err, errlen, "unknown fault '%s'", name);
		return -ERR_NAME;
	}
	for (int i = 0; i < p->n; i++) {
		const char *spec = NULL;
		size_t n = 0;

		for (int k = 0; k < 3 && f->params[k]; k++) {
			const char *s = spec_name(f->params[k], &n);

			if (n == strlen(p->p[i].name) && memcmp(s, p->p[i].name, n) == 0)
				spec = f->params[k];
		}
		if (!spec) {
			snprintf(err, errlen, "fault %s has no parameter '%s'", name, p->p[i].name);
			return -ERR_INVAL;
		}
		if (!value_ok(strchr(spec, ':') + 1, &p->p[i])) {
			snprintf(err, errlen, "parameter %s of fault %s takes %s", p->p[i].name,
			         name, type_text(strchr(spec, ':') + 1));
			return -ERR_INVAL;
		}
	}
	for (int k = 0; k < 3 && f->params[k]; k++) {
		size_t n;
		const char *s = spec_name(f->params[k], &n);
		char pn[SCN_NAME_MAX + 1];

		if (f->params[k][0] != '!')
			continue;
		snprintf(pn, sizeof(pn), "%.*s", (int)n, s);
		if (!scn_param_get(p, pn)) {
			snprintf(err, errlen, "fault %s needs parameter '%s'", name, pn);
			return -ERR_INVAL;
		}
	}
	return 0;
}

__attribute__((weak)) int fault_fire(struct modem *m, const char *name, const struct scn_params *p,
                                     char *err, size_t errlen)
{
	(void)p;
	trace_event(m->index, "fault", "%s not fired: the fault mechanisms are not built in", name);
	snprintf(err, errlen, "fault %s: the fault mechanisms are not built in", name);
	return -ERR_STATE;
}

/* Nothing fires without the fault module: an empty history. */
__attribute__((weak)) int fault_history_json(struct buf *out)
{
	return buf_printf(out, "[]") < 0 ? -ERR_NOMEM : 0;
}

__attribute__((weak)) size_t fault_count(void)
{
	return 0;
}

__attribute__((weak)) void fault_close(struct modemsim *sim)
{
	(void)sim;
}
