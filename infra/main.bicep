// Nostria Migrate on Azure: a Flex Consumption function app (Node 22) that syncs and migrates the
// existing Nostria Cosmos DB account into Azure Database for PostgreSQL, signing in everywhere with
// its managed identity (PostgreSQL too: Microsoft Entra ID, no password). `azd up` provisions this
// file with main.parameters.json; each migration phase of the guide is one `azd provision` with
// different USE_POSTGRESQL / DUAL_DATABASE_MODE / MIGRATION_MODE values (docs/deploy.md).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; seeds resource names and is the default change-feed lease prefix.')
param environmentName string

@minLength(1)
@description('Region for every new resource. It must offer Flex Consumption (`az functionapp list-flexconsumption-locations`).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create; empty uses rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the operator running azd (azd sets AZURE_PRINCIPAL_ID); gets the runbook roles. Empty grants nothing.')
param principalId string = ''

// Every parameter that names something is @minLength(1): an empty name segment fails the whole deployment
// ("incorrect segment lengths"), even in a resource whose condition is false. test/integration/infra-deployment.test.ts
// evaluates every name and id for every combination of flags the parameters allow.

@minLength(1)
@description('Name of the EXISTING Nostria Cosmos DB account. It is referenced, never created or changed.')
param cosmosAccountName string

@minLength(1)
@description('Resource group of the existing Cosmos DB account (same subscription).')
param cosmosResourceGroupName string

@minLength(1)
param cosmosDatabaseName string = 'NostriaDB'

@minLength(1)
param cosmosContainerName string = 'Documents'

@minLength(1)
@description('The sync\'s own lease container, created in the Nostria database: a name the Nostria service does not use.')
param cosmosLeaseContainerName string = 'nostria-migrate-leases'

@description('shared: the lease container gets no throughput of its own, so it shares the database\'s (or is serverless); in a database WITHOUT shared throughput Cosmos DB then gives it its own 400 RU/s (the COSMOS_LEASE_CONTAINER_THROUGHPUT output says which). dedicated: cosmosLeaseContainerRUs of its own.')
@allowed([
  'shared'
  'dedicated'
])
param cosmosLeaseThroughput string = 'shared'

@description('Manual RU/s of the lease container with cosmosLeaseThroughput=dedicated.')
@minValue(400)
param cosmosLeaseContainerRUs int = 400

@description('Change-feed lease prefix; empty uses the environment name so another deployment or a local run never takes this one\'s leases.')
param cosmosLeasePrefix string = ''

@description('Comma-separated regions of the Cosmos DB account the app and the trigger read from, nearest first ("Sweden Central,West Europe"); empty reads from the account\'s default region.')
param cosmosPreferredLocations string = ''

@allowed([
  ''
  'Low'
  'High'
])
@description('Priority of the migration\'s Cosmos DB reads: Low lets the service throttle them before the application\'s own requests, once priority-based execution is enabled on the account; empty sends none.')
param cosmosPriorityLevel string = 'Low'

@description('Request units per second all of the migration\'s Cosmos DB reads share (every chain, every instance); empty: no limit beyond Cosmos DB\'s own throttling.')
param migrationMaxRuPerSecond string = ''

@minLength(3)
@maxLength(56)
@description('Migration queue; its poison queue is "<name>-poison" (the Functions runtime convention).')
param migrationQueueName string = 'nostria-migration'

@description('Keep PostgreSQL password authentication beside Entra ID, during a transition from a password deployment; the app then still uses the administrator password (Key Vault). Off: Entra ID only, no password anywhere.')
param postgresPasswordAuth bool = false

@minLength(1)
param postgresAdministratorLogin string = 'nostriaadmin'

@secure()
@description('PostgreSQL administrator password, with postgresPasswordAuth only. Stored only in the server and in the Key Vault DATABASE_URL secret.')
param postgresAdministratorPassword string = ''

@minLength(1)
@description('Object id of the PostgreSQL Microsoft Entra administrator; defaults to the operator running azd (AZURE_PRINCIPAL_ID).')
param postgresEntraAdminObjectId string = principalId

@minLength(1)
@description('Name of that administrator: the user principal name of a user (az ad signed-in-user show --query userPrincipalName), or the display name of a group or service principal.')
param postgresEntraAdminName string

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param postgresEntraAdminType string = 'User'

@description('General Purpose while migrating: the built-in PgBouncer (not on Burstable) and no CPU credits to run out during the bulk load. Burstable (e.g. Standard_B2s) once the load is done and traffic is light.')
@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = 'GeneralPurpose'

@minLength(1)
@description('A size of postgresSkuTier: Standard_D2ds_v5 (General Purpose, 2 vCores, max_connections 859) by default.')
param postgresSkuName string = 'Standard_D2ds_v5'

