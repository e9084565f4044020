// Key Vault for the app's secrets. RBAC authorization only (no access policies). With PostgreSQL by
// Entra ID (the default) it holds no database password: the DATABASE_URL secret exists only while
// password authentication is kept (postgresPasswordAuth), and the identities get "Key Vault Secrets
// User" on that one secret in rbac.bicep.

param name string
param location string
param tags object

@description('Accept requests from public networks; false with a private endpoint (usePrivateNetworking).')
param publicNetworkAccess bool

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    // Public: Flex Consumption outbound addresses are not fixed, so the vault cannot filter by IP;
    // access is by Entra ID and RBAC alone. Private: only through the private endpoint.
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    networkAcls: {
      bypass: 'None'
      defaultAction: publicNetworkAccess ? 'Allow' : 'Deny'
    }
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
