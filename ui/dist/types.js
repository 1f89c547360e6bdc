// types.ts — the shapes of faena's API as the dashboard reads them (see openapi.yaml and the
// issue 8 contract for /limits, /stats and the event streams; /kinds for the kinds' schemas).
export const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'];
const FINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out']);
const RETRYABLE = new Set(['failed', 'cancelled', 'timed_out']);
export function isFinal(status) {
    return FINAL.has(status);
}
export function isRetryable(status) {
    return RETRYABLE.has(status);
}
export function isStatus(text) {
    return STATUSES.includes(text);
}
