/* PEFT adapter folders: adapter_config.json + adapter_model.safetensors (hf-spec §3). */
#include "model/lora.h"
#include "base/err.h"
#include "base/fs.h"
#include "base/json.h"
#include <math.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Key of an adapter tensor: "base_model.model.<module>.lora_A.weight", or
 * "...lora_embedding_A" for embeddings (PEFT's ParameterDict, no ".weight"). */
static void key(char *buf, size_t n, const xgd_lora *lo, char which) {
    if (lo->embedding) snprintf(buf, n, "base_model.model.%s.lora_embedding_%c", lo->module, which);
    else snprintf(buf, n, "base_model.model.%s.lora_%c.weight", lo->module, which);
}

static int last_component_is(const char *module, const char *name) {
    const char *d = strrchr(module, '.');
    return !strcmp(d ? d + 1 : module, name);
}

int xgd_adapter_save(const xgd_adapter *a, const xgd_model *m, const char *dir, const char *base_name) {
    if (xgd_mkdir_p(dir) != 0) return -1;
    /* adapter_config.json: the keys every PEFT version reads (newer ones ignore what is missing) */
    json_t *c = json_object();
    json_object_set_new(c, "peft_type", json_string("LORA"));
    json_object_set_new(c, "task_type", json_string("CAUSAL_LM"));
    json_object_set_new(c, "base_model_name_or_path", base_name ? json_string(base_name) : json_null());
    json_object_set_new(c, "revision", json_null());
    json_object_set_new(c, "inference_mode", json_true());
    json_object_set_new(c, "r", json_integer(a->r));
    json_object_set_new(c, "lora_alpha", floor(a->alpha) == a->alpha ? json_integer((json_int_t)a->alpha) : json_real(a->alpha));
    json_object_set_new(c, "lora_dropout", json_real(0.0));
    json_t *t = json_array();
    for (int i = 0; i < a->ntargets; i++) json_array_append_new(t, json_string(a->targets[i]));
    json_object_set_new(c, "target_modules", t);
    json_object_set_new(c, "bias", json_string("none"));
    /* PEFT sets fan_in_fan_out for GPT-2's Conv1D targets and saves it so */
    json_object_set_new(c, "fan_in_fan_out", json_boolean(m->fam->weight_layout == XGD_W_IN_OUT));
    json_object_set_new(c, "modules_to_save", json_null());
    json_object_set_new(c, "init_lora_weights", json_true());
    json_object_set_new(c, "layers_to_transform", json_null());
    json_object_set_new(c, "layers_pattern", json_null());
    /* modules whose rank or alpha differs from r / lora_alpha (an adapter loaded with patterns),
     * by their full names */
    json_t *rp = json_object(), *ap = json_object();
    for (int i = 0; i < a->n; i++) {
        const xgd_lora *lo = &a->items[i];
        float al = lo->scale * (a->rslora ? sqrtf((float)lo->r) : (float)lo->r);
        if (lo->r != a->r) json_object_set_new(rp, lo->module, json_integer(lo->r));
        if (fabsf(al - a->alpha) > 1e-5f * fabsf(a->alpha)) json_object_set_new(ap, lo->module, floor(al) == al ? json_integer((json_int_t)al) : json_real(al));
    }
    json_object_set_new(c, "rank_pattern", rp);
    json_object_set_new(c, "alpha_pattern", ap);
    json_object_set_new(c, "use_rslora", json_boolean(a->rslora));
    json_object_set_new(c, "use_dora", json_false());
    char *text = json_dumps(c, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(c);
    char *path = xgd_path_join(dir, "adapter_config.json");
    int rc = xgd_write_file_atomic(path, text, strlen(text));
    free(text);
    free(path);
    if (rc != 0) return -1;
    /* tensors: every A and B, plus the full embedding/head weights when those are targeted
     * (save_embedding_layers="auto" saves <module>.base_layer.weight) */
    int cap = 2 * a->n + 2, n = 0;
    xgd_tensor *ts = xgd_calloc((size_t)cap, sizeof(xgd_tensor));
    char (*names)[300] = xgd_calloc((size_t)cap, 300);
    for (int i = 0; i < a->n; i++) {
        const xgd_lora *lo = &a->items[i];
        for (int k = 0; k < 2; k++) {
            key(names[n], 300, lo, k ? 'B' : 'A');
            ts[n].name = names[n];
            ts[n].dtype = XGD_F32;
            ts[n].ndim = 2;
            ts[n].shape[0] = k ? lo->out : lo->r;
            ts[n].shape[1] = k ? lo->r : lo->in;
            ts[n].data = k ? lo->B : lo->A;
            ts[n].nbytes = sizeof(float) * (size_t)(ts[n].shape[0] * ts[n].shape[1]);
            n++;
        }
        if (last_component_is(lo->module, "embed_tokens") || last_component_is(lo->module, "lm_head")) {
            const xgd_wmat *w = lo->base;
            snprintf(names[n], 300, "base_model.model.%s.base_layer.weight", lo->module);
            ts[n].name = names[n];
            ts[n].dtype = w->dtype;
            ts[n].ndim = 2;
            ts[n].shape[0] = w->out;
            ts[n].shape[1] = w->in;
            ts[n].data = w->data;
            ts[n].nbytes = xgd_dtype_size(w->dtype) * (size_t)(w->out * w->in);
            n++;
        }
    }
    path = xgd_path_join(dir, "adapter_model.safetensors");
    rc = xgd_st_write(path, ts, (size_t)n, NULL);
    free(path);
    free(ts);
    free(names);
    return rc;
}

/* PEFT's rank_pattern / alpha_pattern lookup: the first key (in the file's order) that matches the
 * module's name as the regular expression (.*\.)?(KEY)$ from its start gives the value; none keeps
 * *value. Keys are regular expressions (PCRE2 here, Python's re there: the usual syntax agrees). */
int xgd_lora_pattern(const json_t *patterns, const char *module, double *value) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patterns, k, v) {
        size_t n = strlen(k) + 16;
        char *re = xgd_malloc(n);
        snprintf(re, n, "(.*\\.)?(%s)$", k);
        int err;
        PCRE2_SIZE off;
        pcre2_code *code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_ANCHORED, &err, &off, NULL);
        free(re);
        if (!code) return xgd_fail("pattern key '%s' is not a valid regular expression", k);
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
        int hit = pcre2_match(code, (PCRE2_SPTR)module, strlen(module), 0, 0, md, NULL) >= 0;
        pcre2_match_data_free(md);
        pcre2_code_free(code);
        if (hit) {
            if (!json_is_number(v)) return xgd_fail("pattern '%s' has a non-numeric value", k);
            *value = json_number_value(v);
            return 0;
        }
    }
    return 0;
}

