// Live updates from the agent's event stream (GET /v1/event/stream, NDJSON). fetch()
// with a stream reader rather than EventSource, which cannot send X-Nomad-Token. One
// stream per tab; nothing polls: the page re-reads its view when a frame arrives, or
// when a (re)connection is established (it may have missed something meanwhile).

import { headers, query } from '/ui/api.js';

const TOPICS = ['Deployment', 'Allocation', 'Job'];
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 5000;

/**
 * Follows the stream until `stop()`.
 * - onFrame(frame): an event frame `{Events, Index}`.
 * - onConnected(): the stream is open (its first line arrived): read the view again.
 * - onState({state, message}): 'connecting' | 'live' | 'retrying' | 'refused'.
 * A refusal (403 and other 4xx) is not retried until `restart()` (a new token).
 */
export function follow({ onFrame, onConnected, onState }) {
  let last = 0; // the index of the last frame seen: reconnect after it
  let delay = BACKOFF_FIRST_MS;
  let controller = null;
  let timer = null;
  let stopped = false;

  async function start() {
    // An agent restarted with a new store (a fresh --dev) counts from 1 again:
    // after_index of the old history would skip its first writes.
    if (last > 0 && (await appliedIndex()) < last) last = 0;
    return last > 0 ? { after_index: last } : { start: 'now' };
  }

  async function connect() {
    if (stopped) return;
    controller = new AbortController();
    const signal = controller.signal;
    onState({ state: 'connecting', message: 'Connecting to the event stream…' });
    let refused = false;
    try {
      const from = await start();
      const params = new URLSearchParams({ namespace: '*', ...from });
      for (const t of TOPICS) params.append('topic', t);
      const res = await fetch(`/v1/event/stream?${params}`, { headers: headers(), signal, cache: 'no-store' });
      if (!res.ok) {
        const text = (await res.text()).trim();
        refused = res.status >= 400 && res.status < 500;
        onState({ state: refused ? 'refused' : 'retrying', message: `Live updates off: ${res.status}: ${text}` });
        if (refused) return;
        throw new Error(text);
      }
      await read(res.body, signal);
    } catch (e) {
      if (signal.aborted) return;
    }
    if (stopped || signal.aborted || refused) return;
    onState({ state: 'retrying', message: `Live updates interrupted; reconnecting in ${(delay / 1000).toFixed(1)} s…` });
    timer = setTimeout(connect, delay);
    delay = Math.min(delay * 2, BACKOFF_MAX_MS);
  }

  async function read(body, signal) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let opened = false;
    for (;;) {
      const { value, done } = await reader.read();
      if (done || signal.aborted) return;
      buffer += value;
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line);
        if (!opened) {
          opened = true;
          delay = BACKOFF_FIRST_MS;
          onState({ state: 'live', message: 'Live' });
          onConnected();
        }
        if (Array.isArray(msg.Events)) {
          last = msg.Index;
          onFrame(msg);
        } else if (msg.Error) {
          // The stream ends after this line and says where to resume.
          if (typeof msg.LastIndex === 'number') last = msg.LastIndex;
          else if (typeof msg.OldestIndex === 'number') last = Math.max(msg.OldestIndex - 1, 0);
        }
      }
    }
  }

  function cancel() {
    clearTimeout(timer);
    if (controller) controller.abort();
  }

  connect();
  return {
    restart() {
      cancel();
      delay = BACKOFF_FIRST_MS;
      connect();
    },
    stop() {
      stopped = true;
      cancel();
    },
  };
}

/** The agent's applied index (`/v1/metrics` needs no token); Infinity when unknown, so
 * that a failed look-up keeps `after_index`. */
async function appliedIndex() {
  try {
    const res = await fetch(`/v1/metrics${query({ format: 'prometheus' })}`, { cache: 'no-store' });
    const m = /^rollout_applied_index (\d+)/m.exec(await res.text());
    return m ? Number(m[1]) : Infinity;
  } catch {
    return Infinity;
  }
}
