/* compare_crc.c — zlib's crc32 vs libdeflate_crc32 vs ISA-L's
 * crc32_gzip_refl, on the sizes a consumer checks (100 B, 1 KiB bodies)
 * and a large buffer. Not part of the build (it needs all three libraries):
 *
 *   apt-get install zlib1g-dev libdeflate-dev libisal-dev
 *   cc -O2 -o /tmp/compare_crc ch04-commitlog/bench/crc/compare_crc.c -lz -ldeflate -lisal
 *   /tmp/compare_crc
 *
 * It first checks that the three agree (random buffers, lengths 0..9000),
 * then times each in rounds that alternate between them (a shared machine:
 * compare the rows of one run). Prints ns per call and GB/s. */
#include <isa-l/crc.h>
#include <libdeflate.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <zlib.h>

static uint32_t f_zlib(const uint8_t *p, size_t n) { return (uint32_t)crc32(0, p, (uInt)n); }
static uint32_t f_deflate(const uint8_t *p, size_t n) { return libdeflate_crc32(0, p, n); }
static uint32_t f_isal(const uint8_t *p, size_t n) { return crc32_gzip_refl(0, p, n); }

static const struct {
    const char *name;
    uint32_t (*fn)(const uint8_t *, size_t);
} impls[] = {{"zlib crc32", f_zlib}, {"libdeflate_crc32", f_deflate}, {"isal crc32_gzip_refl", f_isal}};
#define NIMPL (sizeof impls / sizeof impls[0])

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(void)
{
    enum { BIG = 1 << 20 };
    uint8_t *buf = malloc(BIG + 64);
    if (buf == NULL)
        return 1;
    srand(7);
    for (size_t i = 0; i < BIG + 64; i++)
        buf[i] = (uint8_t)rand();
    /* the three agree, every length 0..9000, at offsets 0..7 */
    for (size_t len = 0; len <= 9000; len++) {
        size_t off = len % 8;
        uint32_t want = f_zlib(buf + off, len);
        for (size_t k = 1; k < NIMPL; k++)
            if (impls[k].fn(buf + off, len) != want) {
                fprintf(stderr, "%s differs from zlib at length %zu\n", impls[k].name, len);
                return 1;
            }
    }
    printf("all three agree on lengths 0..9000; \"123456789\" -> %08x (zlib) %08x %08x\n",
           f_zlib((const uint8_t *)"123456789", 9), f_deflate((const uint8_t *)"123456789", 9),
           f_isal((const uint8_t *)"123456789", 9));
    static const size_t sizes[] = {100, 1024, BIG};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t len = sizes[s];
        uint64_t iters = len >= BIG ? 200 : 2000000;
        uint64_t best[NIMPL];
        for (size_t k = 0; k < NIMPL; k++)
            best[k] = UINT64_MAX;
        volatile uint32_t sink = 0;
        for (int round = 0; round < 5; round++)
            for (size_t k = 0; k < NIMPL; k++) {
                uint64_t t0 = now_ns();
                uint32_t acc = 0;
                for (uint64_t i = 0; i < iters; i++)
                    acc ^= impls[k].fn(buf + (i & 31), len);
                uint64_t t = now_ns() - t0;
                sink ^= acc;
                if (t < best[k])
                    best[k] = t;
            }
        (void)sink;
        printf("%8zu B:", len);
        for (size_t k = 0; k < NIMPL; k++)
            printf("  %s %8.1f ns %6.2f GB/s", impls[k].name, (double)best[k] / (double)iters,
                   (double)len * (double)iters / (double)best[k]);
        printf("\n");
    }
    free(buf);
    return 0;
}
