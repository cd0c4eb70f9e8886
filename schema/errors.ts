/**
 * Typed errors shared by edge, workers and CLI. Every error that can reach a user carries a
 * machine-readable `code` (stable, part of the contract) and, for HTTP, the status to answer with.
 */

/** Codes that the HTTP API may answer with. Stable: integrators match on them. */
export type ErrorCode =
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'invalid_id'
  | 'invalid_json'
  | 'invalid_field'
  | 'missing_field'
  | 'unknown_type'
  | 'brand_mismatch'
  | 'unknown_brand'
  | 'invalid_signature'
  | 'invalid_msgpack'
  | 'unsupported_media_type'
  | 'too_many_events'
  | 'invalid_frame'
  | 'body_too_large'
  | 'unknown_report'
  | 'invalid_parameter'
  | 'method_not_allowed'
  | 'conflict'
  | 'invalid_transition'
  | 'unavailable'
  | 'internal';

const STATUS: Record<ErrorCode, number> = {
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  invalid_id: 400,
  invalid_json: 400,
  invalid_field: 422,
  missing_field: 422,
  unknown_type: 422,
  brand_mismatch: 422,
  unknown_brand: 404,
  invalid_signature: 401,
  invalid_msgpack: 400,
  unsupported_media_type: 415,
  too_many_events: 413,
  invalid_frame: 400,
  body_too_large: 413,
  unknown_report: 404,
  invalid_parameter: 400,
  method_not_allowed: 405,
  conflict: 409,
  invalid_transition: 409,
  unavailable: 503,
  internal: 500,
};

/** An error meant for the caller: its message is safe to show, its code is stable. */
export class AffstreamError extends Error {
  override readonly name = 'AffstreamError';
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown; status?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.status = options?.status ?? STATUS[code];
  }
}

/** A configuration value that failed validation at boot. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'invalid_config';
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`config ${key} = ${JSON.stringify(value)} is not allowed: expected ${allowed}`);
  }
}

/**
 * An attribution rules file (docs/configuration.md, “Attribution rules file”) that failed validation. `key` is the path inside the file
 * (`brands.b1.weights`), or `(file)` when the file as a whole is unreadable or not JSON.
 */
export class RulesError extends Error {
  override readonly name = 'RulesError';
  readonly code = 'invalid_rules';
  constructor(
    readonly source: string,
    readonly key: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`attribution rules ${source}: ${key} = ${describe(value)} is not allowed: expected ${allowed}`);
  }
}

function describe(v: unknown): string {
  const text = v === undefined ? 'undefined' : JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
