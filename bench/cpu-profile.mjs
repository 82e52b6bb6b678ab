// A CPU profile of a workerd Worker through its inspector (workerd serve --inspector-addr): the
// Chrome DevTools protocol's Profiler domain over the target's WebSocket. Used by benches when
// BENCH_PROFILE=1, to say where a request's time goes; summarise() prints self time by function.

/** Connects to the first inspector target whose id or title contains `match` (a service name). */
export async function startProfile(inspectorAddress, match, samplingIntervalUs = 200) {
  const targets = await (await fetch(`http://${inspectorAddress}/json/list`)).json();
  const target = targets.find((t) => `${t.id} ${t.title}`.includes(match)) ?? targets[0];
  if (!target) throw new Error(`no inspector target on ${inspectorAddress}`);
  const url = target.webSocketDebuggerUrl ?? `ws://${inspectorAddress}/${target.id}`;
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = () => reject(new Error(`inspector WebSocket ${url} failed`));
  });
  let nextId = 1;
  const pending = new Map();
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data));
    const waiter = message.id !== undefined && pending.get(message.id);
    if (waiter) {
      pending.delete(message.id);
      if (message.error) waiter.reject(new Error(message.error.message));
      else waiter.resolve(message.result);
    }
  };
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: samplingIntervalUs });
  await send("Profiler.start");
  return {
    async stop() {
      const { profile } = await send("Profiler.stop");
      socket.close();
      return profile;
    },
  };
}

/**
 * Self and total (inclusive) time per function (name + file:line), highest first, as lines of text.
 * Total time follows the sampled stack, so code after an `await` counts under its own frames only.
 */
export function summarise(profile, top = 25, bundleText) {
  // esbuild's bundle marks each source file with a "// path" comment line: self time per source file.
  const sections = [];
  if (bundleText) {
    bundleText.split("\n").forEach((line, index) => {
      const m = /^\/\/ ((?:node_modules|functions|shared|platform|durable-objects)\/\S+)$/.exec(line);
      if (m) sections.push([index + 1, m[1].replace(/^node_modules\/((?:@[^/]+\/)?[^/]+)\/.*$/, "$1")]);
    });
  }
  const sectionOf = (line) => {
    let lo = 0;
    let hi = sections.length - 1;
    let found = "(native or runtime)";
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (sections[mid][0] <= line) {
        found = sections[mid][1];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
  const bySection = new Map();
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const keyOf = (node) => {
    const frame = node.callFrame;
    return `${frame.functionName || "(anonymous)"} ${frame.url ? frame.url.split("/").pop() : ""}:${frame.lineNumber + 1}`;
  };
  const self = new Map();
  const inclusive = new Map();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i + 1] ?? 0;
    const key = keyOf(byId.get(id));
    self.set(key, (self.get(key) ?? 0) + delta);
    const frame = byId.get(id).callFrame;
    const section = frame.url && sections.length ? sectionOf(frame.lineNumber + 1) : `${frame.functionName || "(native)"}`;
    bySection.set(section, (bySection.get(section) ?? 0) + delta);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const k = keyOf(byId.get(at));
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + delta);
    }
    total += delta;
  });
  const rows = (map) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => `${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(6)} ms  ${key}`)
      .join("\n");
  return `self time by source file:\n${rows(bySection)}\nself time:\n${rows(self)}\ntotal time:\n${rows(inclusive)}`;
}
