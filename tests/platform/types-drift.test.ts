/**
 * The committed Database types (packages/shared/src/database.types.ts) must be
 * exactly what `npm run gen:types` writes for the migrated test database (its
 * header, then what `supabase gen types typescript --schema public --schema
 * private` prints). On failure run `npm run gen:types` and commit.
 */
import { readFile } from 'node:fs/promises';
import { expect, inject, it } from 'vitest';
import { TYPES_FILE, generateTypes } from '../../stack/gen-types.mjs';

it('generated Database types match the migrations', async () => {
  const generated = await generateTypes(inject('dbUrl'));
  expect(generated.length).toBeGreaterThan(1000);
  expect(generated).toContain('"messages": {');
  const committed = await readFile(TYPES_FILE, 'utf8');
  expect(committed, 'packages/shared/src/database.types.ts is stale: run `npm run gen:types`').toBe(generated);
});
