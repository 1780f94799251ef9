//! What a stack will cost a month: the charges its blueprint lists, priced
//! from the AWS Price List API (GetProducts, served from us-east-1) and,
//! for servers on Spot, from EC2's Spot price history of the region.
//!
//! List prices only. Charges that grow with use (data transfer, requests,
//! load balancer capacity units, log ingestion) are named as not included,
//! never guessed. A price that cannot be read leaves its line unpriced and
//! the estimate marked incomplete; nothing ever waits on an estimate.
//!
//! Prices are cached per process: list prices change a few times a year,
//! so each product is asked for once; Spot prices move, so they are kept
//! for an hour. A product the Price List answers it does not have is kept
//! missing for an hour too, so a thousand new stacks do not each ask again;
//! a read that got no answer (throttled, unreachable) is not kept. Each
//! price is read by one stack at a time: those that start together wait
//! for the first one's answer.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_pricing::types::{Filter, FilterType};
use futures::future::join_all;
use serde_json::Value;

use super::{AwsClients, sdk};

/// Hours in the month the estimate prices (AWS's own convention: 730).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// The currency of AWS list prices outside China.
pub const CURRENCY: &str = "USD";

/// How long a Spot price is reused.
const SPOT_TTL: Duration = Duration::from_secs(3600);

/// How long the Price List's "no such product" is believed.
const MISSING_TTL: Duration = Duration::from_secs(3600);

/// One product of the Price List: what a list price is looked up by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Product {
    /// The Price List service code, e.g. `AmazonEC2`.
    pub service: &'static str,
    /// TERM_MATCH filters, `regionCode` included.
    pub attributes: Vec<(&'static str, String)>,
    /// When the filters still match several products (the hourly and the
    /// per-GB price of a NAT gateway), the one whose usage type ends so.
    pub usage_type_suffix: Option<&'static str>,
}

/// Where a charge's unit price comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Rate {
    /// A list price of the Price List.
    List(Product),
    /// The region's current Spot price, averaged over these instance types
    /// and every zone that sells them (Linux, per hour).
    Spot { instance_types: Vec<String> },
    /// Nothing fixed: the whole charge follows use.
    UsageOnly,
}

/// One thing the stack pays for.
#[derive(Clone, Debug, PartialEq)]
pub struct Charge {
    /// The node key of the resource that bears it, e.g. `app/group`.
    pub component: String,
    /// What is charged, for people: `3 × t3.small On-Demand`.
    pub what: String,
    pub rate: Rate,
    /// Units a month the unit price applies to: hours for an hourly price
    /// (count × 730), GB-months, or a count of monthly units.
    pub quantity: f64,
}

impl Charge {
    /// `count` of something billed by the hour, running all month.
    pub fn hourly(component: &str, what: String, rate: Rate, count: f64) -> Self {
        Self {
            component: component.into(),
            what,
            rate,
            quantity: count * HOURS_PER_MONTH,
        }
    }

    /// `quantity` of something billed by the month (GB-months, alarms).
    pub fn monthly(component: &str, what: String, rate: Rate, quantity: f64) -> Self {
        Self {
            component: component.into(),
            what,
            rate,
            quantity,
        }
    }

    /// A charge that is all usage.
    pub fn usage(component: &str, what: &str) -> Self {
        Self::monthly(component, what.into(), Rate::UsageOnly, 0.0)
    }
}

/// One line of an estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub component: String,
    pub what: String,
    /// The monthly amount; `None` when its price could not be read.
    pub monthly: Option<f64>,
    /// The whole charge follows use and is not in the total.
    pub usage_only: bool,
}

/// What a stack's charges come to a month.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Estimate {
    pub lines: Vec<Line>,
    /// The newest effective date of the prices used (`YYYY-MM-DD`).
    pub price_date: Option<String>,
    /// Why lines are unpriced, one entry per price that could not be read.
    pub unpriced: Vec<String>,
}

impl Estimate {
    /// The sum of the priced lines.
    pub fn total(&self) -> f64 {
        self.lines.iter().filter_map(|l| l.monthly).sum()
    }

