// zh-CN by default; the choice is remembered in localStorage ("qi.locale").
import { createI18n } from "vue-i18n";
import zh from "./locales/zh-CN";
import en from "./locales/en";
import zhMore from "./locales/more.zh-CN";
import enMore from "./locales/more.en";

export const LOCALE_KEY = "qi.locale";
export type Locale = "zh-CN" | "en";

function initial(): Locale {
  const saved = localStorage.getItem(LOCALE_KEY);
  return saved === "en" ? "en" : "zh-CN";
}

export const i18n = createI18n({
  legacy: false,
  locale: initial(),
  fallbackLocale: "zh-CN",
  messages: { "zh-CN": { ...zh, ...zhMore }, en: { ...en, ...enMore } },
});

export function setLocale(locale: Locale) {
  i18n.global.locale.value = locale;
  localStorage.setItem(LOCALE_KEY, locale);
  document.documentElement.lang = locale;
}

export function currentLocale(): Locale {
  return i18n.global.locale.value as Locale;
}