int xgd_adapter_load(xgd_adapter **out, xgd_model *m, const char *dir) {
    *out = NULL;
    char *cpath = xgd_path_join(dir, "adapter_config.json"), *wpath = xgd_path_join(dir, "adapter_model.safetensors");
    json_t *c = NULL;
    xgd_st_file *f = NULL;
    int rc = -1;
    if (!(c = xgd_json_load(cpath))) goto done;
    const char *pt = xgd_json_str(c, "peft_type", "");
    if (strcmp(pt, "LORA") != 0) { xgd_fail("%s: peft_type '%s' is not supported (only LORA)", cpath, pt); goto done; }
    if (xgd_json_bool(c, "use_dora", 0)) { xgd_fail("%s: DoRA adapters (use_dora) are not supported", cpath); goto done; }
    if (xgd_json_bool(c, "lora_bias", 0)) { xgd_fail("%s: lora_bias adapters are not supported", cpath); goto done; }
    const char *bias = xgd_json_str(c, "bias", "none");
    if (strcmp(bias, "none") != 0) { xgd_fail("%s: bias \"%s\" adapters (trained base biases) are not supported", cpath, bias); goto done; }
    json_t *mts = json_object_get(c, "modules_to_save");
    if (json_is_array(mts) && json_array_size(mts)) { xgd_fail("%s: modules_to_save (fully trained extra modules) is not supported", cpath); goto done; }
    json_t *rpat = json_object_get(c, "rank_pattern"), *apat = json_object_get(c, "alpha_pattern");
    int r = (int)xgd_json_int(c, "r", 8);
    float alpha = (float)xgd_json_num(c, "lora_alpha", 8);
    int rslora = xgd_json_bool(c, "use_rslora", 0);
    if (xgd_st_open(&f, wpath) != 0) goto done;
    /* the modules named in the file, in the model's order */
    xgd_adapter *probe = NULL;
    /* build with every module as target, then keep those the file has */
    char csv[8192] = "";
    size_t used = 0;
    for (size_t i = 0; i < xgd_st_count(f); i++) {
        const char *k = xgd_st_at(f, i)->name, *p = strstr(k, ".lora_A.weight");
        if (!p) p = strstr(k, ".lora_embedding_A");
        if (!p || strncmp(k, "base_model.model.", 17)) continue;
        int len = (int)(p - (k + 17));
        if (used + (size_t)len + 2 >= sizeof csv) { xgd_fail("%s: too many adapter modules", wpath); goto done; }
        used += (size_t)snprintf(csv + used, sizeof csv - used, "%s%.*s", used ? "," : "", len, k + 17);
    }
    if (!used) { xgd_fail("%s: no lora_A tensors", wpath); goto done; }
    /* room for the largest rank; each module then takes its own rank and scale */
    int rmax = r;
    const char *pk;
    json_t *pv;
    json_object_foreach(rpat, pk, pv) {
        if (!json_is_integer(pv) || json_integer_value(pv) < 1) { xgd_fail("%s: rank_pattern['%s'] is not a positive integer", cpath, pk); goto done; }
        if (json_integer_value(pv) > rmax) rmax = (int)json_integer_value(pv);
    }
    if (xgd_adapter_create(&probe, m, csv, rmax, alpha, rslora, 0) != 0) { xgd_err_context("%s", wpath); goto done; }
    probe->r = r;
    probe->nparams = 0;
    for (int i = 0; i < probe->n; i++) {
        xgd_lora *lo = &probe->items[i];
        double ri = r, ai = alpha;
        if (xgd_lora_pattern(rpat, lo->module, &ri) != 0 || xgd_lora_pattern(apat, lo->module, &ai) != 0) {
            xgd_err_context("%s", cpath);
            xgd_adapter_free(probe);
            probe = NULL;
            goto done;
        }
        lo->r = (int)ri;
        lo->scale = rslora ? (float)ai / sqrtf((float)ri) : (float)ai / (float)ri;
        probe->nparams += (int64_t)lo->r * (lo->in + lo->out);
    }
    /* targets recorded as in the config */
    for (int i = 0; i < probe->ntargets; i++) free(probe->targets[i]);
    free(probe->targets);
    probe->targets = NULL;
    probe->ntargets = 0;
    json_t *tm = json_object_get(c, "target_modules");
    size_t ti;
    json_t *tv;
    json_array_foreach(tm, ti, tv) {
        probe->targets = xgd_realloc(probe->targets, sizeof(char *) * (size_t)(probe->ntargets + 1));
        probe->targets[probe->ntargets++] = xgd_strdup(json_string_value(tv) ? json_string_value(tv) : "");
    }
    rc = 0;
    for (int i = 0; i < probe->n && rc == 0; i++) {
        xgd_lora *lo = &probe->items[i];
        for (int k = 0; k < 2 && rc == 0; k++) {
            char name[300];
            key(name, sizeof name, lo, k ? 'B' : 'A');
            const xgd_tensor *t = NULL;
            for (size_t j = 0; j < xgd_st_count(f); j++) if (!strcmp(xgd_st_at(f, j)->name, name)) t = xgd_st_at(f, j);
            int64_t want0 = k ? lo->out : lo->r, want1 = k ? lo->r : lo->in;
            if (!t) rc = xgd_fail("%s: missing tensor '%s'", wpath, name);
            else if (t->ndim != 2 || t->shape[0] != want0 || t->shape[1] != want1)
                rc = xgd_fail("%s: tensor '%s' has shape [%lld,%lld], expected [%lld,%lld]", wpath, name,
                              (long long)t->shape[0], (long long)(t->ndim > 1 ? t->shape[1] : 0), (long long)want0, (long long)want1);
            else if (t->dtype != XGD_F32 && t->dtype != XGD_F16 && t->dtype != XGD_BF16)
                rc = xgd_fail("%s: tensor '%s' has unsupported dtype %s", wpath, name, xgd_dtype_st_name(t->dtype));
            else {
                void *tmp = xgd_malloc(t->nbytes);
                memcpy(tmp, t->data, t->nbytes);
                xgd_convert_to_f32(k ? lo->B : lo->A, tmp, t->dtype, (size_t)(want0 * want1));
                free(tmp);
            }
        }
    }
    if (rc == 0) *out = probe;
    else xgd_adapter_free(probe);
done:
    if (f) xgd_st_close(f);
    json_decref(c);
    free(cpath);
    free(wpath);
    return rc;
}
