/**
 * The OpenAPI 3.1 document of the edge functions (https://spec.openapis.org/oas/v3.1.0),
 * generated from the shared Zod schemas with zod's `z.toJSONSchema`
 * (https://zod.dev/json-schema; JSON Schema 2020-12, the dialect of OpenAPI
 * 3.1). Requests are described as the functions ACCEPT them (io `input`:
 * defaults are optional), answers as they SEND them (io `output`).
 *
 * One source: the api-docs function serves `openApiDocument()`, and the
 * checked-in copy docs/openapi.json is its output (tests/ai-product/openapi
 * fails when they differ, and validates the document).
 * Server-sent events (ai-chat, widget) are `text/event-stream`; each event's
 * name and data schema are listed in the description and in `x-sse-events`.
 */
import { z } from 'zod';
import { ERROR_STATUS, ErrorBody, ValidationIssue } from './errors.ts';
import { AiChatDelta, AiChatRequest, AiChatResult, AiChatStart, AiFallbackFrom, AiUsage } from './functions/ai-chat.ts';
import { AiSuggestRequest, AiSuggestResult } from './functions/ai-suggest.ts';
import { ClerkWebhookEnvelope, ClerkWebhookResponse } from './functions/clerk-webhook.ts';
import { HealthResponse } from './functions/health.ts';
import { MeResponse } from './functions/me.ts';
import { CloudinaryNotificationEnvelope, CloudinaryWebhookResponse, MediaSignRequest, MediaSignResponse } from './functions/media.ts';
import { PaymentsCheckoutRequest, PaymentsCheckoutResponse } from './functions/payments.ts';
import { PushDispatchRequest, PushDispatchResponse } from './functions/push.ts';
import { StripeEventEnvelope, StripeWebhookResponse } from './functions/stripe-webhook.ts';
import { WidgetHandoff, WidgetMessage, WidgetMessageRequest, WidgetMessages, WidgetSession, WidgetSessionRequest } from './functions/widget.ts';

/** Every schema of the document by component name, and whether it is read as a request (`input`) or an answer (`output`). */
const COMPONENTS: Record<string, [z.ZodType, 'input' | 'output']> = {
  ErrorBody: [ErrorBody, 'output'],
  ValidationIssue: [ValidationIssue, 'output'],
  HealthResponse: [HealthResponse, 'output'],
  MeResponse: [MeResponse, 'output'],
  AiChatRequest: [AiChatRequest, 'input'],
  AiChatStart: [AiChatStart, 'output'],
  AiChatDelta: [AiChatDelta, 'output'],
  AiChatResult: [AiChatResult, 'output'],
  AiUsage: [AiUsage, 'output'],
  AiFallbackFrom: [AiFallbackFrom, 'output'],
  AiSuggestRequest: [AiSuggestRequest, 'input'],
  AiSuggestResult: [AiSuggestResult, 'output'],
  MediaSignRequest: [MediaSignRequest, 'input'],
  MediaSignResponse: [MediaSignResponse, 'output'],
  PaymentsCheckoutRequest: [PaymentsCheckoutRequest, 'input'],
  PaymentsCheckoutResponse: [PaymentsCheckoutResponse, 'output'],
  ClerkWebhookEnvelope: [ClerkWebhookEnvelope, 'input'],
  ClerkWebhookResponse: [ClerkWebhookResponse, 'output'],
  StripeEventEnvelope: [StripeEventEnvelope, 'input'],
  StripeWebhookResponse: [StripeWebhookResponse, 'output'],
  CloudinaryNotificationEnvelope: [CloudinaryNotificationEnvelope, 'input'],
  CloudinaryWebhookResponse: [CloudinaryWebhookResponse, 'output'],
  PushDispatchRequest: [PushDispatchRequest, 'input'],
  PushDispatchResponse: [PushDispatchResponse, 'output'],
  WidgetSessionRequest: [WidgetSessionRequest, 'input'],
  WidgetSession: [WidgetSession, 'output'],
  WidgetMessageRequest: [WidgetMessageRequest, 'input'],
  WidgetMessage: [WidgetMessage, 'output'],
  WidgetMessages: [WidgetMessages, 'output'],
  WidgetHandoff: [WidgetHandoff, 'output'],
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const ref = (name: keyof typeof COMPONENTS) => ({ $ref: `#/components/schemas/${name}` });

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): Json {
  const s = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as Record<string, Json>;
  delete s.$schema;
  return s;
}

const json = (name: keyof typeof COMPONENTS, description: string) => ({ description, content: { 'application/json': { schema: ref(name) } } });