@minLength(1)
param postgresVersion string = '16'

param postgresStorageSizeGB int = 32

@minLength(1)
param postgresDatabaseName string = 'nostria'

@description('Optional operator IPv4 address allowed through the PostgreSQL firewall (for migrations from a workstation); ignored with usePrivateNetworking.')
param postgresAllowedClientIp string = ''

@minValue(1)
@maxValue(100)
@description('Connections per function instance; docs/deploy.md, "Connections", computes the budget.')
param databasePoolSize int = 5

@allowed([
  'LatestVersion'
  'AllVersionsAndDeletes'
])
@description('Change feed the sync reads. AllVersionsAndDeletes carries deletes to PostgreSQL; it needs continuous backup on the Cosmos account (checked before provisioning) and selects the preview extension bundle.')
param cosmosChangeFeedMode string = 'LatestVersion'

@allowed([
  'true'
  'false'
])
@description('Guide phase flag: PostgreSQL is the primary database.')
param usePostgresql string = 'false'

@allowed([
  'true'
  'false'
])
@description('Guide phase flag: write to both databases.')
param dualDatabaseMode string = 'false'

@allowed([
  'true'
  'false'
])
@description('Guide phase flag: migration utilities may write.')
param migrationMode string = 'false'

@minValue(40)
@maxValue(1000)
@description('Flex Consumption scale-out limit (40 to 1000: the plan rejects a lower maximum); bounds the PostgreSQL connections too.')
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('VNet integration for the app and private endpoints for PostgreSQL, storage and Key Vault, with their public access off.')
param usePrivateNetworking bool = false

@allowed([
  'none'
  'requested'
  'approved'
])
@description('With usePrivateNetworking: a private endpoint (group Sql) to the EXISTING Cosmos DB account. requested: the endpoint is created as a connection request the account\'s owner must approve, and the app keeps using the public endpoint; approved (after the owner approved it): the privatelink.documents.azure.com zone is linked, and the app\'s Cosmos DB traffic goes through the endpoint (docs/deploy.md, "Networking").')
param cosmosPrivateEndpoint string = 'none'

@allowed([
  'Reader'
  'Contributor'
])
@description('The operator\'s Cosmos DB data role on the Nostria database: Reader (migrate:stats, migrate:verify); Contributor for migrate:pending-sync from a workstation, which writes to Cosmos DB.')
param operatorCosmosDataRole string = 'Reader'

// Alerts (infra/modules/alerts.bicep; docs/deploy.md, "Alerts"). Each threshold is a parameter.

@description('E-mail address the alerts are sent to; empty: the action group has no receiver (alerts still fire and show in the portal).')
param alertEmail string = ''

@minValue(1)
@description('Sync lag bound, seconds: the alert fires when the sync\'s lag stays above it for alertSyncLagMinutes. The same figure the switch\'s readiness check uses.')
param alertSyncLagSeconds int = 300

@allowed([
  5
  10
  15
  20
  25
  30
])
@description('How long the sync lag must stay above alertSyncLagSeconds, in minutes (five-minute windows, at most six).')
param alertSyncLagMinutes int = 15

@minValue(1)
@description('Age bound of the oldest pending_sync entry (a mirror write still waiting for Cosmos DB), minutes. The same figure the switch\'s readiness check uses.')
param alertPendingSyncAgeMinutes int = 30

@minValue(0)
@description('Documents the quarantine may grow by in an hour without an alert (0: any growth alerts).')
param alertQuarantineGrowth int = 0

@minValue(0)
@description('Messages the poison queue may hold without an alert (0: any message alerts).')
param alertPoisonMessages int = 0

@minValue(0)
@description('Failed function executions in 15 minutes tolerated without an alert (0: any failure alerts).')
param alertFunctionFailures int = 0

@minValue(1)
@maxValue(100)
@description('PostgreSQL storage used, percent, above which the alert fires (the server turns read-only at 95 %).')
param alertPostgresStoragePercent int = 85

@minValue(1)
@maxValue(100)
@description('PostgreSQL active connections, percent of max_connections, above which the alert fires.')
param alertPostgresConnectionsPercent int = 80

@minValue(0)
@description('max_connections of the server; 0 looks it up for postgresSkuName in infra/postgres-max-connections.json (Microsoft Learn, "Limits in Azure Database for PostgreSQL"). Set it for a size not listed there, or after changing max_connections.')
param postgresMaxConnections int = 0

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var identityName = 'id-${resourceToken}'
// The secret exists only while PostgreSQL password authentication is kept; its name is never empty, since
// the role assignments on it are named and scoped by it even when their condition is false.
var databaseUrlSecretName = 'database-url'
var publicNetworkAccess = !usePrivateNetworking
var cosmosEndpointRequested = usePrivateNetworking && cosmosPrivateEndpoint != 'none'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: identityName
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    migrationQueueName: migrationQueueName
    publicNetworkAccess: publicNetworkAccess
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    publicNetworkAccess: publicNetworkAccess
  }
}

