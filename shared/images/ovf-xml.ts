/**
 * An OVF descriptor as an XML tree, read defensively (it comes from the user's file: size-capped,
 * no DOCTYPE or entities, well-formedness checked first), and the accessors ovf-parse.ts reads the
 * tree with: any namespace prefix is dropped, a repeated element is a list, text and attributes
 * come back as strings or undefined.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { ImageError } from './errors';

export type XNode = Record<string, unknown>;

function own(node: unknown, key: string): unknown {
  if (node === null || typeof node !== 'object') return undefined;
  return Object.prototype.hasOwnProperty.call(node, key) ? (node as XNode)[key] : undefined;
}

export function list(node: unknown, key: string): XNode[] {
  const v = own(node, key);
  if (v === undefined || v === null) return [];
  const arr: unknown[] = Array.isArray(v) ? v : [v];
  return arr.map((x) =>
    x !== null && typeof x === 'object' && !Array.isArray(x)
      ? (x as XNode)
      : ({ '#text': String(x) } as XNode),
  );
}

export function first(node: unknown, key: string): XNode | undefined {
  return list(node, key)[0];
}

export function text(node: unknown, key?: string): string | undefined {
  const v = key === undefined ? node : own(node, key);
  const one: unknown = Array.isArray(v) ? v[0] : v;
  if (one === undefined || one === null) return undefined;
  if (typeof one === 'object') {
    const t = own(one, '#text');
    return t === undefined || t === null || typeof t === 'object' ? undefined : String(t).trim();
  }
  return String(one).trim();
}

export function attr(node: XNode | undefined, name: string): string | undefined {
  const v = own(node, `@_${name}`);
  return v === undefined || v === null || typeof v === 'object' ? undefined : String(v);
}

/** Sections by element name (OVF 1.x/2.x) or by xsi:type "<name>_Type" (OVF 0.9). */
export function sections(node: unknown, name: string): XNode[] {
  const legacy = list(node, 'Section').filter(
    (s) => (attr(s, 'type') ?? '').replace(/^.*:/, '') === `${name}_Type`,
  );
  return [...list(node, name), ...legacy];
}

export function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** A non-negative whole number (an id, a bus or unit number), else undefined. */
export function count(s: string | undefined): number | undefined {
  const n = num(s);
  return n !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

let parser: XMLParser | undefined;
/** Made on first use: every program that loads this library (a conversion) does not parse OVF. */
function ovfParser(): XMLParser {
  parser ??= new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    removeNSPrefix: true,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    processEntities: true,
    htmlEntities: false,
  });
  return parser;
}

export function invalidOvf(message: string, cause?: unknown): ImageError {
  return new ImageError('BG_OVF_INVALID', message, cause === undefined ? undefined : { cause });
}

/**
 * The descriptor's XML tree. BG_OVF_INVALID when it is not text, is over `maxBytes`, declares a
 * DOCTYPE or ENTITY, or is not well-formed.
 */
export function parseOvfXml(xml: string, maxBytes: number): XNode {
  if (typeof xml !== 'string') throw invalidOvf('OVF descriptor is not text');
  if (Buffer.byteLength(xml) > maxBytes) {
    throw invalidOvf(`OVF descriptor is larger than ${maxBytes} bytes (maxBytes); refusing to parse it`);
  }
  const body = xml.replace(/^\uFEFF/, '');
  if (/<!DOCTYPE|<!ENTITY/i.test(body)) {
    throw invalidOvf(
      'OVF descriptor contains a DOCTYPE/ENTITY declaration, which OVF never needs; refusing it (entity expansion attacks)',
    );
  }
  let doc: XNode;
  try {
    const valid = XMLValidator.validate(body);
    if (valid !== true) {
      throw invalidOvf(
        `OVF descriptor is not well-formed XML: ${valid.err.msg} at line ${valid.err.line}, column ${valid.err.col}; re-export the VM`,
      );
    }
    doc = ovfParser().parse(body) as XNode;
  } catch (err) {
    if (err instanceof ImageError) throw err;
    throw invalidOvf(`OVF descriptor cannot be parsed: ${(err as Error)?.message ?? String(err)}`, err);
  }
  return doc;
}
