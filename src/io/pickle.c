/* A restricted unpickler for torch.save's data.pkl. It is a small stack machine that knows only
 * the opcodes torch writes for a state dict (protocol 2, plus the few protocol-4 framing ones)
 * (GLOBAL or protocol 4's STACK_GLOBAL) and only four kinds of global:
 *   collections.OrderedDict            -> an empty dict (REDUCE with no arguments)
 *   torch._utils._rebuild_tensor_v2    -> a tensor view record (storage, offset, size, stride, ...)
 *   torch._utils._rebuild_parameter    -> the tensor it wraps (nn.Parameter in a saved module)
 *   torch.<Float|Half|BFloat16|...>Storage -> a dtype tag, used inside BINPERSID storage ids
 * Nothing is imported, looked up or called: a GLOBAL outside that list, or any other opcode,
 * stops the load with a message naming it. Every read is bounds-checked. */
#include "io/io_internal.h"
#include "base/err.h"
#include <stdlib.h>
#include <string.h>

typedef enum { PV_MARK, PV_NONE, PV_BOOL, PV_INT, PV_FLOAT, PV_STR, PV_TUPLE, PV_LIST, PV_DICT,
               PV_GLOBAL, PV_STORAGE, PV_TENSOR } pv_kind;
typedef enum { G_ORDERED_DICT, G_REBUILD_TENSOR_V2, G_REBUILD_PARAMETER, G_STORAGE } pv_global;

/* A pickle value. Lists/dicts are mutable (APPEND/SETITEM); dict items are flattened pairs. */
typedef struct pv {
    pv_kind kind;
    int64_t i;             /* INT, BOOL; STORAGE: numel */
    char *s;               /* STR; STORAGE: key */
    struct pv **items;     /* TUPLE, LIST, DICT */
    size_t n, cap;
    pv_global g;           /* GLOBAL */
    xgd_dtype dtype;       /* GLOBAL(G_STORAGE), STORAGE */
    xgd_pkl_tensor *t;     /* TENSOR (name unset) */
    struct pv *next_alloc; /* arena chain */
} pv;

typedef struct {
    const uint8_t *p;
    size_t len, pos;
    const char *what;
    pv *arena;
    pv **stack;
    size_t sp, scap;
    pv **memo;
    size_t mcap, mcount; /* mcount: slots set so far (MEMOIZE writes slot mcount) */
} vm;

static pv g_mark = {.kind = PV_MARK};

#define MAX_STACK (1u << 22)
#define MAX_MEMO (1u << 24)

static pv *pv_new(vm *m, pv_kind k) {
    pv *v = xgd_calloc(1, sizeof *v);
    v->kind = k;
    v->next_alloc = m->arena;
    m->arena = v;
    return v;
}

static void pv_add(pv *c, pv *x) {
    if (c->n == c->cap) { c->cap = c->cap ? c->cap * 2 : 4; c->items = xgd_realloc(c->items, c->cap * sizeof *c->items); }
    c->items[c->n++] = x;
}

static void vm_free(vm *m) {
    for (pv *v = m->arena, *nx; v; v = nx) {
        nx = v->next_alloc;
        free(v->s);
        free(v->items);
        if (v->t) xgd_pkl_tensors_free(v->t, 1);
        free(v);
    }
    free(m->stack);
    free(m->memo);
}

static int fail_at(vm *m, const char *msg) {
    return xgd_fail("%s: pickle byte %zu: %s", m->what, m->pos, msg);
}

static int push(vm *m, pv *v) {
    if (m->sp == m->scap) {
        if (m->scap >= MAX_STACK) return fail_at(m, "stack too deep");
        m->scap = m->scap ? m->scap * 2 : 64;
        m->stack = xgd_realloc(m->stack, m->scap * sizeof *m->stack);
    }
    m->stack[m->sp++] = v;
    return 0;
}

static pv *pop(vm *m) {
    if (m->sp == 0 || m->stack[m->sp - 1] == &g_mark) { fail_at(m, "stack underflow"); return NULL; }
    return m->stack[--m->sp];
}

/* Index of the topmost MARK, or (size_t)-1. */
static size_t find_mark(vm *m) {
    for (size_t i = m->sp; i > 0; i--)
        if (m->stack[i - 1] == &g_mark) return i - 1;
    fail_at(m, "MARK expected");
    return (size_t)-1;
}

static int need(vm *m, size_t n) { return m->len - m->pos < n ? fail_at(m, "truncated pickle") : 0; }