/** Error answers: the shared error shape, with the codes each status may carry. */
function errors(...statuses: number[]): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const status of statuses) {
    const codes = Object.entries(ERROR_STATUS).filter(([, s]) => s === status).map(([c]) => c);
    out[String(status)] = {
      description: `Error (${codes.join(', ')})${status === 429 ? '; retry after the Retry-After header (seconds)' : ''}`,
      ...(status === 429 ? { headers: { 'Retry-After': { schema: { type: 'integer', minimum: 1 } } } } : {}),
      content: { 'application/json': { schema: ref('ErrorBody') } },
    };
  }
  return out;
}

/** A text/event-stream answer: event names and their data schemas. */
function sse(description: string, events: Record<string, keyof typeof COMPONENTS>): Json {
  const list = Object.entries(events).map(([e, s]) => `\`${e}\` (${s})`).join(', ');
  return {
    description: `${description} Server-sent events (https://html.spec.whatwg.org/multipage/server-sent-events.html), each \`event: <name>\` with one JSON \`data\` line: ${list}.`,
    content: {
      'text/event-stream': {
        schema: { type: 'string' },
        'x-sse-events': Object.fromEntries(Object.entries(events).map(([e, s]) => [e, ref(s)])),
      },
    },
  };
}

const body = (name: keyof typeof COMPONENTS) => ({ required: true, content: { 'application/json': { schema: ref(name) } } });

/**
 * A provider's webhook (POST): signed as the security scheme `scheme` says,
 * the provider's `envelope` in, 200 with `answer` once handled, else an
 * error answer (400 bad signature or body, 413, 415, 503).
 */
function webhook(operationId: string, summary: string, scheme: string, envelope: keyof typeof COMPONENTS, answer: keyof typeof COMPONENTS, handled: string): Json {
  return {
    post: {
      operationId, summary,
      security: [{ [scheme]: [] }], requestBody: body(envelope),
      responses: { '200': json(answer, handled), ...errors(400, 413, 415, 503) },
    },
  };
}

