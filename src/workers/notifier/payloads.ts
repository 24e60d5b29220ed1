import { createHash, createHmac } from 'node:crypto';
import type { NotifyTarget } from '../../domain/deployment';
import type { Notification } from './notification';

export const SIGNATURE_HEADER = 'x-printery-signature';
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/** A stable, opaque id of a target: its ledger field and part of its Idempotency-Key. */
export function targetId(target: NotifyTarget): string {
  return createHash('sha256').update(`${target.type} ${target.url}`).digest('hex').slice(0, 16);
}

/** `Idempotency-Key`: the same for every attempt and redelivery of one notification to one target. */
export function idempotencyKey(notification: Notification, target: NotifyTarget): string {
  return `${notification.terminalEventId}:${targetId(target)}`;
}

/** `X-Printery-Signature` value: `sha256=` and the hex HMAC-SHA256 of the exact body bytes. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** The JSON document POSTed to webhook targets. */
export function webhookBody(notification: Notification): string {
  return JSON.stringify({
    type: 'deployment.notification',
    deploymentId: notification.deploymentId,
    outcome: notification.outcome,
    failedStage: notification.failedStage,
    reason: notification.reason,
    service: notification.service,
    version: notification.version,
    environment: notification.environment,
    terminalEvent: {
      id: notification.terminalEventId,
      type: notification.terminalEventType,
      time: notification.occurredAt,
    },
    details: notification.details,
  });
}

const SLACK_FIELD_MAX = 1000;

/** Slack mrkdwn treats &, < and > as markup. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string): string {
  return text.length > SLACK_FIELD_MAX ? `${text.slice(0, SLACK_FIELD_MAX - 1)}…` : text;
}

/** A Slack incoming-webhook payload: plain `text` for notifications, `blocks` for the channel. */
export function slackPayload(notification: Notification): {
  text: string;
  blocks: unknown[];
} {
  const service = notification.service ?? 'unknown service';
  const version = notification.version ?? '?';
  const environment = notification.environment ?? '?';
  const succeeded = notification.outcome === 'succeeded';
  const headline = succeeded
    ? `Deployment succeeded: ${service} ${version} to ${environment}`
    : `Deployment failed at ${notification.failedStage ?? 'an unknown stage'}: ${service} ${version} to ${environment}`;
  const text = notification.reason ? `${headline}. Reason: ${notification.reason}` : headline;
  const field = (label: string, value: string) => ({
    type: 'mrkdwn',
    text: `*${label}*\n${escapeSlack(clip(value))}`,
  });
  const fields = [
    field('Outcome', notification.outcome),
    field('Service', service),
    field('Version', version),
    field('Environment', environment),
    ...(succeeded ? [] : [field('Failed stage', notification.failedStage ?? 'unknown')]),
  ];
  return {
    // Slack parses the fallback text as markup too: `<!channel>` in a service name would ping.
    text: escapeSlack(clip(text)),
    blocks: [
      {
        type: 'section',
        text: {
          type: 'mrkdwn',
          text: `${succeeded ? ':white_check_mark:' : ':x:'} *${escapeSlack(headline)}*`,
        },
      },
      { type: 'section', fields },
      ...(notification.reason
        ? [
            {
              type: 'section',
              text: { type: 'mrkdwn', text: `*Reason*\n${escapeSlack(clip(notification.reason))}` },
            },
          ]
        : []),
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: `deployment ${escapeSlack(notification.deploymentId ?? 'unknown')}`,
          },
        ],
      },
    ],
  };
}
