//! The subnet plan: which CIDR each tier gets in each availability zone.
//!
//! The VPC CIDR is cut into four equal groups; public, app and data take one
//! each and the fourth is kept free for growth. Each group holds 4 subnets
//! (8 when azCount is 5 or 6), so a /16 gives /20 subnets (4096 addresses).

use ipnet::Ipv4Net;

use crate::api::FieldError;
use crate::api::common::NetworkSpec;

/// Smallest subnet AWS allows.
pub const MIN_SUBNET_PREFIX: u8 = 28;

/// Subnets per tier, one per AZ, in AZ order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetPlan {
    pub vpc: Ipv4Net,
    pub public: Vec<Ipv4Net>,
    pub app: Vec<Ipv4Net>,
    pub data: Vec<Ipv4Net>,
}

impl SubnetPlan {
    /// Every subnet with its tier name and AZ index.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, usize, Ipv4Net)> + '_ {
        let tier = |name: &'static str, nets: &'_ [Ipv4Net]| {
            nets.iter()
                .enumerate()
                .map(move |(i, n)| (name, i, *n))
                .collect::<Vec<_>>()
        };
        tier("public", &self.public)
            .into_iter()
            .chain(tier("app", &self.app))
            .chain(tier("data", &self.data))
    }
}

/// Subnet prefix length the computed plan uses for a VPC prefix.
pub fn planned_prefix(vpc_prefix: u8, az_count: usize) -> u8 {
    let per_tier_bits = if az_count > 4 { 3 } else { 2 };
    vpc_prefix + 2 + per_tier_bits
}

/// The plan for `network`, or every reason it cannot be made (paths under
/// `spec.network`).
pub fn plan(network: &NetworkSpec) -> Result<SubnetPlan, Vec<FieldError>> {
    let vpc: Ipv4Net = network.cidr.parse().map_err(|_| {
        vec![FieldError::new(
            "spec.network.cidr",
            format!("{:?} is not an IPv4 CIDR", network.cidr),
        )]
    })?;
    if vpc.network() != vpc.addr() {
        return Err(vec![FieldError::new(
            "spec.network.cidr",
            format!(
                "{} has host bits set; the network address is {}",
                network.cidr,
                vpc.trunc()
            ),
        )]);
    }
    let az_count = usize::try_from(network.az_count).unwrap_or(0);
    match &network.subnets {
        None => computed(vpc, az_count),
        Some(overrides) => {
            let tiers = [
                ("public", &overrides.public),
                ("app", &overrides.app),
                ("data", &overrides.data),
            ];
            let mut errors = Vec::new();
            let mut parsed: Vec<Vec<Ipv4Net>> = Vec::new();
            for (tier, cidrs) in tiers {
                let mut nets = Vec::new();
                if cidrs.len() != az_count {
                    errors.push(FieldError::new(
                        format!("spec.network.subnets.{tier}"),
                        format!("has {} CIDRs; azCount is {az_count}", cidrs.len()),
                    ));
                }
                for (i, cidr) in cidrs.iter().enumerate() {
                    let path = format!("spec.network.subnets.{tier}[{i}]");
                    match cidr.parse::<Ipv4Net>() {
                        Err(_) => errors.push(FieldError::new(path, format!("{cidr:?} is not an IPv4 CIDR"))),
                        Ok(net) if net.network() != net.addr() => {
                            errors.push(FieldError::new(path, format!("{cidr} has host bits set")))
                        }
                        Ok(net) if net.prefix_len() > MIN_SUBNET_PREFIX => errors.push(FieldError::new(
                            path,
                            format!("{cidr} is smaller than /{MIN_SUBNET_PREFIX}, the smallest subnet AWS allows"),
                        )),
                        Ok(net) if !vpc.contains(&net) => errors.push(FieldError::new(
                            path,
                            format!("{cidr} is not inside the VPC CIDR {vpc}"),
                        )),
                        Ok(net) => nets.push((path, net)),
                    }
                }
                parsed.push(nets.iter().map(|(_, n)| *n).collect());
                errors.extend(overlaps(&nets, &parsed[..parsed.len() - 1]));
            }
            if !errors.is_empty() {
                return Err(errors);
            }
            let mut tiers = parsed.into_iter();
            Ok(SubnetPlan {
                vpc,
                public: tiers.next().unwrap_or_default(),
                app: tiers.next().unwrap_or_default(),
                data: tiers.next().unwrap_or_default(),
            })
        }
    }
}

fn computed(vpc: Ipv4Net, az_count: usize) -> Result<SubnetPlan, Vec<FieldError>> {
    let prefix = planned_prefix(vpc.prefix_len(), az_count);
    if prefix > MIN_SUBNET_PREFIX {
        return Err(vec![FieldError::new(
            "spec.network.cidr",
            format!(
                "{vpc} is too small for {az_count} AZs: the plan needs /{prefix} subnets, smaller than /{MIN_SUBNET_PREFIX}; use at most a /{} VPC",
                vpc.prefix_len() - (prefix - MIN_SUBNET_PREFIX)
            ),
        )]);
    }
    let subnets: Vec<Ipv4Net> = vpc
        .subnets(prefix)
        .expect("prefix is longer than the VPC's")
        .collect();
    let per_tier = subnets.len() / 4;
    let tier = |index: usize| subnets[index * per_tier..index * per_tier + az_count].to_vec();
    Ok(SubnetPlan {
        vpc,
        public: tier(0),
        app: tier(1),
        data: tier(2),
    })
}

