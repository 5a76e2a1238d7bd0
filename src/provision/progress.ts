// What a provisioning has done so far: the status fields and what onProgress receives.
import type { ProvisionState, ReplicaStatus } from '../status.js';
import type { VerifyResult } from './verify.js';

export interface ProvisionProgress {
  state: ProvisionState;
  tablesDone: number;
  tablesTotal: number;
  rowsCopied: number;
  bytesCopied: number;
  /** Seconds left, estimated; null when no estimate can be made. */
  secondsLeft: number | null;
  /** The table a progress report is about, `db.table` of the source; '' for reports about the whole. */
  table: string;
  /** Tables (`db.table` of the source) with neither a primary key nor a NOT NULL unique key: copied in no order. */
  tablesWithoutKey: string[];
  /** With the verify option, once verifyChannel has compared the copy: its result. */
  verification?: VerifyResult;
}

type ProvisionField = 'provisionState' | 'provisionTablesDone' | 'provisionTablesTotal' | 'provisionRowsCopied' |
  'provisionBytesCopied' | 'provisionSecondsLeft';

export function provisionFields(p: ProvisionProgress | undefined): Pick<ReplicaStatus, ProvisionField> {
  return {
    provisionState: p?.state ?? '', provisionTablesDone: p?.tablesDone ?? 0, provisionTablesTotal: p?.tablesTotal ?? 0,
    provisionRowsCopied: p?.rowsCopied ?? 0, provisionBytesCopied: p?.bytesCopied ?? 0,
    provisionSecondsLeft: p?.state === 'copying' ? p.secondsLeft : null,
  };
}

/**
 * Time left from the rows copied in this run and the source's estimate of the rows still to copy
 * (information_schema.TABLES.TABLE_ROWS, which InnoDB estimates).
 */
export function secondsLeft(copiedThisRun: number, estimatedLeft: number, elapsedMs: number): number | null {
  if (copiedThisRun === 0 || elapsedMs <= 0) return null;
  return Math.ceil(Math.max(0, estimatedLeft) / (copiedThisRun / (elapsedMs / 1000)));
}
