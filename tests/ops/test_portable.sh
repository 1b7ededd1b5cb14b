#!/bin/bash
# The portable (non-AVX-512) kernels and the single-thread paths give the same answers: rerun the
# C op tests with XGD_NO_AVX512=1 (forces the plain C bodies) and with XGD_NUM_THREADS=1 (skipped
# under sanitizers, where the suite already runs them once); the linear test once more with
# XGD_NO_AMX=1.
. "$(dirname "$0")/../common/lib.sh"
bin=$(dirname "$XGD")
for t in linear attention norm_act position; do
  exe="$bin/ops_test_$t"
  [ -x "$exe" ] || { bad "missing $exe"; continue; }
  XGD_NO_AVX512=1 "$exe" && ok || bad "$t with XGD_NO_AVX512=1"
  # under sanitizers the suite already runs these once; the portable pass is the new coverage
  [ "${XGD_SANITIZED:-0}" = 1 ] && continue
  XGD_NUM_THREADS=1 "$exe" && ok || bad "$t with XGD_NUM_THREADS=1"
done
# on an AMX machine the fast bf16 mode runs on AMX tiles; this pass covers its vdpbf16ps kernel
XGD_NO_AMX=1 "$bin/ops_test_linear" && ok || bad "linear with XGD_NO_AMX=1"
finish ops_portable
