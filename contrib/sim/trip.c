/*
 * trip: one reefer trip, Guiyang packhouse -> Guangzhou or Shenzhen DC, simulated second by
 * second and emitted as protocol v1 records (readings every `interval` seconds, events at
 * the second they happen).
 *
 * The world: a truck loads at a cold dock (door open, load event with lots and pallet
 * SSCCs), drives the G76 corridor (Duyun, Sandu, Rongjiang, Congjiang, Sanjiang, Guilin,
 * Hezhou, Huaiji, Sihui) at 0-100 km/h with toll plazas, traffic, a rest stop and city
 * speeds at both ends, then unloads: about 8 h to Guangzhou, 8.5 h to Shenzhen. The road
 * through those towns is ~880/980 km, more than a truck covers in 8 h at 100 km/h, so the
 * truck's odometer run is RUN_KM and its map position is spread over the waypoint line in
 * proportion: speeds stay truthful, positions move ~1.3x faster than they imply.
 * The reefer controls supply air to the set point (chill mode), the box air (return) runs a
 * little warmer from the heat leaking through the walls, the product pulp follows the box air
 * with a time constant of hours, the ambient follows a day curve of ~15-28 °C (UTC+8). A
 * defrost every ~4 h warms the coil; an open door mixes in dock air.
 *
 * DESIGN. Determinism is the contract: the records are a pure function of trip_params. Every
 * random draw comes from one splitmix64 stream seeded by p->seed, in an order that depends
 * only on the simulated second and on motion state, never on temperatures or on p->start,
 * so the timeline (and trip_duration()) does not depend on the start time either. Resuming
 * after a crash relies on this: the simulator replays the trip from the beginning and
 * skips the records it already stored. Change the model => bump MODEL_VERSION, which is part
 * of trip_key(), so an old store refuses to resume with different records.
 */
#include "trip.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define MODEL_VERSION "trip-model-3"
#define WP_MAX 24
#define MAX_PALLETS 33 /* a 13.6 m reefer trailer */
#define CASES_PER_PALLET 40
#define QUEUE_MAX 8

/* Thermal model, seconds and °C; see the file comment for what each term stands for. */
#define TAU_SUPPLY 120.0       /* supply air follows the coil */
#define TAU_COIL 300.0	       /* box air exchange with the coil */
#define TAU_WALL 10800.0       /* heat leaking through the insulated walls */
#define TAU_PRODUCT_AIR 3600.0 /* the load's thermal mass pulls the box air */
#define TAU_DOOR 300.0	       /* open door: dock air mixes in */
#define TAU_PULP 14400.0       /* pulp follows the box air slowly */
#define TAU_RH 600.0
#define COOL_CAPACITY 12.0 /* the coil can cool return air by this much at most */
#define RESPIRATION 1.4e-5 /* °C/s of respiration heat (~0.05 °C/h) */
#define DEFROST_PERIOD 14400
#define DOCK_AIR 10.0

/* Motion. */
#define ACCEL_KMH_S 2.0 /* ~0.55 m/s² for a loaded truck */
#define DECEL_KMH_S 3.0
#define BRAKE_MS2 0.8 /* planned braking towards a stop */
#define CITY_KM 10.0
#define CITY_KMH 60.0
#define TOLL_KM 0.4
#define TOLL_KMH 40.0
#define RUN_KM_GUANGZHOU 620.0 /* odometer length of the run, see the file comment */
#define RUN_KM_SHENZHEN 690.0

enum phase { PH_LOADING, PH_DRIVING, PH_RESTING, PH_UNLOADING, PH_DONE };

enum item {
	IT_READING,
	IT_DOOR_OPEN,
	IT_DOOR_CLOSE,
	IT_LOAD,
	IT_UNLOAD,
	IT_DEFROST_START,
	IT_DEFROST_END,
	IT_ALARM,
	IT_POWER_LOSS,
	IT_POWER_RESTORED,
};

struct waypoint {
	const char *name;
	double lat, lon;
};

