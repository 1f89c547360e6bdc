// stream.test.mjs — the dashboard's reconnecting event stream (ui/src/sse.ts, compiled in
// ui/dist) against a stubbed fetch: a 204 stops it for good (no reconnect loop), a stream the
// caller says is over is not opened again, and a reconnection resumes with Last-Event-ID.
import assert from 'node:assert/strict';
import test from 'node:test';

globalThis.window ??= globalThis;
const { EventStream } = await import('../dist/sse.js');

/** Replaces fetch with `answer(request number, headers)` for the duration of `body`. */
async function withFetch(answer, body) {
  const saved = globalThis.fetch;
  const calls = [];
  globalThis.fetch = async (path, init) => {
    calls.push({ path, headers: new Headers(init.headers) });
    return answer(calls.length, new Headers(init.headers));
  };
  try {
    await body(calls);
  } finally {
    globalThis.fetch = saved;
  }
}

const sse = (text) => new Response(text, { status: 200, headers: { 'content-type': 'text/event-stream' } });

/** Resolves once `stream` has reached the state `closed` (or fails after `ms`). */
function closed(states, ms = 5000) {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const look = () => {
      if (states.includes('closed')) resolve();
      else if (Date.now() - started > ms) reject(new Error(`never closed: ${states}`));
      else setTimeout(look, 5);
    };
    look();
  });
}

test('a 204 stops the stream at once and says so', async () => {
  await withFetch(() => new Response(null, { status: 204 }), async (calls) => {
    const states = [];
    let noContent = 0;
    new EventStream({ path: '/jobs/a/events', onEvent: () => {}, onState: (s) => states.push(s), onNoContent: () => noContent++ });
    await closed(states);
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(calls.length, 1, 'asked once, never again');
    assert.equal(noContent, 1);
    assert.deepEqual(states, ['connecting', 'closed']);
  });
});

test('a stream that ended and is over (reconnectAfterEnd false) is not opened again', async () => {
  await withFetch(() => sse('id: h-1\nevent: job\ndata: {"status":"succeeded"}\n\n'), async (calls) => {
    const states = [];
    const events = [];
    new EventStream({ path: '/jobs/a/events', onEvent: (e) => events.push(e), onState: (s) => states.push(s), reconnectAfterEnd: () => false });
    await closed(states);
    assert.equal(calls.length, 1);
    assert.deepEqual(events, [{ event: 'job', data: '{"status":"succeeded"}', id: 'h-1' }]);
  });
});

test('a reconnection sends Last-Event-ID; a 204 then ends it', async () => {
  await withFetch(
    (n) => (n === 1 ? sse('id: h-7\nevent: job\ndata: {"status":"running"}\n\n') : new Response(null, { status: 204 })),
    async (calls) => {
      const states = [];
      let noContent = 0;
      new EventStream({ path: '/jobs/a/events', onEvent: () => {}, onState: (s) => states.push(s), onNoContent: () => noContent++ });
      await closed(states);
      assert.equal(calls.length, 2);
      assert.equal(calls[0].headers.get('last-event-id'), null);
      assert.equal(calls[1].headers.get('last-event-id'), 'h-7');
      assert.equal(noContent, 1);
      assert.deepEqual(states, ['connecting', 'open', 'retrying', 'connecting', 'closed']);
    },
  );
});
