// The one identity the function app uses for everything: host storage, the migration queue,
// Cosmos DB, Key Vault references and Application Insights. Roles are granted in rbac.bicep.

@description('Name of the user-assigned managed identity.')
param name string

param location string
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