    /// Whether every fixed charge was priced.
    pub fn is_complete(&self) -> bool {
        self.unpriced.is_empty()
    }

    /// The sum of the lines of these components.
    pub fn total_of<'a>(&self, mut components: impl FnMut(&str) -> bool + 'a) -> f64 {
        self.lines
            .iter()
            .filter(|l| components(&l.component))
            .filter_map(|l| l.monthly)
            .sum()
    }

    /// The estimate as `status` carries it.
    pub fn to_status(&self) -> crate::api::status::CostEstimate {
        let mut left_out = Vec::new();
        if !self.unpriced.is_empty() {
            left_out.push(format!("not priced: {}", self.unpriced.join("; ")));
        }
        let usage = self.not_included();
        if !usage.is_empty() {
            left_out.push(format!(
                "not included (grows with use): {}",
                usage.join(", ")
            ));
        }
        crate::api::status::CostEstimate {
            amount: format!("{:.2}", self.total()),
            currency: CURRENCY.into(),
            price_date: self.price_date.clone(),
            complete: self.is_complete(),
            message: left_out.join(". "),
        }
    }

    /// What follows use and is left out of the total, for people.
    pub fn not_included(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| l.usage_only)
            .map(|l| l.what.as_str())
            .collect()
    }
}

/// A unit price and the date it took effect.
#[derive(Clone, Debug, PartialEq)]
struct Price {
    usd: f64,
    date: Option<String>,
}

/// List prices by product: found for good, or missing for a while.
#[derive(Default)]
struct ListPrices(HashMap<Product, Listed>);

enum Listed {
    Found(Price),
    Missing { why: String, at: Instant },
}

impl ListPrices {
    /// The kept answer for `product`, if one is still good at `now`.
    fn kept(&self, product: &Product, now: Instant) -> Option<Result<Price, String>> {
        match self.0.get(product)? {
            Listed::Found(price) => Some(Ok(price.clone())),
            Listed::Missing { why, at } if now.duration_since(*at) < MISSING_TTL => {
                Some(Err(why.clone()))
            }
            Listed::Missing { .. } => None,
        }
    }

    fn keep(&mut self, product: &Product, answer: &Result<Price, String>, now: Instant) {
        let listed = match answer {
            Ok(price) => Listed::Found(price.clone()),
            Err(why) => Listed::Missing {
                why: why.clone(),
                at: now,
            },
        };
        self.0.insert(product.clone(), listed);
    }
}

static LIST_PRICES: LazyLock<Mutex<ListPrices>> = LazyLock::new(Default::default);

/// One read at a time per price: stacks that start together wait for the
/// first one's answer rather than each asking the Price List.
static READING: LazyLock<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Default::default);

/// The turn to read the price named `what`.
async fn turn_to_read(what: String) -> tokio::sync::OwnedMutexGuard<()> {
    let gate = READING.lock().unwrap().entry(what).or_default().clone();
    gate.lock_owned().await
}
/// Spot prices by region and instance types, with when they were read.
type SpotCache = HashMap<(String, Vec<String>), (Price, Instant)>;
static SPOT_PRICES: LazyLock<Mutex<SpotCache>> = LazyLock::new(Default::default);

/// Prices `charges` of a stack in `region`. Never fails: what cannot be
/// priced is named in the estimate.
pub async fn estimate(clients: &AwsClients, region: &str, charges: &[Charge]) -> Estimate {
    let prices = join_all(charges.iter().map(|c| price_of(clients, region, &c.rate))).await;
    let mut estimate = Estimate::default();
    for (charge, price) in charges.iter().zip(prices) {
        let usage_only = charge.rate == Rate::UsageOnly;
        let monthly = match price {
            _ if usage_only => None,
            Ok(price) => {
                if price.date > estimate.price_date {
                    estimate.price_date = price.date.clone();
                }
                Some(price.usd * charge.quantity)
            }
            Err(why) => {
                estimate.unpriced.push(format!("{}: {why}", charge.what));
                None
            }
        };
        estimate.lines.push(Line {
            component: charge.component.clone(),
            what: charge.what.clone(),
            monthly,
            usage_only,
        });
    }
    estimate
}

