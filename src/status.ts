// The status record of a channel (SHOW ALL SLAVES STATUS) and the thread state strings of 5.5.3 / 5.5.4 of
// the MySQL 5.1 manual, which monitoring built for the servers already knows.

export const IoState = {
  connecting: 'Connecting to master',
  checkingVersion: 'Checking master version',
  registering: 'Registering slave on master',
  requestingDump: 'Requesting binlog dump',
  waitingToReconnectAfterDump: 'Waiting to reconnect after a failed binlog dump request',
  reconnectingAfterDump: 'Reconnecting after a failed binlog dump request',
  waitingForEvent: 'Waiting for master to send event',
  queueing: 'Queueing master event to the relay log',
  waitingToReconnectAfterRead: 'Waiting to reconnect after a failed master event read',
  reconnectingAfterRead: 'Reconnecting after a failed master event read',
  waitingForRelaySpace: 'Waiting for the slave SQL thread to free enough relay log space',
  /** MySQL's stage for a write that waits on a full disk (the 5.1 manual has none). */
  waitingForDiskSpace: 'Waiting for disk space',
  exiting: 'Waiting for slave mutex on exit',
} as const;

export const SqlState = {
  reading: 'Reading event from the relay log',
  waitingForRelayLog: 'Has read all relay log; waiting for the slave I/O thread to update it',
  waitingForDelay: 'Waiting until MASTER_DELAY seconds after master executed event',
  /** Ours: the servers apply locally and have no target to lose. */
  waitingForTarget: 'Waiting to reconnect to the target',
  exiting: 'Waiting for slave mutex on exit',
} as const;

