/*
 * geo: great-circle distance, the one place coldtrace does geometry in C (geofences around
 * sites). WGS 84 degrees in, metres out, on a sphere of the mean Earth radius: within 0.5 %,
 * far inside any geofence's radius.
 */
#ifndef COLDTRACE_GEO_H
#define COLDTRACE_GEO_H

double geo_distance_m(double lat1, double lon1, double lat2, double lon2);

#endif
