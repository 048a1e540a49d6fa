/**
 * Checks inside the files of the tree (see architecture.ts): function length, and where a pass's
 * status is written. From the syntax alone: no type checker, so the pass rule reads the shapes of
 * Pass and Attempt from the model and tells a pass from an attempt or a row by its keys.
 */
import ts from 'typescript';
import { lineOf, shown, unitOf, type Tree } from './architecture.js';

type FunctionNode = ts.FunctionLikeDeclaration & { body: ts.Node };

function isFunction(node: ts.Node): node is FunctionNode {
  const kinds = [
    ts.isFunctionDeclaration,
    ts.isFunctionExpression,
    ts.isArrowFunction,
    ts.isMethodDeclaration,
    ts.isConstructorDeclaration,
    ts.isGetAccessorDeclaration,
    ts.isSetAccessorDeclaration,
  ];
  return kinds.some((is) => is(node)) && (node as ts.FunctionLikeDeclaration).body !== undefined;
}

const nameText = (name: ts.Node, file: ts.SourceFile) =>
  ts.isIdentifier(name) || ts.isStringLiteralLike(name) || ts.isNumericLiteral(name) ? name.text : name.getText(file);

/**
 * A function's name as a reader finds it: its own, its variable's or property's, or the call it is
 * given to; inside another function, after that one's name ('registerSubmit › callback of action()').
 */
export function functionName(node: FunctionNode, file: ts.SourceFile): string {
  const outer = enclosingFunction(node.parent);
  const own = ownName(node, file);
  return outer === undefined ? own : `${functionName(outer, file)} › ${own}`;
}

function ownName(node: FunctionNode, file: ts.SourceFile): string {
  const parent = node.parent;
  const owner = ts.isClassLike(parent) ? `${parent.name?.text ?? 'class'}.` : '';
  if (ts.isConstructorDeclaration(node)) return `${owner}constructor`;
  if (node.name !== undefined) return owner + nameText(node.name, file);
  if (
    (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) &&
    parent.initializer === node
  )
    return nameText(parent.name, file);
  if ((ts.isCallExpression(parent) || ts.isNewExpression(parent)) && parent.expression !== node) {
    const callee = parent.expression;
    const called = ts.isPropertyAccessExpression(callee) ? callee.name.text : callee.getText(file);
    return `callback of ${called.length > 30 ? 'a call' : called}()`;
  }
  return 'anonymous function';
}

function enclosingFunction(node: ts.Node | undefined): FunctionNode | undefined {
  for (let at = node; at !== undefined; at = at.parent) if (isFunction(at)) return at;
  return undefined;
}

function walk(file: ts.SourceFile, visit: (node: ts.Node) => void): void {
  const each = (node: ts.Node): void => {
    visit(node);
    ts.forEachChild(node, each);
  };
  each(file);
}

/** Every function (declaration, method, arrow, expression) longer than max lines, from its start to its end. */
export function longFunctions(tree: Tree, max: number): string[] {
  const violations: string[] = [];
  for (const [path, file] of tree.files)
    walk(file, (node) => {
      if (!isFunction(node)) return;
      const start = lineOf(file, node);
      const lines = file.getLineAndCharacterOfPosition(node.getEnd()).line + 1 - start + 1;
      if (lines > max)
        violations.push(`${shown(path)}:${start} ${functionName(node, file)}: ${lines} lines (max ${max})`);
    });
  return violations;
}

/** What the rule needs to know of the model: the pass statuses, and the keys of a Pass and of an Attempt. */
export interface PassShape {
  statuses: readonly string[];
  passKeys: readonly string[];
  attemptKeys: readonly string[];
}

/** PASS_STATUSES and the interfaces Pass and Attempt, wherever in the tree they are declared. */
export function passShapeOf(tree: Tree): PassShape | string {
  let statuses: string[] | undefined;
  const keys = new Map<string, string[]>();
  for (const file of tree.files.values())
    walk(file, (node) => {
      if (ts.isVariableDeclaration(node) && nameText(node.name, file) === 'PASS_STATUSES') {
        let value = node.initializer;
        while (value !== undefined && (ts.isAsExpression(value) || ts.isSatisfiesExpression(value)))
          value = value.expression;
        if (value !== undefined && ts.isArrayLiteralExpression(value))
          statuses = value.elements.filter(ts.isStringLiteralLike).map((element) => element.text);
      }
      if (ts.isInterfaceDeclaration(node) && ['Pass', 'Attempt'].includes(node.name.text))
        // an interface declared twice in one scope is one interface with both members (declaration merging)
        keys.set(node.name.text, [
          ...(keys.get(node.name.text) ?? []),
          ...node.members.flatMap((member) => (member.name ? [nameText(member.name, file)] : [])),
        ]);
    });
  const [passKeys, attemptKeys] = [keys.get('Pass'), keys.get('Attempt')];
  if (statuses === undefined || passKeys === undefined || attemptKeys === undefined)
    return 'the tree declares no `PASS_STATUSES = [...]`, `interface Pass` or `interface Attempt`';
  return { statuses, passKeys, attemptKeys };
}

/** A place allowed to write a pass status outside passes/: a file and the function that does it, and why. */
export interface Allowed {
  file: string;
  function: string;
  why: string;
}

