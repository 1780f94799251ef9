//! Security groups, chained least-privilege: the load balancer takes
//! 80/443 from the internet (or, behind the CDN, port 80 from CloudFront's
//! origin-facing addresses alone), the app takes its port only from the
//! load balancer, the database and cache take their ports only from the
//! app and send nothing out.
//!
//! A rule from an AWS-managed prefix list names the list; its id differs
//! per region but never changes, so each is looked up once per process.

use std::sync::{LazyLock, Mutex};

use aws_sdk_ec2::types::{
    Filter, IpPermission, IpRange, PrefixListId, ResourceType, SecurityGroup as AwsGroup,
    UserIdGroupPair,
};

use super::{component, owned_filter, retag, tag_map, tag_spec};
use crate::aws::prelude::*;
use crate::identity::NameRule;

pub struct SecurityGroupKind;
pub static SECURITY_GROUP: SecurityGroupKind = SecurityGroupKind;

/// Where allowed traffic comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Cidr(String),
    /// Another security group node of the stack.
    Group(String),
    /// An AWS-managed prefix list, by name.
    PrefixList(&'static str),
}

/// CloudFront's origin-facing addresses. A rule naming it counts against
/// the group's rules quota (60 by default) as many times as the list's
/// maximum entries (about 55): one such rule per group fits, two do not.
pub const CLOUDFRONT_ORIGIN_FACING: &str = "com.amazonaws.global.cloudfront.origin-facing";

/// An ingress rule: TCP ports from a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub port: i32,
    pub source: Source,
}

impl Rule {
    pub fn from_cidr(port: i32, cidr: &str) -> Self {
        Self {
            port,
            source: Source::Cidr(cidr.into()),
        }
    }

    pub fn from_group(port: i32, group: &str) -> Self {
        Self {
            port,
            source: Source::Group(group.into()),
        }
    }

    pub fn from_prefix_list(port: i32, name: &'static str) -> Self {
        Self {
            port,
            source: Source::PrefixList(name),
        }
    }
}

/// How a rule's source names a prefix list: `prefix-list/<name>`.
const PREFIX_LIST: &str = "prefix-list/";

/// AWS-managed prefix lists seen: (region, name, id).
static PREFIX_LISTS: LazyLock<Mutex<Vec<(String, String, String)>>> =
    LazyLock::new(|| Mutex::new(Vec::new()));

fn known_list(region: &str, matches: impl Fn(&str, &str) -> bool) -> Option<(String, String)> {
    let lists = PREFIX_LISTS.lock().unwrap_or_else(|e| e.into_inner());
    lists
        .iter()
        .find(|(r, name, id)| r == region && matches(name, id))
        .map(|(_, name, id)| (name.clone(), id.clone()))
}

/// Remembers the lists of `found`.
fn learn_lists(
    region: &str,
    found: &aws_sdk_ec2::operation::describe_managed_prefix_lists::DescribeManagedPrefixListsOutput,
) {
    let mut lists = PREFIX_LISTS.lock().unwrap_or_else(|e| e.into_inner());
    for list in found.prefix_lists() {
        if let (Some(name), Some(id)) = (list.prefix_list_name(), list.prefix_list_id())
            && !lists.iter().any(|(r, _, i)| r == region && i == id)
        {
            lists.push((region.to_string(), name.to_string(), id.to_string()));
        }
    }
}

/// The names of prefix lists `ids`, looked up once.
async fn learn_list_names(cx: &Context, ids: Vec<String>) -> Result<(), AwsError> {
    let unknown: Vec<String> = ids
        .into_iter()
        .filter(|id| known_list(&cx.region, |_, i| i == id).is_none())
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let found = cx
        .clients
        .ec2
        .describe_managed_prefix_lists()
        .set_prefix_list_ids(Some(unknown))
        .send()
        .await
        .map_err(sdk("DescribeManagedPrefixLists"))?;
    learn_lists(&cx.region, &found);
    Ok(())
}

/// The id of the AWS-managed prefix list `name` in the stack's region.
async fn list_id(cx: &Context, name: &str) -> Result<String, AwsError> {
    if let Some((_, id)) = known_list(&cx.region, |n, _| n == name) {
        return Ok(id);
    }
    let found = cx
        .clients
        .ec2
        .describe_managed_prefix_lists()
        .filters(
            Filter::builder()
                .name("prefix-list-name")
                .values(name)
                .build(),
        )
        .send()
        .await
        .map_err(sdk("DescribeManagedPrefixLists"))?;
    learn_lists(&cx.region, &found);
    known_list(&cx.region, |n, _| n == name)
        .map(|(_, id)| id)
        .ok_or_else(|| {
            AwsError::new(
                ErrorClass::Terminal,
                "DescribeManagedPrefixLists",
                "PrefixListNotFound",
                format!("region {} has no managed prefix list {name}", cx.region),
            )
        })
}