static uint64_t rd_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* ---- GLOBAL: the allow-list ------------------------------------------------------------------ */
static const struct { const char *name; xgd_dtype t; } g_storages[] = {
    {"FloatStorage", XGD_F32}, {"HalfStorage", XGD_F16},   {"BFloat16Storage", XGD_BF16},
    {"DoubleStorage", XGD_F64}, {"LongStorage", XGD_I64},  {"IntStorage", XGD_I32},
    {"ShortStorage", XGD_I16}, {"CharStorage", XGD_I8},    {"ByteStorage", XGD_U8},
    {"BoolStorage", XGD_BOOL},
};

/* Names end up in messages: keep them printable. */
static void make_printable(char *s) {
    for (; *s; s++)
        if (*s < 0x20 || (unsigned char)*s > 0x7e) *s = '?';
}

/* Read one line of "module\nname\n". */
static int read_line(vm *m, char *buf, size_t cap) {
    const uint8_t *nl = memchr(m->p + m->pos, '\n', m->len - m->pos);
    if (!nl) return fail_at(m, "truncated GLOBAL");
    size_t n = (size_t)(nl - (m->p + m->pos));
    if (n >= cap) return fail_at(m, "GLOBAL name too long");
    memcpy(buf, m->p + m->pos, n);
    buf[n] = 0;
    make_printable(buf);
    m->pos += n + 1;
    return 0;
}

/* Map an allowed (module, name) to a GLOBAL value; anything else stops the load. */
static int push_global(vm *m, const char *mod, const char *name) {
    pv *v = pv_new(m, PV_GLOBAL);
    if (strcmp(mod, "collections") == 0 && strcmp(name, "OrderedDict") == 0) v->g = G_ORDERED_DICT;
    else if (strcmp(mod, "torch._utils") == 0 && strcmp(name, "_rebuild_tensor_v2") == 0) v->g = G_REBUILD_TENSOR_V2;
    else if (strcmp(mod, "torch._utils") == 0 && strcmp(name, "_rebuild_parameter") == 0) v->g = G_REBUILD_PARAMETER;
    else {
        int found = 0;
        if (strcmp(mod, "torch") == 0)
            for (size_t i = 0; i < sizeof g_storages / sizeof g_storages[0]; i++)
                if (strcmp(name, g_storages[i].name) == 0) { v->g = G_STORAGE; v->dtype = g_storages[i].t; found = 1; }
        if (!found)
            return xgd_fail("%s: pickle byte %zu: GLOBAL '%s.%s' is not allowed (only collections.OrderedDict, "
                            "torch._utils._rebuild_tensor_v2/_rebuild_parameter and torch.*Storage); nothing was executed",
                            m->what, m->pos, mod, name);
    }
    return push(m, v);
}

/* GLOBAL (protocols 0-3): "module\nname\n" inline. */
static int op_global(vm *m) {
    char mod[128], name[128];
    if (read_line(m, mod, sizeof mod) != 0 || read_line(m, name, sizeof name) != 0) return -1;
    return push_global(m, mod, name);
}

/* STACK_GLOBAL (protocol 4, torch.save(..., pickle_protocol=4)): module and name from the stack. */
static int op_stack_global(vm *m) {
    pv *name = pop(m), *mod = name ? pop(m) : NULL;
    if (!mod) return -1;
    if (mod->kind != PV_STR || name->kind != PV_STR) return fail_at(m, "STACK_GLOBAL needs two strings");
    char a[128], b[128];
    snprintf(a, sizeof a, "%s", mod->s);
    snprintf(b, sizeof b, "%s", name->s);
    make_printable(a);
    make_printable(b);
    return push_global(m, a, b);
}

/* ---- REDUCE / BINPERSID: build the few objects we understand ---------------------------------- */
static int int_tuple(const pv *t, int64_t *out, int *n) {
    if (t->kind != PV_TUPLE || t->n > XGD_MAX_DIMS) return -1;
    for (size_t i = 0; i < t->n; i++) {
        if (t->items[i]->kind != PV_INT || t->items[i]->i < 0) return -1;
        out[i] = t->items[i]->i;
    }
    *n = (int)t->n;
    return 0;
}

