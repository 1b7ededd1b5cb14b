/* The restricted unpickler on its own: a data.pkl written by torch.save (torch 1.13, embedded
 * below) decodes to the expected tensor records, and tens of thousands of mutated variants are
 * each accepted or refused with a message, never a crash or an out-of-bounds read (ASan). */
#include "test.h"
#include "io/io_internal.h"
#include "base/err.h"
#include <stdint.h>

/* torch.save of OrderedDict(a=arange(12).reshape(3,4), t=a.t(), r=a[1], h=ones(2).half(),
 * p=Parameter(zeros(1, bfloat16)), s=tensor(5)) with _metadata; this is its data.pkl. */
static const char g_pkl[] =
    "\x80\x02\x63\x63\x6f\x6c\x6c\x65\x63\x74\x69\x6f\x6e\x73\x0a\x4f\x72\x64\x65\x72\x65\x64\x44\x69\x63\x74\x0a\x71"
    "\x00\x29\x52\x71\x01\x28\x58\x01\x00\x00\x00\x61\x71\x02\x63\x74\x6f\x72\x63\x68\x2e\x5f\x75\x74\x69\x6c\x73\x0a"
    "\x5f\x72\x65\x62\x75\x69\x6c\x64\x5f\x74\x65\x6e\x73\x6f\x72\x5f\x76\x32\x0a\x71\x03\x28\x28\x58\x07\x00\x00\x00"
    "\x73\x74\x6f\x72\x61\x67\x65\x71\x04\x63\x74\x6f\x72\x63\x68\x0a\x46\x6c\x6f\x61\x74\x53\x74\x6f\x72\x61\x67\x65"
    "\x0a\x71\x05\x58\x01\x00\x00\x00\x30\x71\x06\x58\x03\x00\x00\x00\x63\x70\x75\x71\x07\x4b\x0c\x74\x71\x08\x51\x4b"
    "\x00\x4b\x03\x4b\x04\x86\x71\x09\x4b\x04\x4b\x01\x86\x71\x0a\x89\x68\x00\x29\x52\x71\x0b\x74\x71\x0c\x52\x71\x0d"
    "\x58\x01\x00\x00\x00\x74\x71\x0e\x68\x03\x28\x28\x68\x04\x68\x05\x68\x06\x68\x07\x4b\x0c\x74\x71\x0f\x51\x4b\x00"
    "\x4b\x04\x4b\x03\x86\x71\x10\x4b\x01\x4b\x04\x86\x71\x11\x89\x68\x00\x29\x52\x71\x12\x74\x71\x13\x52\x71\x14\x58"
    "\x01\x00\x00\x00\x72\x71\x15\x68\x03\x28\x28\x68\x04\x68\x05\x68\x06\x68\x07\x4b\x0c\x74\x71\x16\x51\x4b\x04\x4b"
    "\x04\x85\x71\x17\x4b\x01\x85\x71\x18\x89\x68\x00\x29\x52\x71\x19\x74\x71\x1a\x52\x71\x1b\x58\x01\x00\x00\x00\x68"
    "\x71\x1c\x68\x03\x28\x28\x68\x04\x63\x74\x6f\x72\x63\x68\x0a\x48\x61\x6c\x66\x53\x74\x6f\x72\x61\x67\x65\x0a\x71"
    "\x1d\x58\x01\x00\x00\x00\x31\x71\x1e\x68\x07\x4b\x02\x74\x71\x1f\x51\x4b\x00\x4b\x02\x85\x71\x20\x4b\x01\x85\x71"
    "\x21\x89\x68\x00\x29\x52\x71\x22\x74\x71\x23\x52\x71\x24\x58\x01\x00\x00\x00\x70\x71\x25\x63\x74\x6f\x72\x63\x68"
    "\x2e\x5f\x75\x74\x69\x6c\x73\x0a\x5f\x72\x65\x62\x75\x69\x6c\x64\x5f\x70\x61\x72\x61\x6d\x65\x74\x65\x72\x0a\x71"
    "\x26\x68\x03\x28\x28\x68\x04\x63\x74\x6f\x72\x63\x68\x0a\x42\x46\x6c\x6f\x61\x74\x31\x36\x53\x74\x6f\x72\x61\x67"
    "\x65\x0a\x71\x27\x58\x01\x00\x00\x00\x32\x71\x28\x68\x07\x4b\x01\x74\x71\x29\x51\x4b\x00\x4b\x01\x85\x71\x2a\x4b"
    "\x01\x85\x71\x2b\x89\x68\x00\x29\x52\x71\x2c\x74\x71\x2d\x52\x71\x2e\x88\x68\x00\x29\x52\x71\x2f\x87\x71\x30\x52"
    "\x71\x31\x58\x01\x00\x00\x00\x73\x71\x32\x68\x03\x28\x28\x68\x04\x63\x74\x6f\x72\x63\x68\x0a\x4c\x6f\x6e\x67\x53"
    "\x74\x6f\x72\x61\x67\x65\x0a\x71\x33\x58\x01\x00\x00\x00\x33\x71\x34\x68\x07\x4b\x01\x74\x71\x35\x51\x4b\x00\x29"
    "\x29\x89\x68\x00\x29\x52\x71\x36\x74\x71\x37\x52\x71\x38\x75\x7d\x71\x39\x58\x09\x00\x00\x00\x5f\x6d\x65\x74\x61"
    "\x64\x61\x74\x61\x71\x3a\x7d\x71\x3b\x58\x00\x00\x00\x00\x71\x3c\x7d\x71\x3d\x58\x07\x00\x00\x00\x76\x65\x72\x73"
    "\x69\x6f\x6e\x71\x3e\x4b\x01\x73\x73\x73\x62\x2e";

