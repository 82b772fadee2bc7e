/*
 * chat.h: the OpenAI-compatible chat-completions exchange of the LLM stage: the request body that asks for
 * one relevance per candidate, and the strict reading of the answer.
 *
 * The model is asked for {"scores":[r0, r1, ...]}: exactly one number in [0, 1] per candidate, in the order
 * given. Anything else (not JSON, another shape, a count that differs, a number out of range) is garbage and
 * an error: the model's order then stands.
 *
 * Threads: any (pure functions; memory through host).
 */
#ifndef LP_LLM_CHAT_H
#define LP_LLM_CHAT_H

#include <stddef.h>
#include <stdint.h>

#include "leadpoet/stage.h"

/* Evidence text per snippet sent to the model, in bytes (cut at a UTF-8 boundary). */
#define LLM_EVIDENCE_BYTES 300

/* The request body for cands[0..m), host->malloc'd (the caller frees it), its length in *len, and the
 * estimated prompt tokens (bytes / 4, rounded up) in *tokens_in. NULL when out of memory. */
char *llm_chat_body(const lp_host_api *host, const char *model, lp_str prompt, const lp_rerank_cand *cands,
                    uint32_t m, int64_t max_tokens, size_t *len, double *tokens_in);

/* Reads a chat-completions response body: scores[0..m) from choices[0].message.content, and the usage
 * (prompt_tokens, completion_tokens; -1 each when absent). LP_OK, or LP_EINVAL with why filled; the usage is
 * read even when the content is garbage (a billed answer). */
int llm_chat_parse(const char *body, size_t len, uint32_t m, double *scores, long *tokens_in, long *tokens_out,
                   char *why, size_t why_size);

#endif