static pv *rebuild_tensor(vm *m, const pv *args) {
    /* (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata]) */
    if (args->n < 6 || args->n > 7) { fail_at(m, "_rebuild_tensor_v2 expects 6 or 7 arguments"); return NULL; }
    const pv *st = args->items[0], *off = args->items[1];
    xgd_pkl_tensor t = {0};
    int nstride = 0;
    if (st->kind != PV_STORAGE) { fail_at(m, "_rebuild_tensor_v2: first argument is not a storage"); return NULL; }
    if (off->kind != PV_INT || off->i < 0) { fail_at(m, "_rebuild_tensor_v2: bad storage offset"); return NULL; }
    if (int_tuple(args->items[2], t.shape, &t.ndim) != 0 || int_tuple(args->items[3], t.stride, &nstride) != 0 ||
        nstride != t.ndim) {
        fail_at(m, "_rebuild_tensor_v2: size/stride are not matching tuples of non-negative ints (at most 8 dims)");
        return NULL;
    }
    pv *v = pv_new(m, PV_TENSOR);
    v->t = xgd_calloc(1, sizeof *v->t);
    *v->t = t;
    v->t->dtype = st->dtype;
    v->t->storage_key = xgd_strdup(st->s);
    v->t->storage_numel = st->i;
    v->t->offset = off->i;
    return v;
}

static int op_reduce(vm *m) {
    pv *args = pop(m), *fn = args ? pop(m) : NULL;
    if (!fn) return -1;
    if (fn->kind != PV_GLOBAL || args->kind != PV_TUPLE) return fail_at(m, "REDUCE on something that is not an allowed GLOBAL");
    pv *r = NULL;
    switch (fn->g) {
    case G_ORDERED_DICT:
        if (args->n != 0) return fail_at(m, "OrderedDict(...) with arguments is not supported");
        r = pv_new(m, PV_DICT);
        break;
    case G_REBUILD_TENSOR_V2:
        if (!(r = rebuild_tensor(m, args))) return -1;
        break;
    case G_REBUILD_PARAMETER:
        if (args->n < 1 || args->items[0]->kind != PV_TENSOR) return fail_at(m, "_rebuild_parameter: not a tensor");
        r = args->items[0];
        break;
    case G_STORAGE:
        return fail_at(m, "calling a torch Storage class is not supported");
    }
    return push(m, r);
}

static int op_persid(vm *m) {
    /* ('storage', torch.<T>Storage, key, location, numel) */
    pv *pid = pop(m);
    if (!pid) return -1;
    if (pid->kind != PV_TUPLE || pid->n != 5 || pid->items[0]->kind != PV_STR || strcmp(pid->items[0]->s, "storage") != 0 ||
        pid->items[1]->kind != PV_GLOBAL || pid->items[1]->g != G_STORAGE || pid->items[2]->kind != PV_STR ||
        pid->items[4]->kind != PV_INT || pid->items[4]->i < 0)
        return fail_at(m, "persistent id is not ('storage', torch.*Storage, key, location, numel)");
    pv *v = pv_new(m, PV_STORAGE);
    v->dtype = pid->items[1]->dtype;
    v->s = xgd_strdup(pid->items[2]->s);
    v->i = pid->items[4]->i;
    return push(m, v);
}

/* ---- containers ------------------------------------------------------------------------------ */
static int op_tuple_n(vm *m, size_t n) {
    if (m->sp < n) return fail_at(m, "stack underflow");
    pv *t = pv_new(m, PV_TUPLE);
    for (size_t i = m->sp - n; i < m->sp; i++) {
        if (m->stack[i] == &g_mark) return fail_at(m, "stack underflow");
        pv_add(t, m->stack[i]);
    }
    m->sp -= n;
    return push(m, t);
}

static int op_tuple_mark(vm *m) {
    size_t mk = find_mark(m);
    if (mk == (size_t)-1) return -1;
    pv *t = pv_new(m, PV_TUPLE);
    for (size_t i = mk + 1; i < m->sp; i++) pv_add(t, m->stack[i]);
    m->sp = mk;
    return push(m, t);
}

/* SETITEM(S) / APPEND(S): add stack items above `from` to the container just below it. */
static int fill(vm *m, size_t from, int pairs) {
    if (from == 0) return fail_at(m, "stack underflow");
    pv *c = m->stack[from - 1];
    size_t n = m->sp - from;
    if (c->kind != (pairs ? PV_DICT : PV_LIST)) return fail_at(m, pairs ? "SETITEM on a non-dict" : "APPEND on a non-list");
    if (pairs && n % 2) return fail_at(m, "odd number of items for SETITEMS");
    for (size_t i = from; i < m->sp; i++) pv_add(c, m->stack[i]);
    m->sp = from;
    return 0;
}

