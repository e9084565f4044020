import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Language, type Node, Parser } from 'web-tree-sitter';

/*
 * infra/ read without a Bicep compiler (none can be installed here): tree-sitter-bicep parses each file,
 * these helpers walk the syntax trees, and `evaluate` computes the plain expressions a template uses for
 * its decisions (parameters, variables, conditions, ternaries, interpolated strings), so a test can ask
 * "with usePrivateNetworking=true, which endpoints are deployed?" instead of matching source text.
 */

export interface BicepFile {
  /** Path relative to infra/, the name used in messages ("modules/postgres.bicep"). */
  name: string;
  path: string;
  root: Node;
}

/** The parser, or an error saying why it is missing: infra/ cannot be checked without it, so it is never skipped. */
export async function loadBicepParser(): Promise<Parser> {
  const require = createRequire(import.meta.url);
  let wasm: string;
  try {
    wasm = require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm');
  } catch (error) {
    throw new Error('tree-sitter-bicep is not installed (a devDependency): infra/ cannot be checked without it', { cause: error });
  }
  await Parser.init();
  return new Parser().setLanguage(await Language.load(wasm));
}

/** Every .bicep file under `infraDir`, parsed. */
export function parseInfra(parser: Parser, infraDir: string): Map<string, BicepFile> {
  const files = new Map<string, BicepFile>();
  for (const path of listBicepFiles(infraDir)) {
    const name = relative(infraDir, path).split(sep).join('/');
    const tree = parser.parse(readFileSync(path, 'utf8'));
    if (!tree) throw new Error(`tree-sitter returned no tree for ${name}`);
    files.set(name, { name, path, root: tree.rootNode });
  }
  return files;
}

function listBicepFiles(dir: string): string[] {
  return readdirSync(dir)
    .map((entry) => join(dir, entry))
    .flatMap((path) => (statSync(path).isDirectory() ? listBicepFiles(path) : path.endsWith('.bicep') ? [path] : []))
    .sort();
}

/** Each ERROR or MISSING node as "file:line:column what", in document order. */
export function syntaxProblems(root: Node, fileName: string): string[] {
  const problems: string[] = [];
  const visit = (node: Node) => {
    const at = `${fileName}:${node.startPosition.row + 1}:${node.startPosition.column + 1}`;
    if (node.isMissing) {
      problems.push(`${at} missing ${node.type}`);
    } else if (node.isError) {
      problems.push(`${at} syntax error at ${JSON.stringify(node.text.split('\n')[0]?.slice(0, 60))}`);
      return;
    }
    for (const child of present(node.children)) visit(child);
  };
  visit(root);
  return problems;
}

export function present<T>(items: readonly (T | null | undefined)[]): T[] {
  return items.filter((item): item is T => item != null);
}

export function line(node: Node): number {
  return node.startPosition.row + 1;
}

/** Top-level declarations of one kind: parameter_declaration, variable_declaration, resource_declaration, ... */
export function declarations(root: Node, type: string): Node[] {
  return present(root.namedChildren).filter((node) => node.type === type);
}

export function declaredName(declaration: Node): string {
  return present(declaration.namedChildren).find((node) => node.type === 'identifier')?.text ?? '';
}

export function declarationNamed(root: Node, type: string, name: string): Node {
  const found = declarations(root, type).find((declaration) => declaredName(declaration) === name);
  if (!found) throw new Error(`no ${type} named ${name}`);
  return found;
}

export function hasDefault(parameter: Node): boolean {
  return present(parameter.children).some((node) => node.type === '=');
}

/** The expression after `=` of a param (its default), var or output. */
export function valueOf(declaration: Node): Node {
  const children = present(declaration.children);
  const equals = children.findIndex((node) => node.type === '=');
  const value = equals >= 0 ? children.slice(equals + 1).find((node) => node.isNamed) : undefined;
  if (!value) throw new Error(`${declaration.type} ${declaredName(declaration)} has no value`);
  return value;
}

/** `@name(...)` decorator calls just before a declaration. */
export function decoratorCalls(declaration: Node): Node[] {
  const previous = declaration.previousNamedSibling;
  if (previous?.type !== 'decorators') return [];
  return present(previous.namedChildren).flatMap((decorator) =>
    present(decorator.namedChildren).filter((n) => n.type === 'call_expression'),
  );
}

