// view.ts — what a page of the dashboard is: mounted into the main element for a route, and
// disposed when the route changes. A Scope collects what must stop with it (streams, timers,
// observers) and tells late async work that nobody is listening any more.
import { parse } from './json.js';
import { EventStream } from './sse.js';
export class Scope {
    constructor() {
        this.cleanups = [];
        this.alive = true;
    }
    add(cleanup) {
        if (this.alive)
            this.cleanups.push(cleanup);
        else
            cleanup();
    }
    stream(opts) {
        const stream = new EventStream(opts);
        this.add(() => stream.close());
        return stream;
    }
    /** Runs `tick` now and then every `ms` after the previous run has finished. */
    every(ms, tick) {
        let timer;
        const run = async () => {
            await tick();
            if (this.alive)
                timer = window.setTimeout(() => void run(), ms);
        };
        this.add(() => window.clearTimeout(timer));
        void run();
    }
    dispose() {
        this.alive = false;
        for (const c of this.cleanups.splice(0))
            c();
    }
}
/** The data of an event as T; null when it is not JSON (logged, and skipped). */
export function eventData(ev) {
    try {
        return parse(ev.data);
    }
    catch (err) {
        console.warn('faena: an event that is not JSON', ev, err);
        return null;
    }
}
/** The hash of a route with its query, leaving out empty values. */
export function routeHash(path, query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
        if (v !== null && v !== undefined && v !== '')
            q.set(k, String(v));
    }
    const text = q.toString();
    return `#${path}${text ? `?${text}` : ''}`;
}
