"""AWS list prices for the emulator's Price List API (GetProducts) and its
Spot price history, as moto_server.py serves them.

These are public On-Demand list prices (USD) for eu-west-1 and us-east-1,
copied for the emulator at price date 2026-11-01, for the few products
stackops prices. They are here so that tests can check the arithmetic of a
cost estimate against known numbers; they are not a source of truth, and
AWS's own price list wins wherever they differ.

The tables are plain data; `products()` builds from them the products in
the shape GetProducts answers (one dict per product, which the launcher
sends as a JSON string), each with one On-Demand term and one price
dimension. Distractors that real filters must rule out are included: Windows
and unused-capacity-reservation instances, gp2 volumes, the load balancer's
LCU hours, the NAT gateway's bytes, the idle public IPv4 address, and both
database engines and deployments.
"""

import hashlib
from decimal import Decimal

PRICE_DATE = "2026-11-01T00:00:00Z"
VERSION = "20261101000000"
ON_DEMAND = "JRTCKXETXF"  # AWS's offer term code for On-Demand
RATE = "6YS6EN2CT7"  # AWS's rate code suffix for a single price dimension

LOCATIONS = {"eu-west-1": "EU (Ireland)", "us-east-1": "US East (N. Virginia)"}
# Usage type prefixes: us-east-1 has none for most services; KMS prefixes
# the region name instead (see `_usagetype`).
PREFIXES = {"eu-west-1": "EU-", "us-east-1": ""}
USE1_PREFIXED = {"AWSSecretsManager"}

# EC2 Linux and Windows On-Demand per hour (Shared tenancy, no
# pre-installed software). Graviton types are not sold with Windows.
EC2_INSTANCES = {
    "eu-west-1": {
        "t3.micro": ("0.0114", "0.0206"),
        "t3.small": ("0.0228", "0.0412"),
        "t3.medium": ("0.0456", "0.0640"),
        "t3a.small": ("0.0204", "0.0388"),
        "t3a.medium": ("0.0408", "0.0592"),
        "t2.small": ("0.0250", "0.0340"),
        "t4g.small": ("0.0184", None),
        "t4g.medium": ("0.0368", None),
        "m7g.large": ("0.0892", None),
        "m6g.large": ("0.0860", None),
        "m7i.large": ("0.1124", "0.2044"),
        "m6i.large": ("0.1070", "0.1990"),
        "c7g.large": ("0.0810", None),
        "r7g.large": ("0.1198", None),
    },
    "us-east-1": {
        "t3.micro": ("0.0104", "0.0196"),
        "t3.small": ("0.0208", "0.0392"),
        "t3.medium": ("0.0416", "0.0600"),
        "t3a.small": ("0.0188", "0.0372"),
        "t3a.medium": ("0.0376", "0.0560"),
        "t2.small": ("0.0230", "0.0320"),
        "t4g.small": ("0.0168", None),
        "t4g.medium": ("0.0336", None),
        "m7g.large": ("0.0816", None),
        "m6g.large": ("0.0770", None),
        "m7i.large": ("0.1008", "0.1928"),
        "m6i.large": ("0.0960", "0.1880"),
        "c7g.large": ("0.0725", None),
        "r7g.large": ("0.1071", None),
    },
}

# EBS per GB-month.
EBS_VOLUMES = {
    "eu-west-1": {"gp3": "0.088", "gp2": "0.11"},
    "us-east-1": {"gp3": "0.08", "gp2": "0.10"},
}

# RDS Single-AZ per hour, (MySQL, PostgreSQL); Multi-AZ costs twice that.
RDS_INSTANCES = {
    "eu-west-1": {
        "db.t4g.micro": ("0.018", "0.018"),
        "db.t4g.small": ("0.036", "0.036"),
        "db.t4g.medium": ("0.072", "0.072"),
        "db.t4g.large": ("0.144", "0.144"),
        "db.m6g.large": ("0.169", "0.177"),
        "db.m7g.large": ("0.187", "0.196"),
        "db.r6g.large": ("0.239", "0.250"),
        "db.r7g.large": ("0.265", "0.278"),
    },
    "us-east-1": {
        "db.t4g.micro": ("0.016", "0.016"),
        "db.t4g.small": ("0.032", "0.032"),
        "db.t4g.medium": ("0.065", "0.065"),
        "db.t4g.large": ("0.129", "0.129"),
        "db.m6g.large": ("0.152", "0.159"),
        "db.m7g.large": ("0.168", "0.178"),
        "db.r6g.large": ("0.215", "0.225"),
        "db.r7g.large": ("0.239", "0.250"),
    },
}
RDS_ENGINES = ("MySQL", "PostgreSQL")
MULTI_AZ_FACTOR = Decimal(2)

