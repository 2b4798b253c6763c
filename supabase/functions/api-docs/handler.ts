/**
 * api-docs: GET → the OpenAPI 3.1 document of the edge functions
 * (@chat-with-me/shared `openApiDocument()`, generated from the shared Zod
 * schemas; docs/openapi.json is the checked-in copy). Public (verify_jwt =
 * false): it describes the API and holds no secret. Built once per worker.
 */
import { openApiDocument } from '@chat-with-me/shared';
import { z } from 'zod';
import { defineFunction } from '../_shared/http.ts';

let document: string | null = null;

export const handler = defineFunction({ name: 'api-docs', methods: ['GET'], env: z.object({}) }, async () => {
  document ??= JSON.stringify(openApiDocument(), null, 2);
  return new Response(document, {
    status: 200,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'public, max-age=300' },
  });
});
