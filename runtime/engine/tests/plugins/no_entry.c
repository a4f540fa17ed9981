/* A shared library without the sf_plugin_entry symbol. */
__attribute__((visibility("default"))) int not_a_strategy(void) { return 42; }
