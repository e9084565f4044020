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

// What "shared" really gives, read from the account: a container created without throughput shares the
// database's throughput only if the database has some; in a database without shared throughput on a
// provisioned account, Cosmos DB gives it its own (billed) 400 RU/s; on a serverless account it is serverless.
var serverless = contains(map(account.properties.?capabilities ?? [], capability => capability.name), 'EnableServerless')
var databaseThroughput = database.properties.?options.?throughput ?? database.properties.?options.?autoscaleSettings.?maxThroughput ?? 0
var sharedThroughput = databaseThroughput > 0 ? 'shared with database ${databaseName} (${databaseThroughput} RU/s)' : 'its own 400 RU/s: database ${databaseName} has no shared throughput (set COSMOS_LEASE_THROUGHPUT=dedicated to choose the RU/s)'
var withoutOwnThroughput = serverless ? 'serverless account: billed per request' : sharedThroughput

output documentEndpoint string = account.properties.documentEndpoint
output leaseContainerName string = leases.name
@description('The lease container\'s throughput as deployed, in words (also an azd output, so the operator sees it).')
output leaseThroughput string = throughputMode == 'dedicated' ? 'dedicated: ${dedicatedThroughput} RU/s' : withoutOwnThroughput
@description('Continuous backup is a prerequisite of the AllVersionsAndDeletes change feed (scripts/check-change-feed-prerequisites.mjs checks it before provisioning).')
output backupPolicyType string = account.properties.backupPolicy.type
