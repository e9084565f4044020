import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Node } from 'web-tree-sitter';
import {
  type BicepFile,
  bodyObject,
  conditionOf,
  declaredName,
  findDeclaration,
  hasDefault,
  line,
  loopOf,
  moduleTarget,
  objectProperties,
  present,
  propertyValue,
  resourceType,
  valueOf,
} from './bicep.js';

/*
 * Evaluation of template expressions for given parameters, without a Bicep compiler: parameters, variables,
 * conditions, ternaries, interpolated strings, the functions the templates use, module outputs (evaluated in
 * the module with what its caller passes), and resources as ARM sees them before anything is deployed: a
 * symbol's `name` and `id`, built from its type, its parent and the resource group it is deployed to. A value
 * only a deployment knows (`server.properties.fullyQualifiedDomainName`) must be given in `externals` by its
 * text, or, for checks of names and ids only, stood in for by an opaque text (`runtime: 'placeholder'`).
 */

export type BicepValue = string | number | boolean | null | BicepValue[] | { [key: string]: BicepValue };

/** Where a template is deployed: a subscription, and a resource group unless it is deployed at subscription scope. */
export interface DeploymentTarget {
  subscriptionId: string;
  resourceGroup?: string;
}

/** The subscription a scope without a target is deployed to (a test's stand-in). */
export const testSubscriptionId = '00000000-0000-0000-0000-00000000cccc';

/**
 * Names an expression may use: a template's own params, vars, resources and modules are found in `file`;
 * anything else (`server.properties.fullyQualifiedDomainName`) must be given in `externals` by its exact text,
 * so a test states what it assumes about the deployment.
 */
export interface Scope {
  file: BicepFile;
  params: Record<string, BicepValue>;
  externals?: Record<string, BicepValue>;
  /** The parsed infra/, so `<module>.outputs.<name>` is evaluated in that module with what it is passed. */
  infra?: { files: Map<string, BicepFile>; dir: string };
  /** Where `file` is deployed (resource ids); a test subscription and no resource group when absent. */
  target?: DeploymentTarget;
  /** Loop variables in scope: `zoneName` inside `[for zoneName in zoneNames: {...}]`. */
  locals?: Record<string, BicepValue>;
  /**
   * 'placeholder': a resource's runtime property (`identity.properties.principalId`) evaluates to an opaque,
   * non-empty text instead of failing. For walks that check names and ids, where such a value is only ever
   * mixed into a name (a guid()), never the reason a segment is empty.
   */
  runtime?: 'placeholder';
  /** Collects each empty name segment met while building a resource id; without it, evaluation throws. */
  problems?: string[];
}

/** Marks an object that stands for a resource (its `name`, `id`, `type`). */
const resourceMark = '@resource';
/** Marks an object that stands for a resource group given as `resourceGroup(name)`. */
const resourceGroupMark = '@resourceGroup';
/** How a runtime placeholder begins (`runtime: 'placeholder'`). */
const runtimePrefix = '⟨runtime ';

/**
 * The scope of the file `module` deploys, as `caller` deploys it: each parameter is the expression the
 * caller passes, evaluated (in the caller's scope) only when the module's expressions need it; its target
 * is the module's `scope:` (a resource group), or the caller's.
 */
const moduleScopes = new WeakMap<Scope, Map<number, Scope>>();

export function moduleScope(module: Node, caller: Scope): Scope {
  let known = moduleScopes.get(caller);
  if (!known) moduleScopes.set(caller, (known = new Map<number, Scope>()));
  let scope = known.get(module.id);
  if (!scope) known.set(module.id, (scope = newModuleScope(module, caller)));
  return scope;
}

function newModuleScope(module: Node, caller: Scope): Scope {
  if (!caller.infra) throw new Error('moduleScope needs scope.infra');
  const target = moduleTarget(caller.infra.files, caller.infra.dir, caller.file, module);
  if (!target) throw new Error(`${caller.file.name}: module ${declaredName(module)} deploys no parsed file`);
  const body = bodyObject(module);
  const passed = objectProperties(propertyValue(body, 'params'));
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
  const scope: Scope = {
    file: target,
    params,
    externals: caller.externals,
    infra: caller.infra,
    runtime: caller.runtime,
    problems: caller.problems,
  };
  // Worked out when an id needs it: most evaluations never do, and a test need not give what it depends on.
  let deployedTo: DeploymentTarget | undefined;
  Object.defineProperty(scope, 'target', { enumerable: true, get: () => (deployedTo ??= moduleTargetOf(module, caller)) });
  return scope;
}

