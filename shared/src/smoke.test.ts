import { describe, expect, it } from "vitest";
import { VERSION } from "@tiergate/shared";

describe("package entry", () => {
  it("exposes a semver version", () => {
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
