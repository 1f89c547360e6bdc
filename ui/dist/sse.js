// sse.ts — Server-Sent Events over fetch(): EventSource cannot send the Authorization header.
// A small parser of the text/event-stream format, and a stream that reconnects after a drop
// with Last-Event-ID (back-off 1 s doubling to 10 s) so that the server can resume it. A 204
// answer means the server has nothing more for this stream (a final job's stream, resumed
// after its last event): the stream stops for good, as an EventSource does.
import { authHeaders, reportUnauthorized } from './api.js';
/** Splits text/event-stream input, fed in chunks, into events. */
export class SseParser {
    constructor(emit) {
        this.emit = emit;
        this.buffer = '';
        this.event = '';
        this.data = [];
        this.id = null;
        this.afterCR = false;
    }
    feed(chunk) {
        if (chunk === '')
            return;
        // A chunk that ended with \r may have split a \r\n: its \n is not another line end.
        if (this.afterCR && chunk.startsWith('\n'))
            chunk = chunk.slice(1);
        this.afterCR = chunk.endsWith('\r');
        this.buffer += chunk;
        for (;;) {
            const m = /\r\n|\r|\n/.exec(this.buffer);
            if (!m)
                return;
            const line = this.buffer.slice(0, m.index);
            this.buffer = this.buffer.slice(m.index + m[0].length);
            this.line(line);
        }
    }
    line(line) {
        if (line === '') {
            this.dispatch();
            return;
        }
        if (line.startsWith(':'))
            return; // a comment: keep-alive
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' '))
            value = value.slice(1);
        if (field === 'event')
            this.event = value;
        else if (field === 'data')
            this.data.push(value);
        else if (field === 'id' && !value.includes('\0'))
            this.id = value;
    }
    dispatch() {
        const ev = { event: this.event || 'message', data: this.data.join('\n'), id: this.id };
        const empty = this.data.length === 0;
        this.event = '';
        this.data = [];
        if (!empty)
            this.emit(ev);
    }
}
const MIN_DELAY_MS = 1000;
const MAX_DELAY_MS = 10000;
/** The server sends a keep-alive every 15 s: this long without a byte means the line is dead. */
const SILENCE_MS = 45000;
/** A connection open this long counts as healthy even without events: the back-off starts over. */
const HEALTHY_MS = 30000;
const listeners = new Set();
/** Follows the state of every stream (the header's live indicator). */
export function onAnyStreamState(listener) {
    listeners.add(listener);
}
/** One event stream, reconnecting until closed. */
export class EventStream {
    constructor(opts) {
        this.opts = opts;
        this.abort = new AbortController();
        this.lastId = null;
        this.delay = MIN_DELAY_MS;
        this.closed = false;
        void this.run();
    }
    close() {
        if (this.closed)
            return;
        this.closed = true;
        window.clearTimeout(this.timer);
        this.abort.abort();
        this.setState('closed');
    }
    setState(state) {
        this.opts.onState?.(state);
        for (const l of listeners)
            l(this, state);
    }
    async run() {
        while (!this.closed) {
            this.setState('connecting');
            const ended = await this.connectOnce();
            if (this.closed)
                return;
            if (ended === 'no-content') {
                this.close();
                this.opts.onNoContent?.();
                return;
            }
            if (ended === 'stop' || (ended === 'end' && this.opts.reconnectAfterEnd?.() === false)) {
                this.close();
                return;
            }
            this.setState('retrying');
            await new Promise((resolve) => {
                this.timer = window.setTimeout(resolve, this.delay);
            });
            this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
        }
    }
    /**
     * One connection: `end` when the server ended it, `drop` on an error, `no-content` on a 204
     * (nothing more to come), `stop` for good (401, 403, 404).
     */
    async connectOnce() {
        const attempt = new AbortController();
        const onAbort = () => attempt.abort();
        this.abort.signal.addEventListener('abort', onAbort);
        let silence;
        const watch = () => {
            window.clearTimeout(silence);
            silence = window.setTimeout(() => attempt.abort(), SILENCE_MS);
        };
        let opened = 0;
        try {
            const headers = authHeaders({ Accept: 'text/event-stream' });
            if (this.lastId !== null)
                headers.set('Last-Event-ID', this.lastId);
            watch();
            const res = await fetch(this.opts.path, { headers, signal: attempt.signal, cache: 'no-store' });
            if (res.status === 204)
                return 'no-content';
            if (res.status === 401) {
                reportUnauthorized();
                return 'stop';
            }
            if (res.status === 404 || res.status === 403)
                return 'stop';
            if (!res.ok || !res.body)
                return 'drop';
            this.setState('open');
            opened = Date.now();
            // The back-off starts over once the stream proves useful (an event, or a long life):
            // a server that ends every stream at once is not asked again every second.
            const parser = new SseParser((ev) => {
                this.delay = MIN_DELAY_MS;
                if (ev.id !== null)
                    this.lastId = ev.id;
                this.opts.onEvent(ev);
            });
            const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
            for (;;) {
                const { value, done } = await reader.read();
                if (done)
                    return 'end';
                watch();
                parser.feed(value);
            }
        }
        catch {
            return 'drop';
        }
        finally {
            window.clearTimeout(silence);
            this.abort.signal.removeEventListener('abort', onAbort);
            if (opened && Date.now() - opened >= HEALTHY_MS)
                this.delay = MIN_DELAY_MS;
        }
    }
}
