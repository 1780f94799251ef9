"""Lists what AWS still holds tagged with stackops.io/stack, leaving out what
is gone but still listed for a while (deleted NAT gateways, terminated
servers, KMS keys scheduled for deletion) and what is kept on purpose (final DB snapshots, buckets whose
deletion policy is Retain, named on stderr). Usage: leftovers.py ENDPOINT
REGION. Prints one ARN per line and exits 1 if anything is left."""

import sys

import boto3

endpoint, region = sys.argv[1], sys.argv[2]
session = dict(
    endpoint_url=endpoint,
    region_name=region,
    aws_access_key_id="demo",
    aws_secret_access_key="demo",
)
tagging = boto3.client("resourcegroupstaggingapi", **session)
ec2 = boto3.client("ec2", **session)
kms = boto3.client("kms", **session)

left = []
pages = tagging.get_paginator("get_resources").paginate(
    TagFilters=[{"Key": "stackops.io/stack"}]
)
for page in pages:
    for mapping in page["ResourceTagMappingList"]:
        arn = mapping["ResourceARN"]
        tags = {t["Key"]: t["Value"] for t in mapping.get("Tags", [])}
        if ":snapshot:" in arn:
            continue
        if arn.startswith("arn:aws:s3:::") and tags.get("stackops.io/deletion-policy") == "Retain":
            print(f"kept on purpose (deletionPolicy Retain): {arn}", file=sys.stderr)
            continue
        if ":natgateway/" in arn:
            gateway = arn.rsplit("/", 1)[1]
            found = ec2.describe_nat_gateways(NatGatewayIds=[gateway])["NatGateways"]
            if all(g["State"] == "deleted" for g in found):
                continue
        if ":instance/" in arn:
            instance = arn.rsplit("/", 1)[1]
            reservations = ec2.describe_instances(InstanceIds=[instance])["Reservations"]
            states = [i["State"]["Name"] for r in reservations for i in r["Instances"]]
            if all(s in ("terminated", "shutting-down") for s in states):
                continue
        if ":kms:" in arn and ":key/" in arn:
            state = kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"]
            if state == "PendingDeletion":
                continue
        left.append(arn)

for arn in left:
    print(arn)
sys.exit(1 if left else 0)
