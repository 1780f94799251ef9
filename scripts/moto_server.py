"""moto's server, plus the Auto Scaling instance refresh API moto lacks,
the AWS managed policies stackops attaches, a fix to launch template
versions, the Performance Insights flag of DB instances, the ElastiCache
replica count API (IncreaseReplicaCount, DecreaseReplicaCount),
DeleteCacheSubnetGroup, cache parameter groups,
ElastiCache replication groups that honour NumCacheClusters, answer their
reader endpoint, take their
final snapshot and finish deleting, AWS Budgets' UpdateBudget and
DescribeSubscribersForNotification, S3's GetBucketVersioning answer, and
CloudFront origins that keep their origin access control, metric filters
that a second put replaces and that go with their log group, the answers
preflight asks for (orderable RDS versions, ElastiCache node types, applied
quotas), the Price List API's GetProducts and DescribeServices (list prices
from moto_prices.py, beside this script), Spot price history priced from
those On-Demand prices, and a latency
mode in which databases, caches, NAT gateways, load balancers and
distributions take time to become available, as in AWS. Auto Scaling
groups mark an instance that is no longer running Unhealthy, as their
health check does. EC2 resources' tags are looked up by id (moto scans
every tag of the region for each resource, which made filtered describes
slow down with the square of the stacks), and DescribeLaunchTemplates
pages with a NextToken (moto cuts the list at 15 without one).

stackops starts an instance refresh whenever its launch template gets a new
version. moto 5.2 has no StartInstanceRefresh, DescribeInstanceRefreshes or
CancelInstanceRefresh, so this launcher adds them to moto's Auto Scaling
responses before starting the usual server (same arguments as moto_server).

The emulation follows AWS: one active refresh per group (a second start is
refused with InstanceRefreshInProgress); a refresh with a desired
configuration applies it to the group when it succeeds (a launch template,
or a whole MixedInstancesPolicy for a group buying Spot). As in AWS, an
UpdateAutoScalingGroup that names neither keeps the group's mixed policy
(moto 5.2 drops it). Time is replaced by
observation: every describe moves an active refresh one step
(Pending -> InProgress -> Successful), and success replaces the group's
instances.
"""

import datetime
import json
import logging
import os
import sys
import tempfile
import time
import uuid
from decimal import Decimal

# moto's request recorder writes `moto_recording` into the working
# directory (the repository, under the tests) unless told otherwise.
os.environ.setdefault(
    "MOTO_RECORDER_FILEPATH",
    os.path.join(tempfile.gettempdir(), f"moto_recording.{os.getpid()}"),
)

from moto.autoscaling.exceptions import AutoscalingClientError
from moto.autoscaling.responses import AutoScalingResponse
from moto.cloudfront import models as cloudfront_models
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.core.types import Base64EncodedString
from moto.ec2.models.core import TaggedEC2Resource
from moto.ec2.models.launch_templates import LaunchTemplate
from moto.ec2.responses.launch_templates import LaunchTemplates
from moto.ec2.responses import EC2Response
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix, parse_user_data
from moto.elasticache import models as elasticache_models
from moto.elasticache.exceptions import ReplicationGroupNotFound
from moto.elasticache.responses import ElastiCacheResponse
from moto.iam import models as iam_models
from moto.logs import metric_filters as logs_metric_filters
from moto.logs import models as logs_models
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.rds import models as rds_models
from moto.s3.responses import S3Response
from moto.server import main

# The price tables live beside this script (on sys.path, as the script's
# directory); import them without leaving a __pycache__ in the repository.
_dont_write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
import moto_prices  # noqa: E402

sys.dont_write_bytecode = _dont_write_bytecode

# AWS managed policies stackops attaches. moto loads either none or all
# (over a thousand, a second after every reset); load just these.
MANAGED_POLICIES = ("AmazonSSMManagedInstanceCore",)
_managed = {
    name: data
    for name, data in json.loads(iam_models.aws_managed_policies_data).items()
    if name in MANAGED_POLICIES
}


def _init_aws_policies(self):
    return [
        iam_models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
        for name, data in _managed.items()
    ]


iam_models.IAMBackend._init_aws_policies = _init_aws_policies

ACTIVE = ("Pending", "InProgress", "Cancelling", "RollbackInProgress", "Baking")


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _group(response):
    name = response._get_param("AutoScalingGroupName")
    group = response.autoscaling_backend.autoscaling_groups.get(name)
    if group is None:
        raise AutoscalingClientError(
            "ValidationError",
            f"AutoScalingGroup name not found - AutoScalingGroup '{name}' not found",
        )
    # The history lives on the group, so moto's reset forgets it too.
    if not hasattr(group, "instance_refreshes"):
        group.instance_refreshes = []
    return group


def _advance(backend, group, refresh):
    if refresh["Status"] == "Pending":
        refresh["Status"] = "InProgress"
        refresh["PercentageComplete"] = 50
        refresh["StatusReason"] = "Replacing instances."
    elif refresh["Status"] == "InProgress":
        desired = refresh.get("DesiredConfiguration", {})
        template = desired.get("LaunchTemplate")
        mixed = desired.get("MixedInstancesPolicy")
        if mixed:
            # A group buying Spot moves with its whole policy, as in AWS.
            group.mixed_instances_policy = mixed
            group._set_launch_configuration(None, None, mixed)
        elif template:
            group._set_launch_configuration(None, template, None)
        desired = group.desired_capacity
        backend.set_desired_capacity(group.name, 0)
        backend.set_desired_capacity(group.name, desired)
        refresh.update(
            Status="Successful",
            PercentageComplete=100,
            InstancesToUpdate=0,
            EndTime=_now(),
            StatusReason="",
        )
    elif refresh["Status"] == "Cancelling":
        refresh.update(Status="Cancelled", EndTime=_now())


