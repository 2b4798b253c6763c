/**
 * Which success/cancel URLs payments-checkout accepts. Pure: no I/O.
 *
 * admin_config `payments.allowed_redirect_urls` is a JSON array of origins
 * (`["https://app.example.com", "http://localhost:3000"]`; the database keeps
 * it a `url_array`: http(s) origins without a path). A redirect URL is allowed
 * when its origin (scheme, host and port) is exactly one of them; URLs with
 * credentials are refused. Why: Checkout sends the paying user to these URLs,
 * so an attacker-chosen one would make us an open redirect carrying our
 * session id (https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-success_url).
 */

/** The allowed origins of the admin_config value; null when it is not an array of http(s) origins. */
export function parseAllowList(value: unknown): Set<string> | null {
  if (!Array.isArray(value)) return null;
  const origins = new Set<string>();
  for (const entry of value) {
    if (typeof entry !== 'string') return null;
    let u: URL;
    try {
      u = new URL(entry);
    } catch {
      return null;
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
    origins.add(u.origin);
  }
  return origins;
}

/** True when `url` is an absolute http(s) URL without credentials whose origin is allowed. */
export function isAllowedRedirect(url: string, allowed: Set<string>): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password) return false;
  return allowed.has(u.origin);
}
