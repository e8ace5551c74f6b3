'use strict';
// In-process rendezvous between activities (which run inside this test
// process, in the TS worker) and the scenarios that drive them. Keys are
// scoped by workflow id so scenarios running concurrently never collide.

const slots = new Map();

function slot(key) {
  let s = slots.get(key);
  if (!s) {
    let resolve;
    const promise = new Promise((r) => {
      resolve = r;
    });
    s = { promise, resolve, settled: false, value: undefined, log: [] };
    slots.set(key, s);
  }
  return s;
}

/** Resolves the slot `key` with `value` (only the first call counts). */
function notify(key, value) {
  const s = slot(key);
  if (!s.settled) {
    s.settled = true;
    s.value = value;
    s.resolve(value);
  }
}

/** Waits until `key` was notified; rejects after `timeoutMs`. */
function waitFor(key, timeoutMs = 30000) {
  const s = slot(key);
  if (s.settled) return Promise.resolve(s.value);
  let timer;
  return Promise.race([
    s.promise,
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`probe: "${key}" was not notified within ${timeoutMs} ms`)),
        timeoutMs,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

function peek(key) {
  const s = slots.get(key);
  return s && s.settled ? s.value : undefined;
}

/** Appends `item` to the list `key` (e.g. one entry per activity attempt). */
function record(key, item) {
  slot(key).log.push(item);
}

function records(key) {
  const s = slots.get(key);
  return s ? s.log.slice() : [];
}

module.exports = { notify, waitFor, peek, record, records };
