// Shape matching for JSON answers, so that API tests can state what they
// expect as data.
//
// An expected value is matched against an actual one like this:
//   - a matcher made here (isString, prefixed, ...) or any function: called
//     with the actual value, must return true;
//   - a RegExp: the actual value is a string it matches;
//   - an array: same length, element by element;
//   - ABSENT as an object member: the key must not be there;
//   - exact({...}): like an object, and no other keys;
//   - a plain object: each listed key matches, other keys are allowed;
//   - anything else: strictly equal.

import assert from 'node:assert/strict';

export const ABSENT = Symbol('absent');
const EXACT = Symbol('exact');

function named(desc, fn) {
  fn.desc = desc;
  return fn;
}

export const isString = named('a string', (v) => typeof v === 'string');
export const nonEmptyString = named('a non-empty string', (v) => typeof v === 'string' && v.length > 0);
export const isNumber = named('a number', (v) => typeof v === 'number' && Number.isFinite(v));
export const isInt = named('an integer', (v) => Number.isInteger(v));
export const isBool = named('a boolean', (v) => typeof v === 'boolean');
export const isArray = named('an array', (v) => Array.isArray(v));
export const isObject = named('an object', (v) => v !== null && typeof v === 'object' && !Array.isArray(v));
export const nullOrString = named('null or a string', (v) => v === null || typeof v === 'string');

/** ISO 8601 UTC with milliseconds, as every created_at must be. */
export const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const isIsoMs = named('an ISO 8601 UTC time with ms', (v) => typeof v === 'string' && ISO_MS.test(v) && !Number.isNaN(Date.parse(v)));

export const prefixed = (p, minRest = 1) =>
  named(`a string "${p}…"`, (v) => typeof v === 'string' && v.startsWith(p) && v.length >= p.length + minRest);
export const oneOf = (...vals) => named(`one of ${JSON.stringify(vals)}`, (v) => vals.includes(v));
export const arrayOfLength = (n) => named(`an array of ${n}`, (v) => Array.isArray(v) && v.length === n);
export const absoluteUrl = named('an absolute http(s) URL', (v) => {
  if (typeof v !== 'string') return false;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
});
/** An array with an element matching `expected`. */
export const contains = (expected) =>
  named(`an array containing ${describe(expected)}`, (v) => Array.isArray(v) && v.some((x) => matches(x, expected)));
/** An array none of whose elements matches `expected`. */
export const lacks = (expected) =>
  named(`an array without ${describe(expected)}`, (v) => Array.isArray(v) && !v.some((x) => matches(x, expected)));
/** Every element of an array matches `expected`. */
export const every = (expected) =>
  named(`an array whose items are ${describe(expected)}`, (v) => Array.isArray(v) && v.every((x) => matches(x, expected)));

export function exact(obj) {
  return { [EXACT]: true, ...obj };
}

/** The Management API's error body. */
export const apiError = (code) => ({ error: { code, message: nonEmptyString } });

/** The public ingest's (Formspree's) error body; `field` checked when given. */
export const formError = (code, field) => ({
  error: nonEmptyString,
  errors: contains(field === undefined ? { code, message: nonEmptyString } : { code, field, message: nonEmptyString }),
});

function describe(expected) {
  if (typeof expected === 'function') return expected.desc || expected.name || 'a predicate';
  if (expected instanceof RegExp) return String(expected);
  try {
    return JSON.stringify(expected, (k, v) => (typeof v === 'function' ? `<${v.desc || 'fn'}>` : v instanceof RegExp ? String(v) : v === ABSENT ? '<absent>' : v));
  } catch {
    return String(expected);
  }
}

function fail(path, expected, actual) {
  const shown = actual === undefined ? 'undefined' : JSON.stringify(actual);
  return `${path}: expected ${describe(expected)}, got ${shown && shown.length > 400 ? shown.slice(0, 400) + '…' : shown}`;
}

/** Returns null on a match, or a message saying where it differs. */
export function mismatch(actual, expected, path = '$') {
  if (typeof expected === 'function') return expected(actual) ? null : fail(path, expected, actual);
  if (expected instanceof RegExp) return typeof actual === 'string' && expected.test(actual) ? null : fail(path, expected, actual);
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return fail(path, expected, actual);
    if (actual.length !== expected.length) return `${path}: expected ${expected.length} items, got ${actual.length}: ${fail(path, expected, actual)}`;
    for (let i = 0; i < expected.length; i++) {
      const m = mismatch(actual[i], expected[i], `${path}[${i}]`);
      if (m) return m;
    }
    return null;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return fail(path, expected, actual);
    for (const key of Object.keys(expected)) {
      const want = expected[key];
      const has = Object.prototype.hasOwnProperty.call(actual, key);
      if (want === ABSENT) {
        if (has) return `${path}.${key}: expected absent, got ${JSON.stringify(actual[key])}`;
        continue;
      }
      if (!has) return `${path}.${key}: missing (expected ${describe(want)})`;
      const m = mismatch(actual[key], want, `${path}.${key}`);
      if (m) return m;
    }
    if (expected[EXACT]) {
      const extra = Object.keys(actual).filter((k) => !Object.prototype.hasOwnProperty.call(expected, k));
      if (extra.length) return `${path}: unexpected keys ${JSON.stringify(extra)}`;
    }
    return null;
  }
  return Object.is(actual, expected) ? null : fail(path, expected, actual);
}

export function matches(actual, expected) {
  return mismatch(actual, expected) === null;
}

/** assert that `actual` has the shape `expected`. */
export function assertShape(actual, expected, message = '') {
  const m = mismatch(actual, expected);
  if (m) assert.fail(`${message ? message + ': ' : ''}${m}\nactual: ${truncate(JSON.stringify(actual))}`);
}

function truncate(s, n = 2000) {
  return s && s.length > n ? s.slice(0, n) + '…' : s;
}
