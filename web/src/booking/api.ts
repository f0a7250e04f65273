// The booking slice's calls over the typed client (paths come from the booking contract;
// `npm run gen:api` adds their types to schema.d.ts).
import { api, call } from "../api/client";

const client = api as any;
export const bookingApi = {
  get: <T = any>(path: string, query?: Record<string, unknown>) =>
    call<T>(client.GET(path, { params: { query } })),
  post: <T = any>(path: string, body: unknown = {}, idempotent = false) =>
    call<T>(client.POST(path, { body, headers: idempotent ? { "Idempotency-Key": crypto.randomUUID() } : {} })),
  put: <T = any>(path: string, body: unknown) => call<T>(client.PUT(path, { body })),
  del: <T = any>(path: string) => call<T>(client.DELETE(path, {})),
};

/** A slot state's colour. */
export const STATE_TYPE: Record<string, string> = { free: "success", held: "warning", booked: "danger", closed: "info" };
