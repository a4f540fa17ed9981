/* Compile-only check: sf/abi.h is valid C11 with the strict warning set. */
#include "sf/abi.h"
_Static_assert(sizeof(sf_order_request) == 32, "sf_order_request layout");
_Static_assert(sizeof(sf_book) == 64, "sf_book layout");
int sf_abi_c_check_anchor(void);
int sf_abi_c_check_anchor(void) { return (int)SF_ABI_VERSION; }
