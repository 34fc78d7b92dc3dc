/*
 * domain: the physical and business rules shared by every program — what a plausible
 * reading is. Limits come from the device protocol (v1) and are not configurable: a probe
 * reporting 120 °C is broken, whatever the customer wants.
 */
#ifndef COLDTRACE_DOMAIN_H
#define COLDTRACE_DOMAIN_H

#define DOMAIN_TEMP_MIN_C (-60.0)
#define DOMAIN_TEMP_MAX_C (80.0)
#define DOMAIN_RH_MIN (0.0)
#define DOMAIN_RH_MAX (100.0)
#define DOMAIN_LAT_ABS_MAX (90.0)
#define DOMAIN_LON_ABS_MAX (180.0)

int domain_temp_ok(double c);
int domain_rh_ok(double pct);
int domain_lat_ok(double deg);
int domain_lon_ok(double deg);

#endif
