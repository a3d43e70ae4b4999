import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ReplayCache } from '../src/index.js';

describe('ReplayCache', () => {
  test('remembers an id until it expires', () => {
    const cache = new ReplayCache();
    assert.equal(cache.record('a', 2000, 1000), 'recorded');
    assert.equal(cache.has('a', 1500), true);
    assert.equal(cache.record('a', 2500, 1500), 'replayed');
    assert.equal(cache.has('a', 2001), false, 'expired');
    assert.equal(cache.record('a', 5000, 2001), 'recorded', 'an expired id may be used again');
  });
  test('bounded: when full of live ids it fails closed', () => {
    const cache = new ReplayCache({ maxEntries: 3 });
    for (const id of ['a', 'b', 'c']) assert.equal(cache.record(id, 10_000, 0), 'recorded');
    assert.equal(cache.record('d', 10_000, 1), 'full');
    assert.equal(cache.size, 3);
    assert.equal(cache.record('a', 10_000, 1), 'replayed', 'old ids are not forgotten to make room');
  });
  test('expired ids make room, wherever they are', () => {
    const cache = new ReplayCache({ maxEntries: 3 });
    cache.record('long', 10_000, 0);
    cache.record('short', 100, 0);
    cache.record('long2', 10_000, 0);
    assert.equal(cache.record('new', 10_000, 200), 'recorded', 'the expired middle entry was swept');
    assert.equal(cache.size, 3);
    assert.equal(cache.has('short', 200), false);
  });
  test('clear forgets everything', () => {
    const cache = new ReplayCache();
    cache.record('a', 10, 0);
    cache.clear();
    assert.equal(cache.size, 0);
    assert.equal(cache.record('a', 10, 0), 'recorded');
  });
  test('maxEntries must be a positive integer', () => {
    assert.throws(() => new ReplayCache({ maxEntries: 0 }), RangeError);
    assert.throws(() => new ReplayCache({ maxEntries: 1.5 }), RangeError);
  });
});
