//! What the simulated cloud sells: offerings (instance types), datacenters and OS images.
//!
//! [`Catalogue::default`] is a realistic catalogue that contains every name the spec's examples
//! use. A scenario file can supply its own through serde; [`Catalogue::validated`] checks it and
//! fills in missing numeric box-size ids.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// Why a catalogue is invalid. Each variant names the field, the value and the fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogueError {
    /// Two entries share an id.
    #[error("duplicate {kind} id `{id}`: ids must be unique, rename one")]
    DuplicateId {
        /// `offering`, `datacenter`, `image` or `boxsize`.
        kind: &'static str,
        /// The repeated id.
        id: String,
    },
    /// An id is empty.
    #[error("{kind} #{index} has an empty `id`: give every {kind} a non-empty id")]
    EmptyId {
        /// `offering`, `datacenter` or `image`.
        kind: &'static str,
        /// Position in its list (0-based).
        index: usize,
    },
    /// A numeric field is out of range.
    #[error("offering `{id}`: field `{field}` = {value}: {fix}")]
    BadValue {
        /// The offering.
        id: String,
        /// The field.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// How to fix it.
        fix: &'static str,
    },
    /// An offering names a datacenter the catalogue does not have.
    #[error("offering `{offering}`: field `datacenter_ids` names unknown datacenter `{datacenter}`: add it to `datacenters` or remove it")]
    UnknownDatacenter {
        /// The offering.
        offering: String,
        /// The unknown datacenter id.
        datacenter: String,
    },
    /// The catalogue has no datacenter, offering or image at all.
    #[error("the catalogue has no {0}: add at least one")]
    Empty(&'static str),
}

/// An instance type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offering {
    /// The offering id used in `offering_id` (e.g. `small-2cpu-4gb`).
    pub id: String,
    /// The numeric box-size id a VPS reports as `boxsize_id`; assigned by
    /// [`Catalogue::validated`] when absent.
    #[serde(default)]
    pub boxsize_id: Option<u64>,
    /// Display name.
    pub name: String,
    /// CPU cores.
    pub cpu: u32,
    /// Memory in MB.
    pub ram: u64,
    /// Disk in GB.
    pub disk: u64,
    /// Monthly traffic in GB.
    pub bandwidth: u64,
    /// Monthly price in USD.
    pub price: f64,
    /// Hourly price in USD.
    pub hourly_price: f64,
    /// Whether it can be ordered.
    #[serde(default = "yes")]
    pub available: bool,
    /// Datacenters where it is sold; empty means every datacenter.
    #[serde(default)]
    pub datacenter_ids: Vec<String>,
    /// Category (e.g. `standard`, `highmem`).
    #[serde(default = "standard")]
    pub category: String,
}

/// A datacenter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Datacenter {
    /// The datacenter id used in `datacenter_id` (e.g. `dc-us-east-1`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Short code.
    pub code: String,
    /// Country.
    pub country: String,
    /// City.
    pub city: String,
    /// Continent.
    pub continent: String,
    /// Whether VMs can be created there.
    #[serde(default = "yes")]
    pub available: bool,
    /// Whether the console features it.
    #[serde(default)]
    pub featured_dc: bool,
}

/// An OS image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OsImage {
    /// The image id used in `os_image_id` (e.g. `ubuntu-22.04-lts`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Version (reported as the VPS's `os_version`).
    pub version: String,
    /// Distribution (reported as the VPS's `os_name`).
    pub distribution: String,
    /// CPU architecture.
    #[serde(default = "x86_64")]
    pub architecture: String,
    /// Smallest disk in GB it fits on.
    #[serde(default)]
    pub min_disk: u64,
    /// Whether it can be used.
    #[serde(default = "yes")]
    pub available: bool,
}

fn yes() -> bool {
    true
}
fn standard() -> String {
    "standard".to_owned()
}
fn x86_64() -> String {
    "x86_64".to_owned()
}

/// Offerings, datacenters and images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalogue {
    /// Instance types.
    pub offerings: Vec<Offering>,
    /// Datacenters.
    pub datacenters: Vec<Datacenter>,
    /// OS images.
    pub images: Vec<OsImage>,
}

#[allow(clippy::too_many_arguments)]
fn offering(
    id: &str,
    boxsize: u64,
    name: &str,
    cpu: u32,
    ram: u64,
    disk: u64,
    bandwidth: u64,
    price: f64,
    category: &str,
) -> Offering {
    Offering {
        id: id.to_owned(),
        boxsize_id: Some(boxsize),
        name: name.to_owned(),
        cpu,
        ram,
        disk,
        bandwidth,
        price,
        // VPSie bills hourly up to the monthly cap of 730 hours.
        hourly_price: (price / 730.0 * 100_000.0).round() / 100_000.0,
        available: true,
        datacenter_ids: Vec::new(),
        category: category.to_owned(),
    }
}

fn datacenter(
    id: &str,
    name: &str,
    code: &str,
    country: &str,
    city: &str,
    continent: &str,
) -> Datacenter {
    Datacenter {
        id: id.to_owned(),
        name: name.to_owned(),
        code: code.to_owned(),
        country: country.to_owned(),
        city: city.to_owned(),
        continent: continent.to_owned(),
        available: true,
        featured_dc: true,
    }
}

