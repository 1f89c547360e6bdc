// types.ts — the shapes of faena's API as the dashboard reads them (see openapi.yaml and the
// issue 8 contract for /limits, /stats and the event streams).

import type { Json } from './json.js';

export const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;
export type JobStatus = (typeof STATUSES)[number];

const FINAL: ReadonlySet<JobStatus> = new Set<JobStatus>(['succeeded', 'failed', 'cancelled', 'timed_out']);
const RETRYABLE: ReadonlySet<JobStatus> = new Set<JobStatus>(['failed', 'cancelled', 'timed_out']);

export function isFinal(status: JobStatus): boolean {
  return FINAL.has(status);
}

export function isRetryable(status: JobStatus): boolean {
  return RETRYABLE.has(status);
}

export function isStatus(text: string): text is JobStatus {
  return (STATUSES as readonly string[]).includes(text);
}

export interface JobProgress {
  done: number;
  total: number;
}

export interface JobError {
  code: string;
  message: string;
}

export interface AttemptError {
  attempt: number;
  code: string;
  message: string;
  at: string;
  instance?: string | null;
}

/** A job as `job` events carry it: its state, without params, result or errors. */
export interface JobState {
  id: string;
  kind: string;
  status: JobStatus;
  priority: number;
  attempt: number;
  max_attempts: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: JobError | null;
  progress: JobProgress | null;
  retry_of?: string | null;
}

/** A job as `GET /jobs/{id}` and the list serve it. */
export interface Job extends JobState {
  params: Json;
  timeout_ms: number;
  instance?: string | null;
  depends_on: string[];
  run_after: string;
  result?: Json;
  errors: AttemptError[];
}

export interface JobPage {
  jobs: Job[];
  next_cursor: string | null;
}

export type StatusCounts = Record<JobStatus, number>;

export interface Stats {
  at: string;
  counts: StatusCounts;
  kinds: Record<string, StatusCounts>;
  queue_depth: number;
  running: number;
  throughput: {
    bucket_secs: number;
    since: string;
    finished: number[];
    failed: number[];
  };
}

export interface Limits {
  kinds: string[];
  default_timeout_ms: number;
  max_timeout_ms: number;
  default_priority: number;
  default_max_attempts: number;
  max_primes_end: number | bigint;
  max_factorial_n: number;
  max_factorial_numbers: number;
  max_sleep_ms: number;
  max_fetch_urls: number;
  max_fetch_concurrency: number;
}

export interface FileInfo {
  index: number;
  name: string;
  content_type: string;
  bytes: number;
}

/** An RFC 9457 problem document as faena writes them. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  field?: string | null;
}

export interface ProgressEvent {
  id: string;
  done: number;
  total: number;
}
