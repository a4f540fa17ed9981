/* Built against a future ABI: the loader must refuse it. */
#include "common_c.h"
__attribute__((visibility("default"))) const sf_plugin_v1* sf_plugin_entry(void) {
  static const sf_plugin_v1 t = {999u, sizeof(sf_plugin_v1), "bad_abi", "test", "",
                                 c_create, c_book, c_trade, c_bar, c_fill, c_update, c_timer, c_destroy};
  return &t;
}
