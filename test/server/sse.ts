// A minimal Server-Sent Events reader for the tests (fetch + the text/event-stream framing).

export interface SseEvent {
  event: string;
  data: unknown;
  id?: string;
}

/**
 * Reads events from `url` until `done(events)` says so (or `timeoutMs` passes: then it rejects with
 * what it had). Returns every event received.
 */
export async function collectEvents(url: string, done: (events: SseEvent[]) => boolean, timeoutMs = 20_000, headers: Record<string, string> = {}): Promise<SseEvent[]> {
  const controller = new AbortController();
  const events: SseEvent[] = [];
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const res = await fetch(url, { signal: controller.signal, headers });
    if (res.status !== 200) throw new Error(`stream answered ${res.status}: ${await res.text()}`);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      buffer += value;
      let cut: number;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event: Partial<SseEvent> & { lines: string[] } = { lines: [] };
        for (const line of block.split("\n")) {
          if (line.startsWith("event: ")) event.event = line.slice(7);
          else if (line.startsWith("data: ")) event.lines.push(line.slice(6));
          else if (line.startsWith("id: ")) event.id = line.slice(4);
        }
        if (!event.event) continue;
        events.push({ event: event.event, data: JSON.parse(event.lines.join("\n")), id: event.id });
      }
      if (done(events)) {
        controller.abort();
        return events;
      }
    }
    throw new Error("stream ended early");
  } catch (err) {
    if (controller.signal.aborted && !done(events)) {
      throw new Error(`no matching events within ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => e.event))}`);
    }
    if (done(events)) return events;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
