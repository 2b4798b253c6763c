/**
 * The OpenAPI 3.1 document of the edge functions (issue 18, item 6):
 * generated from the shared Zod schemas (openApiDocument()), checked in as
 * docs/openapi.json, served by the api-docs function. Fails when the
 * checked-in copy and the schemas drift (regenerate: UPDATE_OPENAPI=1 npx
 * vitest run tests/ai-product/openapi.test.ts), when a function has no path,
 * or when the document is not valid OpenAPI 3.1 (@seriousme/openapi-schema-validator,
 * the JSON Schemas of the OpenAPI Initiative, https://spec.openapis.org/oas/3.1/schema).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import path from 'node:path';
import { AiChatRequest, openApiDocument } from '@chat-with-me/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFunctions, type TestFunctions } from '../helpers/functions.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const FILE = path.join(ROOT, 'docs/openapi.json');
const generated = JSON.stringify(openApiDocument(), null, 2) + '\n';

if (process.env.UPDATE_OPENAPI === '1') writeFileSync(FILE, generated);

describe('the OpenAPI document', () => {
  it('the checked-in docs/openapi.json is what the shared schemas generate (no drift)', () => {
    expect(readFileSync(FILE, 'utf8')).toBe(generated);
  });

  it('is valid OpenAPI 3.1', async () => {
    const result = await new Validator().validate(JSON.parse(generated));
    expect(result.errors ?? [], JSON.stringify(result.errors)?.slice(0, 2000)).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('the validator refuses a broken document (the check can fail)', async () => {
    const broken = JSON.parse(generated);
    delete broken.info;
    const result = await new Validator().validate(broken);
    expect(result.valid).toBe(false);
  });

  it('covers every function', () => {
    const doc = JSON.parse(generated);
    const fns = readdirSync(path.join(ROOT, 'supabase/functions'), { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith('_')).map((d) => d.name);
    const covered = new Set(Object.keys(doc.paths).map((p) => p.split('/')[1]));
    expect(fns.filter((f) => !covered.has(f))).toEqual([]);
  });

  it('describes the request as the schemas read it (ai-chat)', () => {
    const doc = JSON.parse(generated);
    const req = doc.components.schemas.AiChatRequest;
    expect(req.required).toEqual(['chat_id']);
    expect(Object.keys(req.properties).sort()).toEqual(Object.keys(AiChatRequest.shape).sort());
    expect(req.additionalProperties).toBe(false);
    expect(req.properties.on_disconnect.enum).toEqual(['finish', 'stop']);
    expect(doc.paths['/ai-chat'].post.responses['200'].content['text/event-stream']['x-sse-events']).toEqual({
      start: { $ref: '#/components/schemas/AiChatStart' },
      delta: { $ref: '#/components/schemas/AiChatDelta' },
      done: { $ref: '#/components/schemas/AiChatResult' },
      error: { $ref: '#/components/schemas/ErrorBody' },
    });
  });
});

describe('the api-docs function', () => {
  let fns: TestFunctions;
  beforeAll(async () => {
    fns = await startTestFunctions({ only: ['api-docs'], env: {} });
  });
  afterAll(() => fns?.stop());

  it('serves the same document, to anyone', async () => {
    const res = await fetch(`${fns.url}/api-docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(JSON.stringify(await res.json(), null, 2) + '\n').toBe(generated);
    const post = await fetch(`${fns.url}/api-docs`, { method: 'POST' });
    expect(post.status).toBe(405);
  });
});
