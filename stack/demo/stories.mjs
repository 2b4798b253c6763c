/**
 * The demo's stories step (README "Status updates (stories)"): Alice posts a
 * text status (`post_story`, all her friends, 24 hours); Bob, her friend, finds
 * it in `get_story_feed` and marks it viewed (`mark_story_viewed`); Alice reads
 * who viewed it (`from('story_views')`, RLS: the author reads the views of her
 * statuses) and sees Bob; her own feed row counts one view.
 */
import { check, checkEqual, expectData, ok, say, short, step } from './transcript.mjs';

/**
 * @param {{ shared: any }} ctx
 * @param {{ alice: any, bob: any, run: string }} who
 */
export async function storiesStep(ctx, { alice, bob, run }) {
  step('Stories: Alice posts a status, Bob views it, Alice sees who viewed');
  const body = `Packing the tent for Saturday ⛺ (${run})`;
  const story = await expectData('post_story (as Alice)', alice.sb.rpc('post_story', { p_kind: 'text', p_body: body, p_audience: 'friends' }).single());
  check(story?.id && story.expires_at, 'post_story should return the stored status', story);
  const hours = Math.round((Date.parse(story.expires_at) - Date.parse(story.created_at)) / 3_600_000);
  say('Alice', `posts a status: "${body}" → ${short(story.id)}, for her friends, ${hours} h`);

  const feed = await expectData('get_story_feed (as Bob)', bob.sb.rpc('get_story_feed', { p_limit: 20 }));
  const seen = feed.find((s) => s.id === story.id);
  check(seen, "Bob (Alice's friend) should find Alice's status in his feed", feed.map((s) => s.id));
  checkEqual(seen.viewed, false, 'Bob has not viewed it yet');
  say('Bob', `his status feed: "${seen.body}" by ${seen.author_display_name} (not viewed yet)`);
  const first = await expectData('mark_story_viewed (as Bob)', bob.sb.rpc('mark_story_viewed', { p_story_id: story.id }));
  checkEqual(first, true, 'the first view is recorded');
  say('Bob', 'opens it → mark_story_viewed: true (recorded once)');

  const viewers = await expectData('story_views (as Alice)', alice.sb.from('story_views').select('viewer_id').eq('story_id', story.id));
  checkEqual(viewers.map((v) => v.viewer_id).join(), bob.id, 'who viewed Alice’s status, as she reads it');
  const own = (await expectData('get_story_feed (as Alice)', alice.sb.rpc('get_story_feed', { p_limit: 20 }))).find((s) => s.id === story.id);
  checkEqual(own?.view_count, 1, "the view count on Alice's own status");
  ok(`Alice sees who viewed her status: ${bob.name} (view_count 1)`);
}
