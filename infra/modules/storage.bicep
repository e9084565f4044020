// Storage for the Functions host (AzureWebJobsStorage), the Flex Consumption deployment package,
// and the migration queue with its poison queue. Shared-key access is off, so every client,
// the host included, authenticates with Entra ID.

param name string
param location string
param tags object

@description('Blob container that holds the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Queue the migration functions read; the runtime moves failed messages to "<name>-poison".')
param migrationQueueName string

@description('Accept requests from public networks; false when the app reaches the account through private endpoints (usePrivateNetworking).')
param publicNetworkAccess bool

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    // Private: as Microsoft's Flex Consumption azd templates do with vnetEnabled. azd still deploys,
    // because it hands the package to the app's publish endpoint and the platform writes the blob.
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    networkAcls: {
      bypass: publicNetworkAccess ? 'AzureServices' : 'None'
      defaultAction: publicNetworkAccess ? 'Allow' : 'Deny'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource migrationQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: migrationQueueName
}

// Created up front so it can be inspected and replayed before the first failure, and so the
// identity never needs the right to create queues at run time.
resource migrationPoisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queueService
  name: '${migrationQueueName}-poison'
}

output name string = storage.name
output id string = storage.id
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output queueEndpoint string = storage.properties.primaryEndpoints.queue
output deploymentContainerName string = deploymentContainer.name
output migrationQueueName string = migrationQueue.name
output migrationPoisonQueueName string = migrationPoisonQueue.name