def _update_keeping_mixed_policy(self, *args, **kwargs):
    """AWS keeps a group's MixedInstancesPolicy through an update that names
    neither it nor a launch template (moto 5.2 drops it); a launch template
    alone replaces it."""
    kept = self.mixed_instances_policy
    if not kwargs.get("mixed_instances_policy") and not kwargs.get("launch_template") and kept:
        # moto stores the template by id and name, then refuses the pair.
        kept = json.loads(json.dumps(kept))
        kept["LaunchTemplate"]["LaunchTemplateSpecification"].pop("LaunchTemplateName", None)
        kwargs["mixed_instances_policy"] = kept
    return _update_group(self, *args, **kwargs)


def start_instance_refresh(self):
    group = _group(self)
    if any(r["Status"] in ACTIVE for r in group.instance_refreshes):
        raise AutoscalingClientError(
            "InstanceRefreshInProgress",
            "An Instance Refresh is already in progress and blocks the execution of this Instance Refresh.",
        )
    params = self._get_params()
    refresh = {
        "InstanceRefreshId": str(uuid.uuid4()),
        "AutoScalingGroupName": group.name,
        "Status": "Pending",
        "StatusReason": "Waiting for the refresh to start.",
        "StartTime": _now(),
        "PercentageComplete": 0,
        "InstancesToUpdate": len(group.instance_states),
        "Preferences": params.get("Preferences", {}),
        "Strategy": params.get("Strategy", "Rolling"),
    }
    if "DesiredConfiguration" in params:
        refresh["DesiredConfiguration"] = params["DesiredConfiguration"]
    group.instance_refreshes.insert(0, refresh)
    return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})


def describe_instance_refreshes(self):
    group = _group(self)
    wanted = self._get_param("InstanceRefreshIds", [])
    for refresh in list(group.instance_refreshes):
        if refresh["Status"] in ACTIVE:
            _advance(self.autoscaling_backend, group, refresh)
    found = [
        r
        for r in group.instance_refreshes
        if not wanted or r["InstanceRefreshId"] in wanted
    ]
    limit = self._get_int_param("MaxRecords") or 50
    return ActionResult({"InstanceRefreshes": found[:limit]})


def cancel_instance_refresh(self):
    group = _group(self)
    for refresh in group.instance_refreshes:
        if refresh["Status"] in ACTIVE:
            refresh["Status"] = "Cancelling"
            return ActionResult({"InstanceRefreshId": refresh["InstanceRefreshId"]})
    raise AutoscalingClientError(
        "ActiveInstanceRefreshNotFound",
        "No in progress or pending Instance Refresh found for Auto Scaling group "
        + group.name,
    )


_create_version = LaunchTemplate.create_version


def create_version(self, data, description):
    # CreateLaunchTemplateVersion stores user data undecoded in moto 5.2
    # (CreateLaunchTemplate does not), and launching from such a version
    # fails; decode it the way CreateLaunchTemplate does.
    user_data = data.get("UserData")
    if user_data is not None and not isinstance(user_data, Base64EncodedString):
        data["UserData"] = parse_user_data(user_data)
    return _create_version(self, data, description)


LaunchTemplate.create_version = create_version

# moto 5.2 ignores Performance Insights: keep the flag so it reads back.
_db_init = rds_models.DBInstance.__init__


def _db_instance_init(self, *args, **kwargs):
    _db_init(self, *args, **kwargs)
    self.performance_insights_enabled = bool(kwargs.get("enable_performance_insights"))


_modify_db_instance = rds_models.RDSBackend.modify_db_instance


def _modify_db_instance_keeping_insights(self, db_instance_identifier, db_kwargs):
    wanted = db_kwargs.get("enable_performance_insights")
    database = _modify_db_instance(self, db_instance_identifier, db_kwargs)
    if wanted is not None:
        database.performance_insights_enabled = bool(wanted)
    return database


rds_models.DBInstance.__init__ = _db_instance_init


_create_read_replica = rds_models.RDSBackend.create_db_instance_read_replica


def _create_read_replica_with_own_exports(self, db_kwargs):
    """AWS exports a read replica's logs as its create call says; moto 5.2
    ignores EnableCloudwatchLogsExports and shares the primary's list, so a
    change to one would change both."""
    exports = db_kwargs.get("enable_cloudwatch_logs_exports") or []
    replica = _create_read_replica(self, db_kwargs)
    replica.enabled_cloudwatch_logs_exports = list(exports)
    return replica


rds_models.RDSBackend.create_db_instance_read_replica = _create_read_replica_with_own_exports


_describe_option_groups = rds_models.RDSBackend.describe_option_groups


