// sse.test.mjs — the dashboard's text/event-stream parser (ui/src/sse.ts, compiled in ui/dist):
// events split across chunks, CRLF, comments, multi-line data, ids kept for Last-Event-ID.
import assert from 'node:assert/strict';
import test from 'node:test';
import { SseParser } from '../dist/sse.js';

function parseAll(chunks) {
  const events = [];
  const p = new SseParser((ev) => events.push(ev));
  for (const c of chunks) p.feed(c);
  return events;
}

const STREAM = ': keep-alive\n\nid: 7f3a-1\nevent: job\ndata: {"id":"a"}\n\nid: 7f3a-2\nevent: progress\ndata: {"id":"a","done":1,"total":2}\n\nevent: reset\ndata: {}\n\n';

test('events, comments skipped, ids carried', () => {
  assert.deepEqual(parseAll([STREAM]), [
    { event: 'job', data: '{"id":"a"}', id: '7f3a-1' },
    { event: 'progress', data: '{"id":"a","done":1,"total":2}', id: '7f3a-2' },
    { event: 'reset', data: '{}', id: '7f3a-2' },
  ]);
});

test('the same events whatever the chunks, with CRLF or CR line ends', () => {
  const whole = parseAll([STREAM]);
  for (const text of [STREAM, STREAM.replace(/\n/g, '\r\n'), STREAM.replace(/\n/g, '\r')]) {
    for (let size = 1; size <= 7; size++) {
      const chunks = [];
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size));
      assert.deepEqual(parseAll(chunks), whole, `chunks of ${size}`);
    }
  }
});

test('multi-line data, default type, no space after the colon, no data no event', () => {
  assert.deepEqual(parseAll(['data:one\ndata: two\n\nevent: empty\n\n']), [
    { event: 'message', data: 'one\ntwo', id: null },
  ]);
});
