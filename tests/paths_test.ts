// The hook's node:path-free path functions give node:path's answers.
import assert from "node:assert/strict";
import * as node from "node:path";
import { fileURLToPath } from "node:url";
import * as ours from "../src/paths.ts";

const PATHS = [
  "/",
  "/a",
  "/a/",
  "/a/b/c",
  "/a//b/./c/../d/",
  "a",
  "a/b",
  "./a/../..",
  "",
  ".",
  "..",
  "/..",
  "/a/b/../../..",
  "relative/dir/",
];

Deno.test("join, dirname, basename, resolve, relative, isAbsolute agree with node:path", () => {
  assert.equal(ours.sep, node.sep);
  for (const path of PATHS) {
    assert.equal(ours.dirname(path), node.dirname(path), `dirname(${path})`);
    assert.equal(ours.basename(path), node.basename(path), `basename(${path})`);
    assert.equal(ours.resolve(path), node.resolve(path), `resolve(${path})`);
    assert.equal(ours.isAbsolute(path), node.isAbsolute(path), `isAbsolute(${path})`);
    for (const other of PATHS) {
      assert.equal(ours.join(path, other), node.join(path, other), `join(${path}, ${other})`);
      assert.equal(
        ours.relative(path, other),
        node.relative(path, other),
        `relative(${path}, ${other})`,
      );
    }
  }
  assert.equal(ours.join("/a", "b", "", "c.json"), node.join("/a", "b", "", "c.json"));
  assert.equal(ours.join(), node.join());
});

Deno.test("fromFileUrl gives node:url's fileURLToPath answers", () => {
  for (
    const url of [
      "file:///",
      "file:///a/b/main.ts",
      "file:///home/d%C3%A9v/a%20b/hook.js",
      "file:///tmp/50%25/x",
      new URL("file:///x/y#frag"),
    ]
  ) {
    assert.equal(ours.fromFileUrl(url), fileURLToPath(url), String(url));
  }
  for (const url of ["https://example.com/a", "file://host/a", "file:///a%2Fb"]) {
    assert.throws(() => ours.fromFileUrl(url), TypeError, url);
    assert.throws(() => fileURLToPath(url), TypeError, url);
  }
});
