/* `xgd run STUDY.json`: the whole study from one file (pipeline-spec §0): DPO on the base model
 * (full or LoRA, then merged), generation with the base and the tuned model on every prompt file,
 * toxicity scoring, the toxicity metrics per language before and after, a summary that
 * `xgd report` turns into HTML, then the analyses the study file asks for (study/analyses.h:
 * diversity, perplexity, probe, value vectors, activations, retrieval). Every step is an xgd
 * command line, recorded and run as recorded (study/step.h), so each runs alone with the same
 * result. provenance.json holds the versions of xgd and its libraries and every step's state,
 * commands, seed, input fingerprints and timing (written also when a step fails). A complete step
 * is skipped, an interrupted one resumes or is redone, a stale one (its command or an input
 * changed) is redone. --dry-run lists the steps and what each would do. */
#ifndef XGD_STUDY_RUN_H
#define XGD_STUDY_RUN_H

int xgd_study_run(const char *study_json, int dry_run);

#endif
