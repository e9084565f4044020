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

@description('Name of the EXISTING Nostria Cosmos DB account. It is referenced, never created or changed.')
param cosmosAccountName string

@description('Resource group of the existing Cosmos DB account (same subscription).')
param cosmosResourceGroupName string

param cosmosDatabaseName string = 'NostriaDB'
param cosmosContainerName string = 'Documents'

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

@description('A size of postgresSkuTier: Standard_D2ds_v5 (General Purpose, 2 vCores, max_connections 859) by default.')
param postgresSkuName string = 'Standard_D2ds_v5'

param postgresVersion string = '16'
param postgresStorageSizeGB int = 32
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

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var identityName = 'id-${resourceToken}'
// The secret exists only while PostgreSQL password authentication is kept.
var databaseUrlSecretName = postgresPasswordAuth ? 'database-url' : ''
var publicNetworkAccess = !usePrivateNetworking

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
    databaseUrlSecretName: 'database-url'
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
    cosmosAccountName: cosmosAccountName
    cosmosResourceGroupName: cosmosResourceGroupName
    cosmosDatabaseName: cosmosDatabaseName
  }
  // The DATABASE_URL secret the Key Vault roles are scoped to is written by the postgres module.
  dependsOn: [
    postgres
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
output DATABASE_URL_SECRET_NAME string = databaseUrlSecretName
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
