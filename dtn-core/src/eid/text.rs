//! Text form of EIDs: `dtn:none`, `dtn://node/demux`, `ipn:N.S`, `ipn:A.N.S` (RFC 9171 4.2.5.1,
//! RFC 9758 3). The legacy `ipn:FQNN.S` form with a 64-bit node number is read as
//! allocator = FQNN >> 32, node = FQNN & 0xffffffff.

use alloc::string::String;
use core::str::FromStr;

use super::{DtnEid, Eid, EidError, EidErrorKind, IpnEid};

impl FromStr for Eid {
    type Err = EidError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "dtn:none" {
            return Ok(Eid::Null);
        }
        if let Some(ssp) = s.strip_prefix("dtn:") {
            check_dtn_ssp(ssp, 4)?;
            return Ok(Eid::Dtn(DtnEid { ssp: String::from(ssp) }));
        }
        if let Some(ssp) = s.strip_prefix("ipn:") {
            return parse_ipn(ssp, 4).map(Eid::Ipn);
        }
        Err(EidError { kind: EidErrorKind::UnknownTextScheme, offset: 0 })
    }
}

/// Checks a `dtn` SSP: `//`, a non-empty node name, `/`, then any demux; visible ASCII only.
pub(super) fn check_dtn_ssp(ssp: &str, base: usize) -> Result<(), EidError> {
    let bad = |at: usize| EidError { kind: EidErrorKind::InvalidDtnSsp, offset: base + at };
    let rest = ssp.strip_prefix("//").ok_or(bad(0))?;
    let slash = rest.find('/').ok_or(bad(ssp.len()))?;
    if slash == 0 {
        return Err(bad(2));
    }
    if let Some(at) = ssp.bytes().position(|b| !(0x21..=0x7e).contains(&b)) {
        return Err(bad(at));
    }
    Ok(())
}

fn parse_ipn(ssp: &str, base: usize) -> Result<IpnEid, EidError> {
    let mut parts: [(u64, usize); 3] = [(0, 0); 3];
    let mut count = 0;
    let mut at = 0;
    for part in ssp.split('.') {
        let slot = parts.get_mut(count).ok_or(EidError { kind: EidErrorKind::IpnElementCount, offset: base + at })?;
        if part == "!" {
            return Err(EidError { kind: EidErrorKind::LocalNodeNotAllowed, offset: base + at });
        }
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EidError { kind: EidErrorKind::InvalidNumber, offset: base + at });
        }
        let value =
            part.parse::<u64>().map_err(|_| EidError { kind: EidErrorKind::InvalidNumber, offset: base + at })?;
        *slot = (value, base + at);
        count += 1;
        at += part.len() + 1;
    }
    let small = |(value, offset): (u64, usize)| {
        u32::try_from(value).map_err(|_| EidError { kind: EidErrorKind::IpnComponentTooLarge, offset })
    };
    match (count, parts) {
        (2, [fqnn, service, _]) => {
            let mut eid = IpnEid::new((fqnn.0 >> 32) as u32, fqnn.0 as u32, small(service)?);
            eid.encoding = super::IpnEncoding::TwoElement;
            Ok(eid)
        }
        (3, [allocator, node, service]) => Ok(IpnEid::new(small(allocator)?, small(node)?, small(service)?)),
        _ => Err(EidError { kind: EidErrorKind::IpnElementCount, offset: base }),
    }
}