static const xgd_pkl_tensor *by_name(const xgd_pkl_tensor *t, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0) return &t[i];
    return NULL;
}

static void test_decode(void) {
    xgd_pkl_tensor *t = NULL;
    size_t n = 0;
    int rc = xgd_pickle_state_dict((const uint8_t *)g_pkl, sizeof g_pkl - 1, "embedded", &t, &n);
    CHECK_MSG(rc == 0, "%s", xgd_errmsg());
    if (rc) return;
    CHECK(n == 6);
    CHECK_STR(t[0].name, "a"); /* dict order is kept */
    const xgd_pkl_tensor *a = by_name(t, n, "a"), *tr = by_name(t, n, "t"), *r = by_name(t, n, "r"),
                         *h = by_name(t, n, "h"), *p = by_name(t, n, "p"), *s = by_name(t, n, "s");
    CHECK(a && tr && r && h && p && s);
    if (!(a && tr && r && h && p && s)) { xgd_pkl_tensors_free(t, n); return; }
    CHECK(a->dtype == XGD_F32 && a->ndim == 2 && a->shape[0] == 3 && a->shape[1] == 4 && a->stride[0] == 4 && a->stride[1] == 1);
    CHECK(a->offset == 0 && a->storage_numel == 12);
    CHECK_STR(tr->storage_key, a->storage_key); /* views share the storage */
    CHECK(tr->shape[0] == 4 && tr->shape[1] == 3 && tr->stride[0] == 1 && tr->stride[1] == 4);
    CHECK(r->ndim == 1 && r->shape[0] == 4 && r->offset == 4 && r->stride[0] == 1);
    CHECK(h->dtype == XGD_F16 && h->shape[0] == 2);
    CHECK(p->dtype == XGD_BF16 && p->shape[0] == 1);
    CHECK(s->dtype == XGD_I64 && s->ndim == 0);
    xgd_pkl_tensors_free(t, n);
}

static void test_mutations(void) {
    size_t len = sizeof g_pkl - 1;
    uint8_t *m = xgd_malloc(len + 16);
    uint64_t st = 99;
    int ok = 0, bad = 0, silent = 0;
    for (int it = 0; it < 30000; it++) {
        memcpy(m, g_pkl, len);
        size_t mlen = len;
        for (int k = 0; k <= it % 3; k++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            size_t at = (size_t)(st >> 33) % mlen;
            switch ((st >> 20) % 4) {
            case 0: m[at] = (uint8_t)(st >> 8); break;                       /* overwrite */
            case 1: mlen = at; break;                                        /* truncate */
            case 2: memmove(m + at, m + at + 1, mlen - at - 1); mlen--; break; /* delete */
            default: m[at] ^= (uint8_t)(1u << ((st >> 12) % 8)); break;     /* bit flip */
            }
            if (mlen == 0) break;
        }
        xgd_pkl_tensor *t = NULL;
        size_t n = 0;
        xgd_err_clear();
        if (xgd_pickle_state_dict(m, mlen, "mutant", &t, &n) == 0) {
            ok++;
            for (size_t i = 0; i < n; i++) CHECK(t[i].ndim >= 0 && t[i].ndim <= XGD_MAX_DIMS && t[i].offset >= 0);
            xgd_pkl_tensors_free(t, n);
        } else {
            bad++;
            if (!xgd_errmsg()[0]) silent++;
        }
    }
    free(m);
    printf("mutations: %d decoded, %d refused\n", ok, bad);
    CHECK(bad > 0 && silent == 0);
}

int main(void) {
    test_decode();
    test_mutations();
    return test_done("io/test_pickle");
}
