// libFuzzer's entry point for programs that own `main` (compiler-rt FuzzerInterface.h).
// Under SwiftPM the executable's `main` replaces libFuzzer's, so main.swift calls this; the
// library comes from linking with `-sanitize=fuzzer`.
#ifndef GLASSBOX_FUZZER_H
#define GLASSBOX_FUZZER_H
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