/** Where `module` deploys its file: the resource group of its `scope:`, or where its caller is deployed. */
export function moduleTargetOf(module: Node, caller: Scope): DeploymentTarget {
  const callerTarget = targetOf(caller);
  const scopeNode = propertyValue(bodyObject(module), 'scope');
  if (!scopeNode) return callerTarget;
  const value = evaluate(scopeNode, caller);
  const group = isObject(value) ? value : undefined;
  if (group?.[resourceGroupMark] === true || group?.type === 'Microsoft.Resources/resourceGroups') {
    return { subscriptionId: callerTarget.subscriptionId, resourceGroup: textOf(group.name ?? null) };
  }
  throw new Error(`${caller.file.name}:${line(scopeNode)}: module scope \`${scopeNode.text}\` is not a resource group`);
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
      return stringValue(node, scope);
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
    case 'subscript_expression':
      return subscript(node, scope);
    case 'member_expression':
      return member(node, scope);
    case 'call_expression':
      return call(node, scope);
    case 'for_statement':
      return forExpression(node, scope);
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

/** The value of a top-level param or var of `scope.file`, or else of its output of that name. */
export function evaluateDeclared(name: string, scope: Scope): BicepValue {
  return lookUp(name, scope);
}

/** The value of output `name` of `scope.file` (an output may share its name with a param). */
export function evaluateOutput(name: string, scope: Scope): BicepValue {
  const output = findDeclaration(scope.file.root, 'output_declaration', name);
  if (!output) throw new Error(`${scope.file.name}: no output ${name}`);
  return evaluate(valueOf(output), scope);
}

/** Whether a conditional resource/module is deployed in `scope` (an unconditional one always is). */
export function isDeployed(declaration: Node, scope: Scope): boolean {
  const condition = conditionOf(declaration);
  return condition === undefined || evaluate(condition, scope) === true;
}

/** Whether `value` is a runtime placeholder (see `Scope.runtime`). */
export function isRuntimePlaceholder(value: BicepValue): boolean {
  return typeof value === 'string' && value.startsWith(runtimePrefix);
}

/** The resource a resource declaration stands for (one per iteration of a loop), as ARM names it before deploying. */
export interface ResourceValue {
  type: string;
  /** Its own name (a child's last segment, as Bicep's `.name` gives it). */
  name: string;
  id: string;
}

/** Each resource `declaration` of `scope.file` declares: one, or one per item of its loop. */
export function resourceValues(declaration: Node, scope: Scope): ResourceValue[] {
  const loop = loopOf(declaration);
  if (!loop) return [resourceValue(declaration, scope)];
  const items = evaluate(loop.items, scope);
  if (!Array.isArray(items)) throw new Error(`${scope.file.name}:${line(loop.items)}: a loop over ${JSON.stringify(items)}`);
  return items.map((item, index) =>
    resourceValue(declaration, {
      ...scope,
      locals: { ...scope.locals, [loop.item]: item, ...(loop.index ? { [loop.index]: index } : {}) },
    }),
  );
}

/**
 * A resource's type, name and id: `parent:` prefixes the parent's id, `scope:` a resource makes it an
 * extension resource of that resource, `scope: resourceGroup(x)` places it in resource group x; otherwise
 * it lives where its file is deployed. Each empty name segment is a problem (ARM's "incorrect segment
 * lengths"), recorded in `scope.problems` or thrown.
 */
export function resourceValue(declaration: Node, scope: Scope): ResourceValue {
  const body = bodyObject(declaration);
  const nameNode = propertyValue(body, 'name');
  if (!nameNode) throw new Error(`${scope.file.name}:${line(declaration)}: ${declaredName(declaration)} has no name`);
  const name = textOf(evaluate(nameNode, scope));
  const type = resourceType(declaration).split('@')[0] ?? '';
  const [namespace, ...types] = type.split('/');
  const where = `${scope.file.name}:${line(declaration)} ${declaredName(declaration)}`;
  const check = (segments: string[], what: string) => {
    if (segments.every((segment) => segment !== '')) return;
    const problem = `${where}: ${what} "${segments.join('/')}" has an empty segment`;
    if (!scope.problems) throw new Error(problem);
    if (!scope.problems.includes(problem)) scope.problems.push(problem);
  };
  const parentNode = propertyValue(body, 'parent');
  if (parentNode) {
    const parent = evaluate(parentNode, scope);
    if (!isObject(parent) || parent[resourceMark] !== true) throw new Error(`${where}: parent is not a resource`);
    check([name], 'name');
    return mark({ type, name, id: `${textOf(parent.id ?? null)}/${types.at(-1)}/${name}` });
  }
  const names = name.split('/');
  check(names, 'name');
  if (names.length !== types.length) check([...names, ''], `name of ${types.length} segment(s)`);
  const scopeNode = propertyValue(body, 'scope');
  const scopeValue = scopeNode ? evaluate(scopeNode, scope) : undefined;
  const target = targetOf(scope);
  if (isObject(scopeValue) && scopeValue[resourceMark] === true) {
    return mark({ type, name, id: `${textOf(scopeValue.id ?? null)}/providers/${type}/${name}` });
  }
  const group = isObject(scopeValue) && scopeValue[resourceGroupMark] === true ? textOf(scopeValue.name ?? null) : target.resourceGroup;
  const path = types.map((t, i) => `${t}/${names[i] ?? ''}`).join('/');
  if (type === 'Microsoft.Resources/resourceGroups')
    return mark({ type, name, id: `/subscriptions/${target.subscriptionId}/resourceGroups/${name}` });
  const prefix =
    group === undefined ? `/subscriptions/${target.subscriptionId}` : `/subscriptions/${target.subscriptionId}/resourceGroups/${group}`;
  return mark({ type, name, id: `${prefix}/providers/${namespace}/${path}` });
}

function mark(value: ResourceValue): ResourceValue {
  return { ...value, [resourceMark]: true } as ResourceValue;
}

function targetOf(scope: Scope): DeploymentTarget {
  return scope.target ?? { subscriptionId: testSubscriptionId };
}

function isObject(value: BicepValue | undefined): value is { [key: string]: BicepValue } {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A value as string interpolation writes it: strings as they are, anything else as JSON. */
function textOf(value: BicepValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function stringValue(node: Node, scope: Scope): string {
  const text = present(node.namedChildren)
    .map((part) => {
      if (part.type === 'interpolation') return textOf(evaluate(onlyChild(part), scope));
      return part.type === 'escape_sequence' ? part.text.slice(1) : part.text;
    })
    .join('');
  // A multi-line string ('''...''') is verbatim, except a newline right after the opening quotes.
  return node.text.startsWith("'''") ? text.replace(/^\r?\n/, '') : text;
}

const lookUps = new WeakMap<Scope, Map<string, BicepValue>>();

/** A name's value in `scope`: worked out once per scope (a walk asks for the same names very often). */
function lookUp(name: string, scope: Scope): BicepValue {
  if (scope.locals && name in scope.locals) return scope.locals[name] as BicepValue;
  if (name in scope.params) return scope.params[name] as BicepValue;
  let known = lookUps.get(scope);
  if (!known) lookUps.set(scope, (known = new Map<string, BicepValue>()));
  if (known.has(name)) return known.get(name) as BicepValue;
  const value = lookUpDeclared(name, scope);
  known.set(name, value);
  return value;
}

function lookUpDeclared(name: string, scope: Scope): BicepValue {
  for (const type of ['parameter_declaration', 'variable_declaration']) {
    const declaration = findDeclaration(scope.file.root, type, name);
    if (!declaration) continue;
    if (type === 'parameter_declaration' && !hasDefault(declaration))
      throw new Error(`${scope.file.name}: param ${name} has no default; give it`);
    return evaluate(valueOf(declaration), scope);
  }
  const resource = findDeclaration(scope.file.root, 'resource_declaration', name);
  if (resource) {
    const values = resourceValues(resource, scope) as unknown as BicepValue[];
    return loopOf(resource) ? values : (values[0] ?? null);
  }
  const module = findDeclaration(scope.file.root, 'module_declaration', name);
  if (module) return { '@module': true, name: textOf(evaluate(propertyValue(bodyObject(module), 'name') as Node, scope)) };
  const output = findDeclaration(scope.file.root, 'output_declaration', name);
  if (output) return evaluate(valueOf(output), scope);
  throw new Error(`${scope.file.name}: unknown name ${name} (give it in externals)`);
}

/** `<module>.outputs.<name>`, `objectNode` being `<module>.outputs` of a module of `scope.file`: that output, in the module's scope. */
function moduleOutput(objectNode: Node, property: string, scope: Scope): { name: string; scope: Scope } | undefined {
  if (objectNode.type !== 'member_expression' || objectNode.childForFieldName('property')?.text !== 'outputs' || !scope.infra)
    return undefined;
  const moduleName = objectNode.childForFieldName('object')?.text ?? '';
  const module = findDeclaration(scope.file.root, 'module_declaration', moduleName);
  if (!module) return undefined;
  return { name: property, scope: moduleScope(module, scope) };
}

function member(node: Node, scope: Scope): BicepValue {
  const optional = present(node.children).some((child) => child.type === '.?');
  return memberOf(field(node, 'object'), field(node, 'property').text, optional, node, scope);
}

function memberOf(objectNode: Node, property: string, optional: boolean, node: Node, scope: Scope): BicepValue {
  // tree-sitter-bicep reads `c ? a : b.x` as `(c ? a : b).x`; Bicep reads it as `c ? a : (b.x)`, as here.
  if (objectNode.type === 'ternary_expression') {
    return evaluate(field(objectNode, 'condition'), scope)
      ? evaluate(field(objectNode, 'consequence'), scope)
      : memberOf(field(objectNode, 'alternative'), property, optional, node, scope);
  }
  const output = moduleOutput(objectNode, property, scope);
  if (output) return evaluateOutput(output.name, output.scope);
  const object = evaluate(objectNode, scope);
  if (isRuntimePlaceholder(object)) return `${runtimePrefix}${node.text}⟩`;
  if (isObject(object) && property in object) return object[property] ?? null;
  if (isObject(object) && object[resourceMark] === true && scope.runtime === 'placeholder') return `${runtimePrefix}${node.text}⟩`;
  if (optional && (isObject(object) || object === null)) return null;
  throw new Error(`${scope.file.name}:${line(node)}: cannot evaluate \`${node.text}\` (give it in externals)`);
}

function subscript(node: Node, scope: Scope): BicepValue {
  const object = evaluate(field(node, 'object'), scope);
  const index = evaluate(field(node, 'index'), scope);
  const optional = present(node.children).some((child) => child.type === '?');
  if (Array.isArray(object) && typeof index === 'number') return object[index] ?? null;
  if (isObject(object) && typeof index === 'string') {
    if (index in object) return object[index] ?? null;
    if (optional) return null;
  }
  throw new Error(`${scope.file.name}:${line(node)}: cannot evaluate \`${node.text}\``);
}

function forExpression(node: Node, scope: Scope): BicepValue {
  const named = present(node.namedChildren);
  const parameters = named.find((n) => n.type === 'for_loop_parameters');
  const item = parameters ? present(parameters.namedChildren).find((n) => n.type === 'loop_variable')?.text : named[0]?.text;
  const index = parameters ? present(parameters.namedChildren).find((n) => n.type === 'loop_enumerator')?.text : undefined;
  const [items, body] = named.slice(-2);
  if (!item || !items || !body) throw new Error(`${scope.file.name}:${line(node)}: cannot read the loop`);
  const values = evaluate(items, scope);
  if (!Array.isArray(values)) throw new Error(`${scope.file.name}:${line(node)}: a loop over ${JSON.stringify(values)}`);
  return values.map((value, i) =>
    evaluate(body, { ...scope, locals: { ...scope.locals, [item]: value, ...(index ? { [index]: i } : {}) } }),
  );
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
    case '+':
      return Number(left()) + Number(right());
    case '-':
      return Number(left()) - Number(right());
    case '*':
      return Number(left()) * Number(right());
    // Bicep's integers divide without a remainder.
    case '/':
      return Math.trunc(Number(left()) / Number(right()));
    case '%':
      return Number(left()) % Number(right());
    case '??': {
      const value = left();
      return value ?? right();
    }
  }
  throw new Error(`${scope.file.name}:${line(node)}: operator ${operator ?? '?'} is not evaluated here`);
}

/** A stand-in for ARM's guid() and uniqueString(): deterministic in their arguments, not ARM's algorithms. */
function digest(args: BicepValue[]): string {
  return createHash('sha256').update(JSON.stringify(args)).digest('hex');
}

function call(node: Node, scope: Scope): BicepValue {
  const name = field(node, 'function').text;
  const argumentNodes = present(field(node, 'arguments').namedChildren);
  const args = argumentNodes.map((argument) => evaluate(argument, scope));
  const [first = null, second = null, third = null] = args;
  const target = () => targetOf(scope);
  switch (name) {
    case 'uriComponent':
      return encodeURIComponent(textOf(first));
    case 'empty':
      return (
        first === null ||
        first === '' ||
        (Array.isArray(first) && first.length === 0) ||
        (isObject(first) && Object.keys(first).length === 0)
      );
    case 'string':
      return typeof first === 'string' ? first : JSON.stringify(first);
    case 'int':
      return Math.trunc(Number(first));
    case 'length':
      return Array.isArray(first) || typeof first === 'string' ? first.length : isObject(first) ? Object.keys(first).length : 0;
    case 'range':
      return Array.from({ length: Number(second) }, (_, i) => Number(first) + i);
    case 'replace':
      return textOf(first).split(textOf(second)).join(textOf(third));
    case 'toLower':
      return textOf(first).toLowerCase();
    case 'toUpper':
      return textOf(first).toUpperCase();
    case 'take':
      return Array.isArray(first) ? first.slice(0, Number(second)) : textOf(first).slice(0, Number(second));
    case 'min':
      return Math.min(...args.map(Number));
    case 'max':
      return Math.max(...args.map(Number));
    case 'concat':
      return args.every(Array.isArray) ? (args as BicepValue[][]).flat() : args.map(textOf).join('');
    case 'contains':
      if (Array.isArray(first)) return first.some((item) => JSON.stringify(item) === JSON.stringify(second));
      if (isObject(first)) return textOf(second) in first;
      return textOf(first).includes(textOf(second));
    case 'union':
      return Object.assign({}, ...args.filter(isObject));
    case 'guid': {
      const hex = digest(args);
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
    }
    case 'uniqueString':
      return BigInt(`0x${digest(args).slice(0, 16)}`)
        .toString(32)
        .padStart(13, 'a')
        .slice(0, 13);
    case 'subscriptionResourceId':
      return `/subscriptions/${target().subscriptionId}/providers/${textOf(first)}/${args.slice(1).map(textOf).join('/')}`;
    case 'cidrSubnet':
      return cidrSubnet(textOf(first), Number(second), Number(third));
    case 'resourceGroup': {
      const group = argumentNodes.length === 0 ? target().resourceGroup : textOf(first);
      if (group === undefined) throw new Error(`${scope.file.name}:${line(node)}: resourceGroup() at subscription scope`);
      const id = `/subscriptions/${target().subscriptionId}/resourceGroups/${group}`;
      if (group === '') {
        const problem = `${scope.file.name}:${line(node)}: resource group "${group}" of \`${node.text}\` is empty`;
        if (!scope.problems) throw new Error(problem);
        if (!scope.problems.includes(problem)) scope.problems.push(problem);
      }
      return { [resourceGroupMark]: true, name: group, id };
    }
    case 'subscription':
      return { id: `/subscriptions/${target().subscriptionId}`, subscriptionId: target().subscriptionId };
    case 'environment':
      // The public cloud; a test of another cloud gives `environment().suffixes.storage` in externals.
      return { name: 'AzureCloud', suffixes: { storage: 'core.windows.net' } };
    case 'loadTextContent':
      // Bicep reads the file at compile time, relative to the template that names it.
      return readFileSync(resolve(dirname(scope.file.path), textOf(first)), 'utf8');
    case 'loadJsonContent':
      return JSON.parse(readFileSync(resolve(dirname(scope.file.path), textOf(first)), 'utf8')) as BicepValue;
  }
  throw new Error(`${scope.file.name}:${line(node)}: function ${name}() is not evaluated here (give \`${node.text}\` in externals)`);
}

/** Bicep's cidrSubnet for IPv4: the `index`-th subnet of length `bits` inside `range`. */
function cidrSubnet(range: string, bits: number, index: number): string {
  const [address = '', prefix = '32'] = range.split('/');
  const base = address.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
  const start = base + index * 2 ** (32 - bits);
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(start / 2 ** shift) % 256);
  if (bits < Number(prefix)) throw new Error(`cidrSubnet: /${bits} does not fit in ${range}`);
  return `${octets.join('.')}/${bits}`;
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
