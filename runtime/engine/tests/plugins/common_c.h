/* Shared no-op callbacks for the plain-C test plugins (proves sf/abi.h is usable from C). */
#ifndef SF_TEST_COMMON_C_H
#define SF_TEST_COMMON_C_H
#include "sf/abi.h"
static int32_t c_create(const sf_create_args* a, void** out, char* err, size_t cap) {
  (void)a; (void)err; (void)cap;
  static int state;
  *out = &state;
  return SF_OK;
}
static int32_t c_book(void* s, const sf_ctx* c, const sf_book* b) { (void)s; (void)c; (void)b; return SF_OK; }
static int32_t c_trade(void* s, const sf_ctx* c, const sf_trade* t) { (void)s; (void)c; (void)t; return SF_OK; }
static int32_t c_bar(void* s, const sf_ctx* c, const sf_bar* b) { (void)s; (void)c; (void)b; return SF_OK; }
static int32_t c_fill(void* s, const sf_ctx* c, const sf_fill* f) { (void)s; (void)c; (void)f; return SF_OK; }
static int32_t c_update(void* s, const sf_ctx* c, const sf_order_update* u) { (void)s; (void)c; (void)u; return SF_OK; }
static int32_t c_timer(void* s, const sf_ctx* c, uint64_t id) { (void)s; (void)c; (void)id; return SF_OK; }
static void c_destroy(void* s) { (void)s; }
#endif
