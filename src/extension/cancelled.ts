// Cancellation as a type: a command cancelled by the user (or a start aborted) is not an error to
// show, and is recognised by class, never by comparing message text.

export class CancelledError extends Error {
  constructor(message = "cancelled") {
    super(message);
    this.name = "CancelledError";
  }
}

export function isCancelled(e: unknown): e is CancelledError {
  return e instanceof CancelledError;
}
