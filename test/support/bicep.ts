import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Language, type Node, Parser } from 'web-tree-sitter';

/*
 * infra/ read without a Bicep compiler (none can be installed here): tree-sitter-bicep parses each file and
 * these helpers walk the syntax trees. bicep-evaluate.ts computes expressions for given parameters, and
 * bicep-deployment.ts walks a whole deployment (every module, resource, name, id and dependency), so a test
 * can ask "with usePrivateNetworking=true, which endpoints are deployed?" instead of matching source text.
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

const declarationCache = new Map<number, Map<string, Node[]>>();

/** Top-level declarations of one kind: parameter_declaration, variable_declaration, resource_declaration, ... */
export function declarations(root: Node, type: string): Node[] {
  // Each step into the syntax tree is a call into WebAssembly; a walk of a deployment asks the same thing often.
  let byType = declarationCache.get(root.id);
  if (!byType) declarationCache.set(root.id, (byType = new Map<string, Node[]>()));
  let found = byType.get(type);
  if (!found) byType.set(type, (found = present(root.namedChildren).filter((node) => node.type === type)));
  return found;
}

const declarationByNameCache = new Map<number, Map<string, Map<string, Node>>>();

/** The top-level declaration of one kind named `name`, or undefined. */
export function findDeclaration(root: Node, type: string, name: string): Node | undefined {
  let byType = declarationByNameCache.get(root.id);
  if (!byType) declarationByNameCache.set(root.id, (byType = new Map<string, Map<string, Node>>()));
  let byName = byType.get(type);
  if (!byName) byType.set(type, (byName = new Map(declarations(root, type).map((d) => [declaredName(d), d]))));
  return byName.get(name);
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

const propertiesCache = new Map<number, Map<string, Node>>();

export function objectProperties(object: Node | null | undefined): Map<string, Node> {
  const cached = object ? propertiesCache.get(object.id) : undefined;
  if (cached) return cached;
  const properties = new Map<string, Node>();
  if (object) propertiesCache.set(object.id, properties);
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
  if (value?.type === 'for_statement') return loopOf(declaration)?.body;
  return present(value?.descendantsOfType('object') ?? [])[0];
}

/** `[for item in items: {...}]` or `[for (item, i) in items: {...}]` of a declaration; undefined without a loop. */
export function loopOf(declaration: Node): { item: string; index?: string; items: Node; body: Node } | undefined {
  const loop = declaration.lastNamedChild;
  if (loop?.type !== 'for_statement') return undefined;
  const named = present(loop.namedChildren);
  const parameters = named.find((n) => n.type === 'for_loop_parameters');
  const item = parameters ? present(parameters.namedChildren).find((n) => n.type === 'loop_variable') : named[0];
  const index = parameters ? present(parameters.namedChildren).find((n) => n.type === 'loop_enumerator') : undefined;
  const rest = named.slice(1);
  const body = rest.at(-1);
  const items = rest.at(-2);
  if (!item || !items || !body) throw new Error(`cannot read the loop of ${declaredName(declaration)}`);
  return { item: item.text, index: index?.text, items, body };
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
