// libFuzzer's entry point for programs that have their own main (compiler-rt, LLVM ≥ 11). SwiftPM renames
// an executable's main, so harnesses call this from their @main instead of relying on libFuzzer's main.
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