fn image(id: &str, name: &str, version: &str) -> OsImage {
    OsImage {
        id: id.to_owned(),
        name: name.to_owned(),
        version: version.to_owned(),
        distribution: "ubuntu".to_owned(),
        architecture: "x86_64".to_owned(),
        min_disk: 20,
        available: true,
    }
}

impl Default for Catalogue {
    /// Six offerings with distinct prices (the spec's `small-2cpu-4gb`, `medium-4cpu-8gb` and
    /// `large-8cpu-16gb` among them), two datacenters (`dc-us-east-1`, `dc-eu-west-1`) and two
    /// Ubuntu images (`ubuntu-22.04-lts`, `ubuntu-24.04-lts`).
    fn default() -> Self {
        Self {
            offerings: vec![
                offering(
                    "xsmall-1cpu-2gb",
                    101,
                    "1 vCPU / 2 GB",
                    1,
                    2048,
                    40,
                    1000,
                    9.0,
                    "standard",
                ),
                offering(
                    "small-2cpu-4gb",
                    102,
                    "2 vCPU / 4 GB",
                    2,
                    4096,
                    80,
                    2000,
                    18.0,
                    "standard",
                ),
                offering(
                    "medium-4cpu-8gb",
                    103,
                    "4 vCPU / 8 GB",
                    4,
                    8192,
                    160,
                    3000,
                    36.0,
                    "standard",
                ),
                offering(
                    "large-8cpu-16gb",
                    104,
                    "8 vCPU / 16 GB",
                    8,
                    16384,
                    320,
                    4000,
                    72.0,
                    "standard",
                ),
                offering(
                    "xlarge-16cpu-32gb",
                    105,
                    "16 vCPU / 32 GB",
                    16,
                    32768,
                    640,
                    5000,
                    144.0,
                    "standard",
                ),
                offering(
                    "highmem-4cpu-32gb",
                    201,
                    "4 vCPU / 32 GB (high memory)",
                    4,
                    32768,
                    160,
                    3000,
                    96.0,
                    "highmem",
                ),
            ],
            datacenters: vec![
                datacenter(
                    "dc-us-east-1",
                    "New York 1",
                    "NYC1",
                    "United States",
                    "New York",
                    "North America",
                ),
                datacenter(
                    "dc-eu-west-1",
                    "London 1",
                    "LON1",
                    "United Kingdom",
                    "London",
                    "Europe",
                ),
            ],
            images: vec![
                image("ubuntu-22.04-lts", "Ubuntu 22.04 LTS", "22.04"),
                image("ubuntu-24.04-lts", "Ubuntu 24.04 LTS", "24.04"),
            ],
        }
    }
}

impl Catalogue {
    /// Checks the catalogue (unique non-empty ids, positive cpu and ram, non-negative finite
    /// prices, known datacenters) and assigns a `boxsize_id` to offerings without one.
    pub fn validated(mut self) -> Result<Self, CatalogueError> {
        if self.datacenters.is_empty() {
            return Err(CatalogueError::Empty("datacenters"));
        }
        if self.offerings.is_empty() {
            return Err(CatalogueError::Empty("offerings"));
        }
        if self.images.is_empty() {
            return Err(CatalogueError::Empty("images"));
        }
        unique_ids("datacenter", self.datacenters.iter().map(|d| d.id.as_str()))?;
        unique_ids("offering", self.offerings.iter().map(|o| o.id.as_str()))?;
        unique_ids("image", self.images.iter().map(|i| i.id.as_str()))?;
        let dcs: HashSet<&str> = self.datacenters.iter().map(|d| d.id.as_str()).collect();
        let mut boxsizes = HashSet::new();
        for o in &self.offerings {
            check_offering(o, &dcs)?;
            if let Some(b) = o.boxsize_id {
                if !boxsizes.insert(b) {
                    return Err(CatalogueError::DuplicateId {
                        kind: "boxsize",
                        id: b.to_string(),
                    });
                }
            }
        }
        let mut next = 1u64;
        for o in &mut self.offerings {
            if o.boxsize_id.is_none() {
                while boxsizes.contains(&next) {
                    next += 1;
                }
                boxsizes.insert(next);
                o.boxsize_id = Some(next);
            }
        }
        Ok(self)
    }

    /// The offering with this id.
    pub fn offering(&self, id: &str) -> Option<&Offering> {
        self.offerings.iter().find(|o| o.id == id)
    }

    /// The datacenter with this id.
    pub fn datacenter(&self, id: &str) -> Option<&Datacenter> {
        self.datacenters.iter().find(|d| d.id == id)
    }

    /// The image with this id.
    pub fn image(&self, id: &str) -> Option<&OsImage> {
        self.images.iter().find(|i| i.id == id)
    }
}

impl Offering {
    /// Whether this offering is sold in `datacenter_id`.
    pub fn sold_in(&self, datacenter_id: &str) -> bool {
        self.datacenter_ids.is_empty() || self.datacenter_ids.iter().any(|d| d == datacenter_id)
    }
}