/// `rules` with each prefix list's name replaced by its id.
async fn with_list_ids(cx: &Context, rules: &[&str]) -> Result<Vec<String>, AwsError> {
    let mut out = Vec::new();
    for rule in rules {
        out.push(match rule.split_once(PREFIX_LIST) {
            Some((ports, name)) => format!("{ports}{}", list_id(cx, name).await?),
            None => rule.to_string(),
        });
    }
    Ok(out)
}

/// A security group of VPC node `vpc`. `suffix` names it; `egress` false
/// removes the default allow-all egress rule.
pub struct SecurityGroup {
    pub vpc: String,
    pub suffix: String,
    pub description: String,
    pub ingress: Vec<Rule>,
    pub egress: bool,
}

const ALL_EGRESS: &str = "all:0.0.0.0/0";

/// Canonical text of one permission per source: `tcp:80-80:0.0.0.0/0`,
/// `tcp:8080-8080:sg-1`, `all:0.0.0.0/0`,
/// `tcp:80-80:prefix-list/<name>` (a list not looked up yet: its id).
fn canonical(region: &str, permissions: &[IpPermission]) -> Vec<String> {
    let mut out = Vec::new();
    for p in permissions {
        let protocol = p.ip_protocol().unwrap_or("-1");
        let prefix = if protocol == "-1" {
            "all".to_string()
        } else {
            format!(
                "{protocol}:{}-{}",
                p.from_port().unwrap_or(0),
                p.to_port().unwrap_or(0)
            )
        };
        out.extend(
            p.ip_ranges()
                .iter()
                .filter_map(|r| r.cidr_ip())
                .map(|c| format!("{prefix}:{c}")),
        );
        out.extend(
            p.user_id_group_pairs()
                .iter()
                .filter_map(|g| g.group_id())
                .map(|g| format!("{prefix}:{g}")),
        );
        out.extend(
            p.prefix_list_ids()
                .iter()
                .filter_map(|l| l.prefix_list_id())
                .map(|id| match known_list(region, |_, i| i == id) {
                    Some((name, _)) => format!("{prefix}:{PREFIX_LIST}{name}"),
                    None => format!("{prefix}:{id}"),
                }),
        );
    }
    out
}

/// The permission a canonical rule stands for.
fn permission(rule: &str) -> IpPermission {
    let (ports, source) = rule.rsplit_once(':').unwrap_or((rule, ""));
    let mut builder = IpPermission::builder();
    builder = match ports.split_once(':') {
        Some((protocol, range)) => {
            let (from, to) = range.split_once('-').unwrap_or((range, range));
            builder
                .ip_protocol(protocol)
                .from_port(from.parse().unwrap_or(0))
                .to_port(to.parse().unwrap_or(0))
        }
        None => builder.ip_protocol("-1"),
    };
    if source.starts_with("sg-") {
        builder
            .user_id_group_pairs(UserIdGroupPair::builder().group_id(source).build())
            .build()
    } else if source.starts_with("pl-") {
        builder
            .prefix_list_ids(PrefixListId::builder().prefix_list_id(source).build())
            .build()
    } else {
        builder
            .ip_ranges(IpRange::builder().cidr_ip(source).build())
            .build()
    }
}

/// Revokes the ingress rules of group `id` that name other security
/// groups, so those groups can be deleted while this one stays (it belongs
/// to a retained database).
pub(crate) async fn revoke_group_references(cx: &Context, id: &str) -> Result<(), AwsError> {
    let ec2 = &cx.clients.ec2;
    let Some(found) = ec2
        .describe_security_groups()
        .group_ids(id)
        .send()
        .await
        .map_err(sdk("DescribeSecurityGroups"))
        .found()?
    else {
        return Ok(());
    };
    let referencing: Vec<IpPermission> = found
        .security_groups()
        .iter()
        .flat_map(|g| g.ip_permissions())
        .filter(|p| !p.user_id_group_pairs().is_empty())
        .cloned()
        .collect();
    if referencing.is_empty() {
        return Ok(());
    }
    let revoked = ec2
        .revoke_security_group_ingress()
        .group_id(id)
        .set_ip_permissions(Some(referencing))
        .send()
        .await
        .map_err(sdk("RevokeSecurityGroupIngress"));
    revoked.or_gone()
}

