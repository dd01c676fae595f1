/**
 * The AWS query protocol (form-encoded POSTs naming an `Action`, XML answers), which AWS CLIs
 * older than 2.13 — Debian 12's is 2.9 — still speak to SQS and CloudWatch. Those local services
 * answer the JSON protocol of today's SDKs; a dialect turns a query request into the JSON
 * operation's input and its result into the XML that the older CLI reads.
 * https://smithy.io/2.0/aws/protocols/aws-query-protocol.html
 */
export interface QueryDialect {
  /** The XML namespace of the service's answers. */
  readonly namespace: string;
  /** Query names that differ from the JSON input's (SQS: `AttributeName.1` → `AttributeNames`). */
  readonly inputNames?: Readonly<Record<string, string>>;
  /** JSON input members that are maps, which a query request sends as a list of Name/Value pairs. */
  readonly inputMaps?: readonly string[];
  /**
   * Lists written as repeated elements, by the element's name (SQS: `Messages` → `<Message>`);
   * any other list is wrapped, its items in `<member>` (CloudWatch).
   */
  readonly flattened?: Readonly<Record<string, string>>;
  /** Maps in the answers, written as `<entry><key>…</key><value>…</value></entry>` (CloudWatch's). */
  readonly maps?: readonly string[];
  /** Maps written as repeated `<Name>…</Name><Value>…</Value>` elements (SQS's `Attribute`). */
  readonly flattenedMaps?: Readonly<Record<string, string>>;
  /** Error codes the query protocol spells otherwise (SQS: `AWS.SimpleQueueService.NonExistentQueue`). */
  readonly errorCodes?: Readonly<Record<string, string>>;
}

type Json = Record<string, unknown>;

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

export const isQueryRequest = (contentType: string | undefined): boolean =>
  (contentType ?? '').startsWith('application/x-www-form-urlencoded');

/**
 * `Action=ReceiveMessage&AttributeName.1=All&MetricData.member.1.Dimensions.member.1.Name=x` →
 * the action and `{ AttributeNames: ['All'], MetricData: [{ Dimensions: [{ Name: 'x' }] }] }`:
 * numbered segments are 1-based list positions, `member` marks a list and is dropped.
 */
export const parseQuery = (body: string, dialect: QueryDialect): { action: string; input: Json } => {
  const params = new URLSearchParams(body);
  const root: Json = {};
  for (const [key, value] of params) {
    if (key === 'Action' || key === 'Version') continue;
    const path = key.split('.').filter((segment) => segment !== 'member');
    // A name no AWS shape has, which would reach Object.prototype through the assignments below.
    if (path.some((segment) => FORBIDDEN.has(segment))) continue;
    const first = path[0] as string;
    path[0] = dialect.inputNames?.[first] ?? first;
    let node: Json | unknown[] = root;
    path.forEach((segment, i) => {
      const last = i === path.length - 1;
      const index = /^\d+$/.test(segment) ? Number(segment) - 1 : undefined;
      const slot = index ?? segment;
      const container = node as Record<string | number, unknown>;
      if (last) {
        container[slot] = value;
        return;
      }
      const next = path[i + 1] as string;
      container[slot] ??= /^\d+$/.test(next) ? [] : {};
      node = container[slot] as Json | unknown[];
    });
  }
  for (const name of dialect.inputMaps ?? []) {
    const pairs = root[name];
    if (Array.isArray(pairs))
      root[name] = Object.fromEntries(
        (pairs as { Name?: string; Value?: string }[]).map((p) => [String(p.Name), p.Value]),
      );
  }
  return { action: params.get('Action') ?? '', input: root };
};

const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** JSON's timestamps are epoch seconds; the query protocol's are ISO 8601. */
const scalar = (key: string, value: unknown): string =>
  /Timestamp/.test(key) && typeof value === 'number'
    ? new Date(value * 1000).toISOString()
    : escapeXml(String(value));

const element = (key: string, value: unknown, dialect: QueryDialect): string => {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) {
    const items = value.map((item) => body(key, item, dialect));
    const flat = dialect.flattened?.[key];
    return flat
      ? items.map((item) => `<${flat}>${item}</${flat}>`).join('')
      : `<${key}>${items.map((item) => `<member>${item}</member>`).join('')}</${key}>`;
  }
  if (typeof value === 'object' && !(value instanceof Date)) {
    const entries = Object.entries(value as Json);
    const flatMap = dialect.flattenedMaps?.[key];
    if (flatMap)
      return entries
        .map(
          ([k, v]) => `<${flatMap}><Name>${escapeXml(k)}</Name><Value>${scalar(k, v)}</Value></${flatMap}>`,
        )
        .join('');
    if (dialect.maps?.includes(key))
      return `<${key}>${entries.map(([k, v]) => `<entry><key>${escapeXml(k)}</key><value>${scalar(k, v)}</value></entry>`).join('')}</${key}>`;
    return `<${key}>${body(key, value, dialect)}</${key}>`;
  }
  return `<${key}>${scalar(key, value)}</${key}>`;
};

/** A struct's members as elements, or a scalar list item as its text. */
const body = (key: string, value: unknown, dialect: QueryDialect): string =>
  value !== null && typeof value === 'object' && !Array.isArray(value)
    ? Object.entries(value as Json)
        .map(([k, v]) => element(k, v, dialect))
        .join('')
    : scalar(key, value);

export const queryResponse = (action: string, result: unknown, dialect: QueryDialect): string => {
  const inner = body('', result ?? {}, dialect);
  const requestId = `<ResponseMetadata><RequestId>${crypto.randomUUID()}</RequestId></ResponseMetadata>`;
  return `<${action}Response xmlns="${dialect.namespace}"><${action}Result>${inner}</${action}Result>${requestId}</${action}Response>`;
};

export const queryError = (code: string, message: string, status: number, dialect: QueryDialect): string =>
  `<ErrorResponse xmlns="${dialect.namespace}"><Error><Type>${status < 500 ? 'Sender' : 'Receiver'}</Type><Code>${escapeXml(dialect.errorCodes?.[code] ?? code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${crypto.randomUUID()}</RequestId></ErrorResponse>`;
