/**
 * The search terms of one recorded chunk, as the agent sends them and the server indexes them
 * (PUT /api/v1/sessions/{id}/chunks/{index}/terms): the titles of the windows in front (policy
 * `metadata` and `full`) and the words typed (`full` only). One definition for both sides, so the
 * words the agent collects are the words the index keys.
 */
export const TERMS_LIMITS = { titles: 200, titleChars: 1024, words: 5000, wordMin: 2, wordMax: 64 } as const;

export interface ChunkTerms {
  titles: string[];
  words: string[];
}

/** The words of `text` as the index keys them: NFKC, lowercase, runs of letters and digits of 2..64 characters. */
export function wordsOf(text: string): string[] {
  const runs =
    text
      .normalize("NFKC")
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? [];
  return runs.filter((w) => [...w].length >= TERMS_LIMITS.wordMin && [...w].length <= TERMS_LIMITS.wordMax);
}
