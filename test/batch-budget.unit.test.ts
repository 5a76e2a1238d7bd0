// The engine's batch budget: the SQL stages of several channels share one bound on the batch bytes they hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchBudget } from '../src/sql-stage.js';

test('running SQL stages share the batch budget equally, within a floor and a ceiling, and get it back as others stop', () => {
  const total = 3 << 19;
  const budget = new BatchBudget(total);
  const first = budget.join();
  assert.equal(budget.share, 1 << 20, 'one stage alone batches up to the ceiling');
  const others = Array.from({ length: 5 }, () => budget.join());
  assert.equal(budget.share, Math.floor(total / 6), 'six stages share the total');
  others.push(...Array.from({ length: 10 }, () => budget.join()));
  assert.equal(budget.share, 256 << 10, 'never below the floor');
  for (const leave of others) leave();
  first();
  first();
  const a = budget.join();
  const b = budget.join();
  assert.equal(budget.share, Math.floor(total / 2), 'a stage that stops twice counts once');
  a();
  b();
});
