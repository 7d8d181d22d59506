// Shapes the contract fixes, shared by several test files.

import { prefixed, isIsoMs, isObject, isString, isInt, nullOrString, every, oneOf } from './match.mjs';

/** Every endpoint's settings when none are given. */
export const DEFAULT_SETTINGS = Object.freeze({
  redirect_url: null,
  allowed_origins: [],
  required_fields: [],
  files: { enabled: true, max_count: 10, max_size: 10485760 },
  active: true,
  ip: 'hash',
  rate_limit: { per_minute: 120, burst: 60 },
  notify: [],
  autoresponse: { enabled: false, subject: null, text: null },
  subject_template: null,
  retention_days: 0,
});

/** Settings with some top-level keys replaced (as a shallow PATCH does). */
export const settingsWith = (over) => ({ ...DEFAULT_SETTINGS, ...over });

/** An endpoint as the API returns it. */
export const endpointShape = (extra = {}) => ({
  id: prefixed('ep_'),
  key: /^[A-Za-z0-9_-]{16,}$/,
  name: isString,
  kind: oneOf('form', 'events'),
  url: isString,
  settings: isObject,
  created_at: isIsoMs,
  ...extra,
});

/** A submission as the API returns it. */
export const submissionShape = (extra = {}) => ({
  id: prefixed('sub_'),
  endpoint_id: prefixed('ep_'),
  created_at: isIsoMs,
  status: oneOf('inbox', 'spam', 'trash'),
  fields: isObject,
  files: every({ name: isString, field: isString, size: isInt, content_type: isString }),
  meta: isObject,
  ...extra,
});

/** An API key as listed (never with its token). */
export const keyShape = (extra = {}) => ({
  id: prefixed('key_'),
  name: isString,
  prefix: isString,
  created_at: isIsoMs,
  last_used_at: (v) => v === null || (typeof v === 'string' && isIsoMs(v)),
  ...extra,
});

/** The JSON success answer of POST /f/{key}. */
export const formOk = (extra = {}) => ({ ok: true, next: isString, id: prefixed('sub_'), ...extra });

export { nullOrString };