/**
 * A pass's status written outside the folders that own it: an object literal shaped like a pass
 * (only keys a Pass has, and either one that an Attempt has not or a spread: `{ ...stored, status }`)
 * whose `status` is set to a pass status, a choice among them or a computed value (a copy of an
 * existing `x.status` is not a write); or `x.status = '<pass status>'` in place. An attempt
 * (`started`, `finished`, `reason` …) and a row for output (`module`, `run` …) are not passes.
 */
export function passStatusWrites(
  tree: Tree,
  shape: PassShape,
  allowed: readonly Allowed[],
  owners: readonly string[] = ['passes', 'model'],
): string[] {
  const passOnly = new Set(shape.passKeys.filter((key) => !shape.attemptKeys.includes(key)));
  const passKeys = new Set(shape.passKeys);
  const statuses = new Set(shape.statuses);
  const used = new Set<Allowed>();
  const violations: string[] = [];
  for (const [path, file] of tree.files) {
    if (owners.includes(unitOf(path))) continue;
    walk(file, (node) => {
      const literal = ts.isObjectLiteralExpression(node);
      const value = literal ? passStatusOf(node, file, passKeys, passOnly, statuses) : statusMutation(node, statuses);
      if (value === undefined) return;
      const what = `${literal ? 'status:' : '.status ='} ${clip(value.getText(file))}`;
      const outer = enclosingFunction(node.parent);
      const where = outer === undefined ? '(top level)' : functionName(outer, file);
      const allowance = allowed.find((entry) => entry.file === path && entry.function === where);
      if (allowance !== undefined) used.add(allowance);
      else violations.push(`${shown(path)}:${lineOf(file, value)} ${what} on a pass, in ${where}`);
    });
  }
  for (const entry of allowed)
    if (!used.has(entry))
      violations.push(
        `allowed ${shown(entry.file)} ${entry.function} writes no pass status any more: remove it from the list`,
      );
  return violations;
}

const clip = (text: string) => {
  const line = text.replace(/\s+/g, ' ');
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
};

function passStatusOf(
  literal: ts.ObjectLiteralExpression,
  file: ts.SourceFile,
  passKeys: ReadonlySet<string>,
  passOnly: ReadonlySet<string>,
  statuses: ReadonlySet<string>,
): ts.Node | undefined {
  const parent = literal.parent;
  const destructured =
    ts.isBinaryExpression(parent) && parent.left === literal && parent.operatorToken.kind === ts.SyntaxKind.EqualsToken;
  if (destructured) return undefined;
  let value: ts.Expression | undefined;
  const keys: string[] = [];
  for (const property of literal.properties) {
    if (property.name === undefined || ts.isComputedPropertyName(property.name)) continue;
    const key = nameText(property.name, file);
    keys.push(key);
    if (key !== 'status') continue;
    if (ts.isPropertyAssignment(property)) value = property.initializer;
    else if (ts.isShorthandPropertyAssignment(property)) value = property.name;
  }
  const spreads = literal.properties.some(ts.isSpreadAssignment);
  const passLike = keys.every((key) => passKeys.has(key)) && (spreads || keys.some((key) => passOnly.has(key)));
  return value !== undefined && passLike && setsStatus(value, statuses, true) ? value : undefined;
}

function statusMutation(node: ts.Node, statuses: ReadonlySet<string>): ts.Node | undefined {
  if (!ts.isBinaryExpression(node) || node.operatorToken.kind !== ts.SyntaxKind.EqualsToken) return undefined;
  const target = node.left;
  const named =
    (ts.isPropertyAccessExpression(target) && target.name.text === 'status') ||
    (ts.isElementAccessExpression(target) &&
      ts.isStringLiteralLike(target.argumentExpression) &&
      target.argumentExpression.text === 'status');
  return named && setsStatus(node.right, statuses, false) ? node.right : undefined;
}

/** Whether a value sets a status: a pass status literal, a choice with one, or (computed) a name or a call. */
function setsStatus(value: ts.Expression, statuses: ReadonlySet<string>, computed: boolean): boolean {
  let inner = value;
  while (
    ts.isParenthesizedExpression(inner) ||
    ts.isAsExpression(inner) ||
    ts.isSatisfiesExpression(inner) ||
    ts.isNonNullExpression(inner) ||
    ts.isTypeAssertionExpression(inner)
  )
    inner = inner.expression;
  if (ts.isStringLiteralLike(inner)) return statuses.has(inner.text);
  if (ts.isConditionalExpression(inner))
    return setsStatus(inner.whenTrue, statuses, computed) || setsStatus(inner.whenFalse, statuses, computed);
  const either = [
    ts.SyntaxKind.QuestionQuestionToken,
    ts.SyntaxKind.BarBarToken,
    ts.SyntaxKind.AmpersandAmpersandToken,
  ];
  if (ts.isBinaryExpression(inner) && either.includes(inner.operatorToken.kind))
    return setsStatus(inner.left, statuses, computed) || setsStatus(inner.right, statuses, computed);
  return computed && (ts.isIdentifier(inner) || ts.isCallExpression(inner) || ts.isAwaitExpression(inner));
}
