/**
 * Search terms of one chunk: the titles of the windows in front while it was recorded (policy
 * `metadata` and `full`) and the words typed (`full` only). They are spooled beside the sealed
 * chunk and sent after it (PUT /api/v1/sessions/{id}/chunks/{index}/terms), so the server can find
 * a recording without decrypting it, and learns nothing the policy does not allow.
 */
import { z } from "zod";
import { TERMS_LIMITS, wordsOf } from "../../shared/recording/terms.ts";

/** One chunk's terms as spooled and sent (the limits are the route's: shared/recording/terms.ts). */
export const ChunkTerms = z
  .object({
    titles: z.array(z.string().min(1).max(TERMS_LIMITS.titleChars)).max(TERMS_LIMITS.titles),
    words: z.array(z.string().min(TERMS_LIMITS.wordMin).max(TERMS_LIMITS.wordMax)).max(TERMS_LIMITS.words),
  })
  .strict();
export type ChunkTerms = z.infer<typeof ChunkTerms>;

/** Collects one chunk's terms, each once, within the limits (what does not fit is left out). */
export class TermsCollector {
  private titles = new Set<string>();
  private words = new Set<string>();

  addTitle(title: string): void {
    const t = title.slice(0, TERMS_LIMITS.titleChars);
    if (t.trim() && this.titles.size < TERMS_LIMITS.titles) this.titles.add(t);
  }

  addText(text: string): void {
    // The index's words, and within the route's limit, which counts UTF-16 code units.
    for (const w of wordsOf(text)) if (w.length <= TERMS_LIMITS.wordMax && this.words.size < TERMS_LIMITS.words) this.words.add(w);
  }

  take(): ChunkTerms {
    const terms = { titles: [...this.titles], words: [...this.words] };
    this.titles = new Set();
    this.words = new Set();
    return terms;
  }
}

/** Several sources' terms as one, within the limits; null when there are none. */
export function mergeTerms(all: ChunkTerms[]): ChunkTerms | null {
  const collector = new TermsCollector();
  for (const terms of all) {
    for (const title of terms.titles) collector.addTitle(title);
    for (const word of terms.words) collector.addText(word);
  }
  const merged = collector.take();
  return merged.titles.length === 0 && merged.words.length === 0 ? null : merged;
}
