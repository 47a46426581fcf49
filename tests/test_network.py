from preview_run import of_type, one


def test_three_zones_with_public_and_private_subnets(stacks):
    for stack, resources in stacks.items():
        subnets = of_type(resources, "aws:ec2/subnet:Subnet")
        public = [s for s in subnets if s["inputs"]["tags"].get("kubernetes.io/role/elb") == "1"]
        private = [s for s in subnets if s["inputs"]["tags"].get("kubernetes.io/role/internal-elb") == "1"]
        assert len({s["inputs"]["availabilityZone"] for s in public}) == 3, stack
        assert len({s["inputs"]["availabilityZone"] for s in private}) == 3, stack
        assert not any(s["inputs"].get("mapPublicIpOnLaunch") for s in subnets), stack


def test_nat_gateways_single_in_dev_one_per_zone_elsewhere(stacks):
    counts = {stack: len(of_type(r, "aws:ec2/natGateway:NatGateway")) for stack, r in stacks.items()}
    assert counts == {"dev": 1, "staging": 3, "prod": 3}


def test_every_private_route_table_egresses_through_a_nat(stacks):
    for resources in stacks.values():
        private_rts = [r for r in of_type(resources, "aws:ec2/routeTable:RouteTable") if "private" in r["name"]]
        assert len(private_rts) == 3
        for rt in private_rts:
            assert rt["inputs"]["routes"][0]["natGatewayId"].startswith("network-nat-")


def test_flow_logs_and_s3_gateway_endpoint(stacks):
    for resources in stacks.values():
        flow = one(resources, "aws:ec2/flowLog:FlowLog")
        assert flow["inputs"]["trafficType"] == "ALL"
        endpoint = one(resources, "aws:ec2/vpcEndpoint:VpcEndpoint")
        assert endpoint["inputs"]["vpcEndpointType"] == "Gateway"
        assert endpoint["inputs"]["serviceName"] == "com.amazonaws.us-east-1.s3"
        assert len(endpoint["inputs"]["routeTableIds"]) == 3
