#include "core/err.h"

static const char *const messages[] = {
#define X(name, code, msg) msg,
	INLET_ERRORS(X)
#undef X
};

static const char *const names[] = {
#define X(name, code, msg) code,
	INLET_ERRORS(X)
#undef X
};

static int index_of(int rc)
{
	if (rc <= INLET_E__FIRST || rc >= INLET_E__LAST)
		return -1;
	return rc - INLET_E__FIRST - 1;
}

const char *inlet_strerror(int rc)
{
	int i;

	if (rc == 0)
		return "ok";
	i = index_of(rc);
	return i < 0 ? "unknown error" : messages[i];
}

const char *inlet_errname(int rc)
{
	int i;

	if (rc == 0)
		return "ok";
	i = index_of(rc);
	return i < 0 ? "internal" : names[i];
}
