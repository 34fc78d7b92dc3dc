/*
 * domain: range checks for readings. Comparisons are written so that NaN fails every one.
 */
#include "domain.h"

int domain_temp_ok(double c)
{
	return c >= DOMAIN_TEMP_MIN_C && c <= DOMAIN_TEMP_MAX_C;
}

int domain_rh_ok(double pct)
{
	return pct >= DOMAIN_RH_MIN && pct <= DOMAIN_RH_MAX;
}

int domain_lat_ok(double deg)
{
	return deg >= -DOMAIN_LAT_ABS_MAX && deg <= DOMAIN_LAT_ABS_MAX;
}

int domain_lon_ok(double deg)
{
	return deg >= -DOMAIN_LON_ABS_MAX && deg <= DOMAIN_LON_ABS_MAX;
}
