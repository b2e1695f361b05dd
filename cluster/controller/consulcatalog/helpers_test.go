package consulcatalog

import "github.com/hashicorp/consul/api"

func catalogReg(id, name, ip string, port int) *api.CatalogRegistration {
	return &api.CatalogRegistration{Node: "drover-services", Address: "127.0.0.1",
		Service: &api.AgentService{ID: id, Service: name, Address: ip, Port: port, Tags: []string{"default", "http", Tag}}}
}
