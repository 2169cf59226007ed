// The hook's node:path-free path functions give node:path's answers.
import assert from "node:assert/strict";
import * as node from "node:path";
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
