/**
 * The website chat widget (README "Website chat widget"): the settings a site
 * owner stores in public.websites.settings, and the requests, answers and
 * server-sent events of the `widget` edge function, which visitors reach from
 * the embedded script (widget/widget.js).
 *
 * The database checks settings with the same rules
 * (private.widget_settings_valid in 20261202130100_widget.sql); absent keys
 * take the defaults below.
 */
import { z } from 'zod';

const Hex = z.string().regex(/^#[0-9a-fA-F]{6}$/, 'a #rrggbb colour');
const Time = z.string().regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, 'HH:MM (24 h)');

/** public.websites.settings. */
export const WidgetSettings = z.strictObject({
  /** First message the visitor sees (≤ 500 characters). */
  greeting: z.string().max(500).default('Hi! How can we help you today?'),
  /** Whether the AI answers visitors before a human takes over. */
  bot_enabled: z.boolean().default(true),
  /** ai_models.id the bot uses (enabled models only); null: the default model. */
  model: z.string().min(1).max(100).nullable().default(null),
  /** Instructions for the bot (≤ 4000 characters), sent as the system message. */
  system_prompt: z.string().max(4000).default(''),
  /** Widget colours. */
  colors: z.strictObject({ primary: Hex.optional(), text: Hex.optional() }).default({}),
  /** Opening hours shown to visitors (informative), or null. */
  business_hours: z.strictObject({
    /** IANA time zone, e.g. Europe/Paris. */
    timezone: z.string().min(1).max(64),
    days: z.array(z.strictObject({ day: z.number().int().min(0).max(6), open: Time, close: Time })).max(14),
  }).nullable().default(null),
  /** Most visitor sessions active at once (seen in the last widget.active_seconds); 429 above. */
  max_concurrent_sessions: z.number().int().min(1).max(10_000).default(50),
  /** Most bot answers in one session; then a human answers. */
  bot_answers_per_session: z.number().int().min(0).max(1000).default(20),
  /** Most bot answers per UTC day on the website; then a human answers. */
  bot_answers_per_day: z.number().int().min(0).max(100_000).default(500),
});
export type WidgetSettings = z.infer<typeof WidgetSettings>;

/** POST /widget/session: start a visitor session (Origin must be one of the website's allowed origins). */
export const WidgetSessionRequest = z.strictObject({ widget_key: z.string().regex(/^wk_[0-9a-f]{40}$/, 'a widget key (wk_…)') });
export type WidgetSessionRequest = z.infer<typeof WidgetSessionRequest>;

/** What a visitor may see of the website: its name and the public part of its settings. */
export const WidgetPublicSite = z.object({
  name: z.string(),
  greeting: z.string(),
  bot_enabled: z.boolean(),
  colors: WidgetSettings.shape.colors.unwrap(),
  business_hours: WidgetSettings.shape.business_hours.unwrap(),
});

/** 201 to POST /widget/session. The secret is shown once; send it as `Authorization: Bearer <secret>`. */
export const WidgetSession = z.object({
  session_id: z.uuid(),
  /** Opaque session secret (wss_…); only its SHA-256 is stored. */
  secret: z.string().regex(/^wss_[A-Za-z0-9_-]{43}$/),
  /** ISO timestamp after which the secret is refused. */
  expires_at: z.string(),
  website: WidgetPublicSite,
});
export type WidgetSession = z.infer<typeof WidgetSession>;

/** POST /widget/messages: the visitor's message (its size limit is admin_config widget.max_message_chars). */
export const WidgetMessageRequest = z.strictObject({ content: z.string().min(1).max(8000) });

/** A message as the visitor sees it: no sender ids or names. */
export const WidgetMessage = z.object({
  id: z.uuid(),
  role: z.enum(['visitor', 'bot', 'agent']),
  content: z.string(),
  created_at: z.string(),
});
export type WidgetMessage = z.infer<typeof WidgetMessage>;

/** GET /widget/messages: the session's messages after `after` (a message id), oldest first. */
export const WidgetMessages = z.object({ messages: z.array(WidgetMessage) });

/**
 * Events of POST /widget/messages (SSE): `message` (the stored visitor
 * message), then either `delta` {text}… and `bot` (the stored answer), or
 * `handoff` {reason}: a human will answer. `error` ends a stream that failed.
 * GET /widget/events (SSE, resumable with Last-Event-ID) sends `message`
 * events, the event id being the message id.
 */
export const WidgetHandoff = z.object({
  reason: z.enum(['bot_disabled', 'handed_off', 'session_limit', 'daily_limit', 'low_balance', 'insufficient_credits', 'rate_limited', 'provider_error']),
});
export type WidgetHandoff = z.infer<typeof WidgetHandoff>;