static const struct waypoint route_common[] = {
    {"Guiyang packhouse", 26.6000, 106.7100},
    {"Longli", 26.4530, 106.9790},
    {"Duyun", 26.2590, 107.5170},
    {"Sandu", 25.9830, 107.8700},
    {"Rongjiang", 25.9320, 108.5210},
    {"Congjiang", 25.7530, 108.9050},
    {"Sanjiang", 25.7830, 109.6070},
    {"Guilin", 25.2740, 110.2900},
    {"Yangshuo", 24.7780, 110.4960},
    {"Hezhou", 24.4040, 111.5670},
    {"Huaiji", 23.9110, 112.1830},
    {"Guangning", 23.6350, 112.4410},
    {"Sihui", 23.3270, 112.7340},
    {"Foshan Sanshui", 23.1560, 112.8960},
};
static const struct waypoint route_guangzhou[] = {
    {"Guangzhou DC", 23.1700, 113.3500},
};
static const struct waypoint route_shenzhen[] = {
    {"Guangzhou Panyu", 22.9400, 113.3800},
    {"Dongguan", 22.9700, 113.7500},
    {"Shenzhen DC", 22.6300, 114.0500},
};

/* Codes of shared/commodities.csv with their recommended range; set point = the middle. */
static const struct {
	const char *code;
	double tmin, tmax;
} commodities[] = {
    {"CHOY_SUM", 0, 2},	     {"GAI_LAN", 0, 2},	       {"PAK_CHOI", 0, 2},
    {"NAPA_CABBAGE", 0, 2},  {"PEA_SHOOTS", 0, 1},     {"SPINACH", 0, 2},
    {"LETTUCE", 0, 2},	     {"CILANTRO", 0, 1},       {"AMARANTH", 0, 2},
    {"GREEN_ONION", 0, 1},   {"BROCCOLI", 0, 1},       {"CABBAGE", 0, 1},
    {"CAULIFLOWER", 0, 1},   {"CELERY", 0, 1},	       {"CARROT", 0, 1},
    {"SNOW_PEA", 0, 1},	     {"SNAP_BEAN", 5, 7.5},    {"SWEET_CORN", 0, 1.5},
    {"MUSHROOM", 0, 1},	     {"TOMATO_MG", 12.5, 15},  {"TOMATO_RIPE", 10, 12.5},
    {"CUCUMBER", 10, 12.5},  {"EGGPLANT", 10, 12},     {"BELL_PEPPER", 7, 10},
    {"CHILI_PEPPER", 5, 10}, {"BITTER_MELON", 12, 13}, {"GINGER", 12, 14},
    {"KIWIFRUIT", 0, 1},     {"ORANGE", 3, 8},	       {"MANDARIN", 4, 7},
    {"LEMON", 10, 13},	     {"GRAPEFRUIT", 10, 15},   {"MANGO", 10, 13},
    {"BANANA", 13, 15},	     {"PAPAYA", 7, 13},	       {"PINEAPPLE", 7, 13},
    {"LYCHEE", 1, 2},	     {"STRAWBERRY", 0, 1},     {"BLUEBERRY", -0.5, 0},
    {"GRAPE", -1, 0},
};

struct trip {
	struct trip_params p;
	uint64_t rng;
	/* route */
	struct waypoint wp[WP_MAX];
	double cum_km[WP_MAX], heading[WP_MAX], cruise[WP_MAX]; /* map km along the line */
	size_t nwp, seg;
	double total_km;  /* odometer length of the run */
	double map_scale; /* map km per odometer km */
	/* plan, in seconds since start unless named _km */
	long door_open_at, load_at, door_close_at, depart_at;
	double rest_km, dead_km, fail_km;
	long rest_len, dead_len, fail_len;
	long arr_door_open, arr_unload, arr_door_close, arr_end; /* after arrival */
	/* what happened */
	long s, arrive_s, rest_until, dead_start, fail_start, fail_end;
	long next_defrost, defrost_end, slow_until;
	double slow_kmh;
	enum phase phase;
	bool started, rest_done, door, failed, unit_off, defrosting;
	/* physical state */
	double km, speed, head, lat, lon;
	double supply, box, pulp, rh, amb_walk;
	/* records due at second s, in order */
	enum item queue[QUEUE_MAX];
	int qlen, qhead;
	/* identifiers */
	char lot[21];
	char dest_gln[14];
	char sscc[MAX_PALLETS][19];
	int npallets;
};