/** The OpenAPI 3.1 document (a plain JSON value). */
export function openApiDocument(): Json {
  const clerk = [{ clerkSession: [] }];
  const paths: Record<string, Json> = {
    '/health': {
      get: {
        operationId: 'health', summary: 'Database and provider status', security: [],
        responses: { '200': json('HealthResponse', 'ok or degraded'), '503': json('HealthResponse', 'database unreachable') },
      },
    },
    '/me': {
      get: {
        operationId: 'me', summary: "The caller's profile and account (created from the token on first use)", security: clerk,
        responses: { '200': json('MeResponse', 'The profile and account'), ...errors(401, 503) },
      },
    },
    '/ai-chat': {
      post: {
        operationId: 'aiChat',
        summary: 'Ask the AI assistant in a chat (metered: credits reserved, then charged for the usage)',
        description: 'Streamed (default) or one JSON answer. `regenerate` asks again for the last prompt (optionally edited); '
          + '`on_disconnect: stop` stops the generation when the client aborts (the part produced is stored and charged). '
          + 'A provider failure before any output may fall back once to the model\'s configured fallback (`fallback_from`).',
        security: clerk,
        requestBody: body('AiChatRequest'),
        responses: {
          '200': {
            description: 'stream: false → AiChatResult; stream: true → server-sent events',
            content: {
              'application/json': { schema: ref('AiChatResult') },
              ...((sse('', { start: 'AiChatStart', delta: 'AiChatDelta', done: 'AiChatResult', error: 'ErrorBody' }) as { content: Record<string, Json> }).content),
            },
          },
          ...errors(400, 401, 402, 403, 404, 415, 429, 502, 503),
        },
      },
    },
    '/ai-suggest': {
      post: {
        operationId: 'aiSuggest', summary: 'Up to three replies the caller could send next (metered; cached per chat and newest message)',
        security: clerk, requestBody: body('AiSuggestRequest'),
        responses: { '200': json('AiSuggestResult', 'The suggestions'), ...errors(400, 401, 402, 404, 415, 429, 502, 503) },
      },
    },
    '/media-sign': {
      post: {
        operationId: 'mediaSign', summary: 'Signed parameters for a direct Cloudinary upload', security: clerk,
        requestBody: body('MediaSignRequest'),
        responses: { '200': json('MediaSignResponse', 'The signed upload'), ...errors(400, 401, 403, 413, 415, 429, 503) },
      },
    },
    '/payments-checkout': {
      post: {
        operationId: 'paymentsCheckout', summary: 'A Stripe Checkout session to buy a credit pack', security: clerk,
        requestBody: body('PaymentsCheckoutRequest'),
        responses: { '200': json('PaymentsCheckoutResponse', 'The checkout session'), ...errors(400, 401, 403, 404, 415, 429, 502, 503) },
      },
    },
    '/clerk-webhook': webhook('clerkWebhook', 'Clerk user events (Svix-signed: svix-id, svix-timestamp, svix-signature)', 'svixSignature',
      'ClerkWebhookEnvelope', 'ClerkWebhookResponse', 'Handled (or a duplicate / ignored event)'),
    '/stripe-webhook': webhook('stripeWebhook', 'Stripe events (Stripe-Signature header)', 'stripeSignature',
      'StripeEventEnvelope', 'StripeWebhookResponse', 'Handled (or a duplicate / ignored event)'),
    '/cloudinary-webhook': webhook('cloudinaryWebhook', 'Cloudinary upload notifications (X-Cld-Signature, X-Cld-Timestamp)', 'cloudinarySignature',
      'CloudinaryNotificationEnvelope', 'CloudinaryWebhookResponse', 'Handled (or ignored)'),
    '/push-dispatch': {
      post: {
        operationId: 'pushDispatch', summary: 'Drain the push outbox once (Bearer PUSH_DISPATCH_SECRET)',
        security: [{ dispatchSecret: [] }],
        requestBody: { required: false, content: { 'application/json': { schema: ref('PushDispatchRequest') } } },
        responses: { '200': json('PushDispatchResponse', 'Counts of this run'), ...errors(401, 503) },
      },
    },
    '/widget/session': {
      post: {
        operationId: 'widgetSession', summary: 'Start a website visitor session (Origin must be allowed)', security: [],
        requestBody: body('WidgetSessionRequest'),
        responses: { '201': json('WidgetSession', 'The session; its secret is returned once'), ...errors(400, 403, 415, 429, 503) },
      },
    },
    '/widget/messages': {
      post: {
        operationId: 'widgetSendMessage', summary: "A visitor's message; the bot's answer streams", security: [{ widgetSecret: [] }],
        requestBody: body('WidgetMessageRequest'),
        responses: {
          '200': sse('The stored message, then the answer or a hand-off.', {
            message: 'WidgetMessage', delta: 'AiChatDelta', bot: 'WidgetMessage', handoff: 'WidgetHandoff', error: 'ErrorBody',
          }),
          ...errors(400, 401, 413, 415, 429, 503),
        },
      },
      get: {
        operationId: 'widgetListMessages', summary: "The session's messages (after a message id)", security: [{ widgetSecret: [] }],
        parameters: [{ name: 'after', in: 'query', required: false, schema: { type: 'string', format: 'uuid' } }],
        responses: { '200': json('WidgetMessages', 'Messages, oldest first'), ...errors(400, 401) },
      },
    },
    '/widget/events': {
      get: {
        operationId: 'widgetEvents', summary: 'New messages of the session (resumable with Last-Event-ID)', security: [{ widgetSecret: [] }],
        parameters: [{ name: 'after', in: 'query', required: false, schema: { type: 'string', format: 'uuid' } }],
        responses: { '200': sse('Polled every second for up to 55 s, then the stream ends.', { message: 'WidgetMessage' }), ...errors(401) },
      },
    },
    '/widget/end': {
      post: {
        operationId: 'widgetEnd', summary: 'End the session (its secret stops working)', security: [{ widgetSecret: [] }],
        responses: { '204': { description: 'Ended' }, ...errors(401) },
      },
    },
    '/api-docs': {
      get: {
        operationId: 'apiDocs', summary: 'This document', security: [],
        responses: { '200': { description: 'The OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Chat with Me edge functions',
      version: '1.0.0',
      description: 'Every function answers errors with the shared error shape (ErrorBody). The Data API (PostgREST) is '
        + 'described by PostgREST itself at /rest/v1/. Generated from packages/shared (Zod) by openApiDocument().',
    },
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    servers: [{ url: '/functions/v1', description: 'The Supabase project (or the local gateway, API_URL)' }],
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(COMPONENTS).map(([name, [schema, io]]) => [name, jsonSchema(schema, io)])),
      securitySchemes: {
        clerkSession: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A Clerk session token' },
        widgetSecret: { type: 'http', scheme: 'bearer', description: 'The widget session secret (wss_…)' },
        dispatchSecret: { type: 'http', scheme: 'bearer', description: 'PUSH_DISPATCH_SECRET' },
        svixSignature: { type: 'apiKey', in: 'header', name: 'svix-signature', description: 'With svix-id and svix-timestamp (https://docs.svix.com/receiving/verifying-payloads/how)' },
        stripeSignature: { type: 'apiKey', in: 'header', name: 'Stripe-Signature', description: 'https://docs.stripe.com/webhooks#verify-events' },
        cloudinarySignature: { type: 'apiKey', in: 'header', name: 'X-Cld-Signature', description: 'With X-Cld-Timestamp (https://cloudinary.com/documentation/notification_signatures)' },
      },
    },
  };
}
