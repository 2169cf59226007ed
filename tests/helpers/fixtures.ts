// Real-shaped Claude Code hook input for every event and a transcript, copied into the repo
// from shared/fixtures so a clone tests on its own.
import { fileURLToPath } from "node:url";

export const FIXTURES_URL = new URL("../fixtures/", import.meta.url);
export const FIXTURES_DIR = fileURLToPath(FIXTURES_URL);
export const HOOK_INPUT_DIR = fileURLToPath(new URL("hook-input/", FIXTURES_URL));
export const TRANSCRIPT_PATH = fileURLToPath(new URL("transcript.jsonl", FIXTURES_URL));
