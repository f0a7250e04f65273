import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";
import { session } from "./session";

const STAFF = ["operator", "admin"];
// meta.roles: who may open the page (signed in with one of these roles); none = public.
const routes: RouteRecordRaw[] = [
  { path: "/", name: "home", component: () => import("./views/HomePage.vue") },
  { path: "/guides/:code", name: "guide", component: () => import("./views/GuidePage.vue") },
  { path: "/search", name: "search", component: () => import("./views/SearchPage.vue") },
  { path: "/institutions/:id", name: "institution", component: () => import("./views/InstitutionPage.vue") },
  { path: "/standards", name: "standards", component: () => import("./views/StandardsPage.vue") },
  { path: "/login", name: "login", component: () => import("./views/LoginPage.vue") },
  { path: "/register", name: "register", component: () => import("./views/RegisterPage.vue") },
  { path: "/me", name: "me", component: () => import("./views/MePage.vue"), meta: { roles: [] } },
  { path: "/verification", name: "verification", component: () => import("./views/VerificationPage.vue"),
    meta: { roles: ["enterprise", "person"] } },
  { path: "/licence-reviews", name: "licence-reviews", component: () => import("./views/LicenceReviewsPage.vue"),
    meta: { roles: ["regulator", ...STAFF] } },
  { path: "/demands", name: "demands", component: () => import("./views/DemandsPage.vue"),
    meta: { roles: ["enterprise", "window", ...STAFF] } },
  { path: "/demands/:id", name: "demand", component: () => import("./views/DemandPage.vue"),
    meta: { roles: ["enterprise", "window", "regulator", ...STAFF] } },
  { path: "/my-institution", name: "my-institution", component: () => import("./views/MyInstitutionPage.vue"),
    meta: { roles: ["institution", "enterprise", "person"] } },
  { path: "/apply", name: "apply", component: () => import("./views/ApplyPage.vue"),
    meta: { roles: ["institution", "enterprise", "person"] } },
  { path: "/visits", name: "visits", component: () => import("./views/VisitsPage.vue"),
    meta: { roles: ["window", "regulator", ...STAFF] } },
  { path: "/review", name: "review", component: () => import("./views/ReviewPage.vue"), meta: { roles: STAFF } },
  { path: "/sla", name: "sla", component: () => import("./views/SlaBoardPage.vue"),
    meta: { roles: ["regulator", ...STAFF] } },
  { path: "/accounts", name: "accounts", component: () => import("./views/AccountsPage.vue"),
    meta: { roles: ["regulator", ...STAFF] } },
  { path: "/instruments", name: "instruments", component: () => import("./views/BookingInstrumentsPage.vue") },
  { path: "/instruments/:id", name: "instrument", component: () => import("./views/BookingInstrumentPage.vue") },
  { path: "/appointments", name: "appointments", component: () => import("./views/BookingAppointmentsPage.vue") },
  { path: "/bookings", name: "bookings", component: () => import("./views/BookingListPage.vue"),
    meta: { roles: ["enterprise", "person", "institution", "regulator", ...STAFF] } },
  { path: "/booking-series", name: "booking-series", component: () => import("./views/BookingSeriesPage.vue"),
    meta: { roles: ["enterprise", "person", "institution"] } },
  { path: "/notices", name: "notices", component: () => import("./views/NoticesPage.vue"), meta: { roles: [] } },
  { path: "/trainings", name: "trainings", component: () => import("./views/TrainingsPage.vue") },
  { path: "/waitlist", name: "waitlist", component: () => import("./views/BookingWaitlistPage.vue"), meta: { roles: [] } },
  { path: "/calendar-feeds", name: "calendar-feeds", component: () => import("./views/BookingCalendarFeedsPage.vue"),
    meta: { roles: ["enterprise", "person", "institution", ...STAFF] } },
  { path: "/instruments/new", name: "instrument-new", component: () => import("./views/BookingInstrumentEditPage.vue"),
    meta: { roles: ["institution", ...STAFF] } },
  { path: "/instruments/:id/edit", name: "instrument-edit", component: () => import("./views/BookingInstrumentEditPage.vue"),
    meta: { roles: ["institution", ...STAFF] } },
  { path: "/supervision-rules", name: "supervision-rules", component: () => import("./views/FeedbackSupervisionPage.vue"),
    meta: { roles: ["regulator", ...STAFF] } },
  { path: "/callbacks", name: "callbacks", component: () => import("./views/FeedbackCallbacksPage.vue"),
    meta: { roles: ["regulator", ...STAFF] } },
  { path: "/support", name: "support", component: () => import("./views/FeedbackSupportPage.vue"), meta: { roles: [] } },
  { path: "/improvements", name: "improvements", component: () => import("./views/FeedbackImprovementsPage.vue") },
  { path: "/rectifications", name: "rectifications", component: () => import("./views/FeedbackRectificationsPage.vue"),
    meta: { roles: ["institution", "window", "regulator", ...STAFF] } },
  { path: "/reports/verify", name: "report-verify", component: () => import("./views/DeliveryVerifyPage.vue") },
  { path: "/samples", name: "samples", component: () => import("./views/DeliverySamplesPage.vue"),
    meta: { roles: ["enterprise", "window", "institution", "regulator", ...STAFF] } },
  { path: "/ledger", name: "ledger", component: () => import("./views/DeliveryLedgerPage.vue"),
    meta: { roles: ["enterprise", "regulator", ...STAFF] } },
  { path: "/statistics", name: "statistics", component: () => import("./views/FeedbackStatisticsPage.vue") },
  { path: "/evaluations", name: "evaluations", component: () => import("./views/FeedbackEvaluationsPage.vue"), meta: { roles: [] } },
  { path: "/complaints", name: "complaints", component: () => import("./views/FeedbackComplaintsPage.vue"), meta: { roles: [] } },
  { path: "/:pathMatch(.*)*", name: "not-found", component: () => import("./views/NotFoundPage.vue") },
];

export const router = createRouter({ history: createWebHistory(), routes });

router.beforeEach((to) => {
  const roles = to.meta.roles as string[] | undefined;
  if (roles === undefined) return true;
  if (!session.state.user) return { name: "login", query: { next: to.fullPath } };
  if (roles.length && !session.is(...roles)) return { name: "home" };
  return true;
});
