import { AppError, type ErrorDetail } from '../errors.js';
import { checkUrl, UrlGuardError, type ResolveHost } from '../media/url-guard.js';

/**
 * The SSRF guard for webhook URLs given through the API (session create, PATCH, PUT webhooks):
 * refused with 422 WEBHOOK_URL_FORBIDDEN when the host is (or resolves to) a private, loopback,
 * link-local or metadata address, unless it is listed in WEBHOOK_ALLOWED_HOSTS. A host that does
 * not resolve right now is accepted (DNS may be passing trouble): every delivery connects only to
 * addresses the guard accepts at that moment (`webhook-sender.ts`).
 */
export async function assertWebhookUrlsAllowed(
  webhooks: readonly { url: string }[] | undefined,
  allowedHosts: readonly string[],
  options: { path?: string; resolve?: ResolveHost | undefined } = {},
): Promise<void> {
  if (!webhooks || webhooks.length === 0) return;
  const path = options.path ?? 'body.webhooks';
  const refusals = await Promise.all(
    webhooks.map(async (webhook, index): Promise<ErrorDetail | null> => {
      try {
        await checkUrl(webhook.url, { allowedHosts, resolve: options.resolve });
        return null;
      } catch (error) {
        if (error instanceof UrlGuardError && error.kind === 'unresolvable') return null;
        const reason = error instanceof Error ? error.message : String(error);
        return { path: `${path}.${index}.url`, message: `${reason} (allow the host with WEBHOOK_ALLOWED_HOSTS)` };
      }
    }),
  );
  const details = refusals.filter((d): d is ErrorDetail => d !== null);
  const first = details[0];
  if (first) throw new AppError('WEBHOOK_URL_FORBIDDEN', `Webhook URL refused: ${first.message}`, details);
}