fn observed(cx: &Context, group: &AwsGroup) -> Option<Observed> {
    let tags = tag_map(group.tags());
    let component = component(cx, &tags)?;
    let id = group.group_id()?.to_string();
    let mut fields = tag_fields(&tags);
    fields.insert("vpc".into(), group.vpc_id().unwrap_or_default().into());
    fields.insert(
        "ingress".into(),
        set_field(canonical(&cx.region, group.ip_permissions())),
    );
    fields.insert(
        "egress".into(),
        set_field(canonical(&cx.region, group.ip_permissions_egress())),
    );
    Some(Observed {
        component,
        outputs: id_outputs(&id),
        id,
        arn: group.security_group_arn().map(str::to_string),
        fields,
        status: Status::Ready,
    })
}

#[async_trait]
impl KindOps<AwsClients> for SecurityGroupKind {
    fn name(&self) -> &'static str {
        "SecurityGroup"
    }

    fn rank(&self) -> u8 {
        1
    }

    async fn observe_all(&self, cx: &Context) -> Result<Vec<Observed>, AwsError> {
        let groups = cx
            .clients
            .listed("ec2:DescribeSecurityGroups", || async {
                cx.clients
                    .ec2
                    .describe_security_groups()
                    .filters(owned_filter(cx))
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(sdk("DescribeSecurityGroups"))
            })
            .await?;
        let lists: Vec<String> = groups
            .iter()
            .flat_map(|g| g.ip_permissions())
            .flat_map(|p| p.prefix_list_ids())
            .filter_map(|l| l.prefix_list_id().map(String::from))
            .collect();
        learn_list_names(cx, lists).await?;
        Ok(groups.iter().filter_map(|g| observed(cx, g)).collect())
    }

    async fn delete(&self, cx: &Context, observed: &Observed) -> Result<Deletion, AwsError> {
        // Rules naming other groups would keep those groups in use.
        let referencing: Vec<IpPermission> =
            set_items(observed.fields.get("ingress").map_or("", String::as_str))
                .into_iter()
                .filter(|r| r.contains(":sg-"))
                .map(permission)
                .collect();
        if !referencing.is_empty() {
            let revoked = cx
                .clients
                .ec2
                .revoke_security_group_ingress()
                .group_id(&observed.id)
                .set_ip_permissions(Some(referencing))
                .send()
                .await
                .map_err(sdk("RevokeSecurityGroupIngress"));
            // The group a rule names may be gone already; that rule then
            // no longer holds anything, and this group still has to go.
            revoked.or_gone()?;
        }
        cx.clients
            .ec2
            .delete_security_group()
            .group_id(&observed.id)
            .send()
            .await
            .map_err(sdk("DeleteSecurityGroup"))?;
        Ok(Deletion::Done)
    }
}

impl SecurityGroup {
    fn ingress(&self, inputs: &Inputs) -> Vec<String> {
        self.ingress
            .iter()
            .map(|rule| {
                let source = match &rule.source {
                    Source::Cidr(cidr) => cidr.clone(),
                    Source::Group(node) => inputs.get(node, "id"),
                    Source::PrefixList(name) => format!("{PREFIX_LIST}{name}"),
                };
                format!("tcp:{0}-{0}:{source}", rule.port)
            })
            .collect()
    }

    fn egress(&self) -> Vec<String> {
        if self.egress {
            vec![ALL_EGRESS.to_string()]
        } else {
            Vec::new()
        }
    }

    async fn authorize(
        cx: &Context,
        id: &str,
        ingress: bool,
        rules: &[&str],
    ) -> Result<(), AwsError> {
        if rules.is_empty() {
            return Ok(());
        }
        let rules = with_list_ids(cx, rules).await?;
        let permissions: Vec<IpPermission> = rules.iter().map(|r| permission(r)).collect();
        let ec2 = &cx.clients.ec2;
        if ingress {
            ec2.authorize_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(permissions))
                .send()
                .await
                .map_err(sdk("AuthorizeSecurityGroupIngress"))?;
        } else {
            ec2.authorize_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(permissions))
                .send()
                .await
                .map_err(sdk("AuthorizeSecurityGroupEgress"))?;
        }
        Ok(())
    }

    async fn revoke(cx: &Context, id: &str, ingress: bool, rules: &[&str]) -> Result<(), AwsError> {
        if rules.is_empty() {
            return Ok(());
        }
        let rules = with_list_ids(cx, rules).await?;
        let permissions: Vec<IpPermission> = rules.iter().map(|r| permission(r)).collect();
        let ec2 = &cx.clients.ec2;
        if ingress {
            ec2.revoke_security_group_ingress()
                .group_id(id)
                .set_ip_permissions(Some(permissions))
                .send()
                .await
                .map_err(sdk("RevokeSecurityGroupIngress"))?;
        } else {
            ec2.revoke_security_group_egress()
                .group_id(id)
                .set_ip_permissions(Some(permissions))
                .send()
                .await
                .map_err(sdk("RevokeSecurityGroupEgress"))?;
        }
        Ok(())
    }

    /// Makes one direction's rules exactly `want`, from `have`.
    async fn converge_rules(
        cx: &Context,
        id: &str,
        ingress: bool,
        have: &str,
        want: &str,
    ) -> Result<(), AwsError> {
        let (have, want) = (set_items(have), set_items(want));
        let missing: Vec<&str> = want.iter().filter(|r| !have.contains(r)).copied().collect();
        let extra: Vec<&str> = have.iter().filter(|r| !want.contains(r)).copied().collect();
        Self::authorize(cx, id, ingress, &missing).await?;
        Self::revoke(cx, id, ingress, &extra).await
    }
}