export function decoratorNames(declaration: Node): string[] {
  return decoratorCalls(declaration).map((call) => call.childForFieldName('function')?.text ?? '');
}

/** The single argument of `@name(argument)`, or undefined when the decorator is absent. */
export function decoratorArgument(declaration: Node, name: string): Node | undefined {
  const call = decoratorCalls(declaration).find((c) => c.childForFieldName('function')?.text === name);
  return present(call?.childForFieldName('arguments')?.namedChildren ?? [])[0];
}

export function allowedValues(parameter: Node): string[] | undefined {
  const array = decoratorArgument(parameter, 'allowed');
  return array?.type === 'array' ? present(array.namedChildren).map((item) => literalString(item) ?? item.text) : undefined;
}

/** The text of a string literal without interpolation; undefined for anything else. */
export function literalString(node: Node | null | undefined): string | undefined {
  if (node?.type !== 'string') return undefined;
  const parts = present(node.namedChildren);
  if (parts.some((part) => part.type === 'interpolation')) return undefined;
  return parts.map((part) => (part.type === 'escape_sequence' ? part.text.slice(1) : part.text)).join('');
}

export function propertyKey(property: Node): string | undefined {
  const key = property.firstNamedChild;
  return key?.type === 'string' ? literalString(key) : key?.text;
}

export function objectProperties(object: Node | null | undefined): Map<string, Node> {
  const properties = new Map<string, Node>();
  if (object?.type !== 'object') return properties;
  for (const property of present(object.namedChildren).filter((n) => n.type === 'object_property')) {
    const key = propertyKey(property);
    const value = property.lastNamedChild;
    if (key !== undefined && value) properties.set(key, value);
  }
  return properties;
}

export function propertyValue(object: Node | null | undefined, key: string): Node | undefined {
  return objectProperties(object).get(key);
}

/** A nested property (`properties.network.publicNetworkAccess`) of an object literal. */
export function propertyPath(object: Node | null | undefined, path: string): Node | undefined {
  return path.split('.').reduce<Node | undefined>((current, key) => propertyValue(current, key), object ?? undefined);
}

/** The object after `=` of a resource or module, also under `if (...)` or `[for ...]`. */
export function bodyObject(declaration: Node): Node | undefined {
  const value = declaration.lastNamedChild;
  if (value?.type === 'object') return value;
  if (value?.type === 'if_statement') return present(value.namedChildren).find((n) => n.type === 'object');
  return present(value?.descendantsOfType('object') ?? [])[0];
}

/** The `(...)` of `= if (...)`, or undefined for an unconditional resource or module. */
export function conditionOf(declaration: Node): Node | undefined {
  const value = declaration.lastNamedChild;
  if (value?.type !== 'if_statement') return undefined;
  const condition = present(value.namedChildren).find((n) => n.type === 'parenthesized_expression');
  return condition?.firstNamedChild ?? undefined;
}

export function resourceType(resource: Node): string {
  return literalString(present(resource.namedChildren).find((n) => n.type === 'string')) ?? '';
}

export function modulePath(module: Node): string {
  return literalString(present(module.namedChildren).find((n) => n.type === 'string')) ?? '';
}

/** The file a module declaration deploys. */
export function moduleTarget(files: Map<string, BicepFile>, infraDir: string, file: BicepFile, module: Node): BicepFile | undefined {
  return files.get(
    relative(infraDir, resolve(dirname(file.path), modulePath(module)))
      .split(sep)
      .join('/'),
  );
}

