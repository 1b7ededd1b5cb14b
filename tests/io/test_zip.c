/* ZIP reader: a hand-built archive in the ZIP64 form that torch.save uses for files over 4 GiB
 * (32-bit fields set to 0xFFFFFFFF, real values in the ZIP64 extra field and end records), plus
 * a plain one, and damaged variants refused with a message. */
#include "test.h"
#include "io/io_internal.h"
#include "base/err.h"
#include <stdint.h>

typedef struct { uint8_t b[4096]; size_t n; } buf;

static void u16(buf *o, unsigned v) { o->b[o->n++] = (uint8_t)v; o->b[o->n++] = (uint8_t)(v >> 8); }
static void u32(buf *o, uint32_t v) { u16(o, v & 0xFFFF); u16(o, v >> 16); }
static void u64(buf *o, uint64_t v) { u32(o, (uint32_t)v); u32(o, (uint32_t)(v >> 32)); }
static void raw(buf *o, const void *p, size_t n) { memcpy(o->b + o->n, p, n); o->n += n; }

typedef struct { const char *name, *data; uint64_t local; } entry;

/* Build an archive; zip64 = 1 writes every size/offset through the ZIP64 records. */
static void build(buf *o, entry *e, int ne, int zip64, uint16_t method) {
    o->n = 0;
    for (int i = 0; i < ne; i++) {
        size_t nl = strlen(e[i].name), dl = strlen(e[i].data);
        e[i].local = o->n;
        u32(o, 0x04034b50); u16(o, 45); u16(o, 0); u16(o, method); u16(o, 0); u16(o, 0); u32(o, 0);
        u32(o, zip64 ? 0xFFFFFFFFu : (uint32_t)dl); u32(o, zip64 ? 0xFFFFFFFFu : (uint32_t)dl);
        u16(o, (unsigned)nl); u16(o, zip64 ? 20 : 3); /* local extra: ZIP64 sizes, or 3 padding bytes */
        raw(o, e[i].name, nl);
        if (zip64) { u16(o, 1); u16(o, 16); u64(o, dl); u64(o, dl); }
        else raw(o, "pad", 3);
        raw(o, e[i].data, dl);
    }
    uint64_t cd = o->n;
    for (int i = 0; i < ne; i++) {
        size_t nl = strlen(e[i].name), dl = strlen(e[i].data);
        u32(o, 0x02014b50); u16(o, 45); u16(o, 45); u16(o, 0); u16(o, method); u16(o, 0); u16(o, 0); u32(o, 0);
        u32(o, zip64 ? 0xFFFFFFFFu : (uint32_t)dl); u32(o, zip64 ? 0xFFFFFFFFu : (uint32_t)dl);
        u16(o, (unsigned)nl); u16(o, zip64 ? 28 : 0); u16(o, 0); u16(o, 0); u16(o, 0); u32(o, 0);
        u32(o, zip64 ? 0xFFFFFFFFu : (uint32_t)e[i].local);
        raw(o, e[i].name, nl);
        if (zip64) { u16(o, 1); u16(o, 24); u64(o, dl); u64(o, dl); u64(o, e[i].local); }
    }
    uint64_t cd_size = o->n - cd;
    if (zip64) {
        uint64_t r = o->n;
        u32(o, 0x06064b50); u64(o, 44); u16(o, 45); u16(o, 45); u32(o, 0); u32(o, 0);
        u64(o, (uint64_t)ne); u64(o, (uint64_t)ne); u64(o, cd_size); u64(o, cd);
        u32(o, 0x07064b50); u32(o, 0); u64(o, r); u32(o, 1);
    }
    u32(o, 0x06054b50); u16(o, 0); u16(o, 0);
    u16(o, zip64 ? 0xFFFF : (unsigned)ne); u16(o, zip64 ? 0xFFFF : (unsigned)ne);
    u32(o, zip64 ? 0xFFFFFFFFu : (uint32_t)cd_size); u32(o, zip64 ? 0xFFFFFFFFu : (uint32_t)cd);
    u16(o, 0);
}

static const char *put(const char *dir, const char *name, const buf *o, size_t n) {
    static char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    fwrite(o->b, 1, n, f);
    fclose(f);
    return path;
}

static void check_entries(const char *path, int zip64) {
    xgd_zip z;
    int rc = xgd_zip_open(&z, path);
    CHECK_MSG(rc == 0, "zip64=%d: %s", zip64, xgd_errmsg());
    if (rc) return;
    CHECK(z.n == 2);
    const xgd_zip_entry *a = xgd_zip_find(&z, "arch/data.pkl"), *b = xgd_zip_find(&z, "arch/data/0");
    CHECK(a && a->size == 5 && memcmp(a->data, "hello", 5) == 0);
    CHECK(b && b->size == 8 && memcmp(b->data, "12345678", 8) == 0);
    CHECK(xgd_zip_find(&z, "arch/data/1") == NULL);
    xgd_zip_close(&z);
}

static void expect_fail(const char *path, const char *want) {
    xgd_zip z;
    CHECK_MSG(xgd_zip_open(&z, path) != 0, "%s opened", path);
    CHECK_MSG(strstr(xgd_errmsg(), want) != NULL, "message '%s' lacks '%s'", xgd_errmsg(), want);
}

int main(void) {
    const char *dir = test_tmpdir("io_zip");
    char d[4096];
    snprintf(d, sizeof d, "%s", dir);
    entry e[2] = {{"arch/data.pkl", "hello", 0}, {"arch/data/0", "12345678", 0}};
    buf o;
    for (int zip64 = 0; zip64 <= 1; zip64++) {
        build(&o, e, 2, zip64, 0);
        check_entries(put(d, zip64 ? "z64.zip" : "plain.zip", &o, o.n), zip64);
        /* every truncation is refused cleanly */
        for (size_t cut = 0; cut < o.n; cut += 7) {
            xgd_zip z;
            if (xgd_zip_open(&z, put(d, "cut.zip", &o, cut)) == 0) xgd_zip_close(&z);
            else CHECK(xgd_errmsg()[0] != 0);
        }
    }
    build(&o, e, 2, 1, 8);
    expect_fail(put(d, "deflate.zip", &o, o.n), "is compressed (method 8)");
    entry same[2] = {{"arch/x", "a", 0}, {"arch/x", "b", 0}};
    build(&o, same, 2, 0, 0);
    expect_fail(put(d, "dup.zip", &o, o.n), "entry 'arch/x' appears twice");
    build(&o, e, 2, 1, 0);
    o.b[0] = 'X'; /* first local header signature */
    expect_fail(put(d, "badlocal.zip", &o, o.n), "entry 'arch/data.pkl': bad local header offset");
    return test_done("io/test_zip");
}
