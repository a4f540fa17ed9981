/* A complete plugin written in plain C against sf/abi.h. */
#include "common_c.h"
__attribute__((visibility("default"))) const sf_plugin_v1* sf_plugin_entry(void) {
  static const sf_plugin_v1 t = {SF_ABI_VERSION, sizeof(sf_plugin_v1), "good_c", "test", "",
                                 c_create, c_book, c_trade, c_bar, c_fill, c_update, c_timer, c_destroy};
  return &t;
}
