// api.ts — faena's HTTP API for the dashboard: fetch with the API key (kept in memory, with a
// copy in sessionStorage: this tab only), problem+json errors as ApiError, and one typed
// function per endpoint.
import { parse, stringify } from './json.js';
const KEY_ITEM = 'faena.api-key';
function storedKey() {
    try {
        return sessionStorage.getItem(KEY_ITEM);
    }
    catch {
        return null;
    }
}
/**
 * The key in use: kept here, with a copy in sessionStorage so that a reload of the tab keeps
 * it. Where storage is disabled the key still works until the page is reloaded (instead of
 * being asked for again and again).
 */
let key = storedKey();
/** The API key of this tab, if one was given. */
export function apiKey() {
    return key;
}
export function setApiKey(next) {
    key = next || null;
    try {
        if (key)
            sessionStorage.setItem(KEY_ITEM, key);
        else
            sessionStorage.removeItem(KEY_ITEM);
    }
    catch {
        // Storage disabled or full: the key lasts until the page is reloaded.
    }
}
/** What the server accepts as an API key: 16 to 512 printable ASCII characters, no space. */
export function isWellFormedKey(text) {
    return /^[\x21-\x7e]{16,512}$/.test(text);
}
/** Headers every API request carries. */
export function authHeaders(extra = {}) {
    const headers = new Headers(extra);
    const key = apiKey();
    if (key)
        headers.set('Authorization', `Bearer ${key}`);
    return headers;
}
let unauthorized = () => { };
/** Called whenever the API answers 401 (no key, or a key it does not know). */
export function onUnauthorized(handler) {
    unauthorized = handler;
}
export function reportUnauthorized() {
    unauthorized();
}
/** A request that failed: an HTTP error (with its problem document when there is one) or no answer. */
export class ApiError extends Error {
    constructor(status, problem, message) {
        super(message);
        this.status = status;
        this.problem = problem;
        this.name = 'ApiError';
    }
    get field() {
        return this.problem?.field ?? null;
    }
}
function asProblem(body) {
    if (body && typeof body === 'object' && !Array.isArray(body) && typeof body.code === 'string') {
        return body;
    }
    return null;
}
async function request(method, path, body) {
    const headers = authHeaders({ Accept: 'application/json' });
    if (body !== undefined)
        headers.set('Content-Type', 'application/json');
    let res;
    try {
        res = await fetch(path, {
            method,
            headers,
            body: body === undefined ? null : stringify(body),
            cache: 'no-store',
        });
    }
    catch {
        throw new ApiError(0, null, 'faena does not answer (network error)');
    }
    const text = await res.text();
    let data = null;
    try {
        data = text ? parse(text) : null;
    }
    catch {
        data = null;
    }
    if (res.status === 401)
        reportUnauthorized();
    if (!res.ok) {
        const problem = asProblem(data);
        const message = problem ? problem.detail || problem.title : `${res.status} ${res.statusText}`;
        throw new ApiError(res.status, problem, message);
    }
    return data;
}
function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
        if (v !== null && v !== undefined && v !== '')
            q.set(k, String(v));
    }
    const s = q.toString();
    return s ? `?${s}` : '';
}
const jobPath = (id) => `/jobs/${encodeURIComponent(id)}`;
export const limits = () => request('GET', '/limits');
/** The enabled kinds with their schemas (read with the exact parser: bounds past 2^53 stay bigints). */
export async function kinds() {
    const list = await request('GET', '/kinds');
    return list.kinds;
}
export const stats = () => request('GET', '/stats');
export const job = (id) => request('GET', jobPath(id));
export const submit = (body) => request('POST', '/jobs', body);
export const cancel = (id) => request('POST', `${jobPath(id)}/cancel`);
export const retry = (id) => request('POST', `${jobPath(id)}/retry`);
export const remove = (id) => request('DELETE', jobPath(id));
export const jobs = (q) => request('GET', `/jobs${query({ ...q })}`);
export async function files(id) {
    const list = await request('GET', `${jobPath(id)}/files`);
    return list.files;
}
/** Where a saved file downloads from. */
export const fileUrl = (id, name) => `${jobPath(id)}/files/${encodeURIComponent(name)}`;
/** A saved file as a blob: links cannot carry the Authorization header, fetch can. */
export async function fileBlob(id, name) {
    const res = await fetch(fileUrl(id, name), { headers: authHeaders(), cache: 'no-store' });
    if (res.status === 401)
        reportUnauthorized();
    if (!res.ok)
        throw new ApiError(res.status, null, `download failed: ${res.status}`);
    return res.blob();
}
/** The event stream URL of the whole server (filtered) or of one job. */
export const eventsPath = (filter) => `/events${query(filter)}`;
export const jobEventsPath = (id) => `${jobPath(id)}/events`;