module network 'modules/network.bicep' = if (usePrivateNetworking) {
  name: 'network'
  scope: rg
  params: {
    name: 'vnet-${resourceToken}'
    location: location
    tags: tags
    cosmosZone: cosmosPrivateEndpoint == 'approved'
  }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  scope: rg
  params: {
    name: 'psql-${resourceToken}'
    location: location
    tags: tags
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    version: postgresVersion
    storageSizeGB: postgresStorageSizeGB
    databaseName: postgresDatabaseName
    passwordAuth: postgresPasswordAuth
    administratorLogin: postgresAdministratorLogin
    administratorPassword: postgresAdministratorPassword
    entraAdminObjectId: postgresEntraAdminObjectId
    entraAdminName: postgresEntraAdminName
    entraAdminType: postgresEntraAdminType
    appRoleName: identityName
    publicNetworkAccess: publicNetworkAccess
    allowedClientIpAddress: postgresAllowedClientIp
    keyVaultName: keyVault.outputs.name
    databaseUrlSecretName: databaseUrlSecretName
  }
}

module postgresEndpoint 'modules/private-endpoint.bicep' = if (usePrivateNetworking) {
  name: 'pe-postgres'
  scope: rg
  params: {
    name: 'pe-psql-${resourceToken}'
    location: location
    tags: tags
    subnetId: usePrivateNetworking ? network.outputs.privateEndpointSubnetId : ''
    targetResourceId: postgres.outputs.id
    groupId: 'postgresqlServer'
    privateDnsZoneId: usePrivateNetworking ? network.outputs.postgresZoneId : ''
  }
}

module blobEndpoint 'modules/private-endpoint.bicep' = if (usePrivateNetworking) {
  name: 'pe-blob'
  scope: rg
  params: {
    name: 'pe-blob-${resourceToken}'
    location: location
    tags: tags
    subnetId: usePrivateNetworking ? network.outputs.privateEndpointSubnetId : ''
    targetResourceId: storage.outputs.id
    groupId: 'blob'
    privateDnsZoneId: usePrivateNetworking ? network.outputs.blobZoneId : ''
  }
}

module queueEndpoint 'modules/private-endpoint.bicep' = if (usePrivateNetworking) {
  name: 'pe-queue'
  scope: rg
  params: {
    name: 'pe-queue-${resourceToken}'
    location: location
    tags: tags
    subnetId: usePrivateNetworking ? network.outputs.privateEndpointSubnetId : ''
    targetResourceId: storage.outputs.id
    groupId: 'queue'
    privateDnsZoneId: usePrivateNetworking ? network.outputs.queueZoneId : ''
  }
}

module vaultEndpoint 'modules/private-endpoint.bicep' = if (usePrivateNetworking) {
  name: 'pe-vault'
  scope: rg
  params: {
    name: 'pe-kv-${resourceToken}'
    location: location
    tags: tags
    subnetId: usePrivateNetworking ? network.outputs.privateEndpointSubnetId : ''
    targetResourceId: keyVault.outputs.id
    groupId: 'vault'
    privateDnsZoneId: usePrivateNetworking ? network.outputs.vaultZoneId : ''
  }
}

// A connection request to the existing Cosmos DB account, which its owner approves (manual approval: this
// deployment changes nothing on the account). Its DNS zone group is added only once approved, so the
// account's name keeps resolving to its public address until the endpoint carries traffic.
module cosmosEndpoint 'modules/private-endpoint.bicep' = if (cosmosEndpointRequested) {
  name: 'pe-cosmos'
  scope: rg
  params: {
    name: 'pe-cosmos-${resourceToken}'
    location: location
    tags: tags
    subnetId: usePrivateNetworking ? network.outputs.privateEndpointSubnetId : ''
    targetResourceId: cosmosLeases.outputs.accountId
    groupId: 'Sql'
    manualApproval: true
    privateDnsZoneId: usePrivateNetworking ? network.outputs.cosmosZoneId : ''
  }
  // A private endpoint connection is a write on the Cosmos DB account, which takes one at a time.
  dependsOn: [
    rbac
  ]
}

