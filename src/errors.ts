/**
 * Errors by audience. An InputError is the caller's to fix: its message names the field and the fix,
 * and it becomes a tool error the model can read. Anything else is an internal failure.
 */
export class InputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'InputError';
  }
}