static int op_setitems(vm *m, int marked, int pairs) {
    if (!marked) {
        size_t k = pairs ? 2 : 1;
        if (m->sp < k + 1) return fail_at(m, "stack underflow");
        for (size_t i = m->sp - k; i < m->sp; i++)
            if (m->stack[i] == &g_mark) return fail_at(m, "stack underflow");
        return fill(m, m->sp - k, pairs);
    }
    size_t mk = find_mark(m);
    if (mk == (size_t)-1) return -1;
    /* remove the mark itself, then fill from its position */
    memmove(&m->stack[mk], &m->stack[mk + 1], (m->sp - mk - 1) * sizeof *m->stack);
    m->sp--;
    return fill(m, mk, pairs);
}

static int op_build(vm *m) {
    pv *state = pop(m);
    if (!state) return -1;
    if (m->sp == 0 || m->stack[m->sp - 1] == &g_mark) return fail_at(m, "stack underflow");
    pv *obj = m->stack[m->sp - 1];
    /* OrderedDict state: {'_metadata': {...}} (module versions) -> attribute we do not need. */
    if (obj->kind == PV_DICT && (state->kind == PV_DICT || state->kind == PV_NONE)) return 0;
    return fail_at(m, "BUILD is only supported for a dict's attributes");
}

/* ---- memo ------------------------------------------------------------------------------------ */
static int memo_put(vm *m, uint64_t idx) {
    if (m->sp == 0 || m->stack[m->sp - 1] == &g_mark) return fail_at(m, "PUT with an empty stack");
    if (idx >= MAX_MEMO) return fail_at(m, "memo index too large");
    if (idx >= m->mcap) {
        size_t nc = m->mcap ? m->mcap : 64;
        while (nc <= idx) nc *= 2;
        m->memo = xgd_realloc(m->memo, nc * sizeof *m->memo);
        memset(m->memo + m->mcap, 0, (nc - m->mcap) * sizeof *m->memo);
        m->mcap = nc;
    }
    if (!m->memo[idx]) m->mcount++;
    m->memo[idx] = m->stack[m->sp - 1];
    return 0;
}

static int memo_get(vm *m, uint64_t idx) {
    if (idx >= m->mcap || !m->memo[idx]) return fail_at(m, "GET of an unset memo slot");
    return push(m, m->memo[idx]);
}

/* ---- scalars --------------------------------------------------------------------------------- */
static int push_int(vm *m, int64_t v) {
    pv *x = pv_new(m, PV_INT);
    x->i = v;
    return push(m, x);
}

static int push_str(vm *m, size_t lenbytes) {
    if (need(m, lenbytes) != 0) return -1;
    uint64_t n = rd_le(m->p + m->pos, (int)lenbytes);
    m->pos += lenbytes;
    if (need(m, n) != 0) return -1;
    pv *x = pv_new(m, PV_STR);
    x->s = xgd_malloc((size_t)n + 1);
    memcpy(x->s, m->p + m->pos, (size_t)n);
    x->s[n] = 0;
    m->pos += n;
    return push(m, x);
}

static int op_long1(vm *m) {
    if (need(m, 1) != 0) return -1;
    size_t n = m->p[m->pos++];
    if (n > 8) return fail_at(m, "LONG1 integer wider than 64 bits");
    if (need(m, n) != 0) return -1;
    uint64_t u = rd_le(m->p + m->pos, (int)n);
    if (n > 0 && n < 8 && (m->p[m->pos + n - 1] & 0x80)) u |= ~0ull << (8 * n); /* sign-extend */
    m->pos += n;
    return push_int(m, (int64_t)u);
}

