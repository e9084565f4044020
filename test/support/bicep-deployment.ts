import type { Node } from 'web-tree-sitter';
import {
  type BicepFile,
  bodyObject,
  declarations,
  declaredName,
  decoratorArgument,
  hasDefault,
  line,
  literalString,
  present,
  propertyValue,
  resourceType,
  valueOf,
} from './bicep.js';
import {
  type BicepValue,
  evaluate,
  evaluateString,
  isDeployed,
  moduleScope,
  moduleTargetOf,
  type ResourceValue,
  resourceValues,
  type Scope,
} from './bicep-evaluate.js';

/*
 * A whole deployment, as ARM would expand it for given parameters: every module deployed (recursively), every
 * resource declared in them (deployed or not, `existing` or not) with its id, and the order ARM deploys them
 * in (dependsOn and implicit references, minus those on condition-false resources). What a compiler and a
 * failed first deployment would otherwise reveal late: an empty name segment, two writes to one account that
 * may run at the same time.
 */

/** One resource declared in a deployed file, for one set of parameters. */
export interface ResourceInstance {
  /** Declarations from main.bicep down: the modules, then the resource. */
  path: Node[];
  /** The scope of each file along `path` (the file `path[i]` is declared in). */
  scopes: Scope[];
  declaration: Node;
  /** Its condition, and that of every module above it, hold. */
  deployed: boolean;
  existing: boolean;
  values: ResourceValue[];
}

/** One module declaration in a deployed file: its deployment name, and whether it is deployed. */
export interface ModuleInstance {
  path: Node[];
  scopes: Scope[];
  declaration: Node;
  deployed: boolean;
  deploymentName: string;
}

export interface Walk {
  resources: ResourceInstance[];
  modules: ModuleInstance[];
}

/**
 * Every module and resource the deployment from `main` reaches. Resources of condition-false modules are
 * not expanded (ARM never evaluates a nested deployment it skips); in every deployed file, each resource's
 * name and id are computed whether or not it is deployed, as ARM validates them for every resource.
 */
export function walkDeployment(main: Scope): Walk {
  const walk: Walk = { resources: [], modules: [] };
  const visit = (scope: Scope, path: Node[], scopes: Scope[]) => {
    for (const declaration of declarations(scope.file.root, 'resource_declaration')) {
      const existing = present(declaration.children).some((child) => child.type === 'existing');
      walk.resources.push({
        path: [...path, declaration],
        scopes: [...scopes, scope],
        declaration,
        deployed: !existing && isDeployed(declaration, scope),
        existing,
        values: resourceValues(declaration, scope),
      });
    }
    for (const declaration of declarations(scope.file.root, 'module_declaration')) {
      const deployed = isDeployed(declaration, scope);
      const nameNode = propertyValue(bodyObject(declaration), 'name');
      const deploymentName = nameNode ? evaluateString(nameNode, scope) : '';
      // The module's scope (a resource group) is a name ARM evaluates too.
      moduleTargetOf(declaration, scope);
      walk.modules.push({ path: [...path, declaration], scopes: [...scopes, scope], declaration, deployed, deploymentName });
      if (deployed) visit(moduleScope(declaration, scope), [...path, declaration], [...scopes, scope]);
    }
  };
  visit(main, [], []);
  return walk;
}

const referenced = new Map<number, Set<string>>();

/** Resource and module symbols `declaration` refers to directly: in dependsOn, or in any expression (through vars). */
export function referencedSymbols(file: BicepFile, declaration: Node): Set<string> {
  let found = referenced.get(declaration.id);
  if (!found) referenced.set(declaration.id, (found = findReferencedSymbols(file, declaration)));
  return found;
}

function findReferencedSymbols(file: BicepFile, declaration: Node): Set<string> {
  const symbols = new Map(
    ['resource_declaration', 'module_declaration'].flatMap((type) =>
      declarations(file.root, type).map((d) => [declaredName(d), d] as const),
    ),
  );
  const variables = new Map(declarations(file.root, 'variable_declaration').map((d) => [declaredName(d), d] as const));
  const found = new Set<string>();
  const seenVariables = new Set<string>();
  const scan = (node: Node) => {
    for (const identifier of present(node.descendantsOfType('identifier'))) {
      // A property key (`name:` of an object) names no symbol.
      if (identifier.parent?.type === 'object_property' && identifier.parent.firstNamedChild?.startIndex === identifier.startIndex)
        continue;
      const name = identifier.text;
      if (symbols.has(name) && symbols.get(name) !== declaration) found.add(name);
      const variable = variables.get(name);
      if (variable && !seenVariables.has(name)) {
        seenVariables.add(name);
        scan(valueOf(variable));
      }
    }
  };
  const value = declaration.lastNamedChild;
  if (value) scan(value);
  return found;
}

