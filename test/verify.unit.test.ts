// The pure part of verifyChannel: the key-range conditions that bound a chunk, in key order, with source values
// only as literals.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SourceValueError, type CopyColumn } from '../src/provision/values.js';
import { keyRange } from '../src/provision/verify.js';

const id: CopyColumn = { name: 'id', dataType: 'int', charset: null };
const name: CopyColumn = { name: 'na`me', dataType: 'varchar', charset: 'utf8mb4' };
const raw = (s: string) => Buffer.from(s, 'utf8');

describe('verifyChannel key ranges', () => {
  test('a composite key compares in key order: strictly after the lower bound, up to and including the upper', () => {
    assert.equal(keyRange([id, name], [raw('5'), raw("it's")], 'after'),
      "((`id` > 5) OR (`id` = 5 AND `na``me` > _binary'it''s'))");
    assert.equal(keyRange([id, name], [raw('5'), raw('ü')], 'upTo'),
      "((`id` < 5) OR (`id` = 5 AND `na``me` < _binary X'c3bc') OR (`id` = 5 AND `na``me` = _binary X'c3bc'))");
    assert.equal(keyRange([id], [raw('-7')], 'upTo'), '((`id` < -7) OR (`id` = -7))');
  });

  test('a key value that is not of its column type is refused, never rendered', () => {
    assert.throws(() => keyRange([id], [raw('1) OR (1=1')], 'after'), SourceValueError);
  });
});
