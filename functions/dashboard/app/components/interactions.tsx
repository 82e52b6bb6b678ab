/**
 * The player's interaction events (lib/interaction.ts): markers on a timeline under the seek bar
 * and a list; choosing either seeks the player to the event. Both grow as chunks are opened.
 */
import { describeInteraction, type TimedInteraction } from "../lib/interaction.ts";

const clock = (ms: number) => {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
};

interface Props {
  events: TimedInteraction[];
  start: number;
  onSeek(epochMs: number): void;
}

export function InteractionTimeline({ events, start, end, onSeek }: Props & { end: number }) {
  if (!events.length) return null;
  const span = Math.max(1, end - start);
  return (
    <div class="timeline" role="group" aria-label="Interaction events on the timeline">
      {events.map((e) => {
        const label = `${clock(e.epochMs - start)} ${describeInteraction(e.event)}`;
        const left = Math.min(100, Math.max(0, ((e.epochMs - start) / span) * 100));
        return (
          <button
            type="button"
            class={`marker marker-${e.event.type}`}
            style={{ left: `${left}%` }}
            title={label}
            aria-label={label}
            data-epoch-ms={String(e.epochMs)}
            onClick={() => onSeek(e.epochMs)}
          />
        );
      })}
    </div>
  );
}

export function InteractionList({ events, start, policy, onSeek }: Props & { policy?: string }) {
  return (
    <section class="interactions" aria-labelledby="interactions-heading">
      <h3 id="interactions-heading">Interaction</h3>
      {events.length === 0 ? (
        <p class="muted">
          {policy === "none"
            ? "This session records no interaction (policy none)."
            : "No interaction events in the chunks opened so far; playing or seeking opens more."}
        </p>
      ) : (
        <ol>
          {events.map((e) => (
            <li>
              <button type="button" class="link" data-epoch-ms={String(e.epochMs)} onClick={() => onSeek(e.epochMs)}>
                <time>{clock(e.epochMs - start)}</time> {describeInteraction(e.event)}
              </button>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
