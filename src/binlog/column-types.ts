/** Column type codes (enum_field_types) as Table_map events carry them. */
export const ColumnType = {
  DECIMAL: 0,
  TINY: 1,
  SHORT: 2,
  LONG: 3,
  FLOAT: 4,
  DOUBLE: 5,
  NULL: 6,
  TIMESTAMP: 7,
  LONGLONG: 8,
  INT24: 9,
  DATE: 10,
  TIME: 11,
  DATETIME: 12,
  YEAR: 13,
  NEWDATE: 14,
  VARCHAR: 15,
  BIT: 16,
  TIMESTAMP2: 17,
  DATETIME2: 18,
  TIME2: 19,
  /** MySQL 9: float32 values, stored like a BLOB with a 4-byte length. */
  VECTOR: 242,
  JSON: 245,
  NEWDECIMAL: 246,
  ENUM: 247,
  SET: 248,
  TINY_BLOB: 249,
  MEDIUM_BLOB: 250,
  LONG_BLOB: 251,
  BLOB: 252,
  VAR_STRING: 253,
  STRING: 254,
  GEOMETRY: 255,
} as const;

/** Bytes of an integer column type, for reading a signed value back as unsigned. */
export const INTEGER_WIDTH: Readonly<Record<number, number>> = {
  [ColumnType.TINY]: 1, [ColumnType.SHORT]: 2, [ColumnType.INT24]: 3, [ColumnType.LONG]: 4, [ColumnType.LONGLONG]: 8,
};

/** How a value of a column type compares in SQL: as a number, a date or time, a string, an ENUM or SET; undefined for the rest. */
export type ComparisonKind = 'number' | 'temporal' | 'string' | 'enum' | 'set';

const COMPARISON_KINDS: Readonly<Record<number, ComparisonKind>> = {
  [ColumnType.DECIMAL]: 'number', [ColumnType.NEWDECIMAL]: 'number', [ColumnType.TINY]: 'number', [ColumnType.SHORT]: 'number',
  [ColumnType.INT24]: 'number', [ColumnType.LONG]: 'number', [ColumnType.LONGLONG]: 'number', [ColumnType.FLOAT]: 'number',
  [ColumnType.DOUBLE]: 'number', [ColumnType.YEAR]: 'number',
  [ColumnType.DATE]: 'temporal', [ColumnType.NEWDATE]: 'temporal', [ColumnType.TIME]: 'temporal', [ColumnType.TIME2]: 'temporal',
  [ColumnType.DATETIME]: 'temporal', [ColumnType.DATETIME2]: 'temporal', [ColumnType.TIMESTAMP]: 'temporal',
  [ColumnType.TIMESTAMP2]: 'temporal',
  [ColumnType.VARCHAR]: 'string', [ColumnType.VAR_STRING]: 'string', [ColumnType.STRING]: 'string',
  [ColumnType.TINY_BLOB]: 'string', [ColumnType.MEDIUM_BLOB]: 'string', [ColumnType.LONG_BLOB]: 'string', [ColumnType.BLOB]: 'string',
  [ColumnType.ENUM]: 'enum', [ColumnType.SET]: 'set',
};

export function comparisonKind(realType: number): ComparisonKind | undefined {
  return COMPARISON_KINDS[realType];
}

const SQL_TYPE_KINDS: Readonly<Record<string, ComparisonKind>> = Object.fromEntries([
  ...['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint', 'decimal', 'numeric', 'float', 'double', 'real', 'year']
    .map((t) => [t, 'number']),
  ...['date', 'time', 'datetime', 'timestamp'].map((t) => [t, 'temporal']),
  ...['char', 'varchar', 'binary', 'varbinary', 'tinytext', 'text', 'mediumtext', 'longtext', 'tinyblob', 'blob', 'mediumblob',
    'longblob'].map((t) => [t, 'string']),
  ['enum', 'enum'], ['set', 'set'],
]);

/** The comparison kind of a column as SHOW COLUMNS types it (`int(11) unsigned`, `varchar(20)` ...). */
export function sqlTypeComparisonKind(type: string): ComparisonKind | undefined {
  return SQL_TYPE_KINDS[/^[a-z]+/i.exec(type)?.[0]?.toLowerCase() ?? ''];
}
