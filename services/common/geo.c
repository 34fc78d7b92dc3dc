/*
 * geo: haversine distance.
 */
#include "geo.h"

#include <math.h>

#define EARTH_RADIUS_M 6371008.8
#define RAD (M_PI / 180.0)

double geo_distance_m(double lat1, double lon1, double lat2, double lon2)
{
	double dlat = (lat2 - lat1) * RAD, dlon = (lon2 - lon1) * RAD;
	double a = sin(dlat / 2) * sin(dlat / 2) +
		   cos(lat1 * RAD) * cos(lat2 * RAD) * sin(dlon / 2) * sin(dlon / 2);

	return 2 * EARTH_RADIUS_M * atan2(sqrt(a), sqrt(1 - a));
}
