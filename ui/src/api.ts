// api.ts — faena's HTTP API for the dashboard: fetch with the API key (kept in memory, with a
// copy in sessionStorage: this tab only), problem+json errors as ApiError, and one typed
// function per endpoint.

import { type Json, parse, stringify } from './json.js';
import type { FileInfo, Job, JobPage, KindList, KindView, Limits, Problem, Stats } from './types.js';

const KEY_ITEM = 'faena.api-key';

function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_ITEM);
  } catch {
    return null;
  }
}

/**
 * The key in use: kept here, with a copy in sessionStorage so that a reload of the tab keeps
 * it. Where storage is disabled the key still works until the page is reloaded (instead of
 * being asked for again and again).
 */
let key: string | null = storedKey();

/** The API key of this tab, if one was given. */
export function apiKey(): string | null {
  return key;
}

export function setApiKey(next: string | null): void {
  key = next || null;
  try {
    if (key) sessionStorage.setItem(KEY_ITEM, key);
    else sessionStorage.removeItem(KEY_ITEM);
  } catch {
    // Storage disabled or full: the key lasts until the page is reloaded.
  }
}

/** What the server accepts as an API key: 16 to 512 printable ASCII characters, no space. */
export function isWellFormedKey(text: string): boolean {
  return /^[\x21-\x7e]{16,512}$/.test(text);
}

/** Headers every API request carries. */
export function authHeaders(extra: Record<string, string> = {}): Headers {
  const headers = new Headers(extra);
  const key = apiKey();
  if (key) headers.set('Authorization', `Bearer ${key}`);
  return headers;
}

let unauthorized: () => void = () => {};

/** Called whenever the API answers 401 (no key, or a key it does not know). */
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

export function reportUnauthorized(): void {
  unauthorized();
}

/** A request that failed: an HTTP error (with its problem document when there is one) or no answer. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | null,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get field(): string | null {
    return this.problem?.field ?? null;
  }
}

function asProblem(body: Json): Problem | null {
  if (body && typeof body === 'object' && !Array.isArray(body) && typeof body.code === 'string') {
    return body as unknown as Problem;
  }
  return null;
}

async function request<T>(method: string, path: string, body?: Json): Promise<T> {
  const headers = authHeaders({ Accept: 'application/json' });
  if (body !== undefined) headers.set('Content-Type', 'application/json');
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? null : stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, null, 'faena does not answer (network error)');
  }
  const text = await res.text();
  let data: Json = null;
  try {
    data = text ? parse(text) : null;
  } catch {
    data = null;
  }
  if (res.status === 401) reportUnauthorized();
  if (!res.ok) {
    const problem = asProblem(data);
    const message = problem ? problem.detail || problem.title : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, problem, message);
  }
  return data as unknown as T;
}

function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

const jobPath = (id: string): string => `/jobs/${encodeURIComponent(id)}`;

export const limits = (): Promise<Limits> => request('GET', '/limits');
/** The enabled kinds with their schemas (read with the exact parser: bounds past 2^53 stay bigints). */
export async function kinds(): Promise<KindView[]> {
  const list = await request<KindList>('GET', '/kinds');
  return list.kinds;
}
export const stats = (): Promise<Stats> => request('GET', '/stats');
export const job = (id: string): Promise<Job> => request('GET', jobPath(id));
export const submit = (body: Json): Promise<Job> => request('POST', '/jobs', body);
export const cancel = (id: string): Promise<Job> => request('POST', `${jobPath(id)}/cancel`);
export const retry = (id: string): Promise<Job> => request('POST', `${jobPath(id)}/retry`);
export const remove = (id: string): Promise<null> => request('DELETE', jobPath(id));

export interface ListQuery {
  status?: string | null;
  kind?: string | null;
  limit?: number | null;
  cursor?: string | null;
}

export const jobs = (q: ListQuery): Promise<JobPage> => request('GET', `/jobs${query({ ...q })}`);

export async function files(id: string): Promise<FileInfo[]> {
  const list = await request<{ files: FileInfo[] }>('GET', `${jobPath(id)}/files`);
  return list.files;
}

/** Where a saved file downloads from. */
export const fileUrl = (id: string, name: string): string =>
  `${jobPath(id)}/files/${encodeURIComponent(name)}`;

/** A saved file as a blob: links cannot carry the Authorization header, fetch can. */
export async function fileBlob(id: string, name: string): Promise<Blob> {
  const res = await fetch(fileUrl(id, name), { headers: authHeaders(), cache: 'no-store' });
  if (res.status === 401) reportUnauthorized();
  if (!res.ok) throw new ApiError(res.status, null, `download failed: ${res.status}`);
  return res.blob();
}

/** The event stream URL of the whole server (filtered) or of one job. */
export const eventsPath = (filter: { kind?: string | null }): string => `/events${query(filter)}`;
export const jobEventsPath = (id: string): string => `${jobPath(id)}/events`;