/// Overlaps of `nets` with each other and with earlier tiers.
fn overlaps(nets: &[(String, Ipv4Net)], earlier: &[Vec<Ipv4Net>]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, (path, net)) in nets.iter().enumerate() {
        let clash = nets[..i]
            .iter()
            .map(|(_, n)| n)
            .chain(earlier.iter().flatten())
            .find(|other| other.contains(&net.network()) || net.contains(&other.network()));
        if let Some(other) = clash {
            errors.push(FieldError::new(
                path.clone(),
                format!("{net} overlaps {other}"),
            ));
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::SubnetOverrides;

    fn network(cidr: &str, az_count: i32) -> NetworkSpec {
        NetworkSpec {
            cidr: cidr.into(),
            az_count,
            ..NetworkSpec::default()
        }
    }

    fn strings(nets: &[Ipv4Net]) -> Vec<String> {
        nets.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_slash_16_over_two_azs_gets_slash_20_subnets_per_tier() {
        let plan = plan(&network("10.0.0.0/16", 2)).unwrap();
        assert_eq!(strings(&plan.public), ["10.0.0.0/20", "10.0.16.0/20"]);
        assert_eq!(strings(&plan.app), ["10.0.64.0/20", "10.0.80.0/20"]);
        assert_eq!(strings(&plan.data), ["10.0.128.0/20", "10.0.144.0/20"]);
    }

    #[test]
    fn six_azs_use_eight_slots_per_tier() {
        let plan = plan(&network("10.1.0.0/16", 6)).unwrap();
        assert_eq!(plan.public.len(), 6);
        assert_eq!(plan.public[0].prefix_len(), 21);
        assert_eq!(plan.app[0].to_string(), "10.1.64.0/21");
        assert_eq!(plan.data[5].to_string(), "10.1.168.0/21");
    }

    #[test]
    fn planned_subnets_never_overlap_and_stay_inside_the_vpc() {
        for prefix in 16..=24u8 {
            for az in 2..=6usize {
                let cidr = format!("172.16.0.0/{prefix}");
                let Ok(plan) = plan(&network(&cidr, az as i32)) else {
                    assert!(
                        planned_prefix(prefix, az) > MIN_SUBNET_PREFIX,
                        "{cidr} x{az} should fit"
                    );
                    continue;
                };
                let all: Vec<_> = plan.all().map(|(_, _, n)| n).collect();
                assert_eq!(all.len(), 3 * az);
                for (i, a) in all.iter().enumerate() {
                    assert!(plan.vpc.contains(a));
                    for b in &all[i + 1..] {
                        assert!(
                            !a.contains(&b.network()) && !b.contains(&a.network()),
                            "{a} overlaps {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_vpc_too_small_for_the_azs_is_refused_with_the_largest_prefix_that_fits() {
        let errors = plan(&network("10.0.0.0/25", 2)).unwrap_err();
        assert_eq!(errors[0].path, "spec.network.cidr");
        assert!(
            errors[0].message.contains("at most a /24"),
            "{}",
            errors[0].message
        );
    }

    #[test]
    fn host_bits_are_refused() {
        let errors = plan(&network("10.0.0.1/16", 2)).unwrap_err();
        assert!(errors[0].message.contains("network address is 10.0.0.0/16"));
    }

    #[test]
    fn overrides_are_checked_for_containment_overlap_and_count() {
        let mut net = network("10.0.0.0/16", 2);
        net.subnets = Some(SubnetOverrides {
            public: vec!["10.0.0.0/24".into(), "10.0.1.0/24".into()],
            app: vec!["10.0.0.128/25".into(), "10.1.0.0/24".into()],
            data: vec!["10.0.10.0/24".into()],
        });
        let errors = plan(&net).unwrap_err();
        let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
        assert!(paths.contains(&"spec.network.subnets.app[0]"), "{errors:?}");
        assert!(paths.contains(&"spec.network.subnets.app[1]"), "{errors:?}");
        assert!(paths.contains(&"spec.network.subnets.data"), "{errors:?}");
    }

    #[test]
    fn valid_overrides_are_used_as_given() {
        let mut net = network("10.0.0.0/16", 2);
        net.subnets = Some(SubnetOverrides {
            public: vec!["10.0.0.0/24".into(), "10.0.1.0/24".into()],
            app: vec!["10.0.16.0/20".into(), "10.0.32.0/20".into()],
            data: vec!["10.0.2.0/24".into(), "10.0.3.0/24".into()],
        });
        let plan = plan(&net).unwrap();
        assert_eq!(strings(&plan.app), ["10.0.16.0/20", "10.0.32.0/20"]);
    }
}
