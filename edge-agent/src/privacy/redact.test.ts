import { describe, expect, it } from "vitest";
import { BUILTIN_REDACT_KINDS, ibanValid, luhnValid, placeholderFor, redact, Redactor } from "./redact.ts";

const ALL = { kinds: BUILTIN_REDACT_KINDS };

describe("redact: personal data is replaced and counted by kind", () => {
  const cases: { name: string; input: string; expected: string; counts: Record<string, number> }[] = [
    {
      name: "email",
      input: "write to jane.doe+tag@mail.example.co.uk now",
      expected: `write to ${placeholderFor("email")} now`,
      counts: { email: 1 },
    },
    {
      name: "card with spaces (Luhn-valid Visa test number)",
      input: "my card is 4111 1111 1111 1111.",
      expected: `my card is ${placeholderFor("card")}.`,
      counts: { card: 1 },
    },
    {
      name: "card bare digits (Mastercard test number)",
      input: "pay with 5555555555554444",
      expected: `pay with ${placeholderFor("card")}`,
      counts: { card: 1 },
    },
    {
      name: "Amex 4-6-5 grouping",
      input: "amex 3782 822463 10005 ok",
      expected: `amex ${placeholderFor("card")} ok`,
      counts: { card: 1 },
    },
    {
      name: "IBAN grouped, followed by words",
      input: "IBAN DE89 3704 0044 0532 0130 00 please pay",
      expected: `IBAN ${placeholderFor("iban")} please pay`,
      counts: { iban: 1 },
    },
    {
      name: "IBAN compact (GB)",
      input: "to GB29NWBK60161331926819.",
      expected: `to ${placeholderFor("iban")}.`,
      counts: { iban: 1 },
    },
    {
      name: "IPv4",
      input: "server at 192.168.1.20.",
      expected: `server at ${placeholderFor("ip")}.`,
      counts: { ip: 1 },
    },
    {
      name: "IPv6 full and compressed",
      input: "hosts 2001:db8:85a3::8a2e:370:7334 and ::1 here",
      expected: `hosts ${placeholderFor("ip")} and ${placeholderFor("ip")} here`,
      counts: { ip: 2 },
    },
    {
      name: "international phone",
      input: "call +1 415-555-2671 today",
      expected: `call ${placeholderFor("phone")} today`,
      counts: { phone: 1 },
    },
    {
      name: "US phone with parentheses",
      input: "ring (415) 555-2671",
      expected: `ring ${placeholderFor("phone")}`,
      counts: { phone: 1 },
    },
    {
      name: "bare 10-digit phone",
      input: "number 4155552671",
      expected: `number ${placeholderFor("phone")}`,
      counts: { phone: 1 },
    },
    {
      name: "everything at once",
      input: "I am bob@example.com, +44 20 7946 0958, card 4111-1111-1111-1111",
      expected: `I am ${placeholderFor("email")}, ${placeholderFor("phone")}, card ${placeholderFor("card")}`,
      counts: { email: 1, phone: 1, card: 1 },
    },
  ];
  it.each(cases)("$name", ({ input, expected, counts }) => {
    const r = redact(input, ALL);
    expect(r.text).toBe(expected);
    expect(r.counts).toEqual(counts);
    expect(r.total).toBe(Object.values(counts).reduce((a, b) => a + b, 0));
  });
});

describe("redact: look-alikes are left alone", () => {
  const untouched = [
    ["16-digit number failing Luhn", "order 1234567812345678 shipped"],
    ["16-digit grouped number failing Luhn", "ref 1234 5678 1234 5678"],
    ["IBAN with a wrong check digit", "DE88 3704 0044 0532 0130 00"],
    ["ISO date", "due 2024-01-15 please"],
    ["European date", "on 15.01.2024"],
    ["clock time", "at 10:30:00 sharp"],
    ["version number", "upgrade to 1.2.3"],
    ["price", "costs 1234.56 dollars"],
    ["short number", "room 1234 or 56789"],
    ["out-of-range IPv4", "999.1.1.1 is not an address"],
    ["at-sign without domain", "ping me @ noon, a@b"],
    ["plain sentence", "what is my account balance"],
  ] as const;
  it.each(untouched)("%s", (_name, input) => {
    const r = redact(input, ALL);
    expect(r.text).toBe(input);
    expect(r.total).toBe(0);
  });
});

describe("redact: options", () => {
  it("only redacts the kinds it is given", () => {
    const r = redact("bob@example.com 4111111111111111", { kinds: ["card"] });
    expect(r.text).toBe(`bob@example.com ${placeholderFor("card")}`);
  });

  it("applies custom patterns by name, adding the g flag", () => {
    const redactor = new Redactor({
      kinds: [],
      customPatterns: [{ name: "employee-id", pattern: "EMP-\\d{6}", flags: "i" }],
    });
    const r = redactor.redact("badge emp-123456 and EMP-654321");
    expect(r.text).toBe(`badge ${placeholderFor("employee-id")} and ${placeholderFor("employee-id")}`);
    expect(r.counts).toEqual({ "employee-id": 2 });
    // A redactor is reusable: global regex state does not leak between calls.
    expect(redactor.redact("EMP-000001").total).toBe(1);
  });
});

describe("checksums", () => {
  it.each([
    ["4111111111111111", true],
    ["4111111111111112", false],
    ["79927398713", true],
    ["", false],
  ] as const)("luhn %s → %s", (digits, ok) => expect(luhnValid(digits)).toBe(ok));
  it.each([
    ["DE89370400440532013000", true],
    ["GB29 NWBK 6016 1331 9268 19", true],
    ["GB28 NWBK 6016 1331 9268 19", false],
    ["XX00", false],
  ] as const)("iban %s → %s", (iban, ok) => expect(ibanValid(iban)).toBe(ok));
});
