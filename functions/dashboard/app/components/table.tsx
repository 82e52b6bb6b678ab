/** Pieces every list page's table shares: the header row and the Newer/Older pager. */

/** A table's header row, one column heading per name. */
export function Columns({ names }: { names: readonly string[] }) {
  return (
    <thead>
      <tr>
        {names.map((name) => (
          <th scope="col">{name}</th>
        ))}
      </tr>
    </thead>
  );
}

/**
 * Newer/Older over a stack of cursors (the last one is the page shown; an empty stack is the first
 * page). `next` is the cursor of the page after this one, empty on the last page.
 */
export function Pager<C>({ stack, onChange, next }: { stack: C[]; onChange: (stack: C[]) => void; next: C | null | undefined }) {
  return (
    <div class="pager">
      <button type="button" disabled={stack.length === 0} onClick={() => onChange(stack.slice(0, -1))}>
        Newer
      </button>
      <button type="button" disabled={!next} onClick={() => onChange([...stack, next!])}>
        Older
      </button>
    </div>
  );
}
