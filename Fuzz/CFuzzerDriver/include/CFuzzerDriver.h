#ifndef CFUZZERDRIVER_H
#define CFUZZERDRIVER_H
#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry for programs that have their own main (compiler-rt FuzzerDriver.cpp).
   SwiftPM names an executable's entry point <Target>_main and aliases main to it, so the
   fuzz targets keep a Swift main and hand over to libFuzzer from there. Only referenced
   in -D FUZZING builds, which link the runtime with -sanitize=fuzzer. */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
