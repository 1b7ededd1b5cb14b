/* `xgd run STUDY.json`: the whole study from one file (pipeline-spec §0): DPO on the base model
 * (full or LoRA, then merged), generation with the base and the tuned model on every prompt file,
 * toxicity scoring, the toxicity metrics per language before and after, a summary that
 * `xgd report` turns into HTML, and provenance (every step's settings, input checksums, timings).
 * Each step's outputs are resumable files: a step whose output is complete is skipped, an
 * interrupted one resumes. --dry-run lists the steps and whether each would run. */
#ifndef XGD_STUDY_RUN_H
#define XGD_STUDY_RUN_H

int xgd_study_run(const char *study_json, int dry_run);

#endif
