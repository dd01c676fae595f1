import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyStructuredResultV2 as HttpResult, LambdaFunctionURLEvent } from 'aws-lambda';
import { type InferenceInput, inputOf, type Prediction } from '../../core/inference';
import type { InferenceMetrics } from './metrics';
import { DeploymentUnavailableError, ModelUnavailableError, type ServingModels } from './models';
import { scoreInputs, type Validators } from './scoring';

/**
 * The HTTPS entry point (a function URL with AWS_IAM auth): one record or a batch as JSON in,
 * predictions out, in the order given. The request is scored whole or refused whole: 400 names each
 * bad record by index and field, 413 a body or batch over the limits, 503 a model that cannot be
 * read right now (with Retry-After), so a caller always knows which of its records were scored.
 *
 * Accepted bodies: `{"pipeline": "p", "id": "1", ...fields}`, `[{...}, ...]`, or
 * `{"pipeline": "p", "records": [{...}, ...]}` (each record may name its own pipeline). A record
 * without an id gets one (returned), so it is routed like any other.
 *
 * A direct invocation (`aws lambda invoke`, the SDK's Invoke) has no request around it: its payload
 * is the body, answered alike.
 */
export interface HttpSettings {
  readonly maxBodyBytes: number;
  readonly maxRecords: number;
}

export interface HttpDeps {
  readonly models: ServingModels;
  readonly validators: Validators;
  readonly metrics: InferenceMetrics;
  readonly settings: HttpSettings;
  readonly now?: () => number;
}

export interface FieldError {
  readonly index: number;
  readonly id?: string;
  readonly field: string;
  readonly reason: string;
}

const json = (statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult => ({
  statusCode,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

const refuse = (
  statusCode: number,
  message: string,
  errors?: readonly FieldError[],
  headers: Record<string, string> = {},
) => json(statusCode, errors ? { message, errors } : { message }, headers);

/** The records of a body, each with the pipeline it inherits from the envelope. */
const recordsOf = (body: unknown): unknown[] | { error: string } => {
  if (Array.isArray(body)) return body;
  if (typeof body !== 'object' || body === null) return { error: 'body: expected a JSON object or array' };
  const { records, pipeline } = body as { records?: unknown; pipeline?: unknown };
  if (records === undefined) return [body];
  if (!Array.isArray(records)) return { error: 'records: expected an array' };
  return records.map((r) =>
    typeof r === 'object' && r !== null && !Array.isArray(r) && pipeline !== undefined && !('pipeline' in r)
      ? { pipeline, ...r }
      : r,
  );
};

/** A function URL's request event, as opposed to a payload invoked directly. */
const isRequest = (event: unknown): event is LambdaFunctionURLEvent =>
  typeof event === 'object' && event !== null && !Array.isArray(event) && 'requestContext' in event;

/** The request's body bytes: a function URL request's body, or a direct invocation's whole payload. */
const bodyOf = (event: unknown): Buffer => {
  if (!isRequest(event)) return Buffer.from(JSON.stringify(event) ?? '', 'utf8');
  const raw = event.body ?? '';
  return event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
};

/** Answers a function URL request, or a payload invoked directly. */
export const answerHttp = async (event: unknown, deps: HttpDeps): Promise<HttpResult> => {
  const now = deps.now ?? Date.now;
  const started = now();
  const method = isRequest(event) ? (event.requestContext?.http?.method ?? 'POST') : 'POST';
  if (method !== 'POST') return refuse(405, `${method}: only POST is answered`, undefined, { allow: 'POST' });
  const bytes = bodyOf(event);
  if (bytes.byteLength > deps.settings.maxBodyBytes)
    return refuse(413, `body: ${bytes.byteLength} bytes, over the limit of ${deps.settings.maxBodyBytes}`);
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    return refuse(400, `body: not JSON: ${(error as Error).message}`);
  }
  const records = recordsOf(body);
  if (!Array.isArray(records)) return refuse(400, records.error);
  if (records.length === 0) return refuse(400, 'records: empty, nothing to score');
  if (records.length > deps.settings.maxRecords)
    return refuse(
      413,
      `records: ${records.length}, over the limit of ${deps.settings.maxRecords} per request`,
    );

  const errors: FieldError[] = [];
  const valid: { index: number; input: InferenceInput }[] = [];
  records.forEach((record, index) => {
    const withId =
      typeof record === 'object' && record !== null && !Array.isArray(record) && !('id' in record)
        ? { ...record, id: randomUUID() }
        : record;
    const decoded = inputOf(withId);
    const checked = decoded.ok ? deps.validators.check(decoded.input) : decoded;
    if (checked.ok) {
      valid.push({ index, input: checked.input });
      return;
    }
    const { poison } = checked;
    const id = poison.id !== undefined ? { id: poison.id } : {};
    if (poison.problems)
      for (const p of poison.problems) errors.push({ index, ...id, field: p.field, reason: p.reason });
    else {
      const [field, ...rest] = poison.detail.split(': ');
      errors.push({
        index,
        ...id,
        field: rest.length > 0 ? (field ?? '') : '',
        reason: rest.join(': ') || poison.detail,
      });
    }
  });
  if (errors.length > 0) {
    const bad = new Set(errors.map((e) => e.index)).size;
    return refuse(400, `${bad} of ${records.length} records are invalid; nothing was scored`, errors);
  }

  const { outcomes, traffic } = await scoreInputs(valid, deps.models);
  const predictions: Prediction[] = [];
  let unavailable: string | undefined;
  let noModel: string | undefined;
  for (const { index } of valid) {
    const outcome = outcomes.get(index);
    if (outcome?.kind === 'scored') predictions.push(outcome.prediction);
    else if (outcome?.kind === 'poison') noModel = outcome.poison.detail;
    else if (outcome?.kind === 'retry') {
      if (
        !(
          outcome.error instanceof DeploymentUnavailableError ||
          outcome.error instanceof ModelUnavailableError
        )
      )
        throw outcome.error;
      unavailable = outcome.reason;
    }
  }
  const latencyMs = now() - started;
  for (const t of traffic.values()) {
    const failures = t.indexes.filter((i) => outcomes.get(i)?.kind === 'retry').length;
    deps.metrics.traffic({ ...t, records: t.indexes.length, failures, latencyMs });
  }
  if (noModel) return refuse(503, noModel);
  if (unavailable)
    return refuse(503, `a model cannot be read right now: ${unavailable}`, undefined, { 'retry-after': '1' });
  return json(200, { predictions });
};
