/* Inlet's one error convention: functions return int, 0 on success or a
 * negative INLET_E* code. The table below is the only place codes are named;
 * inlet_strerror() and inlet_errname() are generated from it, and the HTTP
 * edge maps each code to one status (http/respond.c). */
#ifndef INLET_CORE_ERR_H
#define INLET_CORE_ERR_H

/* X(NAME, short machine code, message) */
#define INLET_ERRORS(X)                                                        \
	X(NOMEM, "out_of_memory", "out of memory")                             \
	X(INVAL, "invalid", "invalid input")                                   \
	X(NOTFOUND, "not_found", "not found")                                  \
	X(EXISTS, "exists", "already exists")                                  \
	X(TOOBIG, "too_big", "too large")                                      \
	X(TOOMANY, "too_many", "too many items")                               \
	X(IO, "io", "input/output error")                                      \
	X(DB, "database", "database error")                                    \
	X(CRYPTO, "crypto", "cryptographic failure")                           \
	X(TAMPERED, "tampered", "stored data failed authentication")           \
	X(AUTH, "unauthorized", "missing or invalid credentials")              \
	X(FORBIDDEN, "forbidden", "not allowed")                               \
	X(RATELIMIT, "rate_limited", "too many requests")                      \
	X(MEDIATYPE, "unsupported_media_type", "unsupported media type")       \
	X(METHOD, "method_not_allowed", "method not allowed")                  \
	X(BUSY, "busy", "resource busy")                                       \
	X(SHUTDOWN, "shutting_down", "server is shutting down")               \
	X(INTERNAL, "internal", "internal error")                              \
	X(CONFLICT, "conflict", "conflicts with the current state")            \
	X(UNAVAILABLE, "unavailable", "database server unavailable")

enum inlet_err {
	INLET_OK = 0,
	INLET_E__FIRST = -1000,
#define X(name, code, msg) INLET_E##name,
	INLET_ERRORS(X)
#undef X
	INLET_E__LAST
};

/* Human message for rc; never NULL, static storage. */
const char *inlet_strerror(int rc);
/* Machine code for rc ("not_found"), for JSON error bodies; static storage. */
const char *inlet_errname(int rc);

#endif
