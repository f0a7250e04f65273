// How values are shown: times in Asia/Shanghai, money from its string form, problems in
// the chosen language.
import { currentLocale } from "./i18n";
import type { Problem } from "./api/client";

const TZ = "Asia/Shanghai";

export function formatTime(value?: string | null, withTime = true): string {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  const options: Intl.DateTimeFormatOptions = { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" };
  if (withTime) Object.assign(options, { hour: "2-digit", minute: "2-digit", hour12: false });
  return new Intl.DateTimeFormat(currentLocale() === "en" ? "en-GB" : "zh-CN", options).format(date);
}

/** Money as the API gives it ("1200.00", or a number today): never through float arithmetic. */
export function formatMoney(value?: string | number | null): string {
  if (value === null || value === undefined || value === "") return "—";
  // Today some fields are still JSON numbers: whole yuan stay whole, others get their fen.
  const text = typeof value === "number" ? (Number.isInteger(value) ? String(value) : value.toFixed(2)) : value;
  const [whole, fraction] = text.split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `¥${grouped}${fraction !== undefined ? "." + fraction : ""}`;
}

const CJK = /[\u3400-\u9fff]/;

/** Picks the part of a bilingual "中文 / English" (or "English / 中文") text for the locale. */
export function pickLanguage(text?: string | null): string {
  if (!text) return "";
  const parts = text.split(" / ");
  if (parts.length < 2) return text;
  const zh = parts.filter((p) => CJK.test(p));
  const en = parts.filter((p) => !CJK.test(p));
  const chosen = currentLocale() === "en" ? en : zh;
  return (chosen.length ? chosen : parts).join(" / ");
}

export function problemTitle(problem: Problem): string {
  if (currentLocale() === "en") return problem.title_en || pickLanguage(problem.title);
  return problem.title_zh || pickLanguage(problem.title);
}

export function problemText(problem: Problem): string {
  const title = problemTitle(problem);
  const detail = pickLanguage(problem.detail);
  return detail && detail !== title ? `${title}: ${detail}` : title;
}

/** problem.errors flattened to {field: "message"} for el-form-item's error slot. */
export function fieldErrors(problem?: Problem | null): Record<string, string> {
  const out: Record<string, string> = {};
  const errors = (problem?.errors || {}) as Record<string, unknown>;
  const walk = (prefix: string, value: unknown) => {
    if (Array.isArray(value) && value.every((v) => typeof v === "string")) {
      out[prefix] = value.map((v) => pickLanguage(v as string)).join("; ");
    } else if (value && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) walk(prefix ? `${prefix}.${k}` : k, v);
    } else if (typeof value === "string") {
      out[prefix] = pickLanguage(value);
    }
  };
  walk("", errors);
  return out;
}
