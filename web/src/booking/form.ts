// Shared pieces of the booking forms: an instrument picker's list, and a Beijing-time date plus
// "HH:MM" made into the ISO instant the API takes (the browser's own zone never enters).
import { ref } from "vue";
import { bookingApi } from "./api";

export const shanghaiDate = (d: Date) => new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(d);

/** "2026-12-07" + "09:00" -> "2026-12-07T09:00:00+08:00" (China has no daylight saving). */
export const beijingInstant = (date: string, time: string) => `${date}T${time}:00+08:00`;

/** The next working-week day (Mon..Fri) at least `days` ahead, as a Beijing date. */
export function weekdayAhead(days: number): string {
  const d = new Date(Date.now() + days * 86400000);
  for (;;) {
    const local = new Date(shanghaiDate(d) + "T12:00:00+08:00");
    const wd = local.getUTCDay();
    if (wd !== 0 && wd !== 6) return shanghaiDate(local);
    d.setTime(d.getTime() + 86400000);
  }
}

export function useInstruments(query: Record<string, unknown> = {}) {
  const instruments = ref<any[]>([]);
  const loadInstruments = async () => {
    const page = await bookingApi.get("/api/v1/instruments", { limit: 200, ...query });
    instruments.value = page.items || [];
  };
  return { instruments, loadInstruments };
}

/** Rule violations (the API's {rule, message}) in the chosen language. */
export const ruleText = (r: any, en: boolean) => (en ? r.message_en : r.message_zh) || r.message || r.rule;
