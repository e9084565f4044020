// Private networking (usePrivateNetworking): a virtual network with two subnets, the private DNS zones
// the private endpoints register in, and explicit outbound internet for the app.
//
//   app                 delegated to Microsoft.App/environments, the delegation Flex Consumption VNet
//                       integration requires; outbound through the NAT gateway
//   private-endpoints   PostgreSQL, storage (blob, queue) and Key Vault private endpoints, and the optional
//                       one to the existing Cosmos DB account (main.bicep, cosmosPrivateEndpoint)
//
// The app still reaches public endpoints it does not own: Application Insights ingestion, and the existing
// Cosmos DB account until its owner approved a private endpoint to it. It does so through a NAT gateway,
// explicit outbound access, instead of the subnet's implicit "default outbound access", which Azure is
// retiring (Microsoft Learn, "Default outbound access in Azure").

param name string
param location string
param tags object

@description('Address space of the virtual network; the two /24 subnets are carved from its start.')
param addressPrefix string = '10.40.0.0/16'

@description('Create and link the Cosmos DB (Sql) zone: only once the account\'s owner approved the private endpoint, since a linked zone without the account\'s record would stop its name resolving at all.')
param cosmosZone bool = false

// The private DNS zone of each private endpoint sub-resource (Microsoft Learn, "Azure Private Endpoint
// private DNS zone values"): postgresqlServer, blob, queue, vault, then Sql, in this order (the outputs below).
var zoneNames = concat(
  [
    'privatelink.postgres.database.azure.com'
    'privatelink.blob.${environment().suffixes.storage}'
    'privatelink.queue.${environment().suffixes.storage}'
    'privatelink.vaultcore.azure.net'
  ],
  cosmosZone ? ['privatelink.documents.azure.com'] : []
)

resource outboundIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: 'pip-${name}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
  }
}

resource natGateway 'Microsoft.Network/natGateways@2024-05-01' = {
  name: 'ng-${name}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIpAddresses: [
      {
        id: outboundIp.id
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 0)
          defaultOutboundAccess: false
          natGateway: {
            id: natGateway.id
          }
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: cidrSubnet(addressPrefix, 24, 1)
          defaultOutboundAccess: false
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for zoneName in zoneNames: {
    name: zoneName
    location: 'global'
    tags: tags
  }
]

resource zoneLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for i in range(0, length(zoneNames)): {
    parent: zones[i]
    name: 'link-${name}'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnet.id
      }
    }
  }
]

output appSubnetId string = '${vnet.id}/subnets/app'
output privateEndpointSubnetId string = '${vnet.id}/subnets/private-endpoints'
output postgresZoneId string = zones[0].id
output blobZoneId string = zones[1].id
output queueZoneId string = zones[2].id
output vaultZoneId string = zones[3].id
output cosmosZoneId string = cosmosZone ? zones[4].id : ''
output outboundIpAddress string = outboundIp.properties.ipAddress
