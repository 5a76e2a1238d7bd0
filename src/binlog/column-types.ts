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
