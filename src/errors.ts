/** Where a value or a problem comes from: a file relative to the root, and a 1-based line. */
export interface Origin {
  file: string;
  line: number;
}

export interface Problem extends Origin {
  severity: 'error' | 'warning';
  message: string;
}

export function formatProblem(problem: Problem): string {
  const where = problem.line > 0 ? `${problem.file}:${problem.line}` : problem.file;
  return `${where}: ${problem.severity === 'warning' ? 'warning: ' : ''}${problem.message}`;
}

/**
 * Errors a request can meet, each mapped to one HTTP status by the transport.
 * The message is one line meant for the person reading curl's output.
 */
export class BadRequestError extends Error {
  readonly status = 400;
}
export class NotFoundError extends Error {
  readonly status = 404;
}
/** The caller may not do this (e.g. mark another machine built). */
export class ForbiddenError extends Error {
  readonly status = 403;
}
/** A definition or a template cannot produce a valid kickstart; the message names the file and line. */
export class UnprocessableError extends Error {
  readonly status = 422;
  constructor(message: string, readonly problems: Problem[] = []) {
    super(message);
  }
}

export type RequestError = BadRequestError | ForbiddenError | NotFoundError | UnprocessableError;

export function isRequestError(error: unknown): error is RequestError {
  return error instanceof BadRequestError || error instanceof ForbiddenError || error instanceof NotFoundError || error instanceof UnprocessableError;
}
