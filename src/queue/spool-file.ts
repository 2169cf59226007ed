// The spool's files, zod-free so the hook can write them: the directory layout, the per-user
// key that signs every record, signing and checking, and the durable put of a new record.
// A record arrakis did not write (committed in a repository, copied in by hand) carries no
// valid signature, and the reading side (src/queue/spool.ts) quarantines it unsent.
import { join } from "../paths.ts";
import type { Envelope, SpoolRecord } from "../schema.ts";
import { SPOOL_RECORD_VERSION } from "../schema-plain.ts";
import {
  type DurableWriteOptions,
  ensurePrivateDir,
  readPrivateText,
  UnsafePathError,
  writeFileDurable,
  writeGitignore,
} from "../durable.ts";

/** The spool's directories, one per delivery state, plus files moved aside and session state. */
export const SPOOL_DIRS = ["pending", "processing", "failed", "corrupt", "state"] as const;
export type SpoolDir = (typeof SPOOL_DIRS)[number];

/**
 * Makes the spool's directories private (0700, none a symlink or another user's, checked from
 * `root` down: config.queueRoot; see ensurePrivateDir) and gives a new spool a `.gitignore` of `*`, so its payloads never show up
 * as untracked files wherever it lives.
 */
export async function ensureSpoolDirs(
  queueDir: string,
  root: string,
  dirs: readonly SpoolDir[],
): Promise<void> {
  if (await ensurePrivateDir(queueDir, root)) await writeGitignore(queueDir);
  for (const dir of dirs) await ensurePrivateDir(join(queueDir, dir), queueDir);
}

/** The record of an envelope never tried yet: what a put writes. */
export function newRecord(envelope: Envelope): SpoolRecord {
  return {
    version: SPOOL_RECORD_VERSION,
    envelope,
    delivery: {
      attempts: 0,
      firstAttemptAt: null,
      lastAttemptAt: null,
      nextAttemptAt: null,
      lastError: null,
      lastHttpStatus: null,
    },
  };
}

const SIGNATURE_PREFIX = "hmac-sha256:";
const KEY_PATTERN = /^[0-9a-f]{64}$/;
const keys = new Map<string, Promise<Uint8Array<ArrayBuffer>>>();
const cryptoKeys = new Map<string, Promise<CryptoKey>>();

/**
 * The key that signs this user's spool records: `keyFile` (0600, 32 random bytes as hex),
 * created on first use. Concurrent first uses agree: the key is published with a hard link,
 * which never replaces a file another process published first.
 */
export function spoolKey(keyFile: string): Promise<CryptoKey> {
  return cached(cryptoKeys, keyFile, async () =>
    await crypto.subtle.importKey(
      "raw",
      await spoolKeyBytes(keyFile),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign", "verify"],
    ));
}

/**
 * The same key's bytes, for the reading side's synchronous HMAC (src/queue/spool.ts): WebCrypto
 * is async only, and a check per file then costs a hop to another thread and back.
 */
export function spoolKeyBytes(keyFile: string): Promise<Uint8Array<ArrayBuffer>> {
  return cached(keys, keyFile, () => loadOrCreateKey(keyFile));
}

function cached<T>(map: Map<string, Promise<T>>, keyFile: string, load: () => Promise<T>) {
  let value = map.get(keyFile);
  if (value === undefined) {
    value = load();
    map.set(keyFile, value);
    value.catch(() => map.delete(keyFile));
  }
  return value;
}

async function loadOrCreateKey(keyFile: string): Promise<Uint8Array<ArrayBuffer>> {
  let hex = await readKeyFile(keyFile);
  if (hex === undefined) {
    await ensurePrivateDir(join(keyFile, ".."));
    const fresh = Array.from(
      crypto.getRandomValues(new Uint8Array(32)),
      (byte) => byte.toString(16).padStart(2, "0"),
    ).join("");
    const temp = `${keyFile}.${crypto.randomUUID()}`;
    await writeFileDurable(temp, fresh + "\n");
    try {
      await Deno.link(temp, keyFile);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    } finally {
      await Deno.remove(temp).catch(() => {});
    }
    hex = await readKeyFile(keyFile);
    if (hex === undefined) throw new Error(`${keyFile}: could not create the spool key`);
  }
  return new Uint8Array(hex.match(/../g)!.map((pair) => parseInt(pair, 16)));
}

