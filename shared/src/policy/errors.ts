// Typed errors of the policy loader: TiergateErrors with the policy codes, plus the file and every issue.
// Decide on `code` or `instanceof`, never on message text.
import { ErrorCode, TiergateError } from "../errors.ts";

export const POLICY_ERROR_CODES = {
  /** The file cannot be read or parsed, breaks the schema, or names an unset `env:NAME` secret. */
  POLICY_INVALID: ErrorCode.POLICY_INVALID,
  /** The file's major `version` is not one this build understands. */
  POLICY_VERSION_UNSUPPORTED: ErrorCode.POLICY_VERSION_UNSUPPORTED,
} as const;
export type PolicyErrorCode = (typeof POLICY_ERROR_CODES)[keyof typeof POLICY_ERROR_CODES];

export type PolicyIssue = {
  /** Field path like `tasks.intent.tiers[0].accept.threshold`; empty for the whole document. */
  path: string;
  /** The same path as segments (`["tasks", "intent", "tiers", 0]`). */
  segments?: (string | number)[];
  message: string;
  /** 1-based position in the file, when known. */
  line?: number;
  column?: number;
};

export type PolicyErrorOptions = { file?: string | undefined; issues?: PolicyIssue[]; cause?: unknown };

/** Formats one issue as `FILE: path.to.field: reason (line L, column C)`. */
export function formatPolicyIssue(file: string | undefined, issue: PolicyIssue): string {
  const parts = [file ?? "<policy>"];
  if (issue.path !== "") parts.push(issue.path);
  const column = issue.column !== undefined ? `, column ${issue.column}` : "";
  const where = issue.line !== undefined ? ` (line ${issue.line}${column})` : "";
  parts.push(issue.message + where);
  return parts.join(": ");
}

/** Its message lists every issue, one `FILE: path: reason` line each; `issues` holds them structured. */
export class PolicyError extends TiergateError {
  declare readonly code: PolicyErrorCode;
  readonly file: string | undefined;
  readonly issues: readonly PolicyIssue[];

  constructor(code: PolicyErrorCode, summary: string, options: PolicyErrorOptions = {}) {
    const issues = options.issues ?? [{ path: "", message: summary }];
    super(code, issues.map((i) => formatPolicyIssue(options.file, i)).join("\n"), {
      cause: options.cause,
      details: issues.map((i) => ({ path: i.segments ?? [], message: i.message })),
    });
    this.file = options.file;
    this.issues = issues;
  }
}
