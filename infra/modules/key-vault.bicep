// Key Vault for the PostgreSQL connection string. RBAC authorization only (no access policies):
// the app's identity gets "Key Vault Secrets User" on that one secret in rbac.bicep.

param name string
param location string
param tags object

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
    // Flex Consumption outbound addresses are not fixed, so the vault cannot filter by IP;
    // access is by Entra ID and RBAC alone.
    publicNetworkAccess: 'Enabled'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
