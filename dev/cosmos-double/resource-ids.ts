import { randomBytes } from 'node:crypto';

/**
 * Resource ids (`_rid`) as Cosmos prints them: base64 with `-` in place of `/` (the SDK turns it back
 * before decoding, session/sessionContainer.js). A database has 4 bytes, a container its database's 4
 * plus 4 of its own (the SDK checks for exactly 8 before it keeps session tokens), a document its
 * container's 8 plus 8.
 */

function newRid(bytes: Buffer): string {
  return bytes.toString('base64').replace(/\//g, '-');
}

function ridBytes(rid: string): Buffer {
  return Buffer.from(rid.replace(/-/g, '/'), 'base64');
}

export function newDatabaseRid(): string {
  return newRid(randomBytes(4));
}

export function newContainerRid(databaseRid: string): string {
  return newRid(Buffer.concat([ridBytes(databaseRid), randomBytes(4)]));
}

/** A document's `_rid`: its container's followed by its creation order, so `_rid`s never repeat. */
export function documentRid(containerRid: string, seq: number): string {
  const suffix = Buffer.alloc(8);
  suffix.writeBigUInt64BE(BigInt(seq));
  return newRid(Buffer.concat([ridBytes(containerRid), suffix]));
}

/** A resource `_etag`, shaped like Cosmos's quoted GUID-like ETags. */
export function newEtag(): string {
  return `"${randomBytes(16)
    .toString('hex')
    .replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-')}"`;
}
