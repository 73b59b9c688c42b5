/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Without libFuzzer (gcc builds): runs the target over the given files, then over a fixed number of
 * pseudo-random mutations of them, so that every build exercises the parsers under the sanitizers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd-util.h"
#include "fuzz.h"

#define MUTATIONS 20000

static uint64_t state = 0x9e3779b97f4a7c15ULL;
static uint64_t next_random(void) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
}

int main(int argc, char *argv[]) {
        uint8_t buf[1024];

        for (int i = 1; i < argc; i++) {
                void *data;
                size_t size;

                if (read_full_file(argv[i], 1 << 20, &data, &size) < 0) {
                        fprintf(stderr, "Cannot read %s\n", argv[i]);
                        return EXIT_FAILURE;
                }
                LLVMFuzzerTestOneInput(data, size);

                for (unsigned m = 0; m < MUTATIONS / (unsigned) (argc - 1); m++) {
                        size_t n = MIN(size, sizeof(buf));
                        memcpy(buf, data, n);
                        /* flip, truncate or extend */
                        for (unsigned k = 0; k < 1 + next_random() % 4 && n > 0; k++)
                                buf[next_random() % n] ^= (uint8_t) (1u << (next_random() % 8));
                        if (next_random() % 4 == 0 && n > 0)
                                n = next_random() % n;
                        else if (next_random() % 4 == 0 && n < sizeof(buf))
                                buf[n++] = (uint8_t) next_random();
                        if (getenv("PATELA_FUZZ_DUMP")) {
                                /* Keep the input about to run, to replay a crash. */
                                FILE *f = fopen(getenv("PATELA_FUZZ_DUMP"), "we");
                                if (f) {
                                        fwrite(buf, 1, n, f);
                                        fclose(f);
                                }
                        }
                        LLVMFuzzerTestOneInput(buf, n);
                }
                free(data);
        }
        printf("%d inputs, %d mutations: no crash\n", argc - 1, MUTATIONS);
        return EXIT_SUCCESS;
}
