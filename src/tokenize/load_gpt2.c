/* GPT-2's vocab.json + merges.txt, converted as transformers' GPT2Converter does: byte-level BPE,
 * ByteLevel(add_prefix_space=False) pre-tokenizer, ByteLevel decoder, ByteLevel(trim_offsets=
 * False) post-processor; <|endoftext|> (bos/eos/unk of GPT2TokenizerFast) is a special token. */
#include "tokenize/tk.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include <stdlib.h>
#include <string.h>

static int load_vocab(tk_model *m, const char *path) {
    json_t *v = xgd_json_load(path);
    if (!v) return -1;
    if (!json_is_object(v)) { json_decref(v); return xgd_fail("%s: expected an object {token: id}", path); }
    const char *k; json_t *val;
    json_object_foreach(v, k, val) {
        if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) >= TK_MAX_ID) {
            int r = xgd_fail("%s: token '%s' has a bad id", path, k);
            json_decref(v);
            return r;
        }
        tk_model_set_token(m, (int32_t)json_integer_value(val), k, strlen(k));
    }
    json_decref(v);
    return 0;
}

/* merges.txt: "#version" header, then one "a b" pair per line, in rank order. */
static int load_merges(tk_model *m, const char *path) {
    char *data; size_t len;
    if (xgd_read_file(path, &data, &len)) return -1;
    uint32_t rank = 0;
    long line = 0;
    for (char *p = data; p < data + len;) {
        char *nl = memchr(p, '\n', (size_t)(data + len - p)), *end = nl ? nl : data + len;
        line++;
        size_t n = (size_t)(end - p);
        if (n && p[n - 1] == '\r') n--;
        if (n && strncmp(p, "#version", 8) != 0) {
            char *sp = memchr(p, ' ', n);
            if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp + 1 - p)))
                { free(data); return xgd_fail("%s:%ld: expected two tokens separated by one space", path, line); }
            if (tk_bpe_add_merge(m, p, (size_t)(sp - p), sp + 1, n - (size_t)(sp + 1 - p), rank++))
                { free(data); return xgd_err_context("%s:%ld", path, line); }
        }
        p = end + 1;
    }
    free(data);
    return 0;
}

int tk_load_gpt2(xgd_tokenizer *t, const char *vocab_path, const char *merges_path) {
    tk_model *m = &t->model;
    m->kind = M_BPE; m->unk_id = -1;
    if (load_vocab(m, vocab_path) || load_merges(m, merges_path)) return -1;
    tk_model_finish_bytes(m);
    t->pre = xgd_calloc(1, sizeof *t->pre);
    t->pre->kind = P_BYTELEVEL; t->pre->use_regex = 1; t->pre->trim_offsets = 1;
    t->dec = xgd_calloc(1, sizeof *t->dec);
    t->dec->kind = D_BYTELEVEL;
    t->post.trim_offsets = 0;
    int32_t eot = tk_strmap_get(&m->vocab, "<|endoftext|>", 13);
    if (eot >= 0) {
        tk_added_add(&t->added, eot, "<|endoftext|>", 0, 0, 0, 0, 1);
        t->bos = t->eos = t->unk = eot;
    }
    return 0;
}
