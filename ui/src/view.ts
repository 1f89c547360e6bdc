// view.ts — what a page of the dashboard is: mounted into the main element for a route, and
// disposed when the route changes. A Scope collects what must stop with it (streams, timers,
// observers) and tells late async work that nobody is listening any more.

import { parse } from './json.js';
import { EventStream, type SseEvent, type StreamOptions } from './sse.js';

export interface Route {
  /** The part of the hash before `?`, e.g. `/jobs/ID`. */
  path: string;
  query: URLSearchParams;
}

export interface ViewContext {
  root: HTMLElement;
  route: Route;
  /** Mounts the current route again (after a `reset` event, or a new API key). */
  reload(): void;
}

export interface View {
  dispose(): void;
}

export type Mount = (ctx: ViewContext) => View;

export class Scope implements View {
  private cleanups: Array<() => void> = [];
  alive = true;

  add(cleanup: () => void): void {
    if (this.alive) this.cleanups.push(cleanup);
    else cleanup();
  }

  stream(opts: StreamOptions): EventStream {
    const stream = new EventStream(opts);
    this.add(() => stream.close());
    return stream;
  }

  /** Runs `tick` now and then every `ms` after the previous run has finished. */
  every(ms: number, tick: () => Promise<void>): void {
    let timer: number | undefined;
    const run = async (): Promise<void> => {
      await tick();
      if (this.alive) timer = window.setTimeout(() => void run(), ms);
    };
    this.add(() => window.clearTimeout(timer));
    void run();
  }

  dispose(): void {
    this.alive = false;
    for (const c of this.cleanups.splice(0)) c();
  }
}

/** The data of an event as T; null when it is not JSON (logged, and skipped). */
export function eventData<T>(ev: SseEvent): T | null {
  try {
    return parse(ev.data) as unknown as T;
  } catch (err) {
    console.warn('faena: an event that is not JSON', ev, err);
    return null;
  }
}

/** The hash of a route with its query, leaving out empty values. */
export function routeHash(path: string, query: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  }
  const text = q.toString();
  return `#${path}${text ? `?${text}` : ''}`;
}