async function readKeyFile(keyFile: string): Promise<string | undefined> {
  const text = await readPrivateText(keyFile);
  if (text === undefined) return undefined;
  const hex = text.trim();
  if (!KEY_PATTERN.test(hex)) {
    throw new UnsafePathError(
      `${keyFile} is not a spool key (64 hex digits); move it aside to start a new key ` +
        "(records signed with the old one are then quarantined)",
    );
  }
  return hex;
}

function toHex(buffer: ArrayBuffer): string {
  return Array.from(new Uint8Array(buffer), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** The file text of a record: its JSON with a `signature` field over everything else. */
export async function encodeRecord(key: CryptoKey, record: SpoolRecord): Promise<string> {
  const body = JSON.stringify(record);
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body));
  // The signature goes last, so the bytes signed are exactly the file minus that field.
  return `${body.slice(0, -1)},"signature":"${SIGNATURE_PREFIX}${toHex(mac)}"}`;
}

/** What a file's signature claims: how many of its bytes it covers, and the MAC. */
export interface SignedBytes {
  /** The bytes before `,"signature":`; the text signed is these closed with "}". */
  signedLength: number;
  /** The MAC the file claims, as 32 bytes. */
  mac: Uint8Array;
}

/** `,"signature":"hmac-sha256:<64 hex>"}`: how encodeRecord ends every file it writes. */
const SIGNATURE_TAIL_BYTES = `,"signature":"${SIGNATURE_PREFIX}"}`.length + 64;
const SIGNATURE_HEAD = new TextEncoder().encode(`,"signature":"${SIGNATURE_PREFIX}`);
/** What closes the signed text in place of the signature field. */
export const SIGNED_TEXT_END: Uint8Array = new TextEncoder().encode("}");

/**
 * Splits a file's bytes for checking, exactly as encodeRecord wrote them: the signature is the
 * last field, and it covers the bytes before it closed with "}". Undefined when the file does
 * not end that way (unsigned, or not written by arrakis). Checking the file's bytes themselves,
 * not a re-serialization of its parse, is what lets a reader check before it decodes or parses
 * anything; the tail is ASCII, so its bytes are its characters. The caller computes and
 * compares the MAC (src/queue/spool.ts): this module stays free of node:crypto, which the hook
 * would pay to load.
 */
export function signedBytes(bytes: Uint8Array): SignedBytes | undefined {
  if (bytes.length <= SIGNATURE_TAIL_BYTES) return undefined;
  const cut = bytes.length - SIGNATURE_TAIL_BYTES;
  for (let index = 0; index < SIGNATURE_HEAD.length; index++) {
    if (bytes[cut + index] !== SIGNATURE_HEAD[index]) return undefined;
  }
  // `"}` after the 64 hex digits.
  if (bytes[bytes.length - 2] !== 0x22 || bytes[bytes.length - 1] !== 0x7d) return undefined;
  const mac = new Uint8Array(32);
  let at = cut + SIGNATURE_HEAD.length;
  for (let index = 0; index < mac.length; index++) {
    const high = hexDigit(bytes[at++]);
    const low = hexDigit(bytes[at++]);
    if (high < 0 || low < 0) return undefined;
    mac[index] = (high << 4) | low;
  }
  return { signedLength: cut, mac };
}

/** A lowercase hex digit's value (as encodeRecord writes them), else -1. */
function hexDigit(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  return -1;
}

export interface PutOptions extends DurableWriteOptions {
  /** The spool key (spoolKey(config.spoolKeyFile)). */
  key: CryptoKey;
}

/** Durably writes a new signed record into pending/<requestId>.json (dirs must exist). */
export async function putRecord(
  queueDir: string,
  envelope: Envelope,
  options: PutOptions,
): Promise<{ id: string; path: string; record: SpoolRecord }> {
  const record = newRecord(envelope);
  const path = join(queueDir, "pending", `${envelope.requestId}.json`);
  await writeFileDurable(path, await encodeRecord(options.key, record), options);
  return { id: envelope.requestId, path, record };
}