def _describe_option_groups_listing_none(self, option_group_kwargs):
    """AWS lists no option groups as an empty list; moto 5.2 raises
    OptionGroupNotFoundFault unless a name was asked for."""
    if option_group_kwargs.get("option_group_name"):
        return _describe_option_groups(self, option_group_kwargs)
    kwargs = dict(option_group_kwargs, option_group_name=None)
    if not self.option_groups:
        return []
    try:
        return _describe_option_groups(self, kwargs)
    except rds_models.OptionGroupNotFoundFaultError:
        return []


rds_models.RDSBackend.describe_option_groups = _describe_option_groups_listing_none


# moto 5.2 has no IncreaseReplicaCount / DecreaseReplicaCount: resize the
# one node group of a cluster-mode-disabled replication group in place.
def _resize_replicas(self):
    group_id = self._get_param("ReplicationGroupId")
    group = self.elasticache_backend.replication_groups.get(group_id)
    if group is None:
        raise ReplicationGroupNotFound(group_id)
    wanted = int(self._get_param("NewReplicaCount"))
    members = group.node_groups[0]["node_group_members"]
    primary = members[0]
    domain = primary["read_endpoint"]["address"].split(".", 1)[1]
    while len(members) - 1 > wanted:
        gone = members.pop()
        group.member_clusters.remove(gone["cache_cluster_id"])
    number = 1
    while len(members) - 1 < wanted:
        number += 1
        cluster_id = f"{group_id}-{number:0>3}"
        if cluster_id in group.member_clusters:
            continue
        members.append(
            {
                "cache_cluster_id": cluster_id,
                "cache_node_id": primary["cache_node_id"],
                "read_endpoint": {
                    "address": f"{cluster_id}.{domain}",
                    "port": primary["read_endpoint"]["port"],
                },
                "preferred_availability_zone": primary["preferred_availability_zone"],
                "current_role": "replica",
            }
        )
        group.member_clusters.append(cluster_id)
    return ActionResult({"ReplicationGroup": group})


ElastiCacheResponse.increase_replica_count = _resize_replicas
ElastiCacheResponse.decrease_replica_count = _resize_replicas

# moto 5.2 creates one node whatever NumCacheClusters says (cluster mode
# off): honour it.
_set_members = elasticache_models.ReplicationGroup._set_node_members_clusters_disabled


def _set_members_honouring_count(self, *args, **kwargs):
    if not kwargs.get("replicas_per_node_group") and kwargs.get("num_cache_clusters"):
        kwargs["replicas_per_node_group"] = kwargs["num_cache_clusters"] - 1
    # AWS answers the reader endpoint of a cluster-mode-disabled group;
    # moto 5.2 computes its address but leaves it out of the answer.
    node_group = kwargs.get("node_group")
    if node_group is not None and "reader_endpoint_address" in node_group:
        node_group["reader_endpoint"] = {
            "address": node_group["reader_endpoint_address"],
            "port": node_group["port"],
        }
    return _set_members(self, *args, **kwargs)


elasticache_models.ReplicationGroup._set_node_members_clusters_disabled = (
    _set_members_honouring_count
)


# moto 5.2 leaves a deleted replication group "deleting" forever and ignores
# FinalSnapshotIdentifier: take the snapshot, answer "deleting", then forget
# the group, as AWS does once deletion finishes.
def delete_replication_group(self):
    group_id = self._get_param("ReplicationGroupId")
    snapshot = self._get_param("FinalSnapshotIdentifier")
    backend = self.elasticache_backend
    if snapshot and group_id in backend.replication_groups:
        backend.create_snapshot(
            snapshot_name=snapshot,
            replication_group_id=group_id,
            cache_cluster_id=None,
            kms_key_id=None,
            tags=None,
        )
    group = backend.delete_replication_group(
        replication_group_id=group_id,
        retain_primary_cluster=self._get_bool_param("RetainPrimaryCluster"),
    )
    backend.replication_groups.pop(group_id, None)
    return ActionResult({"ReplicationGroup": group})


ElastiCacheResponse.delete_replication_group = delete_replication_group


# moto 5.2 cannot delete a cache subnet group.
def delete_cache_subnet_group(self):
    name = self._get_param("CacheSubnetGroupName")
    backend = self.elasticache_backend
    if name not in backend.cache_subnet_groups:
        raise elasticache_models.CacheSubnetGroupNotFound(name)
    if any(g.cache_subnet_group_name == name for g in backend.replication_groups.values()):
        raise ServiceException("CacheSubnetGroupInUse", f"Cache subnet group {name} is in use.")
    backend.cache_subnet_groups.pop(name)
    return ActionResult({})


ElastiCacheResponse.delete_cache_subnet_group = delete_cache_subnet_group


# moto 5.2 has no cache parameter groups: keep them per backend (so a reset
# forgets them), with the parameters set on them.
def _parameter_groups(response):
    backend = response.elasticache_backend
    if not hasattr(backend, "stackops_parameter_groups"):
        backend.stackops_parameter_groups = {}
    return backend.stackops_parameter_groups


def _parameter_group(response):
    name = response._get_param("CacheParameterGroupName")
    group = _parameter_groups(response).get(name)
    if group is None:
        raise ServiceException(
            "CacheParameterGroupNotFound", f"CacheParameterGroup {name} not found."
        )
    return group


