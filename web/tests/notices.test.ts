// The Notices menu item's unread count (src/notices.ts) against answers the test releases.
import { describe, it, expect, beforeEach } from "vitest";
import { flushPromises } from "@vue/test-utils";

import { answer, pending } from "./answers";   // first: it installs fetch before the client loads
import { session } from "../src/session";
import { refreshUnread, unreadNotices } from "../src/notices";

const OPERATOR = { id: "op-1", user_id: "op-1", role: "operator" } as any;
const PERSON = { id: "p-1", user_id: "p-1", role: "person" } as any;
/** Answers the booking notifications request sent with this user's token. */
async function answerFor(user: any, body: unknown) {
  await flushPromises();
  const i = pending.findIndex((p) => p.url.pathname === "/api/v1/booking-notifications"
    && p.request.headers.get("Authorization") === "Bearer t-" + user.id);
  expect(i, "the request of " + user.id).toBeGreaterThanOrEqual(0);
  pending.splice(i, 1)[0].answer(200, body);
  await flushPromises();
}
const signIn = (user: any) => session.save({ access_token: "t-" + user.id, refresh_token: "r", user });

beforeEach(() => {
  pending.length = 0;
  session.clear();
  unreadNotices.value = 0;
});

describe("unread notices count", () => {
  it("adds staff's unread escalation notices to the booking notifications, asking for unread ones only", async () => {
    signIn(OPERATOR);
    const done = refreshUnread(true);
    await flushPromises();
    expect(pending.map((p) => p.url.searchParams.get("unread"))).toEqual(["true", "true"]);
    await answer("/api/v1/booking-notifications", [{ id: "n-1" }, { id: "n-2" }]);
    await answer("/api/v1/escalation-notices", { items: [{ id: "e-1" }] });
    await done;
    expect(unreadNotices.value).toBe(3);
    refreshUnread();                       // a navigation right after: no new reads
    await flushPromises();
    expect(pending).toHaveLength(0);
  });

  it("asks customers for booking notifications only, drops the previous user's late count, and is 0 signed out", async () => {
    signIn(OPERATOR);
    const first = refreshUnread(true);
    signIn(PERSON);
    const second = refreshUnread(true);
    await flushPromises();
    expect(pending.filter((p) => p.url.pathname === "/api/v1/escalation-notices")).toHaveLength(1);   // the operator's only
    await answerFor(PERSON, []);                                        // the person's first,
    await second;
    await answerFor(OPERATOR, [{ id: "mine" }]);                        // then the operator's, late
    await answer("/api/v1/escalation-notices", { items: [{ id: "e-1" }, { id: "e-2" }] });
    await first;
    expect(unreadNotices.value).toBe(0);
    signIn(PERSON);
    const third = refreshUnread(true);
    await answer("/api/v1/booking-notifications", [{ id: "n-1" }]);
    await third;
    expect(unreadNotices.value).toBe(1);
    session.clear();
    await refreshUnread();
    expect(unreadNotices.value).toBe(0);
  });
});
