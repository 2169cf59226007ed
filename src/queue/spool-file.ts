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

/** What a file's signature claims: the text it covers and the MAC, as 64 hex digits. */
export interface SignedText {
  signed: string;
  macHex: string;
}

/** `,"signature":"hmac-sha256:<64 hex>"}`: how encodeRecord ends every file it writes. */
const SIGNATURE_TAIL_CHARS = `,"signature":"${SIGNATURE_PREFIX}"}`.length + 64;

/**
 * Splits a file's text for checking, exactly as encodeRecord wrote it: the signature is the
 * last field, and it covers the text before it closed with "}". Undefined when the file does
 * not end that way (unsigned, or not written by arrakis). Checking the text itself, not a
 * re-serialization of its parse, is what lets a reader check before it parses; a file arrakis
 * wrote round-trips either way. The caller computes and compares the MAC (src/queue/spool.ts):
 * this module stays free of node:crypto, which the hook would pay to load.
 */
export function signedText(text: string): SignedText | undefined {
  if (text.length <= SIGNATURE_TAIL_CHARS) return undefined;
  const cut = text.length - SIGNATURE_TAIL_CHARS;
  const tail = text.slice(cut);
  const head = `,"signature":"${SIGNATURE_PREFIX}`;
  if (!tail.startsWith(head) || !tail.endsWith(`"}`)) return undefined;
  const macHex = tail.slice(head.length, -2);
  if (!/^[0-9a-f]{64}$/.test(macHex)) return undefined;
  return { signed: `${text.slice(0, cut)}}`, macHex };
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
