#include "model/config.h"
#include "base/err.h"
#include "base/json.h"
#include <stdarg.h>
#include <string.h>

static json_t *first(const json_t *cfg, const char *k0, va_list ap) {
    for (const char *k = k0; k; k = va_arg(ap, const char *)) {
        json_t *v = json_object_get(cfg, k);
        if (v && !json_is_null(v)) return v;
    }
    return NULL;
}

int64_t cfg_int(const json_t *cfg, int64_t def, ...) {
    va_list ap;
    va_start(ap, def);
    json_t *v = first(cfg, va_arg(ap, const char *), ap);
    va_end(ap);
    if (json_is_integer(v)) return json_integer_value(v);
    if (json_is_real(v)) return (int64_t)json_real_value(v);
    return def;
}

double cfg_num(const json_t *cfg, double def, ...) {
    va_list ap;
    va_start(ap, def);
    json_t *v = first(cfg, va_arg(ap, const char *), ap);
    va_end(ap);
    return json_is_number(v) ? json_number_value(v) : def;
}

int cfg_bool(const json_t *cfg, int def, ...) {
    va_list ap;
    va_start(ap, def);
    json_t *v = first(cfg, va_arg(ap, const char *), ap);
    va_end(ap);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

void cfg_common(const json_t *cfg, xgd_hparams *hp) {
    const char *dt = json_string_value(json_object_get(cfg, "torch_dtype"));
    if (!dt) dt = json_string_value(json_object_get(cfg, "dtype"));
    if (dt) xgd_dtype_parse(dt, &hp->dtype);
    hp->tied = cfg_bool(cfg, hp->tied, "tie_word_embeddings", NULL);
    hp->bos_id = (int)cfg_int(cfg, hp->bos_id, "bos_token_id", NULL);
    hp->pad_id = (int)cfg_int(cfg, hp->pad_id, "pad_token_id", NULL);
    json_t *eos = json_object_get(cfg, "eos_token_id");
    if (json_is_integer(eos)) { hp->eos_ids[0] = (int)json_integer_value(eos); hp->n_eos = 1; }
    else if (json_is_array(eos)) {
        hp->n_eos = 0;
        size_t i; json_t *e;
        json_array_foreach(eos, i, e)
            if (json_is_integer(e) && hp->n_eos < 8) hp->eos_ids[hp->n_eos++] = (int)json_integer_value(e);
    }
}

static int rope_from(const json_t *p, xgd_hparams *hp) {
    const char *type = json_string_value(json_object_get(p, "rope_type"));
    if (!type) type = json_string_value(json_object_get(p, "type"));
    if (json_is_number(json_object_get(p, "rope_theta"))) hp->rope_theta = json_number_value(json_object_get(p, "rope_theta"));
    memset(&hp->rope, 0, sizeof hp->rope);
    if (!type || !strcmp(type, "default")) return 0;
    hp->rope.factor = xgd_json_num(p, "factor", 1.0);
    if (!strcmp(type, "linear")) hp->rope.type = XGD_ROPE_LINEAR;
    else if (!strcmp(type, "dynamic")) hp->rope.type = XGD_ROPE_DYNAMIC;
    else if (!strcmp(type, "llama3")) {
        hp->rope.type = XGD_ROPE_LLAMA3;
        hp->rope.low_freq_factor = xgd_json_num(p, "low_freq_factor", 1.0);
        hp->rope.high_freq_factor = xgd_json_num(p, "high_freq_factor", 4.0);
        hp->rope.original_max_position = xgd_json_num(p, "original_max_position_embeddings", 8192);
    } else return xgd_fail("unsupported rope_type '%s' (supported: default, linear, dynamic, llama3)", type);
    if (hp->rope.original_max_position == 0) hp->rope.original_max_position = hp->max_pos;
    return 0;
}

int cfg_rope(const json_t *cfg, xgd_hparams *hp) {
    hp->rope_theta = cfg_num(cfg, hp->rope_theta, "rope_theta", NULL);
    json_t *p = json_object_get(cfg, "rope_parameters");
    if (json_is_object(p)) return rope_from(p, hp);
    p = json_object_get(cfg, "rope_scaling");
    if (json_is_object(p)) return rope_from(p, hp);
    return 0;
}

int cfg_act(const char *name) {
    if (!name) return -1;
    if (!strcmp(name, "gelu_new") || !strcmp(name, "gelu_pytorch_tanh") || !strcmp(name, "gelu_fast") ||
        !strcmp(name, "bloom_gelu")) return XGD_ACT_GELU_TANH;
    if (!strcmp(name, "gelu")) return XGD_ACT_GELU_ERF;
    if (!strcmp(name, "silu") || !strcmp(name, "swish")) return XGD_ACT_SILU;
    if (!strcmp(name, "relu")) return XGD_ACT_RELU;
    return -1;
}

int cfg_validate(const xgd_hparams *hp, const char *mt) {
    if (hp->vocab <= 0 || hp->hidden <= 0 || hp->n_layer <= 0 || hp->n_head <= 0 || hp->inter <= 0)
        return xgd_fail("config.json (%s): vocab, hidden size, layers, heads and MLP size must be positive", mt);
    if (hp->n_kv <= 0 || hp->n_head % hp->n_kv != 0)
        return xgd_fail("config.json (%s): %d attention heads are not a multiple of %d key/value heads", mt, hp->n_head, hp->n_kv);
    if (hp->head_dim <= 0) return xgd_fail("config.json (%s): head dimension must be positive", mt);
    if (hp->act < 0) return xgd_fail("config.json (%s): unsupported activation function", mt);
    return 0;
}

void cfg_write_common(json_t *o, const xgd_family *fam, const xgd_hparams *hp) {
    json_t *arch = json_array();
    json_array_append_new(arch, json_string(fam->architecture));
    json_object_set_new(o, "architectures", arch);
    json_object_set_new(o, "model_type", json_string(fam->model_type));
    json_object_set_new(o, "torch_dtype", json_string(xgd_dtype_torch_name(hp->dtype)));
    json_object_set_new(o, "vocab_size", json_integer(hp->vocab));
    json_object_set_new(o, "tie_word_embeddings", json_boolean(hp->tied));
    json_object_set_new(o, "bos_token_id", json_integer(hp->bos_id));
    if (hp->n_eos == 1) json_object_set_new(o, "eos_token_id", json_integer(hp->eos_ids[0]));
    else if (hp->n_eos > 1) {
        json_t *a = json_array();
        for (int i = 0; i < hp->n_eos; i++) json_array_append_new(a, json_integer(hp->eos_ids[i]));
        json_object_set_new(o, "eos_token_id", a);
    }
    if (hp->pad_id >= 0) json_object_set_new(o, "pad_token_id", json_integer(hp->pad_id));
    json_object_set_new(o, "transformers_version", json_string("4.41.2"));
}

void cfg_write_rope(json_t *o, const xgd_hparams *hp) {
    json_object_set_new(o, "rope_theta", json_real(hp->rope_theta));
    if (hp->rope.type == XGD_ROPE_DEFAULT) { json_object_set_new(o, "rope_scaling", json_null()); return; }
    json_t *s = json_object();
    static const char *names[] = {"default", "linear", "llama3", "dynamic"};
    json_object_set_new(s, "rope_type", json_string(names[hp->rope.type]));
    json_object_set_new(s, "factor", json_real(hp->rope.factor));
    if (hp->rope.type == XGD_ROPE_LLAMA3) {
        json_object_set_new(s, "low_freq_factor", json_real(hp->rope.low_freq_factor));
        json_object_set_new(s, "high_freq_factor", json_real(hp->rope.high_freq_factor));
        json_object_set_new(s, "original_max_position_embeddings", json_integer((json_int_t)hp->rope.original_max_position));
    }
    json_object_set_new(o, "rope_scaling", s);
}
