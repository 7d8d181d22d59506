/* Public ids for rows that are numbered inside the process: the row id and
 * a scope (the owning endpoint's id) are enciphered together as one
 * AES-256 block, so the public id is opaque, reveals no count or time, and
 * still tells the server where the row lives without a lookup table. A
 * forged or mistyped id fails the check bytes and answers "not found".
 *   block = id (8 bytes BE) | scope (6 bytes BE) | 0x0000 */
#ifndef INLET_VAULT_PUBID_H
#define INLET_VAULT_PUBID_H

#include <stddef.h>
#include <stdint.h>

struct pubid;

#define PUBID_MAX 48

/* key: 32 bytes derived from the master key (vault_derive). */
struct pubid *pubid_create(const uint8_t key[32]);
void pubid_destroy(struct pubid *p);
/* out gets prefix + 22 URL-safe characters (PUBID_MAX is plenty). */
void pubid_encode(struct pubid *p, const char *prefix, int64_t id, int64_t scope, char out[PUBID_MAX]);
/* INLET_ENOTFOUND when s is not an id this key made with this prefix. */
int pubid_decode(struct pubid *p, const char *prefix, const char *s, int64_t *id, int64_t *scope);

#endif