# RDS gp3 storage per GB-month, Single-AZ (either engine).
RDS_GP3_STORAGE = {"eu-west-1": "0.127", "us-east-1": "0.115"}

# ElastiCache Redis OSS per node-hour; Valkey costs 20 % less.
CACHE_NODES = {
    "eu-west-1": {
        "cache.t4g.micro": "0.018",
        "cache.t4g.small": "0.036",
        "cache.t4g.medium": "0.072",
        "cache.m7g.large": "0.176",
        "cache.r7g.large": "0.244",
    },
    "us-east-1": {
        "cache.t4g.micro": "0.016",
        "cache.t4g.small": "0.032",
        "cache.t4g.medium": "0.065",
        "cache.m7g.large": "0.158",
        "cache.r7g.large": "0.219",
    },
}
VALKEY_FACTOR = Decimal("0.8")

# Products priced by region alone: service code, product family, usage
# type (without its region prefix), unit, eu-west-1 price, us-east-1 price.
REGIONAL = (
    ("AWSELB", "Load Balancer-Application", "LoadBalancerUsage", "Hrs", "0.0252", "0.0225"),
    ("AWSELB", "Load Balancer-Application", "LCUUsage", "LCU-Hrs", "0.008", "0.008"),
    ("AmazonEC2", "NAT Gateway", "NatGateway-Hours", "Hrs", "0.048", "0.045"),
    ("AmazonEC2", "NAT Gateway", "NatGateway-Bytes", "GB", "0.048", "0.045"),
    ("AmazonVPC", "VPC Public IPv4 Address", "PublicIPv4:InUseAddress", "Hrs", "0.005", "0.005"),
    ("AmazonVPC", "VPC Public IPv4 Address", "PublicIPv4:IdleAddress", "Hrs", "0.005", "0.005"),
    ("AmazonCloudWatch", "Alarm", "CW:AlarmMonitorUsage", "Alarms", "0.10", "0.10"),
    ("AmazonCloudWatch", "Dashboard", "DashboardsUsageHour-Basic", "Dashboards", "3.00", "3.00"),
    ("awskms", "Encryption Key", "KMS-Keys", "Keys", "1.00", "1.00"),
    ("AWSSecretsManager", "Secret", "AWSSecretsManager-Secrets", "Secrets", "0.40", "0.40"),
)


def _usagetype(service, region, name):
    if service == "awskms":
        return f"{region}-{name}"
    if region == "us-east-1" and service in USE1_PREFIXED:
        return f"USE1-{name}"
    return PREFIXES[region] + name


def _sku(service, family, attributes):
    # Stable across runs and distinct per product, shaped like AWS's.
    key = "|".join([service, family] + [f"{k}={v}" for k, v in sorted(attributes.items())])
    return hashlib.sha256(key.encode()).hexdigest()[:16].upper()


def _product(service, family, region, unit, usd, attributes):
    usd = Decimal(usd)
    attributes = {
        "servicecode": service,
        "regionCode": region,
        "location": LOCATIONS[region],
        "locationType": "AWS Region",
        **attributes,
    }
    sku = _sku(service, family, attributes)
    term = f"{sku}.{ON_DEMAND}"
    return {
        "product": {"productFamily": family, "attributes": attributes, "sku": sku},
        "serviceCode": service,
        "terms": {
            "OnDemand": {
                term: {
                    "priceDimensions": {
                        f"{term}.{RATE}": {
                            "unit": unit,
                            "endRange": "Inf",
                            "description": f"${usd.normalize():f} per {unit} for "
                            f"{attributes['usagetype']} in {LOCATIONS[region]}",
                            "appliesTo": [],
                            "rateCode": f"{term}.{RATE}",
                            "beginRange": "0",
                            "pricePerUnit": {"USD": f"{usd:.10f}"},
                        }
                    },
                    "sku": sku,
                    "effectiveDate": PRICE_DATE,
                    "offerTermCode": ON_DEMAND,
                    "termAttributes": {},
                }
            }
        },
        "version": VERSION,
        "publicationDate": PRICE_DATE,
    }


