// "Report this" on a failed call: the support page with the request id the client sent.
import { describe, it, expect, afterEach } from "vitest";
import { mount, RouterLinkStub } from "@vue/test-utils";
import ElementPlus from "element-plus";
import { i18n, setLocale } from "../src/i18n";
import { ApiError } from "../src/api/client";
import { session } from "../src/session";
import ProblemAlert from "../src/components/ProblemAlert.vue";

const global = { plugins: [i18n, ElementPlus], stubs: { RouterLink: RouterLinkStub } };
afterEach(() => session.clear());

describe("ProblemAlert report link", () => {
  it("links a signed-in user to support with the request id and the code", () => {
    setLocale("zh-CN");
    session.save({ access_token: "x", user: { id: "u1", username: "ent-demo", role: "enterprise" } as any });
    const error = new ApiError({ code: "instrument_not_found", title: "资源不存在 / Not found" } as any, 404, "req-123");
    const wrapper = mount(ProblemAlert, { props: { error }, global });
    expect(wrapper.get("[data-test=request-id]").text()).toContain("req-123");
    const link = wrapper.findAllComponents(RouterLinkStub).find((l) => (l.props().to as any)?.path === "/support");
    expect((link!.props().to as any).query).toMatchObject({ request_id: "req-123", code: "instrument_not_found" });
    expect(link!.text()).toBe("报告此问题");
  });
  it("offers no report to a visitor (support needs an account)", () => {
    const error = new ApiError({ code: "x", title: "t" } as any, 500, "req-1");
    expect(mount(ProblemAlert, { props: { error }, global }).find("[data-test=report-this]").exists()).toBe(false);
  });
});
