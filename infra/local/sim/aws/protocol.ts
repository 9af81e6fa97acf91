/**
 * EC2 Query protocol: form-encoded requests in, XML out.
 *
 * Requests look like `Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-…&Filter.1.Name=…`.
 * `parseQuery` turns the flat keys into a tree in which numbered segments become arrays
 * (`InstanceId.1`, `InstanceId.2` → `InstanceId: [..]`), so handlers read parameters by the
 * wire names the SDK sends (see the request shapes in @aws-sdk/client-ec2's schemas).
 */
import { randomUUID } from 'node:crypto';

export const EC2_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';
export const EC2_API_VERSION = '2016-11-15';

export type QueryNode = string | QueryNode[] | { [key: string]: QueryNode };
export type QueryObject = { [key: string]: QueryNode };

/** An error the simulator answers with, in the EC2 `<Response><Errors>` shape. */
export class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'Ec2Error';
  }
}

export function parseQuery(body: string): QueryObject {
  const root: QueryObject = {};
  for (const [rawKey, value] of new URLSearchParams(body)) {
    const parts = rawKey.split('.');
    let node: QueryObject | QueryNode[] = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      const last = i === parts.length - 1;
      const nextIsIndex = !last && /^\d+$/.test(parts[i + 1] as string);
      const key: string | number = Array.isArray(node) ? Number(part) - 1 : part;
      if (Array.isArray(node) && (!Number.isInteger(key) || (key as number) < 0)) break;
      const container = node as Record<string | number, QueryNode>;
      if (last) {
        container[key] = value;
        break;
      }
      let child = container[key];
      if (child === undefined || typeof child === 'string') {
        child = nextIsIndex ? [] : {};
        container[key] = child;
      }
      node = child as QueryObject | QueryNode[];
    }
  }
  return root;
}

/** Reads a string parameter by dotted path (`ExportToS3.S3Bucket`). */
export function qStr(node: QueryNode | undefined, path: string): string | undefined {
  let cur: QueryNode | undefined = node;
  for (const p of path.split('.')) {
    if (cur === undefined || typeof cur === 'string' || Array.isArray(cur)) return undefined;
    cur = cur[p];
  }
  return typeof cur === 'string' ? cur : undefined;
}

/** Reads a numbered list (`InstanceId.N`, `DiskContainer.N.*`); holes are dropped. */
export function qList(node: QueryNode | undefined, name: string): QueryNode[] {
  if (node === undefined || typeof node === 'string' || Array.isArray(node)) return [];
  const v = node[name];
  if (!Array.isArray(v)) return [];
  return v.filter((x) => x !== undefined);
}

export function qStrList(node: QueryNode | undefined, name: string): string[] {
  return qList(node, name).filter((x): x is string => typeof x === 'string');
}

export function qInt(node: QueryNode | undefined, path: string): number | undefined {
  const s = qStr(node, path);
  if (s === undefined) return undefined;
  if (!/^-?\d+$/.test(s)) throw new Ec2Error('InvalidParameterValue', `Invalid value '${s}' for ${path}.`);
  return Number(s);
}

export function qBool(node: QueryNode | undefined, path: string): boolean | undefined {
  const s = qStr(node, path);
  if (s === undefined) return undefined;
  if (s !== 'true' && s !== 'false')
    throw new Ec2Error('InvalidParameterValue', `Invalid value '${s}' for ${path}.`);
  return s === 'true';
}

export function requireStr(node: QueryNode | undefined, path: string): string {
  const v = qStr(node, path);
  if (v === undefined || v === '')
    throw new Ec2Error('MissingParameter', `The request must contain the parameter ${path}`);
  return v;
}

export interface Filter {
  name: string;
  values: string[];
}

/** `Filter.N.Name` / `Filter.N.Value.M` (DescribeImportImageTasks uses `Filters.N`). */
export function qFilters(node: QueryNode | undefined, listName = 'Filter'): Filter[] {
  return qList(node, listName).map((f) => ({
    name: qStr(f, 'Name') ?? '',
    values: qStrList(f, 'Value'),
  }));
}

export interface Tag {
  key: string;
  value: string;
}

export function qTags(node: QueryNode | undefined, listName = 'Tag'): Tag[] {
  return qList(node, listName).map((t) => ({ key: qStr(t, 'Key') ?? '', value: qStr(t, 'Value') ?? '' }));
}

// ---------------------------------------------------------------------------------------------
// XML

/**
 * Values the XML writer understands. Keys are the exact XML element names the SDK's
 * deserializer expects (`instancesSet`, `imageState`, …). Arrays become `<item>` lists.
 */
export type XmlValue = string | number | boolean | Date | undefined | null | XmlValue[] | XmlObject;
export interface XmlObject {
  [key: string]: XmlValue;
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) =>
    c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '&' ? '&amp;' : c === "'" ? '&apos;' : '&quot;',
  );
}

function writeValue(out: string[], name: string, v: XmlValue): void {
  if (v === undefined || v === null) return;
  if (Array.isArray(v)) {
    if (v.length === 0) {
      out.push(`<${name}/>`);
      return;
    }
    out.push(`<${name}>`);
    for (const item of v) writeValue(out, 'item', item);
    out.push(`</${name}>`);
    return;
  }
  if (v instanceof Date) {
    out.push(`<${name}>${v.toISOString()}</${name}>`);
    return;
  }
  if (typeof v === 'object') {
    out.push(`<${name}>`);
    for (const [k, child] of Object.entries(v)) writeValue(out, k, child);
    out.push(`</${name}>`);
    return;
  }
  out.push(`<${name}>${escapeXml(String(v))}</${name}>`);
}

export function renderResponse(action: string, requestId: string, body: XmlObject): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n'];
  out.push(`<${action}Response xmlns="${EC2_NAMESPACE}">`);
  out.push(`<requestId>${requestId}</requestId>`);
  for (const [k, v] of Object.entries(body)) writeValue(out, k, v);
  out.push(`</${action}Response>`);
  return out.join('');
}

export function renderError(code: string, message: string, requestId: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message>` +
    `</Error></Errors><RequestID>${requestId}</RequestID></Response>`
  );
}

export function newRequestId(): string {
  return randomUUID();
}
