// An independent AWS Signature Version 4 (the S3 flavour: the path signed as
// sent, no double encoding), written from the AWS reference ("Create a
// signed AWS API request") with node:crypto, to check what aws4fetch signs.
import { createHash, createHmac } from 'node:crypto';

export interface SigV4Request {
  method: string;
  /** The path as sent, e.g. /bucket/key. */
  path: string;
  /** Already sorted and encoded query string, '' for none. */
  query?: string;
  /** The headers the signature covers, any case. */
  headers: Record<string, string>;
  /** x-amz-content-sha256: hex sha256 of the body, or UNSIGNED-PAYLOAD. */
  payloadHash: string;
  /** x-amz-date, YYYYMMDD'T'HHMMSS'Z'. */
  amzDate: string;
  region: string;
  service: string;
  secretAccessKey: string;
}

const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** The hex signature of `r`. */
export function sigV4Signature(r: SigV4Request): string {
  const names = Object.keys(r.headers).map((h) => h.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v]));
  const canonicalHeaders = names.map((h) => `${h}:${lower[h].trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalRequest = [r.method, r.path, r.query ?? '', canonicalHeaders, names.join(';'), r.payloadHash].join('\n');
  const date = r.amzDate.slice(0, 8);
  const scope = `${date}/${r.region}/${r.service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', r.amzDate, scope, createHash('sha256').update(canonicalRequest, 'utf8').digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${r.secretAccessKey}`, date), r.region), r.service), 'aws4_request');
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}