def create_cache_parameter_group(self):
    name = self._get_param("CacheParameterGroupName")
    groups = _parameter_groups(self)
    if name in groups:
        raise ServiceException(
            "CacheParameterGroupAlreadyExists", f"Parameter group {name} already exists."
        )
    group = {
        "CacheParameterGroupName": name,
        "CacheParameterGroupFamily": self._get_param("CacheParameterGroupFamily"),
        "Description": self._get_param("Description"),
        "IsGlobal": False,
        "ARN": f"arn:aws:elasticache:{self.region}:{self.current_account}:parametergroup:{name}",
        "parameters": {},
    }
    groups[name] = group
    return ActionResult({"CacheParameterGroup": _public(group)})


def _public(group):
    return {k: v for k, v in group.items() if k != "parameters"}


def describe_cache_parameter_groups(self):
    name = self._get_param("CacheParameterGroupName")
    groups = _parameter_groups(self)
    if name:
        found = [_public(_parameter_group(self))]
    else:
        found = [_public(g) for g in groups.values()]
    return ActionResult({"CacheParameterGroups": found})


def modify_cache_parameter_group(self):
    group = _parameter_group(self)
    for value in self._get_param("ParameterNameValues", []):
        group["parameters"][value["ParameterName"]] = value["ParameterValue"]
    return ActionResult({"CacheParameterGroupName": group["CacheParameterGroupName"]})


def describe_cache_parameters(self):
    group = _parameter_group(self)
    parameters = [
        {"ParameterName": k, "ParameterValue": v, "Source": "user"}
        for k, v in sorted(group["parameters"].items())
    ]
    return ActionResult({"Parameters": parameters})


def delete_cache_parameter_group(self):
    group = _parameter_group(self)
    name = group["CacheParameterGroupName"]
    in_use = any(
        getattr(g, "cache_parameter_group_name", None) == name
        for g in self.elasticache_backend.replication_groups.values()
    )
    if in_use:
        raise ServiceException(
            "InvalidCacheParameterGroupState", f"Parameter group {name} is in use."
        )
    _parameter_groups(self).pop(name)
    return ActionResult({})


for _action in (
    create_cache_parameter_group,
    describe_cache_parameter_groups,
    modify_cache_parameter_group,
    describe_cache_parameters,
    delete_cache_parameter_group,
):
    setattr(ElastiCacheResponse, _action.__name__, _action)
rds_models.RDSBackend.modify_db_instance = _modify_db_instance_keeping_insights
AutoScalingResponse.start_instance_refresh = start_instance_refresh
from moto.autoscaling import models as autoscaling_models  # noqa: E402
from moto.autoscaling.models import FakeAutoScalingGroup  # noqa: E402

_update_group = FakeAutoScalingGroup.update
FakeAutoScalingGroup.update = _update_keeping_mixed_policy
AutoScalingResponse.describe_instance_refreshes = describe_instance_refreshes
AutoScalingResponse.cancel_instance_refresh = cancel_instance_refresh


def _health_status(self):
    """An Auto Scaling group's health check, as AWS runs it: an instance
    that is no longer running fails its EC2 status check and the group
    marks it Unhealthy (moto keeps whatever was last set; AWS would then
    replace it, which this does not do)."""
    if getattr(self.instance, "state", "running") not in ("pending", "running"):
        return "Unhealthy"
    return self.__dict__.get("_stackops_health_status", "Healthy")


def _set_health_status(self, value):
    self.__dict__["_stackops_health_status"] = value


autoscaling_models.InstanceState.health_status = property(_health_status, _set_health_status)


def _ec2_tags_of(self):
    """One EC2 resource's tags, looked up by its id. moto 5.2 finds them by
    matching a pattern of the id against every tag of the region, so every
    filtered describe cost resources x tags: with a few dozen stacks in one
    region the emulator spent most of its time there. Same answer, in the
    same order."""
    if not self.id:
        return []
    resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(self.id), "")
    return [
        {"resource_id": self.id, "key": key, "value": value, "resource_type": resource_type}
        for key, value in self.ec2_backend.tags.get(self.id, {}).items()
    ]


TaggedEC2Resource.get_tags = _ec2_tags_of


_describe_launch_templates = LaunchTemplates.describe_launch_templates


def _describe_launch_templates_paged(self):
    """Launch templates a page at a time, as AWS answers them: every one
    when MaxResults is not given, else that many and a NextToken for the
    rest. moto 5.2 cuts the list at MaxResults (15 when not given) and gives
    no token, so a list of every stack's templates silently lost all but
    fifteen of them."""
    size = self._get_int_param("MaxResults")
    start = int(self._get_param("NextToken") or 0)
    get_int = self._get_int_param
    self._get_int_param = lambda name, if_none=None: (
        sys.maxsize if name == "MaxResults" else get_int(name, if_none)
    )
    try:
        templates = _describe_launch_templates(self).result["LaunchTemplates"]
    finally:
        del self._get_int_param
    if size is None:
        return ActionResult({"LaunchTemplates": templates})
    page = {"LaunchTemplates": templates[start : start + size]}
    if start + size < len(templates):
        page["NextToken"] = str(start + size)
    return ActionResult(page)


LaunchTemplates.describe_launch_templates = _describe_launch_templates_paged


def get_bucket_versioning(self):
    """AWS answers a VersioningConfiguration (empty for a bucket never
    versioned); moto 5.2 names the root element after the action, which the
    SDKs refuse to parse."""
    status = self.backend.get_bucket_versioning(self.bucket_name)
    inner = f"<Status>{status}</Status>" if status else ""
    return 200, {"Content-Type": "application/xml"}, (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"{inner}</VersioningConfiguration>"
    )


