export {
  type MasterInfo, type UsingGtid, defaultMasterInfo, formatMasterInfo, parseMasterInfo,
} from './master-info.js';
export { type RelayLogInfo, formatRelayLogInfo, parseRelayLogInfo } from './relay-log-info.js';
export { formatMultiMasterInfo, parseMultiMasterInfo } from './multi-master.js';
export {
  DATA_FILE_MODE, MULTI_MASTER_INFO_FILE, channelFileSuffix, masterInfoFileName, relayLogInfoFileName, filtersFileName,
  isDiskFull, removeAbandonedTempFiles, writeFileAtomic,
} from './files.js';
