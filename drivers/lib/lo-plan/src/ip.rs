//! IPv4 arithmetic as the registry layout needs it: offsets from a base address (with carry)
//! and containment in a CIDR.

use std::fmt;
use std::net::Ipv4Addr;

/// An IPv4 address as a number, so offsets are additions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ipv4(pub u32);

impl Ipv4 {
    pub fn parse(text: &str) -> Option<Ipv4> {
        text.parse::<Ipv4Addr>().ok().map(|a| Ipv4(u32::from(a)))
    }

    pub fn offset(self, n: u32) -> Ipv4 {
        Ipv4(self.0.wrapping_add(n))
    }
}

impl fmt::Display for Ipv4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ipv4Addr::from(self.0).fmt(f)
    }
}

/// `a.b.c.d/p`. The base is the address as written (not masked), as the original used it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub base: Ipv4,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, prefix) = text.split_once('/').ok_or_else(|| {
            format!("{text:?} is not a CIDR (write it as a.b.c.d/p, such as 10.125.50.0/24)")
        })?;
        let base = Ipv4::parse(addr)
            .ok_or_else(|| format!("{addr:?} in {text:?} is not an IPv4 address"))?;
        let prefix = prefix
            .parse::<u8>()
            .ok()
            .filter(|p| (8..=30).contains(p))
            .ok_or_else(|| {
                format!("the prefix length of {text:?} must be a number from 8 to 30")
            })?;
        Ok(Cidr { base, prefix })
    }

    fn mask(&self) -> u32 {
        u32::MAX << (32 - u32::from(self.prefix))
    }

    pub fn contains(&self, ip: Ipv4) -> bool {
        ip.0 & self.mask() == self.base.0 & self.mask()
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_carry_and_containment() {
        let c = Cidr::parse("10.125.50.0/24").unwrap();
        assert_eq!(c.base.offset(101).to_string(), "10.125.50.101");
        assert_eq!(
            Ipv4::parse("10.125.50.250").unwrap().offset(10).to_string(),
            "10.125.51.4"
        );
        assert!(c.contains(Ipv4::parse("10.125.50.254").unwrap()));
        assert!(!c.contains(Ipv4::parse("10.125.51.4").unwrap()));
        assert!(Cidr::parse("10.125.50.0").is_err());
        assert!(Cidr::parse("10.125.256.0/24").is_err());
        assert!(Cidr::parse("10.125.50.0/33").is_err());
    }
}