def _ec2_instances(region):
    prefix = PREFIXES[region]
    for instance_type, (linux, windows) in EC2_INSTANCES[region].items():
        common = {
            "instanceType": instance_type,
            "tenancy": "Shared",
            "preInstalledSw": "NA",
            "licenseModel": "No License required",
        }
        systems = [("Linux", "RunInstances", linux, "Used", "BoxUsage")]
        # An unused capacity reservation is billed at the On-Demand rate.
        systems.append(("Linux", "RunInstances", linux, "UnusedCapacityReservation", "UnusedBox"))
        if windows:
            systems.append(("Windows", "RunInstances:0002", windows, "Used", "BoxUsage"))
        for system, operation, usd, capacity, usage in systems:
            attributes = dict(
                common,
                operatingSystem=system,
                operation=operation,
                capacitystatus=capacity,
                usagetype=f"{prefix}{usage}:{instance_type}",
            )
            yield _product("AmazonEC2", "Compute Instance", region, "Hrs", usd, attributes)


def _ebs_volumes(region):
    for volume, usd in EBS_VOLUMES[region].items():
        attributes = {
            "volumeApiName": volume,
            "volumeType": "General Purpose",
            "storageMedia": "SSD-backed",
            "usagetype": f"{PREFIXES[region]}EBS:VolumeUsage.{volume}",
        }
        yield _product("AmazonEC2", "Storage", region, "GB-Mo", usd, attributes)


def _deployments(usd):
    usd = Decimal(usd)
    yield "Single-AZ", "", usd
    yield "Multi-AZ", "Multi-AZ", usd * MULTI_AZ_FACTOR


def _rds(region):
    prefix = PREFIXES[region]
    for instance_type, prices in RDS_INSTANCES[region].items():
        for engine, usd in zip(RDS_ENGINES, prices):
            for deployment, multi, price in _deployments(usd):
                usage = f"{multi}Usage" if multi else "InstanceUsage"
                attributes = {
                    "instanceType": instance_type,
                    "databaseEngine": engine,
                    "deploymentOption": deployment,
                    "licenseModel": "No license required",
                    "usagetype": f"{prefix}{usage}:{instance_type}",
                }
                yield _product("AmazonRDS", "Database Instance", region, "Hrs", price, attributes)
    for engine in RDS_ENGINES:
        for deployment, multi, price in _deployments(RDS_GP3_STORAGE[region]):
            storage = f"{multi}-GP3-Storage" if multi else "GP3-Storage"
            attributes = {
                "volumeType": "General Purpose-GP3",
                "databaseEngine": engine,
                "deploymentOption": deployment,
                "usagetype": f"{prefix}RDS:{storage}",
            }
            yield _product("AmazonRDS", "Database Storage", region, "GB-Mo", price, attributes)


def _cache_nodes(region):
    for node_type, usd in CACHE_NODES[region].items():
        for engine, factor in (("Redis", Decimal(1)), ("Valkey", VALKEY_FACTOR)):
            attributes = {
                "instanceType": node_type,
                "cacheEngine": engine,
                "usagetype": f"{PREFIXES[region]}NodeUsage:{node_type}",
            }
            price = Decimal(usd) * factor
            yield _product("AmazonElastiCache", "Cache Instance", region, "Hrs", price, attributes)


def _regional(region):
    for service, family, usage, unit, eu_west_1, us_east_1 in REGIONAL:
        usd = {"eu-west-1": eu_west_1, "us-east-1": us_east_1}[region]
        attributes = {"usagetype": _usagetype(service, region, usage)}
        yield _product(service, family, region, unit, usd, attributes)


def products():
    """Every product of the tables, in a stable order."""
    built = [
        product
        for region in LOCATIONS
        for kind in (_ec2_instances, _ebs_volumes, _rds, _cache_nodes, _regional)
        for product in kind(region)
    ]
    skus = {p["product"]["sku"] for p in built}
    assert len(skus) == len(built), "two products share a SKU"
    return built


def on_demand_hourly(region, instance_type, operating_system="Linux"):
    """An EC2 instance's On-Demand price per hour, or None if not listed."""
    linux, windows = EC2_INSTANCES.get(region, {}).get(instance_type, (None, None))
    usd = windows if operating_system == "Windows" else linux
    return Decimal(usd) if usd else None
