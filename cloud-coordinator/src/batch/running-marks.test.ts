import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RunningMarks } from "./running-marks.ts";

describe("RunningMarks", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const marks = (): RunningMarks => new RunningMarks(20, () => Date.now());

  it("marks a job still registered after the delay, once", () => {
    const m = marks();
    const mark = vi.fn();
    m.add(mark);
    vi.advanceTimersByTime(19);
    expect(mark).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(mark).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(100);
    expect(mark).toHaveBeenCalledTimes(1);
    expect(m.pending).toBe(0);
  });

  it("never marks a job cancelled before the delay", () => {
    const m = marks();
    const mark = vi.fn();
    const cancel = m.add(mark);
    vi.advanceTimersByTime(10);
    cancel();
    vi.advanceTimersByTime(100);
    expect(mark).not.toHaveBeenCalled();
  });

  it("marks each of many overlapping jobs at its own time, with one timer", () => {
    const m = marks();
    const calls: string[] = [];
    m.add(() => calls.push("a"));
    vi.advanceTimersByTime(5);
    const cancelB = m.add(() => calls.push("b"));
    vi.advanceTimersByTime(5);
    m.add(() => calls.push("c"));
    expect(vi.getTimerCount()).toBe(1);
    cancelB();
    vi.advanceTimersByTime(10); // t = 20: a is due
    expect(calls).toEqual(["a"]);
    vi.advanceTimersByTime(9); // t = 29: c is not
    expect(calls).toEqual(["a"]);
    vi.advanceTimersByTime(1); // t = 30
    expect(calls).toEqual(["a", "c"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("keeps marking the others when one mark throws", () => {
    const m = marks();
    const after = vi.fn();
    m.add(() => {
      throw new Error("redis down");
    });
    m.add(after);
    vi.advanceTimersByTime(20);
    expect(after).toHaveBeenCalledTimes(1);
  });

  it("drops pending marks on close", () => {
    const m = marks();
    const mark = vi.fn();
    m.add(mark);
    m.close();
    vi.advanceTimersByTime(100);
    expect(mark).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });
});
