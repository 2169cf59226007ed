// Merging the arrakis hooks block into a Claude Code settings object: other settings and other
// hooks are never touched, arrakis's own entries are recognised by their command and appear
// exactly once per event, and uninstalling removes only those.
import template from "../../hooks/settings.json" with { type: "json" };
import { REGISTERED_HOOK_EVENTS, UNREGISTERED_HOOK_EVENTS } from "../schema.ts";

export interface HookCommand {
  type: string;
  command?: string;
  timeout?: number;
  async?: boolean;
  [key: string]: unknown;
}
export interface MatcherGroup {
  matcher?: string;
  hooks: HookCommand[];
  [key: string]: unknown;
}
export type Settings = Record<string, unknown> & { hooks?: Record<string, MatcherGroup[]> };

export const DEFAULT_COMMAND = "arrakis hook";

/** A command is ours when it runs `arrakis hook` (any path to arrakis, or main.ts, any flags). */
export function isOwnCommand(command: unknown): boolean {
  return typeof command === "string" &&
    /(?:^|[\s/"'])arrakis(?:\.exe)?["']?\s+hook(?:\s|$)|main\.ts["']?\s+hook(?:\s|$)/.test(command);
}

/** The block from hooks/settings.json, pointing at `command`. */
export function hooksBlock(command = DEFAULT_COMMAND): Record<string, MatcherGroup[]> {
  const block = structuredClone(template.hooks) as Record<string, MatcherGroup[]>;
  for (const groups of Object.values(block)) {
    for (const group of groups) for (const hook of group.hooks) hook.command = command;
  }
  // The template must cover every event arrakis registers and none it must not: a mismatch is
  // a packaging bug.
  for (const event of REGISTERED_HOOK_EVENTS) {
    if (!block[event]) throw new Error(`hooks/settings.json lacks the ${event} event`);
  }
  for (const event of UNREGISTERED_HOOK_EVENTS) {
    if (block[event]) throw new Error(`hooks/settings.json must not register ${event}`);
  }
  return block;
}

export class SettingsError extends Error {
  override name = "SettingsError";
}

function checkShape(settings: unknown): Settings {
  if (settings === null || typeof settings !== "object" || Array.isArray(settings)) {
    throw new SettingsError("settings file is not a JSON object; not touching it");
  }
  const hooks = (settings as Settings).hooks;
  if (
    hooks !== undefined && (hooks === null || typeof hooks !== "object" || Array.isArray(hooks))
  ) {
    throw new SettingsError(`"hooks" is not an object; not touching it`);
  }
  for (const [event, groups] of Object.entries(hooks ?? {})) {
    if (!Array.isArray(groups)) throw new SettingsError(`"hooks.${event}" is not an array`);
  }
  return settings as Settings;
}

/** Groups of one event without arrakis's own commands (groups left empty by that are dropped). */
function withoutOwn(groups: MatcherGroup[]): MatcherGroup[] {
  const out: MatcherGroup[] = [];
  for (const group of groups) {
    if (!group || !Array.isArray(group.hooks)) {
      out.push(group);
      continue;
    }
    const hooks = group.hooks.filter((hook) => !isOwnCommand(hook?.command));
    if (hooks.length === group.hooks.length) out.push(group);
    else if (hooks.length > 0) out.push({ ...group, hooks });
  }
  return out;
}

/** Settings with the arrakis block installed; the input is not modified. */
export function installHooks(existing: unknown, command = DEFAULT_COMMAND): Settings {
  const settings = structuredClone(checkShape(existing));
  const hooks: Record<string, MatcherGroup[]> = settings.hooks ?? {};
  for (const [event, wanted] of Object.entries(hooksBlock(command))) {
    const current = hooks[event] ?? [];
    const own = current.filter((group) =>
      group?.hooks?.some((hook) => isOwnCommand(hook?.command))
    );
    // Already exactly as wanted: leave it where the user may have moved it.
    if (own.length === 1 && JSON.stringify(own[0]) === JSON.stringify(wanted[0])) continue;
    hooks[event] = [...withoutOwn(current), ...wanted];
  }
  settings.hooks = hooks;
  return settings;
}

/** Settings with every arrakis entry removed (and events or hooks left empty by that). */
export function uninstallHooks(existing: unknown): Settings {
  const settings = structuredClone(checkShape(existing));
  if (!settings.hooks) return settings;
  for (const [event, groups] of Object.entries(settings.hooks)) {
    const kept = withoutOwn(groups);
    if (kept.length === groups.length && kept.every((group, i) => group === groups[i])) continue;
    if (kept.length > 0) settings.hooks[event] = kept;
    else delete settings.hooks[event];
  }
  if (Object.keys(settings.hooks).length === 0) delete settings.hooks;
  return settings;
}
