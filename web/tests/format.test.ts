// The value formats every page uses: times in Asia/Shanghai, money from its string form,
// problem+json field errors mapped to form fields in the chosen language.
import { describe, it, expect, beforeEach } from "vitest";
import { formatTime, formatMoney, fieldErrors, problemText, pickLanguage } from "../src/format";
import { setLocale } from "../src/i18n";
import { levelRank } from "../src/levels";

beforeEach(() => setLocale("zh-CN"));

describe("formatTime", () => {
  it("shows a UTC instant in Beijing time, across midnight, whatever the machine's zone", () => {
    expect(new Date("2026-12-01T16:30:00Z").getTimezoneOffset()).not.toBe(-480);   // not run in Shanghai
    expect(formatTime("2026-12-01T16:30:00Z")).toBe("2026/12/02 00:30");
    expect(formatTime("2026-12-01T16:30:00+00:00", false)).toBe("2026/12/02");
    setLocale("en");
    expect(formatTime("2026-12-31T23:59:00Z")).toBe("01/01/2027, 07:59");
  });
  it("leaves missing and unreadable values visible", () => {
    expect(formatTime(null)).toBe("—");
    expect(formatTime("not a time")).toBe("not a time");
  });
});

describe("formatMoney", () => {
  it("groups the yuan and keeps the fen exactly as the API sent them", () => {
    expect(formatMoney("1200.00")).toBe("¥1,200.00");
    expect(formatMoney("1200.50")).toBe("¥1,200.50");
    expect(formatMoney("12345678901234.10")).toBe("¥12,345,678,901,234.10");   // beyond float precision
    expect(formatMoney("0.10")).toBe("¥0.10");
    expect(formatMoney("650")).toBe("¥650");
  });
  it("takes the older number form and shows nothing for no value", () => {
    expect(formatMoney(650)).toBe("¥650");
    expect(formatMoney(0.1 + 0.2)).toBe("¥0.30");
    expect(formatMoney(null)).toBe("—");
    expect(formatMoney("")).toBe("—");
  });
});

describe("fieldErrors", () => {
  const problem = {
    code: "validation_error", title: "输入有误 / Invalid input",
    errors: {
      username: ["必填 / Missing data for required field."],
      qualification: { number: ["格式不正确 / Not a valid number"] },
      capabilities: { "0": { price: ["须为金额 / Not a valid amount"] } },
      phone: "手机号格式不正确 / Not a valid mobile number",
    },
  };
  it("flattens nested errors to the form's field paths, in Chinese by default", () => {
    expect(fieldErrors(problem as any)).toEqual({
      username: "必填",
      "qualification.number": "格式不正确",
      "capabilities.0.price": "须为金额",
      phone: "手机号格式不正确",
    });
  });
  it("gives the English half once English is chosen", () => {
    setLocale("en");
    expect(fieldErrors(problem as any).username).toBe("Missing data for required field.");
    expect(problemText({ code: "x", title: "输入有误 / Invalid input", title_en: "Invalid input" } as any)).toBe("Invalid input");
  });
  it("is empty without a problem or without errors", () => {
    expect(fieldErrors(null)).toEqual({});
    expect(fieldErrors({ code: "not_found", title: "x" } as any)).toEqual({});
  });
  it("keeps a text that is in one language only", () => {
    expect(pickLanguage("GB/T 19001-2016")).toBe("GB/T 19001-2016");
  });
});

describe("levelRank", () => {
  it("orders the verification levels weakest first", () => {
    const ranks = ["format_checked", "phone_verified", "licence_reviewed", "externally_verified"].map(levelRank);
    expect(ranks).toEqual([0, 1, 2, 3]);
    expect(levelRank(undefined)).toBe(-1);
  });
});
