// The signed-in session: the pasted token, kept in sessionStorage (this tab
// only, gone when it closes), and who the API says the caller is.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { ViewerQuery } from "./generated/graphql.js";

const STORAGE_KEY = "saldo.token";

export type Role = "SYSADMIN" | "MANDATE_ADMIN" | "USER" | "SERVICE";

export interface Session {
  token: string;
  viewer: ViewerQuery["viewer"];
  /** When the token stops working (its exp claim), if it says. */
  expiresAt: Date | null;
  signOut(message?: string): void;
}

export const storedToken = () => sessionStorage.getItem(STORAGE_KEY);
export const storeToken = (token: string) => sessionStorage.setItem(STORAGE_KEY, token);
export const forgetToken = () => sessionStorage.removeItem(STORAGE_KEY);

/**
 * The token's exp claim, read without verifying (the server verifies; the
 * UI only uses it to say when the session ends).
 */
export function tokenExpiry(token: string): Date | null {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof payload.exp === "number" ? new Date(payload.exp * 1000) : null;
  } catch {
    return null;
  }
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in page");
  return session;
}

export const hasRole = (session: Session, role: Role) => session.viewer.roles.includes(role);
export const isSysadmin = (session: Session) => hasRole(session, "SYSADMIN");
/** May administer the mandate: a system admin, or a mandate admin who belongs to it. */
export const administers = (session: Session, mandateId: string) =>
  isSysadmin(session) || (hasRole(session, "MANDATE_ADMIN") && session.viewer.mandateIds.includes(mandateId));
export const isAdmin = (session: Session) => isSysadmin(session) || hasRole(session, "MANDATE_ADMIN");