async fn price_of(clients: &AwsClients, region: &str, rate: &Rate) -> Result<Price, String> {
    match rate {
        Rate::UsageOnly => Ok(Price {
            usd: 0.0,
            date: None,
        }),
        Rate::List(product) => list_price(clients, product).await,
        Rate::Spot { instance_types } => spot_price(clients, region, instance_types).await,
    }
}

async fn list_price(clients: &AwsClients, product: &Product) -> Result<Price, String> {
    let kept = || LIST_PRICES.lock().unwrap().kept(product, Instant::now());
    if let Some(kept) = kept() {
        return kept;
    }
    let _turn = turn_to_read(format!("{product:?}")).await;
    if let Some(kept) = kept() {
        return kept;
    }
    // No answer is no reason to keep anything: the next stack asks again.
    let documents = get_products(clients, product).await?;
    let answer = pick_price(&documents, product.usage_type_suffix);
    LIST_PRICES
        .lock()
        .unwrap()
        .keep(product, &answer, Instant::now());
    answer
}

/// Every Price List document matching `product`'s filters.
async fn get_products(clients: &AwsClients, product: &Product) -> Result<Vec<String>, String> {
    let filters = product
        .attributes
        .iter()
        .map(|(field, value)| {
            Filter::builder()
                .r#type(FilterType::TermMatch)
                .field(*field)
                .value(value)
                .build()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut documents = Vec::new();
    let mut token = None;
    loop {
        let page = clients
            .pricing
            .get_products()
            .service_code(product.service)
            .set_filters(Some(filters.clone()))
            .format_version("aws_v1")
            .max_results(100)
            .set_next_token(token)
            .send()
            .await
            .map_err(sdk("GetProducts"))
            .map_err(|e| format!("the Price List API did not answer: {e}"))?;
        documents.extend(page.price_list().iter().cloned());
        token = page.next_token().map(String::from);
        // A page cap, so an endless token cannot hold the estimate.
        if token.is_none() || documents.len() > 1000 {
            break;
        }
    }
    Ok(documents)
}

/// The On-Demand unit price of the one product of `documents` (Price List
/// JSON documents) whose usage type ends with `suffix`, if given: its
/// first price tier.
fn pick_price(documents: &[String], suffix: Option<&str>) -> Result<Price, String> {
    let products: Vec<Value> = documents
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter(|p| {
            let usage = p["product"]["attributes"]["usagetype"]
                .as_str()
                .unwrap_or_default();
            suffix.is_none_or(|s| usage.ends_with(s))
        })
        .collect();
    let product = match products.as_slice() {
        [] => return Err("no such product in the price list".into()),
        [one, ..] => one,
    };
    let terms = product["terms"]["OnDemand"]
        .as_object()
        .and_then(|t| t.values().next())
        .ok_or("no On-Demand price")?;
    let dimensions = terms["priceDimensions"]
        .as_object()
        .ok_or("no price dimensions")?;
    let first_tier = dimensions
        .values()
        .find(|d| d["beginRange"].as_str().is_none_or(|b| b == "0"))
        .ok_or("no first price tier")?;
    let usd = first_tier["pricePerUnit"][CURRENCY]
        .as_str()
        .and_then(|p| p.parse::<f64>().ok())
        .ok_or("no USD price")?;
    let date = terms["effectiveDate"]
        .as_str()
        .or(product["publicationDate"].as_str())
        .map(|d| d.chars().take(10).collect());
    Ok(Price { usd, date })
}

async fn spot_price(
    clients: &AwsClients,
    region: &str,
    instance_types: &[String],
) -> Result<Price, String> {
    let key = (region.to_string(), instance_types.to_vec());
    let kept = || {
        let prices = SPOT_PRICES.lock().unwrap();
        let (price, at) = prices.get(&key)?;
        (at.elapsed() < SPOT_TTL).then(|| price.clone())
    };
    if let Some(price) = kept() {
        return Ok(price);
    }
    let _turn = turn_to_read(format!("spot {key:?}")).await;
    if let Some(price) = kept() {
        return Ok(price);
    }
    let prices = super::ec2::spot_price::current(clients, instance_types)
        .await
        .map_err(|e| format!("no Spot price history: {e}"))?;
    if prices.is_empty() {
        return Err(format!(
            "no Spot price for {} in {region}",
            instance_types.join(", ")
        ));
    }
    let price = Price {
        usd: prices.iter().sum::<f64>() / prices.len() as f64,
        // Spot prices are today's: the list prices' date stays the estimate's.
        date: None,
    };
    SPOT_PRICES
        .lock()
        .unwrap()
        .insert(key, (price.clone(), Instant::now()));
    Ok(price)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(usage: &str, tiers: &[(&str, &str)]) -> String {
        let dimensions: serde_json::Map<String, Value> = tiers
            .iter()
            .enumerate()
            .map(|(i, (begin, usd))| {
                (
                    format!("SKU.TERM.R{i}"),
                    serde_json::json!({"beginRange": begin, "unit": "Hrs", "pricePerUnit": {"USD": usd}}),
                )
            })
            .collect();
        serde_json::json!({
            "product": {"attributes": {"usagetype": usage}},
            "terms": {"OnDemand": {"SKU.TERM": {"priceDimensions": dimensions, "effectiveDate": "2026-11-01T00:00:00Z"}}},
            "publicationDate": "2026-11-05T00:00:00Z",
        })
        .to_string()
    }

    #[test]
    fn the_product_of_the_usage_type_and_its_first_tier_are_priced() {
        let documents = [
            document("EU-NatGateway-Bytes", &[("0", "0.048")]),
            document("EU-NatGateway-Hours", &[("1000", "0.01"), ("0", "0.048")]),
        ];
        let price = pick_price(&documents, Some("NatGateway-Hours")).unwrap();
        assert_eq!(price.usd, 0.048);
        assert_eq!(price.date.as_deref(), Some("2026-11-01"));
        assert!(pick_price(&documents, Some("LoadBalancerUsage")).is_err());
        assert!(pick_price(&[], None).is_err());
    }

    #[test]
    fn a_found_price_is_kept_and_a_missing_product_for_an_hour() {
        let product = |service| Product {
            service,
            attributes: vec![("location", "EU (Ireland)".into())],
            usage_type_suffix: None,
        };
        let (found, missing) = (product("AmazonEC2"), product("AmazonRDS"));
        let start = Instant::now();
        let mut prices = ListPrices::default();
        assert!(prices.kept(&found, start).is_none());
        let price = Price {
            usd: 0.048,
            date: None,
        };
        prices.keep(&found, &Ok(price.clone()), start);
        prices.keep(&missing, &Err("no such product".into()), start);
        let later = start + MISSING_TTL + Duration::from_secs(1);
        assert_eq!(prices.kept(&found, later), Some(Ok(price)));
        assert_eq!(
            prices.kept(&missing, start + Duration::from_secs(60)),
            Some(Err("no such product".into()))
        );
        assert!(
            prices.kept(&missing, later).is_none(),
            "asked again after an hour"
        );
    }

    #[test]
    fn totals_leave_out_usage_and_unpriced_lines() {
        let line = |component: &str, monthly, usage_only| Line {
            component: component.into(),
            what: component.into(),
            monthly,
            usage_only,
        };
        let estimate = Estimate {
            lines: vec![
                line("a", Some(10.0), false),
                line("b", None, false),
                line("c", None, true),
                line("d", Some(2.5), false),
            ],
            price_date: None,
            unpriced: vec!["b: no price".into()],
        };
        assert_eq!(estimate.total(), 12.5);
        assert_eq!(estimate.total_of(|c| c == "d"), 2.5);
        assert!(!estimate.is_complete());
        assert_eq!(estimate.not_included(), ["c"]);
    }
}