S3Response.get_bucket_versioning = get_bucket_versioning

_origin_init = cloudfront_models.Origin.__init__


def _origin_init_keeping_access(self, origin):
    """AWS returns an S3 origin's S3OriginConfig and OriginAccessControlId
    as given; moto 5.2 drops both, so an origin's access control could not
    be checked."""
    _origin_init(self, origin)
    if "S3OriginConfig" in origin:
        self.s3_origin_config = origin["S3OriginConfig"]
    self.origin_access_control_id = origin.get("OriginAccessControlId")


cloudfront_models.Origin.__init__ = _origin_init_keeping_access


def _list_origin_access_controls_paged(self):
    """moto 5.2 pages ListOriginAccessControls (100 a page) but never hands
    the request's Marker to the backend, so every page is the first and
    past 100 controls the rest cannot be seen: pass it on."""
    from moto.core.responses import ActionResult

    marker = self._get_param("Marker")
    max_items = self._get_int_param("MaxItems")
    controls, next_marker = self.backend.list_origin_access_controls(
        marker=marker, max_items=max_items
    )
    return ActionResult(
        {
            "OriginAccessControlList": {
                "Marker": marker or "",
                "NextMarker": next_marker,
                "MaxItems": max_items or 100,
                "IsTruncated": next_marker is not None,
                "Quantity": len(controls),
                "Items": controls,
            }
        }
    )


from moto.cloudfront import responses as cloudfront_responses  # noqa: E402

cloudfront_responses.CloudFrontResponse.list_origin_access_controls = (
    _list_origin_access_controls_paged
)


_create_origin_access_control = cloudfront_models.CloudFrontBackend.create_origin_access_control


def _create_origin_access_control_once_per_name(self, config_dict):
    """AWS refuses a second origin access control under a name the account
    already uses (OriginAccessControlAlreadyExists, 409); moto 5.2 makes
    another. Refuse, as AWS does."""
    from moto.cloudfront.exceptions import CloudFrontException

    name = config_dict.get("Name")
    if any(c.name == name for c in self.origin_access_controls.values()):
        raise CloudFrontException(
            "OriginAccessControlAlreadyExists",
            f"An origin access control with the name {name} already exists.",
        )
    return _create_origin_access_control(self, config_dict)


cloudfront_models.CloudFrontBackend.create_origin_access_control = (
    _create_origin_access_control_once_per_name
)


_add_filter = logs_metric_filters.MetricFilters.add_filter


def _add_filter_replacing(self, filter_name, filter_pattern, log_group_name, transformations):
    """AWS's PutMetricFilter creates or replaces the filter of that name on
    that group; moto 5.2 appends a second one."""
    self.metric_filters = [
        f
        for f in self.metric_filters
        if not (f["filterName"] == filter_name and f["logGroupName"] == log_group_name)
    ]
    _add_filter(self, filter_name, filter_pattern, log_group_name, transformations)


logs_metric_filters.MetricFilters.add_filter = _add_filter_replacing

_delete_log_group = logs_models.LogsBackend.delete_log_group


def _delete_log_group_with_filters(self, log_group_name):
    """AWS deletes a log group's metric filters with it; moto 5.2 keeps them."""
    _delete_log_group(self, log_group_name)
    self.filters.metric_filters = [
        f for f in self.filters.metric_filters if f["logGroupName"] != log_group_name
    ]


logs_models.LogsBackend.delete_log_group = _delete_log_group_with_filters


# Preflight's questions, which moto 5.2 cannot answer for the engines and
# accounts stackops builds: which RDS engine versions are orderable per
# class (moto lists Aurora PostgreSQL and Neptune only), which node types
# ElastiCache sells (no DescribeReservedCacheNodesOfferings), and the
# applied value of the Elastic IP quota (moto knows VPC quotas only). The
# emulated account has raised quotas (1000 VPCs, Elastic IPs and NAT gateways
# per zone), so many stacks fit in one server; STACKOPS_MOTO_QUOTAS
# ("vpc/L-F678F1CE=1,ec2/L-0263D0A3=2") sets others.
ORDERABLE_VERSIONS = {
    "postgres": ("15.8", "16.4", "16.6", "17.2", "17.4"),
    "mysql": ("8.0.39", "8.0.40", "8.4.3"),
}
DB_CLASSES = tuple(
    f"db.{family}.{size}"
    for family, sizes in {
        "t3": ("micro", "small", "medium", "large"),
        "t4g": ("micro", "small", "medium", "large"),
        "m6g": ("large", "xlarge"),
        "m7g": ("large", "xlarge", "2xlarge"),
        "r6g": ("large", "xlarge"),
        "r7g": ("large", "xlarge", "2xlarge"),
    }.items()
    for size in sizes
)
CACHE_NODE_TYPES = tuple(
    f"cache.{family}.{size}"
    for family, sizes in {
        "t3": ("micro", "small", "medium"),
        "t4g": ("micro", "small", "medium"),
        "m6g": ("large", "xlarge"),
        "m7g": ("large", "xlarge"),
        "r6g": ("large", "xlarge"),
        "r7g": ("large", "xlarge", "2xlarge"),
    }.items()
    for size in sizes
)
_describe_orderable = rds_models.RDSBackend.describe_orderable_db_instance_options


