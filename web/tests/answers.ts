// Requests the test answers one by one (jsdom has no gateway): the order the answers arrive in is
// the test's choice, which a browser test cannot make. Import this before any module of src/:
// the API client reads fetch when it loads.
import { expect } from "vitest";
import { flushPromises } from "@vue/test-utils";

export const pending: { url: URL; request: Request; answer: (status: number, body: unknown) => void }[] = [];
globalThis.fetch = ((input: Request) => new Promise<Response>((resolve) => {
  pending.push({ url: new URL(input.url), request: input, answer: (status, body) => resolve(new Response(JSON.stringify(body), {
    status, headers: { "Content-Type": status < 400 ? "application/json" : "application/problem+json" } })) });
})) as typeof fetch;
// The app calls its own origin with relative paths; jsdom's page is http://localhost:3000/.
const NodeRequest = globalThis.Request;
globalThis.Request = class extends NodeRequest {
  constructor(input: RequestInfo | URL, init?: RequestInit) {
    super(typeof input === "string" ? new URL(input, "http://localhost:3000") : input, init);
  }
} as typeof Request;

/** Answers the oldest waiting request whose path (and window_id, when given) match. */
export async function answer(path: string, body: unknown, windowId?: string, status = 200) {
  await flushPromises();
  const i = pending.findIndex((p) => p.url.pathname === path
    && (windowId === undefined || p.url.searchParams.get("window_id") === windowId));
  expect(i, `a waiting request for ${path} ${windowId ?? ""}`).toBeGreaterThanOrEqual(0);
  pending.splice(i, 1)[0].answer(status, body);
  await flushPromises();
}
