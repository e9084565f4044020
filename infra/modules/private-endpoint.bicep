// One private endpoint in the private-endpoints subnet, registered in its private DNS zone so the
// resource's usual host name (psql-....postgres.database.azure.com, st....blob.core.windows.net,
// kv-....vault.azure.net, <account>.documents.azure.com) resolves to the endpoint's private address inside
// the virtual network.

param name string
param location string
param tags object

@description('Subnet the endpoint gets its address from (network.bicep, private-endpoints).')
param subnetId string

@description('Resource the endpoint connects to.')
param targetResourceId string

@description('Private-link sub-resource: postgresqlServer, blob, queue, vault, or Sql (Cosmos DB for NoSQL).')
@allowed([
  'postgresqlServer'
  'blob'
  'queue'
  'vault'
  'Sql'
])
param groupId string

@description('Private DNS zone of that sub-resource (network.bicep); empty registers the endpoint in no zone (yet).')
param privateDnsZoneId string

@description('Ask the target\'s owner to approve the connection instead of approving it with the deployer\'s own rights: for a resource this deployment does not own (the existing Cosmos DB account).')
param manualApproval bool = false

var connections = [
  {
    name: name
    properties: {
      privateLinkServiceId: targetResourceId
      groupIds: [
        groupId
      ]
      requestMessage: manualApproval ? 'Nostria Migrate: the function app reads the Nostria database through this endpoint (docs/deploy.md).' : null
    }
  }
]

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: manualApproval ? [] : connections
    manualPrivateLinkServiceConnections: manualApproval ? connections : []
  }
}

resource zoneGroup 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = if (!empty(privateDnsZoneId)) {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: groupId
        properties: {
          privateDnsZoneId: privateDnsZoneId
        }
      }
    ]
  }
}
