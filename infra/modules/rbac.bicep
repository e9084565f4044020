// Every role assignment of the deployment, in one place. Names are guid(scope, principal, role),
// so a redeployment finds the same assignment instead of failing on a duplicate.
//
// The app's identity gets:
//   Storage Blob Data Owner         storage account   host (AzureWebJobsStorage) and the deployment package
//   Storage Queue Data Contributor  storage account   migration queue trigger, its poison queue, enqueueing runs
//   Monitoring Metrics Publisher    App Insights      telemetry with local auth disabled
//   Key Vault Secrets User          DATABASE_URL secret only   the Key Vault reference (password auth only)
//   Cosmos DB Built-in Data Contributor  NostriaDB database (existing account)  SDK reads, change feed, leases
// The operator (principalId, optional) gets what the runbook in docs/deploy.md needs:
//   Storage Queue Data Contributor (put and inspect messages), Key Vault Secrets User on the same
//   secret while it exists, and on the NostriaDB database Cosmos DB Built-in Data Reader (migrate:verify,
//   migrate:stats), or Data Contributor with operatorCosmosDataRole=Contributor (migrate:pending-sync from
//   a workstation writes to Cosmos DB).
// PostgreSQL access is not an Azure role: the app's database role and its privileges are granted in
// the database (infra/sql/), the operator is the server's Entra administrator (postgres.bicep).
// Not granted: Storage Table Data Contributor (nothing here uses tables) and the narrower queue
// roles (Message Processor, Message Sender), which Queue Data Contributor already contains.

param identityPrincipalId string

@description('Object id of the person or pipeline running `azd`; empty grants nothing.')
param operatorPrincipalId string

param storageAccountName string
param applicationInsightsName string
param keyVaultName string

@minLength(1)
@description('Name of the DATABASE_URL secret. Always a name, even when the secret does not exist: ARM computes the name and scope of a role assignment whose condition is false too, and an empty segment fails the whole deployment ("incorrect segment lengths").')
param databaseUrlSecretName string

@description('The secret exists only while PostgreSQL password authentication is kept; false grants nothing on it.')
param databaseUrlSecretExists bool

@allowed([
  'Reader'
  'Contributor'
])
@description('The operator\'s Cosmos DB data role on the Nostria database: Reader for the read-only runbook commands; Contributor to run migrate:pending-sync (it writes to Cosmos DB) from a workstation.')
param operatorCosmosDataRole string = 'Reader'

param cosmosAccountName string
param cosmosResourceGroupName string
param cosmosDatabaseName string

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  cosmosDataReader: '00000000-0000-0000-0000-000000000001'
  cosmosDataContributor: '00000000-0000-0000-0000-000000000002'
}

var hasOperator = !empty(operatorPrincipalId)

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource databaseUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = {
  parent: vault
  name: databaseUrlSecretName
}

resource appBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

resource appQueueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
  }
}

resource appMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

resource appSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (databaseUrlSecretExists) {
  name: guid(databaseUrlSecret.id, identityPrincipalId, roles.keyVaultSecretsUser)
  scope: databaseUrlSecret
  properties: {
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

module appCosmosDataContributor 'cosmos-data-role.bicep' = {
  name: 'cosmos-data-contributor-${uniqueString(identityPrincipalId)}'
  scope: resourceGroup(cosmosResourceGroupName)
  params: {
    accountName: cosmosAccountName
    databaseName: cosmosDatabaseName
    principalId: identityPrincipalId
    roleDefinitionId: roles.cosmosDataContributor
  }
}

resource operatorQueueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperator) {
  name: guid(storage.id, operatorPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    principalId: operatorPrincipalId
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
  }
}

resource operatorSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (hasOperator && databaseUrlSecretExists) {
  name: guid(databaseUrlSecret.id, operatorPrincipalId, roles.keyVaultSecretsUser)
  scope: databaseUrlSecret
  properties: {
    principalId: operatorPrincipalId
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

// Cosmos DB accepts one control-plane write per account at a time and answers a concurrent one with 412
// "another operation in progress" (seen for sqlRoleAssignments in terraform-provider-azurerm #15842 and
// #17233), so the assignments on the account are deployed one after the other.
module operatorCosmosDataRoleAssignment 'cosmos-data-role.bicep' = if (hasOperator) {
  name: 'cosmos-data-${toLower(operatorCosmosDataRole)}-${uniqueString(operatorPrincipalId)}'
  scope: resourceGroup(cosmosResourceGroupName)
  params: {
    accountName: cosmosAccountName
    databaseName: cosmosDatabaseName
    principalId: operatorPrincipalId
    roleDefinitionId: operatorCosmosDataRole == 'Contributor' ? roles.cosmosDataContributor : roles.cosmosDataReader
  }
  dependsOn: [
    appCosmosDataContributor
  ]
}
