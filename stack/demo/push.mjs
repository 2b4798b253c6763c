/**
 * The demo's push step (docs/push.md): Bob's phone registers its FCM
 * registration token (`register_push_device`, through supabase-js); Alice
 * writes to him in their direct chat; the message's trigger queues a push in
 * the outbox, push-dispatch (called every 2 s by the local stack) sends it
 * through FCM HTTP v1, and the FCM stand-in (stack/standins/fcm.mjs) shows it:
 * `GET <stand-in>/_standin/messages` → `{messages: [{name, token, message, at}]}`,
 * the message with Android `collapse_key` / notification `tag` `chat:<chat_id>`.
 * Waits at most 10 s. On a `npm start` stack the stand-in's URL is FCM_STANDIN_URL
 * (printed by `npm start`); without it the push is not looked for (said so).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { check, checkEqual, eventually, expectData, note, ok, say, short, step } from './transcript.mjs';

/** What the FCM stand-in accepted for `token` (its GET /_standin/messages). */
async function pushesTo(fcmUrl, token) {
  const res = await fetch(`${fcmUrl}/_standin/messages`, { signal: AbortSignal.timeout(5_000) });
  check(res.ok, `the FCM stand-in's /_standin/messages should answer 200`, res.status);
  const { messages } = /** @type {{ messages: { token: string, message: any }[] }} */ (await res.json());
  return messages.filter((m) => m.token === token);
}

/**
 * @param {{ fcmUrl?: string }} ctx
 * @param {{ alice: any, bob: any, direct: { id: string } }} who
 */
export async function pushStep(ctx, { alice, bob, direct }) {
  step('Push: Bob’s phone gets a notification for Alice’s message (FCM)');
  // A registration token as the Firebase SDK hands it to the app (opaque to the backend).
  const token = `demo-${randomBytes(24).toString('base64url')}`;
  await expectData('register_push_device (as Bob)', bob.sb.rpc('register_push_device', { p_token: token, p_platform: 'android', p_app_version: '1.4.0' }));
  const devices = await expectData('push_devices (as Bob)', bob.sb.from('push_devices').select('platform, app_version').eq('token', token));
  checkEqual(devices.length, 1, "Bob's registered device, as he reads it");
  say('Bob', `his Android app registers its FCM token → push_devices: ${devices[0].platform} ${devices[0].app_version}`);

  const text = 'Bus leaves at 9 on Saturday 🚌';
  const msg = await expectData('send_message (as Alice)', alice.sb.rpc('send_message', { p_chat_id: direct.id, p_content: text, p_client_id: randomUUID() }).single());
  say('Alice', `writes to Bob: "${text}" → ${short(msg.id)}`);
  if (!ctx.fcmUrl) {
    note('FCM stand-in URL unknown (a `npm start` stack: set FCM_STANDIN_URL to the URL it prints); the push is not looked for');
    return;
  }
  const collapseKey = `chat:${direct.id}`;
  const t0 = Date.now();
  const pushes = await eventually(async () => {
    const got = await pushesTo(ctx.fcmUrl, token);
    return got.some((p) => p.message.android?.collapse_key === collapseKey) ? got : null;
  }, 10_000);
  check(pushes, `the FCM stand-in should show a push to Bob's token with collapse key ${collapseKey} within 10 s`, ctx.fcmUrl);
  const push = pushes.find((p) => p.message.android?.collapse_key === collapseKey).message;
  checkEqual(push.android.notification?.tag, collapseKey, 'the notification tag (one notification per chat on the device)');
  check(String(push.notification?.body ?? '').includes('Bus leaves at 9'), 'the push shows the message text', push.notification);
  ok(
    `FCM (stand-in) accepted a push to Bob's token ${Date.now() - t0} ms later: "${push.notification?.title}: ${push.notification?.body}", ` +
      `collapse key chat:<direct>, badge ${push.android.notification?.notification_count}`,
  );
}
