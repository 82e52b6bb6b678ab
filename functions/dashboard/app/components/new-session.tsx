/**
 * Creating a session for a node: title, tags, and the interaction policy, which is fixed for the
 * session's life (docs/sessions.md). `full` records typed text and clipboard text, passwords
 * included, and says so before the session is created.
 */
import { useState } from "preact/hooks";
import { postJson, type Answer, type Api, type Body } from "../lib/api.ts";
import { navigate } from "../lib/router.ts";
import { ErrorBox, useAction } from "./feedback.tsx";

type CreateBody = Body<Api["sessions"]["$post"]>;
type Policy = NonNullable<CreateBody["interaction"]>;

const POLICIES: { value: Policy; label: string; detail: string }[] = [
  { value: "none", label: "None", detail: "pixels only: no input, no window titles" },
  {
    value: "metadata",
    label: "Metadata (default)",
    detail: "focused window titles, pointer clicks, key counts and clipboard sizes — never which keys",
  },
  { value: "full", label: "Full", detail: "also the typed text and the clipboard text" },
];

export function NewSessionForm() {
  const [nodeId, setNodeId] = useState("");
  const [title, setTitle] = useState("");
  const [tags, setTags] = useState("");
  const [interaction, setInteraction] = useState<Policy>("metadata");
  const create = useAction(async () => {
    const body: CreateBody = {
      nodeId: nodeId.trim(),
      title: title.trim(),
      tags: tags
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean),
      interaction,
    };
    const session = await postJson<Answer<Api["sessions"]["$post"]>>("/sessions", body);
    navigate(`/sessions/${session.id}`);
  });
  return (
    <details class="panel new-session">
      <summary>New session</summary>
      <form
        aria-label="New session"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run();
        }}
      >
        <label>
          Node id
          <input name="nodeId" required spellcheck={false} value={nodeId} onInput={(e) => setNodeId(e.currentTarget.value)} />
        </label>
        <label>
          Title
          <input name="title" required maxLength={200} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
        </label>
        <label>
          Tags (comma-separated)
          <input name="tags" value={tags} onInput={(e) => setTags(e.currentTarget.value)} />
        </label>
        <fieldset>
          <legend>Interaction recorded beside the pixels (cannot be changed later)</legend>
          {POLICIES.map((p) => (
            <label class="choice">
              <input
                type="radio"
                name="interaction"
                value={p.value}
                checked={interaction === p.value}
                onChange={() => setInteraction(p.value)}
              />
              <span>
                <strong>{p.label}</strong> — {p.detail}
              </span>
            </label>
          ))}
        </fieldset>
        {interaction === "full" && (
          <p class="error" role="alert" data-testid="full-policy-warning">
            <strong>Full records everything typed and copied, passwords included.</strong> The text is sealed with the recording and
            readable by whoever can play it; typed words become searchable (as keyed tokens). Choose it only where policy and law allow
            recording keystrokes, and tell the people being recorded.
          </p>
        )}
        <button type="submit" disabled={create.busy}>
          Create session
        </button>
        <ErrorBox error={create.error} />
      </form>
    </details>
  );
}
