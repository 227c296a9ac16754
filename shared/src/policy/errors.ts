// Typed errors of the policy loader. Decide on `code` or `instanceof`, never on message text.

export const POLICY_ERROR_CODES = {
  /** The file could not be read, parsed, or it breaks the schema; `issues` lists every problem. */
  POLICY_INVALID: "POLICY_INVALID",
  /** The file's major `version` is not one this build understands. */
  POLICY_VERSION_UNSUPPORTED: "POLICY_VERSION_UNSUPPORTED",
  /** An `env:NAME` secret reference names a variable that is unset or empty. */
  POLICY_SECRET_MISSING: "POLICY_SECRET_MISSING",
} as const;
export type PolicyErrorCode = (typeof POLICY_ERROR_CODES)[keyof typeof POLICY_ERROR_CODES];

export type PolicyIssue = {
  /** Field path like `tasks.intent.tiers[0].accept.threshold`; empty for the whole document. */
  path: string;
  message: string;
  /** 1-based position in the file, when known. */
  line?: number;
  column?: number;
};

export type PolicyErrorOptions = { file?: string | undefined; issues?: PolicyIssue[]; cause?: unknown };

/** Formats one issue as `FILE: path.to.field: reason (line L)`. */
export function formatPolicyIssue(file: string | undefined, issue: PolicyIssue): string {
  const parts = [file ?? "<policy>"];
  if (issue.path !== "") parts.push(issue.path);
  const where =
    issue.line !== undefined
      ? ` (line ${issue.line}${issue.column !== undefined ? `, column ${issue.column}` : ""})`
      : "";
  parts.push(issue.message + where);
  return parts.join(": ");
}

export class PolicyError extends Error {
  override name = "PolicyError";
  readonly code: PolicyErrorCode;
  readonly file: string | undefined;
  readonly issues: readonly PolicyIssue[];

  constructor(code: PolicyErrorCode, summary: string, options: PolicyErrorOptions = {}) {
    const issues = options.issues ?? [{ path: "", message: summary }];
    super(issues.map((i) => formatPolicyIssue(options.file, i)).join("\n"), { cause: options.cause });
    this.code = code;
    this.file = options.file;
    this.issues = issues;
  }
}
