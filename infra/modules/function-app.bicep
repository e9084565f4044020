// The Nostria Migrate function app on the Flex Consumption plan (Node 22: this file states the version
// Azure runs; package.json `engines` agrees). Every connection is identity-based with the one
// user-assigned identity, PostgreSQL included (an Entra token, DATABASE_AUTH=entra). Only while
// PostgreSQL password authentication is kept is DATABASE_URL a secret, and then a Key Vault reference
// resolved with that identity. The app settings below are the whole contract with the code:
// test/integration/infra.test.ts checks them against what the app and its bindings read.

param name string
param planName string
param location string
param tags object

@description('azd finds the app to deploy to by this tag; it must match the service name in azure.yaml.')
param serviceName string = 'api'

param identityId string
param identityClientId string

param storageAccountName string
param deploymentContainerName string
param migrationQueueName string

param applicationInsightsName string

param cosmosEndpoint string
param cosmosDatabaseName string
param cosmosContainerName string
param cosmosLeaseContainerName string
param cosmosLeasePrefix string

@description('Comma-separated Cosmos DB regions to read from, nearest first; empty reads from the account\'s default region.')
param cosmosPreferredLocations string

@allowed([
  'LatestVersion'
  'AllVersionsAndDeletes'
])
param cosmosChangeFeedMode string

@description('Priority of the migration\'s Cosmos DB reads (Low, High, or empty for none).')
param cosmosPriorityLevel string

@description('Request units per second the migration\'s Cosmos DB reads share; empty: no limit.')
param migrationMaxRuPerSecond string

@description('entra: DATABASE_URL names the app\'s role and the app signs in with a token; password: DATABASE_URL is the Key Vault secret.')
@allowed([
  'entra'
  'password'
])
param databaseAuth string

@description('DATABASE_URL with DATABASE_AUTH=entra: no password in it.')
param entraDatabaseUrl string

@description('Versionless URI of the Key Vault secret holding the PostgreSQL connection string (password authentication only).')
param databaseUrlSecretUri string
param databasePoolSize int

@allowed([
  'true'
  'false'
])
param usePostgresql string

@allowed([
  'true'
  'false'
])
param dualDatabaseMode string

@allowed([
  'true'
  'false'
])
param migrationMode string

@description('Flex Consumption accepts 40 to 1000 (its lowest maximum is 40).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Subnet for VNet integration (delegated to Microsoft.App/environments); empty for none.')
param virtualNetworkSubnetId string

// The Cosmos DB trigger honours changeFeedMode only in the preview extension (azure-webjobs-sdk-extensions
// PR 972, "preview support for AllVersionsAndDeletes ... only in our own preview package"), which ships in
// the Preview extension bundle; the GA bundle ignores the mode and delivers plain documents. App settings
// AzureFunctionsJobHost__* override host.json (Microsoft Learn, host.json reference, "Override host.json
// values"), so the mode alone picks the bundle, and host.json keeps the GA one for LatestVersion.
var gaExtensionBundle = {
  id: 'Microsoft.Azure.Functions.ExtensionBundle'
  version: '[4.*, 5.0.0)'
}
var previewExtensionBundle = {
  id: 'Microsoft.Azure.Functions.ExtensionBundle.Preview'
  version: '[4.*, 5.0.0)'
}
var extensionBundle = cosmosChangeFeedMode == 'AllVersionsAndDeletes' ? previewExtensionBundle : gaExtensionBundle

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': serviceName
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      // The portal's "Code + Test" calls the function from the browser; nothing else is allowed cross-origin.
      cors: {
        allowedOrigins: [
          'https://portal.azure.com'
        ]
      }
      // Flex Consumption takes the runtime from functionAppConfig, so FUNCTIONS_WORKER_RUNTIME and
      // FUNCTIONS_EXTENSION_VERSION are deliberately absent. A deployment replaces the whole list:
      // a setting added by hand in the portal disappears on the next `azd provision`.
      appSettings: [
        // Service URIs rather than __accountName, which the host and the app's queue client would turn into
        // public-cloud host names: these carry the cloud's own storage suffix.
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: 'https://${storage.name}.blob.${environment().suffixes.storage}'
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: 'https://${storage.name}.queue.${environment().suffixes.storage}'
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: 'https://${storage.name}.table.${environment().suffixes.storage}'
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        {
          name: 'MIGRATION_QUEUE_NAME'
          value: migrationQueueName
        }
        {
          name: 'NOSTRIA_COSMOSDB__accountEndpoint'
          value: cosmosEndpoint
        }
        {
          name: 'NOSTRIA_COSMOSDB__credential'
          value: 'managedidentity'
        }
        {
          name: 'NOSTRIA_COSMOSDB__clientId'
          value: identityClientId
        }
        {
          name: 'AZURE_COSMOSDB_ENDPOINT'
          value: cosmosEndpoint
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        {
          name: 'AZURE_COSMOSDB_DATABASE_NAME'
          value: cosmosDatabaseName
        }
        {
          name: 'AZURE_COSMOSDB_CONTAINER_NAME'
          value: cosmosContainerName
        }
        {
          name: 'COSMOSDB_LEASE_CONTAINER_NAME'
          value: cosmosLeaseContainerName
        }
        {
          name: 'COSMOSDB_LEASE_PREFIX'
          value: cosmosLeasePrefix
        }
        {
          name: 'COSMOSDB_CHANGE_FEED_MODE'
          value: cosmosChangeFeedMode
        }
        {
          name: 'COSMOSDB_PREFERRED_LOCATIONS'
          value: cosmosPreferredLocations
        }
        {
          name: 'COSMOSDB_PRIORITY_LEVEL'
          value: cosmosPriorityLevel
        }
        {
          name: 'MIGRATION_MAX_RU_PER_SECOND'
          value: migrationMaxRuPerSecond
        }
        {
          name: 'AzureFunctionsJobHost__extensionBundle__id'
          value: extensionBundle.id
        }
        {
          name: 'AzureFunctionsJobHost__extensionBundle__version'
          value: extensionBundle.version
        }
        {
          name: 'DATABASE_AUTH'
          value: databaseAuth
        }
        {
          name: 'DATABASE_URL'
          value: databaseAuth == 'password' ? '@Microsoft.KeyVault(SecretUri=${databaseUrlSecretUri})' : entraDatabaseUrl
        }
        {
          name: 'DATABASE_POOL_SIZE'
          value: string(databasePoolSize)
        }
        {
          name: 'DATABASE_RETRY_WINDOW_SECONDS'
          value: '60'
        }
        {
          name: 'DATABASE_STATEMENT_TIMEOUT_SECONDS'
          value: '120'
        }
        {
          name: 'DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_SECONDS'
          value: '60'
        }
        {
          name: 'DATABASE_QUERY_TIMEOUT_SECONDS'
          value: '150'
        }
        {
          name: 'DATABASE_CONNECT_TIMEOUT_SECONDS'
          value: '15'
        }
        {
          name: 'DATABASE_KEEPALIVE_SECONDS'
          value: '10'
        }
        {
          name: 'DELETE_RETENTION_DAYS'
          value: '7'
        }
        {
          name: 'USE_POSTGRESQL'
          value: usePostgresql
        }
        {
          name: 'DUAL_DATABASE_MODE'
          value: dualDatabaseMode
        }
        {
          name: 'MIGRATION_MODE'
          value: migrationMode
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: applicationInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'Authorization=AAD;ClientId=${identityClientId}'
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
