/* A minimal ZIP reader for torch.save archives: find the end-of-central-directory record (ZIP64
 * when torch wrote one, which it always does), walk the central directory, and locate each
 * entry's data through its local header (torch pads the local "extra" field so that data is
 * 64-byte aligned, so the central and local extra lengths differ). Only stored (uncompressed)
 * entries are accepted; every offset is bounds-checked against the mapping. */
#include "io/io_internal.h"
#include "base/err.h"
#include <stdlib.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Where the central directory is and how many entries it has. */
typedef struct { uint64_t offset, size, count; } cdir;

static int find_cdir(const xgd_zip *z, cdir *cd) {
    const uint8_t *p = z->map.data;
    size_t size = z->map.size;
    if (size < 22) return xgd_fail("%s: not a ZIP archive (too short)", z->path);
    /* EOCD is 22 bytes plus a comment of at most 65535 bytes, at the very end. */
    size_t lo = size > 22 + 65535 ? size - 22 - 65535 : 0, at = size - 22;
    for (;; at--) {
        if (rd32(p + at) == SIG_EOCD && at + 22 + rd16(p + at + 20) == size) break;
        if (at == lo) return xgd_fail("%s: not a ZIP archive (no end-of-central-directory record)", z->path);
    }
    if (rd16(p + at + 4) != 0 || rd16(p + at + 6) != 0)
        return xgd_fail("%s: multi-disk ZIP archives are not supported", z->path);
    cd->count = rd16(p + at + 10);
    cd->size = rd32(p + at + 12);
    cd->offset = rd32(p + at + 16);
    if (cd->count == 0xFFFF || cd->size == 0xFFFFFFFFu || cd->offset == 0xFFFFFFFFu) {
        /* ZIP64: a 20-byte locator sits right before the EOCD and points at the ZIP64 record. */
        if (at < 20 || rd32(p + at - 20) != SIG_LOC64) return xgd_fail("%s: ZIP64 locator missing", z->path);
        uint64_t r = rd64(p + at - 20 + 8);
        if (r > size || size - r < 56 || rd32(p + r) != SIG_EOCD64) return xgd_fail("%s: bad ZIP64 end record", z->path);
        cd->count = rd64(p + r + 32);
        cd->size = rd64(p + r + 40);
        cd->offset = rd64(p + r + 48);
    }
    if (cd->offset > size || cd->size > size - cd->offset)
        return xgd_fail("%s: central directory lies outside the file (truncated?)", z->path);
    return 0;
}

/* Apply the ZIP64 extended-information extra field (id 1): it holds, in this order, only those of
 * uncompressed size, compressed size and local-header offset whose 32-bit fields were 0xFFFFFFFF. */
static int zip64_extra(const xgd_zip *z, const uint8_t *ex, size_t exlen, uint64_t *usize, uint64_t *csize, uint64_t *loc) {
    size_t i = 0;
    while (i + 4 <= exlen) {
        uint16_t id = rd16(ex + i), len = rd16(ex + i + 2);
        if (i + 4 + len > exlen) break;
        if (id == 1) {
            const uint8_t *q = ex + i + 4, *end = q + len;
            uint64_t *fields[3] = {usize, csize, loc};
            for (int k = 0; k < 3; k++) {
                if (*fields[k] != 0xFFFFFFFFu) continue;
                if (q + 8 > end) return xgd_fail("%s: short ZIP64 extra field", z->path);
                *fields[k] = rd64(q);
                q += 8;
            }
            return 0;
        }
        i += 4 + (size_t)len;
    }
    return 0;
}

static int entry_cmp(const void *a, const void *b) {
    return strcmp(((const xgd_zip_entry *)a)->name, ((const xgd_zip_entry *)b)->name);
}

/* Read one central-directory record at *pos and advance it. */
static int read_entry(xgd_zip *z, const cdir *cd, uint64_t *pos, xgd_zip_entry *e) {
    const uint8_t *p = z->map.data;
    size_t size = z->map.size;
    uint64_t at = *pos, end = cd->offset + cd->size;
    if (end - at < 46 || rd32(p + at) != SIG_CENTRAL) return xgd_fail("%s: corrupt central directory", z->path);
    uint16_t flags = rd16(p + at + 8), method = rd16(p + at + 10);
    uint64_t csize = rd32(p + at + 20), usize = rd32(p + at + 24);
    uint16_t nlen = rd16(p + at + 28), xlen = rd16(p + at + 30), clen = rd16(p + at + 32);
    uint64_t loc = rd32(p + at + 42);
    if (end - at - 46 < (uint64_t)nlen + xlen + clen) return xgd_fail("%s: corrupt central directory", z->path);
    e->name = xgd_malloc((size_t)nlen + 1);
    memcpy(e->name, p + at + 46, nlen);
    e->name[nlen] = 0;
    *pos = at + 46 + nlen + xlen + clen;
    if (zip64_extra(z, p + at + 46 + nlen, xlen, &usize, &csize, &loc) != 0) return -1;
    if (flags & 1) return xgd_fail("%s: entry '%s' is encrypted", z->path, e->name);
    if (method != 0 || csize != usize)
        return xgd_fail("%s: entry '%s' is compressed (method %u); only stored entries as torch.save writes them are supported",
                        z->path, e->name, method);
    if (loc > size || size - loc < 30 || rd32(p + loc) != SIG_LOCAL)
        return xgd_fail("%s: entry '%s': bad local header offset", z->path, e->name);
    uint64_t data = loc + 30 + rd16(p + loc + 26) + rd16(p + loc + 28);
    if (data > size || usize > size - data)
        return xgd_fail("%s: entry '%s' runs past the end of the file (truncated?)", z->path, e->name);
    e->data = p + data;
    e->size = usize;
    return 0;
}

int xgd_zip_open(xgd_zip *z, const char *path) {
    memset(z, 0, sizeof *z);
    z->path = xgd_strdup(path);
    cdir cd = {0, 0, 0};
    if (xgd_map_file(path, &z->map) != 0 || find_cdir(z, &cd) != 0) { xgd_zip_close(z); return -1; }
    if (cd.count > cd.size / 46) { xgd_zip_close(z); return xgd_fail("%s: corrupt central directory (entry count)", path); }
    z->entries = xgd_calloc(cd.count ? cd.count : 1, sizeof *z->entries);
    uint64_t pos = cd.offset;
    for (uint64_t i = 0; i < cd.count; i++) {
        int rc = read_entry(z, &cd, &pos, &z->entries[z->n]);
        z->n++; /* count it even on failure so that its name is freed */
        if (rc != 0) { xgd_zip_close(z); return -1; }
    }
    qsort(z->entries, z->n, sizeof *z->entries, entry_cmp);
    for (size_t i = 1; i < z->n; i++)
        if (strcmp(z->entries[i - 1].name, z->entries[i].name) == 0) {
            int rc = xgd_fail("%s: entry '%s' appears twice", path, z->entries[i].name);
            xgd_zip_close(z);
            return rc;
        }
    return 0;
}

void xgd_zip_close(xgd_zip *z) {
    for (size_t i = 0; i < z->n; i++) free(z->entries[i].name);
    free(z->entries);
    xgd_unmap(&z->map);
    free(z->path);
    memset(z, 0, sizeof *z);
}

const xgd_zip_entry *xgd_zip_find(const xgd_zip *z, const char *name) {
    xgd_zip_entry key = {.name = (char *)name};
    return z->n ? bsearch(&key, z->entries, z->n, sizeof *z->entries, entry_cmp) : NULL;
}
