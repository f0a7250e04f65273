// Components in jsdom with the app's own i18n and Element Plus.
import { describe, it, expect, beforeEach } from "vitest";
import { mount, RouterLinkStub } from "@vue/test-utils";
import ElementPlus from "element-plus";
import { nextTick } from "vue";
import { i18n, setLocale, LOCALE_KEY } from "../src/i18n";
import { ApiError } from "../src/api/client";
import ProblemAlert from "../src/components/ProblemAlert.vue";
import ClockDue from "../src/components/ClockDue.vue";

const global = { plugins: [i18n, ElementPlus], stubs: { RouterLink: RouterLinkStub } };

beforeEach(() => setLocale("zh-CN"));

describe("language switch", () => {
  it("switches every string, remembers the choice and sets the page language", async () => {
    const problem = new ApiError({ code: "not_found", title: "未找到 / Not found", title_zh: "未找到", title_en: "Not found" } as any, 404);
    const wrapper = mount(ProblemAlert, { props: { error: problem }, global });
    expect(wrapper.text()).toContain("未找到");
    setLocale("en");
    await nextTick();
    expect(wrapper.text()).toContain("Not found");
    expect(wrapper.text()).not.toContain("未找到");
    expect(localStorage.getItem(LOCALE_KEY)).toBe("en");
    expect(document.documentElement.lang).toBe("en");
  });
  it("has every key in both languages", () => {
    const keys = (o: any, p = ""): string[] => Object.entries(o).flatMap(([k, v]) =>
      v && typeof v === "object" ? keys(v, p + k + ".") : [p + k]);
    const messages = i18n.global.messages.value as any;
    expect(keys(messages.en).sort()).toEqual(keys(messages["zh-CN"]).sort());
  });
});

describe("ProblemAlert", () => {
  const refused = new ApiError({
    code: "verification_level_required", title: "认证等级不足 / Verification level too low",
    detail: "需要营业执照审核 / needs licence_reviewed", required_level: "licence_reviewed", current_level: "format_checked",
  } as any, 403);
  it("names both levels and links to the verification page", () => {
    const wrapper = mount(ProblemAlert, { props: { error: refused }, global });
    const needed = wrapper.get("[data-test=level-needed]");
    expect(needed.text()).toContain("营业执照已审核");
    expect(needed.text()).toContain("证件格式已校验");
    expect(wrapper.getComponent(RouterLinkStub).props().to).toBe("/verification");
  });
  it("shows no verification link for other problems, and nothing without one", () => {
    const other = new ApiError({ code: "forbidden", title: "无权限 / Forbidden" } as any, 403);
    expect(mount(ProblemAlert, { props: { error: other }, global }).find("[data-test=level-needed]").exists()).toBe(false);
    expect(mount(ProblemAlert, { props: { error: null }, global }).find("[data-test=problem]").exists()).toBe(false);
  });
});

describe("ClockDue", () => {
  it("shows the due time in Beijing time and marks an overdue clock", () => {
    const wrapper = mount(ClockDue, { global, props: { clock: {
      state: "running", overdue: true, due_at: "2026-12-03T09:00:00Z", rule: "identity.licence_review",
      description_zh: "营业执照审核", limit_working_days: 3 } } });
    expect(wrapper.get("[data-test=due]").text()).toBe("应完成时间: 2026/12/03 17:00");
    expect(wrapper.text()).toContain("已超时");
    expect(wrapper.text()).toContain("3 个工作日");
  });
  it("says when the due date waits for the holiday calendar", () => {
    const wrapper = mount(ClockDue, { global, props: { clock: { state: "running", calendar_gap: true, due_at: null, rule: "r" } } });
    expect(wrapper.find("[data-test=due]").exists()).toBe(false);
    expect(wrapper.find("[data-test=gap]").exists()).toBe(true);
  });
});