module cosmosLeases 'modules/cosmos-leases.bicep' = {
  name: 'cosmos-leases-${resourceToken}'
  scope: resourceGroup(cosmosResourceGroupName)
  params: {
    accountName: cosmosAccountName
    databaseName: cosmosDatabaseName
    leaseContainerName: cosmosLeaseContainerName
    throughputMode: cosmosLeaseThroughput
    dedicatedThroughput: cosmosLeaseContainerRUs
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    identityPrincipalId: identity.outputs.principalId
    operatorPrincipalId: principalId
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
    databaseUrlSecretName: databaseUrlSecretName
    databaseUrlSecretExists: postgresPasswordAuth
    operatorCosmosDataRole: operatorCosmosDataRole
    cosmosAccountName: cosmosAccountName
    cosmosResourceGroupName: cosmosResourceGroupName
    cosmosDatabaseName: cosmosDatabaseName
  }
  // The DATABASE_URL secret the Key Vault roles are scoped to is written by the postgres module. The lease
  // container is a write on the Cosmos DB account too, which takes one at a time: the role assignments wait.
  dependsOn: [
    postgres
    cosmosLeases
  ]
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: storage.outputs.deploymentContainerName
    migrationQueueName: storage.outputs.migrationQueueName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    cosmosEndpoint: cosmosLeases.outputs.documentEndpoint
    cosmosDatabaseName: cosmosDatabaseName
    cosmosContainerName: cosmosContainerName
    cosmosLeaseContainerName: cosmosLeases.outputs.leaseContainerName
    cosmosLeasePrefix: !empty(cosmosLeasePrefix) ? cosmosLeasePrefix : environmentName
    cosmosPreferredLocations: cosmosPreferredLocations
    cosmosChangeFeedMode: cosmosChangeFeedMode
    cosmosPriorityLevel: cosmosPriorityLevel
    migrationMaxRuPerSecond: migrationMaxRuPerSecond
    databaseAuth: postgresPasswordAuth ? 'password' : 'entra'
    entraDatabaseUrl: postgres.outputs.appEntraDatabaseUrl
    databaseUrlSecretUri: postgres.outputs.databaseUrlSecretUri
    databasePoolSize: databasePoolSize
    usePostgresql: usePostgresql
    dualDatabaseMode: dualDatabaseMode
    migrationMode: migrationMode
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    virtualNetworkSubnetId: usePrivateNetworking ? network.outputs.appSubnetId : ''
  }
  // The host starts as soon as the site exists; granting its roles first spares it a round of
  // 403s from storage, Key Vault and Cosmos DB while the assignments propagate. With private
  // networking the storage endpoints must resolve privately before the host first reaches them.
  dependsOn: [
    rbac
    blobEndpoint
    queueEndpoint
    vaultEndpoint
  ]
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    nameSuffix: resourceToken
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    postgresServerName: postgres.outputs.serverName
    postgresSkuName: postgresSkuName
    postgresMaxConnections: postgresMaxConnections
    email: alertEmail
    syncLagSeconds: alertSyncLagSeconds
    syncLagMinutes: alertSyncLagMinutes
    pendingSyncAgeMinutes: alertPendingSyncAgeMinutes
    quarantineGrowth: alertQuarantineGrowth
    poisonMessages: alertPoisonMessages
    functionFailures: alertFunctionFailures
    postgresStoragePercent: alertPostgresStoragePercent
    postgresConnectionsPercent: alertPostgresConnectionsPercent
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output FUNCTION_APP_HOSTNAME string = functionApp.outputs.defaultHostName
output FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output MIGRATION_API_BASE_URL string = 'https://${functionApp.outputs.defaultHostName}/api'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output MIGRATION_QUEUE_NAME string = storage.outputs.migrationQueueName
output MIGRATION_POISON_QUEUE_NAME string = storage.outputs.migrationPoisonQueueName
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output DATABASE_URL_SECRET_NAME string = postgresPasswordAuth ? databaseUrlSecretName : ''
output POSTGRES_SERVER_NAME string = postgres.outputs.serverName
output POSTGRES_HOST string = postgres.outputs.fullyQualifiedDomainName
output POSTGRES_APP_PORT int = postgres.outputs.appPort
output POSTGRES_APP_ROLE string = identityName
output POSTGRES_APP_PRINCIPAL_ID string = identity.outputs.principalId
output POSTGRES_MIGRATION_URL string = postgres.outputs.migrationDatabaseUrl
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AZURE_COSMOSDB_ENDPOINT string = cosmosLeases.outputs.documentEndpoint
output COSMOS_LEASE_CONTAINER_THROUGHPUT string = cosmosLeases.outputs.leaseThroughput
output COSMOS_BACKUP_POLICY string = cosmosLeases.outputs.backupPolicyType
output APP_OUTBOUND_IP string = usePrivateNetworking ? network.outputs.outboundIpAddress : ''
output COSMOS_PRIVATE_ENDPOINT_NAME string = cosmosEndpointRequested ? 'pe-cosmos-${resourceToken}' : ''
output ALERT_ACTION_GROUP_NAME string = alerts.outputs.actionGroupName
output ALERT_POSTGRES_MAX_CONNECTIONS int = alerts.outputs.postgresMaxConnections
