/* ISO 8601 date and date-time, to ms since the epoch: "2026-11-23",
 * "2026-11-23T15:00:00", with "T", "t" or a space, optional seconds, an
 * optional fraction (".", or "," as ISO allows; cut to ms), and "Z", an
 * offset (+01:00, +0100, +01) or nothing (UTC). Pure, no locale. */
#ifndef INLET_CORE_ISOTIME_H
#define INLET_CORE_ISOTIME_H

#include <stdint.h>

/* t is NUL-terminated, without surrounding white space. INLET_EINVAL for
 * anything else, an impossible date (2026-02-30) or a time before 1970. */
int time_parse_iso(const char *t, int64_t *ms);

#endif
