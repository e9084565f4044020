// Nostria Migrate on Azure: a Flex Consumption function app (Node 22) that syncs and migrates the
// existing Nostria Cosmos DB account into Azure Database for PostgreSQL. `azd up` provisions this
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
param cosmosLeaseContainerName string = 'leases'

@description('Dedicated RU/s for the lease container; 0 uses the database\'s shared throughput or serverless.')
@minValue(0)
param cosmosLeaseContainerThroughput int = 0

@description('Change-feed lease prefix; empty uses the environment name so another deployment or a local run never takes this one\'s leases.')
param cosmosLeasePrefix string = ''

@minLength(3)
@maxLength(56)
@description('Migration queue; its poison queue is "<name>-poison" (the Functions runtime convention).')
param migrationQueueName string = 'nostria-migration'

param postgresAdministratorLogin string = 'nostriaadmin'

@secure()
@minLength(12)
@description('PostgreSQL administrator password. Stored only in the server and in the Key Vault DATABASE_URL secret.')
param postgresAdministratorPassword string

@description('Standard_B2s allows about 430 connections (B1ms only 50): enough for DATABASE_POOL_SIZE x instances.')
param postgresSkuName string = 'Standard_B2s'

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param postgresSkuTier string = 'Burstable'

param postgresVersion string = '16'
param postgresStorageSizeGB int = 32
param postgresDatabaseName string = 'nostria'

@description('Optional operator IPv4 address allowed through the PostgreSQL firewall (for migrations from a workstation).')
param postgresAllowedClientIp string = ''

@minValue(1)
@maxValue(100)
@description('Connections per function instance; keep instances x pool size under the server\'s max_connections.')
param databasePoolSize int = 5

@allowed([
  'LatestVersion'
  'AllVersionsAndDeletes'
])
@description('Change feed the sync reads. AllVersionsAndDeletes carries deletes to PostgreSQL but needs continuous backup on the Cosmos account and the preview extension bundle.')
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

@minValue(1)
@maxValue(1000)
@description('Flex Consumption scale-out limit per function group; bounds the PostgreSQL connections too.')
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var databaseUrlSecretName = 'database-url'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-${resourceToken}'
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
  }
}

module keyVault 'modules/key-vault.bicep' = {
  name: 'key-vault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
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
    administratorLogin: postgresAdministratorLogin
    administratorPassword: postgresAdministratorPassword
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    version: postgresVersion
    storageSizeGB: postgresStorageSizeGB
    databaseName: postgresDatabaseName
    allowedClientIpAddress: postgresAllowedClientIp
    keyVaultName: keyVault.outputs.name
    databaseUrlSecretName: databaseUrlSecretName
  }
}

module cosmosLeases 'modules/cosmos-leases.bicep' = {
  name: 'cosmos-leases-${resourceToken}'
  scope: resourceGroup(cosmosResourceGroupName)
  params: {
    accountName: cosmosAccountName
    databaseName: cosmosDatabaseName
    leaseContainerName: cosmosLeaseContainerName
    leaseContainerThroughput: cosmosLeaseContainerThroughput
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
    databaseUrlSecretName: postgres.outputs.databaseUrlSecretName
    cosmosAccountName: cosmosAccountName
    cosmosResourceGroupName: cosmosResourceGroupName
    cosmosDatabaseName: cosmosDatabaseName
  }
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
    cosmosChangeFeedMode: cosmosChangeFeedMode
    databaseUrlSecretUri: postgres.outputs.databaseUrlSecretUri
    databasePoolSize: databasePoolSize
    usePostgresql: usePostgresql
    dualDatabaseMode: dualDatabaseMode
    migrationMode: migrationMode
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
  }
  // The host starts as soon as the site exists; granting its roles first spares it a round of
  // 403s from storage, Key Vault and Cosmos DB while the assignments propagate.
  dependsOn: [
    rbac
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
output DATABASE_URL_SECRET_NAME string = postgres.outputs.databaseUrlSecretName
output POSTGRES_SERVER_NAME string = postgres.outputs.serverName
output POSTGRES_HOST string = postgres.outputs.fullyQualifiedDomainName
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AZURE_COSMOSDB_ENDPOINT string = cosmosLeases.outputs.documentEndpoint