def _describe_orderable_with_engines(self, engine, engine_version):
    if engine not in ORDERABLE_VERSIONS:
        return _describe_orderable(self, engine, engine_version)
    zones = [f"{self.region_name}{z}" for z in "abc"]
    return [
        {
            "Engine": engine,
            "EngineVersion": version,
            "DBInstanceClass": db_class,
            "LicenseModel": "general-public-license",
            "AvailabilityZones": [{"Name": zone} for zone in zones],
            "MultiAZCapable": True,
            "ReadReplicaCapable": True,
            "Vpc": True,
            "StorageType": "gp3",
        }
        for version in ORDERABLE_VERSIONS[engine]
        if not engine_version or version == engine_version
        for db_class in DB_CLASSES
    ]


def describe_orderable_db_instance_options(self):
    """As moto's, also filtered by DBInstanceClass, as AWS filters."""
    options = self.backend.describe_orderable_db_instance_options(
        self.params.get("Engine"), self.params.get("EngineVersion")
    )
    wanted = self.params.get("DBInstanceClass")
    if wanted:
        options = [o for o in options if o.get("DBInstanceClass") == wanted]
    return ActionResult({"OrderableDBInstanceOptions": options})


def describe_reserved_cache_nodes_offerings(self):
    wanted = self.params.get("CacheNodeType")
    offerings = [
        {
            "ReservedCacheNodesOfferingId": str(uuid.uuid5(uuid.NAMESPACE_URL, node_type)),
            "CacheNodeType": node_type,
            "Duration": 31536000,
            "FixedPrice": 0.0,
            "UsagePrice": 0.0,
            "ProductDescription": "redis",
            "OfferingType": "No Upfront",
        }
        for node_type in CACHE_NODE_TYPES
        if not wanted or node_type == wanted
    ]
    return ActionResult({"ReservedCacheNodesOfferings": offerings})


rds_models.RDSBackend.describe_orderable_db_instance_options = _describe_orderable_with_engines
from moto.rds.responses import RDSResponse  # noqa: E402

RDSResponse.describe_orderable_db_instance_options = describe_orderable_db_instance_options
ElastiCacheResponse.describe_reserved_cache_nodes_offerings = describe_reserved_cache_nodes_offerings

# AWS Budgets: moto 5.2 keeps budgets and their notifications but has no
# UpdateBudget (a changed limit), DescribeSubscribersForNotification (who
# a notification reaches) or DescribeBudgetNotificationsForAccount (every
# budget's notifications, paged); each as AWS answers it.
from moto.budgets.exceptions import NotFoundException as BudgetNotFound  # noqa: E402
from moto.budgets.responses import BudgetsResponse  # noqa: E402


def _stored_budget(self, account_id, name):
    budget = self.backend.budgets[account_id].get(name)
    if budget is None:
        raise BudgetNotFound(f"Unable to find budget: {name} - the budget doesn't exist.")
    return budget


def update_budget(self):
    account_id = self._get_param("AccountId")
    new = self._get_param("NewBudget")
    budget = _stored_budget(self, account_id, new["BudgetName"])
    kept = {k: v for k, v in budget.budget.items() if k in ("TimePeriod",)}
    budget.budget = {**new, **kept, "LastUpdatedTime": time.time()}
    return json.dumps({})


def describe_subscribers_for_notification(self):
    account_id = self._get_param("AccountId")
    budget = _stored_budget(self, account_id, self._get_param("BudgetName"))
    wanted = self._get_param("Notification")
    for notification in budget.notifications:
        if notification.details == wanted:
            return json.dumps({"Subscribers": notification.subscribers})
    raise BudgetNotFound("Unable to find notification for this budget.")


def describe_budget_notifications_for_account(self):
    account_id = self._get_param("AccountId")
    every = [
        {"BudgetName": name, "Notifications": budget.get_notifications()}
        for name, budget in sorted(self.backend.budgets[account_id].items())
        if budget.notifications
    ]
    start = int(self._get_param("NextToken") or 0)
    size = int(self._get_param("MaxResults") or 100)
    page = every[start : start + size]
    token = str(start + size) if start + size < len(every) else None
    return json.dumps({"BudgetNotificationsForAccount": page, "NextToken": token})


BudgetsResponse.update_budget = update_budget
BudgetsResponse.describe_subscribers_for_notification = describe_subscribers_for_notification
BudgetsResponse.describe_budget_notifications_for_account = describe_budget_notifications_for_account

QUOTAS_ENV = "STACKOPS_MOTO_QUOTAS"
QUOTA_NAMES = {
    ("vpc", "L-F678F1CE"): "VPCs per Region",
    ("vpc", "L-FE5A380F"): "NAT gateways per Availability Zone",
    ("ec2", "L-0263D0A3"): "EC2-VPC Elastic IPs",
}


def _applied_quotas():
    applied = {key: 1000.0 for key in QUOTA_NAMES}
    for item in filter(None, os.environ.get(QUOTAS_ENV, "").split(",")):
        key, _, value = item.partition("=")
        service, _, code = key.strip().partition("/")
        applied[(service, code)] = float(value)
    return applied


APPLIED_QUOTAS = _applied_quotas()
from moto.servicequotas import models as quotas_models  # noqa: E402

