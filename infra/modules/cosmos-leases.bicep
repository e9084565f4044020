// Deployed into the resource group of the EXISTING Nostria Cosmos DB account. The account and the
// NostriaDB database are only referenced; the one thing created is the change-feed lease container,
// because a data-plane (Entra ID) client cannot create containers, so the trigger cannot create it.

param accountName string
param databaseName string
param leaseContainerName string

@description('Dedicated RU/s for the lease container; 0 leaves it on the database\'s shared throughput (or serverless).')
@minValue(0)
param leaseContainerThroughput int

var options = leaseContainerThroughput > 0 ? {
  throughput: leaseContainerThroughput
} : {}

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-05-15' existing = {
  name: accountName
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-05-15' existing = {
  parent: account
  name: databaseName
}

resource leases 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-05-15' = {
  parent: database
  name: leaseContainerName
  properties: {
    resource: {
      id: leaseContainerName
      partitionKey: {
        paths: [
          '/id'
        ]
        kind: 'Hash'
      }
    }
    options: options
  }
}

output documentEndpoint string = account.properties.documentEndpoint
output leaseContainerName string = leases.name
