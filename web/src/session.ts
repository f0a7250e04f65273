// The signed-in session, kept in localStorage so a reload stays signed in.
import { reactive } from "vue";
import type { components } from "./api/schema";

type Me = components["schemas"]["MeOut"];
const KEY = "qi.session";

interface State {
  access_token: string | null;
  refresh_token: string | null;
  user: Me | null;
}

function load(): State {
  try {
    const saved = JSON.parse(localStorage.getItem(KEY) || "null");
    if (saved && saved.access_token) return saved;
  } catch {
    /* a damaged entry is the same as none */
  }
  return { access_token: null, refresh_token: null, user: null };
}

const state = reactive<State>(load());

export const session = {
  state,
  get role(): string | null {
    return state.user?.role ?? null;
  },
  is(...roles: string[]): boolean {
    return !!state.user && roles.includes(state.user.role as string);
  },
  /** A claim of the access token (read, not verified: the API verifies it on every call). */
  claim(name: string): unknown {
    try {
      const part = (state.access_token || "").split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part))[name];
    } catch {
      return undefined;
    }
  },
  save(tokens: { access_token?: string; refresh_token?: string; user?: Me }) {
    if (tokens.access_token) state.access_token = tokens.access_token;
    if (tokens.refresh_token) state.refresh_token = tokens.refresh_token;
    if (tokens.user) state.user = tokens.user;
    localStorage.setItem(KEY, JSON.stringify(state));
  },
  clear() {
    state.access_token = state.refresh_token = null;
    state.user = null;
    localStorage.removeItem(KEY);
  },
};
