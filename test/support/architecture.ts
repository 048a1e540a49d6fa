/**
 * Checks over the source tree, from the text of its files alone (the TypeScript parser, no type
 * checker, no program): fast enough to run with the unit tests. Each check returns every violation
 * as one line that names the file and line, so a failing test says what to fix.
 *
 * Paths are relative to src/ and written with `/` ('client/claim.ts'); messages add 'src/'.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, posix, relative, sep } from 'node:path';
import ts from 'typescript';

export interface Tree {
  files: ReadonlyMap<string, ts.SourceFile>;
  imports: readonly ImportEdge[];
}

/** One import of a file of the tree by another: `import`, `export … from`, `import()`, `import('…').T`. */
export interface ImportEdge {
  from: string;
  to: string;
  line: number;
  typeOnly: boolean;
}

export const shown = (path: string) => `src/${path}`;

/** Every .ts file under root (not .d.ts), by its path relative to root. */
export function readSources(root: string): Map<string, string> {
  const sources = new Map<string, string>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
    const file = join(entry.parentPath, entry.name);
    sources.set(relative(root, file).split(sep).join('/'), readFileSync(file, 'utf8'));
  }
  return sources;
}

export function parseTree(sources: ReadonlyMap<string, string>): Tree {
  const files = new Map<string, ts.SourceFile>();
  for (const [path, text] of [...sources].sort(([a], [b]) => a.localeCompare(b)))
    files.set(path, ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS));
  const imports = [...files].flatMap(([path, file]) => importsOf(file, path, files));
  return { files, imports };
}

export const lineOf = (file: ts.SourceFile, node: ts.Node) =>
  file.getLineAndCharacterOfPosition(node.getStart(file)).line + 1;

function importsOf(file: ts.SourceFile, path: string, files: ReadonlyMap<string, unknown>): ImportEdge[] {
  const edges: ImportEdge[] = [];
  const add = (node: ts.Node, specifier: ts.Node | undefined, typeOnly: boolean) => {
    if (specifier === undefined || !ts.isStringLiteralLike(specifier)) return;
    const to = resolve(path, specifier.text, files);
    if (to !== undefined) edges.push({ from: path, to, line: lineOf(file, node), typeOnly });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) add(node, node.moduleSpecifier, typeOnlyImport(node.importClause));
    else if (ts.isExportDeclaration(node)) add(node, node.moduleSpecifier, typeOnlyExport(node));
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword)
      add(node, node.arguments[0], false);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node, node.argument.literal, true);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference))
      add(node, node.moduleReference.expression, node.isTypeOnly);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return edges;
}

function typeOnlyImport(clause: ts.ImportClause | undefined): boolean {
  if (clause === undefined) return false;
  if (clause.isTypeOnly) return true;
  const named = clause.namedBindings;
  return (
    clause.name === undefined &&
    named !== undefined &&
    ts.isNamedImports(named) &&
    named.elements.length > 0 &&
    named.elements.every((element) => element.isTypeOnly)
  );
}

function typeOnlyExport(node: ts.ExportDeclaration): boolean {
  const clause = node.exportClause;
  if (node.isTypeOnly) return true;
  return (
    clause !== undefined &&
    ts.isNamedExports(clause) &&
    clause.elements.length > 0 &&
    clause.elements.every((element) => element.isTypeOnly)
  );
}

/** A relative specifier to the file of the tree it names ('./x.js' is './x.ts'); others are not ours. */
function resolve(from: string, specifier: string, files: ReadonlyMap<string, unknown>): string | undefined {
  if (!specifier.startsWith('./') && !specifier.startsWith('../')) return undefined;
  const target = posix.normalize(posix.join(posix.dirname(from), specifier));
  const bare = target.replace(/\.(js|ts)$/, '');
  return [`${bare}.ts`, `${target}.ts`, `${target}/index.ts`].find((candidate) => files.has(candidate));
}

/** The import edges between distinct files, one per pair (type-only only if every import of the pair is). */
function edgesByFile(imports: readonly ImportEdge[]): Map<string, Map<string, ImportEdge>> {
  const graph = new Map<string, Map<string, ImportEdge>>();
  for (const edge of imports) {
    const targets = graph.get(edge.from) ?? new Map<string, ImportEdge>();
    graph.set(edge.from, targets);
    const known = targets.get(edge.to);
    if (known === undefined || (known.typeOnly && !edge.typeOnly)) targets.set(edge.to, edge);
  }
  return graph;
}

/**
 * Cycles of a directed graph: for each node of each strongly connected component, the shortest
 * cycle through it, each cycle once (as a list of nodes starting from its smallest).
 */
export function cyclesOf(graph: ReadonlyMap<string, ReadonlyMap<string, unknown>>): string[][] {
  const found = new Map<string, string[]>();
  for (const component of components(graph)) {
    const inside = new Set(component);
    for (const start of component) {
      const cycle = shortestCycle(graph, start, inside);
      if (cycle === undefined) continue;
      const first = cycle.indexOf([...cycle].sort()[0] ?? start);
      const rotated = [...cycle.slice(first), ...cycle.slice(0, first)];
      found.set(rotated.join('\n'), rotated);
    }
  }
  return [...found.values()].sort((a, b) => a.join().localeCompare(b.join()));
}

