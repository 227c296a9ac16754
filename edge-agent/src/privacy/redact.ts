// Redaction of personal data before anything leaves the device. Built-in kinds are found by a
// pattern and then checked (Luhn for card numbers, ISO 7064 mod-97 for IBANs, node:net for IP
// addresses) so that look-alikes — order numbers, dates, versions — stay as they are.
import { isIPv4, isIPv6 } from "node:net";

// ── kinds ──
export const BUILTIN_REDACT_KINDS = ["email", "phone", "card", "iban", "ip"] as const;
export type BuiltinRedactKind = (typeof BUILTIN_REDACT_KINDS)[number];

/** Applied in this order: the most specific shapes first, so a card is never counted as a phone. */
const KIND_ORDER: readonly BuiltinRedactKind[] = ["email", "iban", "card", "ip", "phone"];

export const MIN_CARD_DIGITS = 13;
export const MAX_CARD_DIGITS = 19;
export const MIN_IBAN_CHARS = 15;
export const MAX_IBAN_CHARS = 34;
export const MIN_PHONE_DIGITS = 7;
export const MAX_PHONE_DIGITS = 15;
/** Phone numbers without a leading `+` or separators need at least this many digits. */
export const MIN_BARE_PHONE_DIGITS = 10;

export type CustomRedactPattern = { name: string; pattern: string; flags?: string };
export type RedactOptions = {
  kinds: readonly BuiltinRedactKind[];
  customPatterns?: readonly CustomRedactPattern[];
};
export type RedactCounts = Record<string, number>;
export type RedactResult = { text: string; counts: RedactCounts; total: number };

export function placeholderFor(kind: string): string {
  return `[REDACTED:${kind}]`;
}

// ── checks ──
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

export function ibanValid(raw: string): boolean {
  const iban = raw.replace(/ /g, "").toUpperCase();
  if (iban.length < MIN_IBAN_CHARS || iban.length > MAX_IBAN_CHARS) return false;
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]+$/.test(iban)) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let rem = 0;
  for (const ch of rearranged) {
    const code = ch.charCodeAt(0);
    const value = code >= 65 ? String(code - 55) : ch;
    for (const digit of value) rem = (rem * 10 + (digit.charCodeAt(0) - 48)) % 97;
  }
  return rem === 1;
}

function digitsOf(s: string): string {
  return s.replace(/\D/g, "");
}

const DATE_LIKE = [/^\d{4}[-./]\d{1,2}[-./]\d{1,2}$/, /^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$/];

function phoneValid(candidate: string): boolean {
  const digits = digitsOf(candidate);
  if (digits.length < MIN_PHONE_DIGITS || digits.length > MAX_PHONE_DIGITS) return false;
  const trimmed = candidate.trim();
  if (DATE_LIKE.some((re) => re.test(trimmed))) return false;
  if (trimmed.startsWith("+")) return true;
  const hasSeparators = /[ .()-]/.test(trimmed);
  if (!hasSeparators) return digits.length >= MIN_BARE_PHONE_DIGITS;
  // Decimal numbers such as 1234.5678 are not phones: a dot-separated phone has 3+ groups.
  if (/^\d+\.\d+$/.test(trimmed)) return false;
  return true;
}

// ── detectors: a global candidate pattern plus a check ──
type Detector = {
  pattern: RegExp;
  valid: (match: string) => boolean;
  /** Also try shorter prefixes, cut at spaces, when the whole match fails the check. */
  shrink?: boolean;
};

const DETECTORS: Record<BuiltinRedactKind, Detector> = {
  email: {
    pattern: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g,
    valid: () => true,
  },
  iban: {
    pattern:
      /(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?:[A-Za-z0-9]{11,30}|(?: [A-Za-z0-9]{4}){2,7}(?: [A-Za-z0-9]{1,4})?)(?![A-Za-z0-9])/g,
    valid: ibanValid,
    shrink: true,
  },
  card: {
    // 4-4-4-4(-3) groups, Amex 4-6-5, or 13–19 bare digits.
    pattern:
      /(?<![\d-])(?:\d{4}[ -]){3}\d{1,7}(?![\d])|(?<!\d)\d{4}[ -]\d{6}[ -]\d{5}(?!\d)|(?<!\d)\d{13,19}(?!\d)/g,
    valid: (m) => {
      const digits = digitsOf(m);
      return digits.length >= MIN_CARD_DIGITS && digits.length <= MAX_CARD_DIGITS && luhnValid(digits);
    },
  },
  ip: {
    pattern:
      /(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.]*\d)|(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])/g,
    valid: (m) => isIPv4(m) || isIPv6(m),
  },
  phone: {
    pattern: /(?<![\w+])(?:\+|\()?\d[\d .()-]{5,}\d(?!\w)/g,
    valid: phoneValid,
  },
};

/** Length of the longest prefix of `match` that passes the check (0: none). */
function validPrefixEnd(match: string, detector: Detector): number {
  if (match.length === 0) return 0;
  if (detector.valid(match)) return match.length;
  if (!detector.shrink) return 0;
  for (let end = match.lastIndexOf(" "); end > 0; end = match.lastIndexOf(" ", end - 1)) {
    const prefix = match.slice(0, end).trimEnd();
    if (prefix.length > 0 && detector.valid(prefix)) return prefix.length;
  }
  return 0;
}

// ── redactor ──
export class Redactor {
  readonly #steps: { kind: string; detector: Detector }[];

  constructor(options: RedactOptions) {
    const enabled = new Set(options.kinds);
    this.#steps = KIND_ORDER.filter((k) => enabled.has(k)).map((kind) => ({
      kind,
      detector: DETECTORS[kind],
    }));
    for (const custom of options.customPatterns ?? []) {
      const flags = (custom.flags ?? "u").includes("g") ? (custom.flags ?? "g") : `${custom.flags ?? "u"}g`;
      this.#steps.push({
        kind: custom.name,
        detector: { pattern: new RegExp(custom.pattern, flags), valid: () => true },
      });
    }
  }

  redact(text: string): RedactResult {
    const counts: RedactCounts = {};
    let total = 0;
    let out = text;
    for (const { kind, detector } of this.#steps) {
      detector.pattern.lastIndex = 0;
      out = out.replace(detector.pattern, (match: string) => {
        const end = validPrefixEnd(match, detector);
        if (end === 0) return match;
        counts[kind] = (counts[kind] ?? 0) + 1;
        total++;
        return placeholderFor(kind) + match.slice(end);
      });
    }
    return { text: out, counts, total };
  }
}

/** One-shot helper; hold a `Redactor` when redacting many texts with the same options. */
export function redact(text: string, options: RedactOptions): RedactResult {
  return new Redactor(options).redact(text);
}
