/**
 * Import rules, checked in CI (`npm run lint`): no import cycle between files, and layers that import one
 * way only. Inside `shared/` (what the Function app runs), from the bottom up:
 *
 *   core                                     errors, retry, clock, safe error text (imports nothing here)
 *   config, domain                           settings; document schemas, mapping, repository contracts
 *   postgres, cosmos, storage-queue,         adapters: clients, SQL, change feed, queue messages,
 *   telemetry                                telemetry lines for Application Insights
 *   context                                  the one type of the process's clients
 *   write-path < migration < quarantine < stats < verification < sync < mirror < switch < queue
 *                                            application services (each may use those before it)
 *   runtime, repositories, api               the process's clients, RepositoryFactory, DataMigrationUtility
 *
 * Entry points (functions/, cli/) sit on top; tooling (cli/, dev/, bench/) is never imported by shared/
 * or functions/, so the deployed app carries none of it.
 */
const order = [
  ['core'],
  ['config', 'domain'],
  ['postgres', 'cosmos', 'storage-queue', 'telemetry'],
  ['context'],
  ['write-path'],
  ['migration'],
  ['quarantine'],
  ['stats'],
  ['verification'],
  ['sync'],
  ['mirror'],
  ['switch'],
  ['queue'],
  ['runtime'],
  ['repositories', 'api'],
];

const below = (index) => order.slice(0, index).flat();

/** Peers on one level do not import each other (adapters stay independent); config and domain both sit on core. */
const layerRules = order.flatMap((level, index) =>
  level.map((folder) => ({
    name: `layer-${folder}`,
    comment: `shared/${folder} may import only from ${below(index).join(', ') || 'nothing in shared'} (and itself)`,
    severity: 'error',
    from: { path: `^shared/${folder}/` },
    to: {
      path: '^shared/',
      pathNot: [`^shared/${folder}/`, ...below(index).map((lower) => `^shared/${lower}/`)],
    },
  })),
);

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'An import cycle between files is a design smell: one of the two belongs lower.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'shared-folders-are-known',
      comment: 'Every folder of shared/ has a place in the layer order above; add a new one there.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^shared/', pathNot: [`^shared/(${order.flat().join('|')})/`] },
    },
    ...layerRules,
    {
      name: 'app-imports-no-tooling',
      comment: 'The deployed app (functions/, shared/) never imports the CLI, local services, tests or the benchmark.',
      severity: 'error',
      from: { path: '^(functions|shared)/' },
      to: { path: '^(cli|dev|test|bench|scripts)/' },
    },
    {
      name: 'app-imports-no-dev-dependency',
      comment: 'What is deployed runs on production dependencies only.',
      severity: 'error',
      from: { path: '^(functions|shared)/' },
      to: { dependencyTypes: ['npm-dev'] },
    },
    {
      name: 'shared-imports-no-functions',
      comment: 'shared/ is the engine both the functions and the CLI drive; it knows neither.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^functions/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist|\\.tmp)/|^shared/postgres/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.json'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
