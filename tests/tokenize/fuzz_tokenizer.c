/* libFuzzer target over the tokenizer.json and .model loaders and encode/decode (body in
 * fuzz_body.h). Build and run: tests/tokenize/test_libfuzzer.sh (clang -fsanitize=fuzzer).
 * With FUZZ_SEED_DIR set, the seeds of fuzz_body.h are written there first as a corpus. */
#include "fuzz_body.h"
#include <stdio.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

static void write_seed(const char *dir, int k, const uint8_t *d, size_t n) {
    char p[4096];
    snprintf(p, sizeof p, "%s/seed%d", dir, k);
    FILE *f = fopen(p, "wb");
    if (f) { fwrite(d, 1, n, f); fclose(f); }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc; (void)argv;
    const char *dir = getenv("FUZZ_SEED_DIR");
    if (!dir) return 0;
    uint8_t buf[4096];
    int k = 0;
    for (size_t i = 0; i < sizeof fuzz_json_seeds / sizeof fuzz_json_seeds[0]; i++) {
        size_t n = strlen(fuzz_json_seeds[i]);
        buf[0] = 0; memcpy(buf + 1, fuzz_json_seeds[i], n);
        write_seed(dir, k++, buf, n + 1);
        buf[0] = 2;
        write_seed(dir, k++, buf, n + 1);
    }
    for (int mt = 1; mt <= 2; mt++) {
        buf[0] = 1;
        write_seed(dir, k++, buf, fuzz_spm_seed(buf + 1, mt) + 1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) { return fuzz_one(data, n); }
