/*
 * flood: many simulated devices in one process, for load tests and benchmarks of the ingest.
 * Each device publishes a fixed number of small readings and the run ends when the ingest
 * has acknowledged every one of them.
 */
#ifndef COLDTRACE_SIM_FLOOD_H
#define COLDTRACE_SIM_FLOOD_H

#include <signal.h>
#include <stdbool.h>

#include "link.h"

struct flood_config {
	struct link_hub_config hub; /* broker, prefix, batch, resend_after (window set here) */
	const char *password;	    /* NULL: connect without one */
	const char *username;	    /* NULL: every device connects as itself */
	const char *device_prefix;  /* devices are {prefix}00001… */
	long devices;
	long records;	    /* per device */
	double rate;	    /* uplink messages per second over all devices; 0 = unlimited */
	int connections;    /* with username: MQTT connections shared by all devices */
	double ack_timeout; /* give up after this long without any progress */
	bool progress;	    /* a status line per second on stderr */
};

/* Runs the flood and prints the JSON summary on stdout. Returns the process exit code:
 * 0 when every record was acknowledged, 1 otherwise. */
int flood_run(const struct flood_config *cfg, const volatile sig_atomic_t *stop);

#endif
