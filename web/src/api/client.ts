// The typed API client: openapi-fetch over the generated `paths` (schema.d.ts).
// Every call goes to /api/v1 on the same origin; the session's access token is sent as
// a bearer token and refreshed once on 401 with the single-use refresh token.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths, components } from "./schema";
import { session } from "../session";
import { currentLocale } from "../i18n";

export type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];

export const api = createClient<paths>({ baseUrl: "" });

let refreshing: Promise<boolean> | null = null;
// Every call carries an X-Request-Id (the gateway logs it); a failed call keeps it, so "report this"
// can name the request to support.
const requestIds = new WeakMap<Response, string>();

/** A new access token now (e.g. once a verification level rose: the token carries the level). */
export function refreshSession(): Promise<boolean> {
  refreshing ??= refresh().finally(() => (refreshing = null));
  return refreshing;
}

async function refresh(): Promise<boolean> {
  const token = session.state.refresh_token;
  if (!token) return false;
  const response = await fetch("/api/v1/auth/refresh", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: token }),
  });
  if (!response.ok) {
    session.clear();
    return false;
  }
  session.save(await response.json());
  return true;
}

const auth: Middleware = {
  onRequest({ request }) {
    request.headers.set("Accept-Language", currentLocale() === "en" ? "en" : "zh-CN");
    if (!request.headers.has("X-Request-Id")) request.headers.set("X-Request-Id", newRequestId());
    if (session.state.access_token && !request.headers.has("Authorization")) {
      request.headers.set("Authorization", `Bearer ${session.state.access_token}`);
    }
    return request;
  },
  async onResponse({ request, response }) {
    const id = request.headers.get("X-Request-Id");
    if (id) requestIds.set(response, id);
    if (response.status !== 401 || !session.state.refresh_token || request.url.includes("/auth/")) return response;
    refreshing ??= refresh().finally(() => (refreshing = null));
    if (!(await refreshing)) return response;
    try {
      const retry = request.clone();
      retry.headers.set("Authorization", `Bearer ${session.state.access_token}`);
      const again = await fetch(retry);
      if (id) requestIds.set(again, id);
      return again;
    } catch {
      return response; // a body already sent cannot be replayed: the caller sees the 401
    }
  },
};
api.use(auth);

/** A failed call as the UI shows it: the problem+json body (or a stand-in for a network failure). */
function newRequestId(): string {
  return typeof crypto !== "undefined" && crypto.randomUUID ? crypto.randomUUID() : Math.random().toString(36).slice(2) + Date.now().toString(36);
}

export class ApiError extends Error {
  constructor(public problem: Problem, public status: number, public requestId: string | null = null) {
    super(problem.detail || problem.title || String(status));
  }
}

/** Unwraps an openapi-fetch result: the data, or throws ApiError with the problem. */
export async function call<T>(promise: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let result;
  try {
    result = await promise;
  } catch (exc) {
    throw new ApiError({ code: "network_error", title: "网络错误 / Network error", detail: String(exc) }, 0);
  }
  if (result.error !== undefined || !result.response.ok) {
    const problem = (result.error && typeof result.error === "object" ? result.error : {
      code: "http_" + result.response.status, title: result.response.statusText,
    }) as Problem;
    throw new ApiError(problem, result.response.status, requestIds.get(result.response) ?? null);
  }
  return result.data as T;
}
