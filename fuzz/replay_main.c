/* replay_main: the main() that libFuzzer would provide, for builds without libFuzzer (gcc,
 * `make test`): runs LLVMFuzzerInitialize when the target defines it, then
 * LLVMFuzzerTestOneInput once on the whole of each file named on the command line.
 *
 * Each input is handed over in a buffer of exactly its size, so AddressSanitizer sees a read
 * past its end as libFuzzer's would. A crash (a sanitizer report, a broken invariant) ends the
 * process with a non-zero status; otherwise it prints "replayed N inputs" and exits 0. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

enum { REPLAY_INPUT_LEN_MAX = 16 * 1024 * 1024 };

/* Read the whole file into a malloc'd buffer of exactly its size (1 byte when empty, so that
 * the pointer is never NULL). Returns NULL (and says why) when it cannot. */
static uint8_t *replay__read(const char *path, size_t *len_out)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return perror(path), NULL;
    uint8_t *data = NULL;
    long len = -1;
    if (fseek(fp, 0, SEEK_END) == 0) len = ftell(fp);
    if (len < 0 || len > REPLAY_INPUT_LEN_MAX || fseek(fp, 0, SEEK_SET) != 0) {
        fprintf(stderr, "%s: cannot size it (or larger than %d bytes)\n", path,
                REPLAY_INPUT_LEN_MAX);
        goto out;
    }
    data = malloc(len ? (size_t)len : 1);
    if (!data || fread(data, 1, (size_t)len, fp) != (size_t)len) {
        fprintf(stderr, "%s: cannot read it\n", path);
        free(data);
        data = NULL;
        goto out;
    }
    *len_out = (size_t)len;
out:
    fclose(fp);
    return data;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    int replayed = 0;
    for (int i = 1; i < argc; i++) {
        size_t len = 0;
        uint8_t *data = replay__read(argv[i], &len);
        if (!data) return 2;
        fprintf(stderr, "replay: %s (%zu bytes)\n", argv[i], len);
        LLVMFuzzerTestOneInput(data, len);
        free(data);
        replayed++;
    }
    printf("replayed %d inputs\n", replayed);
    return 0;
}
