import { OperationError, UsageError } from '../../errors.js';

/** A manifest that cannot be applied as written (bad YAML, schema violation, kustomize error): exit 2. */
export class InvalidManifestError extends UsageError {}

/** The API server refused an object or a request (HTTP status kept for decisions). */
export class KubeApiError extends OperationError {
  constructor(
    readonly status: number,
    /** the Status reason, e.g. Conflict, Invalid, NotFound, Forbidden */
    readonly reason: string | undefined,
    /** the server's own message, e.g. `Apply failed with 1 conflict: …` */
    readonly detail: string,
    what: string,
  ) {
    super(`${what}: ${detail}`);
  }
}
