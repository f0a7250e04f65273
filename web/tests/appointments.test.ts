// The window appointments page against answers the test releases one by one (tests/answers.ts;
// the real page runs against the platform in tests/e2e/test_web_booking.py).
import { describe, it, expect, beforeEach } from "vitest";
import { mount, flushPromises, RouterLinkStub } from "@vue/test-utils";
import ElementPlus, { ElSelect } from "element-plus";

import { answer, pending } from "./answers";   // first: it installs fetch before the client loads
import { i18n, setLocale } from "../src/i18n";
import { session } from "../src/session";
import BookingAppointmentsPage from "../src/views/BookingAppointmentsPage.vue";

const global = { plugins: [i18n, ElementPlus], stubs: { RouterLink: RouterLinkStub } };
const WINDOWS = [{ window_id: "iw-tzzj", name: "检验所服务窗口" }, { window_id: "demo-window-1", name: "医药高新区服务站" }];
const slot = (id: string, window_id: string) => ({ id, window_id, starts_at: "2026-12-04T01:00:00Z",
  ends_at: "2026-12-04T01:30:00Z", capacity: 3, taken: 0, free: 3, service_items: ["tst.matching"] });
const APPOINTMENT = { id: "a-1", window_id: "demo-window-1", service_item: "tst.matching", status: "booked",
  starts_at: "2026-12-04T01:00:00Z" };

const choose = async (wrapper: ReturnType<typeof mount>, windowId: string) => {
  const select = wrapper.findComponent(ElSelect);
  select.vm.$emit("update:modelValue", windowId);
  select.vm.$emit("change", windowId);
  await flushPromises();
};
const bookButtons = (wrapper: ReturnType<typeof mount>) => wrapper.findAll("[data-test=book-appointment]");

beforeEach(() => {
  setLocale("zh-CN");
  pending.length = 0;
});

describe("window appointments page", () => {
  it("offers no slot of the previous window while the chosen one's load, and drops a late answer", async () => {
    session.save({ access_token: "t", refresh_token: "r", user: { user_id: "ent", role: "enterprise" } as any });
    const wrapper = mount(BookingAppointmentsPage, { global });
    await answer("/api/v1/windows", WINDOWS);
    await answer("/api/v1/appointment-slots", [slot("s-lab", "iw-tzzj")], "iw-tzzj");     // the first window's
    expect(pending.find((p) => p.url.pathname === "/api/v1/appointments")?.url.searchParams.has("from")).toBe(false);
    await answer("/api/v1/appointments", []);                                            // their own, latest first
    expect(bookButtons(wrapper)).toHaveLength(1);

    await choose(wrapper, "demo-window-1");
    // The station's slots are still on their way: the lab window's must not be offered meanwhile
    // (a click there booked the lab window, and the station's staff found their list empty).
    expect(bookButtons(wrapper)).toHaveLength(0);
    await choose(wrapper, "iw-tzzj");
    await choose(wrapper, "demo-window-1");
    await answer("/api/v1/appointment-slots", [slot("s-station", "demo-window-1")], "demo-window-1");
    await answer("/api/v1/appointment-slots", [slot("s-lab", "iw-tzzj")], "iw-tzzj");   // late, for a window left
    expect(bookButtons(wrapper)).toHaveLength(1);

    await bookButtons(wrapper)[0].trigger("click");
    await flushPromises();
    const post = pending.find((p) => p.url.pathname === "/api/v1/appointments" && p.request.method === "POST");
    expect(post, "the booking request").toBeDefined();
    expect((await post!.request.json()).slot_id).toBe("s-station");
    wrapper.unmount();
  });

  it("shows window staff their appointments when the slots cannot be read", async () => {
    session.save({ access_token: "t", refresh_token: "r",
      user: { user_id: "w1", role: "window", window_id: "demo-window-1" } as any });
    const wrapper = mount(BookingAppointmentsPage, { global });
    await answer("/api/v1/windows", WINDOWS);
    await answer("/api/v1/appointment-slots", { code: "upstream_timeout", title: "超时 / Timed out" },
      "demo-window-1", 504);
    // Today's and later, soonest first: today is Beijing's, whatever the browser's zone.
    const asked = pending.find((p) => p.url.pathname === "/api/v1/appointments");
    expect(asked?.url.searchParams.get("from")).toBe(new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai" }).format(new Date()));
    await answer("/api/v1/appointments", [APPOINTMENT]);
    expect(wrapper.findAll("[data-test=my-appointments] .el-table__row")).toHaveLength(1);
    expect(wrapper.find("[data-test=problem]").exists()).toBe(true);
    wrapper.unmount();
  });
});
