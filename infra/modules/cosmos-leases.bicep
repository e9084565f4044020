// Deployed into the resource group of the EXISTING Nostria Cosmos DB account. The account and the
// NostriaDB database are only referenced; the one thing created is the change-feed lease container,
// because a data-plane (Entra ID) client cannot create containers, so the trigger cannot create it.

param accountName string
param databaseName string

@description('A container of this app alone: a name the Nostria service does not use (redefining an existing container with another partition key fails the deployment).')
param leaseContainerName string

@description('shared: no throughput of its own (see leaseThroughput below for what that means for this account); dedicated: its own manual RU/s.')
@allowed([
  'shared'
  'dedicated'
])
param throughputMode string

@description('Manual RU/s of the lease container when throughputMode is dedicated.')
@minValue(400)
param dedicatedThroughput int

var options = throughputMode == 'dedicated' ? {
  throughput: dedicatedThroughput
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

// What "shared" gives depends on the database: a container created without throughput shares the
// database's throughput only if the database has some; in a database without shared throughput on a
// provisioned account, Cosmos DB gives it its own (billed) 400 RU/s; on a serverless account it is
// serverless. The database's throughput is not readable here: GET of a database may return empty `options`
// (the throughput lives in its throughputSettings, which do not exist without shared throughput, so they
// cannot be referenced either). So the output says what is known, and how to see the rest.
var serverless = contains(map(account.properties.?capabilities ?? [], capability => capability.name), 'EnableServerless')
var sharedThroughput = 'shared: shares database ${databaseName}\'s throughput if it has any, else its own 400 RU/s (az cosmosdb sql database throughput show -a ${accountName} -n ${databaseName} -g ${resourceGroup().name} says which)'
var withoutOwnThroughput = serverless ? 'serverless account: billed per request' : sharedThroughput

output documentEndpoint string = account.properties.documentEndpoint
output accountId string = account.id
output leaseContainerName string = leases.name
@description('The lease container\'s throughput as deployed, in words (also an azd output, so the operator sees it).')
output leaseThroughput string = throughputMode == 'dedicated' ? 'dedicated: ${dedicatedThroughput} RU/s' : withoutOwnThroughput
@description('Continuous backup is a prerequisite of the AllVersionsAndDeletes change feed (the preprovision hook, scripts/preprovision.mjs, checks it before provisioning).')
output backupPolicyType string = account.properties.backupPolicy.type
