// A Cosmos DB data-plane role assignment on the EXISTING account, deployed into that account's
// resource group. Called only from rbac.bicep, which holds every role assignment of the app.

param accountName string
param databaseName string
param principalId string

@description('Cosmos DB built-in data-plane role: ...0001 Data Reader, ...0002 Data Contributor.')
@allowed([
  '00000000-0000-0000-0000-000000000001'
  '00000000-0000-0000-0000-000000000002'
])
param roleDefinitionId string

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' existing = {
  name: accountName
}

var databaseScope = '${account.id}/dbs/${databaseName}'

// Scoped to the database, not the account: it covers the Nostria container and the lease
// container, which the change-feed processor reads and writes, and nothing else on the account.
resource assignment 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-05-15' = {
  parent: account
  name: guid(databaseScope, principalId, roleDefinitionId)
  properties: {
    principalId: principalId
    roleDefinitionId: '${account.id}/sqlRoleDefinitions/${roleDefinitionId}'
    scope: databaseScope
  }
}
