/* ISO 8601 times as people and exports write them. */
#include "core/isotime.h"

#include <ctype.h>
#include <string.h>

#include "core/err.h"

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

int time_parse_iso(const char *t, int64_t *ms)
{
	const char *q;
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, off = 0;

	if (strlen(t) < 10 || digits(t, 4, &y) || t[4] != '-' || digits(t + 5, 2, &mo) || t[7] != '-' ||
	    digits(t + 8, 2, &d))
		return INLET_EINVAL;
	q = t + 10;
	if ((*q == 'T' || *q == 't' || *q == ' ') && q[1]) {
		if (digits(q + 1, 2, &h) || q[3] != ':' || digits(q + 4, 2, &mi))
			return INLET_EINVAL;
		q += 6;
		if (*q == ':') {
			if (digits(q + 1, 2, &sec))
				return INLET_EINVAL;
			q += 3;
		}
		if (*q == '.' || *q == ',') {
			int n = 0;

			for (q++; isdigit((unsigned char)*q); q++, n++)
				if (n < 3)
					frac = frac * 10 + (*q - '0');
			if (n == 0)
				return INLET_EINVAL;
			for (; n < 3; n++)
				frac *= 10;
		}
		while (*q == ' ')
			q++;
		if (*q == 'Z' || *q == 'z') {
			q++;
		} else if (*q == '+' || *q == '-') {
			int oh, om = 0, sign = *q == '+' ? 1 : -1;

			if (digits(q + 1, 2, &oh))
				return INLET_EINVAL;
			q += 3;
			if (*q == ':')
				q++;
			if (*q) {
				if (digits(q, 2, &om))
					return INLET_EINVAL;
				q += 2;
			}
			if (oh > 23 || om > 59)
				return INLET_EINVAL;
			off = sign * (oh * 60 + om);
		}
	}
	if (*q || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60 ||
	    y < 1970)
		return INLET_EINVAL;
	*ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - (int64_t)off * 60) * 1000 + frac;
	return *ms < 0 ? INLET_EINVAL : 0;
}
