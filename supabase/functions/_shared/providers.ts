/**
 * Which external providers are configured, by the presence of their secrets
 * (names in supabase/functions/.env.example). Values are never read out.
 *
 * LOCAL_STANDINS (set only by the Docker-free local stack, stack/runtime/functions.mjs)
 * lists providers replaced by local stand-ins, e.g. `clerk` when the stack
 * generated its own Clerk key pair and webhook secret.
 */
import type { ProviderStatus } from '@chat-with-me/shared';
import { isSet, plainVar } from './env.ts';

/** The variables each provider needs (every name must be set). For Clerk, either key variable will do. */
export const PROVIDER_SECRETS = {
  clerk: [['CLERK_JWT_KEY', 'CLERK_SECRET_KEY'], 'CLERK_ISSUER', 'CLERK_AUTHORIZED_PARTIES', 'CLERK_WEBHOOK_SECRET'],
  openai: ['OPENAI_API_KEY'],
  deepseek: ['DEEPSEEK_API_KEY'],
  stripe: ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'],
  cloudinary: ['CLOUDINARY_CLOUD_NAME', 'CLOUDINARY_API_KEY', 'CLOUDINARY_API_SECRET'],
} as const satisfies Record<string, readonly (string | readonly string[])[]>;

export type Provider = keyof typeof PROVIDER_SECRETS;

/** configured | missing | local for each provider. */
export function providerStatuses(): Record<Provider, ProviderStatus> {
  const local = new Set((plainVar('LOCAL_STANDINS') ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  const out = {} as Record<Provider, ProviderStatus>;
  for (const [provider, needs] of Object.entries(PROVIDER_SECRETS) as [Provider, readonly (string | readonly string[])[]][]) {
    const complete = needs.every((n) => (typeof n === 'string' ? isSet(n) : n.some((alt) => isSet(alt))));
    out[provider] = local.has(provider) && complete ? 'local' : complete ? 'configured' : 'missing';
  }
  return out;
}
