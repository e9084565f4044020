// Azure Database for PostgreSQL flexible server with the app's database, TLS enforced, and the
// connection string stored as a Key Vault secret (never as a plain app setting).

param name string
param location string
param tags object

param administratorLogin string

@secure()
param administratorPassword string

param skuName string

@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param skuTier string

param version string
param storageSizeGB int
param databaseName string

@description('Optional public IPv4 address of an operator machine (for `npm run db:migrate` and the migrate:* CLI). Empty adds no rule.')
param allowedClientIpAddress string

@description('Existing Key Vault (RBAC authorization) that receives the DATABASE_URL secret.')
param keyVaultName string

param databaseUrlSecretName string

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorPassword
    authConfig: {
      activeDirectoryAuth: 'Disabled'
      passwordAuth: 'Enabled'
    }
    storage: {
      storageSizeGB: storageSizeGB
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

// ON is the service default; setting it here keeps a portal change from silently allowing plain-text connections.
resource requireSecureTransport 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'require_secure_transport'
  properties: {
    value: 'ON'
    source: 'user-override'
  }
}

// The server accepts one management operation at a time, so the children are chained with dependsOn.
resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [
    requireSecureTransport
  ]
}

// 0.0.0.0-0.0.0.0 is the documented "allow public access from any Azure service" rule. Flex
// Consumption has no fixed outbound addresses, so without VNet integration and private access this
// is the only way in; it admits connection attempts from any Azure-hosted client (other tenants
// included), which TLS and the password still have to pass. See docs/deploy.md, "Network trade-off".
resource allowAzureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [
    database
  ]
}

resource allowOperatorClient 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (!empty(allowedClientIpAddress)) {
  parent: server
  name: 'AllowOperatorClient'
  properties: {
    startIpAddress: allowedClientIpAddress
    endIpAddress: allowedClientIpAddress
  }
  dependsOn: [
    allowAzureServices
  ]
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// sslmode=require: node-postgres treats it as verify-full (the server certificate chains to a
// public root in Node's store) and Prisma's schema engine as TLS required.
resource databaseUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: databaseUrlSecretName
  properties: {
    value: 'postgresql://${administratorLogin}:${uriComponent(administratorPassword)}@${server.properties.fullyQualifiedDomainName}:5432/${database.name}?sslmode=require'
  }
}

output serverName string = server.name
output fullyQualifiedDomainName string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
output databaseUrlSecretName string = databaseUrl.name
// Versionless: App Service re-resolves the reference after a rotation without a redeploy.
output databaseUrlSecretUri string = databaseUrl.properties.secretUri