/* ---- randomness ------------------------------------------------------------------------ */

static double rng_u(struct trip *t)
{
	uint64_t z = (t->rng += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return (double)(z >> 11) / 9007199254740992.0;
}

static double rng_range(struct trip *t, double lo, double hi)
{
	return lo + (hi - lo) * rng_u(t);
}

/* Approximately N(0,1): sum of four uniforms, scaled to unit variance; no libm involved. */
static double rng_gauss(struct trip *t)
{
	return (rng_u(t) + rng_u(t) + rng_u(t) + rng_u(t) - 2.0) * 1.7320508075688772;
}

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

/* ---- identifiers ----------------------------------------------------------------------- */

static int gs1_check_digit(const char *d, size_t n)
{
	int sum = 0;

	/* From the right, weights 3, 1, 3, … */
	for (size_t i = 0; i < n; i++)
		sum += (d[i] - '0') * ((n - i) % 2 ? 3 : 1);
	return (10 - sum % 10) % 10;
}

bool trip_gs1_valid(const char *digits)
{
	size_t n = strlen(digits);

	if (n < 2)
		return false;
	for (size_t i = 0; i < n; i++)
		if (digits[i] < '0' || digits[i] > '9')
			return false;
	return gs1_check_digit(digits, n - 1) == digits[n - 1] - '0';
}

const char *trip_dest_gln(enum trip_dest dest)
{
	return dest == TRIP_DEST_SHENZHEN ? "6970000000031" : "6970000000024";
}

int trip_dest_parse(const char *name, enum trip_dest *out)
{
	if (strcmp(name, "guangzhou") == 0)
		*out = TRIP_DEST_GUANGZHOU;
	else if (strcmp(name, "shenzhen") == 0)
		*out = TRIP_DEST_SHENZHEN;
	else
		return -1;
	return 0;
}

int trip_commodity_setpoint(const char *code, double *setpoint)
{
	for (size_t i = 0; i < sizeof(commodities) / sizeof(commodities[0]); i++) {
		if (strcmp(commodities[i].code, code) == 0) {
			*setpoint = (commodities[i].tmin + commodities[i].tmax) / 2;
			return 0;
		}
	}
	return -1;
}

void trip_key(const struct trip_params *p, char out[17])
{
	char buf[512];

	snprintf(buf, sizeof(buf), "%s|%s|%d|%s|%lld|%d|%llu|%u|%d|%.3f|%s|%s|%s|%d", MODEL_VERSION,
		 p->shipment, (int)p->dest, p->dest_gln, p->start, p->interval, p->seed, p->faults,
		 p->skew_min, p->setpoint, p->commodity, p->lot, p->gtin, p->qty);
	snprintf(out, 17, "%016llx", (unsigned long long)fnv1a(buf));
}

/* Pallet labels: extension 3, company prefix 6970000, a serial derived from the shipment. */
static void make_ids(struct trip *t)
{
	unsigned long long base = (fnv1a(t->p.shipment) ^ t->p.seed) % 10000000ULL;
	struct tm tm;
	time_t start = (time_t)(t->p.start + 8 * 3600); /* the packhouse's local date */
	char body[32], date[16];

	t->npallets = (t->p.qty + CASES_PER_PALLET - 1) / CASES_PER_PALLET;
	if (t->npallets > MAX_PALLETS)
		t->npallets = MAX_PALLETS;
	for (int i = 0; i < t->npallets; i++) {
		snprintf(body, sizeof(body), "36970000%09llu", base * 100 + (unsigned long long)i);
		snprintf(t->sscc[i], sizeof(t->sscc[i]), "%.17s%d", body,
			 gs1_check_digit(body, 17));
	}
	snprintf(t->dest_gln, sizeof(t->dest_gln), "%s",
		 t->p.dest_gln[0] ? t->p.dest_gln : trip_dest_gln(t->p.dest));
	if (t->p.lot[0]) {
		snprintf(t->lot, sizeof(t->lot), "%s", t->p.lot);
		return;
	}
	gmtime_r(&start, &tm);
	strftime(date, sizeof(date), "%Y%m%d", &tm);
	snprintf(t->lot, sizeof(t->lot), "GY-%.3s-%.8s-%c", t->p.commodity, date,
		 'A' + (int)(t->p.seed % 26));
}

/* ---- route and plan -------------------------------------------------------------------- */

static double rad(double deg)
{
	return deg * M_PI / 180.0;
}

static double haversine_km(const struct waypoint *a, const struct waypoint *b)
{
	double dlat = rad(b->lat - a->lat), dlon = rad(b->lon - a->lon);
	double h = sin(dlat / 2) * sin(dlat / 2) +
		   cos(rad(a->lat)) * cos(rad(b->lat)) * sin(dlon / 2) * sin(dlon / 2);

	return 2 * 6371.0 * asin(sqrt(h));
}

static double bearing_deg(const struct waypoint *a, const struct waypoint *b)
{
	double dlon = rad(b->lon - a->lon);
	double y = sin(dlon) * cos(rad(b->lat));
	double x =
	    cos(rad(a->lat)) * sin(rad(b->lat)) - sin(rad(a->lat)) * cos(rad(b->lat)) * cos(dlon);

	return fmod(atan2(y, x) * 180.0 / M_PI + 360.0, 360.0);
}

static void build_route(struct trip *t)
{
	const struct waypoint *tail = route_guangzhou;
	size_t ntail = sizeof(route_guangzhou) / sizeof(route_guangzhou[0]);
	size_t ncommon = sizeof(route_common) / sizeof(route_common[0]);

	if (t->p.dest == TRIP_DEST_SHENZHEN) {
		tail = route_shenzhen;
		ntail = sizeof(route_shenzhen) / sizeof(route_shenzhen[0]);
	}
	memcpy(t->wp, route_common, sizeof(route_common));
	memcpy(t->wp + ncommon, tail, ntail * sizeof(*tail));
	t->nwp = ncommon + ntail;
	t->cum_km[0] = 0;
	for (size_t i = 1; i < t->nwp; i++) {
		t->cum_km[i] = t->cum_km[i - 1] + haversine_km(&t->wp[i - 1], &t->wp[i]);
		t->heading[i - 1] = bearing_deg(&t->wp[i - 1], &t->wp[i]);
		t->cruise[i - 1] = rng_range(t, 90, 100);
	}
	t->total_km = t->p.dest == TRIP_DEST_SHENZHEN ? RUN_KM_SHENZHEN : RUN_KM_GUANGZHOU;
	t->map_scale = t->cum_km[t->nwp - 1] / t->total_km;
	t->lat = t->wp[0].lat;
	t->lon = t->wp[0].lon;
	t->head = t->heading[0];
}

/* Every planned time is drawn here, in a fixed order (see DESIGN). */
static void draw_plan(struct trip *t)
{
	t->door_open_at = 180 + (long)rng_range(t, 0, 120);
	t->load_at = t->door_open_at + 600 + (long)rng_range(t, 0, 300);
	t->door_close_at = t->load_at + 120 + (long)rng_range(t, 0, 60);
	t->depart_at = t->door_close_at + 180 + (long)rng_range(t, 0, 180);
	t->rest_km = t->total_km * rng_range(t, 0.45, 0.55);
	t->rest_len = 600 + (long)rng_range(t, 0, 600);
	/* The Rongjiang-Congjiang mountains: tunnels and no coverage. */
	t->dead_km = t->total_km * rng_range(t, 0.25, 0.30);
	t->dead_len = 3600 + (long)rng_range(t, -300, 300);
	t->fail_km = t->total_km * rng_range(t, 0.38, 0.45);
	t->fail_len = 10800 + (long)rng_range(t, -600, 600); /* long enough to warm the pulp */
	t->arr_door_open = 180 + (long)rng_range(t, 0, 120);
	t->arr_unload = t->arr_door_open + 600 + (long)rng_range(t, 0, 300);
	t->arr_door_close = t->arr_unload + 120 + (long)rng_range(t, 0, 60);
	t->arr_end = t->arr_door_close + 300;
	t->next_defrost = DEFROST_PERIOD + (long)rng_range(t, -600, 600);
	t->dead_start = t->fail_start = t->fail_end = t->arrive_s = -1;
}

static void init_state(struct trip *t)
{
	double sp = t->p.setpoint;

	t->supply = sp;
	t->box = sp + 0.8;
	t->pulp = sp + 0.3 + rng_range(t, 0, 0.6); /* pre-cooled, not quite at set point */
	t->rh = 94.0;
}

int trip_new(struct trip **out, const struct trip_params *p)
{
	struct trip *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (!t)
		return -1;
	t->p = *p;
	t->rng = p->seed;
	build_route(t);
	draw_plan(t);
	init_state(t);
	make_ids(t);
	*out = t;
	return 0;
}

void trip_free(struct trip *t)
{
	free(t);
}

/* ---- physics --------------------------------------------------------------------------- */

static double ambient(const struct trip *t)
{
	double tt = (double)t->p.start + (double)t->s + 8 * 3600.0;
	double hour = fmod(tt / 3600.0, 24.0);

	/* Coolest ~03:00, warmest ~15:00 local; the south is a little warmer. */
	return 21.5 + 6.5 * sin(2 * M_PI * (hour - 9.0) / 24.0) + (26.6 - t->lat) * 0.5 +
	       t->amb_walk;
}

static void thermal_step(struct trip *t)
{
	double sp = t->p.setpoint, amb = ambient(t), target, coil = 1.0, rh_target, dbox;
	double dock = fmax(DOCK_AIR, sp + 3.0);

	if (t->failed || t->unit_off) {
		target = t->box + 0.4; /* fans only (or nothing): no cooling */
	} else if (t->defrosting) {
		target = t->box + 3.0; /* heater on the coil, fans stopped */
		coil = 0.05;
	} else {
		target = fmax(sp, t->box - COOL_CAPACITY) + 0.3 * sin(2 * M_PI * t->s / 1200.0);
	}
	t->supply += (target - t->supply) / TAU_SUPPLY;
	dbox = coil * (t->supply - t->box) / TAU_COIL + (amb - t->box) / TAU_WALL +
	       (t->pulp - t->box) / TAU_PRODUCT_AIR;
	if (t->door)
		dbox += (dock - t->box) / TAU_DOOR;
	t->box += dbox;
	t->pulp += (t->box - t->pulp) / TAU_PULP + RESPIRATION;
	rh_target = t->door ? 72.0 : t->defrosting ? 98.0 : 95.0 - fmax(0, t->box - sp - 1.5);
	t->rh += (rh_target - t->rh) / TAU_RH;
}

static void locate(struct trip *t)
{
	double mk = t->km * t->map_scale, f;

	while (t->seg + 2 < t->nwp && mk >= t->cum_km[t->seg + 1])
		t->seg++;
	f = (mk - t->cum_km[t->seg]) / (t->cum_km[t->seg + 1] - t->cum_km[t->seg]);
	f = fmin(fmax(f, 0), 1);
	t->lat = t->wp[t->seg].lat + f * (t->wp[t->seg + 1].lat - t->wp[t->seg].lat);
	t->lon = t->wp[t->seg].lon + f * (t->wp[t->seg + 1].lon - t->wp[t->seg].lon);
	t->head = t->heading[t->seg];
}

static double target_speed(struct trip *t, double stop_km)
{
	double v = t->cruise[t->seg], remaining_m = (stop_km - t->km) * 1000.0;
	double mk = t->km * t->map_scale;

	if (t->km < CITY_KM || t->total_km - t->km < CITY_KM)
		v = fmin(v, CITY_KMH);
	/* Toll plazas and interchanges at every town on the way. */
	if ((mk - t->cum_km[t->seg]) / t->map_scale < TOLL_KM ||
	    (t->cum_km[t->seg + 1] - mk) / t->map_scale < TOLL_KM)
		v = fmin(v, TOLL_KMH);
	if (t->s < t->slow_until)
		v = fmin(v, t->slow_kmh);
	return fmin(v, sqrt(2 * BRAKE_MS2 * fmax(remaining_m, 0)) * 3.6);
}

/* Advances the truck one second; true when it came to rest at stop_km. */
static bool drive_step(struct trip *t, double stop_km)
{
	double v;

	if (t->s % 60 == 0 && t->s >= t->slow_until && rng_u(t) < 0.008) {
		t->slow_until = t->s + 180 + (long)rng_range(t, 0, 420);
		t->slow_kmh = rng_range(t, 10, 50);
	}
	v = target_speed(t, stop_km);
	if (t->speed < v)
		t->speed = fmin(v, t->speed + ACCEL_KMH_S);
	else
		t->speed = fmax(v, t->speed - DECEL_KMH_S);
	t->km += t->speed / 3600.0;
	if (t->km >= stop_km - 0.005 && t->speed < 4.0) {
		t->km = fmin(stop_km, t->total_km);
		t->speed = 0;
		locate(t);
		return true;
	}
	locate(t);
	return false;
}

/* ---- the timeline ---------------------------------------------------------------------- */

static void push(struct trip *t, enum item it)
{
	if (t->qlen < QUEUE_MAX)
		t->queue[t->qlen++] = it;
}

static void loading_step(struct trip *t)
{
	if (t->s == t->door_open_at) {
		t->door = true;
		push(t, IT_DOOR_OPEN);
	}
	if (t->s == t->load_at)
		push(t, IT_LOAD);
	if (t->s == t->door_close_at) {
		t->door = false;
		push(t, IT_DOOR_CLOSE);
	}
	if (t->s == t->depart_at)
		t->phase = PH_DRIVING;
}

static void unloading_step(struct trip *t)
{
	long since = t->s - t->arrive_s;

	if (since == t->arr_door_open) {
		t->door = true;
		push(t, IT_DOOR_OPEN);
	}
	if (since == t->arr_unload)
		push(t, IT_UNLOAD);
	if (since == t->arr_door_close) {
		t->door = false;
		push(t, IT_DOOR_CLOSE);
	}
	if (since == t->arr_end)
		t->phase = PH_DONE;
}

static void driving_step(struct trip *t)
{
	if (t->phase == PH_RESTING) {
		if (t->s >= t->rest_until)
			t->phase = PH_DRIVING;
		return;
	}
	if (!drive_step(t, t->rest_done ? t->total_km : t->rest_km))
		return;
	if (!t->rest_done) {
		t->rest_done = true;
		t->phase = PH_RESTING;
		t->rest_until = t->s + t->rest_len;
	} else {
		t->phase = PH_UNLOADING;
		t->arrive_s = t->s;
	}
}

static void fault_step(struct trip *t)
{
	if ((t->p.faults & TRIP_FAULT_DEAD_ZONE) && t->dead_start < 0 && t->km >= t->dead_km)
		t->dead_start = t->s;
	if ((t->p.faults & TRIP_FAULT_REEFER) && t->fail_start < 0 && t->km >= t->fail_km) {
		t->fail_start = t->s;
		t->fail_end = t->s + t->fail_len;
		t->failed = true;
		push(t, IT_ALARM);
	}
	/* The driver notices and power-cycles the unit, which clears the cutout. */
	if (t->s == t->fail_end) {
		t->failed = false;
		t->unit_off = true;
		push(t, IT_POWER_LOSS);
	}
	if (t->fail_end >= 0 && t->s == t->fail_end + 60) {
		t->unit_off = false;
		/* A power cycle restarts the controller's defrost interval too. */
		t->next_defrost = t->s + DEFROST_PERIOD;
		push(t, IT_POWER_RESTORED);
	}
}

static void defrost_step(struct trip *t)
{
	if (t->defrosting && t->s >= t->defrost_end) {
		t->defrosting = false;
		push(t, IT_DEFROST_END);
	}
	/* The controller postpones a defrost while the door is open or the unit is down. */
	if (!t->defrosting && t->s >= t->next_defrost && !t->door && !t->failed && !t->unit_off) {
		t->defrosting = true;
		t->defrost_end = t->s + 1200 + (long)rng_range(t, -180, 180);
		t->next_defrost = t->s + DEFROST_PERIOD + (long)rng_range(t, -600, 600);
		push(t, IT_DEFROST_START);
	}
}

/* One simulated second: physics, then whatever records fall due at it. */
static void advance(struct trip *t)
{
	if (t->started) {
		t->s++;
		if (t->s % 60 == 0)
			t->amb_walk = fmin(fmax(t->amb_walk + 0.15 * rng_gauss(t), -1.5), 1.5);
		if (t->phase == PH_DRIVING || t->phase == PH_RESTING)
			driving_step(t);
		thermal_step(t);
	}
	t->started = true;
	if (t->phase == PH_LOADING)
		loading_step(t);
	else if (t->phase == PH_UNLOADING)
		unloading_step(t);
	fault_step(t);
	defrost_step(t);
	if (t->s % t->p.interval == 0 || t->phase == PH_DONE)
		push(t, IT_READING);
}

/* ---- records --------------------------------------------------------------------------- */

/* JSON string body for text we mostly validated already; escapes anyway. */
static void json_escape(char *dst, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			n += (size_t)snprintf(dst + n, cap - n, "\\%c", c);
		else if (c < 0x20)
			n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
		else
			dst[n++] = (char)c;
	}
	dst[n] = '\0';
}