/**
 * Whether ARM deploys `a` and `b` one after the other (either way round): at the file where their paths
 * part, one declaration depends on the other through declarations that are deployed. An `existing` resource
 * is deployed by no one: a dependency on it stands for its own dependencies.
 */
export function ordered(a: ResourceInstance, b: ResourceInstance): boolean {
  let level = 0;
  while (level < a.path.length && level < b.path.length && a.path[level] === b.path[level]) level++;
  const first = a.path[level];
  const second = b.path[level];
  const scope = a.scopes[level];
  if (!first || !second || !scope) return false;
  return dependsOn(scope, first, second) || dependsOn(scope, second, first);
}

/** Whether `from` is deployed after `to`, in `scope`'s file. */
export function dependsOn(scope: Scope, from: Node, to: Node): boolean {
  const byName = new Map(
    ['resource_declaration', 'module_declaration'].flatMap((type) =>
      declarations(scope.file.root, type).map((d) => [declaredName(d), d] as const),
    ),
  );
  const isExisting = (d: Node) => present(d.children).some((child) => child.type === 'existing');
  const seen = new Set<Node>();
  const queue = [from];
  while (queue.length > 0) {
    const current = queue.shift() as Node;
    for (const name of referencedSymbols(scope.file, current)) {
      const next = byName.get(name);
      if (!next || seen.has(next)) continue;
      seen.add(next);
      if (next === to) return true;
      // ARM drops a dependency on a resource it does not deploy: nothing is ordered through it.
      if (isExisting(next) || isDeployed(next, scope)) queue.push(next);
    }
  }
  return false;
}

/** Stands for "leave this parameter to its default" in a combination. */
const useDefault = Symbol('default');
type Choice = BicepValue | typeof useDefault;

/**
 * The values worth trying for each parameter of `file`: both booleans, every allowed value, and for a string
 * the empty string whenever its decorators allow it (the empty name segment this hunts for) beside its
 * default or a sample; other types keep their default. `fixed` pins parameters (required ones included).
 */
export function parameterChoices(file: BicepFile, fixed: Record<string, BicepValue>): Map<string, Choice[]> {
  const choices = new Map<string, Choice[]>();
  for (const parameter of declarations(file.root, 'parameter_declaration')) {
    const name = declaredName(parameter);
    if (name in fixed) {
      choices.set(name, [fixed[name] as BicepValue]);
      continue;
    }
    const type = present(parameter.namedChildren).find((n) => n.type === 'type')?.text;
    const allowed = decoratorArgument(parameter, 'allowed');
    if (allowed?.type === 'array') {
      choices.set(
        name,
        present(allowed.namedChildren).map((item) => (item.type === 'number' ? Number(item.text) : (literalString(item) ?? item.text))),
      );
    } else if (type === 'bool') {
      choices.set(name, [true, false]);
    } else if (type === 'string') {
      const minLength = Number(decoratorArgument(parameter, 'minLength')?.text ?? 0);
      const defaultText = hasDefault(parameter) ? literalString(valueOf(parameter)) : undefined;
      const sample = `sample-${name.toLowerCase()}`;
      // The first choice is a value every other parameter can live with (an empty default may not be: a
      // required parameter can default to this one); the empty string follows wherever it is allowed.
      const values: Choice[] = defaultText === '' ? [sample, useDefault] : hasDefault(parameter) ? [useDefault] : [sample];
      if (minLength === 0 && defaultText !== '') values.push('');
      // A sample too where the default is another parameter's value.
      if (hasDefault(parameter) && defaultText === undefined) values.push(sample);
      choices.set(name, values);
    } else if (hasDefault(parameter)) {
      choices.set(name, [useDefault]);
    } else {
      throw new Error(`${file.name}:${line(parameter)}: param ${name} has no default and no sample; fix it in the test`);
    }
  }
  return choices;
}

