// @tiergate/shared — public entry. Named exports grouped by feature; no `export *`.

// ── package ──
export const VERSION = "0.1.0";