/* One decimal, and never "-0.0". */
static double round1(double v)
{
	v = round(v * 10.0) / 10.0;
	return v == 0 ? 0.0 : v;
}

static int header(struct trip *t, long long seq, const char *kind, struct trip_record *out)
{
	char ts[32], ship[140];
	struct tm tm;
	time_t dev;

	out->t = (double)(t->p.start + t->s);
	out->t_device = t->p.start + t->s;
	if (t->p.faults & TRIP_FAULT_CLOCK_SKEW)
		out->t_device += (long long)t->p.skew_min * 60;
	out->offline = t->dead_start >= 0 && t->s < t->dead_start + t->dead_len;
	dev = (time_t)out->t_device;
	gmtime_r(&dev, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_escape(ship, sizeof(ship), t->p.shipment);
	return snprintf(out->json, sizeof(out->json),
			"{\"seq\":%lld,\"t\":\"%s\",\"kind\":\"%s\",\"shipment\":\"%s\"", seq, ts,
			kind, ship);
}

static int reading(struct trip *t, long long seq, struct trip_record *out)
{
	int n = header(t, seq, "reading", out);
	/* One draw per statement: argument evaluation order is unspecified in C. */
	double supply = round1(t->supply + 0.05 * rng_gauss(t));
	double ret = round1(t->box + 0.05 * rng_gauss(t));
	double product = round1(t->pulp + 0.03 * rng_gauss(t));
	double amb = round1(ambient(t) + 0.1 * rng_gauss(t));
	double rh = round1(fmin(fmax(t->rh + 0.3 * rng_gauss(t), 0), 99.9));
	double lat = t->lat + 0.00002 * rng_gauss(t);
	double lon = t->lon + 0.00002 * rng_gauss(t);

	out->is_event = false;
	out->product = product;
	n +=
	    snprintf(out->json + n, sizeof(out->json) - (size_t)n,
		     ",\"temp\":{\"supply\":%.1f,\"return\":%.1f,\"product\":%.1f,\"ambient\":%.1f}"
		     ",\"rh\":%.1f,\"pos\":{\"lat\":%.5f,\"lon\":%.5f,\"speed_kmh\":%.1f,"
		     "\"heading_deg\":%.1f},\"setpoint\":%.1f,\"door\":\"%s\"}",
		     supply, ret, product, amb, rh, lat, lon, round1(t->speed), round1(t->head),
		     round1(t->p.setpoint), t->door ? "open" : "closed");
	return n;
}

static int custody(struct trip *t, int n, struct trip_record *out, bool load)
{
	char lot[48];
	size_t cap = sizeof(out->json);

	json_escape(lot, sizeof(lot), t->lot);
	n += snprintf(out->json + n, cap - (size_t)n,
		      ",\"type\":\"%s\",\"site\":\"%s\",\"lots\":[{\"gtin\":\"%s\",\"lot\":\"%s\","
		      "\"qty\":%d,\"uom\":\"CS\"}],\"sscc\":[",
		      load ? "load" : "unload", load ? TRIP_ORIGIN_GLN : t->dest_gln, t->p.gtin,
		      lot, t->p.qty);
	for (int i = 0; i < t->npallets; i++)
		n += snprintf(out->json + n, cap - (size_t)n, "%s\"%s\"", i ? "," : "", t->sscc[i]);
	return n + snprintf(out->json + n, cap - (size_t)n, "]}");
}

static int event(struct trip *t, enum item it, long long seq, struct trip_record *out)
{
	static const char *const types[] = {
	    [IT_DOOR_OPEN] = "door_open",	  [IT_DOOR_CLOSE] = "door_close",
	    [IT_DEFROST_START] = "defrost_start", [IT_DEFROST_END] = "defrost_end",
	    [IT_POWER_LOSS] = "power_loss",	  [IT_POWER_RESTORED] = "power_restored",
	};
	int n = header(t, seq, "event", out);
	size_t cap = sizeof(out->json);

	out->is_event = true;
	out->product = 0;
	if (it == IT_LOAD || it == IT_UNLOAD)
		return custody(t, n, out, it == IT_LOAD);
	if (it == IT_ALARM)
		return n + snprintf(out->json + n, cap - (size_t)n,
				    ",\"type\":\"reefer_alarm\",\"code\":\"A21\","
				    "\"text\":\"compressor stopped: high pressure cutout\"}");
	return n + snprintf(out->json + n, cap - (size_t)n, ",\"type\":\"%s\"}", types[it]);
}

int trip_next(struct trip *t, long long seq, struct trip_record *out)
{
	enum item it;
	int n;

	while (t->qhead == t->qlen) {
		if (t->phase == PH_DONE && t->started)
			return 0;
		t->qhead = t->qlen = 0;
		advance(t);
	}
	it = t->queue[t->qhead++];
	n = it == IT_READING ? reading(t, seq, out) : event(t, it, seq, out);
	if (n < 0 || (size_t)n >= sizeof(out->json)) {
		log_error("trip: record %lld does not fit in %d bytes", seq, TRIP_JSON_MAX);
		return -1;
	}
	out->len = (size_t)n;
	return 1;
}

int trip_duration(const struct trip_params *p, long long *seconds)
{
	struct trip *t;
	struct trip_record *r = malloc(sizeof(*r));
	long long seq = 0;
	int rc = -1;

	if (!r || trip_new(&t, p) != 0)
		goto out;
	while ((rc = trip_next(t, ++seq, r)) == 1)
		;
	*seconds = t->s;
	trip_free(t);
out:
	free(r);
	return rc;
}