export function enclosing(node: Node, type: string): Node | undefined {
  for (let current = node.parent; current; current = current.parent) {
    if (current.type === type) return current;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// Evaluation of the plain expressions templates decide with.

export type BicepValue = string | number | boolean | null | BicepValue[] | { [key: string]: BicepValue };

/**
 * Names an expression may use: a template's own params and vars are found in `file`; anything else
 * (`server.properties.fullyQualifiedDomainName`, `environment().suffixes.storage`) must be given in
 * `externals` by its exact text, so a test states what it assumes about the deployment.
 */
export interface Scope {
  file: BicepFile;
  params: Record<string, BicepValue>;
  externals?: Record<string, BicepValue>;
  /** The parsed infra/, so `<module>.outputs.<name>` is evaluated in that module with what it is passed. */
  infra?: { files: Map<string, BicepFile>; dir: string };
}

/**
 * The scope of the file `module` deploys, as `caller` deploys it: each parameter is the expression the
 * caller passes, evaluated (in the caller's scope) only when the module's expressions need it.
 */
export function moduleScope(module: Node, caller: Scope): Scope {
  if (!caller.infra) throw new Error('moduleScope needs scope.infra');
  const target = moduleTarget(caller.infra.files, caller.infra.dir, caller.file, module);
  if (!target) throw new Error(`${caller.file.name}: module ${declaredName(module)} deploys no parsed file`);
  const passed = objectProperties(propertyValue(bodyObject(module), 'params'));
  const cache = new Map<string, BicepValue>();
  const values: Record<string, BicepValue> = {};
  const params = new Proxy(values, {
    has: (_, key) => typeof key === 'string' && passed.has(key),
    get: (_, key) => {
      const expression = typeof key === 'string' ? passed.get(key) : undefined;
      if (typeof key !== 'string' || !expression) return undefined;
      if (!cache.has(key)) cache.set(key, evaluate(expression, caller));
      return cache.get(key);
    },
  });
  return { file: target, params, externals: caller.externals, infra: caller.infra };
}

/** The value of `node` in `scope`; throws, naming the expression, for anything it cannot compute. */
export function evaluate(node: Node, scope: Scope): BicepValue {
  const external = scope.externals?.[node.text];
  if (external !== undefined) return external;
  switch (node.type) {
    case 'number':
      return Number(node.text);
    case 'boolean':
      return node.text === 'true';
    case 'null':
      return null;
    case 'string':
      return present(node.namedChildren)
        .map((part) => {
          if (part.type === 'interpolation') return textOf(evaluate(onlyChild(part), scope));
          return part.type === 'escape_sequence' ? part.text.slice(1) : part.text;
        })
        .join('');
    case 'parenthesized_expression':
      return evaluate(onlyChild(node), scope);
    case 'identifier':
      return lookUp(node.text, scope);
    case 'unary_expression': {
      const operator = node.firstChild?.type;
      const argument = evaluate(field(node, 'argument'), scope);
      if (operator === '!') return !argument;
      if (operator === '-') return -Number(argument);
      break;
    }
    case 'binary_expression':
      return binary(node, scope);
    case 'ternary_expression':
      return evaluate(field(node, evaluate(field(node, 'condition'), scope) ? 'consequence' : 'alternative'), scope);
    case 'array':
      return present(node.namedChildren).map((item) => evaluate(item, scope));
    case 'object':
      return Object.fromEntries([...objectProperties(node)].map(([key, value]) => [key, evaluate(value, scope)]));
    case 'subscript_expression': {
      const object = evaluate(field(node, 'object'), scope);
      const index = evaluate(field(node, 'index'), scope);
      if (Array.isArray(object) && typeof index === 'number') return object[index] ?? null;
      break;
    }
    case 'member_expression': {
      const output = moduleOutput(node, scope);
      if (output) return evaluateDeclared(output.name, output.scope);
      const object = evaluate(field(node, 'object'), scope);
      const property = field(node, 'property').text;
      if (object !== null && typeof object === 'object' && !Array.isArray(object) && property in object) return object[property] ?? null;
      break;
    }
    case 'call_expression':
      return call(node, scope);
  }
  throw new Error(`${scope.file.name}:${line(node)}: cannot evaluate \`${node.text}\` (give it in externals)`);
}

/** The value of `node` in `scope`, which must be a string. */
export function evaluateString(node: Node, scope: Scope): string {
  const value = evaluate(node, scope);
  if (typeof value !== 'string')
    throw new Error(`${scope.file.name}:${line(node)}: \`${node.text}\` is ${JSON.stringify(value)}, not a string`);
  return value;
}

/** A value as string interpolation writes it: strings as they are, anything else as JSON. */
function textOf(value: BicepValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The value of a top-level param, var or output of `scope.file`. */
export function evaluateDeclared(name: string, scope: Scope): BicepValue {
  return lookUp(name, scope);
}

/** Whether a conditional resource/module is deployed in `scope` (an unconditional one always is). */
export function isDeployed(declaration: Node, scope: Scope): boolean {
  const condition = conditionOf(declaration);
  return condition === undefined || evaluate(condition, scope) === true;
}

/** `<module>.outputs.<name>` of a module declared in `scope.file`: that output, in the module's scope. */
function moduleOutput(node: Node, scope: Scope): { name: string; scope: Scope } | undefined {
  const object = node.childForFieldName('object');
  if (object?.type !== 'member_expression' || object.childForFieldName('property')?.text !== 'outputs' || !scope.infra) return undefined;
  const moduleName = object.childForFieldName('object')?.text ?? '';
  const module = declarations(scope.file.root, 'module_declaration').find((m) => declaredName(m) === moduleName);
  if (!module) return undefined;
  return { name: field(node, 'property').text, scope: moduleScope(module, scope) };
}

function lookUp(name: string, scope: Scope): BicepValue {
  if (name in scope.params) return scope.params[name] as BicepValue;
  for (const type of ['parameter_declaration', 'variable_declaration', 'output_declaration']) {
    const declaration = declarations(scope.file.root, type).find((d) => declaredName(d) === name);
    if (!declaration) continue;
    if (type === 'parameter_declaration' && !hasDefault(declaration))
      throw new Error(`${scope.file.name}: param ${name} has no default; give it`);
    return evaluate(valueOf(declaration), scope);
  }
  throw new Error(`${scope.file.name}: unknown name ${name} (give it in externals)`);
}

function binary(node: Node, scope: Scope): BicepValue {
  const operator = present(node.children).find((child) => !child.isNamed)?.type;
  const left = () => evaluate(field(node, 'left'), scope);
  const right = () => evaluate(field(node, 'right'), scope);
  switch (operator) {
    case '&&':
      return left() === true && right() === true;
    case '||':
      return left() === true || right() === true;
    case '==':
      return left() === right();
    case '!=':
      return left() !== right();
    case '>':
      return Number(left()) > Number(right());
    case '<':
      return Number(left()) < Number(right());
    case '>=':
      return Number(left()) >= Number(right());
    case '<=':
      return Number(left()) <= Number(right());
    case '??': {
      const value = left();
      return value ?? right();
    }
  }
  throw new Error(`${scope.file.name}:${line(node)}: operator ${operator ?? '?'} is not evaluated here`);
}

function call(node: Node, scope: Scope): BicepValue {
  const name = field(node, 'function').text;
  const args = present(field(node, 'arguments').namedChildren).map((argument) => evaluate(argument, scope));
  switch (name) {
    case 'uriComponent':
      return encodeURIComponent(textOf(args[0] ?? null));
    case 'empty':
      return args[0] === null || args[0] === '' || (Array.isArray(args[0]) && args[0].length === 0);
    case 'string':
      return typeof args[0] === 'string' ? args[0] : JSON.stringify(args[0]);
    case 'length':
      return Array.isArray(args[0]) || typeof args[0] === 'string' ? args[0].length : 0;
    case 'range':
      return Array.from({ length: Number(args[1]) }, (_, i) => Number(args[0]) + i);
    case 'replace':
      return textOf(args[0] ?? null)
        .split(textOf(args[1] ?? null))
        .join(textOf(args[2] ?? null));
    case 'loadTextContent':
      // Bicep reads the file at compile time, relative to the template that names it.
      return readFileSync(resolve(dirname(scope.file.path), textOf(args[0] ?? null)), 'utf8');
  }
  throw new Error(`${scope.file.name}:${line(node)}: function ${name}() is not evaluated here (give \`${node.text}\` in externals)`);
}

function field(node: Node, name: string): Node {
  const child = node.childForFieldName(name);
  if (!child) throw new Error(`${node.type} without ${name}: ${node.text}`);
  return child;
}

function onlyChild(node: Node): Node {
  const child = node.firstNamedChild;
  if (!child) throw new Error(`empty ${node.type}`);
  return child;
}
