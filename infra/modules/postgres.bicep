// Azure Database for PostgreSQL flexible server for the app's database: Microsoft Entra authentication,
// TLS enforced, the built-in PgBouncer where the tier has it, and public access either limited to Azure
// services or off (private endpoint, usePrivateNetworking).
//
// Passwordless by default: the app signs in as its managed identity with an Entra token (DATABASE_AUTH=
// entra), the operator as the Entra administrator. `passwordAuth` keeps password sign-in during a switch
// from an older deployment; only then is there an administrator password, and only then does Key Vault
// hold a DATABASE_URL secret. The app's database role is created once by the Entra administrator
// (infra/sql/, docs/deploy.md "Grant the app its database role"): a role can only be mapped to an Entra
// identity by an Entra administrator connected to the server, which a deployment cannot do.

param name string
param location string
param tags object

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

@description('Keep password authentication (with the administrator login below) beside Entra ID, during a transition.')
param passwordAuth bool

param administratorLogin string

@secure()
@description('Used only with passwordAuth.')
param administratorPassword string

@description('Object id of the Microsoft Entra administrator (the operator).')
param entraAdminObjectId string

@description('Name of that principal: a user principal name, or the display name of a group or service principal.')
param entraAdminName string

@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param entraAdminType string

@description('Database role the app signs in as: its managed identity, mapped to that identity by infra/sql/create-app-role.sql.')
param appRoleName string

@description('Accept connections from public networks (Azure services rule, operator IP); false when a private endpoint is used.')
param publicNetworkAccess bool

@description('Optional public IPv4 address of an operator machine (for `npm run db:migrate` and the migrate:* CLI). Empty adds no rule.')
param allowedClientIpAddress string

@description('Existing Key Vault (RBAC authorization) that receives the DATABASE_URL secret when passwordAuth is on.')
param keyVaultName string

param databaseUrlSecretName string

// Built-in PgBouncer exists on General Purpose and Memory Optimized only (Microsoft Learn, "PgBouncer in
// Azure Database for PostgreSQL"). With it the app connects to port 6432 and PgBouncer's transaction
// pooling multiplexes every instance's pool onto a few server connections; migrations keep 5432
// because the migration applier holds a session-level advisory lock.
var pgBouncer = skuTier != 'Burstable'
var appPort = pgBouncer ? 6432 : 5432

// sslmode=verify-full, said explicitly: node-postgres treats `require` as verify-full already and warns
// on every process that it will change meaning in pg 9 ("SECURITY WARNING: The SSL modes 'prefer',
// 'require', and 'verify-ca' are treated as aliases for 'verify-full'"); its advice for today's behaviour
// is verify-full. The server's certificate chains to a public root Node trusts, so it verifies as is.
var sslQuery = 'sslmode=verify-full'

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
    // Without password authentication there is no administrator login at all.
    administratorLogin: passwordAuth ? administratorLogin : null
    administratorLoginPassword: passwordAuth ? administratorPassword : null
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: passwordAuth ? 'Enabled' : 'Disabled'
      tenantId: tenant().tenantId
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
      publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
    }
  }
}

// The server accepts one management operation at a time, so the children below are chained with dependsOn.

// ON is the service default; setting it here keeps a portal change from silently allowing plain-text connections.
resource requireSecureTransport 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = {
  parent: server
  name: 'require_secure_transport'
  properties: {
    value: 'ON'
    source: 'user-override'
  }
}

// Dynamic parameter: no restart (Microsoft Learn, "PgBouncer in Azure Database for PostgreSQL").
resource pgBouncerEnabled 'Microsoft.DBforPostgreSQL/flexibleServers/configurations@2024-08-01' = if (pgBouncer) {
  parent: server
  name: 'pgbouncer.enabled'
  properties: {
    value: 'true'
    source: 'user-override'
  }
  dependsOn: [
    requireSecureTransport
  ]
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
  dependsOn: [
    requireSecureTransport
    pgBouncerEnabled
  ]
}

// The operator's Entra identity, with the rights to create the app's role and run migrations. Named by
// object id, as the API requires.
resource entraAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: entraAdminObjectId
  properties: {
    principalName: entraAdminName
    principalType: entraAdminType
    tenantId: tenant().tenantId
  }
  dependsOn: [
    database
  ]
}

// 0.0.0.0-0.0.0.0 is the documented "allow public access from any Azure service" rule. Flex Consumption
// without VNet integration has no fixed outbound addresses, so this is its only way in; it admits
// connection attempts from any Azure-hosted client (other tenants included), which must still present a
// valid Entra token for a role on this server, over TLS. usePrivateNetworking removes it (docs/deploy.md).
resource allowAzureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (publicNetworkAccess) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
  dependsOn: [
    entraAdmin
  ]
}

resource allowOperatorClient 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (publicNetworkAccess && !empty(allowedClientIpAddress)) {
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

// Only while password authentication is kept: the administrator's connection string, for the app's
// Key Vault reference. With Entra only, no password exists and nothing is stored.
resource databaseUrl 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (passwordAuth) {
  parent: vault
  name: databaseUrlSecretName
  properties: {
    value: 'postgresql://${administratorLogin}:${uriComponent(administratorPassword)}@${server.properties.fullyQualifiedDomainName}:${appPort}/${database.name}?${sslQuery}'
  }
}

output serverName string = server.name
output id string = server.id
output fullyQualifiedDomainName string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
output pgBouncer bool = pgBouncer
output appPort int = appPort
@description('The app\'s DATABASE_URL with DATABASE_AUTH=entra: its role, no password.')
output appEntraDatabaseUrl string = 'postgresql://${uriComponent(appRoleName)}@${server.properties.fullyQualifiedDomainName}:${appPort}/${database.name}?${sslQuery}'
@description('For `npm run db:migrate` as the Entra administrator: port 5432 (a session lock), no password (DATABASE_AUTH=entra).')
output migrationDatabaseUrl string = 'postgresql://${uriComponent(entraAdminName)}@${server.properties.fullyQualifiedDomainName}:5432/${database.name}?${sslQuery}'
output databaseUrlSecretName string = passwordAuth ? databaseUrl.name : ''
// Versionless: App Service re-resolves the reference after a rotation without a redeploy.
output databaseUrlSecretUri string = passwordAuth ? databaseUrl.properties.secretUri : ''
