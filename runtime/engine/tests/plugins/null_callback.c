/* Right ABI version but a null on_trade callback: the loader must refuse it. */
#include "common_c.h"
__attribute__((visibility("default"))) const sf_plugin_v1* sf_plugin_entry(void) {
  static const sf_plugin_v1 t = {SF_ABI_VERSION, sizeof(sf_plugin_v1), "null_callback", "test", "",
                                 c_create, c_book, NULL, c_bar, c_fill, c_update, c_timer, c_destroy};
  return &t;
}
