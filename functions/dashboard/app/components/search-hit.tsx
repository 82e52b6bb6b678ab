/** Where a session search hit matched: in its recording (window titles, typed text) links the player at that chunk. */
const LABELS = { metadata: "details", "window-title": "window title", "typed-text": "typed text" } as const;

export function MatchedIn({ id, matches }: { id: string; matches: { field: keyof typeof LABELS; chunkIndex: number | null }[] }) {
  const inRecording = matches.filter((m) => m.chunkIndex !== null);
  if (!inRecording.length) return null;
  return (
    <span class="muted matched-in">
      {" "}
      — found in{" "}
      {inRecording.map((m, i) => (
        <>
          {i > 0 && ", "}
          <a href={`/sessions/${id}?chunk=${m.chunkIndex}`} data-testid="search-hit-chunk">
            {LABELS[m.field]} (chunk {m.chunkIndex})
          </a>
        </>
      ))}
    </span>
  );
}