/** Tarjan's strongly connected components, iterative so a deep graph does not overflow the stack. */
function components(graph: ReadonlyMap<string, ReadonlyMap<string, unknown>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const result: string[][] = [];
  for (const root of graph.keys()) {
    if (index.has(root)) continue;
    const work: Array<{ node: string; next: string[] }> = [];
    const enter = (node: string) => {
      index.set(node, index.size);
      low.set(node, index.get(node) ?? 0);
      stack.push(node);
      onStack.add(node);
      work.push({ node, next: [...(graph.get(node)?.keys() ?? [])] });
    };
    enter(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      if (frame === undefined) break;
      const target = frame.next.shift();
      if (target !== undefined) {
        if (!index.has(target)) enter(target);
        else if (onStack.has(target)) low.set(frame.node, Math.min(low.get(frame.node) ?? 0, index.get(target) ?? 0));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent !== undefined) low.set(parent.node, Math.min(low.get(parent.node) ?? 0, low.get(frame.node) ?? 0));
      if (low.get(frame.node) !== index.get(frame.node)) continue;
      const component: string[] = [];
      for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
        onStack.delete(node);
        component.push(node);
        if (node === frame.node) break;
      }
      const self = graph.get(frame.node)?.has(frame.node) === true;
      if (component.length > 1 || self) result.push(component.sort());
    }
  }
  return result;
}

function shortestCycle(
  graph: ReadonlyMap<string, ReadonlyMap<string, unknown>>,
  start: string,
  inside: ReadonlySet<string>,
): string[] | undefined {
  const previous = new Map<string, string>();
  const queue = [start];
  for (let node = queue.shift(); node !== undefined; node = queue.shift()) {
    for (const target of graph.get(node)?.keys() ?? []) {
      if (!inside.has(target)) continue;
      if (target === start) {
        const path = [node];
        for (let step = previous.get(node); step !== undefined; step = previous.get(step)) path.unshift(step);
        return path;
      }
      if (previous.has(target)) continue;
      previous.set(target, node);
      queue.push(target);
    }
  }
  return undefined;
}

/** Every import cycle between files, as a chain: each file with the line of its import of the next. */
export function importCycles(tree: Tree): string[] {
  const graph = edgesByFile(tree.imports);
  return cyclesOf(graph).map((cycle) => {
    const steps = cycle.map((file, at) => {
      const edge = graph.get(file)?.get(cycle[(at + 1) % cycle.length] ?? file);
      return `${shown(file)}:${edge?.line ?? '?'}${edge?.typeOnly === true ? ' (type)' : ''}`;
    });
    return `${steps.join(' → ')} → ${shown(cycle[0] ?? '')}`;
  });
}

/** A layer of src/: folders (or top-level files; '*.ts' is every top-level file not named elsewhere). */
export interface Layer {
  name: string;
  units: readonly string[];
}

/** What a file belongs to for the layer rule: its folder under src/, or itself for a top-level file. */
export const unitOf = (path: string) => (path.includes('/') ? (path.split('/')[0] ?? path) : path);

/**
 * Imports go to the same layer or a lower one (layers are listed low to high). Between different
 * folders of one layer imports are allowed while they make no cycle between the folders. A folder
 * in no layer is a violation too, so the table stays whole.
 */
export function layerViolations(tree: Tree, layers: readonly Layer[]): string[] {
  const levelOf = (unit: string) => {
    const named = layers.findIndex((layer) => layer.units.includes(unit));
    if (named >= 0 || unit.includes('/')) return named;
    return unit.endsWith('.ts') ? layers.findIndex((layer) => layer.units.includes('*.ts')) : -1;
  };
  const violations: string[] = [];
  const placeless = new Set<string>();
  for (const path of tree.files.keys()) {
    const unit = unitOf(path);
    if (levelOf(unit) < 0 && !placeless.has(unit)) {
      placeless.add(unit);
      violations.push(`${shown(unit.endsWith('.ts') ? unit : `${unit}/`)} is in no layer: add it to the layer table`);
    }
  }
  const sameLayer = new Map<string, Map<string, ImportEdge[]>>();
  for (const edge of tree.imports) {
    const [from, to] = [unitOf(edge.from), unitOf(edge.to)];
    const [low, high] = [levelOf(from), levelOf(to)];
    if (from === to || low < 0 || high < 0) continue;
    if (high > low) {
      const what = `${layers[low]?.name} (layer ${low}) may not import ${layers[high]?.name} (layer ${high})`;
      violations.push(`${shown(edge.from)}:${edge.line} imports ${shown(edge.to)}: ${what}`);
    } else if (high === low) {
      const targets = sameLayer.get(from) ?? new Map<string, ImportEdge[]>();
      sameLayer.set(from, targets);
      targets.set(to, [...(targets.get(to) ?? []), edge]);
    }
  }
  for (const cycle of cyclesOf(sameLayer)) {
    const steps = cycle.map((unit, at) => {
      const next = cycle[(at + 1) % cycle.length] ?? unit;
      const edges = sameLayer.get(unit)?.get(next) ?? [];
      const where = edges.map((edge) => `${shown(edge.from)}:${edge.line} imports ${shown(edge.to)}`);
      return `${unit} → ${next} (${where.join('; ')})`;
    });
    violations.push(`same-layer cycle between folders: ${steps.join(', ')}`);
  }
  return violations;
}

/** Only the enqueue loop itself (client/) and the command that starts it (cli/) import from client/. */
export function clientImports(tree: Tree): string[] {
  return tree.imports
    .filter((edge) => unitOf(edge.to) === 'client' && !['client', 'cli'].includes(unitOf(edge.from)))
    .map((edge) => `${shown(edge.from)}:${edge.line} imports ${shown(edge.to)}`);
}