_get_service_quota = quotas_models.ServiceQuotasBackend.get_service_quota


def _get_applied_quota(self, service_code, quota_code):
    key = (service_code, quota_code)
    if key not in APPLIED_QUOTAS:
        return _get_service_quota(self, service_code, quota_code)
    return {
        "ServiceCode": service_code,
        "QuotaArn": f"arn:aws:servicequotas:{self.region_name}:{self.account_id}:"
        f"{service_code}/{quota_code}",
        "QuotaCode": quota_code,
        "QuotaName": QUOTA_NAMES.get(key, quota_code),
        "Value": APPLIED_QUOTAS[key],
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
    }


quotas_models.ServiceQuotasBackend.get_service_quota = _get_applied_quota


# The Price List API (service `pricing`), which moto lacks: stackops asks
# it for the list prices of what a stack would run. moto routes a request by
# its signing name and fails with a 500 on one it has no backend for, so
# AWSPriceListService requests are answered before moto's dispatch, from
# the tables of moto_prices.py.
PRICE_LIST_TARGET = "AWSPriceListService."
PRICE_LIST_PRODUCTS = moto_prices.products()


class PriceListError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code, self.message = code, message


def _invalid(message):
    return PriceListError("InvalidParameterException", message)


def _field(product, field):
    if field in ("ServiceCode", "serviceCode"):
        return product["serviceCode"]
    if field in ("productFamily", "sku"):
        return product["product"][field]
    return product["product"]["attributes"].get(field)


def _matches(product, kind, field, value):
    found = _field(product, field)
    if found is None:
        return False
    found, value = found.lower(), value.lower()
    if kind in ("TERM_MATCH", "EQUALS"):
        return found == value
    if kind == "CONTAINS":
        return value in found
    values = {v.strip() for v in value.split(",")}
    if kind == "ANY_OF":
        return found in values
    if kind == "NONE_OF":
        return found not in values
    raise _invalid(f"Filter type {kind} is not supported.")


def _page(params, items):
    limit = params.get("MaxResults", 100)
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise _invalid("MaxResults must be between 1 and 100.")
    token = params.get("NextToken") or "0"
    if not token.isdigit() or int(token) > len(items):
        raise PriceListError("InvalidNextTokenException", "The NextToken is invalid.")
    start = int(token)
    page = {}
    if start + limit < len(items):
        page["NextToken"] = str(start + limit)
    return items[start : start + limit], page


def _format_version(params):
    version = params.get("FormatVersion") or "aws_v1"
    if version != "aws_v1":
        raise _invalid(f"FormatVersion {version} is not supported.")
    return version


def get_products(params):
    service = params.get("ServiceCode")
    if not service:
        raise _invalid("ServiceCode is required.")
    filters = params.get("Filters") or []
    for f in filters:
        if not isinstance(f, dict) or not all(
            isinstance(f.get(k), str) for k in ("Type", "Field", "Value")
        ):
            raise _invalid("A filter needs a Type, a Field and a Value.")
    found = [
        p
        for p in PRICE_LIST_PRODUCTS
        if p["serviceCode"] == service
        and all(_matches(p, f["Type"], f["Field"], f["Value"]) for f in filters)
    ]
    version = _format_version(params)
    found, page = _page(params, found)
    # AWS sends each product as a JSON document inside the JSON answer.
    return dict(FormatVersion=version, PriceList=[json.dumps(p) for p in found], **page)


def describe_services(params):
    services = {}
    for p in PRICE_LIST_PRODUCTS:
        services.setdefault(p["serviceCode"], set()).update(p["product"]["attributes"])
    wanted = params.get("ServiceCode")
    listed = [
        {"ServiceCode": code, "AttributeNames": sorted(names)}
        for code, names in sorted(services.items())
        if not wanted or code == wanted
    ]
    version = _format_version(params)
    listed, page = _page(params, listed)
    return dict(FormatVersion=version, Services=listed, **page)


PRICE_LIST_ACTIONS = {"GetProducts": get_products, "DescribeServices": describe_services}


def price_list(environ, start_response):
    action = environ["HTTP_X_AMZ_TARGET"][len(PRICE_LIST_TARGET) :]
    status, error = "200 OK", None
    try:
        if action not in PRICE_LIST_ACTIONS:
            raise PriceListError("UnknownOperationException", f"{action} is not emulated.")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        if not length and environ.get("wsgi.input_terminated"):
            body = environ["wsgi.input"].read()  # chunked
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            raise PriceListError("SerializationException", "The body is not JSON.") from None
        answer = PRICE_LIST_ACTIONS[action](params)
    except PriceListError as e:
        status, error = "400 Bad Request", e.code
        answer = {"__type": e.code, "message": e.message}
    data = json.dumps(answer).encode()
    headers = [
        ("Content-Type", "application/x-amz-json-1.1"),
        ("Content-Length", str(len(data))),
        ("x-amzn-RequestId", str(uuid.uuid4())),
    ]
    if error:
        headers.append(("x-amzn-ErrorType", error))
    start_response(status, headers)
    return [data]


_dispatch = DomainDispatcherApplication.__call__


def _dispatch_with_price_list(self, environ, start_response):
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if environ.get("REQUEST_METHOD") == "POST" and target.startswith(PRICE_LIST_TARGET):
        return price_list(environ, start_response)
    return _dispatch(self, environ, start_response)


