// @tiergate/shared/internal — what tests and sibling packages need beyond the public entry.
export {};