/** Whether the parameters of `scope` satisfy their @minLength, @maxLength and @allowed decorators. */
export function parametersValid(scope: Scope): boolean {
  for (const parameter of declarations(scope.file.root, 'parameter_declaration')) {
    const value = evaluate(present(parameter.namedChildren).find((n) => n.type === 'identifier') as Node, scope);
    const minLength = decoratorArgument(parameter, 'minLength');
    const maxLength = decoratorArgument(parameter, 'maxLength');
    if (typeof value === 'string' && minLength && value.length < Number(minLength.text)) return false;
    if (typeof value === 'string' && maxLength && value.length > Number(maxLength.text)) return false;
  }
  return true;
}

/**
 * Calls `visit` with every combination of the parameter values that matter: those `visit` reads, found by
 * running it (the first combination is every parameter's first choice), then every combination of the ones
 * read, again until no new parameter is read. Invalid combinations (a @minLength broken) are skipped, as ARM
 * refuses them before evaluating anything. Returns how many combinations were visited.
 */
export function forEachParameterCombination(
  file: BicepFile,
  fixed: Record<string, BicepValue>,
  scopeOf: (params: Record<string, BicepValue>) => Scope,
  visit: (scope: Scope, params: Record<string, BicepValue>) => void,
  limit = 20_000,
): number {
  const choices = parameterChoices(file, fixed);
  const read = new Set<string>();
  let visited = 0;
  for (;;) {
    const before = read.size;
    const varied = [...read].sort();
    for (const combination of product(varied.map((name) => choices.get(name) ?? [useDefault]))) {
      const values: Record<string, BicepValue> = {};
      for (const [name, options] of choices) {
        const index = varied.indexOf(name);
        const choice = index >= 0 ? combination[index] : options[0];
        if (choice !== useDefault && choice !== undefined) values[name] = choice;
      }
      // Checked on a scope of its own, so that the check's reading every parameter is not recorded as a need.
      if (!parametersValid(scopeOf({ ...values }))) continue;
      const params = new Proxy(values, {
        has: (target, key) => {
          if (typeof key === 'string') read.add(key);
          return key in target;
        },
      });
      visited++;
      if (visited > limit) throw new Error(`more than ${limit} parameter combinations: narrow the walk`);
      visit(scopeOf(params), { ...values });
    }
    if (read.size === before) return visited;
  }
}

function* product(lists: Choice[][]): Generator<Choice[]> {
  if (lists.length === 0) {
    yield [];
    return;
  }
  const [first = [], ...rest] = lists;
  for (const value of first) for (const tail of product(rest)) yield [value, ...tail];
}

/** The Cosmos DB account a deployed write changes, by its id; undefined for anything else. */
export function cosmosAccountWritten(resource: ResourceInstance): string | undefined {
  if (!resource.deployed) return undefined;
  for (const value of resource.values) {
    const account = /^(.*\/providers\/Microsoft\.DocumentDB\/databaseAccounts\/[^/]+)\//i.exec(value.id)?.[1];
    if (account) return account.toLowerCase();
  }
  // A private endpoint changes the account it connects to (a private endpoint connection on it).
  if (resourceType(resource.declaration).startsWith('Microsoft.Network/privateEndpoints@')) {
    const scope = resource.scopes.at(-1) as Scope;
    const connections = ['privateLinkServiceConnections', 'manualPrivateLinkServiceConnections'].flatMap((key) => {
      const list = propertyValue(propertyValue(bodyObject(resource.declaration), 'properties'), key);
      return list ? (evaluate(list, scope) as Array<{ properties?: { privateLinkServiceId?: string } }>) : [];
    });
    for (const connection of connections) {
      const id = connection.properties?.privateLinkServiceId ?? '';
      if (/\/providers\/Microsoft\.DocumentDB\/databaseAccounts\/[^/]+$/i.test(id)) return id.toLowerCase();
    }
  }
  return undefined;
}

/** A resource or module by its path from main.bicep: each declaration's file, line and name. */
export function describe(instance: Pick<ResourceInstance, 'path' | 'scopes'>): string {
  return instance.path.map((d, i) => `${instance.scopes[i]?.file.name}:${line(d)} ${declaredName(d)}`).join(' > ');
}
