// Declarations only (see include/FuzzDriver.h); the definition comes from libclang_rt.fuzzer.
#include "FuzzDriver.h"