DomainDispatcherApplication.__call__ = _dispatch_with_price_list


# Spot price history: moto 5.2 answers 0.00001 for every type and zone. AWS
# answers a price per zone that moves around a fraction of On-Demand; answer
# one current price per requested type, product and zone a, b and c of the
# region: the type's On-Demand price there (moto_prices.py) times the zone's
# factor. Types or regions without a listed price have no history.
SPOT_ZONE_FACTORS = {"a": Decimal("0.30"), "b": Decimal("0.32"), "c": Decimal("0.35")}
SPOT_SYSTEMS = {
    "Linux/UNIX": "Linux",
    "Linux/UNIX (Amazon VPC)": "Linux",
    "Windows": "Windows",
    "Windows (Amazon VPC)": "Windows",
}


def describe_spot_price_history(self):
    filters = self._filters_from_querystring()
    region = self.ec2_backend.region_name
    types = list(moto_prices.EC2_INSTANCES.get(region, {}))
    for wanted in (self._get_param("InstanceTypes", []), filters.get("instance-type")):
        if wanted:
            types = [t for t in types if t in wanted]
    systems = (
        self._get_param("ProductDescriptions", [])
        or filters.get("product-description")
        or ["Linux/UNIX"]
    )
    zones = [f"{region}{z}" for z in SPOT_ZONE_FACTORS]
    asked = self._get_param("AvailabilityZone")
    for wanted in ([asked] if asked else None, filters.get("availability-zone")):
        if wanted:
            zones = [z for z in zones if z in wanted]
    now = _now()
    history = []
    for instance_type in types:
        for system in (s for s in systems if s in SPOT_SYSTEMS):
            hourly = moto_prices.on_demand_hourly(region, instance_type, SPOT_SYSTEMS[system])
            if hourly is None:
                continue
            for zone in zones:
                price = hourly * SPOT_ZONE_FACTORS[zone[-1]]
                history.append(
                    {
                        "AvailabilityZone": zone,
                        "InstanceType": instance_type,
                        "ProductDescription": system,
                        "SpotPrice": f"{price:.6f}",
                        "Timestamp": now,
                    }
                )
    return ActionResult({"SpotPriceHistory": history})


EC2Response.describe_spot_price_history = describe_spot_price_history


# Latency mode: real AWS takes minutes where moto takes nothing. With
# STACKOPS_MOTO_LATENCY="rds=120,cache=60,nat=20,elb=20,cdn=30" (seconds,
# any subset), a new resource of that service reads as AWS shows it while
# it is being built (DB instances and replicas `creating`, replication
# groups `creating`, NAT gateways `pending`, load balancers `provisioning`,
# distributions `InProgress`) for that long after its create call.
LATENCY_ENV = "STACKOPS_MOTO_LATENCY"


def _latencies():
    latencies = {}
    for item in filter(None, os.environ.get(LATENCY_ENV, "").split(",")):
        service, _, seconds = item.partition("=")
        latencies[service.strip()] = float(seconds)
    unknown = set(latencies) - {"rds", "cache", "nat", "elb", "cdn"}
    if unknown:
        sys.exit(f"{LATENCY_ENV}: unknown services {sorted(unknown)}")
    return latencies


def _born(model):
    return model.__dict__.setdefault("_stackops_born", time.monotonic())


def _slow_state(cls, attribute, ready, building, seconds):
    """`cls.attribute` reads `building` instead of `ready` until `seconds`
    after the object was made; other values (deleting, modifying) as set."""
    private = f"_stackops_{attribute}"

    def get(self):
        value = self.__dict__.get(private)
        if value == ready and time.monotonic() - _born(self) < seconds:
            return building
        return value

    def set_(self, value):
        _born(self)
        self.__dict__[private] = value

    setattr(cls, attribute, property(get, set_))


def _slow_load_balancers(seconds):
    from moto.elbv2.models import FakeLoadBalancer

    init, activate = FakeLoadBalancer.__init__, FakeLoadBalancer.activate

    def init_(self, *args, **kwargs):
        init(self, *args, **kwargs)
        _born(self)

    def activate_(self):
        if time.monotonic() - _born(self) >= seconds:
            activate(self)

    FakeLoadBalancer.__init__ = init_
    FakeLoadBalancer.activate = activate_


def apply_latencies(latencies):
    from moto.ec2.models.nat_gateways import NatGateway
    from moto.moto_api import state_manager

    if "rds" in latencies:
        _slow_state(rds_models.DBInstance, "status", "available", "creating", latencies["rds"])
    if "cache" in latencies:
        _slow_state(
            elasticache_models.ReplicationGroup,
            "status",
            "available",
            "creating",
            latencies["cache"],
        )
    if "nat" in latencies:
        _slow_state(NatGateway, "state", "available", "pending", latencies["nat"])
    if "elb" in latencies:
        _slow_load_balancers(latencies["elb"])
    if "cdn" in latencies:
        state_manager.set_transition(
            model_name="cloudfront::distribution",
            transition={"progression": "time", "seconds": latencies["cdn"]},
        )


if __name__ == "__main__":
    apply_latencies(_latencies())
    # No line per request: with many stacks, logging them cost the
    # emulator a tenth of its time. Errors still show.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    sys.exit(main())
