/* The route table: the one list of every route, used by the server, by
 * `inlet routes`, and checked against docs/openapi.json by the tests. */
#ifndef INLET_APP_ROUTES_H
#define INLET_APP_ROUTES_H

#include "http/http.h"

/* Ends with an entry whose method is NULL. */
extern const struct route app_routes[];

#endif
