/*
 * gs1: check digits of GS1 keys, shared by the CLI (sites, shipments) and the ingest (GLNs of
 * custody events, GTINs of lots, SSCCs of pallets). Pure functions, no allocation.
 */
#include "gs1.h"

int gs1_check_digit(const char *body, size_t len, int *digit)
{
	int sum = 0;

	if (!body || len == 0 || len > 17)
		return -1;
	/* The digit next to the check digit weighs 3, then 1, 3, 1 … going left. */
	for (size_t i = 0; i < len; i++) {
		char c = body[len - 1 - i];

		if (c < '0' || c > '9')
			return -1;
		sum += (c - '0') * (i % 2 == 0 ? 3 : 1);
	}
	*digit = (10 - sum % 10) % 10;
	return 0;
}

int gs1_check_digit_ok(const char *digits, size_t len)
{
	int want;

	if (!digits)
		return 0;
	if (len != 8 && len != 12 && len != 13 && len != 14 && len != 18)
		return 0;
	if (digits[len - 1] < '0' || digits[len - 1] > '9')
		return 0;
	if (gs1_check_digit(digits, len - 1, &want) < 0)
		return 0;
	return digits[len - 1] - '0' == want;
}
