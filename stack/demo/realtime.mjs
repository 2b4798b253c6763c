/**
 * What each user's private Realtime channels carry. The local stack has no
 * Realtime server yet, so the demo cannot subscribe; it checks that the
 * database wrote the broadcasts (rows of `realtime.messages`, which the
 * Realtime server delivers) and reads them the way Realtime authorises a
 * private channel: in a transaction as role `authenticated` with the user's
 * JWT claims and `realtime.topic` set, so the SELECT policies on
 * realtime.messages decide who receives what
 * (https://supabase.com/docs/guides/realtime/authorization; Realtime's
 * lib/realtime/tenants/authorization.ex). This is the one place the demo uses
 * SQL (DB_URL), standing in for the Realtime server, read only.
 */
import postgres from 'postgres';

/** Claims of a JWT (already verified by whoever minted it). */
const claimsOf = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));

/** @param {string} dbUrl the stack's DB_URL (`postgres`, which may SET ROLE authenticated as Realtime's connection does) */
export function createRealtimeReader(dbUrl) {
  const sql = postgres(dbUrl, { max: 2, onnotice: () => {} });
  return {
    /**
     * The broadcasts `person` may receive on `topic` (event, payload), oldest first.
     * @param {{ token: () => Promise<string> }} person
     * @param {string} topic
     * @returns {Promise<{ event: string, payload: any }[]>}
     */
    async received(person, topic) {
      const claims = claimsOf(await person.token());
      return sql.begin(async (tx) => {
        await tx`set transaction read only`;
        await tx`select set_config('role', 'authenticated', true),
                        set_config('request.jwt.claims', ${JSON.stringify(claims)}, true),
                        set_config('request.jwt.claim.sub', ${claims.sub}, true),
                        set_config('request.jwt.claim.role', 'authenticated', true),
                        set_config('realtime.topic', ${topic}, true)`;
        return tx`select event, payload from realtime.messages
                  where topic = ${topic} and extension = 'broadcast' order by inserted_at, id`;
      });
    },
    end: () => sql.end({ timeout: 5 }),
  };
}