/* One opcode. Returns 1 at STOP, 0 to continue, -1 on error. */
static int step(vm *m) {
    if (need(m, 1) != 0) return -1;
    uint8_t op = m->p[m->pos++];
    uint64_t a;
    switch (op) {
    case 0x80: /* PROTO */
        if (need(m, 1) != 0) return -1;
        if (m->p[m->pos] > 5) return fail_at(m, "unsupported pickle protocol");
        m->pos++;
        return 0;
    case 0x95: /* FRAME */
        if (need(m, 8) != 0) return -1;
        m->pos += 8;
        return 0;
    case '.': return 1;
    case '(': return push(m, &g_mark);
    case 'c': return op_global(m);
    case 0x93: return op_stack_global(m);
    case 'Q': return op_persid(m);
    case 'R': return op_reduce(m);
    case 'b': return op_build(m);
    case '}': return push(m, pv_new(m, PV_DICT));
    case ']': return push(m, pv_new(m, PV_LIST));
    case ')': return push(m, pv_new(m, PV_TUPLE));
    case 't': return op_tuple_mark(m);
    case 0x85: return op_tuple_n(m, 1);
    case 0x86: return op_tuple_n(m, 2);
    case 0x87: return op_tuple_n(m, 3);
    case 's': return op_setitems(m, 0, 1);
    case 'u': return op_setitems(m, 1, 1);
    case 'a': return op_setitems(m, 0, 0);
    case 'e': return op_setitems(m, 1, 0);
    case 'X': return push_str(m, 4);
    case 0x8c: return push_str(m, 1); /* SHORT_BINUNICODE */
    case 0x8d: return push_str(m, 8); /* BINUNICODE8 */
    case 'J':
        if (need(m, 4) != 0) return -1;
        a = rd_le(m->p + m->pos, 4);
        m->pos += 4;
        return push_int(m, (int32_t)(uint32_t)a);
    case 'K': case 'M': {
        int n = op == 'K' ? 1 : 2;
        if (need(m, (size_t)n) != 0) return -1;
        a = rd_le(m->p + m->pos, n);
        m->pos += (size_t)n;
        return push_int(m, (int64_t)a);
    }
    case 0x8a: return op_long1(m);
    case 0x88: case 0x89: {
        pv *x = pv_new(m, PV_BOOL);
        x->i = op == 0x88;
        return push(m, x);
    }
    case 'N': return push(m, pv_new(m, PV_NONE));
    case 'G': /* BINFLOAT: big-endian double; never needed for tensors, kept as an opaque value */
        if (need(m, 8) != 0) return -1;
        m->pos += 8;
        return push(m, pv_new(m, PV_FLOAT));
    case 'q': case 'h': case 'r': case 'j': {
        int n = (op == 'q' || op == 'h') ? 1 : 4;
        if (need(m, (size_t)n) != 0) return -1;
        a = rd_le(m->p + m->pos, n);
        m->pos += (size_t)n;
        return (op == 'q' || op == 'r') ? memo_put(m, a) : memo_get(m, a);
    }
    case 0x94: return memo_put(m, m->mcount); /* MEMOIZE */
    default: {
        char msg[96];
        m->pos--;
        if (op >= 0x20 && op < 0x7f) snprintf(msg, sizeof msg, "opcode 0x%02x ('%c') is not allowed", op, op);
        else snprintf(msg, sizeof msg, "opcode 0x%02x is not allowed", op);
        return fail_at(m, msg);
    }
    }
}

/* Turn the final dict into tensor records. */
static int collect(vm *m, const pv *root, xgd_pkl_tensor **out, size_t *n) {
    if (root->kind != PV_DICT)
        return xgd_fail("%s: the pickled object is not a dict of tensors (a full model or a training checkpoint?)", m->what);
    size_t cnt = root->n / 2;
    xgd_pkl_tensor *t = xgd_calloc(cnt ? cnt : 1, sizeof *t);
    for (size_t i = 0; i < cnt; i++) {
        const pv *k = root->items[2 * i], *v = root->items[2 * i + 1];
        if (k->kind != PV_STR || v->kind != PV_TENSOR) {
            xgd_pkl_tensors_free(t, i);
            return xgd_fail("%s: entry %zu%s%s%s is not a tensor", m->what, i, k->kind == PV_STR ? " '" : "",
                            k->kind == PV_STR ? k->s : "", k->kind == PV_STR ? "'" : "");
        }
        t[i] = *v->t;
        t[i].name = xgd_strdup(k->s);
        t[i].storage_key = xgd_strdup(v->t->storage_key);
    }
    *out = t;
    *n = cnt;
    return 0;
}

int xgd_pickle_state_dict(const uint8_t *buf, size_t len, const char *what, xgd_pkl_tensor **out, size_t *n) {
    vm m = {.p = buf, .len = len, .what = what};
    int rc;
    while ((rc = step(&m)) == 0) {}
    if (rc == 1) {
        pv *root = pop(&m);
        rc = root ? collect(&m, root, out, n) : -1;
    }
    vm_free(&m);
    return rc;
}

void xgd_pkl_tensors_free(xgd_pkl_tensor *t, size_t n) {
    for (size_t i = 0; i < n; i++) { free(t[i].name); free(t[i].storage_key); }
    free(t);
}