/** One channel's status; each field means what the same-named field of SHOW ALL SLAVES STATUS means. */
export interface ReplicaStatus {
  /** Connection_name. */
  channel: string;
  /** Slave_IO_State. */
  ioState: string;
  /** Slave_SQL_State. */
  sqlState: string;
  sourceHost: string;
  sourceUser: string;
  sourcePort: number;
  /** Connect_Retry, seconds. */
  sourceConnectRetry: number;
  /** Master_Log_File: the source binlog the I/O stage reads. */
  sourceLogFile: string;
  /** Read_Master_Log_Pos. */
  readSourceLogPos: number;
  relayLogFile: string;
  relayLogPos: number;
  /** Relay_Master_Log_File: the source binlog of the last event the SQL stage applied. */
  relaySourceLogFile: string;
  /** Slave_IO_Running. */
  ioRunning: 'Yes' | 'No' | 'Connecting';
  /** Slave_SQL_Running. */
  sqlRunning: 'Yes' | 'No';
  /** Last_Errno / Last_Error: the last SQL error, as the servers also show it. */
  lastErrno: number;
  lastError: string;
  /** Replicate_Do_DB ... Replicate_Rewrite_DB: the channel's filters, comma-separated as the servers show them. */
  replicateDoDb: string;
  replicateIgnoreDb: string;
  replicateDoTable: string;
  replicateIgnoreTable: string;
  replicateWildDoTable: string;
  replicateWildIgnoreTable: string;
  /** `from->to` pairs, as MariaDB shows Replicate_Rewrite_DB. */
  replicateRewriteDb: string;
  /** Skip_Counter: events setSkipCounter still has to skip. */
  skipCounter: number;
  /** Exec_Master_Log_Pos. */
  execSourceLogPos: number;
  relayLogSpace: number;
  /** Until_Condition of the running SQL stage, from startReplica's `until`. */
  untilCondition: 'None' | 'Master' | 'Relay' | 'Gtid' | 'SQL_BEFORE_GTIDS' | 'SQL_AFTER_GTIDS';
  untilLogFile: string;
  untilLogPos: number;
  /**
   * Seconds_Behind_Master: null (unknown) when a stage is not running or the I/O stage is not connected; 0 once the
   * SQL stage has applied everything the I/O stage received; else the age of the transaction being applied.
   */
  secondsBehindSource: number | null;
  lastIoErrno: number;
  lastIoError: string;
  lastSqlErrno: number;
  lastSqlError: string;
  /** Replicate_Ignore_Server_Ids. */
  replicateIgnoreServerIds: number[];
  /** Master_Server_Id. */
  sourceServerId: number;
  retriedTransactions: number;
  maxRelayLogSize: number;
  executedLogEntries: number;
  /** Slave_received_heartbeats. */
  receivedHeartbeats: number;
  /** Slave_heartbeat_period, seconds. */
  heartbeatPeriod: number;
  /** SQL_Delay: sourceDelay, seconds. */
  sqlDelay: number;
  /** SQL_Remaining_Delay: seconds until the waiting transaction may be applied; null when none is waiting. */
  sqlRemainingDelay: number | null;
  /** Last_IO_Error_Timestamp / Last_SQL_Error_Timestamp, ISO strings or ''. */
  lastIoErrorTimestamp: string;
  lastSqlErrorTimestamp: string;
  /**
   * Master_SSL_Allowed: sourceSsl. (The servers show 'Ignored' when built without TLS support; the engine
   * always has it.)
   */
  sourceSslAllowed: 'Yes' | 'No';
  /** Master_SSL_CA_File, Master_SSL_CA_Path, Master_SSL_Cert, Master_SSL_Cipher, Master_SSL_Key. */
  sourceSslCaFile: string;
  sourceSslCaPath: string;
  sourceSslCert: string;
  sourceSslCipher: string;
  sourceSslKey: string;
  /** Master_SSL_Verify_Server_Cert. */
  sourceSslVerifyServerCert: 'Yes' | 'No';
  /** Master_SSL_Crl, Master_SSL_Crlpath. */
  sourceSslCrl: string;
  sourceSslCrlpath: string;
  /** MySQL's Master_TLS_Version: sourceTlsVersion. */
  sourceTlsVersion: string;
  /** MySQL's Master_public_key_path: sourcePublicKeyPath. */
  sourcePublicKeyPath: string;
  /** MySQL's Get_master_public_key: getSourcePublicKey, 0 or 1 as MySQL shows it. */
  getSourcePublicKey: 0 | 1;
  /**
   * Events from the source not applied because they would write in the database of the position table (no
   * server has this field): each is logged as a warning.
   */
  skippedProtectedEvents: number;
  /** Using_Gtid: sourceUseGtid. */
  usingGtid: 'No' | 'Slave_Pos' | 'Current_Pos';
  /** Gtid_IO_Pos: the GTID position of the whole event groups received into the relay log (GTID mode). */
  gtidIoPos: string;
  /**
   * Gtid_Slave_Pos: the GTID position applied, kept on the target with the rows. The channel's own, where the
   * servers show one for all connections: domain ids of independent sources do not mix.
   */
  gtidSlavePos: string;
  /** MySQL's Auto_Position: sourceAutoPosition, 0 or 1 as MySQL shows it. */
  autoPosition: 0 | 1;
  /**
   * MySQL's Retrieved_Gtid_Set: the GTIDs of the whole transactions the I/O stage wrote to the relay log
   * (sourceAutoPosition), as MySQL prints a GTID set.
   */
  retrievedGtidSet: string;
  /**
   * MySQL's Executed_Gtid_Set, but the channel's own: the MySQL GTIDs applied, kept on the target with the rows.
   * MySQL shows the server's gtid_executed, every channel's and local transactions together.
   */
  executedGtidSet: string;
  /** Replicate_Do_Domain_Ids / Replicate_Ignore_Domain_Ids. */
  replicateDoDomainIds: number[];
  replicateIgnoreDomainIds: number[];
  /**
   * provisionChannel (ours, no server has these): what the last call in this process is doing. '' before any;
   * 'snapshot' while it takes the snapshot and creates tables; 'catching up' while it brings tables copied before a
   * crash to the new snapshot; 'copying'; 'verifying' (the verify option); 'done'; 'failed' (the error is thrown
   * by provisionChannel; calling it again continues).
   */
  provisionState: ProvisionState;
  provisionTablesDone: number;
  provisionTablesTotal: number;
  /** Rows and bytes (of SQL text) on the target, tables copied before a crash included. */
  provisionRowsCopied: number;
  provisionBytesCopied: number;
  /** An estimate from the copy rate and the source's row estimates; null before one can be made and when not copying. */
  provisionSecondsLeft: number | null;
}

export type ProvisionState = '' | 'snapshot' | 'catching up' | 'copying' | 'verifying' | 'done' | 'failed';
