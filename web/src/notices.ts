// The unread count on the Notices menu item: booking notifications plus, for platform staff,
// escalation notices — the lists NoticesPage shows, read with unread=true. Read again when the
// signed-in user changes, on a navigation at most every 30 s (an offer can arrive at any time),
// and at once when NoticesPage has loaded or marked one read.
import { ref } from "vue";
import { bookingApi } from "./booking/api";
import { session } from "./session";

/** Escalation notices are for platform staff (feedback contract: STAFF_ROLES). */
export const readsEscalations = () => session.is("window", "operator", "regulator", "admin");

export const unreadNotices = ref(0);
const EVERY_MS = 30_000;
let readAt = 0;
let asked = 0;   // a late answer for an earlier question (e.g. of the previous user) is dropped

export async function refreshUnread(force = false): Promise<void> {
  if (!session.state.user) {
    asked++;
    unreadNotices.value = 0;
    return;
  }
  if (!force && Date.now() - readAt < EVERY_MS) return;
  readAt = Date.now();
  const mine = ++asked;
  try {
    const [notes, escalations] = await Promise.all([
      bookingApi.get<any[]>("/api/v1/booking-notifications", { unread: true, limit: 200 }),
      readsEscalations() ? bookingApi.get<any>("/api/v1/escalation-notices", { unread: true, limit: 200 }) : { items: [] },
    ]);
    if (mine === asked) unreadNotices.value = notes.length + (escalations.items || []).length;
  } catch {
    // The badge is a hint: on a failed read it keeps its last count (the page shows the problem).
    readAt = 0;
  }
}
