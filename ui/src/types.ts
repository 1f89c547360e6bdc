// types.ts — the shapes of faena's API as the dashboard reads them (see openapi.yaml and the
// issue 8 contract for /limits, /stats and the event streams; /kinds for the kinds' schemas).

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

/** `GET /limits`: what a submission may ask for on this server. */
export interface Limits {
  /** The enabled kinds, in the order they were registered. */
  kinds: string[];
  default_timeout_ms: number;
  max_timeout_ms: number;
  default_priority: number;
  min_priority: number;
  max_priority: number;
  default_max_attempts: number;
  max_max_attempts: number;
  max_dependencies: number;
  /** Each enabled kind's own bounds, named as the kind names them (its params schema has them too). */
  kind_limits: Record<string, { [key: string]: Json }>;
}

/** Where a kind's jobs run: the CPU pool or the async runtime. */
export type KindClass = 'cpu' | 'io' | 'worker';

/** One kind of `GET /kinds`, with the JSON Schemas of its params (with this server's bounds) and result. */
export interface KindView {
  name: string;
  class: KindClass;
  summary: string;
  params: Json;
  result: Json;
}

/** `GET /kinds`: the enabled kinds, in the order they were registered. */
export interface KindList {
  kinds: KindView[];
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