#[async_trait]
impl Resource<AwsClients> for SecurityGroup {
    fn kind(&self) -> Kind {
        &SECURITY_GROUP
    }

    fn desired(&self, key: &str, cx: &Context, inputs: &Inputs) -> Fields {
        with_tags(
            cx,
            key,
            [
                ("vpc", inputs.get(&self.vpc, "id")),
                ("ingress", set_field(self.ingress(inputs))),
                ("egress", set_field(self.egress())),
            ],
        )
    }

    /// The group, its ingress rules in one call, and the default egress
    /// rule revoked in another when the group must send nothing.
    fn create_calls(&self) -> Vec<&'static str> {
        let mut calls = vec!["CreateSecurityGroup"];
        if !self.ingress.is_empty() {
            calls.push("AuthorizeSecurityGroupIngress");
        }
        if !self.egress {
            calls.push("RevokeSecurityGroupEgress");
        }
        calls
    }

    async fn create(&self, key: &str, cx: &Context, inputs: &Inputs) -> Result<Observed, AwsError> {
        for rule in &self.ingress {
            if let Source::Group(node) = &rule.source {
                inputs.require(node, "id")?;
            }
        }
        let group = cx
            .clients
            .ec2
            .create_security_group()
            .group_name(cx.identity.resource_name(&self.suffix, NameRule::Generic))
            .description(&self.description)
            .vpc_id(inputs.require(&self.vpc, "id")?)
            .tag_specifications(tag_spec(cx, ResourceType::SecurityGroup, key))
            .send()
            .await
            .map_err(sdk("CreateSecurityGroup"))?;
        let id = group
            .group_id()
            .ok_or_else(|| missing("CreateSecurityGroup"))?;
        let ingress = self.ingress(inputs);
        Self::authorize(
            cx,
            id,
            true,
            &ingress.iter().map(String::as_str).collect::<Vec<_>>(),
        )
        .await?;
        if !self.egress {
            // New groups allow all egress; these groups must send nothing.
            Self::revoke(cx, id, false, &[ALL_EGRESS]).await?;
        }
        Ok(created(
            key,
            id,
            self.desired(key, cx, inputs),
            id_outputs(id),
        ))
    }

    async fn update(
        &self,
        _key: &str,
        cx: &Context,
        _inputs: &Inputs,
        current: &Observed,
        changes: &[Change],
    ) -> Result<(), AwsError> {
        for (field, ingress) in [("ingress", true), ("egress", false)] {
            if let Some(change) = changes.at(field) {
                Self::converge_rules(
                    cx,
                    &current.id,
                    ingress,
                    change.from.as_deref().unwrap_or_default(),
                    &change.to,
                )
                .await?;
            }
        }
        retag(cx, &current.id, changes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_round_trip_through_their_canonical_form() {
        for rule in ["tcp:80-80:0.0.0.0/0", "tcp:5432-5432:sg-0123", ALL_EGRESS] {
            assert_eq!(canonical("eu-west-1", &[permission(rule)]), [rule]);
        }
    }

    #[test]
    fn a_known_prefix_list_reads_by_name_and_an_unknown_by_id() {
        let rule = permission("tcp:80-80:pl-4fa04526");
        assert_eq!(
            canonical("ap-south-2", std::slice::from_ref(&rule)),
            ["tcp:80-80:pl-4fa04526"]
        );
        PREFIX_LISTS.lock().unwrap().push((
            "ap-south-2".into(),
            CLOUDFRONT_ORIGIN_FACING.into(),
            "pl-4fa04526".into(),
        ));
        assert_eq!(
            canonical("ap-south-2", std::slice::from_ref(&rule)),
            [format!("tcp:80-80:{PREFIX_LIST}{CLOUDFRONT_ORIGIN_FACING}")]
        );
        // The same id in another region is another list.
        assert_eq!(canonical("eu-west-1", &[rule]), ["tcp:80-80:pl-4fa04526"]);
    }
}