fn unique_ids<'a>(
    kind: &'static str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), CatalogueError> {
    let mut seen = HashSet::new();
    for (index, id) in ids.enumerate() {
        if id.trim().is_empty() {
            return Err(CatalogueError::EmptyId { kind, index });
        }
        if !seen.insert(id) {
            return Err(CatalogueError::DuplicateId {
                kind,
                id: id.to_owned(),
            });
        }
    }
    Ok(())
}

fn check_offering(o: &Offering, dcs: &HashSet<&str>) -> Result<(), CatalogueError> {
    let bad = |field: &'static str, value: String, fix: &'static str| CatalogueError::BadValue {
        id: o.id.clone(),
        field,
        value,
        fix,
    };
    if o.cpu == 0 {
        return Err(bad("cpu", "0".into(), "give a positive number of cores"));
    }
    if o.ram == 0 {
        return Err(bad(
            "ram",
            "0".into(),
            "give a positive amount of memory in MB",
        ));
    }
    if !(o.price.is_finite() && o.price >= 0.0) {
        return Err(bad(
            "price",
            o.price.to_string(),
            "give a non-negative monthly USD price",
        ));
    }
    if !(o.hourly_price.is_finite() && o.hourly_price >= 0.0) {
        return Err(bad(
            "hourly_price",
            o.hourly_price.to_string(),
            "give a non-negative hourly USD price",
        ));
    }
    if let Some(dc) = o.datacenter_ids.iter().find(|d| !dcs.contains(d.as_str())) {
        return Err(CatalogueError::UnknownDatacenter {
            offering: o.id.clone(),
            datacenter: dc.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalogue_is_valid_and_has_the_spec_names() {
        let c = Catalogue::default()
            .validated()
            .expect("default catalogue is valid");
        for id in ["small-2cpu-4gb", "medium-4cpu-8gb", "large-8cpu-16gb"] {
            assert!(c.offering(id).is_some(), "{id} missing");
        }
        assert!(c.datacenter("dc-us-east-1").is_some());
        assert!(c.image("ubuntu-22.04-lts").is_some());
        let mut prices: Vec<_> = c.offerings.iter().map(|o| o.price.to_bits()).collect();
        prices.sort_unstable();
        prices.dedup();
        assert_eq!(prices.len(), c.offerings.len(), "prices must be distinct");
        let small = c.offering("small-2cpu-4gb").expect("small");
        assert_eq!((small.cpu, small.ram, small.disk), (2, 4096, 80));
    }

    #[test]
    fn duplicate_offering_id_is_named() {
        let mut c = Catalogue::default();
        let dup = c.offerings[0].clone();
        c.offerings.push(dup);
        let err = c.validated().expect_err("duplicate");
        assert_eq!(
            err,
            CatalogueError::DuplicateId {
                kind: "offering",
                id: "xsmall-1cpu-2gb".into()
            }
        );
        assert!(err.to_string().contains("xsmall-1cpu-2gb"));
    }

    #[test]
    fn zero_cpu_and_negative_price_are_rejected_with_the_field() {
        let mut c = Catalogue::default();
        c.offerings[1].cpu = 0;
        let msg = c.validated().expect_err("cpu").to_string();
        assert!(
            msg.contains("`cpu`") && msg.contains("small-2cpu-4gb"),
            "{msg}"
        );

        let mut c = Catalogue::default();
        c.offerings[2].price = -1.0;
        let msg = c.validated().expect_err("price").to_string();
        assert!(msg.contains("`price`") && msg.contains("-1"), "{msg}");
    }

    #[test]
    fn loads_from_yaml_and_assigns_boxsize_ids() {
        let yaml = r#"
offerings:
  - {id: a, name: A, cpu: 1, ram: 1024, disk: 10, bandwidth: 100, price: 5, hourly_price: 0.007}
  - {id: b, boxsize_id: 1, name: B, cpu: 2, ram: 2048, disk: 20, bandwidth: 100, price: 10, hourly_price: 0.014, datacenter_ids: [dc1]}
datacenters:
  - {id: dc1, name: One, code: ONE, country: X, city: Y, continent: Z}
images:
  - {id: img, name: Img, version: "1", distribution: deb}
"#;
        let c: Catalogue = crate::yaml::from_str(yaml).expect("parses");
        let c = c.validated().expect("valid");
        assert_eq!(c.offering("b").and_then(|o| o.boxsize_id), Some(1));
        assert_eq!(c.offering("a").and_then(|o| o.boxsize_id), Some(2));
        assert!(c
            .offering("a")
            .is_some_and(|o| o.available && o.sold_in("dc1")));
    }

    #[test]
    fn unknown_datacenter_in_offering_is_rejected() {
        let mut c = Catalogue::default();
        c.offerings[0].datacenter_ids = vec!["dc-mars-1".into()];
        let msg = c.validated().expect_err("dc").to_string();
        assert!(
            msg.contains("dc-mars-1") && msg.contains("datacenter_ids"),
            "{msg}"
        );
    }
}
