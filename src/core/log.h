/* One JSON line per event, to stderr. Level from INLET_LOG_LEVEL
 * (debug|info|warn|error; default info). Thread-safe: each line is built in
 * a local buffer and written with one write(2). */
#ifndef INLET_CORE_LOG_H
#define INLET_CORE_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level lvl);
int log_level_parse(const char *s, enum log_level *out);
int log_enabled(enum log_level lvl);

/* fields: a fragment of JSON object members already escaped by the caller
 * (build it with log_field_*), or NULL. msg is escaped here. */
void log_emit(enum log_level lvl, const char *msg, const char *fields);
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends `,"key":"escaped value"` to buf (capped at size, NUL-terminated). */
void log_field_str(char *buf, size_t size, const char *key, const char *val);
void log_field_int(char *buf, size_t size, const char *key, long long val);

/* JSON-escapes s into out (at most size bytes, always NUL-terminated). */
void json_escape_into(char *out, size_t size, const char *s, size_t len);

#endif
