/*
 * text: percent-decoding and hex digits for the modules that read URIs (GS1 Digital Link in
 * gs1.c and trace.c, request paths in the API) and JSON escapes (report_data.c).
 */
#include "text.h"

int text_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int text_pct_decode(const char *s, size_t n, char *out, size_t cap, size_t *len)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -1;
			hi = text_hexval(s[i + 1]);
			lo = text_hexval(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o + 1 >= cap)
			return -2;
		out[o++] = c;
	}
	if (cap)
		out[o] = '\0';
	if (len)
		*len = o;
	return 0;
}
